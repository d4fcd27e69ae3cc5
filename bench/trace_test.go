package bench

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// The two scripts of issue 3's performance section.
const (
	traceBegin  = `BEGIN { exit(); }`
	traceOpenat = `tracepoint:syscalls:sys_enter_openat { @[comm] = count(); } interval:ms:100 { exit(); }`
	// traceOpenatHold is traceOpenat with the exit pushed out, so that its
	// programs stay loaded while the kernel's program list is read.
	traceOpenatHold = `tracepoint:syscalls:sys_enter_openat { @[comm] = count(); } interval:s:10 { exit(); }`
)

// gnuTime is GNU time, the only reliable peak-RSS probe from a Go parent:
// os/exec starts children with CLONE_VM|CLONE_VFORK, and execve folds the
// high-water RSS of the mm it leaves (the parent's) into the child's
// ru_maxrss, so ProcessState.SysUsage().Maxrss reports at least this test
// binary's own peak (a parent holding 100 MiB sees /bin/true at 100 MiB).
// GNU time fork()s, so its children start from its ~1 MiB.
const gnuTime = "/usr/bin/time"

// tracer is one of the tools being compared.
type tracer struct {
	name string
	argv func(script string) []string
	// attached is the start of the line the tool prints once it attaches.
	attached string
}

// tracers returns waggle (built now) and bpftrace, if installed.
func tracers(b *testing.B) []tracer {
	b.Helper()
	bin := buildWaggle(b)
	ts := []tracer{{
		name:     "waggle",
		argv:     func(s string) []string { return []string{bin, "trace", "-e", s} },
		attached: "Attached ",
	}}
	if bt, err := exec.LookPath("bpftrace"); err == nil {
		ts = append(ts, tracer{
			name:     "bpftrace",
			argv:     func(s string) []string { return []string{bt, "-e", s} },
			attached: "Attaching ",
		})
	} else {
		b.Log("bpftrace is not installed (apt-get install bpftrace): waggle only")
	}
	// bpftrace 0.17 asks for this itself and complains when it cannot have
	// it; where even root may not raise it (containers) it runs anyway.
	unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY})
	return ts
}

// runTraced runs argv to completion with its output in a file and returns
// the wall time from start to exit. A tool that fails, or that is still
// running after 10 s, fails the benchmark with its output.
func runTraced(b *testing.B, out *os.File, argv []string) time.Duration {
	b.Helper()
	out.Truncate(0)
	out.Seek(0, 0)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	// bpftrace 0.17 can ignore a signal early in start-up: kill, not ask.
	// Neither tool starts children here, so the process is enough.
	kill := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	took := time.Since(start)
	stopped := !kill.Stop()
	if err != nil || stopped {
		text, _ := os.ReadFile(out.Name())
		if stopped {
			err = fmt.Errorf("killed after 10 s (%v)", err)
		}
		b.Fatalf("%q: %v\n%s", argv, err, text)
	}
	return took
}

// peakRSS runs argv under GNU time and returns its maximum resident set
// size in KiB.
func peakRSS(b *testing.B, argv []string) int64 {
	b.Helper()
	report := filepath.Join(b.TempDir(), "rss")
	cmd := exec.Command(gnuTime, append([]string{"-f", "%M", "-o", report}, argv...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	kill := time.AfterFunc(10*time.Second, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	err := cmd.Wait()
	kill.Stop()
	text, _ := os.ReadFile(report)
	// On failure GNU time writes "Command exited with non-zero status N"
	// before the figure; the figure is always the last line.
	lines := strings.Split(strings.TrimSpace(string(text)), "\n")
	kib, perr := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	if err != nil || perr != nil {
		b.Fatalf("%s %q: %v, %v\n%s", gnuTime, argv, err, perr, text)
	}
	return kib
}

// BenchmarkTrace runs each script with waggle trace and with bpftrace, one
// after the other in one run, and reports each tool's median wall time from
// exec to exit (ms-median) and the largest peak RSS of its runs
// (MiB-peak-rss). Each iteration is one timed run plus one run under GNU
// time for the RSS, so the wrapper never adds to the times.
func BenchmarkTrace(b *testing.B) {
	requireRoot(b)
	tools := tracers(b)
	_, err := os.Stat(gnuTime)
	haveTime := err == nil
	if !haveTime {
		b.Logf("%s is not installed (apt-get install time): no MiB-peak-rss", gnuTime)
	}
	type figures struct{ ms, mib float64 }
	for _, sc := range []struct{ name, script string }{
		{"begin", traceBegin},
		{"openat", traceOpenat},
	} {
		got := map[string]figures{}
		for _, t := range tools {
			b.Run(sc.name+"/"+t.name, func(b *testing.B) {
				out, err := os.Create(filepath.Join(b.TempDir(), "out"))
				if err != nil {
					b.Fatal(err)
				}
				defer out.Close()
				argv := t.argv(sc.script)
				var wall []time.Duration
				var peak int64
				for i := 0; i < b.N; i++ {
					wall = append(wall, runTraced(b, out, argv))
					if haveTime {
						peak = max(peak, peakRSS(b, argv))
					}
				}
				reportMedian(b, wall)
				f := figures{ms: float64(wall[len(wall)/2].Microseconds()) / 1000}
				if haveTime {
					f.mib = float64(peak) / 1024
					b.ReportMetric(f.mib, "MiB-peak-rss")
				}
				got[t.name] = f
			})
		}
		// A parent benchmark's b.Log is shown only with -v; this line
		// follows the two result lines it is computed from.
		w, okw := got["waggle"]
		bt, okb := got["bpftrace"]
		if okw && okb {
			line := fmt.Sprintf("%s: waggle %.1fx faster", sc.name, bt.ms/w.ms)
			if w.mib > 0 {
				line += fmt.Sprintf(", %.1fx smaller", bt.mib/w.mib)
			}
			fmt.Println(line)
		}
	}
}

// loadedProg is one program the kernel holds for a tool.
type loadedProg struct {
	id       ebpf.ProgramID
	name     string
	typ      ebpf.ProgramType
	insns    int // xlated instructions, in 8-byte slots (bpftool's numbering)
	decoded  int // the same, with each 16-byte ld_imm64 counted once
	verified uint32
	jited    uint32 // bytes of native code
}

// programIDs returns the IDs of every program loaded in the kernel.
func programIDs(b *testing.B) map[ebpf.ProgramID]bool {
	b.Helper()
	ids := map[ebpf.ProgramID]bool{}
	var id ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			return ids
		}
		if err != nil {
			b.Fatalf("program IDs: %v", err)
		}
		ids[next] = true
		id = next
	}
}

// programsOf starts argv, waits for its attach line, then for the set of
// programs that appeared since it started to hold still for half a second
// (bpftrace 0.17 prints "Attaching N probes..." before it loads them), and
// returns those programs as the kernel reports them.
func programsOf(b *testing.B, t tracer, argv []string) []loadedProg {
	return programsWhile(b, t, argv, nil)
}

// programsWhile is programsOf that also calls during, if not nil, with the
// tool's programs while the tool still runs.
func programsWhile(b *testing.B, t tracer, argv []string, during func([]loadedProg)) []loadedProg {
	b.Helper()
	before := programIDs(b)
	cmd := exec.Command(argv[0], argv[1:]...)
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w.Close()
	defer func() {
		cmd.Process.Signal(syscall.SIGINT)
		kill := time.AfterFunc(3*time.Second, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
		cmd.Wait()
		kill.Stop()
		r.Close()
	}()

	attached := make(chan bool, 1)
	var seen []string
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			seen = append(seen, sc.Text())
			if strings.HasPrefix(sc.Text(), t.attached) {
				attached <- true
				break
			}
		}
		close(attached)
		for sc.Scan() {
		}
	}()
	select {
	case ok := <-attached:
		if !ok {
			b.Fatalf("%q exited before attaching:\n%s", argv, strings.Join(seen, "\n"))
		}
	case <-time.After(8 * time.Second):
		b.Fatalf("%q did not attach within 8 s", argv)
	}

	newIDs := func() []ebpf.ProgramID {
		var ids []ebpf.ProgramID
		for id := range programIDs(b) {
			if !before[id] {
				ids = append(ids, id)
			}
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		return ids
	}
	ids, still := newIDs(), time.Now()
	for time.Since(still) < 500*time.Millisecond {
		time.Sleep(20 * time.Millisecond)
		if now := newIDs(); fmt.Sprint(now) != fmt.Sprint(ids) {
			ids, still = now, time.Now()
		}
	}

	var progs []loadedProg
	for _, id := range ids {
		prog, err := ebpf.NewProgramFromID(id)
		if errors.Is(err, os.ErrNotExist) {
			continue // a short-lived program (a feature probe) already gone
		}
		if err != nil {
			b.Fatalf("program %d: %v", id, err)
		}
		info, err := prog.Info()
		prog.Close()
		if err != nil {
			b.Fatalf("program %d info: %v", id, err)
		}
		p := loadedProg{id: id, name: info.Name, typ: info.Type}
		if n, err := info.TranslatedSize(); err == nil {
			p.insns = n / 8
		}
		if insns, err := info.Instructions(); err == nil {
			p.decoded = len(insns)
		}
		p.verified, _ = info.VerifiedInstructions()
		p.jited, _ = info.JitedSize()
		progs = append(progs, p)
	}
	if len(progs) == 0 {
		b.Fatalf("%q attached, but no new program appeared in the kernel", argv)
	}
	if during != nil {
		during(progs)
	}
	return progs
}

// BenchmarkTraceInsns reports, for the openat script, the programs each
// tool leaves in the kernel once attached (attributed by comparing the
// kernel's program IDs before and after the tool started): per program in
// the log, totals as metrics. xlated-insns counts 8-byte instruction slots
// of the kernel-rewritten program, as bpftool numbers them; jited-bytes is
// the native code. b.N does not matter: it measures once per call.
func BenchmarkTraceInsns(b *testing.B) {
	requireRoot(b)
	// The testing package calls each sub-benchmark more than once (b.N = 1
	// first); measure and log on the first call only.
	measured := map[string][]loadedProg{}
	for _, t := range tracers(b) {
		b.Run(t.name, func(b *testing.B) {
			progs, ok := measured[t.name]
			if !ok {
				progs = programsOf(b, t, t.argv(traceOpenatHold))
				measured[t.name] = progs
				for _, p := range progs {
					b.Logf("prog %d %q %v: %d xlated insns (%d decoded), %d verified, %d bytes jited",
						p.id, p.name, p.typ, p.insns, p.decoded, p.verified, p.jited)
				}
			}
			var insns, jited int
			for _, p := range progs {
				insns += p.insns
				jited += int(p.jited)
			}
			b.ReportMetric(float64(len(progs)), "progs")
			b.ReportMetric(float64(insns), "xlated-insns")
			b.ReportMetric(float64(jited), "jited-bytes")
			b.ReportMetric(0, "ns/op")
		})
	}
}
