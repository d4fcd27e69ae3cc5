package btfprint

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/wagglebpf/waggle/internal/histogram"
)

// Entry is one key of a map with its value. Per-CPU maps have one value per
// possible CPU, in CPU order; other maps have exactly one.
type Entry struct {
	Key    []byte
	Values [][]byte
}

// Map is a map's contents as read from the kernel, with the BTF types of
// its keys and values. Key or Value may be nil for maps declared without
// BTF; such keys and values print as hex bytes.
type Map struct {
	Name       string // printed as @Name; a leading @ is kept, not doubled
	Key, Value btf.Type
	PerCPU     bool // Values holds one value per CPU
	Array      bool // an array map: every index exists, so zero means unused
	Entries    []Entry
}

// MapOptions selects how [PrintMap] writes.
type MapOptions struct {
	// JSON writes bpftrace's -f json lines instead of text.
	JSON bool
	// PerCPU prints each CPU's value of a per-CPU map on its own instead
	// of their sum: the key gains a cpu=N part, as in @name[key, cpu=1]: v
	// (or @name[cpu=1]: v without a key), and in JSON "key,cpu=1".
	PerCPU bool
}

// row is an entry ready to print.
type row struct {
	key    []byte
	keyVal value
	keyOK  bool
	sum    []byte
	cpus   [][]byte
	total  uint64 // histograms: sum of all buckets, the sort key
}

// PrintMap writes a map the way bpftrace prints maps at exit, so that tools
// reading bpftrace output can read ours.
//
// Text: one line per entry, @name[key]: value, where the key is rendered by
// [Text] except that a struct key prints its members joined by ", " (the
// form of bpftrace's multi-part keys, @name[1, bash]: 5). An array map of a
// single entry whose key is 0 prints as @name: value. Maps of integers are
// sorted by value, ascending, as bpftrace does; others by key. No blank line
// follows a map of ordinary values (bpftrace prints none either).
//
// A value that is a struct with a member "slots" holding an array of
// integers (the struct hist of bcc and libbpf-tools) prints as a log2
// histogram in bpftrace's layout, under a line @name[key]: and followed by
// a blank line. Slot 0 counts 0 and 1, slot k>=1 counts [2^k, 2^(k+1)).
// Histograms are sorted by their total count.
//
// JSON: one line per map, {"type": "map", "data": {"@name": {"key": value}}}
// ({"@name": value} for the single-entry array), or with "type": "hist" and
// buckets [{"min": 0, "max": 1, "count": 3},...] for histograms. Keys are
// their text, with struct members joined by ",".
//
// Per-CPU values are summed before printing unless opt.PerCPU: integers
// add (wrapping at their width), structs and arrays add member by member,
// and everything else (bools, enums, floats, strings, pointers, unions,
// bitfields) is taken from CPU 0. Entries of array maps whose value is all
// zero bytes are left out, and a map with no entries left prints nothing.
//
// Nothing is written if any entry fails to render.
func PrintMap(w io.Writer, m Map, opt MapOptions) error {
	name := m.Name
	if !strings.HasPrefix(name, "@") {
		name = "@" + name
	}
	valSize := -1
	if m.Value != nil {
		n, err := btf.Sizeof(m.Value)
		if err != nil {
			return fmt.Errorf("btfprint: map %s: value type %s: %w", m.Name, typeString(m.Value), err)
		}
		valSize = n
	}
	// Without a value type there is nothing to add up; each CPU shows.
	perCPU := m.PerCPU && (opt.PerCPU || m.Value == nil)

	hist := histLayoutOf(m.Value)
	rows := make([]row, 0, len(m.Entries))
	for i, e := range m.Entries {
		if len(e.Values) == 0 {
			return fmt.Errorf("btfprint: map %s: entry %d has no value", m.Name, i)
		}
		sum := e.Values[0]
		if m.Value != nil {
			for _, v := range e.Values {
				if len(v) < valSize {
					return fmt.Errorf("btfprint: map %s: value: %w", m.Name, shortData(valSize, len(v)))
				}
			}
			if len(e.Values) > 1 {
				var err error
				if sum, err = sumValues(m.Value, e.Values, valSize); err != nil {
					return fmt.Errorf("btfprint: map %s: %w", m.Name, err)
				}
			}
		}
		if m.Array && allZero(sum, e.Values, perCPU) {
			continue
		}
		r := row{key: e.Key, sum: sum, cpus: e.Values}
		if m.Key != nil {
			if kv, err := decodeTop(m.Key, e.Key); err == nil {
				r.keyVal, r.keyOK = kv, true
			}
		}
		if hist != nil {
			counts, err := hist.counts(sum)
			if err != nil {
				return fmt.Errorf("btfprint: map %s: %w", m.Name, err)
			}
			for _, c := range counts {
				r.total = addSat(r.total, c)
			}
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil
	}
	if err := sortRows(rows, m, hist != nil); err != nil {
		return fmt.Errorf("btfprint: map %s: %w", m.Name, err)
	}
	scalar := m.Array && len(m.Entries) == 1 && isIntKey(m.Key) && isZero(rows[0].key)

	var (
		b   []byte
		err error
	)
	if opt.JSON {
		b, err = mapJSON(name, m, rows, hist, scalar, perCPU)
	} else {
		b, err = mapText(name, m, rows, hist, scalar, perCPU)
	}
	if err != nil {
		return fmt.Errorf("btfprint: map %s: %w", m.Name, err)
	}
	_, err = w.Write(b)
	return err
}

func allZero(sum []byte, cpus [][]byte, perCPU bool) bool {
	if !perCPU {
		return isZero(sum)
	}
	for _, v := range cpus {
		if !isZero(v) {
			return false
		}
	}
	return true
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func isIntKey(t btf.Type) bool {
	if t == nil {
		return true // array maps without BTF still have u32 keys
	}
	i, ok := btf.UnderlyingType(t).(*btf.Int)
	return ok && i.Encoding&btf.Bool == 0
}

func addSat(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint64(0)
}

// sumValues adds per-CPU values into a fresh buffer, keeping CPU 0's bytes
// wherever adding has no meaning.
func sumValues(t btf.Type, cpus [][]byte, size int) ([]byte, error) {
	dst := bytes.Clone(cpus[0][:size])
	for _, src := range cpus[1:] {
		if err := addInto(t, dst, src[:size], 0); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

func addInto(t btf.Type, dst, src []byte, depth int) error {
	if depth > maxDepth {
		return errors.New("types nested too deeply")
	}
	switch t := btf.UnderlyingType(t).(type) {
	case *btf.Int:
		if t.Encoding&btf.Bool != 0 {
			return nil
		}
		n := int(t.Size)
		if n > len(dst) || n > len(src) {
			return shortData(n, min(len(dst), len(src)))
		}
		addInt(dst[:n], src[:n])
	case *btf.Array:
		if isCharArray(t) {
			return nil
		}
		esize, err := btf.Sizeof(t.Type)
		if err != nil || esize == 0 {
			return nil
		}
		for i := range int(t.Nelems) {
			off := i * esize
			if off+esize > len(dst) || off+esize > len(src) {
				return shortData(off+esize, min(len(dst), len(src)))
			}
			if err := addInto(t.Type, dst[off:], src[off:], depth+1); err != nil {
				return err
			}
		}
	case *btf.Struct:
		for _, m := range t.Members {
			if m.BitfieldSize != 0 || m.Offset%8 != 0 {
				continue
			}
			off := int(m.Offset / 8)
			if off > len(dst) || off > len(src) {
				return shortData(off, min(len(dst), len(src)))
			}
			if err := addInto(m.Type, dst[off:], src[off:], depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// addInt adds two integers of the same width, wrapping as the kernel's
// counters do.
func addInt(dst, src []byte) {
	carry := 0
	for j := range dst {
		i := j
		if !littleEndian {
			i = len(dst) - 1 - j
		}
		s := int(dst[i]) + int(src[i]) + carry
		dst[i] = byte(s)
		carry = s >> 8
	}
}

func sortRows(rows []row, m Map, hist bool) error {
	byValue := false
	var it *btf.Int
	if !hist && m.Value != nil {
		it, byValue = btf.UnderlyingType(m.Value).(*btf.Int)
		byValue = byValue && it.Encoding&btf.Bool == 0
	}
	vals := make([]value, len(rows))
	if byValue {
		for i, r := range rows {
			v, err := decodeInt(it, r.sum)
			if err != nil {
				return err
			}
			vals[i] = v
		}
	}
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		ra, rb := &rows[a], &rows[b]
		if hist {
			if c := cmp.Compare(ra.total, rb.total); c != 0 {
				return c
			}
		} else if byValue {
			if c := compareValues(vals[a], vals[b]); c != 0 {
				return c
			}
		}
		if ra.keyOK && rb.keyOK {
			if c := compareValues(ra.keyVal, rb.keyVal); c != 0 {
				return c
			}
		}
		return bytes.Compare(ra.key, rb.key)
	})
	sorted := make([]row, len(rows))
	for i, j := range idx {
		sorted[i] = rows[j]
	}
	copy(rows, sorted)
	return nil
}

// compareValues orders decoded values the way a reader expects: numbers by
// number, strings by bytes, compound values member by member.
func compareValues(a, b value) int {
	if a.kind != b.kind {
		return cmp.Compare(a.kind, b.kind)
	}
	switch a.kind {
	case kindUint, kindBool, kindPointer:
		return cmp.Compare(a.u, b.u)
	case kindInt:
		return cmp.Compare(a.i, b.i)
	case kindEnum:
		if a.signed {
			return cmp.Compare(a.i, b.i)
		}
		return cmp.Compare(a.u, b.u)
	case kindBig:
		return a.big.Cmp(b.big)
	case kindFloat:
		return cmp.Compare(a.f, b.f)
	case kindString:
		return strings.Compare(a.s, b.s)
	case kindArray:
		for i := range min(len(a.elems), len(b.elems)) {
			if c := compareValues(a.elems[i], b.elems[i]); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(a.elems), len(b.elems))
	case kindRecord:
		for i := range min(len(a.fields), len(b.fields)) {
			if c := compareValues(a.fields[i].v, b.fields[i].v); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(a.fields), len(b.fields))
	}
	return 0
}

// keyText renders a key inside @name[...]; sep joins struct members.
func keyText(m Map, r row, sep string) string {
	if m.Key == nil {
		return HexRecord(r.key)
	}
	return string(r.keyVal.appendTuple(nil, sep))
}

// valueText renders a value after "@name[key]: ".
func valueText(t btf.Type, data []byte) (string, error) {
	if t == nil {
		return HexRecord(data), nil
	}
	return Text(t, data)
}

type slot struct {
	label string // key text, with the CPU when printing per CPU
	data  []byte
}

// slots lists what to print for one row: the sum, or each CPU's value.
func slots(m Map, r row, scalar, perCPU bool, sep string) []slot {
	key := ""
	if !scalar {
		key = keyText(m, r, sep)
	}
	if !perCPU {
		return []slot{{key, r.sum}}
	}
	var out []slot
	for cpu, v := range r.cpus {
		if m.Array && isZero(v) {
			continue
		}
		label := "cpu=" + strconv.Itoa(cpu)
		if !scalar {
			label = key + sep + label
		}
		out = append(out, slot{label, v})
	}
	return out
}

func mapText(name string, m Map, rows []row, hist *histLayout, scalar, perCPU bool) ([]byte, error) {
	var b []byte
	for _, r := range rows {
		if m.Key != nil && !r.keyOK {
			_, err := decodeTop(m.Key, r.key)
			return nil, fmt.Errorf("key: %w", err)
		}
		for _, s := range slots(m, r, scalar, perCPU, ", ") {
			b = append(b, name...)
			if s.label != "" || !scalar {
				b = append(b, '[')
				b = append(b, s.label...)
				b = append(b, ']')
			}
			if hist != nil {
				counts, err := hist.counts(s.data)
				if err != nil {
					return nil, err
				}
				b = append(b, ":\n"...)
				b = histogram.AppendText(b, histBuckets(counts))
				b = append(b, '\n')
				continue
			}
			v, err := valueText(m.Value, s.data)
			if err != nil {
				return nil, err
			}
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, '\n')
		}
	}
	return b, nil
}

func mapJSON(name string, m Map, rows []row, hist *histLayout, scalar, perCPU bool) ([]byte, error) {
	typ := "map"
	if hist != nil {
		typ = "hist"
	}
	b := append([]byte(nil), `{"type": "`...)
	b = append(b, typ...)
	b = append(b, `", "data": {`...)
	b = appendJSONString(b, name)
	b = append(b, ": "...)
	keyed := !scalar || perCPU
	if keyed {
		b = append(b, '{')
	}
	first := true
	for _, r := range rows {
		if m.Key != nil && !r.keyOK {
			_, err := decodeTop(m.Key, r.key)
			return nil, fmt.Errorf("key: %w", err)
		}
		for _, s := range slots(m, r, scalar, perCPU, ",") {
			if keyed {
				if !first {
					b = append(b, ", "...)
				}
				b = appendJSONString(b, s.label)
				b = append(b, ": "...)
			}
			first = false
			if hist != nil {
				counts, err := hist.counts(s.data)
				if err != nil {
					return nil, err
				}
				b = histogram.AppendJSON(b, histBuckets(counts))
				continue
			}
			if m.Value == nil {
				b = appendJSONString(b, HexRecord(s.data))
				continue
			}
			v, err := decodeTop(m.Value, s.data)
			if err != nil {
				return nil, err
			}
			b = v.appendJSON(b)
		}
	}
	if keyed {
		b = append(b, '}')
	}
	b = append(b, "}}\n"...)
	return b, nil
}

// pow2 is 2^k as decimal text, for bucket bounds past uint64.
func pow2(k int, minus1 bool) string {
	n := new(big.Int).Lsh(big.NewInt(1), uint(k))
	if minus1 {
		n.Sub(n, big.NewInt(1))
	}
	return n.String()
}
