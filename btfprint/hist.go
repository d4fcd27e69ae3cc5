package btfprint

import (
	"fmt"
	"strconv"

	"github.com/cilium/ebpf/btf"

	"github.com/wagglebpf/waggle/internal/histogram"
)

// histLayout locates the slots of a bcc/libbpf-tools `struct hist`.
type histLayout struct {
	off   int // byte offset of slots
	elem  *btf.Int
	esize int
	n     int
}

// histLayoutOf recognises the histogram convention of bcc and libbpf-tools:
// a struct with an integer array member named slots, where slot k counts
// values whose log2 is k.
func histLayoutOf(t btf.Type) *histLayout {
	s, ok := btf.UnderlyingType(t).(*btf.Struct)
	if !ok {
		return nil
	}
	for _, m := range s.Members {
		if m.Name != "slots" || m.BitfieldSize != 0 || m.Offset%8 != 0 {
			continue
		}
		arr, ok := btf.UnderlyingType(m.Type).(*btf.Array)
		if !ok {
			return nil
		}
		elem, ok := btf.UnderlyingType(arr.Type).(*btf.Int)
		if !ok || elem.Encoding&btf.Bool != 0 {
			return nil
		}
		switch elem.Size {
		case 1, 2, 4, 8:
		default:
			return nil
		}
		return &histLayout{off: int(m.Offset / 8), elem: elem, esize: int(elem.Size), n: int(arr.Nelems)}
	}
	return nil
}

// counts reads the slots; a negative count (signed slots gone wrong) is 0.
func (h *histLayout) counts(data []byte) ([]uint64, error) {
	end := h.off + h.n*h.esize
	if end > len(data) {
		return nil, fmt.Errorf("histogram slots: %w", shortData(end, len(data)))
	}
	out := make([]uint64, h.n)
	signed := h.elem.Encoding&btf.Signed != 0
	for i := range out {
		o := h.off + i*h.esize
		u, err := readUint(data[o : o+h.esize])
		if err != nil {
			return nil, err
		}
		if signed && signExtend(u, h.esize*8) < 0 {
			u = 0
		}
		out[i] = u
	}
	return out, nil
}

// bucketLabel is slot k's interval. bcc's slot 0 holds both 0 and 1, so it
// is [0, 2) where bpftrace, which keeps them apart, would print [0] and [1].
func bucketLabel(k int) string {
	if k == 0 {
		return "[0, 2)"
	}
	return "[" + histogram.Pow2(k) + ", " + histogram.Pow2(k+1) + ")"
}

// histBuckets lists the slots from the first to the last non-empty one
// (none for an empty histogram) with their text labels and their closed
// bounds for JSON: slot k holds [2^k, 2^(k+1)-1], slot 0 [0, 1]. Bounds past
// 2^64 are written exactly, because JSON numbers have no range limit and
// this package's JSON keeps integers exact (see [JSON]).
func histBuckets(counts []uint64) []histogram.Bucket {
	lo, hi := histogram.Span(counts)
	if lo < 0 {
		return nil
	}
	out := make([]histogram.Bucket, 0, hi-lo+1)
	for k := lo; k <= hi; k++ {
		var lower, upper string
		switch {
		case k == 0:
			lower = "0"
		case k < 64:
			lower = strconv.FormatUint(1<<k, 10)
		default:
			lower = pow2(k, false)
		}
		switch {
		case k < 63:
			upper = strconv.FormatUint(1<<(k+1)-1, 10)
		case k == 63:
			upper = strconv.FormatUint(^uint64(0), 10)
		default:
			upper = pow2(k+1, true)
		}
		out = append(out, histogram.Bucket{Label: bucketLabel(k), Min: lower, Max: upper, Count: counts[k]})
	}
	return out
}
