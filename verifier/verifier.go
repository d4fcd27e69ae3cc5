// Package verifier is a static verifier for eBPF programs: it proves by
// abstract interpretation that a program terminates, only touches memory it
// may touch and calls helpers correctly, and explains rejections in words.
//
// This is a first, sound core: whatever it does not model is rejected with
// a reason starting "not supported by waggle's verifier yet".
package verifier

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/internal/disasm"
)

// Options tune the verifier.
type Options struct {
	// Unprivileged applies the kernel's rules for unprivileged loaders:
	// no reads of uninitialised stack, no pointer leaks or comparisons.
	Unprivileged bool
	// MaxInsnsProcessed bounds the analysis (default 1_000_000).
	MaxInsnsProcessed int
	// Helpers replaces the built-in helper table when non-nil.
	Helpers map[int32]HelperSig
	// AllowUnreachable accepts instructions no path reaches, which the
	// kernel refuses (they are still checked for valid encodings).
	AllowUnreachable bool
	// TracingArgs is the number of u64 arguments in the context of a
	// tracing program (fentry, fexit, tp_btf, iter): the kernel knows it
	// from BTF. VerifySpec finds it in the running kernel's BTF; when it
	// is 0, a tracing program may not read its context.
	TracingArgs int
	// AttachType refines the program type where the kernel's rules depend
	// on it (allowed return values); VerifySpec takes it from the spec.
	AttachType ebpf.AttachType
	// Log, when set, receives the whole analysis: every instruction
	// processed with the registers it leaves, prunes and branch decisions.
	Log io.Writer
}

// MapInfo describes a map referenced by name from the program.
type MapInfo struct {
	Type                           ebpf.MapType
	KeySize, ValueSize, MaxEntries uint32
}

// Report is the outcome of a verification.
type Report struct {
	Accepted       bool `json:"accepted"`
	InsnsProcessed int  `json:"insns_processed"`
	MaxStackDepth  int  `json:"max_stack_depth"`
	// ContextBytes is one past the highest context byte the program may
	// touch: a runtime must hand it a context at least this large.
	ContextBytes int        `json:"context_bytes"`
	Rejection    *Rejection `json:"rejection,omitempty"`
}

// Rejection explains why a program was refused.
type Rejection struct {
	PC     int    `json:"insn"`             // raw instruction offset
	Disasm string `json:"disasm"`           // the instruction's text
	Source string `json:"source,omitempty"` // the source line, from BTF line info
	Reason string `json:"reason"`           // one plain sentence
	Path   []int  `json:"path,omitempty"`   // for each conditional jump on the path, the pc execution continued at
	Regs   string `json:"regs,omitempty"`   // the register states that matter
}

func (r *Rejection) Error() string {
	s := fmt.Sprintf("insn %d (%s): %s", r.PC, r.Disasm, r.Reason)
	if r.Regs != "" {
		s += " [" + r.Regs + "]"
	}
	return s
}

const notYet = "not supported by waggle's verifier yet: "

const stackSize = 512

type regType uint8

const (
	notInit regType = iota
	scalarT
	ptrCtx
	ptrStack
	constPtrMap
	ptrMapValue
	ptrMapValueOrNull
	ptrPacket
	ptrPacketEnd
	ptrMem       // memory of a known size, e.g. a ring buffer reservation
	ptrMemOrNull // the same, before its NULL check
	ptrFunc      // a function of the program, for a callback; off is its first instruction
)

var regTypeNames = [...]string{"not initialised", "scalar", "ctx", "stack pointer", "map", "map value", "map value or NULL", "packet pointer", "packet end", "ring buffer memory", "ring buffer memory or NULL", "function pointer"}

func (t regType) String() string { return regTypeNames[t] }

type mapRef struct {
	name string
	info MapInfo
}

type reg struct {
	t      regType
	s      scalar // scalar value, or variable offset of a pointer
	off    int64  // fixed pointer offset
	m      *mapRef
	id     int   // null-check id (or-null) or packet id
	rng    int64 // proven packet range
	origin int   // pc of the call that produced an or-null pointer; for a released register, where it was released
	frame  int   // for stack pointers: the call frame whose stack it points to
	ref    int   // for acquired memory: the reference it belongs to
	size   int64 // for ptrMem: the size of the memory
	// released marks a not-initialised register that held a reference
	// released at origin, so that its use can be explained.
	released bool
	// readOnly marks memory the program may read but not write (a map
	// key handed to a callback).
	readOnly bool
}

func scalarReg(s scalar) reg { return reg{t: scalarT, s: s} }

func (r reg) isPtr() bool { return r.t != notInit && r.t != scalarT }

func (r reg) String() string {
	switch r.t {
	case notInit:
		return "not initialised"
	case scalarT:
		return "scalar(" + r.s.String() + ")"
	case ptrCtx:
		return fmt.Sprintf("ctx(off=%d)", r.off)
	case ptrStack:
		if r.frame > 0 {
			return fmt.Sprintf("fp%d(frame %d)", r.off, r.frame)
		}
		return fmt.Sprintf("fp%d", r.off)
	case ptrMem, ptrMemOrNull:
		n := "mem"
		if r.t == ptrMemOrNull {
			n = "mem_or_null"
		}
		s := fmt.Sprintf("%s(size=%d,off=%d", n, r.size, r.off)
		if !(r.s.isConst() && r.s.val() == 0) {
			s += ",var=" + r.s.String()
		}
		return s + ")"
	case constPtrMap:
		return fmt.Sprintf("map(%s)", r.m.name)
	case ptrMapValue, ptrMapValueOrNull:
		n := "map_value"
		if r.t == ptrMapValueOrNull {
			n = "map_value_or_null"
		}
		s := fmt.Sprintf("%s(map=%s,value_size=%d,off=%d", n, r.m.name, r.m.info.ValueSize, r.off)
		if !(r.s.isConst() && r.s.val() == 0) {
			s += ",var=" + r.s.String()
		}
		return s + ")"
	case ptrPacket:
		s := fmt.Sprintf("pkt(off=%d,r=%d", r.off, r.rng)
		if !(r.s.isConst() && r.s.val() == 0) {
			s += ",var=" + r.s.String()
		}
		return s + ")"
	case ptrPacketEnd:
		return "pkt_end"
	case ptrFunc:
		return fmt.Sprintf("func(insn %d)", r.off)
	}
	return "?"
}

type slotKind uint8

const (
	slotInvalid slotKind = iota
	slotMisc
	slotSpill
)

// stackState is one frame's stack, kept only as deep as it has been
// written. Callers index bytes as i = offset+512 (0..511) and 8-byte
// slots as i/8; inside, both are stored from the frame pointer down.
type stackState struct {
	kind  []slotKind // kind[d] is the byte at fp-(d+1); deeper bytes are invalid
	spill []reg      // spill[k] is the register spilled at fp-8(k+1)
}

func (s *stackState) kindAt(i int) slotKind {
	if d := stackSize - 1 - i; d < len(s.kind) {
		return s.kind[d]
	}
	return slotInvalid
}

func (s *stackState) setKind(i int, k slotKind) {
	d := stackSize - 1 - i
	if d >= len(s.kind) {
		if k == slotInvalid {
			return
		}
		s.grow(d)
	}
	s.kind[d] = k
}

func (s *stackState) spillAt(slot int) reg {
	if k := stackSize/8 - 1 - slot; k < len(s.spill) {
		return s.spill[k]
	}
	return reg{}
}

func (s *stackState) setSpill(slot int, r reg) {
	k := stackSize/8 - 1 - slot
	if k >= len(s.spill) {
		s.grow(8*k + 7)
	}
	s.spill[k] = r
}

func (s *stackState) grow(d int) {
	n := (d/8 + 1) * 8
	s.kind = append(s.kind, make([]slotKind, n-len(s.kind))...)
	s.spill = append(s.spill, make([]reg, n/8-len(s.spill))...)
}

func (s *stackState) copy() *stackState {
	return &stackState{kind: slices.Clone(s.kind), spill: slices.Clone(s.spill)}
}

type checkpoint struct {
	parent  *checkpoint
	pending int
	st      *state
}

type pathNode struct {
	pc     int
	parent *pathNode
}

// frame is one bpf-to-bpf call level: its stack and what the caller's
// registers were at the call.
type frame struct {
	stack    *stackState // shared with clones until written: see state.stackW
	own      bool        // stack belongs to this state alone
	start    int         // first instruction of the subprogram
	callsite int         // the call instruction that made this frame; -1 for the main program
	saved    [4]reg      // the caller's r6-r9 at the call: all that survives it
	// For a callback: the helper's arguments, to call it again, and the
	// caller's state when the callback was entered, to widen against.
	args  *[5]reg
	entry *state
}

// refState is an acquired reference (a ring buffer reservation) that must
// be released on every path.
type refState struct {
	id int
	pc int // where it was acquired
}

type state struct {
	regs   [11]reg
	frames []frame // frames[len-1] is the running one
	refs   []refState
	path   *pathNode
	cp     *checkpoint
}

func (st *state) top() *frame { return &st.frames[len(st.frames)-1] }

// stackW returns frame fr's stack for writing, copying it first if a clone
// still shares it.
func (st *state) stackW(fr int) *stackState {
	f := &st.frames[fr]
	if !f.own {
		f.stack = f.stack.copy()
		f.own = true
	}
	return f.stack
}
func (st *state) depth() int { return len(st.frames) - 1 }

type work struct {
	pc int
	st *state
}

type verifier struct {
	typ      ebpf.ProgramType
	opts     Options
	helpers  map[int32]HelperSig
	ctx      *ctxDesc
	insns    []*asm.Instruction // by raw pc; nil for an lddw's second slot
	maps     map[int]*mapRef    // raw pc -> map for lddw map loads
	prune    []bool
	visited  [][]*state
	nextID   int
	done     int
	ctxBytes int64
	// ptrKinds records, per instruction, whether it accessed memory
	// through the context (1), another pointer (2) or both: the kernel
	// rewrites context accesses, so one instruction cannot do both.
	ptrKinds []uint8
	// stackDepth is the deepest stack offset each subprogram touches, by
	// its first instruction; chains are the call chains seen, each with
	// the call that completed it, for the 512-byte limit across frames.
	stackDepth map[int]int64
	chains     map[string]chain
	subprogOf  []int    // first instruction of the subprogram of each instruction
	liveIn     []regSet // registers live at each instruction
	// callbackCall marks calls of helpers that call a function back.
	callbackCall []bool
	keyRefs      map[*mapRef]*mapRef // the keys of maps handed to callbacks
}

type chain struct {
	starts []int
	pc     int
}

const maxStatesPerInsn = 64

// Verify checks a program of the given type. Map references are resolved by
// name (asm.Instruction.Reference) in maps. The error is non-nil only for
// malformed input; a refused program yields Report.Accepted == false.
func Verify(insns asm.Instructions, typ ebpf.ProgramType, maps map[string]MapInfo, opts Options) (rep *Report, err error) {
	if opts.MaxInsnsProcessed <= 0 {
		opts.MaxInsnsProcessed = 1_000_000
	}
	v := &verifier{typ: typ, opts: opts, helpers: opts.Helpers, stackDepth: map[int]int64{}, chains: map[string]chain{}, keyRefs: map[*mapRef]*mapRef{}}
	if v.helpers == nil {
		v.helpers = BuiltinHelpers
	}
	defer func() {
		if p := recover(); p != nil {
			// Never accept what we failed to analyse.
			rep = &Report{InsnsProcessed: v.done, Rejection: &Rejection{PC: -1, Reason: fmt.Sprintf("internal verifier error: %v", p)}}
			err = nil
		}
	}()
	if err := v.layout(insns, maps); err != nil {
		return nil, err
	}
	rej := v.checkProgram()
	if rej == nil {
		v.computeLiveness()
		rej = v.explore()
	}
	depth := 0
	if rej == nil {
		depth, rej = v.checkStackChains()
	}
	rep = &Report{Accepted: rej == nil, InsnsProcessed: v.done, MaxStackDepth: depth, ContextBytes: int(v.ctxBytes), Rejection: rej}
	if v.opts.Log != nil {
		if rej != nil {
			fmt.Fprintf(v.opts.Log, "rejected: %s\n", rej.Error())
		} else {
			fmt.Fprintf(v.opts.Log, "accepted: %d instructions processed, stack depth %d\n", v.done, depth)
		}
	}
	return rep, nil
}

// layout resolves symbolic jumps and map references and places every
// instruction at its raw offset.
func (v *verifier) layout(in asm.Instructions, maps map[string]MapInfo) error {
	if len(in) == 0 {
		return errors.New("empty program")
	}
	insns := make([]asm.Instruction, len(in))
	copy(insns, in)
	syms := map[string]int{}
	pc := 0
	for i := range insns {
		if s := insns[i].Symbol(); s != "" {
			if _, dup := syms[s]; dup {
				return fmt.Errorf("duplicate symbol %q", s)
			}
			syms[s] = pc
		}
		pc += int(insns[i].Size() / asm.InstructionSize)
	}
	v.insns = make([]*asm.Instruction, pc)
	v.maps = map[int]*mapRef{}
	mrefs := map[string]*mapRef{}
	pc = 0
	for i := range insns {
		ins := &insns[i]
		ref := ins.Reference()
		switch {
		case ins.OpCode.Class().IsJump() && ref != "" && !ins.IsBuiltinCall():
			tgt, ok := syms[ref]
			if !ok {
				return fmt.Errorf("insn %d: jump to unknown symbol %q", i, ref)
			}
			if ins.OpCode.JumpOp() == asm.Call || (ins.OpCode.Class() == asm.Jump32Class && ins.OpCode.JumpOp() == asm.Ja) {
				if ins.Constant == -1 {
					ins.Constant = int64(tgt - pc - 1)
				}
			} else if ins.Offset == -1 {
				ins.Offset = int16(tgt - pc - 1)
			}
		case ins.IsLoadOfFunctionPointer() && ref != "":
			tgt, ok := syms[ref]
			if !ok {
				return fmt.Errorf("insn %d: function pointer to unknown symbol %q", i, ref)
			}
			if ins.Constant == -1 {
				ins.Constant = int64(tgt - pc - 1)
			}
		case ins.IsLoadFromMap():
			if ref == "" {
				break // an extern or a raw fd; refused when checked
			}
			mi, ok := maps[ref]
			if !ok {
				return fmt.Errorf("insn %d: unknown map %q", i, ref)
			}
			if mrefs[ref] == nil {
				mrefs[ref] = &mapRef{name: ref, info: mi}
			}
			v.maps[pc] = mrefs[ref]
		}
		v.insns[pc] = ins
		pc += int(ins.Size() / asm.InstructionSize)
	}
	return nil
}

func (v *verifier) disasm(pc int) string {
	if pc < 0 || pc >= len(v.insns) || v.insns[pc] == nil {
		return ""
	}
	return disasm.Insn(*v.insns[pc])
}

// sourceLine finds the BTF line info that covers pc: the nearest
// annotated instruction at or before it.
func (v *verifier) sourceLine(pc int) string {
	for ; pc >= 0 && pc < len(v.insns); pc-- {
		if ins := v.insns[pc]; ins != nil {
			if src := ins.Source(); src != nil {
				return strings.TrimSpace(src.String())
			}
		}
	}
	return ""
}

func (v *verifier) rejectAt(pc int, st *state, regs []asm.Register, format string, args ...any) *Rejection {
	r := &Rejection{PC: pc, Disasm: v.disasm(pc), Source: v.sourceLine(pc), Reason: fmt.Sprintf(format, args...)}
	if st != nil {
		for p := st.path; p != nil; p = p.parent {
			r.Path = append(r.Path, p.pc)
		}
		for i, j := 0, len(r.Path)-1; i < j; i, j = i+1, j-1 {
			r.Path[i], r.Path[j] = r.Path[j], r.Path[i]
		}
		var parts []string
		seen := map[asm.Register]bool{}
		for _, rg := range regs {
			if rg > asm.R10 || seen[rg] {
				continue
			}
			seen[rg] = true
			parts = append(parts, fmt.Sprintf("r%d=%s", uint8(rg), st.regs[rg]))
		}
		r.Regs = strings.Join(parts, " ")
	}
	return r
}

// jumpTarget returns the target of a jump at pc, or -1 if it has none.
func jumpTarget(ins *asm.Instruction, pc int) (int, bool) {
	op := ins.OpCode.JumpOp()
	switch op {
	case asm.Call, asm.Exit:
		return 0, false
	case asm.Ja:
		if ins.OpCode.Class() == asm.Jump32Class {
			return pc + 1 + int(int32(ins.Constant)), true
		}
	}
	return pc + 1 + int(ins.Offset), true
}

// checkProgram performs the control-flow checks.
func (v *verifier) checkProgram() *Rejection {
	n := len(v.insns)
	if v.typ == ebpf.UnspecifiedProgram {
		return v.rejectAt(0, nil, nil, "the program has no type, which no kernel loads; its section name should say what it is")
	}
	if v.ctx = ctxFor(v.typ, v.opts.AttachType); v.ctx == nil {
		return v.rejectAt(0, nil, nil, notYet+"program type %s", v.typ)
	}
	if v.typ == ebpf.Tracing {
		v.ctx.rawMax = 8 * min(v.opts.TracingArgs, 12)
		if v.ctx.rawMax == 0 {
			v.ctx.name = "argument array (its size is unknown without the target's BTF)"
		}
	}
	if v.opts.Unprivileged && v.typ != ebpf.SocketFilter {
		return v.rejectAt(0, nil, nil, "only socket filter programs may be loaded by unprivileged users, not %s", v.typ)
	}
	if n > 1_000_000 {
		return v.rejectAt(0, nil, nil, "the program has %d instructions, more than the limit of 1000000", n)
	}
	v.prune = make([]bool, n)
	v.ptrKinds = make([]uint8, n)
	v.callbackCall = make([]bool, n)
	for pc, ins := range v.insns {
		if ins != nil && ins.IsBuiltinCall() {
			if h, ok := v.helpers[int32(ins.Constant)]; ok && h.Callback != NoCallback {
				v.callbackCall[pc] = true
				v.prune[pc] = true
			}
		}
	}
	// Subprograms start at 0 and at every bpf-to-bpf call target.
	isStart := make([]bool, n)
	isStart[0] = true
	for pc, ins := range v.insns {
		if ins != nil && ins.IsFunctionReference() {
			t := pc + 1 + int(int32(ins.Constant))
			if t < 0 || t >= n {
				return v.rejectAt(pc, nil, nil, "the call goes to instruction %d, outside the program (0..%d)", t, n-1)
			}
			if v.insns[t] == nil {
				return v.rejectAt(pc, nil, nil, "the call goes to instruction %d, the middle of a 64-bit immediate load", t)
			}
			isStart[t] = true
			v.prune[t] = true
		}
	}
	v.subprogOf = make([]int, n)
	for pc, cur := 0, 0; pc < n; pc++ {
		if isStart[pc] {
			cur = pc
		}
		v.subprogOf[pc] = cur
	}
	var buf [2]int
	succ := func(pc int) []int {
		ins := v.insns[pc]
		out := buf[:0]
		next := pc + int(ins.Size()/asm.InstructionSize)
		if ins.IsLoadOfFunctionPointer() {
			return append(out, next, pc+1+int(int32(ins.Constant)))
		}
		if !ins.OpCode.Class().IsJump() {
			return append(out, next)
		}
		op := ins.OpCode.JumpOp()
		switch op {
		case asm.Exit:
			return nil
		case asm.Call:
			if ins.Src == asm.PseudoCall {
				return append(out, next, pc+1+int(int32(ins.Constant)))
			}
			return append(out, next)
		}
		t, _ := jumpTarget(ins, pc)
		if op == asm.Ja {
			return append(out, t)
		}
		return append(out, next, t)
	}
	for pc, ins := range v.insns {
		if ins == nil {
			continue
		}
		if rej := v.checkEncoding(pc, ins); rej != nil {
			return rej
		}
		for _, s := range succ(pc) {
			if s == n {
				return v.rejectAt(pc, nil, nil, "execution can fall off the end of the program after instruction %d; every path must end in exit", pc)
			}
			if s < 0 || s > n {
				return v.rejectAt(pc, nil, nil, "the jump goes to instruction %d, outside the program (0..%d)", s, n-1)
			}
			if v.insns[s] == nil {
				return v.rejectAt(pc, nil, nil, "the jump goes to instruction %d, the middle of a 64-bit immediate load", s)
			}
			next := pc + int(ins.Size()/asm.InstructionSize)
			if v.subprogOf[s] != v.subprogOf[pc] && !(ins.IsFunctionReference() && s != next) {
				if s == next {
					return v.rejectAt(pc, nil, nil, "execution can fall from the function at insn %d into the next one at insn %d; every path must end in exit", v.subprogOf[pc], s)
				}
				return v.rejectAt(pc, nil, nil, "the jump goes to instruction %d, outside its function (which starts at insn %d)", s, v.subprogOf[pc])
			}
		}
		if ins.OpCode.Class().IsJump() && !ins.IsFunctionCall() {
			if t, ok := jumpTarget(ins, pc); ok {
				v.prune[t] = true
				if ins.OpCode.JumpOp() != asm.Ja {
					v.prune[pc+1] = true
				}
			}
		}
	}
	seen := make([]bool, n)
	stack := []int{0}
	seen[0] = true
	for len(stack) > 0 {
		pc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, s := range succ(pc) {
			if !seen[s] {
				seen[s] = true
				stack = append(stack, s)
			}
		}
	}
	for pc, ins := range v.insns {
		if ins != nil && !seen[pc] && !v.opts.AllowUnreachable {
			return v.rejectAt(pc, nil, nil, "instruction %d is unreachable", pc)
		}
	}
	return nil
}

func validReg(r asm.Register) bool { return r <= asm.R10 }

func (v *verifier) checkEncoding(pc int, ins *asm.Instruction) *Rejection {
	op := ins.OpCode
	if !validReg(ins.Dst) || !validReg(ins.Src) {
		return v.rejectAt(pc, nil, nil, "the instruction uses an invalid register number")
	}
	if op == asm.InvalidOpCode {
		return v.rejectAt(pc, nil, nil, "invalid opcode")
	}
	cls := op.Class()
	if what := reservedFields(ins); what != "" {
		return v.rejectAt(pc, nil, nil, "reserved fields of the instruction are not zero (%s)", what)
	}
	switch {
	case cls == asm.LdClass:
		if ins.Dst == asm.R10 {
			return v.rejectAt(pc, nil, nil, "r10 (the frame pointer) is read-only")
		}
		if !op.IsDWordLoad() {
			if m := op.Mode(); m == asm.AbsMode || m == asm.IndMode {
				if op.Size() == asm.DWord {
					return v.rejectAt(pc, nil, nil, "legacy packet loads of 8 bytes do not exist")
				}
				if !v.ctx.skb {
					return v.rejectAt(pc, nil, nil, "legacy packet loads (LD_ABS/LD_IND) are only allowed in socket filter and tc programs, not %s", v.typ)
				}
				return nil
			}
			return v.rejectAt(pc, nil, nil, "unknown load instruction (opcode %#x)", uint16(op))
		}
		switch ins.Src {
		case 0:
		case asm.PseudoMapFD, asm.PseudoMapValue:
			if ins.Src == asm.PseudoMapFD && uint64(ins.Constant)>>32 != 0 {
				return v.rejectAt(pc, nil, nil, "a map load's second immediate must be zero")
			}
			if v.maps[pc] == nil {
				return v.rejectAt(pc, nil, nil, notYet+"64-bit immediate loads of unresolved externs (kconfig or ksym values) or of map file descriptors")
			}
		case asm.PseudoFunc:
		default:
			return v.rejectAt(pc, nil, nil, notYet+"64-bit immediate loads with source %d", ins.Src)
		}
	case cls == asm.LdXClass:
		if m := op.Mode(); m != asm.MemMode && m != asm.MemSXMode {
			return v.rejectAt(pc, nil, nil, "unknown load mode (opcode %#x)", uint16(op))
		}
		if op.Mode() == asm.MemSXMode && op.Size() == asm.DWord {
			return v.rejectAt(pc, nil, nil, "sign-extending loads of 8 bytes do not exist")
		}
	case cls == asm.StClass || cls == asm.StXClass:
		if op.Mode() == asm.AtomicMode {
			if cls != asm.StXClass || (op.Size() != asm.Word && op.Size() != asm.DWord) {
				return v.rejectAt(pc, nil, nil, "atomic operations must be 32- or 64-bit register stores (opcode %#x)", uint16(op))
			}
			aop := op.AtomicOp()
			if ins.Constant != 0 && ins.Constant != int64(aop>>8) {
				return v.rejectAt(pc, nil, nil, "invalid atomic operation %#x", uint32(ins.Constant))
			}
			switch aop {
			case asm.AddAtomic, asm.OrAtomic, asm.AndAtomic, asm.XorAtomic, asm.FetchAdd, asm.FetchOr, asm.FetchAnd, asm.FetchXor, asm.Xchg, asm.CmpXchg:
			default:
				return v.rejectAt(pc, nil, nil, notYet+"atomic operation %#x", uint32(ins.Constant))
			}
			break
		}
		if op.Mode() != asm.MemMode {
			return v.rejectAt(pc, nil, nil, "unknown store mode (opcode %#x)", uint16(op))
		}
	case cls.IsALU():
		switch op.ALUOp() {
		case asm.Add, asm.Sub, asm.Mul, asm.Div, asm.Or, asm.And, asm.LSh, asm.RSh, asm.Neg, asm.Mod, asm.Xor, asm.Mov, asm.ArSh, asm.SDiv, asm.SMod, asm.Swap:
		case asm.MovSX8, asm.MovSX16, asm.MovSX32:
			if op.Source() != asm.RegSource || (op.ALUOp() == asm.MovSX32 && op.Class() != asm.ALU64Class) {
				return v.rejectAt(pc, nil, nil, "invalid sign-extending move (opcode %#x)", uint16(op))
			}
		default:
			return v.rejectAt(pc, nil, nil, "unknown ALU operation (opcode %#x)", uint16(op))
		}
		if ins.Offset != 0 {
			return v.rejectAt(pc, nil, nil, "reserved offset field of an ALU instruction is not zero")
		}
		if ins.Dst == asm.R10 {
			return v.rejectAt(pc, nil, nil, "r10 (the frame pointer) is read-only")
		}
	case cls.IsJump():
		switch op.JumpOp() {
		case asm.Call:
			if ins.Src != 0 && ins.Src != asm.PseudoCall {
				return v.rejectAt(pc, nil, nil, notYet+"kfunc calls")
			}
		case asm.Exit, asm.Ja, asm.JEq, asm.JGT, asm.JGE, asm.JSet, asm.JNE, asm.JSGT, asm.JSGE, asm.JLT, asm.JLE, asm.JSLT, asm.JSLE:
		default:
			return v.rejectAt(pc, nil, nil, "unknown jump operation (opcode %#x)", uint16(op))
		}
	default:
		return v.rejectAt(pc, nil, nil, "unknown instruction class (opcode %#x)", uint16(op))
	}
	if cls == asm.LdXClass && ins.Dst == asm.R10 {
		return v.rejectAt(pc, nil, nil, "r10 (the frame pointer) is read-only")
	}
	return nil
}

func (v *verifier) initialState() *state {
	st := &state{frames: []frame{{callsite: -1, stack: &stackState{}, own: true}}}
	st.regs[asm.R1] = reg{t: ptrCtx, s: constScalar(0)}
	st.regs[asm.R10] = reg{t: ptrStack, s: constScalar(0)}
	return st
}

func (v *verifier) newID() int { v.nextID++; return v.nextID }

func (st *state) clone() *state {
	c := *st
	for i := range st.frames {
		st.frames[i].own = false
	}
	c.frames = append([]frame(nil), st.frames...)
	c.refs = append([]refState(nil), st.refs...)
	return &c
}

// sameLive reports whether old, a cleaned snapshot, also covers everything
// of st that is live at pc: together with covers(old, st) the two are the
// same state as far as the rest of the program can tell.
func (v *verifier) sameLive(st, old *state, pc int) bool {
	cur := st.clone()
	v.forgetDead(cur, pc)
	return v.covers(cur, old)
}

// onPath reports whether checkpoint old is cp or one of its ancestors: a
// state the current path passed through.
func onPath(cp, old *checkpoint) bool {
	for ; cp != nil; cp = cp.parent {
		if cp == old {
			return true
		}
	}
	return false
}

// anotherCall reports whether st and old both run in a callback, but in
// different calls of it: a repetition the helper bounds, unlike a loop
// within one call.
func anotherCall(st, old *state) bool {
	a, b := st.top(), old.top()
	return a.args != nil && b.args != nil && a.entry != b.entry
}

func finish(cp *checkpoint) {
	for cp != nil {
		cp.pending--
		if cp.pending > 0 {
			return
		}
		cp = cp.parent
	}
}

func (v *verifier) explore() *Rejection {
	v.visited = make([][]*state, len(v.insns))
	pending := []work{{0, v.initialState()}}
	for len(pending) > 0 {
		w := pending[len(pending)-1]
		pending = pending[:len(pending)-1]
		pc, st := w.pc, w.st
		for {
			v.done++
			if v.done > v.opts.MaxInsnsProcessed {
				return v.rejectAt(pc, st, nil, "the program is too complex or may not terminate: %d instructions processed", v.done-1)
			}
			if v.prune[pc] {
				pruned := false
				for _, old := range v.visited[pc] {
					if old.cp.pending == 0 || (v.callbackCall[pc] && onPath(st.cp, old.cp)) {
						// A finished state, or at a helper that calls back a
						// bounded number of times, a state of this very loop:
						// covered means nothing new can happen.
						if v.covers(old, st) {
							pruned = true
							break
						}
					} else if v.covers(old, st) && v.sameLive(st, old, pc) {
						if onPath(st.cp, old.cp) {
							if anotherCall(st, old) {
								// The same state in another call of the
								// same callback: the helper bounds the
								// calls, and the earlier one goes on.
								pruned = true
								break
							}
							// Back where this path has been, in the very
							// same state: nothing can make the loop end.
							return v.rejectAt(pc, st, nil, "the program may loop forever: insn %d is reached again in exactly the same state", pc)
						}
					}
				}
				if pruned {
					if v.opts.Log != nil {
						fmt.Fprintf(v.opts.Log, "%d: pruned, a state seen before covers this one\n", pc)
					}
					finish(st.cp)
					break
				}
				cp := &checkpoint{parent: st.cp, pending: 1}
				st.cp = cp
				snap := st.clone()
				v.forgetDead(snap, pc)
				cp.st = snap
				if len(v.visited[pc]) < maxStatesPerInsn {
					v.visited[pc] = append(v.visited[pc], snap)
				}
			}
			next, fork, rej := v.step(pc, st)
			if rej != nil {
				return rej
			}
			if v.opts.Log != nil {
				v.logStep(pc, st, fork)
			}
			if fork != nil {
				if st.cp != nil {
					st.cp.pending++
				}
				pending = append(pending, *fork)
			}
			if next < 0 {
				finish(st.cp)
				break
			}
			pc = next
		}
	}
	return nil
}

func (v *verifier) logStep(pc int, st *state, fork *work) {
	var parts []string
	for r := asm.R0; r <= asm.R10; r++ {
		if st.regs[r].t != notInit {
			parts = append(parts, fmt.Sprintf("r%d=%s", uint8(r), st.regs[r]))
		}
	}
	fmt.Fprintf(v.opts.Log, "%d: %s ; %s\n", pc, v.disasm(pc), strings.Join(parts, " "))
	if fork != nil {
		fmt.Fprintf(v.opts.Log, "%d: branch: both ways possible, insn %d explored later\n", pc, fork.pc)
	}
}

func (v *verifier) readReg(pc int, st *state, r asm.Register) (reg, *Rejection) {
	if st.regs[r].t == notInit {
		if st.regs[r].released {
			return reg{}, v.rejectAt(pc, st, nil, "%s is used after insn %d released the memory it pointed to (a ring buffer submit or discard, or a helper that changes the packet)", r, st.regs[r].origin)
		}
		return reg{}, v.rejectAt(pc, st, []asm.Register{r}, "%s is not initialised", r)
	}
	return st.regs[r], nil
}

// step executes the instruction at pc on st. It returns the next pc (-1 at
// the end of a path) and optionally a second path to explore.
func (v *verifier) step(pc int, st *state) (int, *work, *Rejection) {
	ins := v.insns[pc]
	op := ins.OpCode
	next := pc + int(ins.Size()/asm.InstructionSize)
	switch cls := op.Class(); {
	case cls == asm.LdClass:
		if !op.IsDWordLoad() {
			return next, nil, v.legacyLoad(pc, st, ins)
		}
		return next, nil, v.ldImm(pc, st, ins)
	case cls == asm.LdXClass:
		return next, nil, v.load(pc, st, ins)
	case cls == asm.StXClass && op.Mode() == asm.AtomicMode:
		return next, nil, v.atomic(pc, st, ins)
	case cls == asm.StClass || cls == asm.StXClass:
		return next, nil, v.store(pc, st, ins)
	case cls.IsALU():
		return next, nil, v.alu(pc, st, ins)
	default:
		switch op.JumpOp() {
		case asm.Exit:
			if st.depth() > 0 {
				return v.ret(pc, st)
			}
			return -1, nil, v.exit(pc, st)
		case asm.Call:
			if ins.Src == asm.PseudoCall {
				return v.callSub(pc, st, ins)
			}
			if h, ok := v.helpers[int32(ins.Constant)]; ok && h.Callback != NoCallback {
				return v.callWithCallback(pc, st, ins, h)
			}
			return next, nil, v.call(pc, st, ins)
		case asm.Ja:
			t, _ := jumpTarget(ins, pc)
			return t, nil, nil
		}
		return v.branch(pc, st, ins)
	}
}

func (v *verifier) ldImm(pc int, st *state, ins *asm.Instruction) *Rejection {
	switch ins.Src {
	case 0:
		st.regs[ins.Dst] = scalarReg(constScalar(uint64(ins.Constant)))
	case asm.PseudoMapFD:
		st.regs[ins.Dst] = reg{t: constPtrMap, m: v.maps[pc], s: constScalar(0)}
	case asm.PseudoFunc:
		st.regs[ins.Dst] = reg{t: ptrFunc, off: int64(pc + 1 + int(int32(ins.Constant))), s: constScalar(0)}
	case asm.PseudoMapValue:
		m := v.maps[pc]
		off := int64(uint64(ins.Constant) >> 32)
		if m.info.Type != ebpf.Array {
			return v.rejectAt(pc, st, nil, notYet+"direct value access to %s maps", m.info.Type)
		}
		if off >= int64(m.info.ValueSize) {
			return v.rejectAt(pc, st, nil, "direct value offset %d is outside the %d-byte value of map %s", off, m.info.ValueSize, m.name)
		}
		st.regs[ins.Dst] = reg{t: ptrMapValue, m: m, off: off, s: constScalar(0)}
	}
	return nil
}

func (v *verifier) exit(pc int, st *state) *Rejection {
	r0 := st.regs[asm.R0]
	if r0.t == notInit {
		return v.rejectAt(pc, st, []asm.Register{asm.R0}, "r0 is not initialised at exit: the program must set a return value")
	}
	if r0.t != scalarT {
		return v.rejectAt(pc, st, []asm.Register{asm.R0}, "r0 holds a %s at exit; the return value must be a number", r0.t)
	}
	if lo, hi, ok := returnRange(v.typ, v.opts.AttachType); ok && (r0.s.smin < lo || r0.s.smax > hi) {
		return v.rejectAt(pc, st, []asm.Register{asm.R0}, "%s programs must return a value in [%d, %d], but r0 may be %s", v.typ, lo, hi, r0.s)
	}
	if len(st.refs) > 0 {
		ref := st.refs[0]
		return v.rejectAt(pc, st, nil, "the memory reserved by %s at insn %d is neither submitted nor discarded on this path", v.helperName(ref.pc), ref.pc)
	}
	return nil
}

var maxVarOff int64 = 1 << 29

// maxPacketOff is the kernel's MAX_PACKET_OFF.
const maxPacketOff = 0xffff

func (v *verifier) alu(pc int, st *state, ins *asm.Instruction) *Rejection {
	op := ins.OpCode.ALUOp()
	is64 := ins.OpCode.Class() == asm.ALU64Class
	dstR := ins.Dst
	regs := []asm.Register{ins.Dst}
	var src reg
	if op == asm.Swap {
		d, rej := v.readReg(pc, st, dstR)
		if rej != nil {
			return rej
		}
		if d.t != scalarT {
			return v.rejectAt(pc, st, regs, "byte swap of a %s is not allowed", d.t)
		}
		st.regs[dstR] = scalarReg(sizedScalar(int(ins.Constant) / 8))
		return nil
	}
	if ins.OpCode.Source() == asm.RegSource {
		regs = append(regs, ins.Src)
		var rej *Rejection
		if src, rej = v.readReg(pc, st, ins.Src); rej != nil {
			return rej
		}
	} else {
		c := uint64(ins.Constant)
		if !is64 {
			c = uint64(uint32(ins.Constant))
		}
		src = scalarReg(constScalar(c))
	}
	switch op {
	case asm.MovSX8, asm.MovSX16, asm.MovSX32:
		if src.isPtr() {
			return v.rejectAt(pc, st, regs, "sign-extending a %s is not allowed", src.t)
		}
		bits := map[asm.ALUOp]uint{asm.MovSX8: 8, asm.MovSX16: 16, asm.MovSX32: 32}[op]
		st.regs[dstR] = scalarReg(signExtend(src.s, bits, is64))
		return nil
	}
	if op == asm.Mov {
		if !is64 {
			if src.isPtr() {
				if v.opts.Unprivileged {
					return v.rejectAt(pc, st, regs, "a 32-bit copy of a %s would leak part of a pointer", src.t)
				}
				src = scalarReg(sizedScalar(4))
			}
			src.s = trunc32(src.s)
		}
		st.regs[dstR] = src
		return nil
	}
	dst, rej := v.readReg(pc, st, dstR)
	if rej != nil {
		return rej
	}
	if op == asm.Neg {
		if dst.t != scalarT {
			return v.rejectAt(pc, st, regs, "negating a %s is not allowed", dst.t)
		}
		r := unknownScalar()
		if dst.s.isConst() {
			r = constScalar(-dst.s.val())
		}
		if !is64 {
			r = trunc32(r)
			if dst.s.isConst() {
				r = constScalar(uint64(uint32(-dst.s.val())))
			}
		}
		st.regs[dstR] = scalarReg(r)
		return nil
	}
	if dst.isPtr() || src.isPtr() {
		return v.ptrALU(pc, st, ins, op, is64, dst, src, regs)
	}
	a, b := dst.s, src.s
	if !is64 {
		a, b = trunc32(a), trunc32(b)
	}
	width := uint64(64)
	if !is64 {
		width = 32
	}
	var r scalar
	switch op {
	case asm.Add:
		r = scalarAdd(a, b)
	case asm.Sub:
		r = scalarSub(a, b)
	case asm.Mul:
		r = scalarMul(a, b)
	case asm.Div, asm.Mod, asm.SDiv, asm.SMod:
		if ins.OpCode.Source() == asm.ImmSource && ins.Constant == 0 {
			return v.rejectAt(pc, st, regs, "division by the constant zero")
		}
		switch op {
		case asm.Div:
			r = scalarDiv(a, b)
		case asm.Mod:
			r = scalarMod(a, b)
		default:
			r = signedDivMod(a, b, op == asm.SMod, is64)
		}
	case asm.And:
		r = scalarAnd(a, b)
	case asm.Or:
		r = scalarOr(a, b)
	case asm.Xor:
		r = scalarXor(a, b)
	case asm.LSh, asm.RSh, asm.ArSh:
		if ins.OpCode.Source() == asm.ImmSource && uint64(ins.Constant) >= width {
			return v.rejectAt(pc, st, regs, "shift by %d is out of range for a %d-bit operation", ins.Constant, width)
		}
		if !b.isConst() || b.val() >= width {
			r = unknownScalar()
			break
		}
		k := uint(b.val())
		switch {
		case op == asm.LSh:
			r = scalarLsh(a, k)
		case op == asm.RSh:
			r = scalarRsh(a, k)
		case is64:
			r = scalarArsh(a, k)
		default:
			r = unknownScalar()
		}
	default:
		r = unknownScalar()
	}
	if !is64 {
		r = trunc32(r)
	}
	st.regs[dstR] = scalarReg(r)
	return nil
}

func (v *verifier) ptrALU(pc int, st *state, ins *asm.Instruction, op asm.ALUOp, is64 bool, dst, src reg, regs []asm.Register) *Rejection {
	if !is64 {
		return v.rejectAt(pc, st, regs, "32-bit arithmetic on a pointer is not allowed")
	}
	if dst.isPtr() && src.isPtr() {
		if op == asm.Sub && dst.t == src.t && (dst.t == ptrPacket || dst.t == ptrStack || dst.t == ptrMapValue) && !v.opts.Unprivileged {
			st.regs[ins.Dst] = scalarReg(unknownScalar())
			return nil
		}
		return v.rejectAt(pc, st, regs, "pointer arithmetic between a %s and a %s is not allowed", dst.t, src.t)
	}
	ptr, off := dst, src
	if src.isPtr() {
		if op != asm.Add {
			return v.rejectAt(pc, st, regs, "only addition is allowed with a pointer as the source operand, not %s", aluName(op))
		}
		ptr, off = src, dst
	}
	if op != asm.Add && op != asm.Sub {
		return v.rejectAt(pc, st, regs, "pointer arithmetic with %s is not allowed; only adding or subtracting a number is", aluName(op))
	}
	switch ptr.t {
	case ptrMapValueOrNull, ptrMemOrNull:
		return v.rejectAt(pc, st, regs, "arithmetic on a pointer that may be NULL is not allowed; check the result of %s at insn %d first", v.helperName(ptr.origin), ptr.origin)
	case constPtrMap, ptrPacketEnd, ptrFunc:
		return v.rejectAt(pc, st, regs, "arithmetic on a %s is not allowed", ptr.t)
	}
	s := off.s
	if s.isConst() {
		c := int64(s.val())
		if op == asm.Sub {
			if c == math.MinInt64 {
				return v.rejectAt(pc, st, regs, "pointer offset is out of range")
			}
			c = -c
		}
		n := ptr.off + c
		if c <= -maxVarOff || c >= maxVarOff || n <= -maxVarOff || n >= maxVarOff {
			return v.rejectAt(pc, st, regs, "pointer offset %d is out of the allowed range", c)
		}
		if ptr.t == ptrStack && v.opts.Unprivileged && (n < -stackSize || n > 0) {
			return v.rejectAt(pc, st, regs, "stack pointer offset %d is outside the stack, which unprivileged programs may not compute", n)
		}
		if ptr.t == ptrPacket && (n > maxPacketOff || n < -maxPacketOff) {
			return v.rejectAt(pc, st, regs, "packet pointer offset %d is beyond the 64 KiB a packet can span", n)
		}
		ptr.off = n
		st.regs[ins.Dst] = ptr
		return nil
	}
	switch ptr.t {
	case ptrCtx:
		// Allowed, as in the kernel (it is how tracepoint __data_loc
		// fields are found), but the result can only be passed on, not
		// dereferenced.
		if v.opts.Unprivileged {
			return v.rejectAt(pc, st, regs, "adding a variable offset to the context pointer is not allowed for unprivileged programs")
		}
	case ptrStack:
		return v.rejectAt(pc, st, regs, notYet+"variable offsets into the stack")
	}
	// The kernel refuses offsets it cannot bound before any access.
	if s.smin == math.MinInt64 {
		return v.rejectAt(pc, st, regs, "adding a number with no lower bound to a %s is not allowed; check it first", ptr.t)
	}
	if s.smin <= -maxVarOff || s.smin >= maxVarOff {
		return v.rejectAt(pc, st, regs, "adding %s to a %s would put it out of bounds", s, ptr.t)
	}
	if op == asm.Sub {
		if v.opts.Unprivileged || ptr.t == ptrPacket {
			return v.rejectAt(pc, st, regs, "subtracting a variable from a %s is not allowed", ptr.t)
		}
		ptr.s = scalarSub(ptr.s, s)
	} else {
		ptr.s = scalarAdd(ptr.s, s)
	}
	if ptr.t == ptrPacket {
		ptr.id = v.newID()
		ptr.rng = 0
	}
	st.regs[ins.Dst] = ptr
	return nil
}

func aluName(op asm.ALUOp) string {
	return strings.ToLower(op.String())
}

// access is one memory access through a pointer.
type access struct {
	size  int
	write bool
	val   reg // for writes: the value stored
	base  asm.Register
}

// checkMem checks an access of a.size bytes at insnOff from ptr. For loads
// it returns the loaded value.
func (v *verifier) checkMem(pc int, st *state, ptr reg, insnOff int64, a access, regs []asm.Register) (reg, *Rejection) {
	r := a.base
	if cls := v.insns[pc].OpCode.Class(); (cls == asm.LdXClass || cls == asm.StClass || cls == asm.StXClass) && ptr.isPtr() {
		kind := uint8(2)
		if ptr.t == ptrCtx {
			kind = 1
		}
		if v.ptrKinds[pc] |= kind; v.ptrKinds[pc] == 3 {
			return reg{}, v.rejectAt(pc, st, regs, "this instruction accesses the context on one path and other memory on another, which the kernel cannot rewrite; use separate instructions")
		}
	}
	switch ptr.t {
	case notInit:
		return reg{}, v.rejectAt(pc, st, regs, "%s is not initialised", r)
	case scalarT:
		if ptr.s.isConst() && ptr.s.val() == 0 {
			return reg{}, v.rejectAt(pc, st, regs, "%s is NULL here and cannot be dereferenced", r)
		}
		return reg{}, v.rejectAt(pc, st, regs, "%s holds a number, not a pointer, and cannot be dereferenced", r)
	case ptrMapValueOrNull, ptrMemOrNull:
		return reg{}, v.rejectAt(pc, st, regs, "%s may be NULL here: the result of %s at insn %d is used without checking it", r, v.helperName(ptr.origin), ptr.origin)
	case constPtrMap, ptrPacketEnd, ptrFunc:
		return reg{}, v.rejectAt(pc, st, regs, "%s is a %s and cannot be dereferenced", r, ptr.t)
	}
	if a.write && ptr.readOnly {
		return reg{}, v.rejectAt(pc, st, regs, "%s points to memory the program may only read", r)
	}
	if a.write && a.val.isPtr() {
		switch {
		case ptr.t == ptrCtx:
			return reg{}, v.rejectAt(pc, st, regs, "storing a pointer into the context is not allowed")
		case ptr.t == ptrPacket:
			return reg{}, v.rejectAt(pc, st, regs, "storing a pointer into packet data is not allowed")
		case ptr.t == ptrMapValue && v.opts.Unprivileged:
			return reg{}, v.rejectAt(pc, st, regs, "storing a pointer into a map value would leak a kernel address")
		case ptr.t == ptrStack:
		default:
			if a.size != 8 {
				return reg{}, v.rejectAt(pc, st, regs, "storing part of a pointer is not allowed")
			}
		}
	}
	switch ptr.t {
	case ptrStack:
		if a.write && a.val.t == ptrStack && a.val.frame > ptr.frame {
			return reg{}, v.rejectAt(pc, st, regs, "storing a pointer to the stack of a called function into its caller's stack is not allowed")
		}
		return v.stackAccess(pc, st, ptr.frame, ptr.off+insnOff, a, regs)
	case ptrMem:
		return v.sizedAccess(pc, st, ptr, insnOff, a, regs, ptr.size, "ring buffer memory")
	case ptrMapValue:
		return v.sizedAccess(pc, st, ptr, insnOff, a, regs, int64(ptr.m.info.ValueSize), "map value")
	case ptrPacket:
		off := ptr.off + insnOff
		if ptr.s.smin < 0 || ptr.s.umax > 0xffff {
			return reg{}, v.rejectAt(pc, st, regs, "the variable offset of the packet pointer is unbounded")
		}
		if off < 0 {
			return reg{}, v.rejectAt(pc, st, regs, "packet access at negative offset %d", off)
		}
		if off+int64(a.size) > ptr.rng {
			return reg{}, v.rejectAt(pc, st, regs, "packet access at offset %d (%d bytes) has not been checked against data_end", off, a.size)
		}
		if a.write && (v.typ == ebpf.SocketFilter || v.ctx.readOnlyPacket) {
			return reg{}, v.rejectAt(pc, st, regs, "%s programs may not write to the packet", v.typ)
		}
		return scalarReg(sizedScalar(a.size)), nil
	case ptrCtx:
		return v.ctxAccess(pc, st, ptr, insnOff, a, regs)
	}
	return reg{}, v.rejectAt(pc, st, regs, "invalid memory access through %s", r)
}

// sizedAccess checks an access to memory of a known size: a map value or
// a ring buffer reservation.
func (v *verifier) sizedAccess(pc int, st *state, ptr reg, insnOff int64, a access, regs []asm.Register, size int64, what string) (reg, *Rejection) {
	if ptr.s.smin < -maxVarOff || ptr.s.smax > maxVarOff {
		return reg{}, v.rejectAt(pc, st, regs, "the offset into the %s is unbounded; check it against the size (%d bytes) first", what, size)
	}
	lo := ptr.off + insnOff + ptr.s.smin
	hi := ptr.off + insnOff + ptr.s.smax + int64(a.size)
	if lo < 0 || hi > size {
		if ptr.s.isConst() {
			return reg{}, v.rejectAt(pc, st, regs, "access of %d bytes at offset %d of a %d-byte %s is out of bounds", a.size, lo, size, what)
		}
		return reg{}, v.rejectAt(pc, st, regs, "access of %d bytes at offsets %d..%d of a %d-byte %s may be out of bounds", a.size, lo, hi-int64(a.size), size, what)
	}
	return scalarReg(sizedScalar(a.size)), nil
}

func (v *verifier) ctxAccess(pc int, st *state, ptr reg, insnOff int64, a access, regs []asm.Register) (reg, *Rejection) {
	if ptr.off != 0 || !(ptr.s.isConst() && ptr.s.val() == 0) {
		return reg{}, v.rejectAt(pc, st, regs, "the context pointer was modified (offset %d, variable %s); access context fields through the original pointer with an instruction offset", ptr.off, ptr.s)
	}
	c := v.ctx
	off := insnOff
	if end := off + int64(a.size); off >= 0 && end > v.ctxBytes {
		// Recorded before the checks below; a rejected access ends the
		// analysis anyway.
		v.ctxBytes = end
	}
	if c.raw {
		if a.write {
			return reg{}, v.rejectAt(pc, st, regs, "the %s is read-only", c.name)
		}
		okSize := false
		for _, s := range c.rawSizes {
			okSize = okSize || s == a.size
		}
		if !okSize || off < int64(c.rawMin) || off%int64(a.size) != 0 || off+int64(a.size) > int64(c.rawMax) {
			return reg{}, v.rejectAt(pc, st, regs, "context access of %d bytes at offset %d is not allowed for %s (aligned reads of %v bytes within offsets %d..%d only)", a.size, off, c.name, c.rawSizes, c.rawMin, c.rawMax-1)
		}
		return scalarReg(sizedScalar(a.size)), nil
	}
	if what, ok := c.notYet[int(off)]; ok {
		return reg{}, v.rejectAt(pc, st, regs, notYet+"%s", what)
	}
	for _, f := range c.fields {
		if c.narrowReads && !a.write && f.kind == scalarT && a.size < f.size && off >= int64(f.off) && off+int64(a.size) <= int64(f.off+f.size) {
			if off%int64(a.size) != 0 {
				return reg{}, v.rejectAt(pc, st, regs, "context field %s.%s is read in part at a misaligned offset %d", c.name, f.name, off)
			}
			return scalarReg(sizedScalar(a.size)), nil
		}
		if int64(f.off) != off {
			continue
		}
		if a.size != f.size {
			return reg{}, v.rejectAt(pc, st, regs, "context field %s.%s must be accessed with %d bytes, not %d", c.name, f.name, f.size, a.size)
		}
		if a.write {
			if !f.write {
				return reg{}, v.rejectAt(pc, st, regs, "context field %s.%s is read-only", c.name, f.name)
			}
			return reg{}, nil
		}
		switch f.kind {
		case ptrPacket:
			return reg{t: ptrPacket, s: constScalar(0), id: 0}, nil
		case ptrPacketEnd:
			return reg{t: ptrPacketEnd, s: constScalar(0)}, nil
		}
		return scalarReg(sizedScalar(a.size)), nil
	}
	return reg{}, v.rejectAt(pc, st, regs, "context access of %d bytes at offset %d is not a known field of %s", a.size, off, c.name)
}

// noteStack records that frame fr uses its stack down to off.
func (v *verifier) noteStack(st *state, fr int, off int64) {
	start := st.frames[fr].start
	if off < v.stackDepth[start] {
		v.stackDepth[start] = off
	}
}

func (v *verifier) stackAccess(pc int, st *state, fr int, off int64, a access, regs []asm.Register) (reg, *Rejection) {
	if off < -stackSize || off+int64(a.size) > 0 {
		return reg{}, v.rejectAt(pc, st, regs, "stack access of %d bytes at offset %d is outside the 512-byte stack", a.size, off)
	}
	if off%int64(a.size) != 0 {
		return reg{}, v.rejectAt(pc, st, regs, "misaligned stack access of %d bytes at offset %d", a.size, off)
	}
	v.noteStack(st, fr, off)
	i := int(off + stackSize)
	if a.write {
		if a.val.isPtr() && a.size != 8 {
			return reg{}, v.rejectAt(pc, st, regs, "storing part of a pointer on the stack is not allowed")
		}
		s := st.stackW(fr)
		clobberStack(s, i, a.size)
		if a.size == 8 && (a.val.isPtr() || a.val.t == scalarT) {
			for j := i; j < i+8; j++ {
				s.setKind(j, slotSpill)
			}
			s.setSpill(i/8, a.val)
		} else {
			for j := i; j < i+a.size; j++ {
				s.setKind(j, slotMisc)
			}
		}
		return reg{}, nil
	}
	s := st.frames[fr].stack
	if a.size == 8 && s.kindAt(i) == slotSpill && s.spillAt(i/8).t != notInit {
		return s.spillAt(i / 8), nil
	}
	for j := i; j < i+a.size; j++ {
		switch s.kindAt(j) {
		case slotInvalid:
			if v.opts.Unprivileged {
				return reg{}, v.rejectAt(pc, st, regs, "read of uninitialised stack at offset %d", int64(j-stackSize))
			}
		case slotSpill:
			if s.spillAt(j/8).isPtr() && v.opts.Unprivileged {
				return reg{}, v.rejectAt(pc, st, regs, "partial read of a pointer spilled at stack offset %d", int64(j/8*8-stackSize))
			}
		}
	}
	return scalarReg(sizedScalar(a.size)), nil
}

// clobberStack marks bytes [i, i+n) as about to be overwritten: spills they
// touch become plain data.
func clobberStack(s *stackState, i, n int) {
	for slot := i / 8; slot <= (i+n-1)/8; slot++ {
		if s.kindAt(slot*8) == slotSpill {
			for j := slot * 8; j < slot*8+8; j++ {
				s.setKind(j, slotMisc)
			}
			s.setSpill(slot, reg{})
		}
	}
}

func (v *verifier) load(pc int, st *state, ins *asm.Instruction) *Rejection {
	regs := []asm.Register{ins.Src}
	ptr, rej := v.readReg(pc, st, ins.Src)
	if rej != nil {
		return rej
	}
	val, rej := v.checkMem(pc, st, ptr, int64(ins.Offset), access{size: ins.OpCode.Size().Sizeof(), base: ins.Src}, regs)
	if rej != nil {
		return rej
	}
	if val.t == ptrPacket {
		val.id = 0
	}
	if ins.OpCode.Mode() == asm.MemSXMode {
		if val.isPtr() {
			return v.rejectAt(pc, st, regs, "a sign-extending load of a %s is not allowed", val.t)
		}
		val = scalarReg(signExtend(val.s, uint(8*ins.OpCode.Size().Sizeof()), true))
	}
	st.regs[ins.Dst] = val
	return nil
}

func (v *verifier) store(pc int, st *state, ins *asm.Instruction) *Rejection {
	regs := []asm.Register{ins.Dst}
	ptr, rej := v.readReg(pc, st, ins.Dst)
	if rej != nil {
		return rej
	}
	size := ins.OpCode.Size().Sizeof()
	var val reg
	if ins.OpCode.Class() == asm.StXClass {
		regs = append(regs, ins.Src)
		if val, rej = v.readReg(pc, st, ins.Src); rej != nil {
			return rej
		}
	} else {
		c := uint64(ins.Constant)
		if size < 8 {
			c &= uint64(1)<<(8*uint(size)) - 1
		}
		val = scalarReg(constScalar(c))
	}
	if val.t == scalarT && size < 8 {
		val = scalarReg(sizedScalar(size))
	}
	_, rej = v.checkMem(pc, st, ptr, int64(ins.Offset), access{size: size, write: true, val: val, base: ins.Dst}, regs)
	return rej
}

func (v *verifier) call(pc int, st *state, ins *asm.Instruction) *Rejection {
	id := int32(ins.Constant)
	h, ok := v.helpers[id]
	if !ok {
		return v.rejectAt(pc, st, nil, "unknown helper function %d", ins.Constant)
	}
	if h.Types != nil && !slices.Contains(h.Types, v.typ) {
		return v.rejectAt(pc, st, nil, "helper %s is not available to %s programs", h.Name, v.typ)
	}
	if h.NoRefs && len(st.refs) > 0 {
		return v.rejectAt(pc, st, nil, "%s may not return, but the memory reserved at insn %d is still held", h.Name, st.refs[0].pc)
	}
	if h.Privileged && v.opts.Unprivileged {
		return v.rejectAt(pc, st, nil, "helper %s needs a privileged loader", h.Name)
	}
	if len(h.Args) > 5 {
		return v.rejectAt(pc, st, nil, "helper %s has more than 5 arguments", h.Name)
	}
	var m *mapRef
	var memArg reg
	var memReg asm.Register
	var memWrite bool
	var allocSize int64
	released := 0
	for i, at := range h.Args {
		r := asm.R1 + asm.Register(i)
		regs := []asm.Register{r}
		a, rej := v.readReg(pc, st, r)
		if rej != nil {
			return v.rejectAt(pc, st, regs, "%s (argument %d of %s) is not initialised", r, i+1, h.Name)
		}
		switch at {
		case ArgAnything:
			if a.isPtr() && v.opts.Unprivileged {
				return v.rejectAt(pc, st, regs, "passing a pointer in %s to %s would leak a kernel address", r, h.Name)
			}
		case ArgMapPtr:
			if a.t != constPtrMap {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) must be a map, not a %s", r, i+1, h.Name, a.t)
			}
			allowed := h.MapTypes
			if allowed == nil {
				allowed = dataMaps
			}
			okType := false
			for _, t := range allowed {
				okType = okType || t == a.m.info.Type
			}
			if !okType {
				return v.rejectAt(pc, st, regs, "%s cannot be used with map %s of type %s", h.Name, a.m.name, a.m.info.Type)
			}
			m = a.m
		case ArgMapKey, ArgMapValue, ArgMapValueOut:
			if m == nil {
				return v.rejectAt(pc, st, regs, "helper %s has a key or value argument without a map argument before it", h.Name)
			}
			size, what := m.info.KeySize, "key"
			if at != ArgMapKey {
				size, what = m.info.ValueSize, "value"
			}
			if a.t != ptrStack && a.t != ptrMapValue && a.t != ptrPacket && a.t != ptrMem {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) must point to the map %s (%d bytes), not be a %s", r, i+1, h.Name, what, size, a.t)
			}
			out := at == ArgMapValueOut
			if out && a.t == ptrPacket {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) may not point into the packet", r, i+1, h.Name)
			}
			if rej := v.helperMem(pc, st, a, r, int64(size), int64(size), out, !out); rej != nil {
				return rej
			}
		case ArgConstAllocSize:
			if a.t != scalarT || !a.s.isConst() || a.s.val() > math.MaxInt32 {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) must be a known constant size, not %s", r, i+1, h.Name, a)
			}
			allocSize = int64(a.s.val())
		case ArgFunc:
			if a.t != ptrFunc {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) must be a function of the program, not a %s", r, i+1, h.Name, a.t)
			}
		case ArgStackOrNull:
			if a.t != ptrStack && !isZero(a) {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) must be a stack pointer or NULL, not a %s", r, i+1, h.Name, a.t)
			}
		case ArgReleaseMem:
			if a.t != ptrMem || a.ref == 0 {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) must be memory returned by bpf_ringbuf_reserve and checked against NULL, not a %s", r, i+1, h.Name, a.t)
			}
			if a.off != 0 || !(a.s.isConst() && a.s.val() == 0) {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) must be the unmodified pointer returned by bpf_ringbuf_reserve, not one moved by %d bytes", r, i+1, h.Name, a.off)
			}
			released = a.ref
		case ArgCtx:
			if a.t != ptrCtx || a.off != 0 || !(a.s.isConst() && a.s.val() == 0) {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) must be the unmodified context pointer, not a %s", r, i+1, h.Name, a.t)
			}
		case ArgMem, ArgUninitMem:
			ok := a.t == ptrStack || a.t == ptrMapValue || a.t == ptrMem || (at == ArgMem && a.t == ptrPacket)
			if !ok {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) must point to stack or map value memory, not be a %s", r, i+1, h.Name, a.t)
			}
			memArg, memReg, memWrite = a, r, at == ArgUninitMem
		case ArgSize, ArgSizeOrZero:
			if memReg == 0 {
				return v.rejectAt(pc, st, regs, "helper %s has a size argument without a memory argument before it", h.Name)
			}
			if a.t != scalarT {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) must be a size, not a %s", r, i+1, h.Name, a.t)
			}
			if a.s.smin < 0 || a.s.umax > math.MaxInt32 {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) is a size that is not bounded; check it first", r, i+1, h.Name)
			}
			if at == ArgSize && a.s.umin == 0 {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) may be zero, which is not allowed", r, i+1, h.Name)
			}
			if rej := v.helperMem(pc, st, memArg, memReg, int64(a.s.umax), int64(a.s.umin), memWrite, false); rej != nil {
				return rej
			}
			memReg = 0
		}
	}
	if memReg != 0 {
		return v.rejectAt(pc, st, nil, "helper %s has a memory argument without a size", h.Name)
	}
	for r := asm.R1; r <= asm.R5; r++ {
		st.regs[r] = reg{}
	}
	if released != 0 {
		v.release(st, released, pc)
	}
	if h.ChangesPacket {
		forEachReg(st, func(r *reg) {
			if r.t == ptrPacket || r.t == ptrPacketEnd {
				*r = reg{released: true, origin: pc}
			}
		})
	}
	switch h.Ret {
	case RetMapValueOrNull:
		st.regs[asm.R0] = reg{t: ptrMapValueOrNull, m: m, s: constScalar(0), id: v.newID(), origin: pc}
	case RetVoid:
		st.regs[asm.R0] = reg{}
	case RetMemOrNull:
		st.regs[asm.R0] = reg{t: ptrMemOrNull, size: allocSize, s: constScalar(0), id: v.newID(), ref: v.acquire(st, pc), origin: pc}
	default:
		st.regs[asm.R0] = scalarReg(unknownScalar())
	}
	return nil
}

// helperMem checks that a helper may access size bytes at ptr (the largest
// possible size; minSize the smallest). strictInit requires initialised
// stack even for privileged loaders (map keys and values).
func (v *verifier) helperMem(pc int, st *state, ptr reg, r asm.Register, size, minSize int64, write, strictInit bool) *Rejection {
	regs := []asm.Register{r}
	// Even a zero-sized access must point inside the memory, as the
	// kernel checks and as helpers that look at the pointer need.
	switch ptr.t {
	case ptrStack:
		lo := ptr.off
		if lo < -stackSize || lo+size > 0 {
			return v.rejectAt(pc, st, regs, "%s points to %d bytes at stack offset %d, outside the 512-byte stack", r, size, lo)
		}
		v.noteStack(st, ptr.frame, lo)
		i := int(lo + stackSize)
		if write {
			// Spills the helper may overwrite become plain data; bytes it
			// surely writes become initialised.
			stk := st.stackW(ptr.frame)
			clobberStack(stk, i, int(size))
			for j := i; j < i+int(minSize); j++ {
				stk.setKind(j, slotMisc)
			}
			return nil
		}
		stk := st.frames[ptr.frame].stack
		for j := i; j < i+int(size); j++ {
			k := stk.kindAt(j)
			if k == slotInvalid && (strictInit || v.opts.Unprivileged) {
				return v.rejectAt(pc, st, regs, "%s points to stack memory at offset %d that is not initialised", r, int64(j-stackSize))
			}
			if k == slotSpill && stk.spillAt(j/8).isPtr() && v.opts.Unprivileged {
				return v.rejectAt(pc, st, regs, "%s points to stack memory holding a pointer, which would leak it", r)
			}
		}
		return nil
	case ptrMapValue, ptrPacket, ptrMem:
		_, rej := v.checkMem(pc, st, ptr, 0, access{size: int(size), write: write, base: r}, regs)
		return rej
	}
	return v.rejectAt(pc, st, regs, "%s must point to memory", r)
}
