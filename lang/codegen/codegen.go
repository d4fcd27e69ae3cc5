// Package codegen compiles a checked script straight to eBPF instructions
// (cilium/ebpf's asm), one program per concrete probe, with the maps the
// script uses and the tables user space needs to print what the programs
// send.
package codegen

import (
	"fmt"
	"runtime"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
	"github.com/wagglebpf/waggle/lang/sema"
)

// Names of the maps every program may use.
const (
	// EventsMap is the ring buffer that carries printf and friends.
	EventsMap = "events"
	// GlobalsMap is an array user space fills before BEGIN: slot 0 is the
	// start time in ns (for elapsed), slot 1 the -c command's pid (cpid).
	GlobalsMap = "globals"
	// StacksMap is the stack trace map of kstack and ustack, made only
	// when a script uses them. Its values are sema.MaxStackDepth frames.
	StacksMap = "stacks"
	// StacksEntries is how many distinct stacks StacksMap holds.
	StacksEntries = 4096
	// GlobalStart and GlobalCpid index GlobalsMap.
	GlobalStart = 0
	GlobalCpid  = 1
)

// Program is a compiled script.
type Program struct {
	Spec *ebpf.CollectionSpec
	// Probes in source order; BEGIN and END are run, not attached.
	Probes []*Probe
	// Formats are the printf/time/cat format strings with their argument
	// types, indexed by the records' format index.
	Formats []Format
	// Maps are the script's maps, indexed by the records' map index.
	Maps []*Map
	// Values are the types of print(value) records, by value index.
	Values []*ast.Type
	// HelperErrors are the helper calls checked at run time (-k), by the
	// index their records carry.
	HelperErrors []HelperError
	Info         *sema.Info
}

// HelperError is one helper call whose failure is reported at run time.
type HelperError struct {
	Helper string // bpftrace's name: "probe_read_kernel", ...
	Span   ast.Span
}

// Probe is one compiled program and where it goes.
type Probe struct {
	Program  string // name in Spec.Programs
	Instance *sema.Instance
	Target   attach.Target
	// Sources maps raw instruction offsets to script positions, for
	// explaining verifier rejections.
	Sources map[int]ast.Span
}

// Format is one printf-like format string.
type Format struct {
	Text string
	Args []*ast.Type
}

// Map is one script map.
type Map struct {
	Name    string // "@name"
	BPFName string // in Spec.Maps
	Key     *ast.Type
	Value   *ast.Type
	PerCPU  bool
	// Cell is a keyless count() kept in a one-entry per-CPU array, which
	// has no entry to delete: delete() zeroes it.
	Cell bool
}

// Options for Compile.
type Options struct {
	NCPUs int
	// EventsSize is the ring buffer size in bytes (default 1 MiB).
	EventsSize uint32
	// PerfEvents sends records through a perf event array instead of a
	// ring buffer, for kernels older than 5.8.
	PerfEvents bool
	// PID, when not 0, makes every probe but BEGIN and END ignore other
	// processes (bpftrace's -p).
	PID int
	// KernelAddress resolves kaddr("name"); nil makes kaddr an error.
	KernelAddress func(name string) (uint64, error)
	// UserAddress resolves uaddr("BINARY:SYMBOL") (a bare symbol in a
	// uprobe is looked up in the probe's binary); nil makes uaddr an error.
	UserAddress func(spec string) (uint64, error)
	// HelperErrors reports failed probe reads at run time (bpftrace's -k).
	HelperErrors bool
}

// Compile generates the programs and maps for a checked script.
func Compile(info *sema.Info, opts Options) (*Program, error) {
	p := &Program{
		Info: info,
		Spec: &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{}, Programs: map[string]*ebpf.ProgramSpec{}},
	}
	size := opts.EventsSize
	if size == 0 {
		size = 1 << 20
	}
	p.Spec.Maps[EventsMap] = &ebpf.MapSpec{Name: EventsMap, Type: ebpf.RingBuf, MaxEntries: size}
	if opts.PerfEvents {
		// One buffer per CPU; user space sizes them when it opens them.
		p.Spec.Maps[EventsMap] = &ebpf.MapSpec{Name: EventsMap, Type: ebpf.PerfEventArray, KeySize: 4, ValueSize: 4}
	}
	p.Spec.Maps[GlobalsMap] = &ebpf.MapSpec{Name: GlobalsMap, Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 2}
	mapIndex := map[string]int{}
	for i, name := range info.MapNames() {
		mi := info.Maps[name]
		if mi.Value == nil {
			return nil, fmt.Errorf("map %s is declared but never assigned", name)
		}
		m := &Map{Name: name, BPFName: bpfMapName(i, name), Key: mi.Key, Value: mi.Value, PerCPU: mi.PerCPU}
		m.Cell = isCountCell(m, mi)
		p.Maps = append(p.Maps, m)
		mapIndex[name] = i
		p.Spec.Maps[m.BPFName] = mapSpec(m, mi, info.Config.MaxMapKeys)
	}
	var errs sema.ErrorList
	for i, inst := range info.Instances {
		if err := info.Retype(inst, sema.Options{Params: info.Params, NCPUs: opts.NCPUs}); err != nil {
			return nil, err
		}
		g := &gen{prog: p, inst: inst, mapIndex: mapIndex, opts: opts, vars: map[string]varSlot{}, alias: map[string]string{}}
		g.regs = newRegalloc(g)
		name := fmt.Sprintf("p%d_%s", i, sanitize(inst.Kind.String()))
		insns, err := g.probe()
		if err != nil {
			if se, ok := err.(*sema.Error); ok {
				errs = append(errs, se)
				continue
			}
			return nil, err
		}
		ps := &ebpf.ProgramSpec{
			Name:         name,
			Instructions: insns,
			License:      "GPL",
		}
		target := setProgramType(ps, inst)
		p.Spec.Programs[name] = ps
		p.Probes = append(p.Probes, &Probe{Program: name, Instance: inst, Target: target, Sources: g.sources()})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// bpfMapName makes a kernel map name (at most 15 characters) that is
// unique and still recognisable.
func bpfMapName(i int, name string) string {
	base := sanitize(strings.TrimPrefix(name, "@"))
	if base == "" {
		base = "anon"
	}
	n := fmt.Sprintf("m%d_%s", i, base)
	if len(n) > 15 {
		n = n[:15]
	}
	return n
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// mapSpec picks the kernel map for a script map: per-CPU hashes for
// aggregations, hashes otherwise, as bpftrace does.
func mapSpec(m *Map, mi *sema.MapInfo, maxKeys int) *ebpf.MapSpec {
	keySize := keyBase(m)
	if m.Value.Kind == ast.KindHist || m.Value.Kind == ast.KindLHist {
		keySize += layout.HistKey
	}
	entries := maxKeys
	if mi.MaxEntries > 0 {
		entries = mi.MaxEntries
	}
	typ := ebpf.Hash
	switch {
	case isCountCell(m, mi):
		// One per-CPU counter: an array of one, whose lookup the kernel
		// inlines, as bpftrace keeps it. It always holds its entry, so an
		// unset or cleared count prints as 0, as in bpftrace.
		return &ebpf.MapSpec{Name: m.BPFName, Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: uint32(layout.Size(m.Value)), MaxEntries: 1}
	case mi.Kind == "lruhash":
		typ = ebpf.LRUHash
	case mi.Kind == "percpulruhash":
		typ = ebpf.LRUCPUHash
	case m.PerCPU:
		typ = ebpf.PerCPUHash
	}
	return &ebpf.MapSpec{
		Name:       m.BPFName,
		Type:       typ,
		KeySize:    uint32(keySize),
		ValueSize:  uint32(layout.Size(m.Value)),
		MaxEntries: uint32(entries),
	}
}

// setProgramType sets the program type for an instance and returns its
// attach target.
func setProgramType(ps *ebpf.ProgramSpec, inst *sema.Instance) attach.Target {
	var t attach.Target
	switch inst.Kind {
	case sema.ProbeBegin, sema.ProbeEnd:
		// Run with BPF_PROG_TEST_RUN in waggle's own context.
		ps.Type = ebpf.RawTracepoint
	case sema.ProbeTracepoint:
		ps.Type = ebpf.TracePoint
		t = attach.Target{Kind: attach.KindTracepoint, Group: inst.Group, Name: inst.Event}
	case sema.ProbeRawTracepoint:
		ps.Type = ebpf.RawTracepoint
		t = attach.Target{Kind: attach.KindRawTracepoint, Name: inst.Func}
	case sema.ProbeKprobe, sema.ProbeKretprobe:
		ps.Type = ebpf.Kprobe
		t = attach.Target{Kind: attach.KindKprobe, Name: inst.Func, Offset: inst.Offset}
		if inst.Kind == sema.ProbeKretprobe {
			t.Kind = attach.KindKretprobe
		}
	case sema.ProbeUprobe, sema.ProbeUretprobe:
		ps.Type = ebpf.Kprobe
		t = attach.Target{Kind: attach.KindUprobe, Uprobe: attach.UprobeTarget{Binary: inst.Binary, Symbol: inst.Symbol, Offset: inst.Offset}}
		if inst.Kind == sema.ProbeUretprobe {
			t.Kind = attach.KindUretprobe
		}
	case sema.ProbeUsdt:
		ps.Type = ebpf.Kprobe // a uprobe on the probe site; lang/driver attaches it
		t = usdtTarget(inst)
	case sema.ProbeInterval, sema.ProbeProfile, sema.ProbeSoftware, sema.ProbeHardware:
		ps.Type = ebpf.PerfEvent
		t = attach.Target{Kind: attach.KindPerfEvent, PerfEvent: inst.PerfEvent, Period: inst.Period, Frequency: inst.Freq, OneCPU: inst.OneCPU}
	case sema.ProbeFentry, sema.ProbeFexit:
		ps.Type = ebpf.Tracing
		ps.AttachType = ebpf.AttachTraceFEntry
		t = attach.Target{Kind: attach.KindFentry, Name: inst.Func}
		if inst.Kind == sema.ProbeFexit {
			ps.AttachType = ebpf.AttachTraceFExit
			t.Kind = attach.KindFexit
		}
		ps.AttachTo = inst.Func
	}
	t.Section = inst.Name
	return t
}

// ptRegs are the pt_regs offsets of the argument registers and the return
// value register, per architecture.
type ptRegs struct {
	args []int16
	ret  int16
}

var regsByArch = map[string]ptRegs{
	"amd64":   {args: []int16{112, 104, 96, 88, 72, 64}, ret: 80},  // di si dx cx r8 r9; ax
	"arm64":   {args: []int16{0, 8, 16, 24, 32, 40}, ret: 0},       // x0..x5; x0
	"riscv64": {args: []int16{80, 88, 96, 104, 112, 120}, ret: 80}, // a0..a5; a0
}

func archRegs() (ptRegs, error) {
	r, ok := regsByArch[runtime.GOARCH]
	if !ok {
		return r, fmt.Errorf("argN and retval are not supported on %s yet", runtime.GOARCH)
	}
	return r, nil
}

// sortedKeys is a helper for deterministic iteration.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// isCountCell reports whether m is a count() without keys and without an
// explicit declaration, kept in a one-entry per-CPU array.
func isCountCell(m *Map, mi *sema.MapInfo) bool {
	return m.Key == nil && m.Value.Kind == ast.KindCount && m.PerCPU && mi.Kind == ""
}
