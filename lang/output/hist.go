package output

import (
	"errors"
	"math"
	"strconv"

	"github.com/wagglebpf/waggle/internal/histogram"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
)

// hist is a histogram the way bpftrace prepares one for printing: the
// buckets from the first to the last non-empty one, each with its count and
// its upper bound (label), plus the lower bound of the first bucket unless
// it is the open-ended bucket of values below everything. A bucket's lower
// bound is the previous bucket's label; the last bucket of an lhist has no
// label of its own and is open above.
type hist struct {
	lower  *prim
	labels []prim
	counts []uint64
}

// maxSpan bounds the buckets drawn for one histogram. Real hist() maps
// have 66 buckets and lhist() ones what the script asked for; only corrupt
// data reaches this, and it must not make us allocate without limit.
const maxSpan = 1 << 20

var errSpan = errors.New("histogram buckets out of range")

// span returns the lowest and highest bucket index with a nonzero count.
func span(counts map[uint64]uint64) (lo, hi uint64, ok bool) {
	for i, c := range counts {
		if c == 0 {
			continue
		}
		if !ok || i < lo {
			lo = i
		}
		if !ok || i > hi {
			hi = i
		}
		ok = true
	}
	return lo, hi, ok
}

// log2Hist builds a hist() histogram from bucket counts numbered as
// layout.Log2Buckets says. Buckets 1 and 2 hold the single values 0 and 1
// and are labelled by plain numbers, so that they print as [0] and [1];
// higher buckets are labelled 2^(i-1) with binary suffixes. div divides the
// counts (print(@h, top, div)).
func log2Hist(counts map[uint64]uint64, div uint64) (hist, error) {
	var h hist
	lo, hi, ok := span(counts)
	if !ok {
		return h, nil
	}
	if hi >= layout.Log2Buckets {
		return h, errSpan
	}
	if lo != 0 {
		l := log2Label(lo - 1)
		h.lower = &l
	}
	for i := lo; i <= hi; i++ {
		h.labels = append(h.labels, log2Label(i))
		h.counts = append(h.counts, counts[i]/div)
	}
	return h, nil
}

// log2Label is the upper bound of log2 bucket i: bucket 0 (negative
// values) ends at 0, bucket i+1 at i for the single-value buckets, and
// bucket i >= 3 at 2^(i-1).
func log2Label(i uint64) prim {
	if i <= 2 {
		return intPrim(int64(i))
	}
	p := prim{kind: pSym, s: histogram.Pow2(int(i - 1))}
	if i-1 >= 64 {
		p.over = true
	} else {
		p.u = 1 << (i - 1)
	}
	return p
}

// linearHist builds an lhist() histogram. Bucket 0 holds values below min,
// bucket i >= 1 values from min+(i-1)*step, and the buckets whose lower
// bound reaches past max fold into one open-ended bucket, as bpftrace
// prints them whatever way they were numbered. lhist counts are never
// divided.
func linearHist(t *ast.Type, counts map[uint64]uint64) (hist, error) {
	var h hist
	step := t.Step
	if step <= 0 {
		return h, errors.New("lhist step must be positive")
	}
	// Labels exist for i in [0, nlabels): min + i*step <= max.
	var nlabels uint64
	if t.Max >= t.Min {
		nlabels = uint64(t.Max-t.Min)/uint64(step) + 1
	}
	folded := make(map[uint64]uint64, len(counts))
	for i, c := range counts {
		folded[min(i, nlabels)] += c
	}
	lo, hi, ok := span(folded)
	if !ok {
		return h, nil
	}
	if hi-lo >= maxSpan {
		return h, errSpan
	}
	if lo != 0 {
		l := linearLabel(t.Min+int64(lo-1)*step, step)
		h.lower = &l
	}
	for i := lo; i <= hi; i++ {
		if i < nlabels {
			h.labels = append(h.labels, linearLabel(t.Min+int64(i)*step, step))
		}
		h.counts = append(h.counts, folded[i])
	}
	return h, nil
}

// linearLabel is an lhist bound. bpftrace writes bounds with K and M
// suffixes only when the step is a multiple of 1024; otherwise they are
// plain numbers, and adjacent ones (step 1) make single-value buckets [3].
func linearLabel(n, step int64) prim {
	const kilo, mega = 1024, 1024 * 1024
	if step%kilo != 0 {
		return intPrim(n)
	}
	s := strconv.FormatInt(n, 10)
	switch {
	case n == 0:
	case n%mega == 0:
		s = strconv.FormatInt(n/mega, 10) + "M"
	case n%kilo == 0:
		s = strconv.FormatInt(n/kilo, 10) + "K"
	}
	return prim{kind: pSym, s: s, u: uint64(n)}
}

// singleValue reports whether the bucket [a, b) holds the one value a.
// Only plain numbers qualify; suffixed labels never print as [x].
func singleValue(a, b prim) bool {
	return a.kind == pInt && b.kind == pInt && a.i != math.MaxInt64 && a.i+1 == b.i
}

// buckets renders h for the shared drawing code: each bucket's interval as
// text, and its closed bounds for JSON, where a label's number less one is
// the upper bound.
func (h hist) buckets() []histogram.Bucket {
	out := make([]histogram.Bucket, len(h.counts))
	for i, c := range h.counts {
		k := histogram.Bucket{Count: c}
		var lower *prim
		switch {
		case i == 0:
			lower = h.lower
		case i-1 < len(h.labels):
			lower = &h.labels[i-1]
		}
		var upper *prim
		if i < len(h.labels) {
			upper = &h.labels[i]
		}
		switch {
		case lower == nil && upper != nil:
			k.Label = "(..., " + upper.text() + ")"
		case lower != nil && upper == nil:
			k.Label = "[" + lower.text() + ", ...)"
		case lower != nil && singleValue(*lower, *upper):
			k.Label = "[" + lower.text() + "]"
		case lower != nil:
			k.Label = "[" + lower.text() + ", " + upper.text() + ")"
		default:
			k.Label = "(..., ...)"
		}
		if lower != nil {
			k.Min = string(lower.appendJSON(nil))
		}
		if upper != nil {
			k.Max = string(oneLess(*upper))
		}
		out[i] = k
	}
	return out
}

// oneLess is the closed upper bound of a bucket whose label is p, as a JSON
// number (a string past float64's exact range, as everywhere).
func oneLess(p prim) []byte {
	switch {
	case p.kind == pInt:
		return appendJSONInt(nil, p.i-1)
	case p.over:
		return appendJSONUint(nil, math.MaxUint64)
	case p.u == 0:
		return appendJSONInt(nil, -1)
	}
	// A symbol's number is unsigned; bpftrace reads it back as signed.
	return appendJSONInt(nil, int64(p.u-1))
}
