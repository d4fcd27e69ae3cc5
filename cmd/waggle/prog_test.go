package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/inspect"
)

// inProcess runs waggle's command tree in this process, as a user would
// type args, and returns what it printed and its error.
func inProcess(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newRootCommand()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errb.String(), err
}

// mustRun is inProcess for commands that must succeed.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, err := inProcess(t, args...)
	if err != nil {
		t.Fatalf("waggle %s: %v\n%s%s", strings.Join(args, " "), err, out, errs)
	}
	return out
}

// jsonLines decodes one JSON object per line into a slice of T.
func jsonLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var items []T
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var v T
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("not a JSON object per line: %v\n%s", err, out)
		}
		items = append(items, v)
	}
	return items
}

func loadAsm(t *testing.T, name string, typ ebpf.ProgramType, at ebpf.AttachType, ret int32) (*ebpf.Program, uint32) {
	t.Helper()
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: name, Type: typ, AttachType: at, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, ret), asm.Return()},
	})
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	t.Cleanup(func() { p.Close() })
	info, err := p.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	return p, uint32(id)
}

func linkIDOf(t *testing.T, l link.Link) uint32 {
	t.Helper()
	info, err := l.Info()
	if err != nil {
		t.Fatal(err)
	}
	return uint32(info.ID)
}

// cliFixture is a tracepoint program attached through a link and a
// cgroup program attached through a link to a cgroup this test makes.
type cliFixture struct {
	tp, cg         uint32
	tpLink, cgLink uint32
	cgroup         string
}

func loadCLIFixture(t *testing.T) *cliFixture {
	t.Helper()
	if _, err := attach.EnsureTracefs(); err != nil {
		t.Fatal(err)
	}
	f := &cliFixture{}
	tp, id := loadAsm(t, "wgl_cli_tp", ebpf.TracePoint, ebpf.AttachNone, 0)
	l, err := link.Tracepoint("syscalls", "sys_enter_getppid", tp, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	f.tp, f.tpLink = id, linkIDOf(t, l)

	root, err := attach.CgroupV2Root()
	if err != nil {
		t.Fatal(err)
	}
	f.cgroup = filepath.Join(root, fmt.Sprintf("waggle-cli-%d", os.Getpid()))
	if err := os.MkdirAll(f.cgroup, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(f.cgroup) })
	cg, id := loadAsm(t, "wgl_cli_cg", ebpf.CGroupSKB, ebpf.AttachCGroupInetIngress, 1)
	cl, err := link.AttachCgroup(link.CgroupOptions{Path: f.cgroup, Attach: ebpf.AttachCGroupInetIngress, Program: cg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	f.cg, f.cgLink = id, linkIDOf(t, cl)
	return f
}

func TestProgCLI(t *testing.T) {
	requireKernel(t)
	f := loadCLIFixture(t)
	self := os.Getpid()

	progs := jsonLines[inspect.ProgInfo](t, mustRun(t, "prog", "list", "-o", "json"))
	var tp *inspect.ProgInfo
	for i := range progs {
		if progs[i].ID == f.tp {
			tp = &progs[i]
		}
	}
	if tp == nil {
		t.Fatalf("prog list lacks program %d", f.tp)
	}
	if tp.Name != "wgl_cli_tp" || tp.Type != "tracepoint" || tp.Insns != 2 || len(tp.Pids) == 0 || tp.Pids[0].PID != self ||
		len(tp.Attach) != 1 || tp.Attach[0].Hook() != "tracepoint syscalls:sys_enter_getppid" || tp.Attach[0].LinkIDs[0] != f.tpLink {
		t.Errorf("prog list -o json: %+v", tp)
	}

	// bpftool's spellings pick the same program.
	for _, args := range [][]string{{"id", idArg(f.tp)}, {idArg(f.tp)}, {"name", "wgl_cli_tp"}, {"tag", tp.Tag}} {
		out := mustRun(t, append([]string{"prog", "show"}, args...)...)
		for _, want := range []string{"id:       " + idArg(f.tp), "name:     wgl_cli_tp", "insns:    2 (2 verified)",
			fmt.Sprintf("attached: tracepoint syscalls:sys_enter_getppid (link %d)", f.tpLink), fmt.Sprintf("(%d)", self)} {
			if !strings.Contains(out, want) {
				t.Errorf("prog show %s lacks %q:\n%s", strings.Join(args, " "), want, out)
			}
		}
	}
	list := mustRun(t, "prog", "list", "name", "wgl_cli_tp")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID ") || !strings.HasPrefix(lines[1], idArg(f.tp)+" ") ||
		!strings.HasSuffix(lines[1], fmt.Sprintf("tracepoint syscalls:sys_enter_getppid (link %d)", f.tpLink)) {
		t.Errorf("prog list name wgl_cli_tp:\n%s", list)
	}

	// Dumps.
	xl := mustRun(t, "prog", "dump", "id", idArg(f.tp))
	if xl != "   0: (b7) r0 = 0\n   1: (95) exit\n" {
		t.Errorf("prog dump:\n%s", xl)
	}
	if got := mustRun(t, "prog", "dump", "xlated", idArg(f.tp)); got != xl {
		t.Errorf("dump xlated differs from dump:\n%s", got)
	}
	ops := mustRun(t, "prog", "dump", idArg(f.tp), "--opcodes")
	if !strings.Contains(ops, "   0: (b7) r0 = 0\n      b7 00 00 00 00 00 00 00\n") {
		t.Errorf("prog dump --opcodes:\n%s", ops)
	}
	dumps := jsonLines[inspect.XlatedDump](t, mustRun(t, "prog", "dump", idArg(f.tp), "-o", "json"))
	if len(dumps) != 1 || len(dumps[0].Insns) != 2 || dumps[0].Insns[1].Text != "exit" || dumps[0].Name != "wgl_cli_tp" {
		t.Errorf("prog dump -o json: %+v", dumps)
	}
	if runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64" {
		jited := mustRun(t, "prog", "dump", "jited", idArg(f.tp), "--opcodes")
		if !strings.HasPrefix(jited, "wgl_cli_tp (0x") || !strings.Contains(jited, "ret") {
			t.Errorf("prog dump jited:\n%s", jited)
		}
		js := jsonLines[inspect.JitedDump](t, mustRun(t, "prog", "dump", idArg(f.tp), "--jited", "-o", "json"))
		if len(js) != 1 || js[0].Arch != runtime.GOARCH || len(js[0].Funcs) != 1 || len(js[0].Funcs[0].Insns) == 0 {
			t.Errorf("prog dump --jited -o json: %+v", js)
		}
	}

	// Pin, and find it by its pin.
	dir := filepath.Join(inspect.BPFFSPath, fmt.Sprintf("waggle-cli-%d", os.Getpid()))
	t.Cleanup(func() { os.RemoveAll(dir) })
	pin := filepath.Join(dir, "tp")
	if out := mustRun(t, "prog", "pin", "id", idArg(f.tp), pin); out != fmt.Sprintf("pinned id %d at %s\n", f.tp, pin) {
		t.Errorf("prog pin: %q", out)
	}
	pinned := jsonLines[inspect.ProgInfo](t, mustRun(t, "prog", "show", pin, "-o", "json"))
	if len(pinned) != 1 || pinned[0].ID != f.tp || len(pinned[0].Pinned) != 1 || pinned[0].Pinned[0] != pin {
		t.Errorf("prog show %s: %+v", pin, pinned)
	}

	// Profiling: BPF_PROG_TEST_RUN counts as runs while statistics are on.
	cg, err := ebpf.NewProgramFromID(ebpf.ProgramID(f.cg))
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	stop := make(chan struct{})
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		for {
			select {
			case <-stop:
				return
			default:
				cg.Benchmark(make([]byte, 64), 100, nil)
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	prof := jsonLines[inspect.RunStats](t, mustRun(t, "prog", "profile", "name", "wgl_cli_cg", "--duration", "400ms", "-o", "json"))
	close(stop)
	<-ran
	if len(prof) != 1 || prof[0].ID != f.cg || prof[0].RunCount < 100 || prof[0].Seconds == 0 {
		t.Errorf("prog profile: %+v", prof)
	}
}

func TestProgCLIErrors(t *testing.T) {
	requireKernel(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"prog", "show", "id", "4294967280"}, "there is no BPF program with ID 4294967280 (waggle prog list shows them): no such program"},
		{[]string{"prog", "show", "name", "wgl_no_such"}, "no loaded program has name wgl_no_such"},
		{[]string{"prog", "show", "bogus"}, `"bogus" is not a program: name one as ID, id ID, name NAME, tag TAG or pinned PATH`},
		{[]string{"prog", "show", "1", "2"}, `unexpected "2" after the program`},
		{[]string{"prog", "dump"}, "no program given"},
		{[]string{"prog", "dump", "1", "--xlated", "--jited"}, "choose one"},
		{[]string{"prog", "list", "-o", "yaml"}, "-o yaml: expected text or json"},
		{[]string{"prog", "pin", "id", "1"}, "give the program and then one path"},
		{[]string{"prog", "profile", "--enable-stats", "--disable-stats"}, "choose one"},
		{[]string{"link", "show", "4294967280"}, "there is no BPF link with ID 4294967280"},
		{[]string{"link", "detach", "id", "4294967280"}, "there is no BPF link with ID 4294967280"},
		{[]string{"link", "detach", "x"}, `"x" is not a link ID`},
		{[]string{"cgroup", "tree", os.TempDir()}, "is not in a cgroup v2 hierarchy"},
	} {
		_, _, err := inProcess(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("waggle %s: error %v, want %q", strings.Join(c.args, " "), err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("waggle %s: error of several lines: %q", strings.Join(c.args, " "), err)
		}
	}
	if !inspect.StatsEnabled() {
		_, _, err := inProcess(t, "prog", "profile")
		if err == nil || !strings.Contains(err.Error(), "run statistics are off (kernel.bpf_stats_enabled = 0)") {
			t.Errorf("prog profile with statistics off: %v", err)
		}
	}
}

func TestLinkCgroupPerfCLI(t *testing.T) {
	requireKernel(t)
	f := loadCLIFixture(t)
	self := os.Getpid()

	links := jsonLines[inspect.LinkInfo](t, mustRun(t, "link", "list", "-o", "json"))
	found := 0
	for _, l := range links {
		switch l.ID {
		case f.tpLink:
			found++
			if l.Type != "perf_event" || l.ProgID != f.tp || l.Attach.Hook() != "tracepoint syscalls:sys_enter_getppid" {
				t.Errorf("tracepoint link: %+v", l)
			}
		case f.cgLink:
			found++
			if l.Type != "cgroup" || l.ProgName != "wgl_cli_cg" || l.Attach.Target != f.cgroup || l.Attach.AttachType != "cgroup_inet_ingress" {
				t.Errorf("cgroup link: %+v", l)
			}
		}
	}
	if found != 2 {
		t.Errorf("link list -o json has %d of the 2 links", found)
	}
	show := mustRun(t, "link", "show", idArg(f.cgLink))
	if want := fmt.Sprintf("%d wgl_cli_cg  cgroup %s [cgroup_inet_ingress]", f.cg, f.cgroup); !strings.Contains(show, want) {
		t.Errorf("link show lacks %q:\n%s", want, show)
	}

	tree := strings.Fields(mustRun(t, "cgroup", "tree", f.cgroup))
	want := []string{"CGROUP", "ATTACH", "TYPE", "PROG", "LINK", "FLAGS", f.cgroup, "cgroup_inet_ingress", idArg(f.cg), "wgl_cli_cg", idArg(f.cgLink), "multi"}
	if fmt.Sprint(tree) != fmt.Sprint(want) {
		t.Errorf("cgroup tree: %q, want %q", tree, want)
	}

	perf := jsonLines[inspect.PerfAttachment](t, mustRun(t, "perf", "list", "-o", "json"))
	ok := false
	for _, p := range perf {
		if p.ProgID == f.tp && p.PID == self && p.Kind == "tracepoint" && p.Target == "syscalls:sys_enter_getppid" {
			ok = true
		}
	}
	if !ok {
		t.Errorf("perf list lacks this process's tracepoint program %d: %+v", f.tp, perf)
	}

	// Pin the cgroup link, detach it, and see the program gone from the
	// cgroup while the link object stays.
	dir := filepath.Join(inspect.BPFFSPath, fmt.Sprintf("waggle-cli-link-%d", os.Getpid()))
	t.Cleanup(func() { os.RemoveAll(dir) })
	if out := mustRun(t, "link", "pin", idArg(f.cgLink), filepath.Join(dir, "cg")); !strings.HasPrefix(out, "pinned link") {
		t.Errorf("link pin: %q", out)
	}
	if out := mustRun(t, "link", "detach", "id", idArg(f.cgLink)); out != fmt.Sprintf("detached link %d\n", f.cgLink) {
		t.Errorf("link detach: %q", out)
	}
	if tree := mustRun(t, "cgroup", "tree", f.cgroup); strings.Contains(tree, "wgl_cli_cg") {
		t.Errorf("the program is still attached after link detach:\n%s", tree)
	}
	_, _, err := inProcess(t, "link", "detach", idArg(f.tpLink))
	if err == nil || !strings.Contains(err.Error(), "perf_event link, which the kernel cannot detach") {
		t.Errorf("detaching a perf event link: %v", err)
	}
}

// net list runs as its own process in a network namespace, as users run
// it with ip netns exec.
func TestNetListCLI(t *testing.T) {
	requireKernel(t)
	ns := netns(t)
	_, id := loadAsm(t, "wgl_cli_xdp", ebpf.XDP, ebpf.AttachNone, 2)
	p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dir := filepath.Join(inspect.BPFFSPath, fmt.Sprintf("waggle-cli-net-%d", os.Getpid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := p.Pin(filepath.Join(dir, "xdp")); err != nil {
		t.Fatal(err)
	}
	// ip -n would remount /sys, where the pin is; nsenter enters only
	// the network namespace.
	inNS := func(args ...string) *exec.Cmd {
		return exec.Command("nsenter", append([]string{"--net=/run/netns/" + ns, "ip"}, args...)...)
	}
	if out, err := inNS("link", "set", "dev", "wgl0", "xdpgeneric", "pinned", filepath.Join(dir, "xdp")).CombinedOutput(); err != nil {
		t.Fatalf("ip link set xdpgeneric: %v\n%s", err, out)
	}
	t.Cleanup(func() { inNS("link", "set", "dev", "wgl0", "xdpgeneric", "off").Run() })

	r := waggleIn(t, []string{"ip", "netns", "exec", ns}, "net", "list", "-o", "json")
	if r.code != 0 {
		t.Fatalf("net list failed\n%s", r)
	}
	list := jsonLines[inspect.NetAttachment](t, r.stdout)
	if len(list) != 1 || list[0].Interface != "wgl0" || list[0].Kind != "xdp" || list[0].Hook != "generic" || list[0].ProgID != id || list[0].ProgName != "wgl_cli_xdp" || list[0].LinkID != 0 {
		t.Fatalf("net list in %s: %+v\n%s", ns, list, r)
	}
	r = waggleIn(t, []string{"ip", "netns", "exec", ns}, "net", "list")
	got := strings.Fields(r.stdout)
	want := []string{"INTERFACE", "IFINDEX", "KIND", "HOOK", "PROG", "LINK", "DETAIL", "wgl0", fmt.Sprint(list[0].Ifindex), "xdp", "generic", idArg(id), "wgl_cli_xdp", "-", "-"}
	if r.code != 0 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("net list: %q, want %q\n%s", got, want, r)
	}
}

// Without privileges every listing says so in one sentence instead of
// coming out empty.
func TestInspectWithoutPrivileges(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"prog", "list"}, "listing BPF programs needs root (CAP_SYS_ADMIN): run waggle with sudo"},
		{[]string{"link", "list"}, "listing BPF links needs root (CAP_SYS_ADMIN): run waggle with sudo"},
		{[]string{"net", "list"}, "listing network programs needs root (CAP_SYS_ADMIN): run waggle with sudo"},
		{[]string{"perf", "list"}, "listing perf event programs needs root (CAP_SYS_ADMIN): run waggle with sudo"},
		{[]string{"cgroup", "tree"}, "querying cgroup programs needs root (CAP_SYS_ADMIN): run waggle with sudo"},
		{[]string{"prog", "profile", "--duration", "10ms"}, "enabling BPF run statistics needs root (CAP_SYS_ADMIN): run waggle with sudo"},
	} {
		var r result
		if os.Geteuid() != 0 {
			r = waggle(t, c.args...)
		} else {
			os.Chmod(filepath.Dir(waggleBin), 0o755)
			cmd := exec.Command(waggleBin, c.args...)
			cmd.Dir = "/"
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			r = result{stdout: stdout.String(), stderr: stderr.String()}
			if ee, ok := err.(*exec.ExitError); ok {
				r.code = ee.ExitCode()
			}
		}
		if r.code != 1 || !strings.HasPrefix(r.stderr, "waggle: "+c.want) || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
			t.Errorf("waggle %s: want %q\n%s", strings.Join(c.args, " "), c.want, r)
		}
	}
}
