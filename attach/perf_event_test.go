package attach

import (
	"errors"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/internal/kerneltest"
)

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in   string
		want []int
	}{
		{"0", []int{0}},
		{"7", []int{7}},
		{"0-3", []int{0, 1, 2, 3}},
		{"0-3,5,7-8", []int{0, 1, 2, 3, 5, 7, 8}},
		{"2-2", []int{2}},
		{"0,2,4", []int{0, 2, 4}},
		{"1-2,", []int{1, 2}},
	}
	for _, tc := range tests {
		got, err := parseCPUList(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseCPUList(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseCPUListErrors(t *testing.T) {
	tests := []struct{ in, wantErr string }{
		{"", "is empty"},
		{",", "is empty"},
		{"a", `cpu list "a"`},
		{"-1", `cpu list "-1"`},
		{"3-1", `bad range "3-1"`},
		{"0-", `bad range "0-"`},
		{"0-x", `bad range "0-x"`},
		{"0-3,5-4", `bad range "5-4"`},
		{"1-2-3", `bad range "1-2-3"`},
		{"0 1", `cpu list "0 1"`},
	}
	for _, tc := range tests {
		got, err := parseCPUList(tc.in)
		if err == nil {
			t.Errorf("parseCPUList(%q) = %v, want an error", tc.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("parseCPUList(%q) = %q, want it to contain %q", tc.in, err, tc.wantErr)
		}
	}
}

func TestOnlineCPUs(t *testing.T) {
	cpus, err := OnlineCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if len(cpus) == 0 {
		t.Fatal("no online CPUs")
	}
	if !slices.IsSorted(cpus) || len(slices.Compact(slices.Clone(cpus))) != len(cpus) {
		t.Errorf("OnlineCPUs() = %v, want ascending without repeats", cpus)
	}
	// Every CPU this process may run on is online.
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	for cpu := 0; cpu < len(set)*64; cpu++ {
		if set.IsSet(cpu) && !slices.Contains(cpus, cpu) {
			t.Errorf("CPU %d is in the affinity mask but not in OnlineCPUs() = %v", cpu, cpus)
		}
	}
	if n := set.Count(); len(cpus) < n {
		t.Errorf("OnlineCPUs() has %d CPUs, fewer than the %d this process may use", len(cpus), n)
	}
}

func TestPerfEventNames(t *testing.T) {
	names := perfEventNames()
	if !slices.IsSorted(names) || len(names) != len(perfEvents) {
		t.Fatalf("perfEventNames() = %v", names)
	}
	for _, n := range names {
		if _, ok := perfEvents[n]; !ok {
			t.Errorf("%q is not a perf event", n)
		}
	}
	for name, ev := range perfEvents {
		if ev.typ != unix.PERF_TYPE_SOFTWARE && ev.typ != unix.PERF_TYPE_HARDWARE {
			t.Errorf("%s has perf type %d", name, ev.typ)
		}
	}
	if ev := perfEvents["cpu-clock"]; ev != (perfEventID{unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CPU_CLOCK}) {
		t.Errorf("cpu-clock = %+v", ev)
	}
}

// TestAttachPerfEventUnknown needs no kernel: the event name is checked
// before anything is opened.
func TestAttachPerfEventUnknown(t *testing.T) {
	_, err := Attach(nil, Target{Kind: KindPerfEvent, Section: "perf_event", PerfEvent: "bogus"}, Options{})
	const want = `attach perf_event:bogus: unknown perf event "bogus"`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func loadPerfEventProgram(t *testing.T) *ebpf.Collection {
	t.Helper()
	return loadObject(t, "perf_event.bpf.o")
}

// sumSamples adds up the per-CPU sample counters of perf_event.bpf.o.
func sumSamples(t *testing.T, m *ebpf.Map) uint64 {
	t.Helper()
	var (
		key  uint32
		v, n uint64
	)
	it := m.Iterate()
	for it.Next(&key, &v) {
		n += v
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// busy keeps one CPU working for d, so that cpu-clock samples it.
func busy(d time.Duration) uint64 {
	var x uint64
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := 0; i < 10000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}

func TestAttachPerfEventKernel(t *testing.T) {
	kerneltest.Require(t)
	coll := loadPerfEventProgram(t)
	prog, samples := coll.Programs["on_sample"], coll.Maps["samples"]
	cpus, err := OnlineCPUs()
	if err != nil {
		t.Fatal(err)
	}

	before := kerneltest.Snapshot()
	tgt, err := ParseSection("perf_event", ebpf.PerfEvent, ebpf.AttachNone)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Attach(prog, tgt, Options{Frequency: 99})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := a.(*perfAttachment)
	if !ok {
		a.Close()
		t.Fatalf("Attach returned %T, want *perfAttachment", a)
	}
	if len(p.links) != len(cpus) || len(p.fds) != len(cpus) {
		t.Errorf("%d links and %d perf events for %d online CPUs", len(p.links), len(p.fds), len(cpus))
	}
	if got := kerneltest.Snapshot().New(before).Links; len(got) != len(cpus) {
		t.Errorf("kernel has %d new links, want one per online CPU (%d)", len(got), len(cpus))
	}
	if got := a.Target(); got.String() != "perf_event:cpu-clock" {
		t.Errorf("Target() = %v", got)
	}

	busy(300 * time.Millisecond)
	if n := sumSamples(t, samples); n == 0 {
		t.Error("no samples after 300ms of busy work at 99 Hz")
	}

	fds := slices.Clone(p.fds)
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if len(p.links) != 0 || len(p.fds) != 0 {
		t.Errorf("after Close: %d links, %d fds", len(p.links), len(p.fds))
	}
	for _, fd := range fds {
		if link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd)); err == nil && strings.Contains(link, "perf_event") {
			t.Errorf("fd %d is still a perf event (%s) after Close", fd, link)
		}
	}
	kerneltest.CheckNoLeaks(t, before)

	// Detached: sampling stops.
	n := sumSamples(t, samples)
	busy(150 * time.Millisecond)
	if m := sumSamples(t, samples); m != n {
		t.Errorf("samples went from %d to %d after Close", n, m)
	}
}

func TestAttachPerfEventPeriodKernel(t *testing.T) {
	kerneltest.Require(t)
	coll := loadPerfEventProgram(t)
	// cpu-clock counts nanoseconds: one sample per millisecond.
	a, err := Attach(coll.Programs["on_sample"], Target{Kind: KindPerfEvent, PerfEvent: "cpu-clock"}, Options{Period: 1_000_000, Frequency: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	busy(100 * time.Millisecond)
	// At 1 Hz (if Frequency had won) 100ms would see at most one sample.
	if n := sumSamples(t, coll.Maps["samples"]); n < 10 {
		t.Errorf("%d samples in 100ms with a 1ms period, want about 100", n)
	}
}

func TestAttachPerfEventHardwareKernel(t *testing.T) {
	kerneltest.Require(t)
	coll := loadPerfEventProgram(t)
	a, err := Attach(coll.Programs["on_sample"], Target{Kind: KindPerfEvent, PerfEvent: "cycles"}, Options{})
	if err != nil {
		// Most VMs (this machine included) have no hardware PMU.
		if !strings.Contains(err.Error(), "perf event cycles is not supported here") && !errors.Is(err, unix.ENOENT) {
			t.Fatalf("cycles: %v", err)
		}
		t.Logf("cycles: %v", err)
		return
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}
