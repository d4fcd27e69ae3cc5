package cheader

import (
	"io"
	"os"
	"testing"
)

// The benchmarks render this machine's kernel BTF; bench/btfdump.sh times
// the whole command against bpftool.

func benchVmlinux(b *testing.B) *BTF {
	if _, err := os.Stat(vmlinuxPath); err != nil {
		b.Skip("the kernel exposes no BTF")
	}
	bt, err := Load(vmlinuxPath, nil)
	if err != nil {
		b.Fatal(err)
	}
	return bt
}

func BenchmarkLoadVmlinux(b *testing.B) {
	benchVmlinux(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(vmlinuxPath, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteCVmlinux(b *testing.B) {
	bt := benchVmlinux(b)
	for _, bc := range []struct {
		name string
		opts Options
	}{{"sorted", Options{}}, {"unsorted", Options{Unsorted: true}}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bt.WriteC(io.Discard, bc.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWriteRawVmlinux(b *testing.B) {
	bt := benchVmlinux(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := bt.WriteRaw(io.Discard, false); err != nil {
			b.Fatal(err)
		}
	}
}
