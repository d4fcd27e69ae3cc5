package inspect

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/internal/disasm"
	"github.com/wagglebpf/waggle/internal/nativedisasm"
	"github.com/wagglebpf/waggle/internal/symtab"
)

// SourceLine is the C source an instruction came from, from the
// program's BTF line info.
type SourceLine struct {
	File   string `json:"file"`
	Line   uint32 `json:"line"`
	Column uint32 `json:"column,omitempty"`
	Text   string `json:"text"`
}

func sourceLineOf(l *btf.Line) *SourceLine {
	if l == nil {
		return nil
	}
	return &SourceLine{File: l.FileName(), Line: l.LineNumber(), Column: l.LineColumn(), Text: strings.TrimSpace(l.Line())}
}

// String is the line as dumps print it: "; text @ file:line".
func (s *SourceLine) String() string {
	if s.File == "" {
		return "; " + s.Text
	}
	return fmt.Sprintf("; %s @ %s:%d", s.Text, s.File, s.Line)
}

// XlatedInsn is one instruction of a program as the kernel runs it, after
// the verifier's rewrites.
type XlatedInsn struct {
	// PC is the instruction's offset in 8-byte slots.
	PC     int    `json:"pc"`
	Opcode uint8  `json:"opcode"`
	Text   string `json:"text"`
	// Bytes is the instruction's encoding (16 bytes for a 64-bit load).
	Bytes []byte `json:"bytes"`
	// Func is the prototype of the BPF function starting here, from BTF.
	Func string `json:"func,omitempty"`
	// Source is the source line that starts here, from BTF line info.
	Source *SourceLine `json:"source,omitempty"`
}

// ProgHeader names the program a dump is of.
type ProgHeader struct {
	ID   uint32 `json:"id"`
	Type string `json:"type"`
	Name string `json:"name"`
	Tag  string `json:"tag"`
}

// XlatedDump is a program's translated instructions.
type XlatedDump struct {
	ProgHeader
	Insns []XlatedInsn `json:"insns"`
}

// DumpXlated reads the instructions the kernel runs for program id, with
// the source lines and function prototypes of its BTF when it has them.
// Helper calls are named through /proc/kallsyms when it shows addresses.
func DumpXlated(id uint32) (*XlatedDump, error) {
	p, info, err := openProgInfo(id)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	insns, err := info.Instructions()
	if err != nil {
		if errors.Is(err, ebpf.ErrRestrictedKernel) {
			return nil, fmt.Errorf("the kernel hides program %d's instructions (kernel.kptr_restrict and net.core.bpf_jit_harden are both set): %w", id, err)
		}
		return nil, errPermission(fmt.Sprintf("reading program %d's instructions", id), err)
	}
	raw, err := xlatedBytes(p.FD())
	if err != nil {
		return nil, errPermission(fmt.Sprintf("reading program %d's instructions", id), err)
	}
	d := &XlatedDump{ProgHeader: header(id, info)}
	lines, _ := info.LineInfos()
	funcs, _ := info.FuncInfos()
	lineAt := map[asm.RawInstructionOffset]*btf.Line{}
	for _, l := range lines {
		lineAt[l.Offset] = l.Line
	}
	funcAt := map[asm.RawInstructionOffset]*btf.Func{}
	for _, f := range funcs {
		funcAt[f.Offset] = f.Func
	}
	var ks *kernelSyms
	it := insns.Iterate()
	for it.Next() {
		ins := *it.Ins
		off := it.Offset
		x := XlatedInsn{PC: int(off)}
		if start, end := int(off)*asm.InstructionSize, int(off)*asm.InstructionSize+int(ins.Size()); end <= len(raw) {
			x.Bytes = raw[start:end]
			x.Opcode = raw[start]
		}
		if f := funcAt[off]; f != nil {
			x.Func = funcPrototype(f)
		}
		if l := lineAt[off]; l != nil {
			x.Source = sourceLineOf(l)
		}
		if ins.IsLoadFromMap() {
			ins = ins.WithReference(fmt.Sprintf("id:%d", uint32(ins.Constant)))
		}
		x.Text = disasm.Insn(ins)
		if ins.OpCode.JumpOp() == asm.Call && ins.OpCode.Class().IsJump() {
			switch ins.Src {
			case asm.PseudoCall:
				if f := funcAt[off+1+asm.RawInstructionOffset(ins.Constant)]; f != nil {
					x.Text += " <" + f.Name + ">"
				}
			default:
				if ks == nil {
					ks = loadKernelSyms()
				}
				if name, ok := ks.callTarget(ins.Constant); ok {
					x.Text = "call " + name
				}
			}
		}
		d.Insns = append(d.Insns, x)
	}
	return d, nil
}

// openProgInfo opens program id and reads its info.
func openProgInfo(id uint32) (*ebpf.Program, *ebpf.ProgramInfo, error) {
	p, err := openProg(ebpf.ProgramID(id))
	if err != nil {
		return nil, nil, err
	}
	info, err := p.Info()
	if err != nil {
		p.Close()
		return nil, nil, fmt.Errorf("program %d: %w", id, err)
	}
	return p, info, nil
}

func header(id uint32, info *ebpf.ProgramInfo) ProgHeader {
	return ProgHeader{ID: id, Type: ProgramTypeName(info.Type), Name: info.Name, Tag: info.Tag}
}

// kernelSyms resolves the addresses in xlated calls and JIT images.
type kernelSyms struct {
	k        *symtab.Kernel
	callBase uint64
}

func loadKernelSyms() *kernelSyms {
	k, err := symtab.LoadKernel()
	if err != nil {
		return &kernelSyms{}
	}
	ks := &kernelSyms{k: k}
	ks.callBase, _ = k.Address("__bpf_call_base")
	return ks
}

// callTarget names the function an xlated helper or kfunc call goes to:
// the kernel stores it as an offset from __bpf_call_base. A call still
// holding a helper number (a tail call) comes out as the helper's name.
func (ks *kernelSyms) callTarget(imm int64) (string, bool) {
	if ks.k == nil || ks.callBase == 0 {
		return "", false
	}
	sym, off, ok := ks.k.Lookup(ks.callBase + uint64(int64(int32(imm))))
	if !ok {
		return "", false
	}
	if sym.Name == "__bpf_call_base" {
		return disasm.HelperName(int32(imm)), true
	}
	if off != 0 {
		return fmt.Sprintf("%s+%#x", sym.Name, off), true
	}
	return sym.Name, true
}

func (ks *kernelSyms) symbolizer() nativedisasm.Symbolizer {
	if ks.k == nil {
		return nil
	}
	return func(addr uint64) (string, uint64, bool) {
		s, _, ok := ks.k.Lookup(addr)
		if !ok {
			return "", 0, false
		}
		return s.Name, s.Addr, true
	}
}

// funcPrototype spells a BTF function in C: "int handle(struct xdp_md *ctx)".
func funcPrototype(f *btf.Func) string {
	proto, ok := f.Type.(*btf.FuncProto)
	if !ok {
		return f.Name + "()"
	}
	params := make([]string, len(proto.Params))
	for i, p := range proto.Params {
		params[i] = declare(p.Type, p.Name)
	}
	if len(params) == 0 {
		params = []string{"void"}
	}
	return declare(proto.Return, f.Name+"("+strings.Join(params, ", ")+")")
}

// declare spells a C declaration of name with type t, for the types
// function prototypes use.
func declare(t btf.Type, name string) string {
	join := func(s string) string {
		if name == "" {
			return s
		}
		if strings.HasSuffix(s, "*") {
			return s + name
		}
		return s + " " + name
	}
	switch t := t.(type) {
	case nil, *btf.Void:
		return join("void")
	case *btf.Pointer:
		return declare(t.Target, "*"+name)
	case *btf.Const:
		return "const " + declare(t.Type, name)
	case *btf.Volatile:
		return "volatile " + declare(t.Type, name)
	case *btf.Restrict:
		return declare(t.Type, name)
	case *btf.Struct:
		return join("struct " + t.Name)
	case *btf.Union:
		return join("union " + t.Name)
	case *btf.Enum:
		return join("enum " + t.Name)
	case *btf.Array:
		return declare(t.Type, fmt.Sprintf("%s[%d]", name, t.Nelems))
	}
	if n := t.TypeName(); n != "" {
		return join(n)
	}
	return join(fmt.Sprintf("%T", t))
}

// JitedFunc is one function of a program's native code.
type JitedFunc struct {
	Name  string      `json:"name"`
	Addr  uint64      `json:"addr"`
	Insns []JitedInsn `json:"insns"`
}

// JitedInsn is one machine instruction, with the source line that starts
// at it when the program has line info.
type JitedInsn struct {
	nativedisasm.Line
	Source *SourceLine `json:"source,omitempty"`
}

// JitedDump is a program's native code as the kernel's JIT made it.
type JitedDump struct {
	ProgHeader
	Arch  string      `json:"arch"`
	Funcs []JitedFunc `json:"funcs"`
}

// DumpJited disassembles the native code the kernel generated for program
// id (amd64 and arm64 kernels), function by function, with source lines
// where the program has line info and calls named through /proc/kallsyms.
func DumpJited(id uint32) (*JitedDump, error) {
	arch, ok := nativedisasm.Arch(runtime.GOARCH)
	if !ok {
		return nil, fmt.Errorf("waggle cannot disassemble %s code: --jited supports %s kernels", runtime.GOARCH, strings.Join(nativedisasm.Arches(), " and "))
	}
	p, info, err := openProgInfo(id)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	image, ok := info.JitedInsns()
	if !ok {
		return nil, fmt.Errorf("the kernel gives no native code for program %d: the JIT is off (net.core.bpf_jit_enable) or kernel.kptr_restrict hides it", id)
	}
	ksyms, _ := info.JitedKsymAddrs()
	lens, _ := info.JitedFuncLens()
	if len(lens) == 0 {
		lens = []uint32{uint32(len(image))}
	}
	funcs, _ := info.FuncInfos()
	lineInfos, _ := info.LineInfos()
	jitedLines, _ := info.JitedLineInfos()
	// The kernel gives the native address of each line info record.
	lineAtAddr := map[uint64]*SourceLine{}
	if len(jitedLines) == len(lineInfos) {
		for i, addr := range jitedLines {
			lineAtAddr[addr] = sourceLineOf(lineInfos[i].Line)
		}
	}
	ks := loadKernelSyms()
	d := &JitedDump{ProgHeader: header(id, info), Arch: arch}
	off := 0
	for i, n := range lens {
		if off+int(n) > len(image) {
			return nil, fmt.Errorf("program %d: function lengths run past the %d bytes of native code", id, len(image))
		}
		f := JitedFunc{Name: info.Name}
		if i < len(funcs) && funcs[i].Func != nil {
			f.Name = funcs[i].Func.Name
		}
		if i < len(ksyms) {
			f.Addr = uint64(ksyms[i])
		}
		code := image[off : off+int(n)]
		lines, err := nativedisasm.Decode(arch, code, f.Addr, ks.symbolizer())
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			ji := JitedInsn{Line: l}
			if f.Addr != 0 {
				ji.Source = lineAtAddr[l.Addr]
			}
			f.Insns = append(f.Insns, ji)
		}
		d.Funcs = append(d.Funcs, f)
		off += int(n)
	}
	return d, nil
}
