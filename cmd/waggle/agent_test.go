package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wagglebpf/waggle/agent/agentpb"
)

// startAgentProcess runs `waggle agent` on a Unix socket in a fresh
// directory and returns its address and its log.
func startAgentProcess(t *testing.T, args ...string) (addr string, cmd *exec.Cmd, log *syncBuffer) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	addr = "unix://" + sock
	log = newSyncBuffer()
	cmd = exec.Command(waggleBin, append([]string{"agent", "--listen", addr}, args...)...)
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			return addr, cmd, log
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not listen within 20s:\n%s", log)
		}
	}
}

func TestAgentCommand(t *testing.T) {
	requireKernel(t)
	addr, agentCmd, log := startAgentProcess(t)

	r := waggle(t, "agent", "info", "--remote", addr)
	if r.code != 0 || !regexp.MustCompile(`(?m)^kernel +\S+ (x86_64|aarch64)$`).MatchString(r.stdout) || !strings.Contains(r.stdout, "runs         elf") {
		t.Errorf("agent info:\n%s", r)
	}
	if r := waggle(t, "agent", "info", "-o", "json", "--remote", addr); r.code != 0 || !strings.Contains(r.stdout, `"kernelRelease":`) {
		t.Errorf("agent info -o json:\n%s", r)
	}

	// The kernel's BTF, byte for byte.
	btfFile := filepath.Join(t.TempDir(), "vmlinux.btf")
	if r := waggle(t, "agent", "btf", "-o", btfFile, "--remote", addr); r.code != 0 {
		t.Errorf("agent btf:\n%s", r)
	}
	got, _ := os.ReadFile(btfFile)
	want, _ := os.ReadFile("/sys/kernel/btf/vmlinux")
	if len(want) == 0 || !bytes.Equal(got, want) {
		t.Errorf("agent btf wrote %d bytes, not the kernel's %d", len(got), len(want))
	}

	// A remote run prints what the local one prints, with its status.
	rf := &remoteFlags{remote: addr}
	prog, err := os.ReadFile(fixture("iter.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := runRemote(context.Background(), rf, &agentpb.Start{Program: prog, Name: fixture("iter.bpf.o")}, &stdout, &stderr); err != nil {
		t.Fatalf("remote run: %v\n%s", err, stderr.String())
	}
	local := waggle(t, "run", fixture("iter.bpf.o"))
	// The iterator walks every task, this test's own process included.
	firstTask := regexp.MustCompile(`(?m)^` + strconv.Itoa(os.Getpid()) + ` \S+$`)
	if stderr.String() != local.stderr || !firstTask.MatchString(stdout.String()) || !firstTask.MatchString(local.stdout) {
		t.Errorf("remote run:\n%s%s\nlocal:\n%s", stdout.String(), stderr.String(), local)
	}
	stderr.Reset()
	start := &agentpb.Start{Program: prog, Name: fixture("iter.bpf.o"), Options: &agentpb.RunOptions{Object: &agentpb.ObjectOptions{Set: []string{"nope=1"}}}}
	err = runRemote(context.Background(), rf, start, &stdout, &stderr)
	local = waggle(t, "run", fixture("iter.bpf.o"), "--set", "nope=1")
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != local.code || "waggle: "+ee.Error()+"\n" != local.stderr {
		t.Errorf("remote error %v, local:\n%s", err, local)
	}

	// A detached session is listed, then stopped.
	prog, _ = os.ReadFile(fixture("openat.bpf.o"))
	stderr.Reset()
	if err := runRemote(context.Background(), rf, &agentpb.Start{Program: prog, Name: "openat.bpf.o", Detach: true}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	// It returned once the program was attached, the load's output seen.
	m := regexp.MustCompile(`(?s)Attached 1 program.*session (\d+) runs detached on `).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("detached run said %q", stderr.String())
	}
	var list result
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if list = waggle(t, "agent", "sessions", "--remote", addr); strings.Contains(list.stdout, "detached") {
			break
		}
	}
	if !regexp.MustCompile(`(?m)^` + m[1] + ` +openat\.bpf\.o +elf +\S+ \S+ +detached +uid=0\(root\) pid=\d+$`).MatchString(list.stdout) {
		t.Errorf("agent sessions:\n%s", list)
	}
	// Its maps are readable once it is loaded (empty: nothing opened a
	// file yet, or counts).
	var maps result
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if maps = waggle(t, "agent", "maps", m[1], "--remote", addr); maps.code == 0 {
			break
		}
	}
	if maps.code != 0 || maps.stderr != "" {
		t.Errorf("agent maps:\n%s", maps)
	}
	if r := waggle(t, "agent", "stop", m[1], "--remote", addr); r.code != 0 || r.stderr != "" {
		t.Errorf("agent stop:\n%s", r)
	}
	if r := waggle(t, "agent", "stop", m[1], "--remote", addr); r.code != 1 || !strings.Contains(r.stderr, "no session "+m[1]+" is running") {
		t.Errorf("stopping it again:\n%s", r)
	}

	// SIGTERM: a clean exit, every load logged with its client.
	agentCmd.Process.Signal(syscall.SIGTERM)
	if err := agentCmd.Wait(); err != nil {
		t.Errorf("the agent exited with %v after SIGTERM:\n%s", err, log)
	}
	if n := strings.Count(log.String(), "msg=load"); n != 3 || !strings.Contains(log.String(), `client="uid=0(root) pid=`+strconv.Itoa(os.Getpid())) {
		t.Errorf("%d loads logged, want 3 with this process as the client:\n%s", n, log)
	}
}

func TestAgentCommandRefusesUnsafeSetups(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"agent", "--listen", "tcp://0.0.0.0:7070"}, "waggle: tcp://0.0.0.0:7070: TCP needs mutual TLS (--tls-cert, --tls-key, --client-ca)"},
		{[]string{"agent", "--listen", "tcp://0.0.0.0:7070", "--insecure-loopback"}, "only on a loopback address"},
		{[]string{"agent", "--listen", "unix:///tmp/waggle-agent.sock"}, "the socket's directory /tmp is writable by other users"},
		{[]string{"agent", "--tls-cert", "x.pem"}, "mutual TLS needs --tls-cert, --tls-key and --client-ca together"},
		{[]string{"agent", "--max-program-size", "2G"}, "--max-program-size 2G: expected a size from 1 byte to 1G"},
		{[]string{"agent", "--allow-client", "host1"}, "--allow-client names clients by their certificates"},
		{[]string{"agent", "--program-stats"}, "--program-stats exports through --metrics"},
		{[]string{"agent", "info", "--remote", "tcp://192.0.2.1:7070"}, "TCP needs mutual TLS (--tls-cert, --tls-key, --ca)"},
		{[]string{"agent", "stop", "x"}, `"x" is not a session ID`},
	} {
		r := waggle(t, tc.args...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("waggle %v:\n%s\nwant exit 1 and %q", tc.args, r, tc.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "4096": 4096, "16M": 16 << 20, "16MiB": 16 << 20, "512k": 512 << 10, "1G": 1 << 30, "2MB": 2 << 20} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "1.5M", "2G", "M", "16X"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted it", in)
		}
	}
}

// TestDeployFilesUseRealFlags parses the command lines of the systemd unit
// and the DaemonSet with the agent's own flags, and checks that both grant
// the same capabilities.
func TestDeployFilesUseRealFlags(t *testing.T) {
	unit, err := os.ReadFile("../../deploy/systemd/waggle-agent.service")
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile("../../deploy/kubernetes/waggle-agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	execStart := regexp.MustCompile(`(?m)^ExecStart=(?:[^\\\n]*\\\n)*[^\n]*$`).Find(unit)
	if execStart == nil {
		t.Fatal("no ExecStart in the unit")
	}
	unitArgs := strings.Fields(strings.ReplaceAll(strings.TrimPrefix(string(execStart), "ExecStart="), "\\\n", " "))
	var podArgs []string
	args := regexp.MustCompile(`(?s)args:\n((?:\s+- [^\n]+\n)+)`).FindSubmatch(manifest)
	if args == nil {
		t.Fatal("no args in the manifest")
	}
	for _, line := range strings.Split(strings.TrimSpace(string(args[1])), "\n") {
		podArgs = append(podArgs, strings.TrimPrefix(strings.TrimSpace(line), "- "))
	}
	for name, argv := range map[string][]string{"systemd": unitArgs[1:], "kubernetes": podArgs} {
		if len(argv) == 0 || argv[0] != "agent" {
			t.Errorf("%s: the command is %v, not waggle agent", name, argv)
			continue
		}
		if err := newAgentCommand().ParseFlags(argv[1:]); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	bounding := regexp.MustCompile(`(?m)^CapabilityBoundingSet=(.*)$`).FindSubmatch(unit)
	added := regexp.MustCompile(`add: \[(.*)\]`).FindSubmatch(manifest)
	if bounding == nil || added == nil {
		t.Fatal("capabilities not found")
	}
	var unitCaps, podCaps []string
	for _, c := range strings.Fields(string(bounding[1])) {
		unitCaps = append(unitCaps, strings.TrimPrefix(c, "CAP_"))
	}
	for _, c := range strings.Split(string(added[1]), ",") {
		podCaps = append(podCaps, strings.Trim(c, `" `))
	}
	if strings.Join(unitCaps, " ") != strings.Join(podCaps, " ") {
		t.Errorf("the unit grants %v, the DaemonSet %v", unitCaps, podCaps)
	}
}

// waggle run and waggle trace with --remote print what they print
// locally, with the same exit status; a detached script's maps are read
// through the agent.
func TestRemoteRunAndTrace(t *testing.T) {
	requireKernel(t)
	addr, _, log := startAgentProcess(t)
	same := func(what string, local, remote result) {
		t.Helper()
		if remote != local {
			t.Errorf("%s: remote\n%s\nlocal\n%s\nagent log:\n%s", what, remote, local, log)
		}
	}

	// An object: the iterator walks every task; this test's process is
	// among them either way.
	r := waggle(t, "run", "--remote", addr, fixture("iter.bpf.o"))
	l := waggle(t, "run", fixture("iter.bpf.o"))
	task := regexp.MustCompile(`(?m)^` + strconv.Itoa(os.Getpid()) + ` \S+$`)
	if r.code != 0 || r.stderr != l.stderr || !task.MatchString(r.stdout) {
		t.Errorf("run --remote:\n%s\nlocal:\n%s", r, l)
	}

	// Scripts, compiled here and run there, in text and JSON, with the
	// exit code the script chose.
	script := `BEGIN { @x[1] = 5; @s = sum(3); printf("hi %d\n", 7); exit(3); }`
	for _, f := range []string{"text", "json"} {
		same("trace -f "+f, waggle(t, "trace", "-f", f, "-e", script), waggle(t, "trace", "-f", f, "--remote", addr, "-e", script))
	}
	// Compiled against the agent's kernel types, which cross the network
	// once and stay in the user's cache under their SHA-256.
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	typed := `BEGIN { printf("%d %d\n", sizeof(struct task_struct), ncpus); exit(); }`
	same("trace with kernel types", waggle(t, "trace", "-e", typed), waggle(t, "trace", "--remote", addr, "-e", typed))
	vmlinux, _ := os.ReadFile("/sys/kernel/btf/vmlinux")
	if cached, _ := filepath.Glob(filepath.Join(cache, "waggle", "btf", "*.btf")); len(cached) != 1 || filepath.Base(cached[0]) != sha256Hex(vmlinux)+".btf" {
		t.Errorf("BTF cache holds %v, want the agent's kernel BTF by its SHA-256", cached)
	}
	wgl := filepath.Join(t.TempDir(), "p.wgl")
	if r := waggle(t, "trace", "--compile", "-o", wgl, "-e", script); r.code != 0 {
		t.Fatalf("compile:\n%s", r)
	}
	same("run p.wgl", waggle(t, "run", wgl), waggle(t, "run", "--remote", addr, wgl))
	// A script error is reported at its position, by the compiler here.
	if r := waggle(t, "trace", "--remote", addr, "-e", "BEGIN { nosuch(); }"); r.code != 1 || !strings.Contains(r.stderr, "stdin:1:9") {
		t.Errorf("script error:\n%s", r)
	}

	// A detached script keeps running; its maps are read as print()
	// prints them.
	r = waggle(t, "trace", "--remote", addr, "--detach", "-e", `BEGIN { @n = 42; @h[7] = 1; }`)
	m := regexp.MustCompile(`session (\d+) runs detached on `).FindStringSubmatch(r.stderr)
	if r.code != 0 || m == nil {
		t.Fatalf("trace --detach:\n%s", r)
	}
	var maps result
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if maps = waggle(t, "agent", "maps", m[1], "--remote", addr); maps.code == 0 && strings.Contains(maps.stdout, "@n: 42") {
			break
		}
	}
	if !strings.Contains(maps.stdout, "@n: 42\n") || !strings.Contains(maps.stdout, "@h[7]: 1\n") {
		t.Errorf("agent maps of a script:\n%s", maps)
	}
	if r := waggle(t, "agent", "stop", m[1], "--remote", addr); r.code != 0 {
		t.Errorf("agent stop:\n%s", r)
	}

	// Ctrl-C stops the remote session: the maps print as they print
	// locally, and the agent keeps nothing of it.
	bg := startWaggle(t, "trace", "--remote", addr, "-e", `BEGIN { @k = 7; } tracepoint:syscalls:sys_enter_getppid { @g = count(); }`)
	if r := bg.stop(t); r.code != 0 || !strings.HasPrefix(r.stdout, "\n\n") || !strings.Contains(r.stdout, "@k: 7\n") {
		t.Errorf("Ctrl-C of a remote trace:\n%s", r)
	}
	var list result
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if list = waggle(t, "agent", "sessions", "--remote", addr); list.code == 0 && strings.Count(list.stdout, "\n") <= 1 {
			break
		}
	}
	if strings.Count(list.stdout, "\n") > 1 {
		t.Errorf("sessions left after Ctrl-C:\n%s", list)
	}

	// A detached run returns once its programs are attached, having
	// printed what the load printed; a load that fails is an error of the
	// command, as without --detach.
	r = waggle(t, "run", "--remote", addr, "--detach", fixture("openat.bpf.o"))
	if r.code != 0 || !regexp.MustCompile(`(?s)Attached 1 program.*session \d+ runs detached`).MatchString(r.stderr) {
		t.Errorf("run --detach:\n%s", r)
	} else {
		id := regexp.MustCompile(`session (\d+) runs detached`).FindStringSubmatch(r.stderr)[1]
		if l := waggle(t, "agent", "sessions", "--remote", addr); !regexp.MustCompile(`(?m)^` + id + ` .* detached `).MatchString(l.stdout) {
			t.Errorf("sessions after a detached run returned:\n%s", l)
		}
		waggle(t, "agent", "stop", id, "--remote", addr)
	}
	if r := waggle(t, "run", "--remote", addr, "--detach", fixture("openat.bpf.o"), "--set", "nope=1"); r.code != 1 || !strings.Contains(r.stderr, "nope") || strings.Contains(r.stderr, "runs detached") {
		t.Errorf("a detached run whose load fails:\n%s", r)
	}

	// What the agent refuses, and what has no remote form.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"trace", "--unsafe", "--remote", addr, "-e", `BEGIN { system("true"); exit(); }`}, "started with --allow-unsafe"},
		{[]string{"trace", "--remote", addr, "-c", "true", "-e", `BEGIN { exit(); }`}, "-c is not available with --remote"},
		{[]string{"run", "--remote", addr, "-c", "true", fixture("iter.bpf.o")}, "-c is not available with --remote"},
		{[]string{"run", "--detach", fixture("iter.bpf.o")}, "--detach applies to runs in an agent"},
		{[]string{"trace", "--detach", "-e", `BEGIN { exit(); }`}, "--detach applies to runs in an agent"},
	} {
		if r := waggle(t, tc.args...); r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("waggle %q:\n%s\nwant exit 1 and %q", tc.args, r, tc.want)
		}
	}
}

// waggle agent --metrics exports a running script's maps and an object's
// program statistics, labelled by session, while the sessions run, and
// nothing of them once they stop.
func TestAgentMetrics(t *testing.T) {
	requireKernel(t)
	addr, _, log := startAgentProcess(t, "--metrics", "127.0.0.1:0", "--program-stats")
	var url string
	for deadline := time.Now().Add(20 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := regexp.MustCompile(`msg="serving metrics" address=(\S+)`).FindStringSubmatch(log.String()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		t.Fatalf("the agent did not say where it serves metrics:\n%s", log)
	}
	scrape := func() string {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	detach := func(args ...string) string {
		t.Helper()
		r := waggle(t, append(args, "--remote", addr, "--detach")...)
		m := regexp.MustCompile(`session (\d+) runs detached on `).FindStringSubmatch(r.stderr)
		if r.code != 0 || m == nil {
			t.Fatalf("waggle %q:\n%s", args, r)
		}
		return m[1]
	}
	pid := strconv.Itoa(os.Getpid())
	script := detach("trace", "-e", `BEGIN { @answer = 42; @opens["x"] = count(); } tracepoint:syscalls:sys_enter_getppid /pid == `+pid+`/ { @calls = count(); }`)
	object := detach("run", fixture("openat.bpf.o"))
	// An object whose maps the client's configuration makes metrics.
	metricsFile := filepath.Join(t.TempDir(), "metrics.yaml")
	os.WriteFile(metricsFile, []byte(`metrics:
  - name: syscalls_total
    type: counter
    map: syscalls
    labels: [{member: tgid}, {member: id, name: syscall, decoder: syscall}]
`), 0o644)
	configured := detach("run", exportFixture(t), "--set", "targ_tgid="+pid, "--only", "count_syscalls", "--metrics", metricsFile)
	// A detached run returns once the session has started, before its
	// probes are attached: wait until both counters count (the script's
	// BEGIN runs once its probes are attached; the object counts this
	// process's system calls, the scrapes' among them).
	attached := regexp.MustCompile(`(?s)waggle_answer\{session="` + script + `"\} 42\n.*waggle_syscalls_total\{session="` + configured + `",`)
	for deadline := time.Now().Add(20 * time.Second); !attached.MatchString(scrape()); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the script and the object were not attached within 20s:\n%s", scrape())
		}
	}
	const n = 37
	for range n {
		syscall.Getppid()
	}
	wantScript := []string{
		`waggle_answer{session="` + script + `"} 42`,
		`waggle_opens{key0="x",session="` + script + `"} 1`,
		`waggle_calls{session="` + script + `"} ` + strconv.Itoa(n),
		`waggle_syscalls_total{session="` + configured + `",syscall="getppid",tgid="` + pid + `"} ` + strconv.Itoa(n),
	}
	wantObject := regexp.MustCompile(`waggle_program_runs_total\{[^}]*session="` + object + `"[^}]*\} \d+`)
	// The script's getppid probe counts its runs too: this test's, and
	// any other process's getppid meanwhile.
	wantScriptRuns := regexp.MustCompile(`waggle_program_runs_total\{[^}]*name="tracepoint:syscalls:sys_enter_getppid"[^}]*session="` + script + `"[^}]*\} (\d+)\n`)
	var body string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		body = scrape()
		if strings.Contains(body, wantScript[0]) && wantObject.MatchString(body) {
			break
		}
	}
	for _, w := range wantScript {
		if !strings.Contains(body, w+"\n") {
			t.Errorf("no %q in the scrape:\n%s", w, body)
		}
	}
	if m := wantScriptRuns.FindStringSubmatch(body); m == nil {
		t.Errorf("no run count of the script's probe in the scrape:\n%s", body)
	} else if runs, _ := strconv.Atoi(m[1]); runs < n {
		t.Errorf("the script's probe ran %d times, fewer than this test's %d calls", runs, n)
	}
	if !wantObject.MatchString(body) {
		t.Errorf("no program statistics of session %s in the scrape:\n%s", object, body)
	}
	// A real Prometheus scrapes the agent and answers PromQL with the
	// counts this test made.
	t.Run("prometheus", func(t *testing.T) {
		prom := startPrometheus(t, prometheusBinary(t), strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/metrics"))
		expectPromQL(t, prom, map[string]float64{
			`waggle_calls{session="` + script + `"}`:                     n,
			`waggle_answer{session="` + script + `"}`:                    42,
			`count(waggle_program_runs_total{session="` + object + `"})`: 1,
			`up{job="waggle"}`: 1,
			`waggle_syscalls_total{session="` + configured + `",syscall="getppid"}`: n,
		})
	})
	// A configuration that does not fit the object is refused before
	// anything is sent; without --remote, --metrics has no meaning.
	os.WriteFile(metricsFile, []byte("metrics: [{name: x, type: counter, map: no_such_map}]\n"), 0o644)
	if r := waggle(t, "run", "--remote", addr, exportFixture(t), "--metrics", metricsFile); r.code != 1 || !strings.Contains(r.stderr, "no_such_map") {
		t.Errorf("a configuration naming a missing map:\n%s", r)
	}
	if r := waggle(t, "run", exportFixture(t), "--metrics", metricsFile); r.code != 1 || !strings.Contains(r.stderr, "--metrics applies to runs in an agent") {
		t.Errorf("--metrics without --remote:\n%s", r)
	}
	for _, id := range []string{script, object, configured} {
		if r := waggle(t, "agent", "stop", id, "--remote", addr); r.code != 0 {
			t.Errorf("agent stop %s:\n%s", id, r)
		}
	}
	if body := scrape(); strings.Contains(body, `session="`) {
		t.Errorf("stopped sessions still exported:\n%s", body)
	}
}
