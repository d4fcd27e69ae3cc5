package inspect

import (
	"fmt"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/internal/kerneltest"
)

// BenchmarkProgramList times `waggle prog list` with 200 programs loaded
// on top of whatever the machine has: owners from /proc, links, perf
// events and network hooks included.
func BenchmarkProgramList(b *testing.B) {
	kerneltest.Require(b)
	for i := 0; i < 200; i++ {
		p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Name: fmt.Sprintf("wgl_bench_%d", i), Type: ebpf.SocketFilter, License: "GPL",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, int32(i)), asm.Return()},
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { p.Close() })
	}
	b.ResetTimer()
	var n int
	for b.Loop() {
		progs, err := Programs(ProgSelector{})
		if err != nil {
			b.Fatal(err)
		}
		n = len(progs)
	}
	b.ReportMetric(float64(n), "progs")
}
