package compiled

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/codegen"
	"github.com/wagglebpf/waggle/lang/sema"
)

// ErrNotCompiled is returned by Decode for data that is not a compiled
// program at all.
var ErrNotCompiled = errors.New("not a compiled waggle program (.wgl): it does not start with the .wgl signature")

// VersionError is a compiled program of a format version this package
// does not read.
type VersionError struct {
	Version uint32
}

func (e *VersionError) Error() string {
	if e.Version > Version {
		return fmt.Sprintf("compiled program format version %d is newer than this waggle reads (version %d): run it with a newer waggle, or compile the script again with this one", e.Version, Version)
	}
	return fmt.Sprintf("compiled program format version %d is not one this waggle reads (version %d): compile the script again", e.Version, Version)
}

// IsCompiled reports whether data starts with the compiled program
// signature, Magic (it need not be whole).
func IsCompiled(data []byte) bool { return bytes.HasPrefix(data, []byte(Magic)) }

// Decode reads a compiled program. The result runs as it is (its
// programs are not yet relocated for this kernel: the driver does that
// when it loads them); its assumptions are not checked (see
// Program.Check). Bad input is an error, never a panic.
func Decode(data []byte) (*Program, error) {
	if !IsCompiled(data) {
		return nil, ErrNotCompiled
	}
	if len(data) < HeaderSize {
		return nil, errors.New("compiled program is cut short: it ends inside its header")
	}
	if v := binary.LittleEndian.Uint32(data[len(Magic):]); v != Version {
		return nil, &VersionError{Version: v}
	}
	dec := json.NewDecoder(bytes.NewReader(data[HeaderSize:]))
	dec.DisallowUnknownFields()
	var doc document
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("compiled program is damaged: %w", err)
	}
	if dec.More() {
		return nil, errors.New("compiled program is damaged: data follows its document")
	}
	p, err := fromDocument(&doc)
	if err != nil {
		return nil, fmt.Errorf("compiled program is damaged: %w", err)
	}
	p.decoded = true
	return p, nil
}

func fromDocument(doc *document) (*Program, error) {
	if err := checkSpans(doc); err != nil {
		return nil, err
	}
	types, err := newTypeReader(doc.Types, doc.BTF)
	if err != nil {
		return nil, err
	}
	if doc.PID < 0 {
		return nil, fmt.Errorf("pid %d", doc.PID)
	}
	cfg := sema.Config{MaxStrlen: doc.Config.MaxStrlen, MaxMapKeys: doc.Config.MaxMapKeys, PrintMapsOnExit: doc.Config.PrintMapsOnExit, MissingProbesErr: doc.Config.MissingProbesErr}
	p := &Program{
		File: string(doc.File), Source: []byte(doc.Source), Params: strs(doc.Params),
		PID: doc.PID, Unsafe: doc.Unsafe, HelperErrors: doc.HelperErrors,
	}
	if len(doc.NamedArgs) > 0 {
		p.NamedArgs = map[string]string{}
		for _, a := range doc.NamedArgs {
			p.NamedArgs[string(a.Name)] = string(a.Value)
		}
	}
	if p.Assumes, err = assumptionsFromWire(doc.Assumes); err != nil {
		return nil, err
	}
	info := &sema.Info{Config: cfg, Params: p.Params, Unsafe: p.Unsafe, NamedArgs: p.NamedArgs}
	code := &codegen.Program{
		Info: info,
		Spec: &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{}, Programs: map[string]*ebpf.ProgramSpec{}},
	}
	p.Code = code
	for _, wm := range doc.KernelMaps {
		name := string(wm.Name)
		if name == "" || code.Spec.Maps[name] != nil {
			return nil, fmt.Errorf("kernel map %q is unnamed or named twice", name)
		}
		code.Spec.Maps[name] = &ebpf.MapSpec{Name: name, Type: ebpf.MapType(wm.Type), KeySize: wm.KeySize, ValueSize: wm.ValueSize, MaxEntries: wm.MaxEntries, Flags: wm.Flags}
	}
	for _, wp := range doc.Programs {
		ps, err := programFromWire(wp, types)
		if err != nil {
			return nil, err
		}
		if ps.Name == "" || code.Spec.Programs[ps.Name] != nil {
			return nil, fmt.Errorf("program %q is unnamed or named twice", ps.Name)
		}
		code.Spec.Programs[ps.Name] = ps
	}
	probes := map[span]*ast.Probe{}
	for i, wp := range doc.Probes {
		pr, err := probeFromWire(wp, probes)
		if err != nil {
			return nil, fmt.Errorf("probe %d: %w", i, err)
		}
		if code.Spec.Programs[pr.Program] == nil {
			return nil, fmt.Errorf("probe %s runs program %q, which the file lacks", pr.Instance.Name, pr.Program)
		}
		code.Probes = append(code.Probes, pr)
		info.Instances = append(info.Instances, pr.Instance)
	}
	for i, wf := range doc.Formats {
		f := codegen.Format{Text: string(wf.Text)}
		for _, ref := range wf.Args {
			t, err := types.ref(ref, fmt.Sprintf("format %d", i))
			if err != nil {
				return nil, err
			}
			if t == nil {
				return nil, fmt.Errorf("format %d has an argument without a type", i)
			}
			f.Args = append(f.Args, t)
		}
		code.Formats = append(code.Formats, f)
	}
	for _, wm := range doc.Maps {
		m := &codegen.Map{Name: string(wm.Name), BPFName: string(wm.BPFName), PerCPU: wm.PerCPU, Cell: wm.Cell}
		if code.Spec.Maps[m.BPFName] == nil {
			return nil, fmt.Errorf("map %s is kept in kernel map %q, which the file lacks", m.Name, m.BPFName)
		}
		if m.Key, err = types.ref(wm.Key, "map "+m.Name); err != nil {
			return nil, err
		}
		if m.Value, err = types.ref(wm.Value, "map "+m.Name); err != nil {
			return nil, err
		}
		if m.Value == nil {
			return nil, fmt.Errorf("map %s has no value type", m.Name)
		}
		code.Maps = append(code.Maps, m)
	}
	for i, ref := range doc.Values {
		t, err := types.ref(ref, fmt.Sprintf("printed value %d", i))
		if err != nil {
			return nil, err
		}
		if t == nil {
			return nil, fmt.Errorf("printed value %d has no type", i)
		}
		code.Values = append(code.Values, t)
	}
	for _, h := range doc.HelperCalls {
		code.HelperErrors = append(code.HelperErrors, codegen.HelperError{Helper: string(h.Helper), Span: spanFromWire(h.At)})
	}
	return p, nil
}

func programFromWire(wp wireProgram, types *typeReader) (*ebpf.ProgramSpec, error) {
	name := string(wp.Name)
	ps := &ebpf.ProgramSpec{Name: name, Type: ebpf.ProgramType(wp.Type), AttachType: ebpf.AttachType(wp.AttachType), AttachTo: string(wp.AttachTo), License: string(wp.License)}
	if len(wp.Code) == 0 || len(wp.Code)%asm.InstructionSize != 0 {
		return nil, fmt.Errorf("program %s: %d bytes of code is not a whole number of instructions", name, len(wp.Code))
	}
	insns, err := asm.AppendInstructions(nil, bytes.NewReader(wp.Code), binary.LittleEndian, "linux")
	if err != nil {
		return nil, fmt.Errorf("program %s: %w", name, err)
	}
	at := func(i int, what string) (*asm.Instruction, error) {
		if i < 0 || i >= len(insns) {
			return nil, fmt.Errorf("program %s: %s of instruction %d of %d", name, what, i, len(insns))
		}
		return &insns[i], nil
	}
	for _, s := range wp.Symbols {
		ins, err := at(s.Insn, "symbol")
		if err != nil {
			return nil, err
		}
		*ins = ins.WithSymbol(string(s.Name))
	}
	for _, r := range wp.References {
		ins, err := at(r.Insn, "reference")
		if err != nil {
			return nil, err
		}
		*ins = ins.WithReference(string(r.Name))
	}
	for _, r := range wp.Relocs {
		ins, err := at(r.Insn, "relocation")
		if err != nil {
			return nil, err
		}
		root, err := relocRoot(string(r.Root))
		if err != nil {
			return nil, fmt.Errorf("program %s: %w", name, err)
		}
		if len(r.Path) == 0 {
			return nil, fmt.Errorf("program %s: relocation of %s names no field", name, r.Root)
		}
		// The code generator relocates only `rX += offset`.
		if ins.OpCode != asm.Add.Imm(asm.R0, 0).OpCode {
			return nil, fmt.Errorf("program %s: instruction %d (%v) cannot carry a relocation", name, r.Insn, ins.OpCode)
		}
		*ins = codegen.WithReloc(*ins, &codegen.Reloc{Root: root, Path: strs(r.Path), Local: r.Local})
	}
	for _, f := range wp.Funcs {
		ins, err := at(f.Insn, "function")
		if err != nil {
			return nil, err
		}
		t, err := types.btfType(f.BTF)
		if err != nil {
			return nil, fmt.Errorf("program %s: %w", name, err)
		}
		fn, ok := t.(*btf.Func)
		if !ok {
			return nil, fmt.Errorf("program %s: BTF type %d is not a function", name, f.BTF)
		}
		*ins = btf.WithFuncMetadata(*ins, fn)
	}
	ps.Instructions = insns
	return ps, nil
}

// relocRoot makes the kernel type a relocation starts from: only its
// name matters, the target kernel's BTF gives the rest.
func relocRoot(name string) (btf.Type, error) {
	if n, ok := strings.CutPrefix(name, "struct "); ok && n != "" {
		return &btf.Struct{Name: n}, nil
	}
	if n, ok := strings.CutPrefix(name, "union "); ok && n != "" {
		return &btf.Union{Name: n}, nil
	}
	return nil, fmt.Errorf("relocation root %q is not a struct or union", name)
}

var probeKinds = func() map[string]sema.ProbeKind {
	m := map[string]sema.ProbeKind{}
	for k := sema.ProbeKind(1); k < 64; k++ {
		if s := k.String(); s != "" {
			m[s] = k
		}
	}
	return m
}()

var attachKinds = func() map[string]attach.Kind {
	m := map[string]attach.Kind{}
	for k := attach.Kind(0); k < 64; k++ {
		if s := k.String(); s != "unknown" {
			m[s] = k
		}
	}
	return m
}()

// probeFromWire rebuilds a probe; probes shares the ast.Probe of the
// instances of one probe (a wildcard's).
func probeFromWire(wp wireProbe, probes map[span]*ast.Probe) (*codegen.Probe, error) {
	kind, ok := probeKinds[wp.Kind]
	if !ok {
		return nil, fmt.Errorf("unknown probe kind %q", wp.Kind)
	}
	tk, ok := attachKinds[wp.Target.Kind]
	if !ok && wp.Target.Kind != "unknown" {
		return nil, fmt.Errorf("unknown attach kind %q", wp.Target.Kind)
	}
	probe := probes[wp.At]
	if probe == nil {
		probe = &ast.Probe{Span: spanFromWire(wp.At)}
		probes[wp.At] = probe
	}
	point := &ast.AttachPoint{Span: spanFromWire(wp.Point.At), Raw: string(wp.Point.Raw), Provider: string(wp.Point.Provider), Parts: strs(wp.Point.Parts)}
	probe.Attach = append(probe.Attach, point)
	inst := &sema.Instance{
		Probe: probe, Point: point, Kind: kind, Name: string(wp.Name),
		Group: string(wp.Group), Event: string(wp.Event), Func: string(wp.Func), Offset: wp.Offset,
		Binary: string(wp.Binary), Symbol: string(wp.Symbol), PerfEvent: string(wp.PerfEvent),
		Period: wp.Period, Freq: wp.Freq, OneCPU: wp.OneCPU,
	}
	if u := wp.USDT; u != nil {
		site := &attach.USDTProbe{Path: string(u.Path), Provider: string(u.Provider), Name: string(u.Name), PC: u.PC, Offset: u.Offset, Base: u.Base,
			Semaphore: u.Semaphore, SemaphoreOffset: u.SemaphoreOffset, Arch: u.Arch, ArgSpec: string(u.ArgSpec)}
		site.Args, site.ArgsErr = attach.ParseUSDTArgs(site.ArgSpec, site.Arch)
		if site.ArgsErr != nil {
			site.Args = nil
		}
		inst.USDT = site
	}
	if kind == sema.ProbeUsdt && inst.USDT == nil {
		return nil, fmt.Errorf("usdt probe %s has no probe site", inst.Name)
	}
	t := wp.Target
	pr := &codegen.Probe{
		Program: string(wp.Program), Instance: inst,
		Target: attach.Target{
			Kind: tk, Section: string(t.Section), Group: string(t.Group), Name: string(t.Name), Offset: t.Offset,
			Uprobe:    attach.UprobeTarget{Binary: string(t.UprobeBinary), Symbol: string(t.UprobeSymbol), Offset: t.UprobeOffset},
			PerfEvent: string(t.PerfEvent), Period: t.Period, Frequency: t.Frequency, OneCPU: t.OneCPU,
		},
		Sources: map[int]ast.Span{},
	}
	for _, s := range wp.Sources {
		pr.Sources[s.Offset] = spanFromWire(s.At)
	}
	return pr, nil
}

// checkSpans refuses positions outside the source: a message would draw
// its caret that far.
func checkSpans(doc *document) error {
	limit := len(doc.Source) + 1
	check := func(s span, what string) error {
		for _, v := range s {
			if v < 0 || v > limit {
				return fmt.Errorf("%s: position %v is outside the %d bytes of source", what, s, len(doc.Source))
			}
		}
		return nil
	}
	for i, p := range doc.Probes {
		if err := check(p.At, fmt.Sprintf("probe %d", i)); err != nil {
			return err
		}
		if err := check(p.Point.At, fmt.Sprintf("probe %d", i)); err != nil {
			return err
		}
		for _, src := range p.Sources {
			if err := check(src.At, fmt.Sprintf("probe %d", i)); err != nil {
				return err
			}
		}
	}
	for i, h := range doc.HelperCalls {
		if err := check(h.At, fmt.Sprintf("helper call %d", i)); err != nil {
			return err
		}
	}
	return nil
}

func spanFromWire(s span) ast.Span {
	return ast.Span{Start: ast.Pos{Offset: s[0], Line: s[1], Col: s[2]}, End: ast.Pos{Offset: s[3], Line: s[4], Col: s[5]}}
}

func assumptionsFromWire(w wireAssumptions) (Assumptions, error) {
	a := Assumptions{Arch: w.Arch, Kernel: string(w.Kernel), NCPUs: w.NCPUs, RingBuf: w.RingBuf}
	if w.NCPUs < 0 {
		return a, fmt.Errorf("assumed CPU count %d", w.NCPUs)
	}
	for _, wt := range w.Tracepoints {
		tp := Tracepoint{Group: string(wt.Group), Event: string(wt.Event)}
		for _, f := range wt.Fields {
			tp.Fields = append(tp.Fields, TracepointField{Name: string(f.Name), Offset: f.Offset, Size: f.Size, Signed: f.Signed, DataLoc: f.DataLoc, RelLoc: f.RelLoc})
		}
		a.Tracepoints = append(a.Tracepoints, tp)
	}
	for _, s := range w.KernelSymbols {
		a.KernelSymbols = append(a.KernelSymbols, Symbol{Name: string(s.Name), Addr: s.Addr})
	}
	for _, s := range w.UserSymbols {
		a.UserSymbols = append(a.UserSymbols, Symbol{Name: string(s.Name), Addr: s.Addr})
	}
	for _, e := range w.Enums {
		a.Enums = append(a.Enums, Enum{Name: string(e.Name), Value: e.Value})
	}
	for _, s := range w.Sizes {
		a.Sizes = append(a.Sizes, TypeSize{Type: string(s.Type), Path: strs(s.Path), Value: s.Value})
	}
	for _, wr := range w.Records {
		r := Record{Type: string(wr.Type), Size: wr.Size}
		for _, m := range wr.Members {
			r.Members = append(r.Members, Member{Path: string(m.Path), BitOffset: m.BitOffset, BitSize: m.BitSize, Size: m.Size})
		}
		a.Records = append(a.Records, r)
	}
	for _, u := range w.USDT {
		a.USDT = append(a.USDT, USDTSite{Path: string(u.Path), Provider: string(u.Provider), Name: string(u.Name), Offset: u.Offset, SemaphoreOffset: u.SemaphoreOffset, ArgSpec: string(u.ArgSpec)})
	}
	return a, nil
}
