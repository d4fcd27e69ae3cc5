package compiled_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/lang/compiled"
	"github.com/wagglebpf/waggle/lang/driver"
)

// BenchmarkFile measures writing and reading the compiled programs of
// bpftrace tools, and reports their size; collect is what listing their
// assumptions adds to compiling (waggle trace pays it on every run).
func BenchmarkFile(b *testing.B) {
	if _, err := btf.LoadKernelSpec(); err != nil {
		b.Skipf("no kernel BTF: %v", err)
	}
	for _, name := range []string{"runqlat.bt", "tcplife.bt", "biosnoop.bt"} {
		src, err := os.ReadFile(filepath.Join("..", "parser", "testdata", "scripts", name))
		if err != nil {
			b.Fatal(err)
		}
		p, err := driver.Build(name, src, driver.Args{})
		if err != nil {
			b.Skipf("%s does not compile here: %v", name, err)
		}
		var file bytes.Buffer
		if err := compiled.Encode(&file, p); err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/collect", func(b *testing.B) {
			for b.Loop() {
				compiled.Collect(p.Code, 2)
			}
		})
		b.Run(name+"/encode", func(b *testing.B) {
			for b.Loop() {
				var w bytes.Buffer
				if err := compiled.Encode(&w, p); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(file.Len()), "bytes/file")
		})
		b.Run(name+"/decode", func(b *testing.B) {
			for b.Loop() {
				if _, err := compiled.Decode(file.Bytes()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
