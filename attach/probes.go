package attach

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

// This file answers the questions a bpftrace-language compiler asks about
// probes before it can compile them: which tracepoints, kernel functions,
// raw tracepoints and user-space symbols a wildcard names, what
// `bpftrace -l PATTERN` prints, and which perf event a software: or
// hardware: probe means.

// Glob reports whether s matches pattern under bpftrace's wildcard rules
// for attach points and -l: '*' matches any run of characters, ':'
// included, and every other character matches only itself, with case.
// bpftrace has no '?', character classes or {a,b} alternatives there (its
// matcher splits the pattern on '*' and nothing else), so neither does
// Glob: a pattern that uses them is taken literally, as bpftrace does.
//
// Unlike bpftrace's matcher, which looks for each piece at its first
// occurrence only, Glob backtracks, so "*ab" matches "abab".
func Glob(pattern, s string) bool {
	px, sx := 0, 0
	starPx, starSx := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && pattern[px] == '*':
			starPx, starSx = px, sx
			px++
		case px < len(pattern) && pattern[px] == s[sx]:
			px++
			sx++
		case starPx >= 0:
			// Let the last '*' swallow one more character and retry.
			starSx++
			px, sx = starPx+1, starSx
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

// HasWildcard reports whether a probe spec part contains a wildcard and so
// names a set of probes to expand rather than one probe.
func HasWildcard(pattern string) bool {
	return strings.IndexByte(pattern, '*') >= 0
}

// matchSorted returns the distinct candidates that pattern matches, sorted.
// Like bpftrace it drops the ".part.N" pieces of functions that the
// compiler split off, which cannot be traced on their own.
func matchSorted(pattern string, candidates []string) []string {
	var out []string
	for _, c := range candidates {
		if Glob(pattern, c) && !strings.Contains(c, ".part.") {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// orAll is the pattern an empty search means: everything.
func orAll(pattern string) string {
	if pattern == "" {
		return "*"
	}
	return pattern
}

// Tracepoints returns the tracepoints, as "GROUP:NAME", that pattern
// matches (see Glob), sorted. A pattern without ':' is matched against the
// event name in every group, as bpftrace -l does; an empty pattern matches
// all. The list is the kernel's available_events (the events that can be
// enabled, which leaves out ftrace's internal ones), or the events
// directory when that file cannot be read.
func Tracepoints(pattern string) ([]string, error) {
	all, err := tracepointNames()
	if err != nil {
		return nil, err
	}
	return matchSorted(tracepointSearch(pattern), all), nil
}

func tracepointSearch(pattern string) string {
	pattern = orAll(pattern)
	if !strings.Contains(pattern, ":") {
		return "*:" + pattern
	}
	return pattern
}

// tracepointNames lists every tracepoint as "GROUP:NAME".
func tracepointNames() ([]string, error) {
	dir, err := tracefsDir()
	if err != nil {
		return nil, fmt.Errorf("list tracepoints: %w", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "available_events"))
	if err == nil {
		return parseAvailableEvents(data), nil
	}
	names, derr := tracepointsFromEventsDir(filepath.Join(dir, "events"))
	if derr != nil {
		return nil, fmt.Errorf("list tracepoints: %w (and %v)", err, derr)
	}
	return names, nil
}

// parseAvailableEvents reads tracefs available_events: one "GROUP:NAME"
// per line.
func parseAvailableEvents(data []byte) []string {
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if g, n, ok := strings.Cut(line, ":"); ok && g != "" && n != "" {
			names = append(names, line)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// tracepointsFromEventsDir lists events/GROUP/NAME directories that hold a
// format file. The ftrace group is left out: its events describe the
// function tracer's own records and cannot be attached to, which is also
// why available_events does not list them.
func tracepointsFromEventsDir(events string) ([]string, error) {
	groups, err := os.ReadDir(events)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, g := range groups {
		if !g.IsDir() || g.Name() == "ftrace" {
			continue
		}
		evs, err := os.ReadDir(filepath.Join(events, g.Name()))
		if err != nil {
			continue
		}
		for _, e := range evs {
			if e.IsDir() {
				if _, err := os.Stat(filepath.Join(events, g.Name(), e.Name(), "format")); err == nil {
					names = append(names, g.Name()+":"+e.Name())
				}
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

// kernelFunc is a kernel function and the module it lives in ("vmlinux"
// for the kernel proper).
type kernelFunc struct {
	module, name string
}

func (f kernelFunc) qualified() string { return f.module + ":" + f.name }

// KernelFunctions returns the names of the kernel functions that pattern
// matches (see Glob), sorted and without duplicates; an empty pattern
// matches all. See KernelFunctionsFrom for where the names come from.
func KernelFunctions(pattern string) ([]string, error) {
	names, _, err := KernelFunctionsFrom(pattern)
	return names, err
}

// KernelFunctionsFrom is KernelFunctions that also says where the list came
// from, for messages and `-l -v`. The source is tracefs
// available_filter_functions when it can be read: those are the functions
// kprobes and fentry can attach to. When it cannot (no ftrace in the
// kernel, tracefs not mounted, or, as on some locked-down kernels, the file
// exists but may not be opened), the names of all functions in the
// kernel's BTF are used instead; some of those cannot be traced (inlined
// or notrace), and the source text says why the better list was not used.
func KernelFunctionsFrom(pattern string) (names []string, source string, err error) {
	funcs, source, err := kernelFunctions()
	if err != nil {
		return nil, "", err
	}
	all := make([]string, len(funcs))
	for i, f := range funcs {
		all[i] = f.name
	}
	return matchSorted(orAll(pattern), all), source, nil
}

// kernelFunctions lists the kernel's traceable functions with their
// modules, and describes the source used.
func kernelFunctions() ([]kernelFunc, string, error) {
	funcs, path, affErr := readFilterFunctions()
	if affErr == nil {
		return funcs, path, nil
	}
	names, err := kernelBTF()
	if err != nil {
		return nil, "", fmt.Errorf("list kernel functions: %w; and from BTF: %w", affErr, err)
	}
	funcs = make([]kernelFunc, len(names.funcs))
	for i, n := range names.funcs {
		funcs[i] = kernelFunc{"vmlinux", n}
	}
	return funcs, fmt.Sprintf("kernel BTF (%v)", affErr), nil
}

// readFilterFunctions reads tracefs available_filter_functions.
func readFilterFunctions() ([]kernelFunc, string, error) {
	dir, err := tracefsDir()
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, "available_filter_functions")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	return parseFilterFunctions(data), path, nil
}

// parseFilterFunctions reads available_filter_functions: "NAME" or
// "NAME [MODULE]" per line. Entries the kernel writes as
// __ftrace_invalid_address___N stand for functions whose address it could
// not resolve and are not attachable.
func parseFilterFunctions(data []byte) []kernelFunc {
	var funcs []kernelFunc
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "__ftrace_invalid_address__") {
			continue
		}
		mod := "vmlinux"
		if len(f) > 1 && strings.HasPrefix(f[1], "[") && strings.HasSuffix(f[1], "]") && len(f[1]) > 2 {
			mod = f[1][1 : len(f[1])-1]
		}
		funcs = append(funcs, kernelFunc{mod, f[0]})
	}
	return funcs
}

// fentryFunctions lists what fentry/fexit can attach to: functions with
// BTF (they need it for their arguments) that ftrace can also patch, or
// every BTF function when available_filter_functions cannot be read.
func fentryFunctions() ([]kernelFunc, error) {
	names, err := kernelBTF()
	if err != nil {
		return nil, err
	}
	traceable, _, affErr := readFilterFunctions()
	var ok map[string]bool
	if affErr == nil {
		ok = make(map[string]bool, len(traceable))
		for _, f := range traceable {
			if f.module == "vmlinux" {
				ok[f.name] = true
			}
		}
	}
	var funcs []kernelFunc
	for _, n := range names.funcs {
		if ok == nil || ok[n] {
			funcs = append(funcs, kernelFunc{"vmlinux", n})
		}
	}
	return funcs, nil
}

// RawTracepoints returns the raw tracepoints that pattern matches, by
// event name ("sched_switch"), sorted; an empty pattern matches all. A
// pattern with ':' is matched against "MODULE:EVENT" instead, as in
// rawtracepoint:vmlinux:sched_switch. The list comes from the kernel's
// BTF, which describes each raw tracepoint's arguments in a btf_trace_EVENT
// typedef; without BTF it is the tracepoint list minus the per-syscall
// events, which are not raw tracepoints of their own (they are built on
// raw_syscalls).
func RawTracepoints(pattern string) ([]string, error) {
	rts, err := rawTracepoints()
	if err != nil {
		return nil, err
	}
	pattern = orAll(pattern)
	var names []string
	for _, rt := range rts {
		if strings.Contains(pattern, ":") && Glob(pattern, rt.qualified()) ||
			!strings.Contains(pattern, ":") && Glob(pattern, rt.name) {
			names = append(names, rt.name)
		}
	}
	return matchSorted("*", names), nil
}

func rawTracepoints() ([]kernelFunc, error) {
	names, err := kernelBTF()
	if err == nil {
		rts := make([]kernelFunc, len(names.rawTracepoints))
		for i, n := range names.rawTracepoints {
			rts[i] = kernelFunc{"vmlinux", n}
		}
		return rts, nil
	}
	tps, tperr := tracepointNames()
	if tperr != nil {
		return nil, fmt.Errorf("list raw tracepoints: %w; and from tracefs: %w", err, tperr)
	}
	var rts []kernelFunc
	for _, tp := range tps {
		if strings.HasPrefix(tp, "syscalls:sys_enter_") || strings.HasPrefix(tp, "syscalls:sys_exit_") {
			continue
		}
		_, name, _ := strings.Cut(tp, ":")
		rts = append(rts, kernelFunc{"vmlinux", name})
	}
	return rts, nil
}

// btfNames are the names listing needs from the kernel's BTF.
type btfNames struct {
	funcs          []string // functions
	rawTracepoints []string // EVENT of each btf_trace_EVENT typedef
	iters          []string // TARGET of each struct bpf_iter__TARGET
}

// kernelBTF reads the names from vmlinux BTF once per process: walking
// all of it takes about a tenth of a second and it cannot change while the
// kernel runs.
var kernelBTF = sync.OnceValues(func() (*btfNames, error) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return nil, fmt.Errorf("load kernel BTF: %w", err)
	}
	return btfNamesOf(spec)
})

func btfNamesOf(spec *btf.Spec) (*btfNames, error) {
	var n btfNames
	for typ, err := range spec.All() {
		if err != nil {
			return nil, fmt.Errorf("read kernel BTF: %w", err)
		}
		switch t := typ.(type) {
		case *btf.Func:
			n.funcs = append(n.funcs, t.Name)
		case *btf.Typedef:
			if ev, ok := strings.CutPrefix(t.Name, "btf_trace_"); ok && ev != "" {
				n.rawTracepoints = append(n.rawTracepoints, ev)
			}
		case *btf.Struct:
			if it, ok := strings.CutPrefix(t.Name, "bpf_iter__"); ok && it != "" {
				n.iters = append(n.iters, it)
			}
		}
	}
	for _, s := range []*[]string{&n.funcs, &n.rawTracepoints, &n.iters} {
		slices.Sort(*s)
		*s = slices.Compact(*s)
	}
	return &n, nil
}

// UprobeSymbols returns the function symbols of a binary that pattern
// matches (see Glob), sorted and without duplicates; an empty pattern
// matches all. The binary is found with ResolveBinary(binary, 0), so
// "libc.so.6", "libc" and "bash" work as well as paths. Both the static
// symbol table and the dynamic one are read, so stripped binaries still
// list their exported functions; undefined symbols (functions the binary
// imports) are left out because a uprobe cannot be placed on them there.
func UprobeSymbols(binary, pattern string) ([]string, error) {
	path, err := ResolveBinary(binary, 0)
	if err != nil {
		return nil, err
	}
	syms, err := elfFunctionSymbols(path)
	if err != nil {
		return nil, err
	}
	return matchSorted(orAll(pattern), syms), nil
}

// elfFunctionSymbols lists the defined functions (STT_FUNC, and
// STT_GNU_IFUNC such as glibc's memcpy) of an ELF file.
func elfFunctionSymbols(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read symbols of %s: %w", path, err)
	}
	defer f.Close()
	var names []string
	var found bool
	for _, read := range []func() ([]elf.Symbol, error){f.Symbols, f.DynamicSymbols} {
		syms, err := read()
		if errors.Is(err, elf.ErrNoSymbols) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read symbols of %s: %w", path, err)
		}
		found = true
		for _, s := range syms {
			typ := elf.ST_TYPE(s.Info)
			if (typ == elf.STT_FUNC || typ == elf.STT_GNU_IFUNC) &&
				s.Section != elf.SHN_UNDEF && s.Value != 0 && s.Name != "" {
				names = append(names, s.Name)
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("%s has no symbol table", path)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// probeProviders are bpftrace's probe types with their short names, as
// bpftrace 0.26 spells them. listed marks those that `-l` searches when
// the probe type itself is a wildcard ("*sleep*", "*:vfs_*"): the kernel
// ones; return probes and user-space ones only when named.
var probeProviders = []struct {
	name    string
	aliases []string
	listed  bool
}{
	{"begin", []string{"BEGIN"}, false},
	{"bench", nil, false},
	{"end", []string{"END"}, false},
	{"fentry", []string{"f", "kfunc"}, true},
	{"fexit", []string{"fr", "kretfunc"}, false},
	{"hardware", []string{"h"}, true},
	{"interval", []string{"i"}, false},
	{"iter", []string{"it"}, true},
	{"kprobe", []string{"k"}, true},
	{"kretprobe", []string{"kr"}, false},
	{"profile", []string{"p"}, false},
	{"rawtracepoint", []string{"rt"}, true},
	{"self", nil, false},
	{"software", []string{"s"}, true},
	{"test", nil, false},
	{"tracepoint", []string{"t"}, true},
	{"uprobe", []string{"u"}, false},
	{"uretprobe", []string{"ur"}, false},
	{"usdt", []string{"U"}, false},
	{"watchpoint", []string{"w"}, false},
}

// CanonicalProvider returns the full name of a probe type written as its
// full name or short form ("t" → "tracepoint", "kfunc" → "fentry",
// "BEGIN" → "begin"). Full names are also accepted in any case
// ("Tracepoint"); short forms are not, since "u" and "U" are uprobe and
// usdt.
func CanonicalProvider(name string) (string, bool) {
	for _, p := range probeProviders {
		if name == p.name || slices.Contains(p.aliases, name) {
			return p.name, true
		}
	}
	for _, p := range probeProviders {
		if strings.EqualFold(name, p.name) {
			return p.name, true
		}
	}
	return "", false
}

// perfEventSpec is one of bpftrace's software: or hardware: events.
type perfEventSpec struct {
	name, alias string
	config      uint64
	// period is bpftrace's default count: the probe fires once every
	// period events when the spec gives no count.
	period uint64
}

// softwareEvents and hardwareEvents are bpftrace's tables (probe_matcher.h),
// names, aliases and default counts included, in its order.
var softwareEvents = []perfEventSpec{
	{"alignment-faults", "", unix.PERF_COUNT_SW_ALIGNMENT_FAULTS, 1},
	{"bpf-output", "", unix.PERF_COUNT_SW_BPF_OUTPUT, 1},
	{"context-switches", "cs", unix.PERF_COUNT_SW_CONTEXT_SWITCHES, 1000},
	{"cpu-clock", "cpu", unix.PERF_COUNT_SW_CPU_CLOCK, 1000000},
	{"cpu-migrations", "", unix.PERF_COUNT_SW_CPU_MIGRATIONS, 1},
	{"dummy", "", unix.PERF_COUNT_SW_DUMMY, 1},
	{"emulation-faults", "", unix.PERF_COUNT_SW_EMULATION_FAULTS, 1},
	{"major-faults", "", unix.PERF_COUNT_SW_PAGE_FAULTS_MAJ, 1},
	{"minor-faults", "", unix.PERF_COUNT_SW_PAGE_FAULTS_MIN, 100},
	{"page-faults", "faults", unix.PERF_COUNT_SW_PAGE_FAULTS, 100},
	{"task-clock", "", unix.PERF_COUNT_SW_TASK_CLOCK, 1},
}

var hardwareEvents = []perfEventSpec{
	{"backend-stalls", "", unix.PERF_COUNT_HW_STALLED_CYCLES_BACKEND, 1000000},
	{"branch-instructions", "branches", unix.PERF_COUNT_HW_BRANCH_INSTRUCTIONS, 100000},
	{"branch-misses", "", unix.PERF_COUNT_HW_BRANCH_MISSES, 100000},
	{"bus-cycles", "", unix.PERF_COUNT_HW_BUS_CYCLES, 100000},
	{"cache-misses", "", unix.PERF_COUNT_HW_CACHE_MISSES, 1000000},
	{"cache-references", "", unix.PERF_COUNT_HW_CACHE_REFERENCES, 1000000},
	{"cpu-cycles", "cycles", unix.PERF_COUNT_HW_CPU_CYCLES, 1000000},
	{"frontend-stalls", "", unix.PERF_COUNT_HW_STALLED_CYCLES_FRONTEND, 1000000},
	{"instructions", "", unix.PERF_COUNT_HW_INSTRUCTIONS, 1000000},
	{"ref-cycles", "", unix.PERF_COUNT_HW_REF_CPU_CYCLES, 1000000},
}

func lookupPerfEvent(table []perfEventSpec, name string) (perfEventSpec, bool) {
	for _, e := range table {
		if name != "" && (name == e.name || name == e.alias) {
			return e, true
		}
	}
	return perfEventSpec{}, false
}

// SoftwareEvent resolves the event of a software:EVENT[:COUNT] probe, by
// name or alias ("page-faults" or "faults"): the perf_event_attr type and
// config, and the count bpftrace uses when the probe gives none
// (software:page-faults fires every 100 faults, software:cpu-clock every
// 1000000 ns).
func SoftwareEvent(name string) (typ uint32, config, defaultPeriod uint64, ok bool) {
	e, ok := lookupPerfEvent(softwareEvents, name)
	if !ok {
		return 0, 0, 0, false
	}
	return unix.PERF_TYPE_SOFTWARE, e.config, e.period, true
}

// HardwareEvent is SoftwareEvent for hardware:EVENT[:COUNT] probes
// ("cpu-cycles" or "cycles", ...).
func HardwareEvent(name string) (typ uint32, config, defaultPeriod uint64, ok bool) {
	e, ok := lookupPerfEvent(hardwareEvents, name)
	if !ok {
		return 0, 0, 0, false
	}
	return unix.PERF_TYPE_HARDWARE, e.config, e.period, true
}

// perfEventEntries is how `-l` shows a perf event table: "NAME:" and
// "ALIAS:" each, the trailing ':' standing for the optional count.
func perfEventEntries(table []perfEventSpec) []string {
	var out []string
	for _, e := range table {
		out = append(out, e.name+":")
		if e.alias != "" {
			out = append(out, e.alias+":")
		}
	}
	return out
}

// timeUnits are the units interval: and profile: take, which is what -l
// lists for them.
var timeUnits = []string{"hz:", "ms:", "s:", "us:"}

// probeSources are where listing gets its candidates; tests replace them.
type probeSources struct {
	tracepoints    func() ([]string, error) // "GROUP:NAME"
	kernelFuncs    func() ([]kernelFunc, error)
	fentryFuncs    func() ([]kernelFunc, error)
	rawTracepoints func() ([]kernelFunc, error)
	iters          func() ([]string, error)
	// uprobeSymbols returns the resolved path of binary and its functions.
	uprobeSymbols func(binary string) (string, []string, error)
}

// systemProbeSources reads the running system, each source at most once
// per listing (a wildcard probe type asks for functions twice).
func systemProbeSources() *probeSources {
	return &probeSources{
		tracepoints: sync.OnceValues(tracepointNames),
		kernelFuncs: sync.OnceValues(func() ([]kernelFunc, error) {
			funcs, _, err := kernelFunctions()
			return funcs, err
		}),
		fentryFuncs:    sync.OnceValues(fentryFunctions),
		rawTracepoints: sync.OnceValues(rawTracepoints),
		iters: func() ([]string, error) {
			n, err := kernelBTF()
			if err != nil {
				return nil, err
			}
			return n.iters, nil
		},
		uprobeSymbols: func(binary string) (string, []string, error) {
			path, err := ResolveBinary(binary, 0)
			if err != nil {
				return "", nil, err
			}
			syms, err := elfFunctionSymbols(path)
			return path, syms, err
		},
	}
}

// ListProbes implements `bpftrace -l [PATTERN]`: the probes that pattern
// matches, one per line as bpftrace prints them, grouped by probe type in
// alphabetical order and sorted within each type:
//
//	tracepoint:syscalls:sys_enter_openat
//	rawtracepoint:vmlinux:sched_switch
//	kprobe:vfs_read            (kprobe:MODULE:FUNC when the pattern names a module)
//	fentry:vmlinux:vfs_read
//	uprobe:/usr/bin/bash:readline
//	software:cpu-clock:        (software:, hardware:, interval:, profile:)
//	iter:task
//
// PATTERN is PROBETYPE:REST with the probe type's full or short name
// ("t:syscalls:*"), or a wildcard for the type ("*:vfs_*"); a pattern
// without ':' ("*sleep*") searches every kernel probe type, and an empty
// one lists them all. Return probes (kretprobe, fexit, uretprobe) list the
// same points as their entry probes. User-space probes are listed only when
// named, and need a binary: "uprobe:/bin/bash:read*", "u:libc:mallo*"
// ("uprobe:BINARY" alone lists all its functions).
//
// When some sources cannot be read (no BTF, tracefs not mounted) the
// probes from the others are still returned, with an error saying what is
// missing; callers print it as a warning, as bpftrace does.
func ListProbes(pattern string) ([]string, error) {
	return systemProbeSources().list(pattern)
}

func (src *probeSources) list(pattern string) ([]string, error) {
	switch {
	case pattern == "":
		pattern = "*:*"
	case !strings.Contains(pattern, ":"):
		pattern = "*:" + pattern
	}
	typ, rest, _ := strings.Cut(pattern, ":")
	rest = orAll(rest)

	var types []string
	if HasWildcard(typ) {
		for _, p := range probeProviders {
			if p.listed && Glob(typ, p.name) {
				types = append(types, p.name)
			}
		}
	} else {
		name, ok := CanonicalProvider(typ)
		if !ok {
			return nil, fmt.Errorf("invalid probe type %q in %q", typ, pattern)
		}
		types = []string{name}
	}

	var out []string
	var errs []error
	for _, t := range types {
		matches, err := src.match(t, rest)
		if err != nil {
			errs = append(errs, fmt.Errorf("list %s probes: %w", t, err))
		}
		for _, m := range matches {
			out = append(out, t+":"+m)
		}
	}
	return out, errors.Join(errs...)
}

// match returns what follows "TYPE:" in the listing of each probe of type
// typ that rest matches.
func (src *probeSources) match(typ, rest string) ([]string, error) {
	// Most kinds name their probes MODULE:NAME or GROUP:NAME; a rest
	// without ':' then means the name in any module or group.
	qualified := func(list []string) []string {
		if !strings.Contains(rest, ":") {
			return matchSorted("*:"+rest, list)
		}
		return matchSorted(rest, list)
	}
	switch typ {
	case "tracepoint":
		tps, err := src.tracepoints()
		return qualified(tps), err
	case "kprobe", "kretprobe":
		funcs, err := src.kernelFuncs()
		// bpftrace shows kprobes without their module unless the pattern
		// names one: kprobe:vfs_read, kprobe:ext4:ext4_sync_fs.
		if strings.Contains(rest, ":") {
			return matchSorted(rest, qualifiedNames(funcs)), err
		}
		names := make([]string, len(funcs))
		for i, f := range funcs {
			names[i] = f.name
		}
		return matchSorted(rest, names), err
	case "fentry", "fexit":
		funcs, err := src.fentryFuncs()
		return qualified(qualifiedNames(funcs)), err
	case "rawtracepoint":
		rts, err := src.rawTracepoints()
		return qualified(qualifiedNames(rts)), err
	case "iter":
		iters, err := src.iters()
		return matchSorted(rest, iters), err
	case "software":
		return matchEntries(rest, perfEventEntries(softwareEvents)), nil
	case "hardware":
		return matchEntries(rest, perfEventEntries(hardwareEvents)), nil
	case "interval", "profile":
		return matchEntries(rest, timeUnits), nil
	case "uprobe", "uretprobe":
		return src.matchUprobes(rest)
	case "usdt":
		return matchUSDTProbes(rest)
	}
	// begin, end, self, test, bench and watchpoint name no set of points.
	return nil, nil
}

// matchEntries matches "NAME:" entries; "software:faults" finds
// "faults:" as well as "software:faults:" does, where bpftrace needs the
// trailing ':'.
func matchEntries(rest string, entries []string) []string {
	m := matchSorted(rest, entries)
	if !strings.HasSuffix(rest, ":") && !strings.HasSuffix(rest, "*") {
		m = append(m, matchSorted(rest+":", entries)...)
		slices.Sort(m)
		m = slices.Compact(m)
	}
	return m
}

// matchUSDTProbes lists BINARY:PROVIDER:NAME for rest =
// BINARY[:[PROVIDER:]NAME], each probe once however many sites it has.
func matchUSDTProbes(rest string) ([]string, error) {
	bin, spec, _ := strings.Cut(rest, ":")
	if bin == "" || bin == "*" {
		return nil, errors.New("listing usdt probes needs a binary: usdt:BINARY[:PROVIDER:NAME]")
	}
	if spec == "" {
		spec = "*"
	}
	probes, err := FindUSDT(bin, 0, spec)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(probes))
	for i, p := range probes {
		names[i] = p.Path + ":" + p.Provider + ":" + p.Name
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// matchUprobes lists BINARY:FUNCTION for rest = BINARY[:PATTERN]. A binary
// given as a path may contain '*' to search several files.
func (src *probeSources) matchUprobes(rest string) ([]string, error) {
	bin, fn, ok := strings.Cut(rest, ":")
	if !ok {
		fn = "*"
	}
	if bin == "" || bin == "*" {
		return nil, errors.New("listing uprobes needs a binary: uprobe:BINARY:PATTERN")
	}
	bins := []string{bin}
	if HasWildcard(bin) {
		if !strings.Contains(bin, "/") {
			return nil, fmt.Errorf("a wildcard in uprobe binary %q needs a path", bin)
		}
		paths, err := filepath.Glob(bin)
		if err != nil {
			return nil, fmt.Errorf("uprobe binary %q: %w", bin, err)
		}
		// A glob also finds scripts, data files and directories; only ELF
		// files can hold uprobes.
		bins = slices.DeleteFunc(paths, func(p string) bool { return !isELFFile(p) })
	}
	var out []string
	var errs []error
	for _, b := range bins {
		path, syms, err := src.uprobeSymbols(b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, s := range matchSorted(orAll(fn), syms) {
			out = append(out, path+":"+s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), errors.Join(errs...)
}

// isELFFile reports whether p is a regular file that starts with the ELF
// magic number.
func isELFFile(p string) bool {
	if checkRegularFile(p) != nil {
		return false
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	_, err = io.ReadFull(f, magic[:])
	return err == nil && string(magic[:]) == elf.ELFMAG
}

func qualifiedNames(funcs []kernelFunc) []string {
	out := make([]string, len(funcs))
	for i, f := range funcs {
		out[i] = f.qualified()
	}
	return out
}
