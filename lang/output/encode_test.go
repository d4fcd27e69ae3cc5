package output

import (
	"fmt"
	"math/bits"

	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
)

// This file is a small encoder that writes values, map entries and records
// the way package layout says the code generator does, so that tests can
// feed the printer the bytes it will get from the kernel.

// Types the tests use.
var (
	tI64    = ast.Int64
	tU64    = ast.Uint64
	tI32    = ast.Int32
	tBool   = ast.Bool
	tCount  = &ast.Type{Kind: ast.KindCount, Size: 8}
	tSumS   = &ast.Type{Kind: ast.KindSum, Size: 8, Signed: true}
	tMinS   = &ast.Type{Kind: ast.KindMin, Size: 8, Signed: true}
	tMaxS   = &ast.Type{Kind: ast.KindMax, Size: 8, Signed: true}
	tAvgS   = &ast.Type{Kind: ast.KindAvg, Size: 8, Signed: true}
	tStatsS = &ast.Type{Kind: ast.KindStats, Size: 8, Signed: true}
	tHist   = &ast.Type{Kind: ast.KindHist}
	tPtr    = &ast.Type{Kind: ast.KindPtr, Size: 8, Elem: ast.Uint8}
)

func tStr(n int) *ast.Type { return &ast.Type{Kind: ast.KindString, Size: n} }

func tTuple(elems ...*ast.Type) *ast.Type { return &ast.Type{Kind: ast.KindTuple, Elems: elems} }

func tLHist(lo, hi, step int64) *ast.Type {
	return &ast.Type{Kind: ast.KindLHist, Min: lo, Max: hi, Step: step}
}

// enc lays out v as a value of type t: integers (any Go integer type) and
// booleans in 8-byte slots, strings NUL-padded, tuples from []any.
func enc(t *ast.Type, v any) []byte {
	b := make([]byte, layout.Size(t))
	put(t, b, v)
	return b
}

func put(t *ast.Type, b []byte, v any) {
	switch t.Kind {
	case ast.KindString:
		copy(b, v.(string))
	case ast.KindBuffer:
		// The length read, then the bytes.
		hostOrder.PutUint64(b, uint64(len(v.(string))))
		copy(b[layout.BufferHeader:], v.(string))
	case ast.KindBool:
		if v.(bool) {
			hostOrder.PutUint64(b, 1)
		}
	case ast.KindTuple:
		for i, off := range layout.Offsets(t) {
			put(t.Elems[i], b[off:], v.([]any)[i])
		}
	default:
		hostOrder.PutUint64(b, u64(v))
	}
}

func u64(v any) uint64 {
	switch x := v.(type) {
	case int:
		return uint64(x)
	case int64:
		return uint64(x)
	case uint64:
		return x
	case uint32:
		return uint64(x)
	}
	panic(fmt.Sprintf("u64 of %T", v))
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// slots lays out 8-byte integers one after another: a count per CPU, a
// (value, set) pair of min and max, a (total, count) pair of avg and stats.
func slots(vs ...int64) []byte {
	b := make([]byte, 8*len(vs))
	for i, v := range vs {
		hostOrder.PutUint64(b[8*i:], uint64(v))
	}
	return b
}

// perCPU splits per-CPU values: each argument is one CPU's value.
func perCPU(vs ...[]byte) [][]byte { return vs }

// counts is one u64 per CPU.
func counts(vs ...int64) [][]byte {
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i] = slots(v)
	}
	return out
}

// entry is a map entry with an encoded key (nil for none).
func entry(key []byte, vals [][]byte) Entry { return Entry{Key: key, Values: vals} }

// log2Index is the bucket hist(v) counts v in, as layout.Log2Buckets
// numbers them.
func log2Index(v int64) uint64 {
	switch {
	case v < 0:
		return 0
	case v == 0:
		return 1
	}
	return uint64(2 + bits.Len64(uint64(v)) - 1)
}

// linearIndex is the bucket lhist(v, min, max, step) counts v in, as
// bpftrace numbers them: one past the last full step is everything above.
func linearIndex(v, lo, hi, step int64) uint64 {
	switch {
	case v < lo:
		return 0
	case v > hi:
		return uint64(1 + (hi-lo)/step)
	}
	return uint64(1 + (v-lo)/step)
}

// histEntries turns recorded values into the entries of a hist or lhist
// map under key (nil for a map without one): one entry per bucket, the
// counts spread over two CPUs so that the printer has to add them up.
func histEntries(t *ast.Type, key []byte, vals ...int64) []Entry {
	byBucket := map[uint64]int64{}
	var order []uint64
	for _, v := range vals {
		i := log2Index(v)
		if t.Kind == ast.KindLHist {
			i = linearIndex(v, t.Min, t.Max, t.Step)
		}
		if _, ok := byBucket[i]; !ok {
			order = append(order, i)
		}
		byBucket[i]++
	}
	var out []Entry
	for _, i := range order {
		c := byBucket[i]
		out = append(out, entry(cat(key, slots(int64(i))), counts(c/2, c-c/2)))
	}
	return out
}

// record builds a ring-buffer record: kind, index, then the body.
func record(kind layout.RecordKind, idx uint64, body ...[]byte) []byte {
	return cat(slots(int64(kind), int64(idx)), cat(body...))
}

// args lays out printf arguments as the tuple of their types.
func args(types []*ast.Type, vals ...any) []byte {
	return enc(tTuple(types...), vals)
}
