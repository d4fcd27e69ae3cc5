package output

import (
	"fmt"
	"math"

	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
)

// Series is one entry of a map reduced to numbers, for exporters of
// metrics (agent/metrics) rather than for printing: the same decoding and
// the same reductions over CPUs as the printed form, without bpftrace's
// ordering, top and div.
type Series struct {
	// Key is the key as text, one string per element of a tuple key and a
	// single one for any other key, each as bpftrace prints it; nil for a
	// map without a key.
	Key []string
	// Value is the number of a count, sum, min, max or avg map (avg: the
	// average, as printed) and of maps of integers and bools.
	Value float64
	// Text is the printed value of maps whose values are not numbers
	// (strings, symbols, stacks, tuples...); empty otherwise.
	Text string
	// Count and Total are the number of values and their total, for avg
	// and stats maps.
	Count uint64
	Total float64
	// Buckets are the buckets of a hist or lhist map: every bucket the
	// aggregation has, in order, empty ones included, each with the
	// largest value it holds. A hist has layout.Log2Buckets of them;
	// an lhist's last bucket, for max and above, is open (+Inf).
	Buckets []Bucket
}

// Bucket is one bucket of a histogram for export.
type Bucket struct {
	// Max is the largest value the bucket holds: values are integers, so
	// the bucket [2, 4) has Max 3. +Inf for a bucket open above.
	Max float64
	// Count is the number of values in this bucket alone.
	Count uint64
}

// MapSeries reads m into one Series per key. A map without a key gives
// one Series at most (the first entry, as bpftrace prints it). Malformed
// data (short keys or values, bucket indexes past the aggregation's) is
// an error naming the entry, never a panic.
func MapSeries(m Map, sym *Symbolizer) ([]Series, error) {
	if m.Value == nil {
		return nil, fmt.Errorf("map %s has no value type", mapName(m))
	}
	if m.Value.Kind == ast.KindHist || m.Value.Kind == ast.KindLHist {
		return histSeries(m, sym)
	}
	keySize, valSize := 0, layout.Size(m.Value)
	if m.Key != nil {
		keySize = layout.Size(m.Key)
	}
	var out []Series
	for i, e := range m.Entries {
		if len(e.Values) == 0 {
			return nil, fmt.Errorf("entry %d has no value", i)
		}
		if len(e.Key) < keySize {
			return nil, fmt.Errorf("entry %d: key: %w", i, shortErr(m.Key, keySize, len(e.Key)))
		}
		for _, v := range e.Values {
			if len(v) < valSize {
				return nil, fmt.Errorf("entry %d: %w", i, shortErr(m.Value, valSize, len(v)))
			}
		}
		s, err := entrySeries(m.Value, e.Values, sym)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if m.Key == nil {
			return []Series{s}, nil
		}
		if s.Key, err = keyStrings(m.Key, e.Key, sym); err != nil {
			return nil, fmt.Errorf("entry %d: key: %w", i, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// entrySeries reduces one entry's per-CPU values as aggregate does.
func entrySeries(t *ast.Type, cpus [][]byte, sym *Symbolizer) (Series, error) {
	var s Series
	if t.Kind == ast.KindAvg || t.Kind == ast.KindStats {
		total, count, avg := stats(cpus, t.Signed)
		s.Count = count
		if t.Signed {
			s.Total, s.Value = float64(int64(total)), float64(int64(avg))
		} else {
			s.Total, s.Value = float64(total), float64(avg)
		}
		return s, nil
	}
	p, err := aggregate(t, cpus, 1, sym)
	if err != nil {
		return s, err
	}
	switch {
	case p.kind == pInt:
		s.Value = float64(p.i)
	case p.kind == pUint:
		s.Value = float64(p.u)
	case p.kind == pBool:
		if p.b {
			s.Value = 1
		}
	default:
		s.Text = p.text()
	}
	return s, nil
}

// keyStrings decodes a key into its elements' texts.
func keyStrings(t *ast.Type, b []byte, sym *Symbolizer) ([]string, error) {
	p, err := decode(t, b, sym)
	if err != nil {
		return nil, err
	}
	if t.Kind != ast.KindTuple {
		return []string{p.text()}, nil
	}
	out := make([]string, len(p.elems))
	for i, e := range p.elems {
		out[i] = e.text()
	}
	return out, nil
}

// histSeries gives every bucket of each key's histogram.
func histSeries(m Map, sym *Symbolizer) ([]Series, error) {
	groups, err := groupHist(m)
	if err != nil {
		return nil, err
	}
	var bounds []float64
	if m.Value.Kind == ast.KindHist {
		bounds = log2Bounds()
	} else if bounds, err = linearBounds(m.Value); err != nil {
		return nil, err
	}
	out := make([]Series, 0, len(groups))
	for _, g := range groups {
		s := Series{Buckets: make([]Bucket, len(bounds))}
		for i, max := range bounds {
			s.Buckets[i].Max = max
		}
		for idx, c := range g.counts {
			if idx >= uint64(len(bounds)) {
				if m.Value.Kind == ast.KindHist {
					return nil, errSpan
				}
				// lhist buckets past max fold into the open one.
				idx = uint64(len(bounds) - 1)
			}
			s.Buckets[idx].Count += c
		}
		if m.Key != nil {
			if s.Key, err = keyStrings(m.Key, g.key, sym); err != nil {
				return nil, fmt.Errorf("key: %w", err)
			}
		}
		out = append(out, s)
		if m.Key == nil {
			break
		}
	}
	return out, nil
}

// log2Bounds are the largest values of hist()'s buckets, numbered as
// layout.Log2Buckets says: -1 for the negative values, 0, 1, then
// 2^(i-1)-1 for [2^(i-2), 2^(i-1)).
func log2Bounds() []float64 {
	out := make([]float64, layout.Log2Buckets)
	out[0] = -1
	for i := 1; i < layout.Log2Buckets; i++ {
		if i <= 2 {
			out[i] = float64(i - 1)
			continue
		}
		out[i] = math.Ldexp(1, i-1) - 1
	}
	return out
}

// linearBounds are the largest values of an lhist's buckets: min-1 for
// the values below min, min+i*step-1 for [min+(i-1)*step, min+i*step),
// and +Inf for the open bucket of max and above (see linearHist).
func linearBounds(t *ast.Type) ([]float64, error) {
	if t.Step <= 0 {
		return nil, fmt.Errorf("lhist step %d must be positive", t.Step)
	}
	var nlabels uint64
	if t.Max >= t.Min {
		nlabels = uint64(t.Max-t.Min)/uint64(t.Step) + 1
	}
	if nlabels >= maxSpan {
		return nil, errSpan
	}
	out := make([]float64, nlabels+1)
	for i := range nlabels {
		out[i] = float64(t.Min+int64(i)*t.Step) - 1
	}
	out[nlabels] = math.Inf(1)
	return out, nil
}
