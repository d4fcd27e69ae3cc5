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
	// Access says, for each instruction slot (by raw offset) that loads
	// or stores memory, what the access touched on every path that the
	// analysis took to it; 0 for other slots. A runtime that translates
	// addresses may skip the checks of accesses that can only touch
	// memory it lays out itself: see [Access]. Set only when the program
	// is accepted.
	Access []Access `json:"-"`
	// PacketFields are the context fields that the program loads as
	// packet pointers (data, data_end), by offset and size. The proofs of
	// packet accesses hold for the packet those fields describe: a
	// runtime that relies on them must check that the fields describe
	// memory it owns.
	PacketFields []ContextField `json:"-"`
}

// Access is a set of kinds of memory that an instruction's load or store
// touches, as the verifier proved it: an access of the context lies in
// [0, Report.ContextBytes) from the context pointer, an access of the
// packet between the packet pointers that the program loaded from the
// context (Report.PacketFields), an access of the stack inside the frame
// that the pointer points into.
type Access uint8

// Kinds of memory in an Access.
const (
	AccessContext Access = 1 << iota
	AccessPacket
	AccessStack
	AccessOther // map values, ring buffer memory
)

// ContextField is a field of the program's context.
type ContextField struct {
	Offset, Size int
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
	slotZero // data known to be zero, as the kernel's STACK_ZERO
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
	// access accumulates Report.Access; pktFields Report.PacketFields.
	access    []Access
	pktFields map[ContextField]bool
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
	if rej == nil {
		rep.Access = v.access
		for f := range v.pktFields {
			rep.PacketFields = append(rep.PacketFields, f)
		}
		slices.SortFunc(rep.PacketFields, func(a, b ContextField) int { return a.Offset - b.Offset })
	}
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

// access is one memory access through a pointer.
type access struct {
	size  int
	write bool
	val   reg // for writes: the value stored
	base  asm.Register
}
