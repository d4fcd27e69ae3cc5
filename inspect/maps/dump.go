package maps

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/btfprint"
	"github.com/wagglebpf/waggle/session"
)

// Contents are entries of one map with what printing them needs.
type Contents struct {
	ID   uint32
	Name string
	Type ebpf.MapType
	// Key and Value are the map's BTF types; nil prints hex.
	Key, Value         btf.Type
	KeySize, ValueSize uint32
	// Entries hold raw keys and values; per-CPU maps have one value per
	// possible CPU.
	Entries []btfprint.Entry
}

// Handle is an open map with its description and BTF types.
type Handle struct {
	Map  *ebpf.Map
	ID   uint32
	Name string
	Type ebpf.MapType
	// Key and Value are nil when the map has no BTF for them, or BTF
	// whose sizes disagree with the map's.
	Key, Value btf.Type
}

// OpenHandle opens the map ref names and reads its BTF types. A map whose
// BTF cannot be read is still opened, with nil types.
func OpenHandle(ref Ref) (*Handle, error) {
	m, err := Open(ref)
	if err != nil {
		return nil, err
	}
	return newHandle(m)
}

func newHandle(m *ebpf.Map) (*Handle, error) {
	info, err := m.Info()
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("reading the map's description: %w", err)
	}
	id, _ := info.ID()
	h := &Handle{Map: m, ID: uint32(id), Name: info.Name, Type: m.Type()}
	if key, value, err := Types(m); err == nil {
		h.Key, h.Value = fitting(key, m.KeySize()), fitting(value, m.ValueSize())
	}
	return h, nil
}

// Close closes the map.
func (h *Handle) Close() error { return h.Map.Close() }

// what names the map in errors: "map 12 (counts)".
func (h *Handle) what() string {
	if h.Name == "" {
		return "map " + strconv.FormatUint(uint64(h.ID), 10)
	}
	return fmt.Sprintf("map %d (%s)", h.ID, h.Name)
}

// contents starts a Contents for entries of h.
func (h *Handle) contents(entries []btfprint.Entry) *Contents {
	return &Contents{
		ID: h.ID, Name: h.Name, Type: h.Type,
		Key: h.Key, Value: h.Value,
		KeySize: h.Map.KeySize(), ValueSize: h.Map.ValueSize(),
		Entries: entries,
	}
}

// checkReadable refuses map types whose contents user space cannot walk
// by key, with what the user can do instead.
func (h *Handle) checkReadable() error {
	switch h.Type {
	case ebpf.RingBuf, ebpf.UserRingbuf:
		return fmt.Errorf("%s is a %s: its records are consumed as they come (waggle run prints them), not stored by key", h.what(), TypeName(h.Type))
	case ebpf.PerfEventArray:
		return fmt.Errorf("%s is a perf_event_array: its records are consumed as they come (waggle run prints them), not stored by key", h.what())
	case ebpf.Queue, ebpf.Stack, ebpf.BloomFilter:
		return fmt.Errorf("%s is a %s: it has no keys to walk (waggle map lookup without a key peeks at the next value)", h.what(), TypeName(h.Type))
	case ebpf.StructOpsMap, ebpf.Arena:
		return fmt.Errorf("%s is a %s: the kernel does not let user space read it by key", h.what(), TypeName(h.Type))
	case ebpf.SkStorage, ebpf.InodeStorage, ebpf.TaskStorage, ebpf.CgroupStorage:
		return fmt.Errorf("%s is a %s: its keys are file descriptors of the objects it annotates, so it cannot be walked", h.what(), TypeName(h.Type))
	}
	return nil
}

// Dump reads every entry of the map.
func (h *Handle) Dump() (*Contents, error) {
	if err := h.checkReadable(); err != nil {
		return nil, err
	}
	entries, err := session.ReadEntries(h.Map)
	if err != nil {
		return nil, h.explainRead(err)
	}
	return h.contents(entries), nil
}

// enotsupp is the kernel's internal ENOTSUPP (524), which some map
// operations return to user space.
const enotsupp = unix.Errno(524)

func (h *Handle) explainRead(err error) error {
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, enotsupp) || errors.Is(err, ebpf.ErrNotSupported) {
		return fmt.Errorf("reading %s: the kernel does not let user space read %s maps: %w", h.what(), TypeName(h.Type), err)
	}
	return explain(err, "reading "+h.what())
}

// DumpOptions select how Contents are written.
type DumpOptions struct {
	// JSON writes one JSON object per entry and line.
	JSON bool
	// PerCPU prints each CPU's value of a per-CPU map instead of their
	// sum (text only: JSON always lists every CPU's value).
	PerCPU bool
}

// Write prints the entries.
//
// Text, with BTF: bpftrace's map lines through btfprint.PrintMap, as
// `waggle run` prints maps at exit: @name[key]: value, struct keys as
// their members joined by ", ", bcc-style histograms (a struct with an
// integer array member named slots) drawn as log2 histograms, per-CPU
// values summed unless opt.PerCPU. Every entry the kernel holds is
// printed, zero values of arrays included.
//
// Text, without BTF: bpftool's layout, "key: 01 00 00 00  value: 2a 00 ..."
// (long keys and values on their own lines, 16 bytes a line), one block
// per CPU for per-CPU maps, then "Found N elements".
//
// JSON: one object per entry and line, in the kernel's order of keys (as
// bpftool's hex layout is too), {"key": K, "value": V}, where K
// and V are the BTF-decoded values (btfprint.JSON), or "key_hex" and
// "value_hex" with hex bytes for a map without BTF. Per-CPU maps give
// "values" (or "values_hex"): a list with one value per possible CPU.
func (c *Contents) Write(w io.Writer, opt DumpOptions) error {
	switch {
	case opt.JSON:
		return c.writeJSON(w)
	case c.Key == nil && c.Value == nil:
		return c.writeHex(w)
	}
	name := c.Name
	if name == "" {
		name = "map_" + strconv.FormatUint(uint64(c.ID), 10)
	}
	return btfprint.PrintMap(w, btfprint.Map{
		Name:    name,
		Key:     c.Key,
		Value:   c.Value,
		PerCPU:  perCPU(c.Type),
		Entries: c.Entries,
	}, btfprint.MapOptions{PerCPU: opt.PerCPU})
}

func (c *Contents) writeJSON(w io.Writer) error {
	var b []byte
	for _, e := range c.Entries {
		b = append(b, '{')
		var err error
		if b, err = appendJSONField(b, "key", c.Key, e.Key); err != nil {
			return fmt.Errorf("key: %w", err)
		}
		b = append(b, ", "...)
		if perCPU(c.Type) {
			name := "values"
			if c.Value == nil {
				name = "values_hex"
			}
			b = append(b, '"')
			b = append(b, name...)
			b = append(b, `": [`...)
			for i, v := range e.Values {
				if i > 0 {
					b = append(b, ", "...)
				}
				if b, err = appendJSONValue(b, c.Value, v); err != nil {
					return fmt.Errorf("value: %w", err)
				}
			}
			b = append(b, ']')
		} else if len(e.Values) > 0 {
			if b, err = appendJSONField(b, "value", c.Value, e.Values[0]); err != nil {
				return fmt.Errorf("value: %w", err)
			}
		}
		b = append(b, "}\n"...)
		if len(b) >= 1<<16 {
			if _, err := w.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	_, err := w.Write(b)
	return err
}

// appendJSONField appends "name": V, or "name_hex": "01 02" without a type.
func appendJSONField(b []byte, name string, t btf.Type, data []byte) ([]byte, error) {
	b = append(b, '"')
	b = append(b, name...)
	if t == nil {
		b = append(b, "_hex"...)
	}
	b = append(b, `": `...)
	return appendJSONValue(b, t, data)
}

func appendJSONValue(b []byte, t btf.Type, data []byte) ([]byte, error) {
	if t == nil {
		b = append(b, '"')
		b = append(b, btfprint.HexRecord(data)...)
		return append(b, '"'), nil
	}
	j, err := btfprint.JSON(t, data)
	if err != nil {
		return nil, err
	}
	return append(b, j...), nil
}

// writeHex prints entries in bpftool's plain layout for maps without BTF.
func (c *Contents) writeHex(w io.Writer) error {
	var b []byte
	for _, e := range c.Entries {
		b = appendHexEntry(b, c, e)
		if len(b) >= 1<<16 {
			if _, err := w.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	b = append(b, "Found "...)
	b = strconv.AppendInt(b, int64(len(c.Entries)), 10)
	b = append(b, " element"...)
	if len(c.Entries) != 1 {
		b = append(b, 's')
	}
	b = append(b, '\n')
	_, err := w.Write(b)
	return err
}

// appendHexEntry lays out one entry as bpftool does: key and value on one
// line when both are short, each under its label when either passes 16
// bytes, and per-CPU values one CPU at a time.
func appendHexEntry(b []byte, c *Contents, e btfprint.Entry) []byte {
	if perCPU(c.Type) {
		if c.KeySize > 0 {
			b = append(b, "key:\n"...)
			b = appendHexBlock(b, e.Key)
			b = append(b, '\n')
		}
		if c.ValueSize > 0 {
			for cpu, v := range e.Values {
				b = append(b, "value (CPU "...)
				if cpu < 10 {
					b = append(b, '0')
				}
				b = strconv.AppendInt(b, int64(cpu), 10)
				b = append(b, "):"...)
				if c.ValueSize > 16 {
					b = append(b, '\n')
				} else {
					b = append(b, ' ')
				}
				b = appendHexBlock(b, v)
				b = append(b, '\n')
			}
		}
		return b
	}
	breakNames := c.KeySize > 16 || c.ValueSize > 16
	singleLine := c.KeySize+c.ValueSize <= 24 && !breakNames
	sep := byte(' ')
	if breakNames {
		sep = '\n'
	}
	if c.KeySize > 0 {
		b = append(b, "key:"...)
		b = append(b, sep)
		b = appendHexBlock(b, e.Key)
		if singleLine {
			b = append(b, "  "...)
		} else {
			b = append(b, '\n')
		}
	}
	if c.ValueSize > 0 && len(e.Values) > 0 {
		b = append(b, "value:"...)
		b = append(b, sep)
		b = appendHexBlock(b, e.Values[0])
	}
	return append(b, '\n')
}

// appendHexBlock writes bytes as bpftool does: two hex digits each, an
// extra space after every 8 and a new line after every 16.
func appendHexBlock(b, data []byte) []byte {
	const hex = "0123456789abcdef"
	for i, c := range data {
		switch {
		case i == 0:
		case i%16 == 0:
			b = append(b, '\n')
		case i%8 == 0:
			b = append(b, "  "...)
		default:
			b = append(b, ' ')
		}
		b = append(b, hex[c>>4], hex[c&0xf])
	}
	return b
}
