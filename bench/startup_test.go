// Package bench holds benchmarks that compare waggle with the tools it
// replaces, side by side on the same machine. See README.md.
package bench

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildWaggle builds the binary under test once per benchmark run.
func buildWaggle(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "waggle")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "../cmd/waggle")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// timeToLine starts argv and returns how long it took until a line
// containing marker appeared on stderr (or stdout), then stops it with
// SIGINT and waits for it.
func timeToLine(b *testing.B, marker string, argv ...string) time.Duration {
	b.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w.Close()
	sc := bufio.NewScanner(r)
	var took time.Duration
	var seen []string
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if strings.Contains(sc.Text(), marker) {
			took = time.Since(start)
			break
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	go func() {
		for sc.Scan() {
		}
	}()
	// bpftrace can miss a SIGINT that arrives while it is still starting.
	stop := time.AfterFunc(3*time.Second, func() { cmd.Process.Kill() })
	cmd.Wait()
	stop.Stop()
	r.Close()
	if took == 0 {
		b.Fatalf("%v never printed %q:\n%s", argv, marker, strings.Join(seen, "\n"))
	}
	return took
}

func reportMedian(b *testing.B, samples []time.Duration) {
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	b.ReportMetric(float64(samples[len(samples)/2].Microseconds())/1000, "ms-median")
	b.ReportMetric(0, "ns/op")
}

func requireRoot(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root to load BPF programs")
	}
}

// BenchmarkStartToAttached measures `waggle run` on an object with three
// tracepoint programs, from exec to "Attached 3 programs".
func BenchmarkStartToAttached(b *testing.B) {
	requireRoot(b)
	bin := buildWaggle(b)
	var samples []time.Duration
	for i := 0; i < b.N; i++ {
		samples = append(samples, timeToLine(b, "Attached 3 programs", bin, "run", "../testdata/three.bpf.o"))
	}
	reportMedian(b, samples)
}

// BenchmarkBpftraceStartToAttached is the same three tracepoints with
// bpftrace (Debian's 0.17), from exec to its BEGIN probe, which bpftrace
// fires once every probe is attached.
func BenchmarkBpftraceStartToAttached(b *testing.B) {
	requireRoot(b)
	bt, err := exec.LookPath("bpftrace")
	if err != nil {
		b.Skip("bpftrace is not installed (apt-get install bpftrace)")
	}
	prog := `BEGIN { printf("attached\n"); }
tracepoint:syscalls:sys_enter_openat { @o = count(); }
tracepoint:syscalls:sys_enter_close { @c = count(); }
tracepoint:sched:sched_process_exec { @e = count(); }`
	var samples []time.Duration
	for i := 0; i < b.N; i++ {
		samples = append(samples, timeToLine(b, "attached", bt, "-e", prog))
	}
	reportMedian(b, samples)
}
