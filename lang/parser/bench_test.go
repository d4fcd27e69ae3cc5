package parser

import "testing"

// BenchmarkParse parses every test script once per iteration.
func BenchmarkParse(b *testing.B) {
	inputs := scriptInputs(b)
	size := 0
	for _, src := range inputs {
		size += len(src)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for name, src := range inputs {
			if _, err := Parse(name, src); err != nil {
				b.Fatal(err)
			}
		}
	}
}
