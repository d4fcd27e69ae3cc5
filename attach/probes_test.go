package attach

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/internal/kerneltest"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything:at:all", true},
		{"vfs_read", "vfs_read", true},
		{"vfs_read", "vfs_readv", false},
		{"vfs_*", "vfs_read", true},
		{"vfs_*", "do_vfs_read", false},
		{"*read", "vfs_read", true},
		{"*read", "vfs_readv", false},
		{"*sleep*", "do_nanosleep", true},
		{"*sleep*", "sleep", true},
		{"sys*_open*", "sys_enter_openat", true},
		{"sys*_open*", "sys_enter_close", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYc_", false},
		// bpftrace's first-occurrence matcher misses these; Glob does not.
		{"*ab", "abab", true},
		{"*:*sleep*", "syscalls:sys_enter_nanosleep", true},
		{"*:*sleep*", "vmlinux:do_nanosleep", true},
		// '*' crosses ':' as in bpftrace.
		{"sched*switch", "sched:sched_switch", true},
		// Only '*' is special.
		{"sys_enter_open?t", "sys_enter_openat", false},
		{"sys_enter_open?t", "sys_enter_open?t", true},
		{"{a,b}", "a", false},
		{"[ab]", "[ab]", true},
		// Case matters.
		{"VFS_*", "vfs_read", false},
		{"**", "x", true},
		{"a**", "a", true},
	}
	for _, tt := range tests {
		if got := Glob(tt.pattern, tt.s); got != tt.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
	if !HasWildcard("vfs_*") || HasWildcard("vfs_read") || HasWildcard("open?") {
		t.Error("HasWildcard disagrees with Glob about what a wildcard is")
	}
}

func TestParseAvailableEvents(t *testing.T) {
	got := parseAvailableEvents([]byte("sched:sched_switch\n\nsyscalls:sys_enter_openat\r\nsched:sched_switch\nbogus\n:x\ny:\n"))
	want := []string{"sched:sched_switch", "syscalls:sys_enter_openat"}
	if !slices.Equal(got, want) {
		t.Errorf("parseAvailableEvents = %q, want %q", got, want)
	}
}

func TestParseFilterFunctions(t *testing.T) {
	got := parseFilterFunctions([]byte("vfs_read\n__ftrace_invalid_address___64\next4_sync_fs [ext4]\n\nodd [\nx [m] extra\n"))
	want := []kernelFunc{{"vmlinux", "vfs_read"}, {"ext4", "ext4_sync_fs"}, {"vmlinux", "odd"}, {"m", "x"}}
	if !slices.Equal(got, want) {
		t.Errorf("parseFilterFunctions = %v, want %v", got, want)
	}
}

func TestTracepointSearch(t *testing.T) {
	for in, want := range map[string]string{"": "*:*", "sys_enter_*": "*:sys_enter_*", "syscalls:*": "syscalls:*", "*": "*:*"} {
		if got := tracepointSearch(in); got != want {
			t.Errorf("tracepointSearch(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCanonicalProvider(t *testing.T) {
	tests := map[string]string{
		"tracepoint": "tracepoint", "t": "tracepoint", "Tracepoint": "tracepoint",
		"k": "kprobe", "kr": "kretprobe", "u": "uprobe", "ur": "uretprobe", "U": "usdt",
		"f": "fentry", "kfunc": "fentry", "fr": "fexit", "kretfunc": "fexit",
		"rt": "rawtracepoint", "s": "software", "h": "hardware", "i": "interval",
		"p": "profile", "it": "iter", "w": "watchpoint", "BEGIN": "begin", "END": "end",
		"KPROBE": "kprobe",
	}
	for in, want := range tests {
		if got, ok := CanonicalProvider(in); !ok || got != want {
			t.Errorf("CanonicalProvider(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "T", "K", "nope", "tracepoints"} {
		if got, ok := CanonicalProvider(in); ok {
			t.Errorf("CanonicalProvider(%q) = %q, want not found", in, got)
		}
	}
}

func TestPerfEvents(t *testing.T) {
	tests := []struct {
		hw     bool
		name   string
		typ    uint32
		config uint64
		period uint64
	}{
		{false, "page-faults", unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_PAGE_FAULTS, 100},
		{false, "faults", unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_PAGE_FAULTS, 100},
		{false, "cpu-clock", unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CPU_CLOCK, 1000000},
		{false, "cpu", unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CPU_CLOCK, 1000000},
		{false, "cs", unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CONTEXT_SWITCHES, 1000},
		{false, "task-clock", unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_TASK_CLOCK, 1},
		{false, "minor-faults", unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_PAGE_FAULTS_MIN, 100},
		{false, "major-faults", unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_PAGE_FAULTS_MAJ, 1},
		{false, "bpf-output", unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_BPF_OUTPUT, 1},
		{false, "dummy", unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_DUMMY, 1},
		{true, "cycles", unix.PERF_TYPE_HARDWARE, unix.PERF_COUNT_HW_CPU_CYCLES, 1000000},
		{true, "cpu-cycles", unix.PERF_TYPE_HARDWARE, unix.PERF_COUNT_HW_CPU_CYCLES, 1000000},
		{true, "branches", unix.PERF_TYPE_HARDWARE, unix.PERF_COUNT_HW_BRANCH_INSTRUCTIONS, 100000},
		{true, "ref-cycles", unix.PERF_TYPE_HARDWARE, unix.PERF_COUNT_HW_REF_CPU_CYCLES, 1000000},
		{true, "frontend-stalls", unix.PERF_TYPE_HARDWARE, unix.PERF_COUNT_HW_STALLED_CYCLES_FRONTEND, 1000000},
	}
	for _, tt := range tests {
		lookup := SoftwareEvent
		if tt.hw {
			lookup = HardwareEvent
		}
		typ, config, period, ok := lookup(tt.name)
		if !ok || typ != tt.typ || config != tt.config || period != tt.period {
			t.Errorf("lookup %q = %d, %d, %d, %v; want %d, %d, %d", tt.name, typ, config, period, ok, tt.typ, tt.config, tt.period)
		}
	}
	for _, name := range []string{"", "cycles", "nope", "Page-Faults"} {
		if _, _, _, ok := SoftwareEvent(name); ok {
			t.Errorf("SoftwareEvent(%q) found", name)
		}
	}
	if _, _, _, ok := HardwareEvent("faults"); ok {
		t.Error("HardwareEvent(\"faults\") found")
	}
	if len(softwareEvents) != 11 || len(hardwareEvents) != 10 {
		t.Errorf("%d software and %d hardware events; bpftrace has 11 and 10", len(softwareEvents), len(hardwareEvents))
	}
}

// fakeProbeSources stand for a small system: a few tracepoints, kernel
// functions (one in a module, one split-off .part), BTF and one binary.
func fakeProbeSources() *probeSources {
	events := parseAvailableEvents([]byte(
		"sched:sched_switch\nsched:sched_wakeup\nsyscalls:sys_enter_openat\n" +
			"syscalls:sys_exit_openat\nsyscalls:sys_enter_nanosleep\ntimer:hrtimer_nanosleep_x\n"))
	funcs := parseFilterFunctions([]byte(
		"vfs_read\nvfs_write\ndo_nanosleep\nvfs_read\nvfs_read.part.0\n__ftrace_invalid_address___123\next4_sync_fs [ext4]\n"))
	return &probeSources{
		tracepoints: func() ([]string, error) { return events, nil },
		kernelFuncs: func() ([]kernelFunc, error) { return funcs, nil },
		fentryFuncs: func() ([]kernelFunc, error) {
			return []kernelFunc{{"vmlinux", "do_nanosleep"}, {"vmlinux", "vfs_read"}}, nil
		},
		rawTracepoints: func() ([]kernelFunc, error) {
			return []kernelFunc{{"vmlinux", "sched_switch"}, {"vmlinux", "sched_wakeup"}}, nil
		},
		iters: func() ([]string, error) { return []string{"bpf_map", "task", "task_file"}, nil },
		uprobeSymbols: func(bin string) (string, []string, error) {
			if bin != "bash" && bin != "/usr/bin/bash" {
				return "", nil, fmt.Errorf("uprobe target %q: not found", bin)
			}
			return "/usr/bin/bash", []string{"main", "read_builtin", "readline"}, nil
		},
	}
}

func TestListProbesFake(t *testing.T) {
	tests := []struct {
		pattern string
		want    []string
	}{
		{"t:syscalls:sys_enter_openat", []string{"tracepoint:syscalls:sys_enter_openat"}},
		{"tracepoint:syscalls:sys_enter_openat", []string{"tracepoint:syscalls:sys_enter_openat"}},
		{"Tracepoint:sched:sched_switch", []string{"tracepoint:sched:sched_switch"}},
		{"tracepoint:syscalls:*", []string{
			"tracepoint:syscalls:sys_enter_nanosleep", "tracepoint:syscalls:sys_enter_openat", "tracepoint:syscalls:sys_exit_openat"}},
		{"t:sched:*", []string{"tracepoint:sched:sched_switch", "tracepoint:sched:sched_wakeup"}},
		{"tracepoint:*nanosleep*", []string{"tracepoint:syscalls:sys_enter_nanosleep", "tracepoint:timer:hrtimer_nanosleep_x"}},
		{"tracepoint:", []string{
			"tracepoint:sched:sched_switch", "tracepoint:sched:sched_wakeup", "tracepoint:syscalls:sys_enter_nanosleep",
			"tracepoint:syscalls:sys_enter_openat", "tracepoint:syscalls:sys_exit_openat", "tracepoint:timer:hrtimer_nanosleep_x"}},
		{"*sleep*", []string{
			"fentry:vmlinux:do_nanosleep", "kprobe:do_nanosleep",
			"tracepoint:syscalls:sys_enter_nanosleep", "tracepoint:timer:hrtimer_nanosleep_x"}},
		{"*:vfs_read", []string{"fentry:vmlinux:vfs_read", "kprobe:vfs_read"}},
		{"k*:vfs_read", []string{"kprobe:vfs_read"}},
		{"kprobe:vfs_*", []string{"kprobe:vfs_read", "kprobe:vfs_write"}},
		{"kprobe:*", []string{"kprobe:do_nanosleep", "kprobe:ext4_sync_fs", "kprobe:vfs_read", "kprobe:vfs_write"}},
		{"kprobe:ext4:*", []string{"kprobe:ext4:ext4_sync_fs"}},
		{"k:vmlinux:vfs_w*", []string{"kprobe:vmlinux:vfs_write"}},
		{"kr:vfs_read", []string{"kretprobe:vfs_read"}},
		{"fentry:vfs_read", []string{"fentry:vmlinux:vfs_read"}},
		{"kfunc:vfs_read", []string{"fentry:vmlinux:vfs_read"}},
		{"f:vmlinux:*", []string{"fentry:vmlinux:do_nanosleep", "fentry:vmlinux:vfs_read"}},
		{"fexit:*read", []string{"fexit:vmlinux:vfs_read"}},
		{"rawtracepoint:sched_sw*", []string{"rawtracepoint:vmlinux:sched_switch"}},
		{"rt:*:sched_wakeup", []string{"rawtracepoint:vmlinux:sched_wakeup"}},
		{"it:task*", []string{"iter:task", "iter:task_file"}},
		{"s:faults", []string{"software:faults:"}},
		{"software:page-faults:", []string{"software:page-faults:"}},
		{"software:cpu*", []string{"software:cpu-clock:", "software:cpu-migrations:", "software:cpu:"}},
		{"hardware:cycles", []string{"hardware:cycles:"}},
		{"h:*cycles*", []string{"hardware:bus-cycles:", "hardware:cpu-cycles:", "hardware:cycles:", "hardware:ref-cycles:"}},
		{"i:*", []string{"interval:hz:", "interval:ms:", "interval:s:", "interval:us:"}},
		{"profile:hz", []string{"profile:hz:"}},
		{"uprobe:bash:read*", []string{"uprobe:/usr/bin/bash:read_builtin", "uprobe:/usr/bin/bash:readline"}},
		{"u:bash", []string{"uprobe:/usr/bin/bash:main", "uprobe:/usr/bin/bash:read_builtin", "uprobe:/usr/bin/bash:readline"}},
		{"ur:/usr/bin/bash:main", []string{"uretprobe:/usr/bin/bash:main"}},
		{"begin", nil},
		{"end:", nil},
		{"nothing_matches_this", nil},
	}
	src := fakeProbeSources()
	for _, tt := range tests {
		got, err := src.list(tt.pattern)
		if err != nil {
			t.Errorf("list(%q): %v", tt.pattern, err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("list(%q) =\n  %q\nwant\n  %q", tt.pattern, got, tt.want)
		}
	}
}

func TestListProbesFakeAll(t *testing.T) {
	got, err := fakeProbeSources().list("")
	if err != nil {
		t.Fatal(err)
	}
	// Every kernel probe type, in alphabetical order, nothing user-space.
	var types []string
	for _, p := range got {
		typ, _, _ := strings.Cut(p, ":")
		if len(types) == 0 || types[len(types)-1] != typ {
			types = append(types, typ)
		}
	}
	want := []string{"fentry", "hardware", "iter", "kprobe", "rawtracepoint", "software", "tracepoint"}
	if !slices.Equal(types, want) {
		t.Errorf("probe types listed: %q, want %q", types, want)
	}
	if !slices.Contains(got, "software:cpu-clock:") || !slices.Contains(got, "software:cpu:") || !slices.Contains(got, "hardware:branches:") {
		t.Errorf("perf events or their aliases missing from %q", got)
	}
	if len(got) != 2+12+3+4+2+14+6 {
		t.Errorf("listed %d probes: %q", len(got), got)
	}
}

func TestListProbesFakeErrors(t *testing.T) {
	src := fakeProbeSources()
	for pattern, want := range map[string]string{
		"nope:x":          `invalid probe type "nope"`,
		"usdt:/bin/x:y":   "no such file or directory",
		"uprobe:":         "needs a binary",
		"uprobe:*:malloc": "needs a binary",
		"u:missing:x":     `uprobe target "missing": not found`,
		"u:lib*:x":        "needs a path",
	} {
		_, err := src.list(pattern)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("list(%q) error = %v, want it to contain %q", pattern, err, want)
		}
	}

	// A source that fails does not hide the others.
	src.tracepoints = func() ([]string, error) { return nil, errors.New("tracefs is not mounted") }
	got, err := src.list("*sleep*")
	if err == nil || !strings.Contains(err.Error(), "list tracepoint probes: tracefs is not mounted") {
		t.Errorf("error = %v", err)
	}
	if want := []string{"fentry:vmlinux:do_nanosleep", "kprobe:do_nanosleep"}; !slices.Equal(got, want) {
		t.Errorf("with tracepoints failing: %q, want %q", got, want)
	}
}

// goCommand returns the path of the go command, an ELF file with a full
// static symbol table (test binaries are built without one).
func goCommand(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	p, err = filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestListProbesUprobeGlob(t *testing.T) {
	gocmd := goCommand(t)
	dir := t.TempDir()
	for _, name := range []string{"prog1", "prog2"} {
		if err := os.Symlink(gocmd, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	// Not ELF, not a file: skipped when a glob finds them.
	if err := os.WriteFile(filepath.Join(dir, "prog.sh"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "progdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := ListProbes("uprobe:" + dir + "/prog*:main.main")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"uprobe:" + dir + "/prog1:main.main", "uprobe:" + dir + "/prog2:main.main"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	// Named on its own, a file that is not ELF is an error.
	if _, err := ListProbes("uprobe:" + dir + "/prog.sh:x"); err == nil || !strings.Contains(err.Error(), "read symbols") {
		t.Errorf("non-ELF binary: error %v", err)
	}
}

func TestUprobeSymbolsStaticTable(t *testing.T) {
	gocmd := goCommand(t)
	got, err := UprobeSymbols(gocmd, "main.ma*")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, "main.main") {
		t.Errorf("UprobeSymbols(go, main.ma*) = %q, want main.main among them", got)
	}
	all, err := UprobeSymbols(gocmd, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(all) || len(slices.Compact(slices.Clone(all))) != len(all) || len(all) < 1000 {
		t.Errorf("UprobeSymbols(go, \"\"): %d symbols, sorted %v", len(all), slices.IsSorted(all))
	}
	// Data symbols are not functions.
	if slices.Contains(all, "runtime.buildVersion") {
		t.Error("data symbol runtime.buildVersion listed")
	}
}

func TestUprobeSymbolsErrors(t *testing.T) {
	if _, err := UprobeSymbols("no-such-program-waggle", "*"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing binary: error %v", err)
	}
	text := filepath.Join(t.TempDir(), "text")
	if err := os.WriteFile(text, []byte("not elf"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := UprobeSymbols(text, "*"); err == nil || !strings.Contains(err.Error(), "read symbols of") {
		t.Errorf("non-ELF file: error %v", err)
	}
}

func TestUprobeSymbolsLibc(t *testing.T) {
	skipWithoutGlibc(t)
	got, err := UprobeSymbols("libc.so.6", "mallo*")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, "malloc") {
		t.Errorf("UprobeSymbols(libc.so.6, mallo*) = %q, want malloc among them", got)
	}
	for _, s := range got {
		if !strings.HasPrefix(s, "mallo") {
			t.Errorf("%q does not match mallo*", s)
		}
	}

	// Functions libc imports from the dynamic loader are not its own and
	// must not be listed.
	path, err := ResolveBinary("libc.so.6", 0)
	if err != nil {
		t.Fatal(err)
	}
	all, err := UprobeSymbols(path, "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dyn, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	defined, undefined := map[string]bool{}, 0
	for _, s := range dyn {
		if s.Section != elf.SHN_UNDEF {
			defined[s.Name] = true
		}
	}
	for _, s := range dyn {
		if s.Section == elf.SHN_UNDEF && elf.ST_TYPE(s.Info) == elf.STT_FUNC && !defined[s.Name] {
			undefined++
			if slices.Contains(all, s.Name) {
				t.Errorf("imported function %s listed", s.Name)
			}
		}
	}
	t.Logf("%d functions in %s, %d imported ones left out", len(all), path, undefined)
}

func TestTracepointsKernel(t *testing.T) {
	kerneltest.Require(t)
	ensureTracefs(t)
	got, err := Tracepoints("syscalls:sys_enter_open*")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, "syscalls:sys_enter_openat") {
		t.Errorf("Tracepoints(syscalls:sys_enter_open*) = %q, want sys_enter_openat among them", got)
	}
	for _, tp := range got {
		if !strings.HasPrefix(tp, "syscalls:sys_enter_open") {
			t.Errorf("%q does not match", tp)
		}
	}
	if byName, err := Tracepoints("sys_enter_openat"); err != nil || !slices.Equal(byName, []string{"syscalls:sys_enter_openat"}) {
		t.Errorf("Tracepoints(sys_enter_openat) = %q, %v", byName, err)
	}

	// available_events and the events directory agree.
	all, err := Tracepoints("")
	if err != nil {
		t.Fatal(err)
	}
	fromDir, err := tracepointsFromEventsDir(filepath.Join(TracefsPath, "events"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(all, fromDir) {
		t.Errorf("available_events lists %d tracepoints, the events directory %d", len(all), len(fromDir))
	}
}

func TestKernelFunctionsKernel(t *testing.T) {
	kerneltest.Require(t)
	ensureTracefs(t)
	names, source, err := KernelFunctionsFrom("vfs_rea*")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, "vfs_read") || source == "" {
		t.Errorf("KernelFunctionsFrom(vfs_rea*) = %q from %q", names, source)
	}
	_, affErr := os.ReadFile(filepath.Join(TracefsPath, "available_filter_functions"))
	if (affErr == nil) != strings.HasSuffix(source, "available_filter_functions") {
		t.Errorf("source %q, though reading available_filter_functions gives %v", source, affErr)
	}
	t.Logf("kernel functions from %s", source)
}

func TestKernelBTFNames(t *testing.T) {
	names, err := kernelBTF()
	if err != nil {
		kerneltest.Skip(t, fmt.Sprintf("no kernel BTF: %v", err))
	}
	for _, c := range []struct {
		list []string
		name string
	}{{names.funcs, "vfs_read"}, {names.rawTracepoints, "sched_switch"}, {names.iters, "task"}} {
		if _, ok := slices.BinarySearch(c.list, c.name); !ok {
			t.Errorf("%s missing from kernel BTF names", c.name)
		}
	}
}

func TestRawTracepointsKernel(t *testing.T) {
	kerneltest.Require(t)
	ensureTracefs(t)
	for pattern, want := range map[string]string{"sched_switch": "sched_switch", "vmlinux:sched_sw*": "sched_switch", "*:sys_enter": "sys_enter"} {
		got, err := RawTracepoints(pattern)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(got, want) {
			t.Errorf("RawTracepoints(%q) = %q, want %s among them", pattern, got, want)
		}
	}
	// The per-syscall events are tracepoints only.
	if got, err := RawTracepoints("sys_enter_openat"); err != nil || len(got) != 0 {
		t.Errorf("RawTracepoints(sys_enter_openat) = %q, %v", got, err)
	}
}

func TestListProbesKernel(t *testing.T) {
	kerneltest.Require(t)
	ensureTracefs(t)
	got, err := ListProbes("t:syscalls:sys_enter_openat")
	if err != nil || !slices.Equal(got, []string{"tracepoint:syscalls:sys_enter_openat"}) {
		t.Errorf("ListProbes(t:syscalls:sys_enter_openat) = %q, %v", got, err)
	}
	got, err = ListProbes("*sleep*")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tracepoint:syscalls:sys_enter_nanosleep", "kprobe:do_nanosleep", "fentry:vmlinux:do_nanosleep"} {
		if !slices.Contains(got, want) {
			t.Errorf("ListProbes(*sleep*) lacks %s", want)
		}
	}
	for pattern, n := range map[string]int{"software:*": 14, "hardware:*": 12, "kprobe:vfs_read": 1, "rawtracepoint:sched_switch": 1} {
		if got, err := ListProbes(pattern); err != nil || len(got) != n {
			t.Errorf("ListProbes(%q) = %q, %v; want %d lines", pattern, got, err, n)
		}
	}
}
