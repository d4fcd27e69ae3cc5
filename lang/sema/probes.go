// Package sema checks a parsed script: it resolves attach points to
// concrete probes, infers and checks the type of every expression, and
// works out each map's key and value types across all probes.
package sema

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/lang/ast"
)

// ProbeKind is the mechanism behind one concrete probe.
type ProbeKind int

// Probe kinds.
const (
	ProbeBegin ProbeKind = iota + 1
	ProbeEnd
	ProbeTracepoint
	ProbeRawTracepoint
	ProbeKprobe
	ProbeKretprobe
	ProbeUprobe
	ProbeUretprobe
	ProbeInterval
	ProbeProfile
	ProbeSoftware
	ProbeHardware
	ProbeFentry
	ProbeFexit
	ProbeUsdt
)

// providers maps every spelling bpftrace accepts (short forms included,
// case-insensitively) to a probe kind.
var providers = map[string]ProbeKind{
	"begin": ProbeBegin, "end": ProbeEnd,
	"tracepoint": ProbeTracepoint, "t": ProbeTracepoint,
	"rawtracepoint": ProbeRawTracepoint, "rt": ProbeRawTracepoint,
	"kprobe": ProbeKprobe, "k": ProbeKprobe,
	"kretprobe": ProbeKretprobe, "kr": ProbeKretprobe,
	"uprobe": ProbeUprobe, "u": ProbeUprobe,
	"uretprobe": ProbeUretprobe, "ur": ProbeUretprobe,
	"interval": ProbeInterval, "i": ProbeInterval,
	"profile": ProbeProfile, "p": ProbeProfile,
	"software": ProbeSoftware, "s": ProbeSoftware,
	"hardware": ProbeHardware, "h": ProbeHardware,
	"fentry": ProbeFentry, "f": ProbeFentry, "kfunc": ProbeFentry,
	"fexit": ProbeFexit, "fr": ProbeFexit, "kretfunc": ProbeFexit,
	"usdt": ProbeUsdt, "us": ProbeUsdt,
}

// unsupportedProviders are bpftrace's other probe types, named so that
// their error says "not supported yet" rather than "unknown".
var unsupportedProviders = map[string]string{
	"watchpoint": "watchpoint", "w": "watchpoint",
	"asyncwatchpoint": "asyncwatchpoint", "aw": "asyncwatchpoint",
	"iter": "iter", "it": "iter",
}

var kindProvider = map[ProbeKind]string{
	ProbeBegin: "BEGIN", ProbeEnd: "END", ProbeTracepoint: "tracepoint", ProbeRawTracepoint: "rawtracepoint",
	ProbeKprobe: "kprobe", ProbeKretprobe: "kretprobe", ProbeUprobe: "uprobe", ProbeUretprobe: "uretprobe",
	ProbeInterval: "interval", ProbeProfile: "profile", ProbeSoftware: "software", ProbeHardware: "hardware",
	ProbeFentry: "fentry", ProbeFexit: "fexit", ProbeUsdt: "usdt",
}

func (k ProbeKind) String() string { return kindProvider[k] }

// Instance is one concrete probe: one attach point of a probe, with
// wildcards expanded.
type Instance struct {
	Probe *ast.Probe
	Point *ast.AttachPoint
	Kind  ProbeKind
	// Name is the canonical probe name, the value of the `probe` builtin.
	Name string

	// Tracepoint group and event; raw tracepoint, kprobe and fentry function.
	Group, Event string
	Func         string
	Offset       uint64
	// Uprobe binary (as written; attach resolves it) and symbol.
	Binary, Symbol string
	// Perf-event probes: the event, and a period or frequency.
	PerfEvent    string
	Period, Freq uint64
	// OneCPU is true for interval probes, which fire on one CPU only.
	OneCPU bool
	// Format describes a tracepoint's args.
	Format *attach.TracepointFormat
	// Proto is a fentry/fexit function's prototype from the kernel's BTF.
	Proto *btf.FuncProto
	// USDT is the probe site of a usdt probe: its file, file offset,
	// semaphore and argument specifications.
	USDT *attach.USDTProbe
}

// argRegisters is how many argN builtins a probe may use.
const argRegisters = 6

// resolve expands one attach point into instances.
func (c *checker) resolve(p *ast.Probe, ap *ast.AttachPoint) []*Instance {
	kind, ok := providers[strings.ToLower(ap.Provider)]
	if ap.Provider == "U" {
		// bpftrace's short names are case-sensitive here: u is uprobe.
		kind, ok = ProbeUsdt, true
	}
	if !ok {
		if name, known := unsupportedProviders[strings.ToLower(ap.Provider)]; known {
			c.errorf(ap, "%s probes are not supported yet", name)
			return nil
		}
		c.errorf(ap, "unknown probe type %q", ap.Provider)
		return nil
	}
	inst := &Instance{Probe: p, Point: ap, Kind: kind}
	parts := ap.Parts
	want := func(n int, form string) bool {
		if len(parts) != n {
			c.errorf(ap, "%s probes are written %s", kindProvider[kind], form)
			return false
		}
		return true
	}
	switch kind {
	case ProbeBegin, ProbeEnd:
		if len(parts) != 0 {
			c.errorf(ap, "%s takes no arguments", kindProvider[kind])
			return nil
		}
		inst.Name = kindProvider[kind]
		return []*Instance{inst}
	case ProbeTracepoint:
		if !want(2, "tracepoint:GROUP:EVENT") {
			return nil
		}
		return c.expandTracepoints(inst, parts[0], parts[1])
	case ProbeRawTracepoint:
		if len(parts) == 2 { // module:event
			parts = parts[1:]
		}
		if !want(1, "rawtracepoint:EVENT") {
			return nil
		}
		inst.Func = parts[0]
		inst.Name = "rawtracepoint:" + parts[0]
	case ProbeKprobe, ProbeKretprobe, ProbeFentry, ProbeFexit:
		if len(parts) == 2 { // module:function
			parts = parts[1:]
		}
		if !want(1, kindProvider[kind]+":FUNCTION") {
			return nil
		}
		fn, off, err := splitOffset(parts[0])
		if err != nil {
			c.errorf(ap, "%v", err)
			return nil
		}
		if off != 0 && kind != ProbeKprobe {
			c.errorf(ap, "only kprobes take an offset")
			return nil
		}
		inst.Func, inst.Offset = fn, off
		inst.Name = kindProvider[kind] + ":" + parts[0]
		if attach.HasWildcard(fn) {
			return c.expandFunctions(inst, fn)
		}
		if kind == ProbeFentry || kind == ProbeFexit {
			proto, err := funcProto(c.info.kernelBTFSource(), fn)
			if err != nil {
				c.errorf(ap, "%v", err)
				return nil
			}
			inst.Proto = proto
		}
	case ProbeUprobe, ProbeUretprobe:
		if !want(2, kindProvider[kind]+":BINARY:FUNCTION") {
			return nil
		}
		sym, off, err := splitOffset(parts[1])
		if err != nil {
			c.errorf(ap, "%v", err)
			return nil
		}
		inst.Binary, inst.Symbol, inst.Offset = parts[0], sym, off
		if strings.HasPrefix(sym, "0x") && off == 0 {
			v, err := strconv.ParseUint(sym, 0, 64)
			if err == nil {
				inst.Symbol, inst.Offset = "", v
			}
		}
		if attach.HasWildcard(sym) {
			return c.expandUprobes(inst, parts[0], sym)
		}
		inst.Name = kindProvider[kind] + ":" + parts[0] + ":" + parts[1]
	case ProbeInterval, ProbeProfile:
		unit, n := "", ""
		switch len(parts) {
		case 2:
			unit, n = parts[0], parts[1]
		case 1: // interval:1s, profile:99 (hz)
			unit, n = splitUnit(parts[0])
			if unit == "" {
				unit = "hz"
			}
		default:
			c.errorf(ap, "%s probes are written %s:UNIT:N (UNIT is s, ms, us or hz)", kindProvider[kind], kindProvider[kind])
			return nil
		}
		if n == "" {
			c.errorf(ap, "%s probes are written %s:UNIT:N (UNIT is s, ms, us or hz)", kindProvider[kind], kindProvider[kind])
			return nil
		}
		v, err := strconv.ParseUint(strings.ReplaceAll(n, "_", ""), 10, 64)
		if err != nil || v == 0 {
			c.errorf(ap, "%s rate %q is not a positive integer", kindProvider[kind], n)
			return nil
		}
		scale := map[string]uint64{"s": 1_000_000_000, "sec": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
		switch mul, ok := scale[unit]; {
		case ok && v > math.MaxInt64/mul:
			c.errorf(ap, "%s period %s%s is too long", kindProvider[kind], n, unit)
			return nil
		case ok:
			inst.Period = v * mul
		case unit == "hz" && v > 1_000_000_000:
			c.errorf(ap, "%s rate %s hz is more than once per nanosecond", kindProvider[kind], n)
			return nil
		case unit == "hz":
			inst.Freq = v
		default:
			c.errorf(ap, "unknown %s unit %q (expected s, ms, us or hz)", kindProvider[kind], unit)
			return nil
		}
		inst.PerfEvent = "cpu-clock"
		inst.OneCPU = kind == ProbeInterval
		if inst.OneCPU && inst.Freq != 0 {
			inst.Period, inst.Freq = 1_000_000_000/inst.Freq, 0
		}
		inst.Name = kindProvider[kind] + ":" + strings.Join(ap.Parts, ":")
	case ProbeSoftware, ProbeHardware:
		if len(parts) != 1 && len(parts) != 2 {
			c.errorf(ap, "%s probes are written %s:EVENT[:COUNT]", kindProvider[kind], kindProvider[kind])
			return nil
		}
		var (
			def uint64
			ok  bool
		)
		if kind == ProbeSoftware {
			_, _, def, ok = attach.SoftwareEvent(parts[0])
		} else {
			_, _, def, ok = attach.HardwareEvent(parts[0])
		}
		if !ok {
			c.errorf(ap, "unknown %s event %q", kindProvider[kind], parts[0])
			return nil
		}
		inst.PerfEvent, inst.Period = parts[0], def
		if len(parts) == 2 {
			v, err := strconv.ParseUint(parts[1], 10, 64)
			if err != nil || v == 0 {
				c.errorf(ap, "%s count %q is not a positive integer", kindProvider[kind], parts[1])
				return nil
			}
			inst.Period = v
		}
		inst.Name = kindProvider[kind] + ":" + strings.Join(ap.Parts, ":")
	case ProbeUsdt:
		return c.expandUSDT(inst, parts)
	}
	return []*Instance{inst}
}

func (c *checker) expandTracepoints(tmpl *Instance, group, event string) []*Instance {
	names := []string{group + ":" + event}
	if attach.HasWildcard(group + event) {
		var err error
		names, err = attach.Tracepoints(group + ":" + event)
		if err != nil {
			c.errorf(tmpl.Point, "%v", err)
			return nil
		}
		if len(names) == 0 {
			c.errorf(tmpl.Point, "no tracepoint matches %s:%s", group, event)
			return nil
		}
	}
	var out []*Instance
	for _, n := range names {
		g, e, _ := strings.Cut(n, ":")
		format, err := attach.ReadTracepointFormat(g, e)
		if err != nil {
			c.errorf(tmpl.Point, "%v", err)
			continue
		}
		inst := *tmpl
		inst.Group, inst.Event, inst.Format = g, e, format
		inst.Name = "tracepoint:" + g + ":" + e
		out = append(out, &inst)
	}
	return out
}

// expandFunctions expands a kernel function wildcard (kprobe, fentry).
func (c *checker) expandFunctions(tmpl *Instance, pattern string) []*Instance {
	if tmpl.Offset != 0 {
		c.errorf(tmpl.Point, "a wildcard probe cannot have an offset")
		return nil
	}
	fns, err := attach.KernelFunctions(pattern)
	if err != nil {
		c.errorf(tmpl.Point, "%v", err)
		return nil
	}
	if len(fns) == 0 {
		c.errorf(tmpl.Point, "no kernel function matches %s", pattern)
		return nil
	}
	var out []*Instance
	for _, fn := range fns {
		inst := *tmpl
		inst.Func = fn
		inst.Name = kindProvider[tmpl.Kind] + ":" + fn
		out = append(out, &inst)
	}
	return out
}

func (c *checker) expandUprobes(tmpl *Instance, binary, pattern string) []*Instance {
	syms, err := attach.UprobeSymbols(binary, pattern)
	if err != nil {
		c.errorf(tmpl.Point, "%v", err)
		return nil
	}
	if len(syms) == 0 {
		c.errorf(tmpl.Point, "no function in %s matches %s", binary, pattern)
		return nil
	}
	var out []*Instance
	for _, s := range syms {
		inst := *tmpl
		inst.Symbol = s
		inst.Name = kindProvider[tmpl.Kind] + ":" + binary + ":" + s
		out = append(out, &inst)
	}
	return out
}

func splitOffset(s string) (string, uint64, error) {
	name, off, ok := strings.Cut(s, "+")
	if !ok {
		return s, 0, nil
	}
	v, err := strconv.ParseUint(off, 0, 64)
	if err != nil || name == "" {
		return "", 0, fmt.Errorf("%q: expected FUNCTION+OFFSET", s)
	}
	return name, v, nil
}

// splitUnit splits "1s" into ("s", "1") and "99" into ("", "99").
func splitUnit(s string) (unit, n string) {
	i := len(s)
	for i > 0 && (s[i-1] < '0' || s[i-1] > '9') {
		i--
	}
	return s[i:], s[:i]
}
