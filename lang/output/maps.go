package output

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/wagglebpf/waggle/internal/histogram"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
)

// Map is a map of the tracing language as read from the kernel.
type Map struct {
	// Name is the map's name as written in the script: "@x", or "@" for
	// the anonymous map. A missing '@' is added.
	Name string
	// Key is the type of the key the script uses, nil for a map without
	// one (@x = count()). For hist and lhist maps it excludes the bucket
	// index that the code generator appends (layout.HistKey).
	Key *ast.Type
	// Value is the map's value type: an aggregation (count_t, hist_t...)
	// or a plain value.
	Value *ast.Type
	// Entries are the map's entries, in the order the kernel returned
	// them: bpftrace keeps that order among entries that sort equal.
	Entries []Entry
}

// Entry is one key of a map and its value: one value per possible CPU for
// the per-CPU maps that hold aggregations, a single value otherwise.
type Entry struct {
	Key    []byte
	Values [][]byte
}

// mapOut is a map formatted for printing, before the choice of text or
// JSON; it mirrors what bpftrace hands its output writers.
type mapOut struct {
	keyed bool   // @x[k]: v lines; otherwise a single value
	typ   string // JSON "type": map, hist or stats
	empty bool   // nothing to print (a keyed map without entries, a cleared scalar)

	keys  []prim
	vals  []prim // for maps of plain values and stats
	hists []hist // for hist and lhist maps
}

// formatMap reads m into what bpftrace prints: entries sorted, the first
// len-top dropped when top > 0, values divided by div (0 means 1). It
// follows bpftrace's rules for order:
//
//   - count, sum and integer values by value, ascending (signed or not as
//     the value type);
//   - min and max by value compared as unsigned 64-bit numbers, as
//     bpftrace does, so negative values sort after positive ones;
//   - avg and stats by average;
//   - hist and lhist by the total count over all buckets, entries with the
//     same total by key bytes;
//   - anything else by key: integers compared as signed, strings byte by
//     byte, tuples element by element (integers and strings only); other
//     keys keep the kernel's order.
//
// Entries that sort equal keep the order of m.Entries.
func formatMap(m Map, top, div uint64, sym *Symbolizer) (mapOut, error) {
	if div == 0 {
		div = 1
	}
	if m.Value == nil {
		return mapOut{}, errors.New("map without a value type")
	}
	switch m.Value.Kind {
	case ast.KindHist, ast.KindLHist:
		return formatHistMap(m, top, div, sym)
	}
	out := mapOut{keyed: m.Key != nil, typ: "map"}
	if m.Value.Kind == ast.KindAvg || m.Value.Kind == ast.KindStats {
		out.typ = "stats"
	}
	type row struct {
		entry Entry
		sort  sortKey
	}
	rows := make([]row, 0, len(m.Entries))
	for i, e := range m.Entries {
		if len(e.Values) == 0 {
			return out, fmt.Errorf("entry %d has no value", i)
		}
		if m.Key != nil && len(e.Key) < layout.Size(m.Key) {
			return out, fmt.Errorf("entry %d: key: %w", i, shortErr(m.Key, layout.Size(m.Key), len(e.Key)))
		}
		size := layout.Size(m.Value)
		for _, v := range e.Values {
			if len(v) < size {
				return out, fmt.Errorf("entry %d: %w", i, shortErr(m.Value, size, len(v)))
			}
		}
		rows = append(rows, row{e, valueSortKey(m.Value, e.Values)})
	}
	if isValueSorted(m.Value) {
		slices.SortStableFunc(rows, func(a, b row) int { return a.sort.compare(b.sort) })
	} else if m.Key != nil {
		slices.SortStableFunc(rows, func(a, b row) int { return compareKeys(m.Key, a.entry.Key, b.entry.Key) })
	}
	if top > 0 && uint64(len(rows)) > top {
		rows = rows[uint64(len(rows))-top:]
	}
	for _, r := range rows {
		v, err := aggregate(m.Value, r.entry.Values, div, sym)
		if err != nil {
			return out, err
		}
		if m.Key == nil {
			// A map without a key has one entry; bpftrace prints the first.
			out.vals = []prim{v}
			return out, nil
		}
		k, err := decode(m.Key, r.entry.Key, sym)
		if err != nil {
			return out, fmt.Errorf("key: %w", err)
		}
		out.keys = append(out.keys, k)
		out.vals = append(out.vals, v)
	}
	out.empty = len(out.vals) == 0
	return out, nil
}

// formatHistMap groups the entries of a hist or lhist map, one per bucket,
// into one histogram per key.
func formatHistMap(m Map, top, div uint64, sym *Symbolizer) (mapOut, error) {
	out := mapOut{keyed: m.Key != nil, typ: "hist"}
	list, err := groupHist(m)
	if err != nil {
		return out, err
	}
	// bpftrace collects the buckets in a map ordered by key bytes, then
	// sorts by total; equal totals keep the key order.
	slices.SortStableFunc(list, func(a, b *histGroup) int { return cmp.Compare(a.total, b.total) })
	if top > 0 && uint64(len(list)) > top {
		list = list[uint64(len(list))-top:]
	}
	for _, g := range list {
		var h hist
		if m.Value.Kind == ast.KindHist {
			h, err = log2Hist(g.counts, div)
		} else {
			h, err = linearHist(m.Value, g.counts)
		}
		if err != nil {
			return out, err
		}
		if m.Key == nil {
			out.hists = []hist{h}
			return out, nil
		}
		k, err := decode(m.Key, g.key, sym)
		if err != nil {
			return out, fmt.Errorf("key: %w", err)
		}
		out.keys = append(out.keys, k)
		out.hists = append(out.hists, h)
	}
	out.empty = len(out.hists) == 0
	return out, nil
}

// histGroup is the buckets of one key of a hist or lhist map.
type histGroup struct {
	key    []byte
	counts map[uint64]uint64 // by bucket index, summed over CPUs
	total  uint64
}

// groupHist collects the entries of a hist or lhist map, one per bucket,
// into one group per key, ordered by key bytes.
func groupHist(m Map) ([]*histGroup, error) {
	keySize := 0
	if m.Key != nil {
		keySize = layout.Size(m.Key)
	}
	groups := map[string]*histGroup{}
	for i, e := range m.Entries {
		if len(e.Key) < keySize+layout.HistKey {
			return nil, fmt.Errorf("entry %d: hist key of %d bytes, need %d", i, len(e.Key), keySize+layout.HistKey)
		}
		k := e.Key[:keySize]
		idx := hostOrder.Uint64(e.Key[keySize:])
		g := groups[string(k)]
		if g == nil {
			g = &histGroup{key: k, counts: map[uint64]uint64{}}
			groups[string(k)] = g
		}
		for _, v := range e.Values {
			if len(v) < 8 {
				return nil, fmt.Errorf("entry %d: bucket count of %d bytes, need 8", i, len(v))
			}
			c := hostOrder.Uint64(v)
			g.counts[idx] += c
			g.total += c
		}
	}
	list := make([]*histGroup, 0, len(groups))
	for _, g := range groups {
		list = append(list, g)
	}
	slices.SortFunc(list, func(a, b *histGroup) int { return bytes.Compare(a.key, b.key) })
	return list, nil
}

// isValueSorted reports whether bpftrace orders a map of t by value.
func isValueSorted(t *ast.Type) bool {
	switch t.Kind {
	case ast.KindCount, ast.KindSum, ast.KindInt, ast.KindMin, ast.KindMax, ast.KindAvg, ast.KindStats:
		return true
	}
	return false
}

// sortKey is the number a map entry sorts by.
type sortKey struct {
	signed bool
	i      int64
	u      uint64
}

func (a sortKey) compare(b sortKey) int {
	if a.signed {
		return cmp.Compare(a.i, b.i)
	}
	return cmp.Compare(a.u, b.u)
}

// valueSortKey computes the sort key of an entry before any division,
// with bpftrace's reductions over CPUs.
func valueSortKey(t *ast.Type, cpus [][]byte) sortKey {
	switch t.Kind {
	case ast.KindCount, ast.KindSum, ast.KindInt:
		p := reduceInt(t, cpus)
		return sortKey{signed: p.kind == pInt, i: p.i, u: p.u}
	case ast.KindMin, ast.KindMax:
		// Unsigned even for signed values: bpftrace's comparison.
		v, _ := minMax(cpus, t.Kind == ast.KindMax, false)
		return sortKey{u: uint64(v)}
	case ast.KindAvg, ast.KindStats:
		_, _, avg := stats(cpus, t.Signed)
		return sortKey{signed: t.Signed, i: int64(avg), u: avg}
	}
	return sortKey{}
}

// reduceInt sums an integer value over CPUs at the type's width, wrapping
// as the kernel's counters do.
func reduceInt(t *ast.Type, cpus [][]byte) prim {
	var sum uint64
	for _, v := range cpus {
		sum += hostOrder.Uint64(v)
	}
	switch t.Kind {
	case ast.KindCount:
		return uintPrim(sum)
	case ast.KindSum:
		return intOf(sum, 8, t.Signed)
	}
	return intOf(sum, t.Size, t.Signed)
}

// minMax combines per-CPU min or max slots, skipping CPUs that never saw a
// value; it is 0 when none did.
func minMax(cpus [][]byte, isMax, signed bool) (int64, bool) {
	var (
		best int64
		set  bool
	)
	for _, v := range cpus {
		if hostOrder.Uint64(v[8:]) == 0 {
			continue
		}
		x := int64(hostOrder.Uint64(v))
		switch {
		case !set:
			best, set = x, true
		case signed && isMax && x > best, signed && !isMax && x < best:
			best = x
		case !signed && isMax && uint64(x) > uint64(best), !signed && !isMax && uint64(x) < uint64(best):
			best = x
		}
	}
	return best, set
}

// stats sums per-CPU (total, count) slots and divides, in signed or
// unsigned arithmetic as bpftrace does; the average of nothing is 0.
func stats(cpus [][]byte, signed bool) (total, count, avg uint64) {
	for _, v := range cpus {
		total += hostOrder.Uint64(v)
		count += hostOrder.Uint64(v[8:])
	}
	if signed {
		if c := int64(count); c > 0 {
			avg = uint64(int64(total) / c)
		}
	} else if count > 0 {
		avg = total / count
	}
	return total, count, avg
}

// aggregate turns the per-CPU values of one entry into the value bpftrace
// prints, divided by div as print(@m, top, div) asks.
func aggregate(t *ast.Type, cpus [][]byte, div uint64, sym *Symbolizer) (prim, error) {
	switch t.Kind {
	case ast.KindCount, ast.KindSum, ast.KindInt:
		p := reduceInt(t, cpus)
		if p.kind == pUint {
			p.u /= div
			return p, nil
		}
		// bpftrace converts the divisor to the value's own type before
		// dividing, so an int32 divides by an int32.
		d := int64(div)
		if t.Kind == ast.KindInt {
			d = intOf(div, t.Size, true).i
		}
		if d != 0 && (p.i != -1<<63 || d != -1) {
			p.i /= d
		}
		return p, nil
	case ast.KindMin, ast.KindMax:
		v, _ := minMax(cpus, t.Kind == ast.KindMax, t.Signed)
		if t.Signed {
			return intPrim(v / int64(div)), nil
		}
		return uintPrim(uint64(v) / div), nil
	case ast.KindAvg, ast.KindStats:
		total, count, avg := stats(cpus, t.Signed)
		var a, tot, n prim
		if t.Signed {
			a, tot, n = intPrim(int64(avg)/int64(div)), intPrim(int64(total)), intPrim(int64(count))
		} else {
			a, tot, n = uintPrim(avg/div), uintPrim(total), uintPrim(count)
		}
		if t.Kind == ast.KindAvg {
			return a, nil
		}
		return prim{kind: pStats, elems: []prim{n, a, tot}}, nil
	}
	return decode(t, cpus[0], sym)
}

// compareKeys orders keys as bpftrace sorts maps whose values have no
// order of their own.
func compareKeys(t *ast.Type, a, b []byte) int {
	switch t.Kind {
	case ast.KindInt:
		return compareSigned(t, a, b)
	case ast.KindString:
		n := layout.Size(t)
		return bytes.Compare(a[:n], b[:n])
	case ast.KindTuple:
		// Integer and string elements decide, the first one first; other
		// elements do not take part.
		offs := layout.Offsets(t)
		for i, e := range t.Elems {
			if e.Kind != ast.KindInt && e.Kind != ast.KindString {
				continue
			}
			if c := compareKeys(e, a[offs[i]:], b[offs[i]:]); c != 0 {
				return c
			}
		}
	}
	return 0
}

// compareSigned compares integer keys as signed numbers of their width,
// whatever their signedness, as bpftrace does.
func compareSigned(t *ast.Type, a, b []byte) int {
	x := intOf(hostOrder.Uint64(a), t.Size, true).i
	y := intOf(hostOrder.Uint64(b), t.Size, true).i
	return cmp.Compare(x, y)
}

// appendMapText writes a formatted map as bpftrace's text output does:
// @x: v, or @x[k]: v per entry, or for histograms @x: / @x[k]: followed by
// the buckets and a blank line. A map with nothing in it prints nothing.
func appendMapText(b []byte, name string, m mapOut) []byte {
	if m.empty {
		return b
	}
	if !m.keyed {
		if m.hists != nil {
			b = append(b, name...)
			b = append(b, ":\n"...)
			b = histogram.AppendText(b, m.hists[0].buckets())
			return append(b, '\n')
		}
		if len(m.vals) == 0 {
			return b
		}
		b = append(b, name...)
		b = append(b, ": "...)
		b = append(b, m.vals[0].text()...)
		return append(b, '\n')
	}
	for i, k := range m.keys {
		b = append(b, name...)
		b = append(b, '[')
		b = append(b, k.keyText()...)
		if m.hists != nil {
			b = append(b, "]:\n"...)
			b = histogram.AppendText(b, m.hists[i].buckets())
			b = append(b, '\n')
			continue
		}
		b = append(b, "]: "...)
		b = append(b, m.vals[i].text()...)
		b = append(b, '\n')
	}
	return b
}

// appendMapJSON writes a formatted map as one line of bpftrace's -f json:
// {"type": "map", "data": {"@x": ...}} with "hist" and "stats" types for
// histograms and avg/stats maps. A map without entries prints nothing,
// except an avg or stats map, which prints {}: bpftrace's test for an empty
// map does not see through its wrapper for statistics.
func appendMapJSON(b []byte, name string, m mapOut) []byte {
	if m.empty && m.typ != "stats" {
		return b
	}
	b = append(b, `{"type": "`...)
	b = append(b, m.typ...)
	b = append(b, `", "data": {`...)
	b = appendJSONString(b, name)
	b = append(b, ": "...)
	switch {
	case !m.keyed && m.hists != nil:
		b = histogram.AppendJSON(b, m.hists[0].buckets())
	case !m.keyed && len(m.vals) > 0:
		b = m.vals[0].appendJSON(b)
	default:
		b = append(b, '{')
		for i, k := range m.keys {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendJSONString(b, k.jsonKey())
			b = append(b, ": "...)
			if m.hists != nil {
				b = histogram.AppendJSON(b, m.hists[i].buckets())
			} else {
				b = m.vals[i].appendJSON(b)
			}
		}
		b = append(b, '}')
	}
	return append(b, "}}\n"...)
}

// mapName is the name printed for m, with its '@'.
func mapName(m Map) string {
	if strings.HasPrefix(m.Name, "@") {
		return m.Name
	}
	return "@" + m.Name
}
