package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goldenfile "github.com/wagglebpf/waggle/internal/golden"

	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/session"
)

// openUnique opens a path that exists nowhere else, n times, from this
// process (it need not exist: the tracepoint fires on the attempt).
func openUnique(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("waggle-probe-%d-%d", os.Getpid(), time.Now().UnixNano()))
	for i := 0; i < n; i++ {
		if f, err := os.Open(path); err == nil {
			f.Close()
		}
	}
	return path
}

func TestRunTracepointText(t *testing.T) {
	requireKernel(t)
	for _, obj := range []string{"openat.bpf.o", "openat_perf.bpf.o"} {
		t.Run(obj, func(t *testing.T) {
			bg := startWaggle(t, "run", fixture(obj), "--set", fmt.Sprintf("target_pid=%d", os.Getpid()))
			path := openUnique(t, 3)
			time.Sleep(200 * time.Millisecond)
			r := bg.stop(t)
			if r.code != 0 {
				t.Fatalf("waggle failed\n%s", r)
			}
			lines := strings.Split(r.stdout, "\n")
			if !regexp.MustCompile(`^PID\s+UID\s+FLAGS\s+COMM\s+FILENAME$`).MatchString(lines[0]) {
				t.Errorf("first line is not the event header: %q", lines[0])
			}
			var hits int
			for _, l := range lines {
				if strings.HasSuffix(l, path) {
					hits++
					if f := strings.Fields(l); len(f) < 5 || f[0] != strconv.Itoa(os.Getpid()) {
						t.Errorf("event line %q does not start with our pid %d", l, os.Getpid())
					}
				} else if f := strings.Fields(l); len(f) >= 5 && f[0] != "PID" && !strings.HasPrefix(l, "@") && f[0] != strconv.Itoa(os.Getpid()) {
					t.Errorf("target_pid filter let through %q", l)
				}
			}
			if hits != 3 {
				t.Errorf("found %d events for %s, want 3\n%s", hits, path, r)
			}
		})
	}
}

func TestRunTracepointJSON(t *testing.T) {
	requireKernel(t)
	bg := startWaggle(t, "run", fixture("openat.bpf.o"), "-o", "json", "--set", fmt.Sprintf("target_pid=%d", os.Getpid()))
	path := openUnique(t, 2)
	time.Sleep(200 * time.Millisecond)
	r := bg.stop(t)
	if r.code != 0 {
		t.Fatalf("waggle failed\n%s", r)
	}
	var events, maps int
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var line struct {
			Type string          `json:"type"`
			Map  string          `json:"map"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		switch line.Type {
		case "event":
			var ev struct {
				PID      int    `json:"pid"`
				Comm     string `json:"comm"`
				Filename string `json:"filename"`
			}
			if err := json.Unmarshal(line.Data, &ev); err != nil {
				t.Fatalf("event %s: %v", line.Data, err)
			}
			if ev.PID != os.Getpid() {
				t.Errorf("event from pid %d got through the filter", ev.PID)
			}
			if ev.Filename == path {
				events++
			}
		case "map":
			var m map[string]map[string]uint64
			if err := json.Unmarshal(line.Data, &m); err != nil {
				t.Fatalf("map %s: %v", line.Data, err)
			}
			for k, v := range m["@counts"] {
				if strings.HasPrefix(k, strconv.Itoa(os.Getpid())+",") && v >= 2 {
					maps++
				}
			}
		}
	}
	if events != 2 {
		t.Errorf("found %d JSON events for %s, want 2\n%s", events, path, r)
	}
	if maps != 1 {
		t.Errorf("no @counts entry for our pid with at least 2 opens\n%s", r)
	}
}

// buildTarget compiles the uprobe target program.
func buildTarget(t *testing.T) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Fatalf("the uprobe test needs a C compiler (apt-get install gcc): %v", err)
	}
	bin := filepath.Join(t.TempDir(), "uprobe_target")
	if out, err := exec.Command(cc, "-O1", "-o", bin, fixture("uprobe_target.c")).CombinedOutput(); err != nil {
		t.Fatalf("build uprobe target: %v\n%s", err, out)
	}
	return bin
}

func TestRunUprobeHistAndStructKeys(t *testing.T) {
	requireKernel(t)
	bin := buildTarget(t)
	target := bin + ":waggle_target"
	r := waggle(t, "run", fixture("uprobe.bpf.o"), "--attach", "on_enter="+target, "--attach", "on_return="+target, "-c", bin)
	if r.code != 0 {
		t.Fatalf("waggle failed\n%s", r)
	}
	// Events: 9 entries and 9 returns, with arguments and return values.
	var enters, returns []string
	for _, l := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(l)
		if len(f) == 4 && f[1] == "KIND_ENTER" {
			enters = append(enters, f[2])
		}
		if len(f) == 4 && f[1] == "KIND_RETURN" {
			returns = append(returns, f[2])
		}
	}
	if got, want := strings.Join(enters, ","), "0,1,2,3,5,8,100,1000,1000"; got != want {
		t.Errorf("uprobe arguments %s, want %s\n%s", got, want, r)
	}
	if got, want := strings.Join(returns, ","), "0,2,4,6,10,16,200,2000,2000"; got != want {
		t.Errorf("uretprobe values %s, want %s\n%s", got, want, r)
	}
	// Maps: the bcc-style hist and the struct-keyed hash, compared whole.
	_, maps, ok := strings.Cut(r.stdout, "\n\n")
	if !ok {
		t.Fatalf("no map output after the events\n%s", r)
	}
	golden(t, "uprobe_maps.golden", maps)
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got)
}

func TestRunUprobeLibrary(t *testing.T) {
	requireKernel(t)
	bin := buildTarget(t)
	r := waggle(t, "run", fixture("uprobe_libc.bpf.o"), "-v", "-c", bin)
	if r.code != 0 {
		t.Fatalf("waggle failed\n%s", r)
	}
	if !strings.Contains(r.stderr, "attached count_getpid to uprobe:libc.so.6:getpid") {
		t.Errorf("no attach note for the libc uprobe\n%s", r)
	}
	if !regexp.MustCompile(`(?m)^@calls\[\d+\]: [1-9]\d*$`).MatchString(r.stdout) {
		t.Errorf("no getpid call counted\n%s", r)
	}
}

func TestRunRawTracepoint(t *testing.T) {
	requireKernel(t)
	bg := startWaggle(t, "run", fixture("rawtp.bpf.o"), "--set", fmt.Sprintf("target_pid=%d", os.Getpid()))
	openUnique(t, 5)
	r := bg.stop(t)
	if r.code != 0 {
		t.Fatalf("waggle failed\n%s", r)
	}
	// openat is syscall 257 on x86_64, 56 on arm64.
	nr := map[string]string{"amd64": "257", "arm64": "56"}[runtime.GOARCH]
	m := regexp.MustCompile(`(?m)^@syscalls\[` + nr + `\]: (\d+)$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no openat count in @syscalls\n%s", r)
	}
	if n, _ := strconv.Atoi(m[1]); n < 5 {
		t.Errorf("counted %d openat calls, want at least 5", n)
	}
}

func TestRunPerfEvent(t *testing.T) {
	requireKernel(t)
	r := waggle(t, "run", fixture("perf_event.bpf.o"), "--freq", "99", "-c", "sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'")
	if r.code != 0 {
		t.Fatalf("waggle failed\n%s", r)
	}
	m := regexp.MustCompile(`(?m)^@total: (\d+)$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no @total samples\n%s", r)
	}
	if n, _ := strconv.Atoi(m[1]); n < 1 {
		t.Errorf("%d samples", n)
	}
	if !regexp.MustCompile(`(?m)^@samples\[\d+\]: [1-9]`).MatchString(r.stdout) {
		t.Errorf("no per-CPU sample count\n%s", r)
	}
}

// netns makes a network namespace with a veth pair: the host end has
// 10.213.77.1/30, the namespace end (ifname "wgl0") 10.213.77.2/30.
// Both ends and the namespace exist only for this test.
func netns(t *testing.T) (ns string) {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("network tests need iproute2 (apt-get install iproute2): %v", err)
	}
	ns = fmt.Sprintf("wgl%d", os.Getpid()%100000)
	host := "wglh" + ns[3:]
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	exec.Command("ip", "netns", "del", ns).Run()
	exec.Command("ip", "link", "del", host).Run()
	run("netns", "add", ns)
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", host).Run()
		exec.Command("ip", "netns", "del", ns).Run()
	})
	run("link", "add", host, "type", "veth", "peer", "name", "wgl0", "netns", ns)
	run("addr", "add", "10.213.77.1/30", "dev", host)
	run("link", "set", host, "up")
	run("-n", ns, "addr", "add", "10.213.77.2/30", "dev", "wgl0")
	run("-n", ns, "link", "set", "wgl0", "up")
	run("-n", ns, "link", "set", "lo", "up")
	return ns
}

func TestRunNetworkPrograms(t *testing.T) {
	requireKernel(t)
	ns := netns(t)
	bg := startWaggleIn(t, []string{"ip", "netns", "exec", ns}, "run", fixture("net.bpf.o"), "--iface", "wgl0")
	send := func(port, n int) {
		// Unconnected, so that ICMP port-unreachable replies do not fail
		// later writes: nothing listens on these ports.
		conn, err := net.ListenUDP("udp4", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		to := &net.UDPAddr{IP: net.IPv4(10, 213, 77, 2), Port: port}
		for i := 0; i < n; i++ {
			if _, err := conn.WriteToUDP([]byte("waggle"), to); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// Datagrams to another port resolve the neighbour first and must not
	// count; then 10 to port 4242 must count exactly.
	send(4343, 3)
	time.Sleep(300 * time.Millisecond)
	send(4242, 10)
	time.Sleep(300 * time.Millisecond)
	r := bg.stop(t)
	if r.code != 0 {
		t.Fatalf("waggle failed\n%s", r)
	}
	for _, m := range []string{"xdp_packets", "tc_packets", "sock_packets"} {
		if !strings.Contains(r.stdout, "@"+m+": 10\n") {
			t.Errorf("want @%s: 10\n%s", m, r)
		}
	}
}

func TestRunCgroupPrograms(t *testing.T) {
	requireKernel(t)
	root, err := attach.CgroupV2Root()
	if err != nil {
		t.Fatal(err)
	}
	cg := filepath.Join(root, fmt.Sprintf("waggle-test-%d", os.Getpid()))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(cg) })
	// The command moves itself into the cgroup, reads two sysctls and sends
	// three datagrams over loopback.
	script := fmt.Sprintf(`echo $$ > %s/cgroup.procs && cat /proc/sys/kernel/ostype /proc/sys/kernel/osrelease >/dev/null && for i in 1 2 3; do echo $i > /dev/udp/127.0.0.1/9; done`, cg)
	r := waggle(t, "run", fixture("cgroup.bpf.o"), "--cgroup", cg, "-c", "bash -c '"+script+"'")
	if r.code != 0 {
		t.Fatalf("waggle failed\n%s", r)
	}
	if m := regexp.MustCompile(`(?m)^@sysctl_reads: (\d+)$`).FindStringSubmatch(r.stdout); m == nil || m[1] < "2" {
		t.Errorf("want at least 2 sysctl reads\n%s", r)
	}
	if m := regexp.MustCompile(`(?m)^@egress_packets: (\d+)$`).FindStringSubmatch(r.stdout); m == nil {
		t.Errorf("want egress packets counted\n%s", r)
	} else if n, _ := strconv.Atoi(m[1]); n < 3 {
		t.Errorf("counted %d egress packets, want at least 3\n%s", n, r)
	}
}

func TestRunAlternatives(t *testing.T) {
	requireKernel(t)
	// The exec hook: tp_btf where the kernel loads it, raw_tp otherwise.
	want, other := "exec_raw (raw_tracepoint), not exec_btf", "tp_btf is not usable here"
	if session.ProbeTracing(attach.KindTpBTF, "sched_process_exec") == nil {
		want, other = "exec_btf (tp_btf), not exec_raw", "the kernel supports tp_btf"
	}
	// The command execs /bin/true once it runs: the exec is seen however
	// the command itself was started.
	r := waggle(t, "run", fixture("alt.bpf.o"), "-v", "--skip", "unlink_fentry,unlink_kprobe", "-c", "sh -c '/bin/true; true'")
	if r.code != 0 {
		t.Fatalf("waggle failed\n%s", r)
	}
	if !strings.Contains(r.stderr, "sched_process_exec has alternatives: using "+want+"; "+other) {
		t.Errorf("no note on the choice of %s\n%s", want, r)
	}
	if !regexp.MustCompile(`(?m)^@execs: [1-9]`).MatchString(r.stdout) {
		t.Errorf("exec not counted\n%s", r)
	}

	// The unlink hook: fentry where it loads; else kprobe, whose attach
	// fails with the reason where the kernel has no kprobes (as here).
	r = waggle(t, "run", fixture("alt.bpf.o"), "-v", "--duration", "1s")
	if session.ProbeTracing(attach.KindFentry, "do_unlinkat") == nil {
		if r.code != 0 || !strings.Contains(r.stderr, "using unlink_fentry (fentry), not unlink_kprobe") {
			t.Fatalf("want unlink_fentry chosen and attached\n%s", r)
		}
		return
	}
	if !strings.Contains(r.stderr, "do_unlinkat has alternatives: using unlink_kprobe (kprobe), not unlink_fentry; fentry is not usable here") {
		t.Errorf("no note on the choice of unlink_kprobe\n%s", r)
	}
	if attach.KprobesAvailable() {
		if r.code != 0 {
			t.Fatalf("waggle failed on a kernel with kprobes\n%s", r)
		}
		return
	}
	if r.code != 1 || !strings.Contains(r.stderr, "waggle: program unlink_kprobe: attach kprobe:do_unlinkat: kprobes are not available on this kernel") {
		t.Errorf("want exit 1 with the kprobe message\n%s", r)
	}
}

func TestRunKprobeOnly(t *testing.T) {
	requireKernel(t)
	if attach.KprobesAvailable() {
		t.Skip("this kernel has kprobes; the test is for kernels without them")
	}
	r := waggle(t, "run", fixture("kprobe.bpf.o"), "--duration", "1s")
	want := "waggle: program open_kprobe: attach kprobe:do_sys_openat2: kprobes are not available on this kernel"
	if r.code != 1 || !strings.HasPrefix(r.stderr, want) {
		t.Errorf("want exit 1 and %q\n%s", want, r)
	}
	// Loading alone works: the kernel's verifier accepts kprobe programs.
	r = waggle(t, "run", fixture("kprobe.bpf.o"), "--only", "open_kretprobe", "--duration", "1s")
	if !strings.Contains(r.stderr, "kretprobe:do_sys_openat2: kprobes are not available") {
		t.Errorf("kretprobe: want the kprobe message\n%s", r)
	}
}

func TestRunIterator(t *testing.T) {
	requireKernel(t)
	r := waggle(t, "run", fixture("iter.bpf.o"))
	if r.code != 0 {
		t.Fatalf("waggle failed\n%s", r)
	}
	// The iterator walks every task, this test's own process included.
	if !regexp.MustCompile(`(?m)^` + strconv.Itoa(os.Getpid()) + ` \S+$`).MatchString(r.stdout) {
		t.Errorf("no line for pid %d in the task iterator's output\n%s", os.Getpid(), r)
	}
}

func TestRunOptionalSections(t *testing.T) {
	requireKernel(t)
	r := waggle(t, "run", fixture("optional.bpf.o"), "-v", "-c", "cat /etc/hostname")
	if r.code != 0 {
		t.Fatalf("waggle failed\n%s", r)
	}
	if !strings.Contains(r.stderr, "maybe: section ?tracepoint/syscalls/sys_enter_openat is not loaded by default") || !strings.Contains(r.stdout, "@always_count: ") || strings.Contains(r.stdout, "@maybe_count") {
		t.Errorf("the ? section was loaded, or the other was not\n%s", r)
	}
	r = waggle(t, "run", fixture("optional.bpf.o"), "--only", "maybe", "-c", "cat /etc/hostname")
	if r.code != 0 || !strings.Contains(r.stdout, "@maybe_count: ") || strings.Contains(r.stdout, "@always_count") {
		t.Errorf("--only maybe did not load just maybe\n%s", r)
	}
}

func TestRunList(t *testing.T) {
	r := waggle(t, "run", fixture("openat.bpf.o"), "--list")
	if r.code != 0 {
		t.Fatalf("--list failed\n%s", r)
	}
	for _, want := range []string{
		"trace_openat  tracepoint/syscalls/sys_enter_openat  TracePoint  tracepoint:syscalls:sys_enter_openat",
		"counts  Hash     struct count_key",
		"target_pid  __u32",
		"tag         char[8]",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--list lacks %q\n%s", want, r)
		}
	}
	// A pointer cannot be set with --set, so it is not listed as settable.
	if strings.Contains(r.stdout, "unused_event") {
		t.Errorf("--list shows the pointer unused_event as settable\n%s", r)
	}

	// Network programs need an interface, which their sections never name.
	r = waggle(t, "run", fixture("net.bpf.o"), "--list")
	for _, prog := range []string{"sock_count", "tc_count", "xdp_count"} {
		if !regexp.MustCompile(`(?m)^` + prog + `\s.*\s\(needs --iface\)$`).MatchString(r.stdout) {
			t.Errorf("--list does not say %s needs --iface\n%s", prog, r)
		}
	}
	if strings.Contains(r.stdout, "xdp:") || strings.Contains(r.stdout, "tc::") || strings.Contains(r.stdout, "socket:") {
		t.Errorf("--list shows targets without an interface\n%s", r)
	}

	// A perf event array gets one entry per CPU when it is loaded.
	r = waggle(t, "run", fixture("openat_perf.bpf.o"), "--list")
	if !regexp.MustCompile(`(?m)^events\s+PerfEventArray\s+-\s+-\s+per CPU$`).MatchString(r.stdout) {
		t.Errorf("--list does not show the perf event array as per CPU\n%s", r)
	}
}

func TestRunBadInput(t *testing.T) {
	dir := t.TempDir()
	notELF := filepath.Join(dir, "notes.txt")
	os.WriteFile(notELF, []byte("just text\n"), 0o644)
	obj, err := os.ReadFile(fixture("openat.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.o")
	os.WriteFile(truncated, obj[:len(obj)/3], 0o644)

	cases := []struct {
		name   string
		kernel bool
		args   []string
		want   string
	}{
		{"missing file", false, []string{"run", filepath.Join(dir, "nope.o")}, "no such file or directory"},
		{"not ELF", false, []string{"run", notELF}, "is not an ELF object file"},
		{"truncated ELF", false, []string{"run", truncated}, "not a usable BPF object: the file is truncated or corrupt (EOF)"},
		{"directory", false, []string{"run", dir}, dir + " is a directory, not a BPF object file"},
		{"unknown --event-type", false, []string{"run", fixture("openat.bpf.o"), "--event-type", "struct nope"}, `--event-type: no type named "nope" in the object's BTF`},
		{"--freq 0", false, []string{"run", fixture("perf_event.bpf.o"), "--freq", "0"}, "--freq 0: the sampling frequency must be at least 1 Hz"},
		{"--perf-pages 3", false, []string{"run", fixture("openat_perf.bpf.o"), "--perf-pages", "3"}, "--perf-pages 3: must be a power of two"},
		{"--perf-pages 0", false, []string{"run", fixture("openat_perf.bpf.o"), "--perf-pages", "0"}, "--perf-pages 0: must be a power of two"},
		{"negative --duration", false, []string{"run", fixture("openat.bpf.o"), "--duration", "-1s"}, "--duration -1s: must not be negative"},
		{"negative --interval", false, []string{"run", fixture("openat.bpf.o"), "--interval", "-1s"}, "--interval -1s: must not be negative"},
		{"empty -c", false, []string{"run", fixture("openat.bpf.o"), "-c", ""}, "-c: empty command"},
		{"blank -c", false, []string{"run", fixture("openat.bpf.o"), "-c", "  "}, "-c: empty command"},
		{"unknown --set name", false, []string{"run", fixture("openat.bpf.o"), "--set", "nope=1"}, `no variable "nope" in the object; settable variables: enabled, tag, target_pid`},
		{"--set wrong type", false, []string{"run", fixture("openat.bpf.o"), "--set", "target_pid=abc"}, `--set target_pid (__u32): "abc" is not an integer`},
		{"--set out of range", false, []string{"run", fixture("openat.bpf.o"), "--set", "target_pid=-1"}, `--set target_pid (__u32): -1 is out of range`},
		{"--set bool", false, []string{"run", fixture("openat.bpf.o"), "--set", "enabled=maybe"}, `"maybe" is not true or false`},
		{"--set long string", false, []string{"run", fixture("openat.bpf.o"), "--set", "tag=muchtoolong"}, `the array holds 8 including the terminating NUL`},
		{"bad -o", false, []string{"run", fixture("openat.bpf.o"), "-o", "xml"}, "-o xml: expected text or json"},
		{"unknown section", true, []string{"run", fixture("bad_section.bpf.o")}, `program mystery: unknown section "nonsense/thing"`},
		{"verifier rejects", true, []string{"run", fixture("reject.bpf.o")}, "program bad_deref (section tracepoint/syscalls/sys_enter_openat) was rejected by the kernel verifier"},
		{"missing uprobe binary", true, []string{"run", fixture("uprobe.bpf.o"), "--attach", "on_enter=/no/such/bin:f", "--only", "on_enter"}, "/no/such/bin"},
		{"missing uprobe symbol", true, []string{"run", fixture("uprobe.bpf.o"), "--attach", "on_enter=/bin/true:no_such_symbol", "--only", "on_enter"}, `attach uprobe:/bin/true:no_such_symbol: no such symbol in /bin/true`},
		{"uprobe without target", true, []string{"run", fixture("uprobe.bpf.o"), "--only", "on_enter"}, `section "uprobe" names no uprobe target; give one with --attach PROGRAM=BINARY:SYMBOL`},
		{"missing tracepoint", true, []string{"run", fixture("openat.bpf.o"), "--attach", "trace_openat=syscalls:sys_enter_nope"}, "attach tracepoint:syscalls:sys_enter_nope: no such tracepoint"},
		{"tracepoint with a smaller record", true, []string{"run", fixture("openat.bpf.o"), "--attach", "trace_openat=syscalls:sys_enter_getpid"},
			"waggle: the kernel refused to attach program trace_openat to tracepoint syscalls:sys_enter_getpid (permission denied): the program reads beyond this tracepoint's record; it was probably written for another tracepoint\n"},
		{"--freq above the limit", true, []string{"run", fixture("perf_event.bpf.o"), "--freq", "100000000"}, "the frequency is above the kernel's limit"},
		{"unknown program", true, []string{"run", fixture("openat.bpf.o"), "--only", "nope"}, `no program "nope" in the object; it has: trace_openat`},
		{"network program without iface", true, []string{"run", fixture("net.bpf.o"), "--only", "xdp_count"}, "xdp programs need an interface: use --iface NAME"},
		{"missing iface", true, []string{"run", fixture("net.bpf.o"), "--only", "xdp_count", "--iface", "nosuch0"}, `interface "nosuch0" does not exist`},
		{"missing cgroup", true, []string{"run", fixture("cgroup.bpf.o"), "--cgroup", "/sys/fs/cgroup/no/such"}, "does not exist"},
		{"cgroup not v2", true, []string{"run", fixture("cgroup.bpf.o"), "--cgroup", dir}, dir + " is not a cgroup v2 directory (cgroup v2 is mounted at "},
		{"bad -c", true, []string{"run", fixture("openat.bpf.o"), "-c", "/no/such/command"}, "-c: exec: \"/no/such/command\""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.kernel {
				requireKernel(t)
			}
			r := waggle(t, c.args...)
			if r.code != 1 {
				t.Errorf("exit %d, want 1\n%s", r.code, r)
			}
			if !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr lacks %q\n%s", c.want, r)
			}
			if !strings.HasPrefix(r.stderr, "waggle: ") {
				t.Errorf("error does not start with \"waggle: \"\n%s", r)
			}
		})
	}
}

func TestRunVerifierLog(t *testing.T) {
	requireKernel(t)
	r := waggle(t, "run", fixture("reject.bpf.o"))
	if !strings.Contains(r.stderr, "R0 invalid mem access 'map_value_or_null'") {
		t.Errorf("the verifier's own words are missing\n%s", r)
	}
	short := strings.Count(r.stderr, "\n")
	r = waggle(t, "run", "-v", fixture("reject.bpf.o"))
	if long := strings.Count(r.stderr, "\n"); long < short {
		t.Errorf("-v shows %d lines, fewer than the %d without it", long, short)
	}
}

func TestRunWithoutPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		// Already unprivileged: waggle must explain, not fail with EPERM.
		r := waggle(t, "run", fixture("openat.bpf.o"))
		if r.code != 1 || !strings.Contains(r.stderr, "waggle: loading eBPF programs needs root, or the CAP_BPF and CAP_PERFMON capabilities") {
			t.Errorf("want the privileges sentence\n%s", r)
		}
		return
	}
	// As root, drop to nobody for one run.
	os.Chmod(filepath.Dir(waggleBin), 0o755)
	abs, _ := filepath.Abs(fixture("openat.bpf.o"))
	cmd := exec.Command(waggleBin, "run", abs)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("want exit 1, got %v\n%s", err, out)
	}
	want := "waggle: loading eBPF programs needs root, or the CAP_BPF and CAP_PERFMON capabilities (try sudo)\n"
	if string(out) != want {
		t.Errorf("got %q, want %q", out, want)
	}
}

func TestRunMountsTracefs(t *testing.T) {
	requireKernel(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatalf("needs unshare (util-linux): %v", err)
	}
	// In a private mount namespace without tracefs, waggle mounts it, says
	// so once, and attaches a tracepoint.
	script := `umount /sys/kernel/tracing 2>/dev/null; umount /sys/kernel/debug/tracing 2>/dev/null; umount /sys/kernel/debug 2>/dev/null; exec "$0" "$@"`
	r := waggleIn(t, []string{"unshare", "--mount", "--propagation", "private", "sh", "-c", script}, "run", fixture("openat.bpf.o"), "--duration", "100ms")
	if r.code != 0 {
		t.Fatalf("waggle failed\n%s", r)
	}
	if n := strings.Count(r.stderr, "waggle: mounted tracefs at /sys/kernel/tracing\n"); n != 1 {
		t.Errorf("said %d times that it mounted tracefs, want once\n%s", n, r)
	}
}

func TestRunPerCPUAndInterval(t *testing.T) {
	requireKernel(t)
	busy := "sh -c 'i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done'"
	r := waggle(t, "run", fixture("perf_event.bpf.o"), "--per-cpu", "--interval", "100ms", "-c", busy)
	if r.code != 0 {
		t.Fatalf("waggle failed\n%s", r)
	}
	if !regexp.MustCompile(`(?m)^@total\[cpu=\d+\]: [1-9]\d*$`).MatchString(r.stdout) {
		t.Errorf("--per-cpu did not print per-CPU lines\n%s", r)
	}
	// Printed at every interval and at exit: more than one @samples block.
	if n := len(regexp.MustCompile(`(?m)^@samples\[`).FindAllString(r.stdout, -1)); n < 2 {
		t.Errorf("--interval printed maps %d times\n%s", n, r)
	}
	// Each dump, the last included, starts with the time it was taken.
	dumps := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\n(@[a-z]+\[[^\n]*\n)+`).FindAllString(r.stdout, -1)
	if n := len(regexp.MustCompile(`(?m)^@total\[`).FindAllString(r.stdout, -1)); len(dumps) < 2 || n == 0 {
		t.Errorf("%d dumps under a time header\n%s", len(dumps), r)
	}
	if !regexp.MustCompile(`^\d\d:\d\d:\d\d\n`).MatchString(r.stdout) {
		t.Errorf("output does not start with a time header\n%s", r)
	}
	if last := strings.LastIndex(r.stdout, "\n\n"); last < 0 || !regexp.MustCompile(`^\n\n\d\d:\d\d:\d\d\n@`).MatchString(r.stdout[last:]) {
		t.Errorf("the final dump has no time header\n%s", r)
	}

	r = waggle(t, "run", fixture("perf_event.bpf.o"), "--interval", "100ms", "-o", "json", "-c", busy)
	if r.code != 0 {
		t.Fatalf("waggle failed\n%s", r)
	}
	if n := len(regexp.MustCompile(`(?m)^\{"type": "time", "data": "\d\d:\d\d:\d\d"\}$`).FindAllString(r.stdout, -1)); n < 2 {
		t.Errorf("%d time lines in JSON\n%s", n, r)
	}
}

func TestRunUprobeJSONMaps(t *testing.T) {
	requireKernel(t)
	bin := buildTarget(t)
	target := bin + ":waggle_target"
	r := waggle(t, "run", fixture("uprobe.bpf.o"), "-o", "json", "--only", "on_enter", "--attach", "on_enter="+target, "-c", bin)
	if r.code != 0 {
		t.Fatalf("waggle failed\n%s", r)
	}
	var maps []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if !json.Valid([]byte(l)) {
			t.Fatalf("not JSON: %q", l)
		}
		if !strings.HasPrefix(l, `{"type": "event"`) {
			maps = append(maps, l)
		}
	}
	golden(t, "uprobe_maps_json.golden", strings.Join(maps, "\n")+"\n")
}

func TestRunReportsLostPerfRecords(t *testing.T) {
	requireKernel(t)
	bg := startWaggle(t, "run", fixture("openat_perf.bpf.o"), "--perf-pages", "1", "--set", fmt.Sprintf("target_pid=%d", os.Getpid()))
	// All records go to CPU 0's buffer: the kernel reports a buffer's
	// losses with that buffer's next record.
	// The thread stays locked: it exits with the test instead of going back
	// to the scheduler pinned to one CPU.
	runtime.LockOSThread()
	var cpu0 unix.CPUSet
	cpu0.Set(0)
	if err := unix.SchedSetaffinity(0, &cpu0); err != nil {
		t.Fatal(err)
	}
	// While waggle is stopped nothing drains the one-page buffer, so most
	// of these 500 records (about 180 bytes each) cannot fit.
	bg.cmd.Process.Signal(syscall.SIGSTOP)
	openUnique(t, 500)
	bg.cmd.Process.Signal(syscall.SIGCONT)
	time.Sleep(200 * time.Millisecond)
	// The kernel writes its "lost N" record into a perf buffer with the
	// next record that fits, so send a few more once there is room.
	openUnique(t, 5)
	time.Sleep(200 * time.Millisecond)
	r := bg.stop(t)
	if r.code != 0 {
		t.Fatalf("waggle failed\n%s", r)
	}
	m := regexp.MustCompile(`waggle: events: the kernel dropped (\d+) records \(perf buffer full\)`).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no report of dropped records (%d printed)\n%s", strings.Count(r.stdout, "waggle-probe-"), r.stderr)
	}
	lost, _ := strconv.Atoi(m[1])
	got := strings.Count(r.stdout, "waggle-probe-")
	if lost+got != 505 {
		t.Errorf("%d records printed + %d reported lost != 505 sent", got, lost)
	}
}

// pidsRunning lists the processes whose command line is exactly argv.
func pidsRunning(t *testing.T, argv ...string) []int {
	t.Helper()
	want := strings.Join(argv, "\x00") + "\x00"
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile("/proc/" + d.Name() + "/cmdline"); err == nil && string(b) == want {
			pids = append(pids, pid)
		}
	}
	return pids
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

// The -c command does not outlive waggle, however waggle stops, as with
// bpftrace.
func TestRunKillsCommandWhenStopping(t *testing.T) {
	requireKernel(t)
	for _, how := range []string{"duration", "SIGINT", "SIGTERM"} {
		t.Run(how, func(t *testing.T) {
			// A duration nobody else uses marks our sleep.
			secs := fmt.Sprintf("30.%d%d", os.Getpid(), time.Now().UnixNano()%1000000)
			args := []string{"run", fixture("openat.bpf.o"), "--set", "target_pid=1", "-c", "sleep " + secs}
			if how == "duration" {
				args = append(args, "--duration", "1s")
			}
			bg := startWaggle(t, args...)
			var pids []int
			for i := 0; i < 100 && len(pids) == 0; i++ {
				time.Sleep(10 * time.Millisecond)
				pids = pidsRunning(t, "sleep", secs)
			}
			if len(pids) != 1 {
				t.Fatalf("found %d processes running sleep %s", len(pids), secs)
			}
			switch how {
			case "SIGINT":
				bg.cmd.Process.Signal(syscall.SIGINT)
			case "SIGTERM":
				bg.cmd.Process.Signal(syscall.SIGTERM)
			}
			// The process only: cmd.Wait would also wait for the command,
			// which holds waggle's stdout.
			st, err := bg.cmd.Process.Wait()
			if err != nil || !st.Success() {
				t.Errorf("waggle: %v %v\n%s", st, err, bg.stderr)
			}
			if alive(pids[0]) {
				syscall.Kill(pids[0], syscall.SIGKILL)
				t.Errorf("the -c command (pid %d) still runs after waggle stopped by %s", pids[0], how)
			}
		})
	}
}

// In JSON, an iterator's output is one line of JSON per run.
func TestRunIteratorJSON(t *testing.T) {
	requireKernel(t)
	r := waggle(t, "run", fixture("iter.bpf.o"), "-o", "json")
	if r.code != 0 {
		t.Fatalf("waggle failed\n%s", r)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d lines of output, want one JSON line\n%.2000s", len(lines), r.stdout)
	}
	var it struct {
		Type, Program, Data string
	}
	if err := json.Unmarshal([]byte(lines[0]), &it); err != nil {
		t.Fatalf("not JSON: %v\n%.500s", err, lines[0])
	}
	if it.Type != "iter" || it.Program != "dump_task" || !strings.HasPrefix(lines[0], `{"type": "iter", "program": "dump_task", "data": "`) {
		t.Errorf("line %.200s", lines[0])
	}
	if !regexp.MustCompile(`(?m)^` + strconv.Itoa(os.Getpid()) + ` \S+$`).MatchString(it.Data) {
		t.Errorf("no line for pid %d in the iterator's data", os.Getpid())
	}
}

// tracefs is mounted only for objects that need it, and only once the
// plan is made: not for network or cgroup programs, not for a run that
// fails on a bad --attach.
func TestRunMountsTracefsOnlyWhenNeeded(t *testing.T) {
	requireKernel(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatalf("needs unshare (util-linux): %v", err)
	}
	root, err := attach.CgroupV2Root()
	if err != nil {
		t.Fatal(err)
	}
	// After waggle, the script says whether tracefs is mounted in the
	// private mount namespace.
	script := `umount /sys/kernel/tracing 2>/dev/null; umount /sys/kernel/debug/tracing 2>/dev/null; umount /sys/kernel/debug 2>/dev/null; "$0" "$@"; st=$?; grep -q ' - tracefs ' /proc/self/mountinfo && echo TRACEFS-MOUNTED >&2; exit $st`
	prefix := []string{"unshare", "--mount", "--propagation", "private", "sh", "-c", script}
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		mount bool
	}{
		{"cgroup programs", []string{"run", fixture("cgroup.bpf.o"), "--cgroup", root, "--duration", "100ms"}, 0, false},
		{"bad --attach", []string{"run", fixture("openat.bpf.o"), "--attach", "trace_openat=nogroup"}, 1, false},
		{"tracepoint", []string{"run", fixture("openat.bpf.o"), "--duration", "100ms"}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := waggleIn(t, prefix, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, tc.code, r)
			}
			said := strings.Contains(r.stderr, "waggle: mounted tracefs")
			mounted := strings.Contains(r.stderr, "TRACEFS-MOUNTED")
			if said != tc.mount || mounted != tc.mount {
				t.Errorf("said it mounted tracefs: %v, tracefs mounted: %v; want %v\n%s", said, mounted, tc.mount, r)
			}
		})
	}
}

// --event-type is checked before anything is loaded, and a type whose
// size is not the records' is used with a warning.
func TestRunEventTypeSize(t *testing.T) {
	requireKernel(t)
	bg := startWaggle(t, "run", fixture("openat.bpf.o"), "--set", fmt.Sprintf("target_pid=%d", os.Getpid()), "--event-type", "count_key")
	openUnique(t, 3)
	r := bg.stop(t)
	if r.code != 0 {
		t.Fatalf("waggle failed\n%s", r)
	}
	const warning = "waggle: events: struct count_key is 20 bytes, but a record is 156; printing the first 20 bytes of such records\n"
	if n := strings.Count(r.stderr, warning); n != 1 {
		t.Errorf("warned %d times, want once: %q\n%s", n, warning, r)
	}
	lines := strings.Split(r.stdout, "\n")
	if !regexp.MustCompile(`^PID\s+COMM$`).MatchString(lines[0]) {
		t.Errorf("header %q, want count_key's fields", lines[0])
	}
	if !regexp.MustCompile(`(?m)^` + strconv.Itoa(os.Getpid()) + `\s+\S`).MatchString(r.stdout) {
		t.Errorf("no record decoded as count_key\n%s", r)
	}
}

// A user's long --set or --attach value is quoted once in an error, and
// only its first 64 bytes.
func TestRunLongValuesEchoedOnce(t *testing.T) {
	long := strings.Repeat("x", 120000)
	cases := []struct {
		name   string
		kernel bool
		args   []string
	}{
		{"--set integer", false, []string{"--set", "target_pid=" + long}},
		{"--set string", false, []string{"--set", "tag=" + long}},
		{"--set name", false, []string{"--set", long + "=1"}},
		{"--set without =", false, []string{"--set", long}},
		{"--attach without =", false, []string{"--attach", long}},
		{"--attach program", true, []string{"--attach", long + "=a:b"}},
		{"--attach tracepoint syntax", true, []string{"--attach", "trace_openat=" + long}},
		{"--attach missing tracepoint", true, []string{"--attach", "trace_openat=syscalls:" + long}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.kernel {
				requireKernel(t)
			}
			r := waggle(t, append([]string{"run", fixture("openat.bpf.o")}, c.args...)...)
			if r.code != 1 {
				t.Fatalf("exit %d\n%.2000s", r.code, r)
			}
			if len(r.stderr) > 400 || len(regexp.MustCompile(`x+\.\.\.`).FindAllString(r.stderr, -1)) != 1 || strings.Contains(r.stderr, strings.Repeat("x", 65)) {
				t.Errorf("%d bytes of error: %.600s", len(r.stderr), r.stderr)
			}
		})
	}
	// Short values too are quoted once.
	requireKernel(t)
	for _, c := range [][]string{
		{"--set", "target_pid=abcdef"},
		{"--attach", "trace_openat=syscalls:sys_enter_nope"},
		{"--attach", "trace_openat=nogroup"},
	} {
		r := waggle(t, append([]string{"run", fixture("openat.bpf.o")}, c...)...)
		_, value, _ := strings.Cut(c[1], "=")
		if value = strings.TrimPrefix(value, "syscalls:"); r.code != 1 || strings.Count(r.stderr, value) != 1 {
			t.Errorf("%s %s: %q is not quoted once\n%s", c[0], c[1], value, r)
		}
	}
}

// --pid filters uprobes only: waggle says so when nothing else would use it.
func TestRunPidWithoutUprobes(t *testing.T) {
	requireKernel(t)
	const warning = "waggle: --pid filters only uprobes, and this object attaches none\n"
	r := waggle(t, "run", fixture("rawtp.bpf.o"), "--pid", "1", "--duration", "100ms")
	if r.code != 0 || strings.Count(r.stderr, warning) != 1 {
		t.Errorf("want the --pid warning once\n%s", r)
	}
	bin := buildTarget(t)
	r = waggle(t, "run", fixture("uprobe.bpf.o"), "--only", "on_enter", "--attach", "on_enter="+bin+":waggle_target", "--pid", strconv.Itoa(os.Getpid()), "--duration", "100ms")
	if r.code != 0 || strings.Contains(r.stderr, "--pid filters") {
		t.Errorf("warned about --pid for an object with uprobes\n%s", r)
	}
}
