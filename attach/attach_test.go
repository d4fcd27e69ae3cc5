package attach

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/internal/kerneltest"
)

func TestCgroupV2Root(t *testing.T) {
	root, err := CgroupV2Root()
	if err != nil {
		t.Skipf("no cgroup v2 here: %v", err)
	}
	st, err := os.Stat(root)
	if err != nil || !st.IsDir() {
		t.Fatalf("CgroupV2Root() = %q, not a directory: %v", root, err)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(root, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Errorf("CgroupV2Root() = %q has fs magic %#x, want cgroup2 (%#x)", root, fs.Type, unix.CGROUP2_SUPER_MAGIC)
	}
}

func TestCgroup2MountPoint(t *testing.T) {
	const hybrid = `22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
25 22 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
`
	tests := []struct {
		mountinfo, want string
		ok              bool
	}{
		{hybrid, "/sys/fs/cgroup/unified", true},
		{"30 1 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n", "/sys/fs/cgroup", true},
		// No optional fields before the separator.
		{"30 1 0:26 / /cg rw - cgroup2 none rw", "/cg", true},
		// Spaces and backslashes in mount points are octal escapes.
		{`30 1 0:26 / /mnt/my\040cgroup\134x rw - cgroup2 none rw`, `/mnt/my cgroup\x`, true},
		// cgroup (v1) is not cgroup2, and the fstype is after " - ".
		{"27 25 0:25 / /sys/fs/cgroup/cgroup2 rw - cgroup cgroup rw,name=cgroup2\n", "", false},
		{"", "", false},
		{"garbage\n - \n1 2 - cgroup2\n", "", false},
	}
	for _, tc := range tests {
		got, ok := cgroup2MountPoint(tc.mountinfo)
		if got != tc.want || ok != tc.ok {
			t.Errorf("cgroup2MountPoint(%q) = %q, %v; want %q, %v", tc.mountinfo, got, ok, tc.want, tc.ok)
		}
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/sys/fs/cgroup", "/sys/fs/cgroup"},
		{`/a\040b`, "/a b"},
		{`/a\011b\012c`, "/a\tb\nc"},
		{`/a\134b`, `/a\b`},
		{`/a\040`, "/a "},
		{`/a\04`, `/a\04`},   // too short to be an escape
		{`/a\999`, `/a\999`}, // not octal
		{`\`, `\`},
	}
	for _, tc := range tests {
		if got := unescapeMountinfo(tc.in); got != tc.want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHtons(t *testing.T) {
	for _, v := range []uint16{0, 1, unix.ETH_P_ALL, unix.ETH_P_IP, 0x1234, 0xffff} {
		var got [2]byte
		binary.NativeEndian.PutUint16(got[:], htons(v))
		if want := binary.BigEndian.AppendUint16(nil, v); got[0] != want[0] || got[1] != want[1] {
			t.Errorf("htons(%#x) is stored as % x, want % x", v, got, want)
		}
	}
}

func TestIsPermission(t *testing.T) {
	for _, err := range []error{unix.EPERM, unix.EACCES, fmt.Errorf("load: %w", unix.EPERM)} {
		if !IsPermission(err) {
			t.Errorf("IsPermission(%v) = false", err)
		}
	}
	for _, err := range []error{nil, unix.ENOENT, errors.New("operation not permitted")} {
		if IsPermission(err) {
			t.Errorf("IsPermission(%v) = true", err)
		}
	}
}

// TestAttachErrors covers the refusals that come before the kernel is
// asked anything, so they need no program.
func TestAttachErrors(t *testing.T) {
	const missing = "waggle-no-such-if"
	tests := []struct {
		t    Target
		opts Options
		want string
	}{
		{Target{Kind: KindUprobe, Section: "uprobe"}, Options{},
			`attach uprobe: section "uprobe" names no uprobe target; give one with --attach PROGRAM=BINARY:SYMBOL`},
		{Target{Kind: KindUretprobe, Section: "uretprobe"}, Options{},
			`attach uretprobe: section "uretprobe" names no uretprobe target; give one with --attach PROGRAM=BINARY:SYMBOL`},
		{Target{Kind: KindTracepoint, Section: "tracepoint"}, Options{},
			`attach tracepoint::: section "tracepoint" names no tracepoint target; give one with --attach PROGRAM=GROUP:NAME`},
		{Target{Kind: KindKprobe, Section: "kprobe"}, Options{},
			`attach kprobe:: section "kprobe" names no kprobe target; give one with --attach PROGRAM=FUNCTION`},
		{Target{Kind: KindKretsyscall, Section: "kretsyscall"}, Options{},
			`attach kretsyscall:: section "kretsyscall" names no kretsyscall target; give one with --attach PROGRAM=SYSCALL`},
		{Target{Kind: KindRawTracepoint, Section: "raw_tp"}, Options{},
			`attach raw_tracepoint:: section "raw_tp" names no raw_tracepoint target; give one with --attach PROGRAM=NAME`},
		{Target{Kind: KindUprobe, Uprobe: UprobeTarget{Binary: "./app"}}, Options{},
			`attach uprobe:./app:0x0: address 0 cannot be probed; give a symbol or a nonzero address`},
		{Target{Kind: KindXDP}, Options{},
			`attach xdp:: xdp programs need an interface: use --iface NAME`},
		{Target{Kind: KindTC}, Options{},
			`attach tc::ingress: tc programs need an interface: use --iface NAME`},
		{Target{Kind: KindSocket}, Options{},
			`attach socket:: socket programs need an interface: use --iface NAME`},
		{Target{Kind: KindXDP, Interface: missing}, Options{Interface: "lo"},
			`attach xdp:waggle-no-such-if: no such interface`},
		{Target{Kind: KindTC, Egress: true}, Options{Interface: missing},
			`attach tc::egress: interface "waggle-no-such-if" does not exist`},
		{Target{Kind: KindSocket}, Options{Interface: missing},
			`attach socket:: interface "waggle-no-such-if" does not exist`},
		{Target{Kind: KindCgroup, AttachType: ebpf.AttachCGroupInetEgress}, Options{Cgroup: "/nonexistent/waggle"},
			`attach cgroup:CGroupInetEgress: cgroup /nonexistent/waggle does not exist`},
		{Target{Kind: KindCgroup, AttachType: ebpf.AttachCGroupInetEgress}, Options{Cgroup: "/etc/hostname"},
			`attach cgroup:CGroupInetEgress: cgroup /etc/hostname does not exist`},
		{Target{Section: "mystery"}, Options{},
			`attach mystery: section "mystery": no attach mechanism`},
	}
	for _, tc := range tests {
		a, err := Attach(nil, tc.t, tc.opts)
		if err == nil {
			a.Close()
			t.Errorf("Attach(%+v) succeeded", tc.t)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("Attach(%+v)\n got  %s\n want %s", tc.t, err, tc.want)
		}
	}
}

func TestAttachKprobeUnavailable(t *testing.T) {
	if KprobesAvailable() {
		t.Skip("this kernel has kprobes; TestAttachKprobeKernel attaches them")
	}
	for _, k := range []Kind{KindKprobe, KindKretprobe, KindKsyscall, KindKretsyscall} {
		_, err := Attach(nil, Target{Kind: k, Name: "do_sys_openat2"}, Options{})
		if !errors.Is(err, ErrKprobesUnavailable) {
			t.Errorf("%v: %v, want ErrKprobesUnavailable", k, err)
		}
	}
}

// loadObject loads the named programs of a testdata object (all of them
// when none are named) and closes the collection when the test ends.
func loadObject(t *testing.T, object string, programs ...string) *ebpf.Collection {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(filepath.Join("..", "testdata", object))
	if err != nil {
		t.Fatal(err)
	}
	if len(programs) > 0 {
		keep := map[string]bool{}
		for _, p := range programs {
			if spec.Programs[p] == nil {
				t.Fatalf("%s has no program %s", object, p)
			}
			keep[p] = true
		}
		for name := range spec.Programs {
			if !keep[name] {
				delete(spec.Programs, name)
			}
		}
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatalf("load %s: %v", object, err)
	}
	t.Cleanup(func() {
		coll.Close()
		// cilium/ebpf memory-maps .rodata and .bss and unmaps them only
		// when the garbage collector finds them unreachable; until then
		// the kernel keeps those maps and the leak check would see them.
		coll = nil
		runtime.GC()
	})
	return coll
}

// parseProgram is ParseSection on a loaded program's section.
func parseProgram(t *testing.T, object, program string) Target {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(filepath.Join("..", "testdata", object))
	if err != nil {
		t.Fatal(err)
	}
	ps := spec.Programs[program]
	tgt, err := ParseSection(ps.SectionName, ps.Type, ps.AttachType)
	if err != nil {
		t.Fatal(err)
	}
	return tgt
}

// counter reads key 0 of an ARRAY map of u64 counters.
func counter(t *testing.T, m *ebpf.Map) uint64 {
	t.Helper()
	var v uint64
	if err := m.Lookup(uint32(0), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// newLinks is how many links exist now that did not at before.
func newLinks(before kerneltest.IDs) int {
	return len(kerneltest.Snapshot().New(before).Links)
}

func ensureTracefs(t *testing.T) {
	t.Helper()
	if _, err := EnsureTracefs(); err != nil {
		t.Fatal(err)
	}
}

func openSomething(t *testing.T) {
	t.Helper()
	for range 5 {
		f, err := os.Open("/proc/self/stat")
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}

func TestTracefsMounted(t *testing.T) {
	kerneltest.Require(t)
	if _, err := EnsureTracefs(); err != nil {
		t.Fatal(err)
	}
	if !TracefsMounted() {
		t.Fatal("TracefsMounted() = false after EnsureTracefs")
	}
	// Mounted now, so a second call has nothing to do.
	if mounted, err := EnsureTracefs(); mounted || err != nil {
		t.Errorf("second EnsureTracefs() = %v, %v; want false, nil", mounted, err)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(TracefsPath, &fs); err == nil && fs.Type != unix.TRACEFS_MAGIC {
		// Only the debugfs location can be mounted; it must be tracefs.
		if err := unix.Statfs("/sys/kernel/debug/tracing", &fs); err != nil || fs.Type != unix.TRACEFS_MAGIC {
			t.Errorf("TracefsMounted() but neither location is tracefs")
		}
	}
	if _, err := os.Stat(TracefsPath + "/events/syscalls"); err != nil {
		t.Errorf("tracefs has no syscall events: %v", err)
	}
}

func TestAttachTracepointKernel(t *testing.T) {
	kerneltest.Require(t)
	ensureTracefs(t)
	coll := loadObject(t, "three.bpf.o", "tp_openat")
	count := coll.Maps["openat_count"]
	tgt := parseProgram(t, "three.bpf.o", "tp_openat")

	before := kerneltest.Snapshot()
	a, err := Attach(coll.Programs["tp_openat"], tgt, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Target(); got != tgt {
		t.Errorf("Target() = %+v, want %+v", got, tgt)
	}
	if n := newLinks(before); n != 1 {
		t.Errorf("%d new links after attaching one tracepoint", n)
	}
	openSomething(t)
	if n := counter(t, count); n == 0 {
		t.Error("tracepoint did not fire on openat")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	kerneltest.CheckNoLeaks(t, before)

	n := counter(t, count)
	openSomething(t)
	if m := counter(t, count); m != n {
		t.Errorf("openat count went from %d to %d after Close", n, m)
	}
}

func TestAttachTracepointMissingKernel(t *testing.T) {
	kerneltest.Require(t)
	ensureTracefs(t)
	coll := loadObject(t, "three.bpf.o", "tp_openat")
	tgt, err := parseProgram(t, "three.bpf.o", "tp_openat").Override("syscalls:sys_enter_waggle_nonexistent")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Attach(coll.Programs["tp_openat"], tgt, Options{})
	if err == nil {
		a.Close()
		t.Fatal("attached to a tracepoint that does not exist")
	}
	const want = "attach tracepoint:syscalls:sys_enter_waggle_nonexistent: no such tracepoint (the list is in /sys/kernel/tracing/events)"
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
}

func TestAttachRawTracepointKernel(t *testing.T) {
	kerneltest.Require(t)
	coll := loadObject(t, "rawtp.bpf.o")
	prog := coll.Programs["count_sys_enter"]
	tgt := parseProgram(t, "rawtp.bpf.o", "count_sys_enter")

	before := kerneltest.Snapshot()
	a, err := Attach(prog, tgt, Options{})
	if err != nil {
		t.Fatal(err)
	}
	openSomething(t)
	var key uint32
	var v uint64
	if !coll.Maps["syscalls"].Iterate().Next(&key, &v) {
		t.Error("raw_tp/sys_enter counted no syscalls")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	kerneltest.CheckNoLeaks(t, before)

	missing, err := tgt.Override("waggle_no_such_tracepoint")
	if err != nil {
		t.Fatal(err)
	}
	if a, err := Attach(prog, missing, Options{}); err == nil {
		a.Close()
		t.Error("attached to a raw tracepoint that does not exist")
	} else if want := `attach raw_tracepoint:waggle_no_such_tracepoint: no such raw tracepoint`; err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}

	noName := Target{Kind: KindRawTracepoint, Section: "raw_tp"}
	if a, err := Attach(prog, noName, Options{}); err == nil {
		a.Close()
		t.Error("attached a raw tracepoint with no name")
	} else if !strings.Contains(err.Error(), `section "raw_tp" names no raw_tracepoint target`) {
		t.Errorf("no name: %v", err)
	}
}

func runChild(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

func TestAttachTpBTFKernel(t *testing.T) {
	kerneltest.Require(t)
	coll := loadObject(t, "alt.bpf.o", "exec_btf")
	tgt := parseProgram(t, "alt.bpf.o", "exec_btf")
	a, err := Attach(coll.Programs["exec_btf"], tgt, Options{})
	if err != nil {
		t.Fatal(err)
	}
	runChild(t, "/bin/true")
	if n := counter(t, coll.Maps["execs"]); n == 0 {
		t.Error("tp_btf/sched_process_exec did not fire on exec")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestAttachKprobeKernel attaches kprobes where the kernel has them; this
// machine's kernel is built without CONFIG_KPROBES, so there it checks the
// error instead (the programs still load: only the attach is missing).
func TestAttachKprobeKernel(t *testing.T) {
	kerneltest.Require(t)
	ensureTracefs(t)
	coll := loadObject(t, "kprobe.bpf.o")
	for _, name := range []string{"open_kprobe", "open_kretprobe", "openat_ksyscall"} {
		tgt := parseProgram(t, "kprobe.bpf.o", name)
		a, err := Attach(coll.Programs[name], tgt, Options{})
		if !KprobesAvailable() {
			if err == nil {
				a.Close()
				t.Errorf("%s: attached though KprobesAvailable() is false", name)
			} else if !errors.Is(err, ErrKprobesUnavailable) {
				t.Errorf("%s: %v, want ErrKprobesUnavailable", name, err)
			} else if want := "attach " + tgt.String() + ": kprobes are not available"; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("%s: %q, want it to start with %q", name, err, want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if err := a.Close(); err != nil {
			t.Errorf("%s: Close: %v", name, err)
		}
	}
}

// sendUDP sends a few datagrams to 127.0.0.1:4242, which net.bpf.o counts.
func sendUDP(t *testing.T) {
	t.Helper()
	c, err := net.Dial("udp4", "127.0.0.1:4242")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 5 {
		c.Write([]byte("waggle"))
	}
	time.Sleep(20 * time.Millisecond)
}

func TestAttachSocketKernel(t *testing.T) {
	kerneltest.Require(t)
	coll := loadObject(t, "net.bpf.o", "sock_count")
	tgt := parseProgram(t, "net.bpf.o", "sock_count")
	a, err := Attach(coll.Programs["sock_count"], tgt, Options{Interface: "lo"})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Target().String(); got != "socket:lo" {
		t.Errorf("Target() = %s, want socket:lo", got)
	}
	s := a.(*socketAttachment)
	fd := s.fd
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil || !strings.HasPrefix(link, "socket:") {
		t.Fatalf("fd %d is %q, %v; want a socket", fd, link, err)
	}
	sendUDP(t)
	packets := coll.Maps["sock_packets"]
	if n := counter(t, packets); n == 0 {
		t.Error("socket filter on lo saw no UDP packets to port 4242")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if s.fd != -1 {
		t.Errorf("fd is %d after Close, want -1", s.fd)
	}
	if now, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd)); err == nil && now == link {
		t.Errorf("fd %d is still %s after Close", fd, link)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	n := counter(t, packets)
	sendUDP(t)
	if m := counter(t, packets); m != n {
		t.Errorf("socket filter count went from %d to %d after Close", n, m)
	}
}

func TestAttachXDPAndTCKernel(t *testing.T) {
	kerneltest.Require(t)
	coll := loadObject(t, "net.bpf.o", "xdp_count", "tc_count")
	for _, tc := range []struct{ prog, counter, want string }{
		{"xdp_count", "xdp_packets", "xdp:lo"},
		{"tc_count", "tc_packets", "tc:lo:ingress"},
	} {
		tgt := parseProgram(t, "net.bpf.o", tc.prog)
		prog := coll.Programs[tc.prog]

		_, err := Attach(prog, tgt, Options{Interface: "waggle-no-such-if"})
		if want := fmt.Sprintf(`attach %s: interface "waggle-no-such-if" does not exist`, tgt); err == nil || err.Error() != want {
			t.Errorf("%s on a missing interface: %v, want %s", tc.prog, err, want)
		}

		before := kerneltest.Snapshot()
		a, err := Attach(prog, tgt, Options{Interface: "lo"})
		if err != nil {
			t.Errorf("%s: %v", tc.prog, err)
			continue
		}
		if got := a.Target().String(); got != tc.want {
			t.Errorf("%s: Target() = %s, want %s", tc.prog, got, tc.want)
		}
		sendUDP(t)
		if n := counter(t, coll.Maps[tc.counter]); n == 0 {
			t.Errorf("%s on lo saw no UDP packets to port 4242", tc.prog)
		}
		if err := a.Close(); err != nil {
			t.Errorf("%s: Close: %v", tc.prog, err)
		}
		kerneltest.CheckNoLeaks(t, before)
	}
}

func TestAttachUprobeKernel(t *testing.T) {
	kerneltest.Require(t)
	ensureTracefs(t)
	coll := loadObject(t, "uprobe_libc.bpf.o")
	prog := coll.Programs["count_getpid"]

	// The generic uprobe section names no target.
	_, err := Attach(prog, parseProgram(t, "uprobe.bpf.o", "on_enter"), Options{})
	const want = `attach uprobe: section "uprobe" names no uprobe target; give one with --attach PROGRAM=BINARY:SYMBOL`
	if err == nil || err.Error() != want {
		t.Errorf("uprobe without a target: %v\nwant %s", err, want)
	}

	tgt := parseProgram(t, "uprobe_libc.bpf.o", "count_getpid")
	before := kerneltest.Snapshot()
	a, err := Attach(prog, tgt, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := newLinks(before); n != 1 {
		t.Errorf("%d new links after one uprobe", n)
	}
	// dash and bash both call libc's getpid as they start.
	cmd := exec.Command("/bin/sh", "-c", "echo $$")
	if out, err := cmd.Output(); err != nil {
		t.Errorf("/bin/sh: %v", err)
	} else {
		var calls uint64
		if err := coll.Maps["calls"].Lookup(uint32(cmd.Process.Pid), &calls); err != nil || calls == 0 {
			t.Errorf("uprobe on libc getpid saw no call from /bin/sh (pid %s): %v", strings.TrimSpace(string(out)), err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	kerneltest.CheckNoLeaks(t, before)

	bad, err := tgt.Override("libc.so.6:waggle_no_such_symbol")
	if err != nil {
		t.Fatal(err)
	}
	if a, err := Attach(prog, bad, Options{}); err == nil {
		a.Close()
		t.Error("attached to a symbol that does not exist")
	} else if !strings.HasPrefix(err.Error(), `attach uprobe:libc.so.6:waggle_no_such_symbol: no such symbol in /`) {
		t.Errorf("missing symbol: %v", err)
	}
}

func TestAttachCgroupKernel(t *testing.T) {
	kerneltest.Require(t)
	root, err := CgroupV2Root()
	if err != nil {
		kerneltest.Skip(t, err.Error())
	}
	dir := filepath.Join(root, fmt.Sprintf("waggle-attach-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Remove(dir); err != nil {
			t.Errorf("remove test cgroup: %v", err)
		}
	})
	coll := loadObject(t, "cgroup.bpf.o")

	var atts []Attachment
	before := kerneltest.Snapshot()
	for _, name := range []string{"count_egress", "count_sysctl"} {
		tgt := parseProgram(t, "cgroup.bpf.o", name)
		a, err := Attach(coll.Programs[name], tgt, Options{Cgroup: dir})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		atts = append(atts, a)
	}
	if n := newLinks(before); n != 2 {
		t.Errorf("%d new links after two cgroup attachments", n)
	}

	// A process started in the cgroup reads a sysctl: cgroup/sysctl counts it.
	cg, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("cat", "/proc/sys/kernel/ostype")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
	out, err := cmd.CombinedOutput()
	cg.Close()
	if err != nil {
		t.Errorf("cat in the test cgroup: %v\n%s", err, out)
	} else if n := counter(t, coll.Maps["sysctl_reads"]); n == 0 {
		t.Error("cgroup/sysctl did not see a sysctl read in its cgroup")
	}

	for _, a := range atts {
		if err := a.Close(); err != nil {
			t.Errorf("%s: Close: %v", a.Target(), err)
		}
	}
	kerneltest.CheckNoLeaks(t, before)
}

func TestAttachIterKernel(t *testing.T) {
	kerneltest.Require(t)
	spec, err := ebpf.LoadCollectionSpec("../testdata/iter.bpf.o")
	if err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		if IsPermission(err) {
			// Like fentry, tracing programs may be refused (lockdown).
			t.Skipf("iterator programs cannot be loaded here: %v", err)
		}
		t.Fatal(err)
	}
	defer coll.Close()
	a, err := Attach(coll.Programs["dump_task"], parseProgram(t, "iter.bpf.o", "dump_task"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	it, ok := a.(Iterator)
	if !ok {
		t.Fatalf("Attach returned %T, not an Iterator", a)
	}
	var b strings.Builder
	if _, err := it.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("\n%d ", os.Getpid()); !strings.Contains("\n"+b.String(), want) {
		t.Errorf("task iterator output lacks this process (%d):\n%.500s", os.Getpid(), b.String())
	}
}

// perfEventFDs counts this process's open perf event file descriptors.
func perfEventFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.Contains(l, "perf_event") {
			n++
		}
	}
	return n
}

// TestAttachWrongProgramKernel hands every mechanism a program of the
// wrong type: each must fail with the target in the message and leave
// nothing behind, perf events included.
func TestAttachWrongProgramKernel(t *testing.T) {
	kerneltest.Require(t)
	ensureTracefs(t)
	coll := loadObject(t, "net.bpf.o", "sock_count", "xdp_count")
	sock, xdp := coll.Programs["sock_count"], coll.Programs["xdp_count"]
	tests := []struct {
		prog     *ebpf.Program
		t        Target
		contains string
	}{
		{sock, Target{Kind: KindTracepoint, Group: "syscalls", Name: "sys_enter_openat"}, ""},
		{sock, Target{Kind: KindRawTracepoint, Name: "sys_enter"}, ""},
		{sock, Target{Kind: KindTpBTF, Name: "sched_process_exec"}, ""},
		{sock, Target{Kind: KindFentry, Name: "do_unlinkat"}, ""},
		{sock, Target{Kind: KindXDP, Interface: "lo"}, ""},
		{sock, Target{Kind: KindTC, Interface: "lo"}, ""},
		{sock, Target{Kind: KindIter, Name: "task"}, ""},
		{sock, Target{Kind: KindPerfEvent}, "attach to perf event on CPU "},
		{sock, Target{Kind: KindUprobe, Uprobe: UprobeTarget{"libc.so.6", "getpid", 0}}, ""},
		{xdp, Target{Kind: KindSocket, Interface: "lo"}, "SO_ATTACH_BPF: "},
	}
	perfBefore := perfEventFDs(t)
	before := kerneltest.Snapshot()
	for _, tc := range tests {
		a, err := Attach(tc.prog, tc.t, Options{})
		if err == nil {
			a.Close()
			t.Errorf("%s: attached a %v program", tc.t, tc.prog.Type())
			continue
		}
		if prefix := "attach " + tc.t.String() + ": "; !strings.HasPrefix(err.Error(), prefix) {
			t.Errorf("%s: %q does not start with %q", tc.t, err, prefix)
		}
		if !strings.Contains(err.Error(), tc.contains) {
			t.Errorf("%s: %q does not contain %q", tc.t, err, tc.contains)
		}
	}
	if n := perfEventFDs(t); n != perfBefore {
		t.Errorf("%d perf event fds open after failed attaches, %d before", n, perfBefore)
	}
	kerneltest.CheckNoLeaks(t, before)
}

// TestEnsureTracefsMountsKernel unmounts tracefs in a private mount
// namespace of one OS thread, then checks that EnsureTracefs mounts it
// there. The thread is never unlocked, so it exits with its namespace and
// the rest of the process (and the machine) keeps its mounts.
func TestEnsureTracefsMountsKernel(t *testing.T) {
	kerneltest.Require(t)
	type result struct {
		skip                   string
		err                    error
		before, mounted, after bool
	}
	ch := make(chan result)
	go func() {
		runtime.LockOSThread()
		var r result
		defer func() { ch <- r }()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			r.skip = fmt.Sprintf("cannot make a private mount namespace: %v", err)
			return
		}
		// Without this, the unmounts below would propagate to the host.
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			r.skip = fmt.Sprintf("cannot make mounts private: %v", err)
			return
		}
		for _, dir := range []string{TracefsPath, "/sys/kernel/debug/tracing", "/sys/kernel/debug"} {
			for range 10 {
				if unix.Unmount(dir, unix.MNT_DETACH) != nil {
					break
				}
			}
		}
		if r.before = TracefsMounted(); r.before {
			r.skip = "tracefs stays mounted after unmounting it"
			return
		}
		r.mounted, r.err = EnsureTracefs()
		r.after = TracefsMounted()
	}()
	r := <-ch
	if r.skip != "" {
		t.Skip(r.skip)
	}
	if r.err != nil || !r.mounted || !r.after {
		t.Errorf("EnsureTracefs() without tracefs = %v, %v; TracefsMounted() after = %v", r.mounted, r.err, r.after)
	}
	if !TracefsMounted() {
		t.Error("tracefs is gone outside the test's mount namespace")
	}
}
