package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// order is a byte order that can append.
type order interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// classic builds a pcap file in the given byte order.
func classic(order order, nano bool, linkType uint32, pkts [][]byte, times []time.Time) []byte {
	var b bytes.Buffer
	u32 := func(v uint32) { b.Write(order.AppendUint32(nil, v)) }
	u16 := func(v uint16) { b.Write(order.AppendUint16(nil, v)) }
	if nano {
		u32(magicNano)
	} else {
		u32(magicMicro)
	}
	u16(2)
	u16(4)
	u32(0)
	u32(0)
	u32(65535)
	u32(linkType)
	for i, p := range pkts {
		t := times[i]
		u32(uint32(t.Unix()))
		if nano {
			u32(uint32(t.Nanosecond()))
		} else {
			u32(uint32(t.Nanosecond() / 1000))
		}
		u32(uint32(len(p)))
		u32(uint32(len(p) + 10))
		b.Write(p)
	}
	return b.Bytes()
}

// ng builds pcapng blocks in one byte order.
type ng struct {
	order order
	b     bytes.Buffer
}

func (n *ng) block(typ uint32, body []byte) {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	total := uint32(12 + len(body))
	n.b.Write(n.order.AppendUint32(nil, typ))
	n.b.Write(n.order.AppendUint32(nil, total))
	n.b.Write(body)
	n.b.Write(n.order.AppendUint32(nil, total))
}

func (n *ng) shb() {
	var body []byte
	body = n.order.AppendUint32(body, byteOrderMagic)
	body = n.order.AppendUint16(body, 1)
	body = n.order.AppendUint16(body, 0)
	body = n.order.AppendUint64(body, ^uint64(0))
	n.block(blockSHB, body)
}

// idb adds an interface; tsresol < 0 means no option.
func (n *ng) idb(linkType uint16, snaplen uint32, tsresol int) {
	var body []byte
	body = n.order.AppendUint16(body, linkType)
	body = n.order.AppendUint16(body, 0)
	body = n.order.AppendUint32(body, snaplen)
	// An option the reader ignores (if_name), then if_tsresol.
	body = n.order.AppendUint16(body, 2)
	body = n.order.AppendUint16(body, 3)
	body = append(body, 'e', 't', 'h', 0)
	if tsresol >= 0 {
		body = n.order.AppendUint16(body, 9)
		body = n.order.AppendUint16(body, 1)
		body = append(body, byte(tsresol), 0, 0, 0)
	}
	body = n.order.AppendUint32(body, 0) // opt_endofopt
	n.block(blockIDB, body)
}

func (n *ng) epb(id uint32, ts uint64, data []byte, orig int) {
	var body []byte
	body = n.order.AppendUint32(body, id)
	body = n.order.AppendUint32(body, uint32(ts>>32))
	body = n.order.AppendUint32(body, uint32(ts))
	body = n.order.AppendUint32(body, uint32(len(data)))
	body = n.order.AppendUint32(body, uint32(orig))
	body = append(body, data...)
	n.block(blockEPB, body)
}

func (n *ng) spb(data []byte) {
	body := n.order.AppendUint32(nil, uint32(len(data)))
	n.block(blockSPB, append(body, data...))
}

func readAll(t *testing.T, file []byte) (*Reader, []Packet, error) {
	t.Helper()
	r, err := Open(bytes.NewReader(file))
	if err != nil {
		return nil, nil, err
	}
	var out []Packet
	for {
		p, err := r.Next()
		if err == io.EOF {
			return r, out, nil
		}
		if err != nil {
			return r, out, err
		}
		out = append(out, p)
	}
}

var (
	pktA = []byte("first packet")
	pktB = []byte{1, 2, 3}
	pktC = bytes.Repeat([]byte{0xab}, 61)
	t0   = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
)

func TestClassic(t *testing.T) {
	times := []time.Time{t0, t0.Add(time.Second), t0.Add(2 * time.Second)}
	for _, order := range []order{binary.LittleEndian, binary.BigEndian} {
		for _, nano := range []bool{false, true} {
			file := classic(order, nano, LinkTypeEthernet|0x10000000, [][]byte{pktA, pktB, pktC}, times)
			r, got, err := readAll(t, file)
			if err != nil {
				t.Fatalf("%v nano=%v: %v", order, nano, err)
			}
			if r.Format() != FormatPcap || r.LinkType() != LinkTypeEthernet {
				t.Errorf("format %v link type %d", r.Format(), r.LinkType())
			}
			if len(got) != 3 {
				t.Fatalf("%v nano=%v: %d packets", order, nano, len(got))
			}
			for i, want := range [][]byte{pktA, pktB, pktC} {
				p := got[i]
				if !bytes.Equal(p.Data, want) || p.LinkType != LinkTypeEthernet || p.OrigLen != len(want)+10 {
					t.Errorf("%v nano=%v packet %d: %+v", order, nano, i, p)
				}
				wt := times[i]
				if !nano {
					wt = wt.Truncate(time.Microsecond)
				}
				if !p.Time.Equal(wt) {
					t.Errorf("%v nano=%v packet %d: time %v, want %v", order, nano, i, p.Time, wt)
				}
			}
		}
	}
}

func TestWriterRoundTrip(t *testing.T) {
	var b bytes.Buffer
	w, err := NewWriter(&b, LinkTypeRaw)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][]byte{pktA, pktB, {}} {
		if err := w.WritePacket(Packet{Data: p, Time: t0}); err != nil {
			t.Fatal(err)
		}
	}
	_, got, err := readAll(t, b.Bytes())
	if err != nil || len(got) != 3 {
		t.Fatalf("%d packets, %v", len(got), err)
	}
	if !bytes.Equal(got[0].Data, pktA) || !got[0].Time.Equal(t0) || got[2].OrigLen != 0 || got[1].LinkType != LinkTypeRaw {
		t.Errorf("round trip: %+v", got)
	}
}

// ngFile builds a two-section pcapng file: the first with an Ethernet
// interface (microseconds) and a raw-IP one (nanoseconds), an unknown
// block, EPBs on both, an SPB; the second section with one interface.
func ngFile(order order) []byte {
	n := &ng{order: order}
	n.shb()
	n.idb(LinkTypeEthernet, 0, -1)
	n.block(0x0bad, []byte("unknown block, skipped"))
	n.idb(LinkTypeRaw, 16, 9)
	us := uint64(t0.UnixNano() / 1000)
	n.epb(0, us, pktA, len(pktA))
	n.epb(1, uint64(t0.UnixNano()), pktB, 100)
	n.block(5, make([]byte, 20)) // an Interface Statistics Block: skipped
	n.spb(pktC)                  // interface 0: no snaplen, whole packet
	n.shb()
	n.idb(LinkTypeIPv4, 8, 0x80|20) // 2^-20 s
	n.spb(pktC)                     // cut to the snaplen
	n.epb(0, 3<<20|1<<19, pktB, 3)  // 3.5 s
	return n.b.Bytes()
}

func TestPcapNG(t *testing.T) {
	for _, order := range []order{binary.LittleEndian, binary.BigEndian} {
		r, got, err := readAll(t, ngFile(order))
		if err != nil {
			t.Fatalf("%v: %v", order, err)
		}
		if r.Format() != FormatPcapNG {
			t.Errorf("format %v", r.Format())
		}
		if len(got) != 5 {
			t.Fatalf("%v: %d packets", order, len(got))
		}
		check := func(i int, data []byte, lt, orig, ifc int, tm time.Time) {
			t.Helper()
			p := got[i]
			if !bytes.Equal(p.Data, data) || p.LinkType != lt || p.OrigLen != orig || p.Interface != ifc || !p.Time.Equal(tm) {
				t.Errorf("%v packet %d: %+v", order, i, p)
			}
		}
		check(0, pktA, LinkTypeEthernet, len(pktA), 0, t0.Truncate(time.Microsecond))
		check(1, pktB, LinkTypeRaw, 100, 1, t0)
		check(2, pktC, LinkTypeEthernet, len(pktC), 0, time.Time{})
		check(3, pktC[:8], LinkTypeIPv4, len(pktC), 0, time.Time{})
		check(4, pktB, LinkTypeIPv4, 3, 0, time.Unix(3, 5e8).UTC())
	}
}

// Every proper prefix of a file either ends cleanly between packets or
// fails with an error that names the packet; none panics.
func TestTruncated(t *testing.T) {
	files := map[string][]byte{
		"pcap":   classic(binary.BigEndian, false, 1, [][]byte{pktA, pktB}, []time.Time{t0, t0}),
		"pcapng": ngFile(binary.LittleEndian),
	}
	for name, file := range files {
		clean := 0
		for cut := 0; cut < len(file); cut++ {
			_, got, err := readAll(t, file[:cut])
			if err == nil {
				clean++
				continue
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrFormat) {
				t.Errorf("%s cut at %d: %v", name, cut, err)
			}
			if cut >= 64 && !strings.Contains(err.Error(), "packet ") {
				t.Errorf("%s cut at %d: error does not name the packet: %v", name, cut, err)
			}
			_ = got
		}
		if clean == 0 {
			t.Errorf("%s: no prefix ended cleanly", name)
		}
	}
	// The message names the packet that is cut.
	file := classic(binary.LittleEndian, true, 1, [][]byte{pktA, pktB}, []time.Time{t0, t0})
	_, got, err := readAll(t, file[:len(file)-1])
	if len(got) != 1 || err == nil || !strings.Contains(err.Error(), "packet 2") || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut in packet 2: %d packets, %v", len(got), err)
	}
}

func TestBadInput(t *testing.T) {
	huge := classic(binary.LittleEndian, false, 1, [][]byte{pktA}, []time.Time{t0})
	binary.LittleEndian.PutUint32(huge[24+8:], 1<<31)
	n := &ng{order: binary.LittleEndian}
	n.shb()
	n.idb(1, 0, -1)
	n.epb(3, 0, pktA, 1) // no interface 3
	noIface := n.b.Bytes()
	n = &ng{order: binary.BigEndian}
	n.shb()
	n.idb(1, 0, -1)
	n.b.Write([]byte{0, 0, 0, 6, 0xff, 0xff, 0xff, 0xfc}) // EPB of 4 GiB
	hugeBlock := n.b.Bytes()
	n = &ng{order: binary.LittleEndian}
	n.shb()
	n.idb(1, 0, -1)
	n.epb(0, 0, pktA, 1)
	badTrailer := n.b.Bytes()
	badTrailer[len(badTrailer)-1] ^= 1
	badBOM := ngFile(binary.LittleEndian)
	badBOM[8] = 0

	for _, c := range []struct {
		name, file, want string
	}{
		{"empty", "", "not a capture"},
		{"short", "\xd4\xc3", "not a capture"},
		{"bad magic", "GIF89a..........................", "bad magic"},
		{"huge packet", string(huge), "packet 1: malformed capture: captured length 2147483648"},
		{"no interface", string(noIface), "packet 1: malformed capture: interface 3 not described"},
		{"huge block", string(hugeBlock), "packet 1: malformed capture: block of type 0x6 has length 4294967292"},
		{"bad trailer", string(badTrailer), "trailing length"},
		{"bad byte order", string(badBOM), "byte-order magic"},
	} {
		_, _, err := readAll(t, []byte(c.file))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// A capture made by tcpdump, if one is committed.
func TestRealCapture(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.pcap*")
	if len(files) == 0 {
		t.Skip("no captures in testdata")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, got, err := readAll(t, data)
		if err != nil || len(got) == 0 {
			t.Errorf("%s: %d packets, %v", f, len(got), err)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add(classic(binary.LittleEndian, false, 1, [][]byte{pktA, pktB}, []time.Time{t0, t0}))
	f.Add(classic(binary.BigEndian, true, 101, [][]byte{pktC}, []time.Time{t0}))
	f.Add(ngFile(binary.LittleEndian))
	f.Add(ngFile(binary.BigEndian))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Open(bytes.NewReader(data))
		if err != nil {
			return
		}
		for i := 0; i <= len(data); i++ {
			p, err := r.Next()
			if err != nil {
				if _, err2 := r.Next(); err2 != err {
					t.Fatalf("error not sticky: %v then %v", err, err2)
				}
				return
			}
			if len(p.Data) > MaxPacket || len(p.Data) > len(data) {
				t.Fatalf("packet of %d bytes from %d bytes of input", len(p.Data), len(data))
			}
		}
		t.Fatalf("more packets than bytes")
	})
}
