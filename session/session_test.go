package session

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/internal/kerneltest"
)

// Run on a session with nothing loaded exercises its stop conditions
// without a kernel.
func TestRunStopsAfterDuration(t *testing.T) {
	s := &Session{}
	start := time.Now()
	stats, err := s.Run(context.Background(), RunOptions{Duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if stats.StoppedBy != "duration" {
		t.Errorf("StoppedBy = %q, want duration", stats.StoppedBy)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("stopped after %v", d)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	stats, err := (&Session{}).Run(ctx, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.StoppedBy != "signal" {
		t.Errorf("StoppedBy = %q, want signal", stats.StoppedBy)
	}
}

func TestRunIntervals(t *testing.T) {
	var n atomic.Int32
	stats, err := (&Session{}).Run(context.Background(), RunOptions{
		Duration:   350 * time.Millisecond,
		Interval:   50 * time.Millisecond,
		OnInterval: func() { n.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if stats.StoppedBy != "duration" || n.Load() < 2 {
		t.Errorf("StoppedBy %q after %d intervals", stats.StoppedBy, n.Load())
	}
}

func TestRunStopsWhenCommandExits(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	c, err := StartChild([]string{"sh", "-c", `touch "$0"; exit 3`, marker})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abandon()
	stats, err := (&Session{}).Run(context.Background(), RunOptions{Child: c, Duration: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if stats.StoppedBy != "command" {
		t.Errorf("StoppedBy = %q, want command", stats.StoppedBy)
	}
	var ee *exec.ExitError
	if !errors.As(c.Err(), &ee) || ee.ExitCode() != 3 {
		t.Errorf("command exit = %v, want status 3", c.Err())
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("Run did not release the command: %v", err)
	}
}

// TestLifecycle runs openat.bpf.o in-process from start to end: the
// program sees this process open a file, the ring buffer delivers the
// record, the counts map holds an entry, and nothing stays behind.
func TestLifecycle(t *testing.T) {
	kerneltest.Require(t)
	if err := Prepare(io.Discard); err != nil {
		t.Fatal(err)
	}
	spec, err := LoadObject(fixture("openat.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	pid := os.Getpid()
	if err := SetVariables(spec, []string{"target_pid=" + strconv.Itoa(pid), "tag=test"}); err != nil {
		t.Fatal(err)
	}
	plan, err := MakePlan(spec, PlanOptions{Probe: noProbe(t)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(spec, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	if srcs := s.EventSources(); len(srcs) != 1 || srcs[0].Name != "events" || srcs[0].Perf {
		t.Errorf("event sources %+v", srcs)
	}
	if err := s.Attach("no_such_prog", plan.Targets["trace_openat"], attach.Options{}); err == nil {
		t.Error("attached a program that is not loaded")
	}
	if err := s.Attach("trace_openat", plan.Targets["trace_openat"], attach.Options{}); err != nil {
		t.Fatal(err)
	}
	if len(s.Attachments) != 1 || s.Programs[0] != "trace_openat" {
		t.Errorf("attachments %v %v", s.Attachments, s.Programs)
	}

	path := fmt.Sprintf("/tmp/waggle-session-test-%d-%d", pid, time.Now().UnixNano())
	stop := make(chan struct{})
	opened := make(chan struct{})
	go func() {
		defer close(opened)
		for {
			if f, err := os.Open(path); err == nil {
				f.Close()
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	var seen, foreign int
	stats, err := s.Run(context.Background(), RunOptions{
		Duration: 300 * time.Millisecond,
		OnEvent: func(ev Event) {
			if ev.Source == nil || ev.Source.Name != "events" {
				t.Errorf("event from %+v", ev.Source)
			}
			if len(ev.Data) >= 4 && binary.NativeEndian.Uint32(ev.Data) != uint32(pid) {
				foreign++ // target_pid did not reach the kernel
			}
			if bytes.Contains(ev.Data, []byte(path+"\x00")) {
				seen++
			}
		},
	})
	close(stop)
	<-opened
	if err != nil {
		t.Fatal(err)
	}
	if stats.StoppedBy != "duration" {
		t.Errorf("StoppedBy = %q, want duration", stats.StoppedBy)
	}
	if seen == 0 {
		t.Errorf("no event for %s among %d events", path, stats.Events)
	}
	if foreign != 0 {
		t.Errorf("%d of %d events came from other processes despite target_pid", foreign, stats.Events)
	}
	if uint64(seen) > stats.Events {
		t.Errorf("Events = %d, but %d were seen", stats.Events, seen)
	}
	if len(s.Attachments) != 0 {
		t.Error("Run left programs attached")
	}

	maps, err := ReadMaps(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != 1 || maps[0].Name != "counts" {
		t.Fatalf("ReadMaps = %+v, want just counts", maps)
	}
	counts := maps[0]
	if counts.Array || counts.PerCPU || counts.Key == nil || counts.Value == nil || TypeName(counts.Key) != "struct count_key" {
		t.Errorf("counts map %+v", counts)
	}
	var total uint64
	for _, e := range counts.Entries {
		if len(e.Values) != 1 || len(e.Values[0]) != 8 {
			t.Fatalf("entry %+v", e)
		}
		if got := binary.NativeEndian.Uint32(e.Key); got != uint32(pid) {
			t.Errorf("counted pid %d, want %d", got, pid)
		}
		total += binary.NativeEndian.Uint64(e.Values[0])
	}
	if total < uint64(seen) {
		t.Errorf("counts total %d < %d events seen (entries %d)", total, seen, len(counts.Entries))
	}

	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if s.Collection != nil {
		t.Error("Close left the collection")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	s = nil
}

// The perf event array variant: its reader must exist before the program
// is attached, and records carry their CPU.
func TestLifecyclePerf(t *testing.T) {
	kerneltest.Require(t)
	if err := Prepare(nil); err != nil {
		t.Fatal(err)
	}
	spec, err := LoadObject(fixture("openat_perf.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	pid := os.Getpid()
	if err := SetVariables(spec, []string{"target_pid=" + strconv.Itoa(pid)}); err != nil {
		t.Fatal(err)
	}
	plan, err := MakePlan(spec, PlanOptions{Probe: noProbe(t)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(spec, false, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if srcs := s.EventSources(); len(srcs) != 1 || !srcs[0].Perf {
		t.Fatalf("event sources %+v", srcs)
	}
	if err := s.Attach("trace_openat_perf", plan.Targets["trace_openat_perf"], attach.Options{}); err != nil {
		t.Fatal(err)
	}
	// Opened after attaching and before Run starts reading: the record
	// must wait in the perf buffer.
	path := fmt.Sprintf("/tmp/waggle-session-perf-%d-%d", pid, time.Now().UnixNano())
	os.Open(path)
	seen := 0
	stats, err := s.Run(context.Background(), RunOptions{
		Duration: 200 * time.Millisecond,
		OnEvent: func(ev Event) {
			if ev.CPU < 0 || !ev.Source.Perf {
				t.Errorf("perf event with CPU %d from %+v", ev.CPU, ev.Source)
			}
			if bytes.Contains(ev.Data, []byte(path+"\x00")) {
				seen++
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != 1 {
		t.Errorf("saw the open of %s %d times among %d events, want once", path, seen, stats.Events)
	}
	if n := stats.Lost["events"]; n != 0 {
		t.Errorf("lost %d records", n)
	}
	maps, err := ReadMaps(s)
	if err != nil || len(maps) != 0 {
		t.Errorf("ReadMaps = %+v, %v; want nothing (a perf array and .rodata)", maps, err)
	}
}

// ReadMaps on array and per-CPU maps, filled by a perf_event program.
func TestReadMapsPerCPU(t *testing.T) {
	kerneltest.Require(t)
	spec := loadSpec(t, "perf_event.bpf.o")
	plan, err := MakePlan(spec, PlanOptions{Probe: noProbe(t)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(spec, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Attach("on_sample", plan.Targets["on_sample"], attach.Options{Frequency: 1000}); err != nil {
		t.Fatal(err)
	}
	// Keep a CPU busy so that cpu-clock samples fire.
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
	}
	stats, err := s.Run(context.Background(), RunOptions{Duration: 10 * time.Millisecond})
	if err != nil || stats.StoppedBy != "duration" {
		t.Fatalf("Run: %+v, %v", stats, err)
	}
	maps, err := ReadMaps(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != 2 || maps[0].Name != "samples" || maps[1].Name != "total" {
		t.Fatalf("ReadMaps = %+v", maps)
	}
	samples, total := maps[0], maps[1]
	if !samples.Array || samples.PerCPU || len(samples.Entries) != 256 {
		t.Errorf("samples: array %v percpu %v, %d entries", samples.Array, samples.PerCPU, len(samples.Entries))
	}
	var sum uint64
	for _, e := range samples.Entries {
		sum += binary.NativeEndian.Uint64(e.Values[0])
	}
	if !total.Array || !total.PerCPU || len(total.Entries) != 1 {
		t.Fatalf("total: array %v percpu %v, %d entries", total.Array, total.PerCPU, len(total.Entries))
	}
	var perCPU uint64
	for _, v := range total.Entries[0].Values {
		if len(v) != 8 {
			t.Fatalf("per-CPU value of %d bytes", len(v))
		}
		perCPU += binary.NativeEndian.Uint64(v)
	}
	if sum == 0 || perCPU != sum {
		t.Errorf("samples sum %d, per-CPU total %d (from %d CPUs)", sum, perCPU, len(total.Entries[0].Values))
	}
}

func TestAttachErrorText(t *testing.T) {
	tp := attach.Target{Kind: attach.KindTracepoint, Group: "syscalls", Name: "sys_enter_getpid"}

	err := newAttachError("trace_openat", tp, fmt.Errorf("attach %s: %w", tp, errors.New("boom")))
	if want := "program trace_openat: attach tracepoint:syscalls:sys_enter_getpid: boom"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	if u := errors.Unwrap(err); u == nil || strings.Contains(u.Error(), "trace_openat") {
		t.Errorf("Unwrap = %v: want the reason without the program", u)
	}

	// An error that names the program already is not prefixed again.
	err = newAttachError("exec_btf", tp, errors.New("program exec_btf: attach tp_btf:x: nope"))
	if n := strings.Count(err.Error(), "exec_btf"); n != 1 {
		t.Errorf("%q names the program %d times", err, n)
	}

	// A 120 KB target is shortened wherever the message repeats it.
	long := attach.Target{Kind: attach.KindTracepoint, Group: "g", Name: strings.Repeat("n", 120000)}
	err = newAttachError("p", long, fmt.Errorf("attach %s: tracepoint %s:%s: %w", long, long.Group, long.Name, os.ErrNotExist))
	if len(err.Error()) > 300 || strings.Contains(err.Error(), strings.Repeat("n", 65)) || !strings.Contains(err.Error(), "n...") {
		t.Errorf("long target: %d bytes: %.300s", len(err.Error()), err)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Error("the shortened error does not unwrap to its cause")
	}

	if !privileged() {
		return
	}
	tce := &attach.TracepointContextError{Group: "syscalls", Name: "sys_enter_getpid", Err: errors.New("cannot create bpf perf link: permission denied")}
	err = newAttachError("trace_openat", tp, fmt.Errorf("attach %s: %w", tp, tce))
	want := "the kernel refused to attach program trace_openat to tracepoint syscalls:sys_enter_getpid (permission denied): the program reads beyond this tracepoint's record; it was probably written for another tracepoint"
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
}

// Iterators hand their whole output, with the program's name, to OnIter.
func TestRunOnIter(t *testing.T) {
	kerneltest.Require(t)
	if err := PrepareNoTracefs(); err != nil {
		t.Fatal(err)
	}
	spec := loadSpec(t, "iter.bpf.o")
	plan, err := MakePlan(spec, PlanOptions{Probe: noProbe(t)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(spec, false, 0)
	if err != nil {
		if attach.IsPermission(err) {
			kerneltest.Skip(t, fmt.Sprintf("iterators cannot load here: %v", err))
		}
		t.Fatal(err)
	}
	defer s.Close()
	for name, tgt := range plan.Targets {
		if err := s.Attach(name, tgt, attach.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	var out []byte
	stats, err := s.Run(context.Background(), RunOptions{OnIter: func(program string, output []byte) {
		got = append(got, program)
		out = append(out, output...)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if stats.StoppedBy != "iterators" || len(got) != 1 || got[0] != "dump_task" {
		t.Errorf("StoppedBy %q, OnIter called for %q", stats.StoppedBy, got)
	}
	if !strings.Contains("\n"+string(out), "\n"+strconv.Itoa(os.Getpid())+" ") {
		t.Errorf("no line for our pid in %d bytes of iterator output", len(out))
	}
}
