package inspect

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/attach"
	"golang.org/x/sys/unix"
)

// loadProg loads a program that returns ret, of type typ.
func loadProg(t *testing.T, name string, typ ebpf.ProgramType, at ebpf.AttachType, ret int32) *ebpf.Program {
	t.Helper()
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: name, Type: typ, AttachType: at, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, ret), asm.Return()},
	})
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func progID(t *testing.T, p *ebpf.Program) uint32 {
	t.Helper()
	info, err := p.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, ok := info.ID()
	if !ok {
		t.Fatal("program has no ID")
	}
	return uint32(id)
}

// attachPerfTracepoint attaches p to a tracepoint the old way, with
// PERF_EVENT_IOC_SET_BPF on a perf event and no link, and returns the
// perf event's descriptor.
func attachPerfTracepoint(t *testing.T, p *ebpf.Program, group, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(attach.TracefsPath, "events", group, name, "id"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	attr := unix.PerfEventAttr{
		Type: unix.PERF_TYPE_TRACEPOINT, Config: id, Sample: 1, Wakeup: 1,
		Size: uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
	}
	fd, err := unix.PerfEventOpen(&attr, -1, 0, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		t.Fatalf("perf_event_open %s:%s: %v", group, name, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_BPF, p.FD()); err != nil {
		t.Fatalf("PERF_EVENT_IOC_SET_BPF: %v", err)
	}
	if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_ENABLE, 0); err != nil {
		t.Fatalf("PERF_EVENT_IOC_ENABLE: %v", err)
	}
	return fd
}

// inNetns runs fn on a thread of its own in a new network namespace,
// which goes away with the thread when fn returns. Commands fn runs
// (ip, tc) run in the namespace too. fn reports with t.Error.
func inNetns(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		// The thread is never unlocked: it exits with the goroutine and
		// takes the namespace with it.
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("unshare the network namespace: %w", err)
			return
		}
		defer close(done)
		fn()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// run runs a command, reporting its output when it fails.
func run(t *testing.T, name string, args ...string) bool {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		return false
	}
	return true
}

// needCommand skips (or fails under WAGGLE_REQUIRE_KERNEL) without a tool.
func needCommand(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("WAGGLE_REQUIRE_KERNEL") != "" {
			t.Fatalf("%s is not installed (apt-get install iproute2)", name)
		}
		t.Skipf("%s is not installed (apt-get install iproute2)", name)
	}
}

func findAttach(as []AttachPoint, kind, target string) *AttachPoint {
	for i := range as {
		if as[i].Kind == kind && (target == "" || as[i].Target == target) {
			return &as[i]
		}
	}
	return nil
}

func hasPid(ps []Process, pid int) bool {
	for _, p := range ps {
		if p.PID == pid && p.Comm != "" {
			return true
		}
	}
	return false
}

func progByID(ps []ProgInfo, id uint32) *ProgInfo {
	for i := range ps {
		if ps[i].ID == id {
			return &ps[i]
		}
	}
	return nil
}
