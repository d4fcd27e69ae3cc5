package main

// End-to-end tests of `waggle trace` against the kernel: uprobes, -c, -p,
// JSON output, --dry-run, bad input, script files and parameters, the
// bpftrace link, probe listing, -o, SIGINT and -d. The one-line runtime
// cases live in testdata/trace/*.test (trace_harness_test.go).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wagglebpf/waggle/internal/kerneltest"
)

// e2eOptions say how e2eRun starts waggle.
type e2eOptions struct {
	// bin is what is executed instead of waggleBin (the bpftrace link, a
	// script with a #! line).
	bin     string
	stdin   string
	env     []string
	timeout time.Duration
}

// e2eRun runs waggle (or o.bin) to completion and reports whether it had
// to be killed at o.timeout (default a minute).
func e2eRun(t *testing.T, o e2eOptions, args ...string) (r result, timedOut bool) {
	t.Helper()
	if o.bin == "" {
		o.bin = waggleBin
	}
	if o.timeout == 0 {
		o.timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.bin, args...)
	cmd.Env = append(os.Environ(), o.env...)
	cmd.Stdin = strings.NewReader(o.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r = result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s: %v", o.bin, err)
	}
	checkNoPanic(t, r)
	return r, ctx.Err() != nil
}

// e2eMust runs waggle and fails the test unless it exits 0.
func e2eMust(t *testing.T, args ...string) result {
	t.Helper()
	r := waggle(t, args...)
	if r.code != 0 {
		t.Fatalf("waggle %q failed\n%s", args, r)
	}
	return r
}

// e2eLines are the lines of s without the empty ones.
func e2eLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

func e2eHasLine(s, want string) bool {
	for _, l := range strings.Split(s, "\n") {
		if l == want {
			return true
		}
	}
	return false
}

var e2eMapLine = regexp.MustCompile(`^@[A-Za-z0-9_]*\[(.*)\]: (-?[0-9]+)$`)

// e2eMapEntries parses the `@name[key]: value` lines of out.
func e2eMapEntries(out string) map[string]int64 {
	m := map[string]int64{}
	for _, l := range strings.Split(out, "\n") {
		if s := e2eMapLine.FindStringSubmatch(l); s != nil {
			v, _ := strconv.ParseInt(s[2], 10, 64)
			m[s[1]] = v
		}
	}
	return m
}

// e2eLoopBinary compiles a program that calls waggle_tick and sleeps 10ms
// (libc's clock_nanosleep) forever: a target that stays alive for -p.
func e2eLoopBinary(t *testing.T) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Fatalf("the -p tests need a C compiler (apt-get install gcc): %v", err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "loop.c")
	code := `#include <unistd.h>
__attribute__((noinline)) int waggle_tick(int x) { asm volatile("" ::: "memory"); return x + 1; }
int main(void) { for (int i = 0;; i++) { waggle_tick(i); usleep(10000); } }
`
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "waggle_loop")
	if out, err := exec.Command(cc, "-O1", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("build loop target: %v\n%s", err, out)
	}
	return bin
}

// e2eStart starts a process that the test kills at its end.
func e2eStart(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// e2eProcessesWithArg lists the pids whose command line has arg.
func e2eProcessesWithArg(arg string) []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		for _, a := range strings.Split(string(b), "\x00") {
			if a == arg {
				pid, _ := strconv.Atoi(filepath.Base(d))
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

var e2eErrorHeader = regexp.MustCompile(`^(.+):([0-9]+):([0-9]+): (?:error|ERROR): (.+)$`)

// e2eCheckScriptError checks that r is a script error as waggle promises:
// exit status 1, FILE:LINE:COL on stderr, then the source line and a caret
// under the column, the keywords (regular expressions) somewhere in the
// message, and no sign of anything having run or attached. file "-e"
// also accepts bpftrace's name for it, "stdin".
func e2eCheckScriptError(t *testing.T, r result, file, src string, line int, keywords ...string) {
	t.Helper()
	if r.code != 1 {
		t.Errorf("exit status %d, want 1", r.code)
	}
	if strings.Contains(r.stderr, "Attached") || strings.Contains(r.stdout, "Attaching") {
		t.Errorf("a failed script still attached probes")
	}
	if strings.TrimSpace(r.stdout) != "" {
		t.Errorf("a failed script printed on stdout: %q", r.stdout)
	}
	errLines := strings.Split(r.stderr, "\n")
	found := false
	for i, l := range errLines {
		m := e2eErrorHeader.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if m[1] != file && !(file == "-e" && m[1] == "stdin") {
			continue
		}
		ln, _ := strconv.Atoi(m[2])
		col, _ := strconv.Atoi(m[3])
		if line != 0 && ln != line {
			continue
		}
		found = true
		srcLines := strings.Split(src, "\n")
		if ln < 1 || ln > len(srcLines) {
			t.Errorf("error line %d is outside the source (%d lines)", ln, len(srcLines))
			break
		}
		if i+2 >= len(errLines) {
			t.Errorf("no source line and caret after %q", l)
			break
		}
		if got, want := errLines[i+1], srcLines[ln-1]; got != want {
			t.Errorf("source line shown is %q, want %q", got, want)
		}
		caret := errLines[i+2]
		if !regexp.MustCompile(`^ *\^~*$`).MatchString(caret) {
			t.Errorf("no caret line under the source: %q", caret)
		} else if at := strings.Index(caret, "^"); at != col-1 {
			t.Errorf("caret at column %d, header says %d", at+1, col)
		}
		break
	}
	if !found {
		if line != 0 {
			t.Errorf("no %s:%d:COL: error header on stderr", file, line)
		} else {
			t.Errorf("no %s:LINE:COL: error header on stderr", file)
		}
	}
	for _, k := range keywords {
		if !regexp.MustCompile(k).MatchString(r.stderr) {
			t.Errorf("message does not match %q", k)
		}
	}
	if t.Failed() {
		t.Logf("%s", r)
	}
}

// e2eCheckPlainError checks a command-line (not script) error: exit status
// 1, one clear message with the keywords, nothing attached.
func e2eCheckPlainError(t *testing.T, r result, keywords ...string) {
	t.Helper()
	if r.code != 1 {
		t.Errorf("exit status %d, want 1", r.code)
	}
	if strings.Contains(r.stderr, "Attached") {
		t.Errorf("attached probes despite the error")
	}
	if strings.TrimSpace(r.stderr) == "" {
		t.Errorf("no error message on stderr")
	}
	for _, k := range keywords {
		if !regexp.MustCompile(k).MatchString(r.stderr) {
			t.Errorf("message does not match %q", k)
		}
	}
	if t.Failed() {
		t.Logf("%s", r)
	}
}

var lit = regexp.QuoteMeta

// --- uprobes -------------------------------------------------------------

func TestTraceE2EUprobe(t *testing.T) {
	requireKernel(t)
	bin := buildTarget(t)
	args := []int{0, 1, 2, 3, 5, 8, 100, 1000, 1000}

	t.Run("arguments and retval hist", func(t *testing.T) {
		prog := fmt.Sprintf(`uprobe:%[1]s:waggle_target { printf("%%d\n", arg0); } uretprobe:%[1]s:waggle_target { @r = hist(retval); }`, bin)
		r := e2eMust(t, "trace", "-e", prog, "-c", bin)
		var got []string
		for _, l := range strings.Split(r.stdout, "\n") {
			if _, err := strconv.Atoi(l); err == nil {
				got = append(got, l)
			}
		}
		var want []string
		for _, a := range args {
			want = append(want, strconv.Itoa(a))
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("arg0 in order: %v, want %v\n%s", got, want, r)
		}
		// Return values 0 2 4 6 10 16 200 2000 2000.
		wantHist := []string{
			"@r:",
			"[0]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |",
			"[1]                    0 |                                                    |",
			"[2, 4)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |",
			"[4, 8)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|",
			"[8, 16)                1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |",
			"[16, 32)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |",
			"[32, 64)               0 |                                                    |",
			"[64, 128)              0 |                                                    |",
			"[128, 256)             1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |",
			"[256, 512)             0 |                                                    |",
			"[512, 1K)              0 |                                                    |",
			"[1K, 2K)               2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|",
		}
		lines := strings.Split(r.stdout, "\n")
		start := -1
		for i, l := range lines {
			if strings.TrimRight(l, " ") == "@r:" {
				start = i
			}
		}
		if start < 0 || start+len(wantHist) > len(lines) {
			t.Fatalf("no @r histogram\n%s", r)
		}
		for i, w := range wantHist[1:] {
			if got := lines[start+1+i]; got != w {
				t.Errorf("hist line %d: %q, want %q", i+1, got, w)
			}
		}
	})

	t.Run("retval in order", func(t *testing.T) {
		prog := fmt.Sprintf(`uretprobe:%s:waggle_target { printf("ret %%d\n", retval); }`, bin)
		r := e2eMust(t, "trace", "-e", prog, "-c", bin)
		var got []string
		for _, l := range strings.Split(r.stdout, "\n") {
			if v, ok := strings.CutPrefix(l, "ret "); ok {
				got = append(got, v)
			}
		}
		if g, w := strings.Join(got, ","), "0,2,4,6,10,16,200,2000,2000"; g != w {
			t.Errorf("retval %s, want %s\n%s", g, w, r)
		}
	})

	t.Run("short form with func and probe", func(t *testing.T) {
		prog := fmt.Sprintf(`u:%s:waggle_target { printf("%%s|%%s|%%d\n", func, probe, arg0); }`, bin)
		r := e2eMust(t, "trace", "-e", prog, "-c", bin)
		var got []string
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.Count(l, "|") == 2 {
				got = append(got, l)
			}
		}
		if len(got) != len(args) {
			t.Fatalf("%d lines, want %d\n%s", len(got), len(args), r)
		}
		for i, a := range args {
			// bpftrace expands the short form in probe.
			want := fmt.Sprintf("waggle_target|uprobe:%s:waggle_target|%d", bin, a)
			if got[i] != want {
				t.Errorf("line %d: %q, want %q", i, got[i], want)
			}
		}
	})

	for _, lib := range []string{"libc", "libc.so.6"} {
		t.Run("library "+lib, func(t *testing.T) {
			// The target calls getpid once; nothing else the child runs
			// goes through libc's getpid.
			prog := fmt.Sprintf(`uprobe:%s:getpid /pid == cpid/ { @c = count(); }`, lib)
			r := e2eMust(t, "trace", "-e", prog, "-c", bin)
			if !e2eHasLine(r.stdout, "@c: 1") {
				t.Errorf("want @c: 1\n%s", r)
			}
		})
	}

	t.Run("list symbols", func(t *testing.T) {
		r := e2eMust(t, "trace", "-l", "uprobe:"+bin+":*")
		if !e2eHasLine(r.stdout, "uprobe:"+bin+":waggle_target") || !e2eHasLine(r.stdout, "uprobe:"+bin+":main") {
			t.Errorf("listing lacks waggle_target or main\n%s", r)
		}
		for _, l := range e2eLines(r.stdout) {
			if !strings.HasPrefix(l, "uprobe:"+bin+":") {
				t.Errorf("listed %q, which is not a uprobe of %s", l, bin)
			}
		}
	})
}

// --- -c and cpid -----------------------------------------------------------

func TestTraceE2ECommand(t *testing.T) {
	requireKernel(t)

	t.Run("cpid is the command's pid", func(t *testing.T) {
		prog := `BEGIN { printf("cpid %d\n", cpid); } tracepoint:sched:sched_process_exec /pid == cpid/ { printf("exec %d %s\n", pid, comm); }`
		r := e2eMust(t, "trace", "-c", "/bin/echo hello   world", "-e", prog)
		var cpid, execPid int
		var comm string
		for _, l := range strings.Split(r.stdout, "\n") {
			fmt.Sscanf(l, "cpid %d", &cpid)
			fmt.Sscanf(l, "exec %d %s", &execPid, &comm)
		}
		if cpid <= 0 || cpid == os.Getpid() {
			t.Errorf("cpid %d in BEGIN is not a child's pid\n%s", cpid, r)
		}
		if execPid != cpid || comm != "echo" {
			t.Errorf("exec of the command seen as pid %d comm %q, want pid %d comm echo\n%s", execPid, comm, cpid, r)
		}
		if !e2eHasLine(r.stdout, "hello world") {
			t.Errorf("the command's own output (hello world) is missing\n%s", r)
		}
	})

	t.Run("one process exit", func(t *testing.T) {
		// The command is one process with one thread: bpftrace sees exactly
		// one sched_process_exit with pid == cpid.
		prog := `tracepoint:sched:sched_process_exit /pid == cpid/ { @exits = count(); }`
		r := e2eMust(t, "trace", "-c", "/bin/true", "-e", prog)
		if !e2eHasLine(r.stdout, "@exits: 1") {
			t.Errorf("want @exits: 1 (threads of the command's pid exiting before exec are not the command)\n%s", r)
		}
	})

	t.Run("syscalls of the command", func(t *testing.T) {
		bin := buildTarget(t)
		prog := `tracepoint:syscalls:sys_enter_getpid /pid == cpid/ { @getpid = count(); }`
		r := e2eMust(t, "trace", "-c", bin, "-e", prog)
		if !e2eHasLine(r.stdout, "@getpid: 1") {
			t.Errorf("want @getpid: 1\n%s", r)
		}
	})

	t.Run("ends with the command", func(t *testing.T) {
		start := time.Now()
		r := e2eMust(t, "trace", "-c", "/bin/sleep 0.3", "-e", `tracepoint:syscalls:sys_enter_nanosleep, tracepoint:syscalls:sys_enter_clock_nanosleep /pid == cpid/ { @sleeps = count(); }`)
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("waggle ran %v after a 0.3 s command", d)
		}
		if !regexp.MustCompile(`(?m)^@sleeps: [1-9][0-9]*$`).MatchString(r.stdout) {
			t.Errorf("the command's sleep was not seen\n%s", r)
		}
	})

	t.Run("missing command", func(t *testing.T) {
		r := waggle(t, "trace", "-c", "/nonexistent/waggle-cmd", "-e", `BEGIN { printf("ran\n"); }`)
		e2eCheckPlainError(t, r, lit("/nonexistent/waggle-cmd"))
		if strings.Contains(r.stdout, "ran") {
			t.Errorf("BEGIN ran although the command does not exist")
		}
	})

	t.Run("-c with -p", func(t *testing.T) {
		r := waggle(t, "trace", "-c", "/bin/true", "-p", strconv.Itoa(os.Getpid()), "-e", `BEGIN { exit(); }`)
		e2eCheckPlainError(t, r, `-c|-p`)
	})
}

// --- -p --------------------------------------------------------------------

func TestTraceE2EPid(t *testing.T) {
	requireKernel(t)
	bin := e2eLoopBinary(t)
	a := e2eStart(t, bin).Process.Pid
	b := e2eStart(t, bin).Process.Pid
	time.Sleep(100 * time.Millisecond)

	count := func(t *testing.T, args ...string) map[string]int64 {
		t.Helper()
		bg := startWaggle(t, append([]string{"trace"}, args...)...)
		time.Sleep(600 * time.Millisecond)
		r := bg.stop(t)
		if r.code != 0 {
			t.Fatalf("waggle failed\n%s", r)
		}
		return e2eMapEntries(r.stdout)
	}
	onlyA := func(t *testing.T, m map[string]int64) {
		t.Helper()
		if m[strconv.Itoa(a)] == 0 {
			t.Errorf("process %d (-p) was not counted: %v", a, m)
		}
		for k := range m {
			if k != strconv.Itoa(a) {
				t.Errorf("pid %s counted, but -p %d restricts to one process: %v", k, a, m)
			}
		}
	}

	t.Run("uprobe on the binary", func(t *testing.T) {
		prog := fmt.Sprintf(`uprobe:%s:waggle_tick { @[pid] = count(); }`, bin)
		// Without -p both processes are seen: the filter below is real.
		all := count(t, "-e", prog)
		if all[strconv.Itoa(a)] == 0 || all[strconv.Itoa(b)] == 0 {
			t.Fatalf("without -p both %d and %d should be counted: %v", a, b, all)
		}
		onlyA(t, count(t, "-p", strconv.Itoa(a), "-e", prog))
	})

	t.Run("uprobe in libc", func(t *testing.T) {
		onlyA(t, count(t, "-p", strconv.Itoa(a), "-e", `uprobe:libc:clock_nanosleep { @[pid] = count(); }`))
	})

	t.Run("tracepoint", func(t *testing.T) {
		// bpftrace filters every kernel probe's actions by the -p pid.
		onlyA(t, count(t, "-p", strconv.Itoa(a), "-e", `tracepoint:syscalls:sys_enter_clock_nanosleep { @[pid] = count(); }`))
	})

	t.Run("ends with the process", func(t *testing.T) {
		sleeper := e2eStart(t, "sleep", "1.5")
		start := time.Now()
		r, timedOut := e2eRun(t, e2eOptions{timeout: 15 * time.Second}, "trace", "-p", strconv.Itoa(sleeper.Process.Pid), "-e", `uprobe:libc:clock_nanosleep { @ = count(); }`)
		if timedOut {
			t.Fatalf("waggle -p %d still ran %v after the process ended (bpftrace exits with it)\n%s", sleeper.Process.Pid, time.Since(start), r)
		}
		if r.code != 0 {
			t.Errorf("exit %d, want 0\n%s", r.code, r)
		}
	})

	t.Run("no such process", func(t *testing.T) {
		r := waggle(t, "trace", "-p", "99999999", "-e", `uprobe:libc:getpid { @ = count(); }`)
		e2eCheckPlainError(t, r, `99999999`)
	})
}

// --- -f json -----------------------------------------------------------------

func TestTraceE2EJSON(t *testing.T) {
	requireKernel(t)
	prog := `BEGIN { printf("hi %d\n", 5); @c = count(); @c = count(); @m["a"] = 1; @m["b"] = 2;
@h = hist(5); @h = hist(100); @l = lhist(15, 0, 100, 10); @s = stats(3); @s = stats(5);
@hk[1] = hist(2); @t = (1, "x"); @neg = -3; exit(); }`
	r := e2eMust(t, "trace", "-f", "json", "-e", prog)
	type msg struct {
		Type  string          `json:"type"`
		Data  json.RawMessage `json:"data"`
		Count *int            `json:"count"`
	}
	byName := map[string]msg{}
	var printfs []string
	attached := false
	for i, l := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		var m msg
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("line %d is not JSON: %q: %v", i+1, l, err)
			continue
		}
		switch m.Type {
		case "attached_probes":
			var d struct{ Probes *int }
			json.Unmarshal(m.Data, &d)
			if (m.Count == nil || *m.Count != 1) && (d.Probes == nil || *d.Probes != 1) {
				t.Errorf("attached_probes does not say 1: %s", l)
			}
			attached = true
		case "printf":
			var s string
			if err := json.Unmarshal(m.Data, &s); err != nil {
				t.Errorf("printf data is not a string: %s", l)
			}
			printfs = append(printfs, s)
		case "map", "hist", "stats":
			var d map[string]json.RawMessage
			if err := json.Unmarshal(m.Data, &d); err != nil || len(d) != 1 {
				t.Errorf("%s data is not {\"@name\": value}: %s", m.Type, l)
				continue
			}
			for name, v := range d {
				byName[name] = msg{Type: m.Type, Data: v}
			}
		default:
			t.Errorf("unexpected message type %q: %s", m.Type, l)
		}
	}
	if !attached {
		t.Errorf("no attached_probes message")
	}
	if len(printfs) != 1 || printfs[0] != "hi 5\n" {
		t.Errorf("printf messages %q, want [\"hi 5\\n\"]", printfs)
	}
	check := func(name, typ string, want any) {
		t.Helper()
		m, ok := byName[name]
		if !ok {
			t.Errorf("no message for %s", name)
			return
		}
		if m.Type != typ {
			t.Errorf("%s has type %q, want %q", name, m.Type, typ)
		}
		got := reflect.New(reflect.TypeOf(want))
		if err := json.Unmarshal(m.Data, got.Interface()); err != nil {
			t.Errorf("%s data %s: %v", name, m.Data, err)
			return
		}
		if !reflect.DeepEqual(got.Elem().Interface(), want) {
			t.Errorf("%s data %s, want %#v", name, m.Data, want)
		}
	}
	type bucket struct {
		Min   *int64 `json:"min"`
		Max   *int64 `json:"max"`
		Count int64  `json:"count"`
	}
	p := func(v int64) *int64 { return &v }
	check("@c", "map", int64(2))
	check("@neg", "map", int64(-3))
	check("@m", "map", map[string]int64{"a": 1, "b": 2})
	check("@h", "hist", []bucket{{p(4), p(7), 1}, {p(8), p(15), 0}, {p(16), p(31), 0}, {p(32), p(63), 0}, {p(64), p(127), 1}})
	check("@l", "hist", []bucket{{p(10), p(19), 1}})
	check("@hk", "hist", map[string][]bucket{"1": {{p(2), p(3), 1}}})
	check("@s", "stats", map[string]int64{"count": 2, "average": 4, "total": 8})
	check("@t", "map", []any{float64(1), "x"})
	if t.Failed() {
		t.Logf("%s", r)
	}
}

// --- --dry-run ---------------------------------------------------------------

func TestTraceE2EDryRun(t *testing.T) {
	requireKernel(t)

	// kprobe programs load here although kprobes cannot attach
	// (CONFIG_KPROBES is off): --dry-run succeeds, a real run does not.
	for _, prog := range []string{
		`kprobe:do_sys_openat2 { @ = count(); }`,
		`kretprobe:do_sys_openat2 { @ = hist(retval); }`,
	} {
		kind, _, _ := strings.Cut(prog, ":")
		t.Run(kind, func(t *testing.T) {
			before := kerneltest.Snapshot()
			r := waggle(t, "trace", "--dry-run", "-e", prog)
			if r.code != 0 {
				t.Errorf("--dry-run of a %s script: exit %d, want 0\n%s", kind, r.code, r)
			}
			if strings.TrimSpace(r.stdout) != "" || strings.Contains(r.stderr, "Attached") {
				t.Errorf("--dry-run printed or attached something\n%s", r)
			}
			kerneltest.CheckNoLeaks(t, before)

			// Attaching needs kprobes, which this kernel lacks.
			r = waggle(t, "trace", "-e", prog)
			e2eCheckPlainError(t, r, lit(kind+":do_sys_openat2"), `(?i)kprobes? (are|is) not (available|supported)|CONFIG_KPROBES`)
			kerneltest.CheckNoLeaks(t, before)
		})
	}

	// fentry and fexit programs fail to load here (EPERM): --dry-run,
	// which loads, fails with a message that names the probe.
	for _, c := range []struct{ name, prog string }{
		{"fentry", `fentry:do_sys_openat2 { @ = count(); }`},
		{"fexit", `fexit:do_sys_openat2 { @ = count(); }`},
		// fexit has retval, as in bpftrace.
		{"fexit retval", `fexit:do_sys_openat2 { @ = hist(retval); }`},
		{"fentry args", `fentry:do_sys_openat2 { @[args.dfd] = count(); }`},
	} {
		kind, prog := strings.Fields(c.name)[0], c.prog
		t.Run(c.name, func(t *testing.T) {
			before := kerneltest.Snapshot()
			r := waggle(t, "trace", "--dry-run", "-e", prog)
			e2eCheckPlainError(t, r, lit(kind+":do_sys_openat2"), `(?i)trampoline|not permitted|EPERM`)
			// The message is about the user's probe, not an internal
			// program or an empty section name.
			if strings.Contains(r.stderr, "(section )") {
				t.Errorf("message shows an empty section name: %s", r.stderr)
			}
			kerneltest.CheckNoLeaks(t, before)
		})
	}

	t.Run("runs and attaches nothing", func(t *testing.T) {
		before := kerneltest.Snapshot()
		marker := filepath.Join(t.TempDir(), "ran")
		r := waggle(t, "trace", "--dry-run", "-c", "/usr/bin/touch "+marker, "-e",
			`BEGIN { printf("begin ran\n"); } tracepoint:syscalls:sys_enter_openat { @[comm] = count(); } END { printf("end ran\n"); }`)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r)
		}
		if strings.TrimSpace(r.stdout) != "" {
			t.Errorf("--dry-run printed %q", r.stdout)
		}
		if strings.Contains(r.stderr, "Attached") {
			t.Errorf("--dry-run attached probes\n%s", r)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("--dry-run ran the -c command")
		}
		kerneltest.CheckNoLeaks(t, before)
	})

	t.Run("verifier rejection", func(t *testing.T) {
		prog := `BEGIN { $i = 0; while ($i < 100000000) { @m[$i] = $i; $i++; } exit(); }`
		r := waggle(t, "trace", "--dry-run", "-e", prog)
		e2eCheckScriptError(t, r, "-e", prog, 1, lit("BEGIN"))
	})
}

// --- bad input -----------------------------------------------------------

func TestTraceE2EBadInput(t *testing.T) {
	requireKernel(t)
	bin := buildTarget(t)
	longLiteral := strings.Repeat("a", 1100)

	scripts := []struct {
		name     string
		prog     string
		line     int
		keywords []string
	}{
		{"unknown probe type", `foo:bar { exit(); }`, 1, []string{lit("foo")}},
		{"unknown tracepoint", `tracepoint:nosuch:event { exit(); }`, 1, []string{lit("nosuch:event")}},
		{"unknown tracepoint event", `tracepoint:syscalls:sys_enter_nosuch { exit(); }`, 1, []string{lit("sys_enter_nosuch")}},
		{"unknown tracepoint field", `tracepoint:syscalls:sys_enter_openat { printf("%d\n", args.nosuchfield); }`, 1, []string{lit("nosuchfield")}},
		{"type mismatch", `BEGIN { $x = 1; $x = "str"; exit(); }`, 1, []string{lit("$x")}},
		{"operand types", `BEGIN { @x = 1 + "a"; }`, 1, []string{lit("+")}},
		{"map with two key types", `BEGIN { @m[1] = 1; @m["a"] = 2; exit(); }`, 1, []string{lit("@m")}},
		{"map with two value types", `BEGIN { @v = 1; @v = "s"; exit(); }`, 1, []string{lit("@v")}},
		{"undefined scratch variable", `BEGIN { printf("%d\n", $undefined); exit(); }`, 1, []string{lit("$undefined")}},
		{"syntax error", `BEGIN { printf("hi\n") exit(); }`, 1, nil},
		{"unterminated block", "BEGIN {\n  printf(\"hi\\n\");\n", 0, nil},
		{"unknown function", `BEGIN { nosuchfunction(1); }`, 1, []string{lit("nosuchfunction")}},
		{"printf argument count", `BEGIN { printf("%d %d\n", 1); }`, 1, []string{lit("printf")}},
		{"max_strlen over the limit", `config = { max_strlen = 100000 } BEGIN { printf("%s\n", "a"); exit(); }`, 1, []string{lit("max_strlen")}},
		{"string over the stack", `BEGIN { printf("%s\n", "` + longLiteral + `"); exit(); }`, 1, []string{`(?i)stack|too long`}},
		{"too complex for the verifier", "tracepoint:syscalls:sys_enter_openat {\n  $i = 0;\n  while ($i < 1000000) { @m[$i] = $i; $i++; }\n}", 0,
			[]string{lit("tracepoint:syscalls:sys_enter_openat"), `(?i)too (large|complex)`}},
		{"missing uprobe binary", `uprobe:/nonexistent/waggle-bin:foo { exit(); }`, 1, []string{lit("/nonexistent/waggle-bin")}},
		{"missing uprobe symbol", fmt.Sprintf(`uprobe:%s:nosuchsymbol { exit(); }`, bin), 1, []string{lit("nosuchsymbol")}},
		{"func outside a function probe", `BEGIN { printf("%s\n", func); }`, 1, []string{lit("func")}},
	}
	for _, c := range scripts {
		t.Run(c.name, func(t *testing.T) {
			before := kerneltest.Snapshot()
			r := waggle(t, "trace", "-e", c.prog)
			e2eCheckScriptError(t, r, "-e", c.prog, c.line, c.keywords...)
			kerneltest.CheckNoLeaks(t, before)
		})
	}

	t.Run("several errors at once", func(t *testing.T) {
		prog := "BEGIN { $a = $nope1; }\nEND { $b = $nope2; }"
		r := waggle(t, "trace", "-e", prog)
		e2eCheckScriptError(t, r, "-e", prog, 1, lit("$nope1"))
		e2eCheckScriptError(t, r, "-e", prog, 2, lit("$nope2"))
	})

	t.Run("string parameter used as a number", func(t *testing.T) {
		prog := `BEGIN { printf("%d\n", $1 + 1); exit(); }`
		r := waggle(t, "trace", "-e", prog, "abc")
		e2eCheckScriptError(t, r, "-e", prog, 1, lit("$1"))
	})

	t.Run("error in a script file", func(t *testing.T) {
		src := "#!/usr/bin/env bpftrace\n// counts\nBEGIN {\n  @x = $nosuch;\n}\n"
		file := filepath.Join(t.TempDir(), "bad.bt")
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		r := waggle(t, "trace", file)
		// The #! line is shown as it is in the file.
		e2eCheckScriptError(t, r, file, src, 4, lit("$nosuch"))
	})

	t.Run("error in a script from stdin", func(t *testing.T) {
		src := "BEGIN {\n  @x = $nosuch;\n}\n"
		r, _ := e2eRun(t, e2eOptions{stdin: src}, "trace", "-")
		e2eCheckScriptError(t, r, "stdin", src, 2, lit("$nosuch"))
	})

	t.Run("script file does not exist", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nosuch.bt")
		e2eCheckPlainError(t, waggle(t, "trace", missing), lit(missing))
	})

	t.Run("no program", func(t *testing.T) {
		e2eCheckPlainError(t, waggle(t, "trace"), `-e`)
	})

	t.Run("-f xml", func(t *testing.T) {
		e2eCheckPlainError(t, waggle(t, "trace", "-f", "xml", "-e", `BEGIN { exit(); }`), lit("xml"))
	})

	t.Run("-d unknown stage", func(t *testing.T) {
		e2eCheckPlainError(t, waggle(t, "trace", "-d", "bogus", "-e", `BEGIN { exit(); }`), lit("bogus"))
	})

	t.Run("load failure leaves no -c command behind", func(t *testing.T) {
		before := kerneltest.Snapshot()
		r := waggle(t, "trace", "-c", "/bin/sleep 7.25", "-e", `fentry:do_sys_openat2 { @ = count(); }`)
		if r.code != 1 {
			t.Errorf("exit %d, want 1\n%s", r.code, r)
		}
		time.Sleep(100 * time.Millisecond)
		if pids := e2eProcessesWithArg("7.25"); len(pids) > 0 {
			t.Errorf("the -c command is still running after the failure: pids %v", pids)
			for _, p := range pids {
				syscall.Kill(p, syscall.SIGKILL)
			}
		}
		kerneltest.CheckNoLeaks(t, before)
	})

	t.Run("attach failure leaves no -c command behind", func(t *testing.T) {
		before := kerneltest.Snapshot()
		r := waggle(t, "trace", "-c", "/bin/sleep 7.5", "-e", `kprobe:do_sys_openat2 { @ = count(); }`)
		if r.code != 1 {
			t.Errorf("exit %d, want 1\n%s", r.code, r)
		}
		time.Sleep(100 * time.Millisecond)
		if pids := e2eProcessesWithArg("7.5"); len(pids) > 0 {
			t.Errorf("the -c command is still running after the failure: pids %v", pids)
			for _, p := range pids {
				syscall.Kill(p, syscall.SIGKILL)
			}
		}
		kerneltest.CheckNoLeaks(t, before)
	})
}

// --- script files, stdin, parameters -------------------------------------

func TestTraceE2EScripts(t *testing.T) {
	requireKernel(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "params.bt")
	src := "#!/usr/bin/env bpftrace\n" +
		"/* $1 is a string, $2 an integer */\n" +
		"BEGIN\n{\n  printf(\"%s|%d|%d\\n\", str($1), $2 + 1, $#);\n  exit();\n}\n"
	if err := os.WriteFile(script, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}

	t.Run("file", func(t *testing.T) {
		r := e2eMust(t, "trace", script, "hello", "41")
		if !e2eHasLine(r.stdout, "hello|42|2") {
			t.Errorf("want hello|42|2\n%s", r)
		}
	})

	t.Run("stdin", func(t *testing.T) {
		r, _ := e2eRun(t, e2eOptions{stdin: src}, "trace", "-", "foo", "7")
		if r.code != 0 || !e2eHasLine(r.stdout, "foo|8|2") {
			t.Errorf("want foo|8|2\n%s", r)
		}
	})

	t.Run("-e with parameters", func(t *testing.T) {
		r := e2eMust(t, "trace", "-e", `BEGIN { printf("%s %d %d\n", str($1), $2 * 2, $#); exit(); }`, "abc", "21", "extra")
		if !e2eHasLine(r.stdout, "abc 42 3") {
			t.Errorf("want abc 42 3\n%s", r)
		}
	})

	t.Run("missing parameters", func(t *testing.T) {
		// bpftrace: an absent integer parameter is 0, an absent string "".
		r := e2eMust(t, "trace", "-e", `BEGIN { printf("[%d][%s][%d]\n", $3, str($4), $#); exit(); }`, "a", "b")
		if !e2eHasLine(r.stdout, "[0][][2]") {
			t.Errorf("want [0][][2]\n%s", r)
		}
	})

	t.Run("#! executable through the bpftrace link", func(t *testing.T) {
		linkDir := t.TempDir()
		if err := os.Symlink(waggleBin, filepath.Join(linkDir, "bpftrace")); err != nil {
			t.Fatal(err)
		}
		r, _ := e2eRun(t, e2eOptions{bin: script, env: []string{"PATH=" + linkDir + ":" + os.Getenv("PATH")}}, "bar", "1")
		if r.code != 0 || !e2eHasLine(r.stdout, "bar|2|2") {
			t.Errorf("running the script by its #! line: want bar|2|2\n%s", r)
		}
	})
}

// --- invoked as bpftrace -------------------------------------------------

func TestTraceE2EAsBpftrace(t *testing.T) {
	requireKernel(t)
	link := filepath.Join(t.TempDir(), "bpftrace")
	if err := os.Symlink(waggleBin, link); err != nil {
		t.Fatal(err)
	}
	bt := func(t *testing.T, args ...string) result {
		t.Helper()
		r, _ := e2eRun(t, e2eOptions{bin: link}, args...)
		return r
	}

	t.Run("-e", func(t *testing.T) {
		r := bt(t, "-e", `BEGIN { printf("hi\n"); exit(); }`)
		if r.code != 0 || !e2eHasLine(r.stdout, "hi") {
			t.Errorf("want hi\n%s", r)
		}
	})

	for _, flag := range []string{"--version", "-V"} {
		t.Run(flag, func(t *testing.T) {
			r := bt(t, flag)
			if r.code != 0 || !strings.Contains(r.stdout, "bpftrace") || !strings.Contains(r.stdout, "waggle") {
				t.Errorf("want a bpftrace version that mentions waggle\n%s", r)
			}
		})
	}

	t.Run("-l", func(t *testing.T) {
		r := bt(t, "-l", "tracepoint:syscalls:sys_enter_open*")
		if r.code != 0 || !e2eHasLine(r.stdout, "tracepoint:syscalls:sys_enter_openat") {
			t.Errorf("want tracepoint:syscalls:sys_enter_openat listed\n%s", r)
		}
		for _, l := range e2eLines(r.stdout) {
			if !strings.HasPrefix(l, "tracepoint:syscalls:sys_enter_open") {
				t.Errorf("listed %q, which does not match the pattern", l)
			}
		}
	})

	t.Run("-l with a program", func(t *testing.T) {
		// bpftrace -l -e PROGRAM lists the probes the program would attach.
		r := bt(t, "-l", "-e", `tracepoint:syscalls:sys_enter_openat* { @ = count(); }`)
		if r.code != 0 || !e2eHasLine(r.stdout, "tracepoint:syscalls:sys_enter_openat") || !e2eHasLine(r.stdout, "tracepoint:syscalls:sys_enter_openat2") {
			t.Errorf("want the program's two probes listed\n%s", r)
		}
	})

	t.Run("script file", func(t *testing.T) {
		script := filepath.Join(t.TempDir(), "s.bt")
		os.WriteFile(script, []byte("BEGIN { printf(\"from file %d\\n\", $1); exit(); }\n"), 0o644)
		r := bt(t, script, "9")
		if r.code != 0 || !e2eHasLine(r.stdout, "from file 9") {
			t.Errorf("want from file 9\n%s", r)
		}
	})

	// Flags bpftrace's users and test suites pass.
	for _, flags := range [][]string{{"-q"}, {"-B", "line"}, {"-B", "none"}, {"--no-warnings"}, {"-k"}, {"--unsafe"}, {"-f", "text"}} {
		t.Run(strings.Join(flags, " "), func(t *testing.T) {
			r := bt(t, append(flags, "-e", `BEGIN { printf("flag ok\n"); exit(); }`)...)
			if r.code != 0 || !e2eHasLine(r.stdout, "flag ok") {
				t.Errorf("bpftrace %s: want flag ok\n%s", strings.Join(flags, " "), r)
			}
		})
	}

	t.Run("bad -B", func(t *testing.T) {
		r := bt(t, "-B", "sideways", "-e", `BEGIN { exit(); }`)
		e2eCheckPlainError(t, r, `-B|sideways`)
	})
}

// --- -l --------------------------------------------------------------------

func TestTraceE2EList(t *testing.T) {
	requireKernel(t)
	cases := []struct {
		pattern, prefix string
		want            []string
	}{
		{"tracepoint:sched:*", "tracepoint:sched:", []string{"tracepoint:sched:sched_switch", "tracepoint:sched:sched_process_exec", "tracepoint:sched:sched_process_exit"}},
		{"software:*", "software:", []string{"software:cpu-clock:", "software:page-faults:", "software:context-switches:"}},
	}
	for _, c := range cases {
		t.Run(c.pattern, func(t *testing.T) {
			r := e2eMust(t, "trace", "-l", c.pattern)
			for _, w := range c.want {
				if !e2eHasLine(r.stdout, w) {
					t.Errorf("%s not listed", w)
				}
			}
			lines := e2eLines(r.stdout)
			for _, l := range lines {
				if !strings.HasPrefix(l, c.prefix) {
					t.Errorf("listed %q, which does not match %s", l, c.pattern)
				}
			}
			if !sort.StringsAreSorted(lines) {
				t.Errorf("listing is not sorted")
			}
			if t.Failed() {
				t.Logf("%s", r)
			}
		})
	}
}

// --- -o --------------------------------------------------------------------

func TestTraceE2EOutputFile(t *testing.T) {
	requireKernel(t)
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out."+format)
			r := e2eMust(t, "trace", "-f", format, "-o", out, "-e", `BEGIN { printf("to file\n"); @x = 3; exit(); }`)
			if strings.Contains(r.stdout, "to file") || strings.Contains(r.stdout, "@x") {
				t.Errorf("-o output went to stdout\n%s", r)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			got := string(b)
			switch format {
			case "text":
				if !e2eHasLine(got, "to file") || !e2eHasLine(got, "@x: 3") {
					t.Errorf("file has %q, want the printf line and @x: 3", got)
				}
			case "json":
				if !e2eHasLine(got, `{"type": "printf", "data": "to file\n"}`) || !e2eHasLine(got, `{"type": "map", "data": {"@x": 3}}`) {
					t.Errorf("file has %q, want the printf and map messages", got)
				}
			}
		})
	}

	t.Run("unwritable", func(t *testing.T) {
		r := waggle(t, "trace", "-o", "/nonexistent/dir/out.txt", "-e", `BEGIN { exit(); }`)
		e2eCheckPlainError(t, r, lit("/nonexistent/dir/out.txt"))
	})
}

// --- SIGINT ----------------------------------------------------------------

func TestTraceE2ESIGINT(t *testing.T) {
	requireKernel(t)
	path := filepath.Join(os.TempDir(), fmt.Sprintf("wsig%d", os.Getpid()))
	prog := fmt.Sprintf(`tracepoint:syscalls:sys_enter_openat /pid == %d/ { @opens = count(); @paths[str(args.filename)] = count(); }
END { printf("end ran\n"); }`, os.Getpid())
	bg := startWaggle(t, "trace", "-e", prog)
	for i := 0; i < 3; i++ {
		if f, err := os.Open(path); err == nil {
			f.Close()
		}
	}
	time.Sleep(200 * time.Millisecond)
	r := bg.stop(t)
	if r.code != 0 {
		t.Errorf("exit %d after SIGINT, want 0", r.code)
	}
	if !e2eHasLine(r.stdout, "@opens: 3") {
		t.Errorf("want @opens: 3 printed at exit")
	}
	if !e2eHasLine(r.stdout, "@paths["+path+"]: 3") {
		t.Errorf("want @paths[%s]: 3 printed at exit", path)
	}
	if !e2eHasLine(r.stdout, "end ran") {
		t.Errorf("END did not run on SIGINT")
	}
	if end, maps := strings.Index(r.stdout, "end ran"), strings.Index(r.stdout, "@opens"); end > maps {
		t.Errorf("END's output should come before the maps")
	}
	if t.Failed() {
		t.Logf("%s", r)
	}
}

// --- -d --------------------------------------------------------------------

func TestTraceE2EDump(t *testing.T) {
	requireKernel(t)
	prog := `BEGIN { @x = 40 + 2; printf("v %d\n", @x); exit(); }`

	t.Run("ast", func(t *testing.T) {
		r := e2eMust(t, "trace", "-d", "ast", "-e", prog)
		for _, w := range []string{"BEGIN", "@x", "40", "2", "printf", "exit"} {
			if !strings.Contains(r.stdout+r.stderr, w) {
				t.Errorf("-d ast output lacks %q", w)
			}
		}
		if t.Failed() {
			t.Logf("%s", r)
		}
	})

	t.Run("asm", func(t *testing.T) {
		r := e2eMust(t, "trace", "-d", "asm", "-e", prog)
		out := r.stdout + r.stderr
		for _, w := range []string{"BEGIN", "Exit", "Call"} {
			if !strings.Contains(out, w) {
				t.Errorf("-d asm output lacks %q", w)
			}
		}
		// A map update and the event output are helper calls.
		if !regexp.MustCompile(`(?i)MapUpdateElem|map_update_elem`).MatchString(out) {
			t.Errorf("-d asm shows no map update for @x")
		}
		if t.Failed() {
			t.Logf("%s", r)
		}
	})

	t.Run("all", func(t *testing.T) {
		r := e2eMust(t, "trace", "-d", "all", "-e", prog)
		out := r.stdout + r.stderr
		if !strings.Contains(out, "printf") || !strings.Contains(out, "Exit") {
			t.Errorf("-d all lacks the AST or the instructions\n%s", r)
		}
	})
}

// --- division by a constant zero ---------------------------------------------

func TestTraceE2EDivideByConstantZero(t *testing.T) {
	requireKernel(t)
	// Whatever the answer (bpftrace 0.26 warns and uses 1), a constant
	// divisor of zero must not reach the kernel verifier as a division by
	// an immediate zero, which it rejects.
	prog := `BEGIN { printf("%d %d\n", 10 / 0, 10 % 0); exit(); }`
	r := waggle(t, "trace", "-e", prog)
	if strings.Contains(r.stderr, "verifier") {
		t.Errorf("10 / 0 reached the verifier\n%s", r)
	}
	if r.code != 0 {
		e2eCheckScriptError(t, r, "-e", prog, 1, `(?i)zero`)
	}
}
