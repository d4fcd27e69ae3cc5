// Package pcap reads packet captures: classic pcap files (both byte
// orders, microsecond and nanosecond timestamps) and pcapng files (Section
// Header, Interface Description, Enhanced Packet, Simple Packet and the
// obsolete Packet blocks; both byte orders, several sections and several
// interfaces with their own link types and timestamp resolutions; other
// blocks are skipped).
//
// The reader only frames packets: it reports each packet's link type and
// leaves decoding to the caller. Input is treated as hostile: a captured
// length or block length beyond [MaxPacket] (or [maxBlock]) is an error
// rather than an allocation, and nothing in a file can make the reader
// panic. Errors about a packet name its index, counting from 1 as
// Wireshark numbers frames.
package pcap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"time"
)

// Link types (https://www.tcpdump.org/linktypes.html) that callers commonly
// meet. The reader accepts any link type; it is the caller that decides
// which ones it can decode.
const (
	LinkTypeNull     = 0   // BSD loopback
	LinkTypeEthernet = 1   // IEEE 802.3 Ethernet
	LinkTypeRaw      = 101 // raw IPv4 or IPv6, no link header
	LinkTypeLinuxSLL = 113 // Linux "cooked" capture (tcpdump -i any)
	LinkTypeIPv4     = 228 // raw IPv4
	LinkTypeIPv6     = 229 // raw IPv6
)

// LinkTypeName names a link type for messages: "ETHERNET", "RAW", or the
// number for the ones this package does not name.
func LinkTypeName(lt int) string {
	switch lt {
	case LinkTypeNull:
		return "NULL"
	case LinkTypeEthernet:
		return "ETHERNET"
	case LinkTypeRaw:
		return "RAW"
	case LinkTypeLinuxSLL:
		return "LINUX_SLL"
	case LinkTypeIPv4:
		return "IPV4"
	case LinkTypeIPv6:
		return "IPV6"
	}
	return fmt.Sprintf("LINKTYPE_%d", lt)
}

// MaxPacket is the largest captured packet the reader accepts (256 KiB,
// the snapshot length of tcpdump and Wireshark). A record claiming more is
// an error, so a hostile file cannot make the reader allocate more.
const MaxPacket = 256 << 10

// maxBlock bounds a pcapng block that the reader holds in memory (packet
// blocks, section and interface headers with their options). Unknown
// blocks are skipped without being held, whatever their length.
const maxBlock = MaxPacket + 64<<10

// maxInterfaces bounds the interfaces a pcapng section may describe.
const maxInterfaces = 1 << 16

// Packet is one captured packet.
type Packet struct {
	Data      []byte    // the captured bytes (a fresh slice per packet)
	Time      time.Time // when it was captured
	LinkType  int       // the link type of its interface, a LinkType* value
	OrigLen   int       // its length on the wire (>= len(Data) unless the file lies)
	Interface int       // pcapng: the interface's index in its section; 0 for pcap
}

// Format is the file format a Reader found.
type Format int

// File formats.
const (
	FormatPcap Format = iota + 1
	FormatPcapNG
)

func (f Format) String() string {
	switch f {
	case FormatPcap:
		return "pcap"
	case FormatPcapNG:
		return "pcapng"
	}
	return "unknown"
}

// Magic numbers.
const (
	magicMicro     = 0xa1b2c3d4
	magicNano      = 0xa1b23c4d
	blockSHB       = 0x0a0d0d0a
	byteOrderMagic = 0x1a2b3c4d
	blockIDB       = 1
	blockPacket    = 2 // obsolete Packet Block
	blockSPB       = 3
	blockEPB       = 6
)

// ErrFormat is wrapped by errors about malformed input, so that callers
// can tell a bad file from a failing reader with errors.Is.
var ErrFormat = errors.New("malformed capture")

// Reader reads packets from a capture. It is not safe for concurrent use.
type Reader struct {
	r      *bufio.Reader
	format Format
	order  binary.ByteOrder
	n      int // packets returned so far

	// pcap
	nano     bool
	linkType int
	snaplen  uint32

	// pcapng: the current section's interfaces.
	ifaces []iface
	err    error // sticky
}

type iface struct {
	linkType int
	snaplen  uint32
	units    uint64 // timestamp units per second
	offset   int64  // if_tsoffset, seconds
}

// Open reads the file header from r and returns a Reader positioned at the
// first packet. r is buffered internally.
func Open(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	rd := &Reader{r: br}
	head, err := br.Peek(4)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("pcap: file header: %w: %d bytes, not a capture", ErrFormat, len(head))
		}
		return nil, fmt.Errorf("pcap: file header: %w", err)
	}
	le := binary.LittleEndian.Uint32(head)
	be := binary.BigEndian.Uint32(head)
	switch {
	case le == blockSHB:
		rd.format = FormatPcapNG
		if err := rd.readSHB("pcap: section header"); err != nil {
			return nil, err
		}
		return rd, nil
	case le == magicMicro || le == magicNano:
		rd.order, rd.nano = binary.LittleEndian, le == magicNano
	case be == magicMicro || be == magicNano:
		rd.order, rd.nano = binary.BigEndian, be == magicNano
	default:
		return nil, fmt.Errorf("pcap: %w: bad magic %#08x: neither pcap nor pcapng", ErrFormat, be)
	}
	rd.format = FormatPcap
	var h [24]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, fmt.Errorf("pcap: file header: %w", truncated(err))
	}
	rd.snaplen = rd.order.Uint32(h[16:])
	// The low 16 bits are the link type; the high bits hold FCS flags.
	rd.linkType = int(rd.order.Uint32(h[20:]) & 0xffff)
	return rd, nil
}

// Format reports whether the file is pcap or pcapng.
func (r *Reader) Format() Format { return r.format }

// LinkType is the link type of a classic pcap file, or of the first
// interface of the current pcapng section (-1 when it has none yet).
func (r *Reader) LinkType() int {
	if r.format == FormatPcap {
		return r.linkType
	}
	if len(r.ifaces) == 0 {
		return -1
	}
	return r.ifaces[0].linkType
}

// Next returns the next packet, or io.EOF after the last one. After any
// other error, Next keeps returning that error.
func (r *Reader) Next() (Packet, error) {
	if r.err != nil {
		return Packet{}, r.err
	}
	var p Packet
	var err error
	if r.format == FormatPcap {
		p, err = r.nextPcap()
	} else {
		p, err = r.nextNG()
	}
	if err != nil {
		r.err = err
		return Packet{}, err
	}
	r.n++
	return p, nil
}

// truncated turns a short read into io.ErrUnexpectedEOF.
func truncated(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (r *Reader) packetErr(format string, args ...any) error {
	return fmt.Errorf("pcap: packet %d: %w: %s", r.n+1, ErrFormat, fmt.Sprintf(format, args...))
}

func (r *Reader) nextPcap() (Packet, error) {
	var h [16]byte
	n, err := io.ReadFull(r.r, h[:])
	if err == io.EOF && n == 0 {
		return Packet{}, io.EOF
	}
	if err != nil {
		return Packet{}, fmt.Errorf("pcap: packet %d: record header: %w", r.n+1, truncated(err))
	}
	sec := r.order.Uint32(h[0:])
	frac := r.order.Uint32(h[4:])
	incl := r.order.Uint32(h[8:])
	orig := r.order.Uint32(h[12:])
	if incl > MaxPacket {
		return Packet{}, r.packetErr("captured length %d is larger than %d", incl, MaxPacket)
	}
	data := make([]byte, incl)
	if _, err := io.ReadFull(r.r, data); err != nil {
		return Packet{}, fmt.Errorf("pcap: packet %d: %d bytes of data: %w", r.n+1, incl, truncated(err))
	}
	nsec := int64(frac) * 1000
	if r.nano {
		nsec = int64(frac)
	}
	return Packet{
		Data:     data,
		Time:     time.Unix(int64(sec), nsec).UTC(),
		LinkType: r.linkType,
		OrigLen:  int(orig),
	}, nil
}

// nextNG reads blocks until a packet block.
func (r *Reader) nextNG() (Packet, error) {
	for {
		head, err := r.r.Peek(4)
		if len(head) == 0 && err == io.EOF {
			return Packet{}, io.EOF
		}
		if err != nil {
			return Packet{}, fmt.Errorf("pcap: packet %d: block header: %w", r.n+1, truncated(err))
		}
		if binary.LittleEndian.Uint32(head) == blockSHB {
			if err := r.readSHB(fmt.Sprintf("pcap: packet %d: section header", r.n+1)); err != nil {
				return Packet{}, err
			}
			continue
		}
		var h [8]byte
		if _, err := io.ReadFull(r.r, h[:]); err != nil {
			return Packet{}, fmt.Errorf("pcap: packet %d: block header: %w", r.n+1, truncated(err))
		}
		typ := r.order.Uint32(h[0:])
		total := r.order.Uint32(h[4:])
		if total < 12 || total%4 != 0 {
			return Packet{}, r.packetErr("block of type %#x has length %d", typ, total)
		}
		switch typ {
		case blockIDB, blockEPB, blockSPB, blockPacket:
		default:
			// Skip the body and the trailing length without holding it.
			if _, err := io.CopyN(io.Discard, r.r, int64(total)-8); err != nil {
				return Packet{}, fmt.Errorf("pcap: packet %d: block of type %#x: %w", r.n+1, typ, truncated(err))
			}
			continue
		}
		body, err := r.readBody(typ, total)
		if err != nil {
			return Packet{}, err
		}
		if typ == blockIDB {
			if err := r.addInterface(body); err != nil {
				return Packet{}, err
			}
			continue
		}
		return r.packet(typ, body)
	}
}

// readBody reads a block's body (after type and length) and checks the
// trailing copy of its length.
func (r *Reader) readBody(typ, total uint32) ([]byte, error) {
	if total > maxBlock {
		return nil, r.packetErr("block of type %#x has length %d, more than %d", typ, total, maxBlock)
	}
	buf := make([]byte, total-8)
	if _, err := io.ReadFull(r.r, buf); err != nil {
		return nil, fmt.Errorf("pcap: packet %d: block of type %#x, %d bytes: %w", r.n+1, typ, total, truncated(err))
	}
	body := buf[:len(buf)-4]
	if t := r.order.Uint32(buf[len(buf)-4:]); t != total {
		return nil, r.packetErr("block of type %#x: trailing length %d differs from %d", typ, t, total)
	}
	return body, nil
}

// readSHB reads a Section Header Block, which sets the byte order and
// starts a new list of interfaces.
func (r *Reader) readSHB(where string) error {
	var h [12]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		return fmt.Errorf("%s: %w", where, truncated(err))
	}
	switch {
	case binary.LittleEndian.Uint32(h[8:]) == byteOrderMagic:
		r.order = binary.LittleEndian
	case binary.BigEndian.Uint32(h[8:]) == byteOrderMagic:
		r.order = binary.BigEndian
	default:
		return fmt.Errorf("%s: %w: bad byte-order magic %#08x", where, ErrFormat, binary.BigEndian.Uint32(h[8:]))
	}
	total := r.order.Uint32(h[4:])
	if total < 28 || total%4 != 0 {
		return fmt.Errorf("%s: %w: length %d", where, ErrFormat, total)
	}
	if total > maxBlock {
		return fmt.Errorf("%s: %w: length %d, more than %d", where, ErrFormat, total, maxBlock)
	}
	rest := make([]byte, total-12)
	if _, err := io.ReadFull(r.r, rest); err != nil {
		return fmt.Errorf("%s: %w", where, truncated(err))
	}
	if t := r.order.Uint32(rest[len(rest)-4:]); t != total {
		return fmt.Errorf("%s: %w: trailing length %d differs from %d", where, ErrFormat, t, total)
	}
	if major := r.order.Uint16(rest[0:]); major != 1 {
		return fmt.Errorf("%s: %w: pcapng version %d.%d, want 1.x", where, ErrFormat, major, r.order.Uint16(rest[2:]))
	}
	r.ifaces = r.ifaces[:0]
	return nil
}

// addInterface parses an Interface Description Block.
func (r *Reader) addInterface(body []byte) error {
	if len(body) < 8 {
		return r.packetErr("interface description of %d bytes", len(body))
	}
	if len(r.ifaces) >= maxInterfaces {
		return r.packetErr("more than %d interfaces", maxInterfaces)
	}
	ifc := iface{
		linkType: int(r.order.Uint16(body[0:])),
		snaplen:  r.order.Uint32(body[4:]),
		units:    1e6,
	}
	opts := body[8:]
	for len(opts) >= 4 {
		code := r.order.Uint16(opts[0:])
		n := int(r.order.Uint16(opts[2:]))
		opts = opts[4:]
		if code == 0 { // opt_endofopt
			break
		}
		if n > len(opts) {
			return r.packetErr("interface %d: option %d of %d bytes overruns its block", len(r.ifaces), code, n)
		}
		val := opts[:n]
		opts = opts[min(len(opts), (n+3)&^3):]
		switch {
		case code == 9 && n == 1: // if_tsresol
			v := val[0]
			if v&0x80 != 0 {
				e := v & 0x7f
				if e > 63 {
					return r.packetErr("interface %d: timestamp resolution 2^-%d", len(r.ifaces), e)
				}
				ifc.units = 1 << e
			} else {
				if v > 19 {
					return r.packetErr("interface %d: timestamp resolution 10^-%d", len(r.ifaces), v)
				}
				ifc.units = 1
				for range v {
					ifc.units *= 10
				}
			}
		case code == 14 && n == 8: // if_tsoffset
			ifc.offset = int64(r.order.Uint64(val))
		}
	}
	r.ifaces = append(r.ifaces, ifc)
	return nil
}

// packet decodes an Enhanced, Simple or obsolete Packet Block.
func (r *Reader) packet(typ uint32, body []byte) (Packet, error) {
	var (
		id         int
		ts         uint64
		capLen     uint32
		orig       uint32
		data       []byte
		hasTime    = true
		headerSize int
	)
	switch typ {
	case blockEPB, blockPacket:
		headerSize = 20
		if len(body) < headerSize {
			return Packet{}, r.packetErr("packet block of %d bytes", len(body))
		}
		if typ == blockEPB {
			id = int(r.order.Uint32(body[0:]))
		} else {
			id = int(r.order.Uint16(body[0:]))
		}
		ts = uint64(r.order.Uint32(body[4:]))<<32 | uint64(r.order.Uint32(body[8:]))
		capLen = r.order.Uint32(body[12:])
		orig = r.order.Uint32(body[16:])
		if uint64(capLen) > uint64(len(body)-headerSize) {
			return Packet{}, r.packetErr("captured length %d overruns its block (%d bytes)", capLen, len(body)-headerSize)
		}
	case blockSPB:
		headerSize = 4
		if len(body) < headerSize {
			return Packet{}, r.packetErr("simple packet block of %d bytes", len(body))
		}
		hasTime = false
		orig = r.order.Uint32(body[0:])
		// The captured length is the original length cut to the
		// interface's snapshot length and to the block.
		capLen = orig
		if len(r.ifaces) > 0 && r.ifaces[0].snaplen != 0 && capLen > r.ifaces[0].snaplen {
			capLen = r.ifaces[0].snaplen
		}
		capLen = min(capLen, uint32(len(body)-headerSize))
	}
	if id < 0 || id >= len(r.ifaces) {
		return Packet{}, r.packetErr("interface %d not described (the section has %d)", id, len(r.ifaces))
	}
	if capLen > MaxPacket {
		return Packet{}, r.packetErr("captured length %d is larger than %d", capLen, MaxPacket)
	}
	data = make([]byte, capLen)
	copy(data, body[headerSize:])
	ifc := r.ifaces[id]
	p := Packet{Data: data, LinkType: ifc.linkType, OrigLen: int(orig), Interface: id}
	if hasTime {
		sec := ts / ifc.units
		frac := ts % ifc.units
		// frac * 1e9 / units without overflow: frac < units.
		hi, lo := bits.Mul64(frac, 1e9)
		nsec, _ := bits.Div64(hi, lo, ifc.units)
		p.Time = time.Unix(int64(sec)+ifc.offset, int64(nsec)).UTC()
	}
	return p, nil
}
