package compiled

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"

	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/codegen"
	"github.com/wagglebpf/waggle/lang/ctypes"
)

// Encode writes p as a compiled program file. It writes the programs'
// instructions as they are: encode before the programs are relocated for
// another kernel, or loaded.
func Encode(w io.Writer, p *Program) error {
	doc, err := toDocument(p)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString(Magic)
	binary.Write(&b, binary.LittleEndian, uint32(Version))
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("encode compiled program: %w", err)
	}
	_, err = w.Write(b.Bytes())
	return err
}

func toDocument(p *Program) (*document, error) {
	code := p.Code
	if code == nil || code.Spec == nil || code.Info == nil {
		return nil, fmt.Errorf("encode compiled program: nothing compiled")
	}
	cfg := code.Info.Config
	doc := &document{
		File: text(p.File), Source: text(p.Source), Params: texts(p.Params),
		PID: p.PID, Unsafe: p.Unsafe, HelperErrors: p.HelperErrors,
		Config:  wireConfig{MaxStrlen: cfg.MaxStrlen, MaxMapKeys: cfg.MaxMapKeys, PrintMapsOnExit: cfg.PrintMapsOnExit, MissingProbesErr: cfg.MissingProbesErr},
		Assumes: assumptionsToWire(p.Assumes),
	}
	for _, name := range slices.Sorted(maps.Keys(p.NamedArgs)) {
		doc.NamedArgs = append(doc.NamedArgs, namedArg{Name: text(name), Value: text(p.NamedArgs[name])})
	}
	for _, name := range slices.Sorted(maps.Keys(code.Spec.Maps)) {
		ms := code.Spec.Maps[name]
		doc.KernelMaps = append(doc.KernelMaps, wireMapSpec{Name: text(name), Type: uint32(ms.Type), KeySize: ms.KeySize, ValueSize: ms.ValueSize, MaxEntries: ms.MaxEntries, Flags: ms.Flags})
	}
	types := newTypeWriter()
	for _, name := range slices.Sorted(maps.Keys(code.Spec.Programs)) {
		wp, err := programToWire(name, code, types)
		if err != nil {
			return nil, err
		}
		doc.Programs = append(doc.Programs, wp)
	}
	for _, pr := range code.Probes {
		doc.Probes = append(doc.Probes, probeToWire(pr))
	}
	for _, f := range code.Formats {
		wf := wireFormat{Text: text(f.Text)}
		for _, a := range f.Args {
			i, err := types.ref(a)
			if err != nil {
				return nil, fmt.Errorf("encode format %q: %w", f.Text, err)
			}
			wf.Args = append(wf.Args, i)
		}
		doc.Formats = append(doc.Formats, wf)
	}
	for _, m := range code.Maps {
		k, err := types.ref(m.Key)
		if err != nil {
			return nil, fmt.Errorf("encode map %s: %w", m.Name, err)
		}
		v, err := types.ref(m.Value)
		if err != nil {
			return nil, fmt.Errorf("encode map %s: %w", m.Name, err)
		}
		doc.Maps = append(doc.Maps, wireMap{Name: text(m.Name), BPFName: text(m.BPFName), Key: k, Value: v, PerCPU: m.PerCPU, Cell: m.Cell})
	}
	for _, v := range code.Values {
		i, err := types.ref(v)
		if err != nil {
			return nil, fmt.Errorf("encode printed value: %w", err)
		}
		doc.Values = append(doc.Values, i)
	}
	for _, h := range code.HelperErrors {
		doc.HelperCalls = append(doc.HelperCalls, wireHelperCall{Helper: text(h.Helper), At: spanToWire(h.Span)})
	}
	doc.Types = types.table
	blob, err := types.marshalBTF()
	if err != nil {
		return nil, fmt.Errorf("encode C types: %w", err)
	}
	doc.BTF = blob
	return doc, nil
}

func programToWire(name string, code *codegen.Program, types *typeWriter) (wireProgram, error) {
	ps := code.Spec.Programs[name]
	wp := wireProgram{Name: text(name), Type: uint32(ps.Type), AttachType: uint32(ps.AttachType), AttachTo: text(ps.AttachTo), License: text(ps.License)}
	var b bytes.Buffer
	for i, ins := range ps.Instructions {
		if _, err := ins.Marshal(&b, binary.LittleEndian); err != nil {
			return wp, fmt.Errorf("encode program %s, instruction %d: %w", name, i, err)
		}
		if s := ins.Symbol(); s != "" {
			wp.Symbols = append(wp.Symbols, insnName{Insn: i, Name: text(s)})
		}
		if r := ins.Reference(); r != "" {
			wp.References = append(wp.References, insnName{Insn: i, Name: text(r)})
		}
		if r := codegen.RelocOf(&ins); r != nil {
			wp.Relocs = append(wp.Relocs, wireReloc{Insn: i, Root: text(ctypes.TypeName(r.Root)), Path: texts(r.Path), Local: r.Local})
		}
		if fn := btf.FuncMetadata(&ins); fn != nil {
			id, err := types.addFunc(fn)
			if err != nil {
				return wp, fmt.Errorf("encode program %s, function %s: %w", name, fn.Name, err)
			}
			wp.Funcs = append(wp.Funcs, insnBTF{Insn: i, BTF: id})
		}
	}
	wp.Code = b.Bytes()
	return wp, nil
}

func probeToWire(pr *codegen.Probe) wireProbe {
	in := pr.Instance
	wp := wireProbe{
		Program: text(pr.Program), Kind: in.Kind.String(), Name: text(in.Name),
		Group: text(in.Group), Event: text(in.Event), Func: text(in.Func), Offset: in.Offset,
		Binary: text(in.Binary), Symbol: text(in.Symbol), PerfEvent: text(in.PerfEvent),
		Period: in.Period, Freq: in.Freq, OneCPU: in.OneCPU,
		Target: targetToWire(pr.Target),
	}
	if in.Probe != nil {
		wp.At = spanToWire(in.Probe.Span)
	}
	if ap := in.Point; ap != nil {
		wp.Point = wirePoint{At: spanToWire(ap.Span), Raw: text(ap.Raw), Provider: text(ap.Provider), Parts: texts(ap.Parts)}
	}
	if u := in.USDT; u != nil {
		wp.USDT = &wireUSDT{Path: text(u.Path), Provider: text(u.Provider), Name: text(u.Name), PC: u.PC, Offset: u.Offset, Base: u.Base,
			Semaphore: u.Semaphore, SemaphoreOffset: u.SemaphoreOffset, Arch: u.Arch, ArgSpec: text(u.ArgSpec)}
	}
	offs := make([]int, 0, len(pr.Sources))
	for o := range pr.Sources {
		offs = append(offs, o)
	}
	sort.Ints(offs)
	for _, o := range offs {
		wp.Sources = append(wp.Sources, wireSpan{Offset: o, At: spanToWire(pr.Sources[o])})
	}
	return wp
}

func targetToWire(t attach.Target) wireTarget {
	return wireTarget{
		Kind: t.Kind.String(), Section: text(t.Section), Group: text(t.Group), Name: text(t.Name), Offset: t.Offset,
		UprobeBinary: text(t.Uprobe.Binary), UprobeSymbol: text(t.Uprobe.Symbol), UprobeOffset: t.Uprobe.Offset,
		PerfEvent: text(t.PerfEvent), Period: t.Period, Frequency: t.Frequency, OneCPU: t.OneCPU,
	}
}

func spanToWire(s ast.Span) span {
	return span{s.Start.Offset, s.Start.Line, s.Start.Col, s.End.Offset, s.End.Line, s.End.Col}
}

func assumptionsToWire(a Assumptions) wireAssumptions {
	w := wireAssumptions{Arch: a.Arch, Kernel: text(a.Kernel), NCPUs: a.NCPUs, RingBuf: a.RingBuf}
	for _, tp := range a.Tracepoints {
		wt := wireTracepoint{Group: text(tp.Group), Event: text(tp.Event)}
		for _, f := range tp.Fields {
			wt.Fields = append(wt.Fields, wireTPField{Name: text(f.Name), Offset: f.Offset, Size: f.Size, Signed: f.Signed, DataLoc: f.DataLoc, RelLoc: f.RelLoc})
		}
		w.Tracepoints = append(w.Tracepoints, wt)
	}
	for _, s := range a.KernelSymbols {
		w.KernelSymbols = append(w.KernelSymbols, wireSymbol{Name: text(s.Name), Addr: s.Addr})
	}
	for _, s := range a.UserSymbols {
		w.UserSymbols = append(w.UserSymbols, wireSymbol{Name: text(s.Name), Addr: s.Addr})
	}
	for _, e := range a.Enums {
		w.Enums = append(w.Enums, wireEnum{Name: text(e.Name), Value: e.Value})
	}
	for _, s := range a.Sizes {
		w.Sizes = append(w.Sizes, wireTypeSize{Type: text(s.Type), Path: texts(s.Path), Value: s.Value})
	}
	for _, r := range a.Records {
		wr := wireRecord{Type: text(r.Type), Size: r.Size}
		for _, m := range r.Members {
			wr.Members = append(wr.Members, wireMember{Path: text(m.Path), BitOffset: m.BitOffset, BitSize: m.BitSize, Size: m.Size})
		}
		w.Records = append(w.Records, wr)
	}
	for _, u := range a.USDT {
		w.USDT = append(w.USDT, wireUSDTSite{Path: text(u.Path), Provider: text(u.Provider), Name: text(u.Name), Offset: u.Offset, SemaphoreOffset: u.SemaphoreOffset, ArgSpec: text(u.ArgSpec)})
	}
	return w
}
