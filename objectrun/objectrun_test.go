package objectrun

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wagglebpf/waggle/internal/kerneltest"
	"github.com/wagglebpf/waggle/session"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Options)
		want string
	}{
		{func(o *Options) { o.Output = "yaml" }, "-o yaml: expected text or json"},
		{func(o *Options) { o.Freq = 0 }, "--freq 0"},
		{func(o *Options) { o.PerfPages = 3 }, "--perf-pages 3: must be a power of two"},
		{func(o *Options) { o.Duration = -time.Second }, "--duration -1s: must not be negative"},
		{func(o *Options) { o.Interval = -time.Second }, "--interval -1s: must not be negative"},
		{func(o *Options) { o.PID = -2 }, "--pid -2: must be a process ID"},
	} {
		o := Defaults()
		if err := o.Check(); err != nil {
			t.Fatalf("defaults: %v", err)
		}
		tc.edit(&o)
		if err := o.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v, want %q", err, tc.want)
		}
		// RunFile checks before it reads anything.
		if err := RunFile(context.Background(), "/nonexistent", o, nil, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("RunFile: %v, want %q", err, tc.want)
		}
	}
}

func TestList(t *testing.T) {
	o := Defaults()
	o.List = true
	var out bytes.Buffer
	if err := RunFile(context.Background(), "../testdata/openat.bpf.o", o, &out, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"trace_openat  tracepoint/syscalls/sys_enter_openat  TracePoint  tracepoint:syscalls:sys_enter_openat",
		"counts  Hash     struct count_key  __u64  1024",
		"target_pid  __u32    0      .rodata",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--list output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestOnOpen checks the hook the agent reads maps through: called with the
// loaded session, and withdrawn before the session is closed, also when
// the run is stopped by its context.
func TestOnOpen(t *testing.T) {
	kerneltest.Require(t)
	o := Defaults()
	o.Duration = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	var opened, withdrawn bool
	o.OnOpen = func(s *session.Session) func() {
		opened = true
		if s.Collection.Maps["counts"] == nil {
			t.Error("OnOpen got a session without the object's maps")
		}
		// Stop the run as soon as it is loaded.
		cancel()
		return func() {
			withdrawn = true
			if s.Collection == nil {
				t.Error("the session was closed before its maps were withdrawn")
			}
		}
	}
	var stderr bytes.Buffer
	if err := RunFile(ctx, "../testdata/openat.bpf.o", o, &bytes.Buffer{}, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !opened || !withdrawn {
		t.Errorf("OnOpen called: %v, its withdraw called: %v", opened, withdrawn)
	}
}
