package vm

import (
	"encoding/binary"
	"fmt"
	"syscall"
)

// Ring buffer record header flags, in the header's length word, as in the
// kernel's BPF_RINGBUF_BUSY_BIT and BPF_RINGBUF_DISCARD_BIT.
const (
	ringBusyBit    = 1 << 31
	ringDiscardBit = 1 << 30
	ringHeaderSize = 8
)

// Flags of ringbuf_query (BPF_RB_*).
const (
	ringAvailData = 0
	ringRingSize  = 1
	ringConsPos   = 2
	ringProdPos   = 3
)

// RingBufMap is a RingBuf map: programs reserve records in it and submit
// or discard them, or copy records in with ringbuf_output; Go reads the
// submitted records in order with Read. Create it with NewMap and a type
// assertion: rb := m.(*vm.RingBufMap).
//
// Space is accounted as in the kernel: each record takes an 8-byte header
// plus its length rounded up to 8, records are consumed in order, and a
// reservation that does not fit fails (and is counted in Lost). One
// difference: the kernel maps its data pages twice so that a record may
// wrap around the end; here a record that would wrap starts at the
// beginning instead, and the skipped tail counts as used until the
// records before it are read.
type RingBufMap struct {
	mapCore
	size       uint64
	prod, cons uint64 // byte positions, ever increasing, as in the kernel
	recs       []ringRec
	lost       uint64
}

type ringRec struct {
	pos   uint64 // producer position of the record (its header, or the skipped tail)
	total uint64 // bytes it takes, header and padding included
	data  uint64 // offset of the data in the slab
	n     uint32
	state uint8
}

const (
	recBusy uint8 = iota
	recCommitted
	recDiscarded
)

func newRingBuf(c mapCore) (*RingBufMap, error) {
	n := c.spec.MaxEntries
	if c.spec.KeySize != 0 || c.spec.ValueSize != 0 {
		return nil, errInvalid("ringbuf key and value size must be 0")
	}
	if n == 0 || n&(n-1) != 0 || n%4096 != 0 {
		return nil, errInvalid("ringbuf size %d is not a power of two multiple of 4096", n)
	}
	c.values = make([]byte, n)
	return &RingBufMap{mapCore: c, size: uint64(n)}, nil
}

// reserve places a record of n bytes and returns its data offset in the
// slab; callers hold mu.
func (r *RingBufMap) reserve(n uint64) (uint64, bool) {
	if n == 0 || n > r.size-ringHeaderSize {
		r.lost++
		return 0, false
	}
	total := (n + ringHeaderSize + 7) &^ 7
	pos := r.prod
	skip := uint64(0)
	if at := pos % r.size; at+total > r.size {
		skip = r.size - at
	}
	if pos+skip+total-r.cons > r.size {
		r.lost++
		return 0, false
	}
	if skip > 0 {
		r.recs = append(r.recs, ringRec{pos: pos, total: skip, state: recDiscarded})
		pos += skip
	}
	at := pos % r.size
	binary.LittleEndian.PutUint32(r.values[at:], uint32(n)|ringBusyBit)
	binary.LittleEndian.PutUint32(r.values[at+4:], uint32(at/4096))
	r.recs = append(r.recs, ringRec{pos: pos, total: total, data: at + ringHeaderSize, n: uint32(n), state: recBusy})
	r.prod = pos + total
	return at + ringHeaderSize, true
}

// finish commits or discards the busy record whose data is at offset off.
func (r *RingBufMap) finish(off uint64, discard bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.recs {
		rec := &r.recs[i]
		if rec.data == off && rec.state == recBusy && rec.total > 0 && rec.n > 0 {
			hdr := rec.data - ringHeaderSize
			if discard {
				rec.state = recDiscarded
				binary.LittleEndian.PutUint32(r.values[hdr:], rec.n|ringDiscardBit)
			} else {
				rec.state = recCommitted
				binary.LittleEndian.PutUint32(r.values[hdr:], rec.n)
			}
			return nil
		}
	}
	return errInvalid("%s: %#x is not a reserved record", r.name(), r.valueAddr()+off)
}

// output copies b in as one record.
func (r *RingBufMap) output(b []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	off, ok := r.reserve(uint64(len(b)))
	if !ok {
		return false
	}
	copy(r.values[off:], b)
	r.recs[len(r.recs)-1].state = recCommitted
	binary.LittleEndian.PutUint32(r.values[off-ringHeaderSize:], uint32(len(b)))
	return true
}

// Read returns a copy of the oldest submitted record and consumes it.
// It returns false when there is none; a record still reserved (not yet
// submitted or discarded) holds back the ones after it, as in the kernel.
func (r *RingBufMap) Read() ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.recs) > 0 {
		rec := r.recs[0]
		switch rec.state {
		case recBusy:
			return nil, false
		case recDiscarded:
			r.consume()
			continue
		}
		out := append([]byte(nil), r.values[rec.data:rec.data+uint64(rec.n)]...)
		r.consume()
		return out, true
	}
	return nil, false
}

func (r *RingBufMap) consume() {
	r.cons = r.recs[0].pos + r.recs[0].total
	r.recs = r.recs[1:]
	if len(r.recs) == 0 {
		r.recs = nil // let the backing array go
	}
}

// Lost returns the number of records that did not fit.
func (r *RingBufMap) Lost() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lost
}

// query answers ringbuf_query.
func (r *RingBufMap) query(flags uint64) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch flags {
	case ringAvailData:
		return r.prod - r.cons
	case ringRingSize:
		return r.size
	case ringConsPos:
		return r.cons
	case ringProdPos:
		return r.prod
	}
	return 0
}

func notForType(c *mapCore, op string) error {
	return fmt.Errorf("%s: %s is not an operation of a %s: %w", c.name(), op, c.spec.Type, syscall.EINVAL)
}

// Lookup, Update, Delete and NextKey fail with EINVAL: a ring buffer has
// no keys.
func (r *RingBufMap) Lookup([]byte) ([]byte, error)      { return nil, notForType(&r.mapCore, "lookup") }
func (r *RingBufMap) Update(_, _ []byte, _ uint64) error { return notForType(&r.mapCore, "update") }
func (r *RingBufMap) Delete([]byte) error                { return notForType(&r.mapCore, "delete") }
func (r *RingBufMap) NextKey([]byte) ([]byte, error)     { return nil, notForType(&r.mapCore, "next key") }

// Iterate does nothing: a ring buffer has no entries, only records to Read.
func (r *RingBufMap) Iterate(func(key, value []byte) bool) error { return nil }

// PerfEventArrayMap is a PerfEventArray map: perf_event_output appends a
// sample to one CPU's buffer, and Go reads them with Read. Create it with
// NewMap and a type assertion. Each buffer holds MapSpec.PerfBufferSize
// bytes; a sample takes its length plus 12 bytes of perf headers, rounded
// up to 8, and samples that do not fit are counted as lost and reported by
// Read, as perf does.
type PerfEventArrayMap struct {
	mapCore
	bufs []perfBuf
	cap  int
}

type perfBuf struct {
	samples [][]byte
	used    int
	lost    uint64
}

// PerfRecord is one sample read from a perf event array, or a report of
// lost samples (LostSamples > 0, Sample nil).
type PerfRecord struct {
	CPU         int
	Sample      []byte
	LostSamples uint64
}

func newPerfEventArray(c mapCore) (*PerfEventArrayMap, error) {
	if c.spec.MaxEntries == 0 {
		c.spec.MaxEntries = uint32(c.spec.CPUs)
	}
	if c.spec.PerfBufferSize <= 0 {
		c.spec.PerfBufferSize = 64 << 10
	}
	if c.spec.KeySize == 0 {
		c.spec.KeySize = 4
	}
	if c.spec.ValueSize == 0 {
		c.spec.ValueSize = 4
	}
	return &PerfEventArrayMap{mapCore: c, bufs: make([]perfBuf, c.spec.MaxEntries), cap: c.spec.PerfBufferSize}, nil
}

func perfCost(n int) int { return (n + 4 + 8 + 7) &^ 7 }

// output appends b to buffer i; false when it is lost.
func (p *PerfEventArrayMap) output(i int, b []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	buf := &p.bufs[i]
	if buf.used+perfCost(len(b)) > p.cap {
		buf.lost++
		return false
	}
	buf.used += perfCost(len(b))
	buf.samples = append(buf.samples, append([]byte(nil), b...))
	return true
}

// Read returns the next record, taking CPUs in order, and false when every
// buffer is empty.
func (p *PerfEventArrayMap) Read() (PerfRecord, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.bufs {
		buf := &p.bufs[i]
		if buf.lost > 0 && len(buf.samples) == 0 {
			rec := PerfRecord{CPU: i, LostSamples: buf.lost}
			buf.lost = 0
			return rec, true
		}
		if len(buf.samples) > 0 {
			s := buf.samples[0]
			buf.samples = buf.samples[1:]
			buf.used -= perfCost(len(s))
			return PerfRecord{CPU: i, Sample: s}, true
		}
	}
	return PerfRecord{}, false
}

// Lookup, Update, Delete and NextKey fail with EINVAL: the kernel's perf
// event array holds perf event fds, which have no meaning here.
func (p *PerfEventArrayMap) Lookup([]byte) ([]byte, error) {
	return nil, notForType(&p.mapCore, "lookup")
}
func (p *PerfEventArrayMap) Update(_, _ []byte, _ uint64) error {
	return notForType(&p.mapCore, "update")
}
func (p *PerfEventArrayMap) Delete([]byte) error { return notForType(&p.mapCore, "delete") }
func (p *PerfEventArrayMap) NextKey([]byte) ([]byte, error) {
	return nil, notForType(&p.mapCore, "next key")
}

// Iterate does nothing: samples are read with Read.
func (p *PerfEventArrayMap) Iterate(func(key, value []byte) bool) error { return nil }
