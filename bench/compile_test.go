package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wagglebpf/waggle/lang/driver"
)

// probeScript is a script of n probes, each with a filter, a keyed count
// and a sum, the shape of a large generated tracing script.
func probeScript(n int) []byte {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "tracepoint:syscalls:sys_enter_openat /pid == %d/ { @c[%d] = count(); @s = sum(%d); }\n", i, i, i)
	}
	return []byte(sb.String())
}

var compileSizes = []int{100, 1000, 10000}

// BenchmarkCompile times waggle's front end and code generator alone
// (parse, check, generate eBPF), no kernel: ns/op per script and per probe,
// to show how compile time grows with script size.
func BenchmarkCompile(b *testing.B) {
	for _, n := range compileSizes {
		src := probeScript(n)
		b.Run(fmt.Sprintf("probes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := driver.Compile("gen.bt", src, nil, 0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(n), "us/probe")
		})
	}
}

// BenchmarkDryRun runs the whole compile-and-verify path side by side:
// `waggle trace --dry-run` (compiles and loads every program into the
// kernel verifier) and `bpftrace --emit-elf` (bpftrace 0.17's compile-only
// mode: LLVM code generation, no kernel load). Needs root and bpftrace.
func BenchmarkDryRun(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root to load programs")
	}
	bin := buildWaggle(b)
	dir := b.TempDir()
	_, errBpftrace := exec.LookPath("bpftrace")
	for _, n := range compileSizes {
		script := filepath.Join(dir, fmt.Sprintf("p%d.bt", n))
		if err := os.WriteFile(script, probeScript(n), 0o644); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("waggle/probes=%d", n), func(b *testing.B) {
			for b.Loop() {
				if out, err := exec.Command(bin, "trace", "--dry-run", script).CombinedOutput(); err != nil {
					b.Fatalf("%v\n%s", err, out)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(n), "us/probe")
		})
		b.Run(fmt.Sprintf("bpftrace/probes=%d", n), func(b *testing.B) {
			if errBpftrace != nil {
				b.Skip("bpftrace is not installed (apt-get install bpftrace)")
			}
			elf := filepath.Join(dir, "out.o")
			for b.Loop() {
				cmd := exec.Command("bpftrace", "--emit-elf", elf, script)
				// bpftrace 0.17 refuses more than 512 probes by default.
				cmd.Env = append(os.Environ(), "BPFTRACE_MAX_PROBES=100000", "BPFTRACE_MAX_BPF_PROGS=100000")
				start := time.Now()
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v after %v\n%s", err, time.Since(start), out)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(n), "us/probe")
		})
	}
}
