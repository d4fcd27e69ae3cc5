package btfprint

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// Column widths for event tables. Widths are fixed before the first record
// so that a stream lines up without buffering; these fit typical values
// (PIDs, small counts, latencies) and a longer value simply pushes the rest
// of its line to the right, as in libbpf-tools, rather than being cut.
const (
	width8      = 3  // u8
	width16     = 5  // u16
	width32     = 7  // u32, s32: PIDs, as libbpf-tools print them
	width64     = 12 // u64, s64
	width128    = 20
	widthBool   = 5 // "false"
	widthFloat  = 10
	widthPtr    = 18 // 0x and 16 hex digits
	widthStrMax = 32 // cap for a char array that is not the last column
)

type column struct {
	m     member
	whole bool // the record is not a struct: the column is the whole value
	width int
}

// EventTable prints a stream of records of one type as aligned text
// columns, the layout libbpf-tools and bcc use for their event tools: a
// header of upper-cased member names (PID COMM FILENAME), then one line per
// record. Columns are left-aligned and separated by one space; the last
// column is not padded.
//
// Members of anonymous nested structs and unions are columns of their own.
// A column is as wide as its header or its type's usual values, whichever is
// wider: 3 for 8-bit integers, 5 for 16-bit, 7 for 32-bit, 12 for 64-bit,
// the digits of the largest value for integer bitfields, 5 for bool, 10 for floats, 18 for pointers, N for char[N] (at most 32
// unless it is the last column), the longest enumerator name for enums. A
// type that is not a struct gets a single VALUE column.
type EventTable struct {
	w      io.Writer
	typ    btf.Type
	size   int
	cols   []column
	header bool
	buf    []byte
}

// NewEventTable prepares a table of records of type t written to w. It
// writes nothing until the first record.
func NewEventTable(w io.Writer, t btf.Type) (*EventTable, error) {
	if t == nil {
		return nil, errors.New("btfprint: no type")
	}
	size, err := btf.Sizeof(t)
	if err != nil {
		return nil, fmt.Errorf("btfprint: %s: %w", typeString(t), err)
	}
	e := &EventTable{w: w, typ: t, size: size}
	if s, ok := btf.UnderlyingType(t).(*btf.Struct); ok {
		flat, err := flatten(s.Members, 0, 0, nil)
		if err != nil {
			return nil, fmt.Errorf("btfprint: %s: %w", typeString(t), err)
		}
		for i, m := range flat {
			last := i == len(flat)-1
			w := typeWidth(m.typ, last)
			if m.bits > 0 {
				w = bitfieldWidth(m, w)
			}
			e.cols = append(e.cols, column{m: m, width: max(len(m.name), w)})
		}
	}
	if len(e.cols) == 0 {
		e.cols = []column{{m: member{name: "VALUE", typ: t}, whole: true}}
	}
	return e, nil
}

// typeWidth is the room usual values of t need in a column.
func typeWidth(t btf.Type, last bool) int {
	switch t := btf.UnderlyingType(t).(type) {
	case *btf.Int:
		if t.Encoding&btf.Bool != 0 {
			return widthBool
		}
		switch t.Size {
		case 1:
			return width8
		case 2:
			return width16
		case 4:
			return width32
		case 8:
			return width64
		case 16:
			return width128
		}
	case *btf.Enum:
		w := 0
		for _, v := range t.Values {
			w = max(w, len(v.Name))
		}
		return w
	case *btf.Float:
		return widthFloat
	case *btf.Pointer:
		return widthPtr
	case *btf.Array:
		if isCharArray(t) {
			if last {
				return int(t.Nelems)
			}
			return min(int(t.Nelems), widthStrMax)
		}
	}
	return 0
}

// bitfieldWidth fits an integer bitfield's largest value: a 12-bit CPU
// number needs 4 columns, not the 7 of its u32 storage.
func bitfieldWidth(m member, w int) int {
	i, ok := btf.UnderlyingType(m.typ).(*btf.Int)
	if !ok || i.Encoding&btf.Bool != 0 || m.bits > 64 {
		return w
	}
	n := len(strconv.FormatUint(^uint64(0)>>(64-m.bits), 10))
	if i.Encoding&btf.Signed != 0 {
		n++
	}
	return n
}

// Write prints one record, preceded by the header line if it is the first.
// A record that cannot be decoded writes nothing and returns an error; the
// caller may show it with [HexRecord] instead.
func (e *EventTable) Write(record []byte) error {
	if len(record) < e.size {
		return fmt.Errorf("btfprint: %s: %w", typeString(e.typ), shortData(e.size, len(record)))
	}
	b := e.buf[:0]
	if !e.header {
		for i, c := range e.cols {
			b = appendCell(b, strings.ToUpper(c.m.name), c.width, i == len(e.cols)-1)
		}
		b = append(b, '\n')
	}
	for i, c := range e.cols {
		var (
			v   value
			err error
		)
		if c.whole {
			v, err = decodeTop(e.typ, record)
		} else {
			v, err = decodeMember(c.m, record[:e.size], 0)
			if err != nil {
				err = fmt.Errorf("btfprint: %s.%s: %w", typeString(e.typ), c.m.name, err)
			}
		}
		if err != nil {
			return err
		}
		b = appendCell(b, string(v.appendText(nil)), c.width, i == len(e.cols)-1)
	}
	b = append(b, '\n')
	e.buf = b
	if _, err := e.w.Write(b); err != nil {
		return err
	}
	e.header = true
	return nil
}

func appendCell(b []byte, s string, width int, last bool) []byte {
	b = append(b, s...)
	if last {
		return b
	}
	for n := len(s); n < width; n++ {
		b = append(b, ' ')
	}
	return append(b, ' ')
}

// EventJSON writes one record as one line of JSON:
//
//	{"type": "event", "map": "events", "data": {"pid": 1, "comm": "bash"}}
//
// The envelope mirrors bpftrace's {"type": ..., "data": ...} lines so that a
// consumer can read events and map dumps from one stream; "map" names the
// ring or perf buffer the record came from. data is rendered by [JSON].
func EventJSON(w io.Writer, mapName string, t btf.Type, record []byte) error {
	v, err := decodeTop(t, record)
	if err != nil {
		return err
	}
	b := append([]byte(nil), `{"type": "event", "map": `...)
	b = appendJSONString(b, mapName)
	b = append(b, `, "data": `...)
	b = v.appendJSON(b)
	b = append(b, "}\n"...)
	_, err = w.Write(b)
	return err
}

// HexRecord renders a record that has no usable type as its bytes in hex,
// two digits each, separated by spaces, without a trailing newline.
func HexRecord(record []byte) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, 3*len(record))
	for i, c := range record {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, hex[c>>4], hex[c&0xf])
	}
	return string(b)
}

// EventType guesses the type of the records a ring buffer or perf event
// array carries, since BTF does not tie a buffer to a type: it picks the
// named struct in spec whose size equals recordSize.
//
// The kernel pads perf samples so that the sample and its 4-byte size
// header end on 8 bytes; with perf set, structs up to 7 bytes smaller than
// the record also qualify and the largest of them wins. Among several
// candidates, those with "event" in the name (any case) are preferred, as
// in the common `struct event`.
//
// When no single struct fits, the error says why in words meant for the
// user, who can then name the type with --event-type.
func EventType(spec *btf.Spec, recordSize int, perf bool) (btf.Type, error) {
	const hint = "; printing hex (use --event-type NAME)"
	if spec == nil {
		return nil, errors.New("the object has no BTF" + hint)
	}
	if recordSize <= 0 {
		return nil, fmt.Errorf("empty record (%d bytes)%s", recordSize, hint)
	}
	lo := recordSize
	if perf {
		lo = max(recordSize-7, 1)
	}
	var cands []*btf.Struct
	seen := make(map[string]bool)
	for t, err := range spec.All() {
		if err != nil {
			return nil, fmt.Errorf("read the object's BTF: %w", err)
		}
		s, ok := t.(*btf.Struct)
		if !ok || s.Name == "" || int(s.Size) < lo || int(s.Size) > recordSize {
			continue
		}
		// One definition seen through several compilation units is one type.
		key := fmt.Sprintf("%s/%d", s.Name, s.Size)
		if seen[key] {
			continue
		}
		seen[key] = true
		cands = append(cands, s)
	}
	if perf && len(cands) > 1 {
		largest := uint32(0)
		for _, s := range cands {
			largest = max(largest, s.Size)
		}
		cands = slices.DeleteFunc(cands, func(s *btf.Struct) bool { return s.Size != largest })
	}
	sizes := fmt.Sprintf("%d bytes", recordSize)
	if lo != recordSize {
		sizes = fmt.Sprintf("%d to %d bytes", lo, recordSize)
	}
	switch len(cands) {
	case 0:
		return nil, fmt.Errorf("no struct of %s in the object's BTF%s", sizes, hint)
	case 1:
		return cands[0], nil
	}
	var events []*btf.Struct
	for _, s := range cands {
		if strings.Contains(strings.ToLower(s.Name), "event") {
			events = append(events, s)
		}
	}
	if len(events) == 1 {
		return events[0], nil
	}
	if len(events) > 1 {
		cands = events
	}
	return nil, fmt.Errorf("%d structs of %s in the object's BTF (%s)%s",
		len(cands), sizes, structNames(cands), hint)
}

func structNames(ss []*btf.Struct) string {
	const show = 5
	names := make([]string, 0, min(len(ss), show))
	for _, s := range ss {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	if len(names) > show {
		names = append(names[:show], "...")
	}
	return strings.Join(names, ", ")
}

// TypeByName finds the type --event-type NAME asks for: a struct, union,
// typedef, integer, enum or float named name. A "struct ", "union " or
// "enum " prefix restricts the kind. When a struct and a typedef share the
// name (typedef struct event event), the struct is taken; they describe
// the same bytes.
func TypeByName(spec *btf.Spec, name string) (btf.Type, error) {
	if spec == nil {
		return nil, fmt.Errorf("type %q: the object has no BTF", name)
	}
	want := ""
	for _, p := range []string{"struct ", "union ", "enum "} {
		if rest, ok := strings.CutPrefix(name, p); ok {
			want, name = strings.TrimSpace(p), strings.TrimSpace(rest)
			break
		}
	}
	if name == "" {
		return nil, errors.New("empty type name")
	}
	types, err := spec.AnyTypesByName(name)
	if errors.Is(err, btf.ErrNotFound) || (err == nil && len(types) == 0) {
		return nil, fmt.Errorf("no type named %q in the object's BTF", name)
	}
	if err != nil {
		return nil, fmt.Errorf("look up type %q: %w", name, err)
	}
	best, bestRank, tie := btf.Type(nil), 0, false
	for _, t := range types {
		r := typeRank(t, want)
		switch {
		case r == 0:
		case best == nil || r < bestRank:
			best, bestRank, tie = t, r, false
		case r == bestRank:
			tie = true
		}
	}
	if best == nil {
		kinds := make([]string, 0, len(types))
		for _, t := range types {
			kinds = append(kinds, typeString(t))
		}
		if want != "" {
			return nil, fmt.Errorf("no %s %s in the object's BTF (found %s)", want, name, strings.Join(kinds, ", "))
		}
		return nil, fmt.Errorf("%q in the object's BTF is not a struct, union, typedef, integer, enum or float (found %s)",
			name, strings.Join(kinds, ", "))
	}
	if tie {
		return nil, fmt.Errorf("several %ss named %q in the object's BTF; cannot tell which one is meant", kindWord(best), name)
	}
	return best, nil
}

// typeRank orders candidates for a name, lower first; 0 rules one out.
func typeRank(t btf.Type, want string) int {
	r := 0
	switch t.(type) {
	case *btf.Struct:
		r = 1
	case *btf.Union:
		r = 2
	case *btf.Enum:
		r = 3
	case *btf.Typedef:
		r = 4
	case *btf.Int:
		r = 5
	case *btf.Float:
		r = 6
	}
	if want != "" && kindWord(t) != want {
		return 0
	}
	return r
}

func kindWord(t btf.Type) string {
	switch t.(type) {
	case *btf.Struct:
		return "struct"
	case *btf.Union:
		return "union"
	case *btf.Enum:
		return "enum"
	case *btf.Typedef:
		return "typedef"
	case *btf.Int:
		return "integer"
	case *btf.Float:
		return "float"
	}
	return fmt.Sprintf("%T", t)
}
