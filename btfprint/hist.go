package btfprint

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"
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

// histRange returns the first and last non-empty slot and the largest
// count; lo is -1 when every slot is empty.
func histRange(counts []uint64) (lo, hi int, top uint64) {
	lo, hi = -1, -1
	for i, c := range counts {
		if c > 0 {
			if lo < 0 {
				lo = i
			}
			hi = i
		}
		top = max(top, c)
	}
	return lo, hi, top
}

// pow2Label writes 2^k with bpftrace's binary suffixes: 512, 1K, 2K, 1M.
func pow2Label(k int) string {
	const suffixes = "KMGTPE"
	d := k / 10
	if d == 0 {
		return strconv.FormatUint(1<<k, 10)
	}
	if d > len(suffixes) {
		return "2^" + strconv.Itoa(k) // beyond any 64-bit value
	}
	return strconv.FormatUint(1<<(k-10*d), 10) + suffixes[d-1:d]
}

// bucketLabel is slot k's interval. bcc's slot 0 holds both 0 and 1, so it
// is [0, 2) where bpftrace, which keeps them apart, would print [0] and [1].
func bucketLabel(k int) string {
	if k == 0 {
		return "[0, 2)"
	}
	return "[" + pow2Label(k) + ", " + pow2Label(k+1) + ")"
}

// appendHistText draws buckets as bpftrace does (src/output/text.cpp): the
// label left-aligned in 16 columns, the count right-aligned in 8, then a bar
// of '@' scaled to 52 columns of the largest count, computed in single
// precision and truncated, between '|' characters. Empty buckets between the
// first and last non-empty ones are drawn; an empty histogram draws nothing.
func appendHistText(b []byte, counts []uint64) []byte {
	const barWidth = 52
	lo, hi, top := histRange(counts)
	if lo < 0 {
		return b
	}
	for k := lo; k <= hi; k++ {
		c := counts[k]
		bar := int(float32(c) / float32(top) * barWidth)
		b = fmt.Appendf(b, "%-16s%8d |%-52s|\n", bucketLabel(k), c, strings.Repeat("@", bar))
	}
	return b
}

// appendHistJSON writes buckets as bpftrace's -f json does
// (src/output/json.cpp): closed intervals {"min": lo, "max": hi, "count": n},
// ", " inside a bucket and "," between buckets.
func appendHistJSON(b []byte, counts []uint64) []byte {
	b = append(b, '[')
	lo, hi, _ := histRange(counts)
	for k := lo; lo >= 0 && k <= hi; k++ {
		if k > lo {
			b = append(b, ',')
		}
		b = append(b, `{"min": `...)
		switch {
		case k == 0:
			b = append(b, '0')
		case k < 64:
			b = strconv.AppendUint(b, 1<<k, 10)
		default:
			b = append(b, pow2(k, false)...)
		}
		b = append(b, `, "max": `...)
		switch {
		case k < 63:
			b = strconv.AppendUint(b, 1<<(k+1)-1, 10)
		case k == 63:
			b = strconv.AppendUint(b, ^uint64(0), 10)
		default:
			b = append(b, pow2(k+1, true)...)
		}
		b = append(b, `, "count": `...)
		b = strconv.AppendUint(b, counts[k], 10)
		b = append(b, '}')
	}
	return append(b, ']')
}
