// Package histogram draws histograms the way bpftrace prints them, in text
// and in -f json, for every producer of bucketed counts in waggle: the
// tracing language's hist() and lhist() maps (lang/output) and the bcc-style
// `struct hist` slots of CO-RE objects (btfprint).
//
// What a bucket means (its bounds, how they are labelled) differs between
// producers and stays with them; this package owns what all of them must
// print alike: the label column, the count column, the bar of '@' scaled to
// the largest count, the JSON bucket objects and their spacing, and the
// binary K/M/G suffixes of power-of-two bounds.
package histogram

import (
	"strconv"
	"strings"
)

// BarWidth is the number of columns between the '|' characters of a bar.
const BarWidth = 52

// Bucket is one line of a histogram.
type Bucket struct {
	// Label is the bucket's interval as text ("[2, 4)", "[1]", "(..., 0)").
	Label string
	// Min and Max are the bucket's closed bounds as JSON values, already
	// encoded (`16`, `"18446744073709551615"`). An empty string leaves the
	// key out, as bpftrace does for the open ends of a histogram.
	Min, Max string
	// Count is the number of values in the bucket.
	Count uint64
}

// AppendText draws buckets as bpftrace's text output does: the label
// left-aligned in 16 columns, the count right-aligned in 8, then a bar of
// '@' between '|' characters. The bar is the count's share of the largest
// count times BarWidth, computed in single precision and truncated, because
// that is how bpftrace computes it and a bar one '@' longer or shorter would
// be a visible difference. Every bucket gets a line, empty or not.
func AppendText(b []byte, buckets []Bucket) []byte {
	var top uint64
	for _, k := range buckets {
		top = max(top, k.Count)
	}
	for _, k := range buckets {
		bar := 0
		if top > 0 { // all-zero buckets draw no bar rather than NaN
			bar = int(float32(k.Count) / float32(top) * BarWidth)
		}
		b = appendPadded(b, k.Label, 16, true)
		b = appendPadded(b, strconv.FormatUint(k.Count, 10), 8, false)
		b = append(b, " |"...)
		b = append(b, strings.Repeat("@", bar)...)
		b = append(b, strings.Repeat(" ", BarWidth-bar)...)
		b = append(b, "|\n"...)
	}
	return b
}

// AppendJSON writes buckets as bpftrace's -f json does: a list of objects
// {"min": lo, "max": hi, "count": n} whose bounds are closed intervals, with
// ", " inside an object and "," between objects (bpftrace spaces objects but
// not lists).
func AppendJSON(b []byte, buckets []Bucket) []byte {
	b = append(b, '[')
	for i, k := range buckets {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		if k.Min != "" {
			b = append(b, `"min": `...)
			b = append(b, k.Min...)
			b = append(b, ", "...)
		}
		if k.Max != "" {
			b = append(b, `"max": `...)
			b = append(b, k.Max...)
			b = append(b, ", "...)
		}
		b = append(b, `"count": `...)
		b = strconv.AppendUint(b, k.Count, 10)
		b = append(b, '}')
	}
	return append(b, ']')
}

// Span returns the first and last non-empty bucket of counts; lo is -1 when
// every bucket is empty. bpftrace prints only this span, empty buckets
// inside it included, so that the gaps show.
func Span(counts []uint64) (lo, hi int) {
	lo, hi = -1, -1
	for i, c := range counts {
		if c > 0 {
			if lo < 0 {
				lo = i
			}
			hi = i
		}
	}
	return lo, hi
}

// Pow2 writes 2^k with bpftrace's binary suffixes: 512, 1K, 2K, 1M, 16E.
// Beyond the largest suffix it falls back to 2^k, which no 64-bit bucket
// reaches.
func Pow2(k int) string {
	const suffixes = "KMGTPE"
	if k < 0 {
		return "2^" + strconv.Itoa(k)
	}
	d := k / 10
	if d == 0 {
		return strconv.FormatUint(1<<k, 10)
	}
	if d > len(suffixes) {
		return "2^" + strconv.Itoa(k)
	}
	return strconv.FormatUint(1<<(k-10*d), 10) + suffixes[d-1:d]
}

// appendPadded pads s with spaces to width, on the right when left is true;
// text longer than width is kept whole, as iostreams' setw does.
func appendPadded(b []byte, s string, width int, left bool) []byte {
	pad := max(0, width-len(s))
	if !left {
		b = append(b, strings.Repeat(" ", pad)...)
	}
	b = append(b, s...)
	if left {
		b = append(b, strings.Repeat(" ", pad)...)
	}
	return b
}
