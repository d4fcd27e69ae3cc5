package attach

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/internal/kerneltest"
)

func TestShorten(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"short", "short"},
		{strings.Repeat("a", MaxEcho), strings.Repeat("a", MaxEcho)},
		{strings.Repeat("a", MaxEcho+1), strings.Repeat("a", MaxEcho) + "..."},
		{strings.Repeat("a", 120000), strings.Repeat("a", MaxEcho) + "..."},
		// A character is not cut in half: é is 2 bytes, the 64th byte is
		// its first.
		{strings.Repeat("a", MaxEcho-1) + "é" + "b", strings.Repeat("a", MaxEcho-1) + "..."},
	} {
		if got := Shorten(tc.in); got != tc.want {
			t.Errorf("Shorten(%.80q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A user's long --attach value is quoted once, shortened, by every error
// that a bad target gives before the kernel is asked.
func TestLongTargetsShortened(t *testing.T) {
	long := strings.Repeat("v", 120000)
	tp := Target{Kind: KindTracepoint, Section: "tracepoint/a/b", Group: "a", Name: "b"}
	kp := Target{Kind: KindKprobe, Section: "kprobe/f", Name: "f"}
	up := Target{Kind: KindUprobe, Section: "uprobe"}
	tc := Target{Kind: KindTC, Section: "tc"}
	pe := Target{Kind: KindPerfEvent, Section: "perf_event"}
	var errs []error
	for _, c := range []struct {
		t     Target
		value string
	}{
		{tp, long}, {kp, "f+" + long}, {up, long}, {up, "bin:sym+1" + strings.Repeat("1", 120000)}, {up, "bin:0x" + long},
		{tc, "eth0:" + long}, {pe, long},
	} {
		_, err := c.t.Override(c.value)
		if err == nil {
			t.Errorf("%s: %.40s... accepted", c.t.Kind, c.value)
			continue
		}
		errs = append(errs, err)
	}
	_, err := ResolveBinary("/"+long, 0)
	errs = append(errs, err)
	_, err = ResolveBinary(long, 0)
	errs = append(errs, err)
	for _, err := range errs {
		msg := err.Error()
		if len(msg) > 2000 || strings.Contains(msg, strings.Repeat("v", MaxEcho+1)) || strings.Contains(msg, strings.Repeat("1", MaxEcho+1)) {
			t.Errorf("%d bytes: %.300s", len(msg), msg)
		}
	}
}

// Errors from attaching name the target once: Attach's prefix names it,
// what follows does not repeat it.
func TestAttachErrorsNameTargetOnce(t *testing.T) {
	const path = "/nonexistent-waggle/bin"
	tgt, err := Target{Kind: KindUprobe, Section: "uprobe"}.Override(path + ":f")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Attach(nil, tgt, Options{})
	if err == nil || strings.Count(err.Error(), path) != 1 || !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("missing binary: %v", err)
	}
	// ResolveBinary on its own still names what it looked for.
	if _, err := ResolveBinary(path, 0); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("ResolveBinary: %v", err)
	}
}

func TestCheckCgroup2(t *testing.T) {
	root, err := CgroupV2Root()
	if err != nil {
		t.Skipf("no cgroup v2 here: %v", err)
	}
	if err := checkCgroup2(root); err != nil {
		t.Errorf("the cgroup v2 root %s: %v", root, err)
	}
	dir := t.TempDir()
	want := fmt.Sprintf("%s is not a cgroup v2 directory (cgroup v2 is mounted at %s)", dir, root)
	if err := checkCgroup2(dir); err == nil || err.Error() != want {
		t.Errorf("checkCgroup2(%s) = %v, want %q", dir, err, want)
	}
	// Attach refuses it before asking the kernel, which would say EBADF.
	_, err = Attach(nil, Target{Kind: KindCgroup}, Options{Cgroup: dir})
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("Attach to %s: %v", dir, err)
	}
}

func TestIsContextRefusal(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		// cilium/ebpf formats the link's errno with %v.
		{errors.New("cannot create bpf perf link: permission denied"), true},
		{fmt.Errorf("setting perf event bpf program: %w", unix.EACCES), true},
		{fmt.Errorf("opening tracepoint perf event: %w", unix.EACCES), false},
		{errors.New("cannot create bpf perf link: operation not permitted"), false},
		{fmt.Errorf("setting perf event bpf program: %w", unix.EINVAL), false},
	} {
		if got := isContextRefusal(tc.err); got != tc.want {
			t.Errorf("isContextRefusal(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestMaxSampleRateHint(t *testing.T) {
	data, err := os.ReadFile(MaxSampleRatePath)
	if err != nil {
		t.Skipf("no %s: %v", MaxSampleRatePath, err)
	}
	limit := strings.TrimSpace(string(data))
	want := fmt.Sprintf(": the frequency is above the kernel's limit, %s Hz (%s)", limit, MaxSampleRatePath)
	if got := maxSampleRateHint(1 << 62); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := maxSampleRateHint(1); !strings.Contains(got, MaxSampleRatePath+" is "+limit) {
		t.Errorf("below the limit: %q", got)
	}
}

// A program that reads more of its context than the tracepoint's record
// holds is refused with EACCES when linked: Attach says why.
func TestAttachTracepointContextKernel(t *testing.T) {
	kerneltest.Require(t)
	ensureTracefs(t)
	coll := loadObject(t, "openat.bpf.o", "trace_openat")
	tgt, err := parseProgram(t, "openat.bpf.o", "trace_openat").Override("syscalls:sys_enter_getpid")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Attach(coll.Programs["trace_openat"], tgt, Options{})
	if err == nil {
		a.Close()
		t.Fatal("attached a program reading openat's arguments to getpid's tracepoint")
	}
	var tce *TracepointContextError
	if !errors.As(err, &tce) || tce.Group != "syscalls" || tce.Name != "sys_enter_getpid" {
		t.Fatalf("error %v (%T), want a *TracepointContextError", err, errors.Unwrap(err))
	}
	want := "the kernel refused to attach program trace_openat to tracepoint syscalls:sys_enter_getpid (permission denied): the program reads beyond this tracepoint's record; it was probably written for another tracepoint"
	if got := tce.Describe("trace_openat"); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// A frequency above the kernel's limit is refused with EINVAL; the error
// says where the limit is and what it is.
func TestAttachPerfEventFrequencyLimitKernel(t *testing.T) {
	kerneltest.Require(t)
	coll := loadObject(t, "perf_event.bpf.o")
	var name string
	for n := range coll.Programs {
		name = n
	}
	_, err := Attach(coll.Programs[name], Target{Kind: KindPerfEvent}, Options{Frequency: 1 << 40})
	if err == nil {
		t.Fatal("sampled at 2^40 Hz")
	}
	if !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), MaxSampleRatePath) || !strings.Contains(err.Error(), "above the kernel's limit") {
		t.Errorf("error %v", err)
	}
}
