package sema

import (
	"os"
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/internal/kerneltest"
)

// inst is what TestInstances compares of an Instance: everything but the
// pointers into the tree and the tracepoint format.
type inst struct {
	Kind           ProbeKind
	Name           string
	Group, Event   string
	Func           string
	Offset         uint64
	Binary, Symbol string
	PerfEvent      string
	Period, Freq   uint64
	OneCPU         bool
}

func summary(in *Instance) inst {
	return inst{in.Kind, in.Name, in.Group, in.Event, in.Func, in.Offset, in.Binary, in.Symbol, in.PerfEvent, in.Period, in.Freq, in.OneCPU}
}

// TestInstances checks how attach points resolve, for every probe type
// that needs nothing from the system to resolve (tracepoints read tracefs:
// see TestTracepointInstances).
func TestInstances(t *testing.T) {
	tests := []struct {
		attach string
		want   inst
	}{
		{"BEGIN", inst{Kind: ProbeBegin, Name: "BEGIN"}},
		{"begin", inst{Kind: ProbeBegin, Name: "BEGIN"}},
		{"END", inst{Kind: ProbeEnd, Name: "END"}},
		{"end", inst{Kind: ProbeEnd, Name: "END"}},

		// interval fires on one CPU; its rate is always a period.
		{"interval:s:1", inst{Kind: ProbeInterval, Name: "interval:s:1", PerfEvent: "cpu-clock", Period: 1e9, OneCPU: true}},
		{"interval:ms:100", inst{Kind: ProbeInterval, Name: "interval:ms:100", PerfEvent: "cpu-clock", Period: 1e8, OneCPU: true}},
		{"interval:us:500", inst{Kind: ProbeInterval, Name: "interval:us:500", PerfEvent: "cpu-clock", Period: 500_000, OneCPU: true}},
		{"interval:hz:10", inst{Kind: ProbeInterval, Name: "interval:hz:10", PerfEvent: "cpu-clock", Period: 1e8, OneCPU: true}},
		{"interval:1s", inst{Kind: ProbeInterval, Name: "interval:1s", PerfEvent: "cpu-clock", Period: 1e9, OneCPU: true}},
		{"interval:250ms", inst{Kind: ProbeInterval, Name: "interval:250ms", PerfEvent: "cpu-clock", Period: 250e6, OneCPU: true}},
		{"i:s:2", inst{Kind: ProbeInterval, Name: "interval:s:2", PerfEvent: "cpu-clock", Period: 2e9, OneCPU: true}},
		{"i:ms:1_000", inst{Kind: ProbeInterval, Name: "interval:ms:1_000", PerfEvent: "cpu-clock", Period: 1e9, OneCPU: true}},

		// profile fires on every CPU, at a frequency or with a period.
		{"profile:hz:99", inst{Kind: ProbeProfile, Name: "profile:hz:99", PerfEvent: "cpu-clock", Freq: 99}},
		{"profile:99", inst{Kind: ProbeProfile, Name: "profile:99", PerfEvent: "cpu-clock", Freq: 99}},
		{"profile:ms:10", inst{Kind: ProbeProfile, Name: "profile:ms:10", PerfEvent: "cpu-clock", Period: 10e6}},
		{"profile:s:1", inst{Kind: ProbeProfile, Name: "profile:s:1", PerfEvent: "cpu-clock", Period: 1e9}},
		{"profile:us:100", inst{Kind: ProbeProfile, Name: "profile:us:100", PerfEvent: "cpu-clock", Period: 100_000}},
		{"p:hz:49", inst{Kind: ProbeProfile, Name: "profile:hz:49", PerfEvent: "cpu-clock", Freq: 49}},

		// software and hardware events, with bpftrace's default counts.
		{"software:cpu-clock", inst{Kind: ProbeSoftware, Name: "software:cpu-clock", PerfEvent: "cpu-clock", Period: 1_000_000}},
		{"software:page-faults", inst{Kind: ProbeSoftware, Name: "software:page-faults", PerfEvent: "page-faults", Period: 100}},
		{"software:faults:10", inst{Kind: ProbeSoftware, Name: "software:faults:10", PerfEvent: "faults", Period: 10}},
		{"s:context-switches:5", inst{Kind: ProbeSoftware, Name: "software:context-switches:5", PerfEvent: "context-switches", Period: 5}},
		{"hardware:cycles:1000", inst{Kind: ProbeHardware, Name: "hardware:cycles:1000", PerfEvent: "cycles", Period: 1000}},
		{"h:cache-misses", inst{Kind: ProbeHardware, Name: "hardware:cache-misses", PerfEvent: "cache-misses", Period: 1_000_000}},

		// Kernel functions, with an offset for kprobes and a module prefix.
		{"kprobe:vfs_read", inst{Kind: ProbeKprobe, Name: "kprobe:vfs_read", Func: "vfs_read"}},
		{"k:do_sys_open+16", inst{Kind: ProbeKprobe, Name: "kprobe:do_sys_open+16", Func: "do_sys_open", Offset: 16}},
		{"kprobe:do_sys_open+0x10", inst{Kind: ProbeKprobe, Name: "kprobe:do_sys_open+0x10", Func: "do_sys_open", Offset: 16}},
		{"kprobe:ext4:ext4_sync_fs", inst{Kind: ProbeKprobe, Name: "kprobe:ext4_sync_fs", Func: "ext4_sync_fs"}},
		{"kretprobe:vfs_read", inst{Kind: ProbeKretprobe, Name: "kretprobe:vfs_read", Func: "vfs_read"}},
		{"kr:vfs_write", inst{Kind: ProbeKretprobe, Name: "kretprobe:vfs_write", Func: "vfs_write"}},
		{"fentry:vfs_read", inst{Kind: ProbeFentry, Name: "fentry:vfs_read", Func: "vfs_read"}},
		{"f:vfs_read", inst{Kind: ProbeFentry, Name: "fentry:vfs_read", Func: "vfs_read"}},
		{"kfunc:vfs_read", inst{Kind: ProbeFentry, Name: "fentry:vfs_read", Func: "vfs_read"}},
		{"fexit:vfs_read", inst{Kind: ProbeFexit, Name: "fexit:vfs_read", Func: "vfs_read"}},
		{"fr:vfs_read", inst{Kind: ProbeFexit, Name: "fexit:vfs_read", Func: "vfs_read"}},
		{"kretfunc:vfs_read", inst{Kind: ProbeFexit, Name: "fexit:vfs_read", Func: "vfs_read"}},
		{"rawtracepoint:sched_switch", inst{Kind: ProbeRawTracepoint, Name: "rawtracepoint:sched_switch", Func: "sched_switch"}},
		{"rt:sched_switch", inst{Kind: ProbeRawTracepoint, Name: "rawtracepoint:sched_switch", Func: "sched_switch"}},
		{"rawtracepoint:vmlinux:sched_switch", inst{Kind: ProbeRawTracepoint, Name: "rawtracepoint:sched_switch", Func: "sched_switch"}},

		// User functions: the binary as written (attach resolves it), a
		// symbol with an optional offset, or an address.
		{"uprobe:/bin/bash:readline", inst{Kind: ProbeUprobe, Name: "uprobe:/bin/bash:readline", Binary: "/bin/bash", Symbol: "readline"}},
		{"u:/bin/bash:readline", inst{Kind: ProbeUprobe, Name: "uprobe:/bin/bash:readline", Binary: "/bin/bash", Symbol: "readline"}},
		{"u:libc:malloc+4", inst{Kind: ProbeUprobe, Name: "uprobe:libc:malloc+4", Binary: "libc", Symbol: "malloc", Offset: 4}},
		{"uprobe:/bin/bash:0x1234", inst{Kind: ProbeUprobe, Name: "uprobe:/bin/bash:0x1234", Binary: "/bin/bash", Offset: 0x1234}},
		{"uretprobe:/bin/bash:readline", inst{Kind: ProbeUretprobe, Name: "uretprobe:/bin/bash:readline", Binary: "/bin/bash", Symbol: "readline"}},
		{"ur:/bin/bash:readline", inst{Kind: ProbeUretprobe, Name: "uretprobe:/bin/bash:readline", Binary: "/bin/bash", Symbol: "readline"}},
		{`uprobe:"/opt/my app/server":"ns::serve"`, inst{Kind: ProbeUprobe, Name: "uprobe:/opt/my app/server:ns::serve", Binary: "/opt/my app/server", Symbol: "ns::serve"}},

		// Provider names are case-insensitive.
		{"BeGiN", inst{Kind: ProbeBegin, Name: "BEGIN"}},
		{"Interval:s:1", inst{Kind: ProbeInterval, Name: "interval:s:1", PerfEvent: "cpu-clock", Period: 1e9, OneCPU: true}},
		{"KPROBE:vfs_read", inst{Kind: ProbeKprobe, Name: "kprobe:vfs_read", Func: "vfs_read"}},
		{"Uprobe:/bin/bash:readline", inst{Kind: ProbeUprobe, Name: "uprobe:/bin/bash:readline", Binary: "/bin/bash", Symbol: "readline"}},
		{"PROFILE:hz:99", inst{Kind: ProbeProfile, Name: "profile:hz:99", PerfEvent: "cpu-clock", Freq: 99}},
	}
	for _, tt := range tests {
		t.Run(tt.attach, func(t *testing.T) {
			info, _ := mustCheck(t, tt.attach+" { }", defaultOpts)
			if len(info.Instances) != 1 {
				t.Fatalf("%d instances, want 1", len(info.Instances))
			}
			in := info.Instances[0]
			if got := summary(in); got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if in.Probe != info.Prog.Probes[0] || in.Point != in.Probe.Attach[0] {
				t.Error("instance does not point back at its probe and attach point")
			}
			if in.Format != nil {
				t.Error("a non-tracepoint instance has a tracepoint format")
			}
		})
	}
}

// TestInstanceOrder checks that a probe with several attach points gives
// one instance per point, in order, sharing the probe.
func TestInstanceOrder(t *testing.T) {
	info, _ := mustCheck(t, "BEGIN, interval:s:1, END { @ = count(); }\nkprobe:a { }", defaultOpts)
	var names []string
	for _, in := range info.Instances {
		names = append(names, in.Name)
	}
	if got := strings.Join(names, " "); got != "BEGIN interval:s:1 END kprobe:a" {
		t.Errorf("instances %s", got)
	}
	if info.Instances[0].Probe != info.Instances[2].Probe || info.Instances[0].Probe == info.Instances[3].Probe {
		t.Error("instances do not share their probe as they should")
	}
}

// TestProbeKindString checks the canonical provider names.
func TestProbeKindString(t *testing.T) {
	for k, want := range map[ProbeKind]string{ProbeBegin: "BEGIN", ProbeTracepoint: "tracepoint", ProbeUretprobe: "uretprobe", ProbeFexit: "fexit", ProbeHardware: "hardware"} {
		if got := k.String(); got != want {
			t.Errorf("%d: %q, want %q", k, got, want)
		}
	}
}

// TestTracepointInstances checks tracepoints: group and event, the format
// read from tracefs, short and upper-case forms, wildcards, and the types
// of args fields.
func TestTracepointInstances(t *testing.T) {
	needTracefs(t)
	tests := []struct {
		attach       string
		group, event string
		fields       []string // some of the event's own fields
	}{
		{"tracepoint:syscalls:sys_enter_openat", "syscalls", "sys_enter_openat", []string{"dfd", "filename", "flags", "mode"}},
		{"t:syscalls:sys_exit_read", "syscalls", "sys_exit_read", []string{"ret"}},
		{"TRACEPOINT:sched:sched_switch", "sched", "sched_switch", []string{"prev_comm", "prev_pid", "next_comm", "next_pid"}},
		{"Tracepoint:sched:sched_process_exec", "sched", "sched_process_exec", []string{"filename", "pid", "old_pid"}},
	}
	for _, tt := range tests {
		t.Run(tt.attach, func(t *testing.T) {
			info, _ := mustCheck(t, tt.attach+" { }", defaultOpts)
			if len(info.Instances) != 1 {
				t.Fatalf("%d instances", len(info.Instances))
			}
			in := info.Instances[0]
			want := inst{Kind: ProbeTracepoint, Name: "tracepoint:" + tt.group + ":" + tt.event, Group: tt.group, Event: tt.event}
			if got := summary(in); got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if in.Format == nil {
				t.Fatal("no format")
			}
			if in.Format.Name != tt.event || in.Format.ID == 0 {
				t.Errorf("format of %s, id %d", in.Format.Name, in.Format.ID)
			}
			for _, f := range tt.fields {
				if fl, ok := in.Format.Field(f); !ok || fl.Common {
					t.Errorf("no field %s in %+v", f, in.Format.Fields)
				}
			}
		})
	}

	t.Run("wildcard", func(t *testing.T) {
		// sys_enter_openat and, since Linux 5.6, sys_enter_openat2.
		info, _ := mustCheck(t, "tracepoint:syscalls:sys_enter_openat* { @[probe] = count(); }", defaultOpts)
		if len(info.Instances) == 0 {
			t.Fatal("no instances")
		}
		seen := map[string]bool{}
		for _, in := range info.Instances {
			if in.Group != "syscalls" || !strings.HasPrefix(in.Event, "sys_enter_openat") || in.Format == nil || in.Format.Name != in.Event {
				t.Errorf("instance %+v", summary(in))
			}
			if in.Name != "tracepoint:syscalls:"+in.Event || seen[in.Name] {
				t.Errorf("instance name %s", in.Name)
			}
			seen[in.Name] = true
			if in.Point.Raw != "tracepoint:syscalls:sys_enter_openat*" {
				t.Errorf("instance of %s", in.Point.Raw)
			}
		}
		if !seen["tracepoint:syscalls:sys_enter_openat"] {
			t.Errorf("sys_enter_openat not among %v", seen)
		}
	})

	t.Run("args", func(t *testing.T) {
		types := []struct{ src, expr, want string }{
			{`tracepoint:syscalls:sys_enter_openat { $f = args.filename; }`, `args.filename`, "int8 *"},
			{`tracepoint:syscalls:sys_enter_openat { $f = args->filename; }`, `args->filename`, "int8 *"},
			{`tracepoint:syscalls:sys_enter_openat { $f = str(args.filename); }`, `$f`, "string[64]"},
			{`tracepoint:syscalls:sys_enter_openat { $f = args.filename; }`, `args`, "args"},
			{`tracepoint:sched:sched_switch { $c = args.prev_comm; }`, `$c`, "string[16]"},
			{`tracepoint:sched:sched_switch { $c = args.next_pid; }`, `$c`, "int32"},
			{`tracepoint:sched:sched_process_exec { $f = args.filename; }`, `$f`, "int8 *"}, // __data_loc
			{`tracepoint:sched:sched_process_exec { printf("%s\n", str(args.filename)); }`, `str(args.filename)`, "string[64]"},
			{`tracepoint:syscalls:sys_exit_read { @ = hist(args.ret); }`, `args.ret`, "int64"},
		}
		for _, tt := range types {
			_, prog := mustCheck(t, tt.src, defaultOpts)
			if got := typeAt(t, prog, tt.expr).String(); got != tt.want {
				t.Errorf("%s: %s is %s, want %s", tt.src, tt.expr, got, tt.want)
			}
		}
		// Syscall arguments point into user memory.
		_, prog := mustCheck(t, `tracepoint:syscalls:sys_enter_openat { $f = args.filename; }`, defaultOpts)
		if ty := typeAt(t, prog, `args.filename`); !ty.User {
			t.Error("args.filename of a syscall is not marked as a user pointer")
		}
	})
}

// TestUprobeWildcard expands a uprobe pattern against bash's dynamic
// symbol table (readline and its helpers are exported).
func TestUprobeWildcard(t *testing.T) {
	const bash = "/bin/bash"
	if _, err := os.Stat(bash); err != nil {
		t.Skipf("no %s to read symbols from: %v", bash, err)
	}
	info, _ := mustCheck(t, `uprobe:`+bash+`:readline* { @[func] = count(); }`, defaultOpts)
	seen := map[string]bool{}
	for _, in := range info.Instances {
		seen[in.Symbol] = true
		if in.Kind != ProbeUprobe || in.Binary != bash || !strings.HasPrefix(in.Symbol, "readline") || in.Name != "uprobe:"+bash+":"+in.Symbol {
			t.Errorf("instance %+v", summary(in))
		}
	}
	if !seen["readline"] || len(seen) < 2 {
		t.Errorf("symbols %v, want readline and more", seen)
	}
}

// TestKprobeWildcard expands a kernel function pattern, from tracefs or
// the kernel's BTF, one instance per function.
func TestKprobeWildcard(t *testing.T) {
	fns, err := attach.KernelFunctions("vfs_rea*")
	if err != nil {
		kerneltest.Skip(t, "cannot list kernel functions: "+err.Error())
	}
	info, _ := mustCheck(t, `kprobe:vfs_rea* { @[func] = count(); } fentry:vfs_read { }`, defaultOpts)
	if len(info.Instances) != len(fns)+1 {
		t.Fatalf("%d instances for %d functions and one fentry", len(info.Instances), len(fns))
	}
	seen := map[string]bool{}
	for _, in := range info.Instances[:len(fns)] {
		seen[in.Func] = true
		if in.Kind != ProbeKprobe || in.Name != "kprobe:"+in.Func || !strings.HasPrefix(in.Func, "vfs_rea") || in.Offset != 0 {
			t.Errorf("instance %+v", summary(in))
		}
	}
	if !seen["vfs_read"] {
		t.Errorf("vfs_read not among %v", seen)
	}
}
