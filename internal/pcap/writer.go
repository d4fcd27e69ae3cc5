package pcap

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Writer writes a classic little-endian pcap file with nanosecond
// timestamps, for tests and for tools that save packets.
type Writer struct {
	w        io.Writer
	linkType int
}

// NewWriter writes the file header for packets of the given link type.
func NewWriter(w io.Writer, linkType int) (*Writer, error) {
	if linkType < 0 || linkType > 0xffff {
		return nil, fmt.Errorf("pcap: link type %d out of range", linkType)
	}
	var h [24]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], magicNano)
	le.PutUint16(h[4:], 2)
	le.PutUint16(h[6:], 4)
	le.PutUint32(h[16:], MaxPacket)
	le.PutUint32(h[20:], uint32(linkType))
	if _, err := w.Write(h[:]); err != nil {
		return nil, err
	}
	return &Writer{w: w, linkType: linkType}, nil
}

// WritePacket appends p. p.LinkType is ignored (the file has one); an
// OrigLen of 0 means len(p.Data).
func (w *Writer) WritePacket(p Packet) error {
	if len(p.Data) > MaxPacket {
		return fmt.Errorf("pcap: packet of %d bytes is larger than %d", len(p.Data), MaxPacket)
	}
	orig := p.OrigLen
	if orig < len(p.Data) {
		orig = len(p.Data)
	}
	var h [16]byte
	le := binary.LittleEndian
	ns := p.Time.UnixNano()
	if p.Time.IsZero() {
		ns = 0
	}
	le.PutUint32(h[0:], uint32(ns/1e9))
	le.PutUint32(h[4:], uint32(ns%1e9))
	le.PutUint32(h[8:], uint32(len(p.Data)))
	le.PutUint32(h[12:], uint32(orig))
	if _, err := w.w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.w.Write(p.Data)
	return err
}
