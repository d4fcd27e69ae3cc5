// Package jitabi is the contract between the VM (package vm), which owns a
// run's state and talks to helpers, and the JIT back ends (package vm/jit),
// which turn a decoded program into native code. Both import it; neither
// imports the other's internals. It holds:
//
//   - the decoded instruction form ([Inst], the Op constants), which is
//     exactly what the interpreter executes;
//   - the per-run state block ([State]) that native code reads and writes,
//     with the region table ([Region]) and the BPF call frames ([Frame]);
//   - the exit protocol ([Exit], the Exit kinds): how native code hands
//     control back to Go and where Go resumes it;
//   - the hook through which vm asks for native code ([Compile]).
//
// # Addresses
//
// Native code sees the VM's virtual addresses, never host ones: registers
// hold exactly what they hold in the interpreter. Every load, store and
// atomic translates its virtual address through the region table (with
// caches and constant-offset stack fast paths, which are the back end's
// business) and, when no region holds the whole access (or, for stores and
// read-modify-write atomics, no writable one), leaves with [ExitFault] and
// the address in State.Aux. An atomic whose address is not a multiple of
// its size leaves with [ExitMisaligned] before any lookup, as the
// interpreter checks alignment first. The exceptions are the loads and
// stores that the verifier proved (Program.Proven), which code that says
// so ([ProofCode]) may make without a lookup: region 1, mem, is always at
// MemAddr and the stack buffer at StackAddr, so their host addresses are
// a fixed offset away.
//
// # Entering and leaving
//
// Go calls the back end's trampoline (Code.Enter) with the state block and
// a resume address. Native code loads r0-r10 and State.Budget into
// machine registers and jumps to the resume address. It leaves by storing
// r0-r10 (r10 as its virtual address) and the budget back into the state
// block, setting State.ExitID to the index of an entry of Code.Exits (and
// State.Aux when that exit needs a value), and returning to the
// trampoline. Go handles the exit (a helper call, a fault, ...) and, when
// the run goes on, calls Enter again at Code.Exits[id].Resume. Native code
// keeps nothing in machine registers across an exit except the BPF
// registers and the budget; everything else it needs lives in the state
// block. It never calls Go and never uses the native call stack for BPF
// calls, so it may leave at any instruction.
//
// # Budget
//
// The budget counts instructions exactly as the interpreter does: a
// straight-line run of instructions is charged when control enters it
// through a branch, a call or a return (Inst.NT, Inst.NF and the run
// lengths in [Program].Runs), never per instruction. Native code subtracts
// the charge from its budget register and leaves with [ExitBudget] when the
// result is negative; the exit's Resume continues just after the check. Go
// gives native code the budget in slices, so a negative budget either
// means the run's budget is spent (an error, with the same pc as the
// interpreter's) or that the slice is; in the second case Go tops it up
// and resumes, which also lets the Go scheduler and garbage collector in
// during long runs. Runs entered through a jump, whose charge sits at the
// jump target, pass the jumping instruction's pc to the exit in State.Aux
// (Exit.PC is then -1).
//
// # Checking ahead (a capability)
//
// Exact code may instead check ahead, which [LookaheadCode] says. It
// counts exactly, but it defers charges: the charge of a jump that falls
// through is owed, and what is owed is subtracted later, at once; where
// forward jumps and falling through meet, every way in owes the same
// amount (a way that would owe another subtracts or adds the difference,
// without a check). It checks only on the ways into loop heads, functions
// and return points, before it hands control to Go, and when much is
// owed; what it charges between two checks is at most its bias B. Its
// budget register holds what is left minus B, so that the sign check
// that comes with a charge makes sure that what is left covers everything
// up to the next check: no budget error can happen in between, and code in
// between may store, owe, and leave with a fault (whose Exit.Owed Go
// charges). When a check fails (what is left is below B), the code leaves
// with ExitBudget at Exit.PC, the instruction control goes on to, with
// nothing owed: Go tops the slice up and resumes, or, when the run's
// budget itself is below B, hands the run over to the interpreter from
// that pc (with the registers, the call frames, read through
// [FrameCode], and the exact budget), which finishes it with its exact
// checks. Go enters such code only with at least B left, at the start and
// after every exit it resumes; otherwise the interpreter runs.
//
// # Coarse budget accounting (a capability)
//
// When Options.CoarseBudget is set, a back end may charge the budget
// only at checkpoints instead of on every branch edge, which the embedder
// asks for when exact instruction counts are not needed. A back end that
// does so says so through its Code implementing [CoarseCode] with
// CoarseBudget returning true; one that does not keeps the exact
// accounting above, which is always a correct answer to the request.
// In coarse code the checkpoints are those of [Checkpoints]: pc 0, the
// targets of backward jumps, local call targets and the instructions after
// local calls. Whenever control reaches a checkpoint, by any edge
// including a fall-through, native code subtracts its weight (the longest
// path, in instructions, from it to the next checkpoint or exit) and
// leaves with [ExitBudget], Exit.PC the checkpoint, when the result is
// negative. Nothing else is charged. Start is then the offset of pc 0's
// charge, which Go does not make itself. The instructions charged are an
// upper bound of those executed, so a run still never executes more than
// its budget; it may stop with the budget error where the interpreter
// would not, and it reports the charge as its Steps.
//
// # BPF-to-BPF calls
//
// A local call saves the return address (a native address), the run
// length to charge on return and r6-r10 in State.Frames[State.Depth],
// increments State.Depth, lowers r10 by StackSize and grows the stack
// region (State.Regions[0]) down by StackSize; exit at a depth above
// State.BaseDepth undoes that and jumps to the saved address. A call that
// would reach MaxCallDepth frames leaves with [ExitCallDepth].
package jitabi

import "unsafe"

// Limits shared with package vm (which checks they agree).
const (
	// StackSize is the size of one BPF call frame's stack.
	StackSize = 512
	// MaxCallDepth is the number of BPF frames that may be live at once.
	MaxCallDepth = 8
	// StackAddr is the virtual address of the lowest byte of the stack.
	StackAddr = 0x10000000
	// StackTop is the main program's r10.
	StackTop = StackAddr + MaxCallDepth*StackSize
	// MemAddr is the virtual address of the memory a run is given,
	// which is always region 1 of the region table.
	MemAddr = 0x20000000
)

// Internal operation codes, one per fully resolved operation (class,
// operation, source and size decided). vm names them op*; the interpreter
// switches on them and the back ends translate them.
const (
	OpFallOff uint8 = iota // sentinel after the last instruction

	OpAdd64Imm
	OpAdd64Reg
	OpSub64Imm
	OpSub64Reg
	OpMul64Imm
	OpMul64Reg
	OpDiv64Imm
	OpDiv64Reg
	OpSDiv64Imm
	OpSDiv64Reg
	OpOr64Imm
	OpOr64Reg
	OpAnd64Imm
	OpAnd64Reg
	OpLsh64Imm
	OpLsh64Reg
	OpRsh64Imm
	OpRsh64Reg
	OpNeg64
	OpMod64Imm
	OpMod64Reg
	OpSMod64Imm
	OpSMod64Reg
	OpXor64Imm
	OpXor64Reg
	OpMov64Imm
	OpMov64Reg
	OpMovSX8to64
	OpMovSX16to64
	OpMovSX32to64
	OpArsh64Imm
	OpArsh64Reg

	OpAdd32Imm
	OpAdd32Reg
	OpSub32Imm
	OpSub32Reg
	OpMul32Imm
	OpMul32Reg
	OpDiv32Imm
	OpDiv32Reg
	OpSDiv32Imm
	OpSDiv32Reg
	OpOr32Imm
	OpOr32Reg
	OpAnd32Imm
	OpAnd32Reg
	OpLsh32Imm
	OpLsh32Reg
	OpRsh32Imm
	OpRsh32Reg
	OpNeg32
	OpMod32Imm
	OpMod32Reg
	OpSMod32Imm
	OpSMod32Reg
	OpXor32Imm
	OpXor32Reg
	OpMov32Imm
	OpMov32Reg
	OpMovSX8to32
	OpMovSX16to32
	OpArsh32Imm
	OpArsh32Reg

	OpLe16
	OpLe32
	OpBswap16
	OpBswap32
	OpBswap64

	OpJa
	OpJeqImm
	OpJeqReg
	OpJgtImm
	OpJgtReg
	OpJgeImm
	OpJgeReg
	OpJsetImm
	OpJsetReg
	OpJneImm
	OpJneReg
	OpJsgtImm
	OpJsgtReg
	OpJsgeImm
	OpJsgeReg
	OpJltImm
	OpJltReg
	OpJleImm
	OpJleReg
	OpJsltImm
	OpJsltReg
	OpJsleImm
	OpJsleReg
	OpJeq32Imm
	OpJeq32Reg
	OpJgt32Imm
	OpJgt32Reg
	OpJge32Imm
	OpJge32Reg
	OpJset32Imm
	OpJset32Reg
	OpJne32Imm
	OpJne32Reg
	OpJsgt32Imm
	OpJsgt32Reg
	OpJsge32Imm
	OpJsge32Reg
	OpJlt32Imm
	OpJlt32Reg
	OpJle32Imm
	OpJle32Reg
	OpJslt32Imm
	OpJslt32Reg
	OpJsle32Imm
	OpJsle32Reg

	OpCall      // helper call; imm is an index into Program.helperIDs
	OpCallX     // helper call through the id in register dst
	OpCallLocal // bpf-to-bpf call; off is the target pc
	OpExit

	OpLddw

	OpLdxB
	OpLdxH
	OpLdxW
	OpLdxDW
	OpLdxSB
	OpLdxSH
	OpLdxSW
	OpStB
	OpStH
	OpStW
	OpStDW
	OpStxB
	OpStxH
	OpStxW
	OpStxDW
	OpAtomic // size in inst.size, operation in imm

	OpLdAbsB
	OpLdAbsH
	OpLdAbsW
	OpLdIndB
	OpLdIndH
	OpLdIndW

	NumOps
)

// Atomic operations, as encoded in the immediate of an OpAtomic.
const (
	AtomicAdd     = 0x00
	AtomicOr      = 0x40
	AtomicAnd     = 0x50
	AtomicXor     = 0xa0
	AtomicFetch   = 0x01
	AtomicXchg    = 0xe0 | AtomicFetch
	AtomicCmpXchg = 0xf0 | AtomicFetch
	AtomicLoadAcq = 0x100
	AtomicStoreRl = 0x110
)

// Inst is one decoded instruction, as vm's Load produced it.
//
//   - ALU: Dst, Src, Imm (sign-extended immediate).
//   - OpLddw: Imm is the full 64-bit constant, pseudo sources (maps,
//     functions) already resolved; the next slot is the lddw's second half
//     and is never executed or jumped to.
//   - Loads (OpLdx*): address Src + Imm.
//   - Stores (OpSt*, OpStx*) and OpAtomic: address Dst + Off; OpSt* store
//     Imm, OpStx* store Src. OpAtomic has its size in Size and its
//     operation (Atomic*) in Imm; load-acquire reads Src + Off into Dst.
//   - Jumps: target pc in Off; NT is the run length charged when the jump
//     is taken, NF when it falls through.
//   - OpCall: Imm is an index into the program's helper table (Go resolves
//     it). OpCallX: the helper id is in register Dst. OpCallLocal: target
//     pc in Off, NT charged on entry, NF charged on return.
//   - OpLdAbs*/OpLdInd*: the legacy packet loads; Imm is the offset and
//     Src the index register.
type Inst struct {
	Op   uint8
	Dst  uint8
	Src  uint8
	Size uint8
	NT   uint32
	Imm  int64
	Off  int32
	NF   uint32
}

// Program is what a back end compiles.
type Program struct {
	// Insts has one entry per 8-byte slot and a final OpFallOff sentinel.
	Insts []Inst
	// Runs[pc] is the length of the straight-line run starting at pc (the
	// budget charged when control enters pc other than by falling through).
	Runs []uint32
	// Second[pc] marks the second slots of lddw.
	Second []bool
	// ArrayMaps are the program's plain array maps (not per-CPU, not
	// of maps), whose lookups a back end may inline (see [ArrayMap]).
	// Empty when the program has none or calls no map_lookup_elem.
	ArrayMaps []ArrayMap
	// Lookup is the index into the program's helper table of helper 1
	// (map_lookup_elem) when ArrayMaps is not empty: an OpCall whose Imm
	// is Lookup is a map lookup that a back end may inline.
	Lookup int64
	// Proven[pc], when the program was verified (nil otherwise), says
	// where the load or store at pc was proved to stay: ProvenMem or
	// ProvenStack, or 0 when it was not (or is not an access). A back end
	// may make such accesses without any check, and say so (see
	// [ProofCode]).
	Proven []uint8
}

// What Program.Proven says of an access.
const (
	// ProvenMem: the whole access lies in mem (region 1): it is to the
	// context, which mem holds, or to the packet, which Go checks lies
	// inside mem.
	ProvenMem = 1
	// ProvenStack: the whole access lies in the stack (the stack buffer,
	// at a host address of StackDelta plus the virtual one), in a frame
	// of the current call chain.
	ProvenStack = 2
)

// ArrayMap describes an array map whose map_lookup_elem a back end may
// inline (as the kernel does): at an OpCall of Program.Lookup, when
// State.InlineLookup is nonzero and r1 equals Handle, native code reads the
// u32 key at r2 with its normal checked load path and sets r0 to
// Base + key*Stride when key < MaxEntries, and to 0 otherwise; r1-r5 are
// left unchanged, as after any helper call. When the key cannot be read,
// or r1 is no array map's handle, or InlineLookup is 0, it leaves with the
// call's ExitHelper as usual, so that Go makes the call (and reports its
// errors). The budget is what the helper call would have been charged.
type ArrayMap struct {
	Handle     uint64 // what lddw src 1 loads for the map
	Base       uint64 // virtual address of value 0 (the value slab's base)
	Stride     uint64 // bytes from one value to the next
	MaxEntries uint32
}

// Options are the code generation options.
type Options struct {
	// Blind enables constant blinding: immediates are never emitted as
	// they appear in the bytecode but XORed with a random key and
	// un-XORed at run time (as the kernel's bpf_jit_harden), so that
	// untrusted bytecode cannot plant chosen byte sequences in
	// executable memory.
	Blind bool
	// CoarseBudget asks for coarse budget accounting (see the package
	// comment); back ends may ignore it.
	CoarseBudget bool
}

// Region is one entry of the region table, a translation of the virtual
// range [Base, Base+len) to host memory at Host. LimN is len-N+1 when len
// >= N and 0 otherwise, so that an access of N bytes at Base+a is inside
// exactly when a < LimN (unsigned): one compare. Writable is 1 or 0.
type Region struct {
	Base     uint64
	Host     uint64
	Lim1     uint64
	Lim2     uint64
	Lim4     uint64
	Lim8     uint64
	Writable uint64
	_        uint64
}

// Frame is the record a BPF-to-BPF call leaves in the state block.
type Frame struct {
	Ret    uint64    // native address to return to
	RetRun uint64    // budget charged on return (the call's NF)
	Saved  [5]uint64 // r6-r9 and r10 (virtual) of the caller
}

// State is the state block of one run: the BPF registers while Go has
// control, and everything native code needs that does not fit in machine
// registers. It lives in Go memory that does not move (vm allocates it
// with new and keeps it alive for the whole run); its field offsets are
// part of the ABI (the Off* constants, checked by a test).
type State struct {
	Regs       [11]uint64 // r0-r10; r10 holds its virtual address
	Budget     int64      // what is left of the current budget slice
	ExitID     uint64     // index into Code.Exits of the last exit
	Aux        uint64     // the exit's value: faulting address, or pc
	Regions    uint64     // address of the first Region of the table
	NRegions   uint64     // number of entries in the table
	StackDelta uint64     // host address of stack byte 0 minus StackAddr
	Depth      uint64     // current call depth (0 is the main program)
	BaseDepth  uint64     // the depth at which exit ends the run
	MaxDepth   uint64     // the deepest Depth reached (stack clearing)
	Frames     [MaxCallDepth]Frame
	// InlineLookup is nonzero when the run's helper 1 is the VM's own
	// map_lookup_elem, so that native code may inline lookups in
	// Program.ArrayMaps; Go sets it before entering native code.
	InlineLookup uint64
}

// Offsets into State, Region and Frame for the back ends.
const (
	OffRegs       = 0
	OffBudget     = 88
	OffExitID     = 96
	OffAux        = 104
	OffRegions    = 112
	OffNRegions   = 120
	OffStackDelta = 128
	OffDepth      = 136
	OffBaseDepth  = 144
	OffMaxDepth   = 152
	OffFrames     = 160
	OffInline     = OffFrames + MaxCallDepth*SizeFrame

	SizeRegion     = 64
	OffRegBase     = 0
	OffRegHost     = 8
	OffRegLim1     = 16
	OffRegLim2     = 24
	OffRegLim4     = 32
	OffRegLim8     = 40
	OffRegWritable = 48

	SizeFrame     = 56
	OffFrameRet   = 0
	OffFrameRun   = 8
	OffFrameSaved = 16
)

var _ [0]struct{} = [unsafe.Offsetof(State{}.Frames) - OffFrames]struct{}{}
var _ [0]struct{} = [unsafe.Sizeof(Region{}) - SizeRegion]struct{}{}
var _ [0]struct{} = [unsafe.Sizeof(Frame{}) - SizeFrame]struct{}{}
var _ [0]struct{} = [unsafe.Offsetof(State{}.MaxDepth) - OffMaxDepth]struct{}{}
var _ [0]struct{} = [unsafe.Offsetof(State{}.InlineLookup) - OffInline]struct{}{}

// ExitKind says why native code handed control back to Go.
type ExitKind uint8

// Exit kinds.
const (
	// ExitDone: exit at State.BaseDepth; r0 is the result.
	ExitDone ExitKind = iota
	// ExitHelper: call helper number Exit.Helper (an index into the
	// program's helper table) with r1-r5; Go writes r0 (and, as every
	// helper call does, clobbers nothing else) and resumes.
	ExitHelper
	// ExitHelperX: callx; the helper id is in the Dst register of the
	// instruction at Exit.PC.
	ExitHelperX
	// ExitBudget: the budget slice ran out at Exit.PC (or, when that is
	// -1, at the pc in State.Aux). Go either stops the run with the
	// interpreter's budget error or tops the budget up and resumes. For
	// code that checks ahead, what is left no longer covers the bias
	// before Exit.PC: Go tops the budget up and resumes, or the
	// interpreter finishes the run from Exit.PC.
	ExitBudget
	// ExitFault: a load, store or atomic (Exit.Access) of Exit.Size bytes
	// at the address in State.Aux is outside every suitable region.
	ExitFault
	// ExitMisaligned: an atomic of Exit.Size bytes at State.Aux is not
	// naturally aligned.
	ExitMisaligned
	// ExitCallDepth: a local call at Exit.PC would exceed MaxCallDepth.
	ExitCallDepth
	// ExitLdPacket: the LD_ABS or LD_IND at Exit.PC; Go performs it,
	// writes r0 and resumes, or ends the run as the interpreter does.
	ExitLdPacket
	// ExitFellOff: control ran off the end of the program.
	ExitFellOff
)

// Access kinds of an ExitFault.
const (
	AccessLoad uint8 = iota
	AccessStore
	AccessAtomic
)

// Exit describes one place where native code leaves.
type Exit struct {
	Kind   ExitKind
	Access uint8  // ExitFault: AccessLoad, AccessStore or AccessAtomic
	Size   uint8  // access size, for ExitFault and ExitMisaligned
	PC     int32  // the BPF instruction that left; -1: see ExitBudget
	Helper int32  // ExitHelper: index into the program's helper table
	Resume uint32 // native offset (from the start of the code) to resume at
	// Owed is what lookahead code owes the budget at this exit: charges
	// it deferred and has not subtracted yet (see the package comment).
	Owed uint32
}

// Code is a compiled program.
type Code interface {
	// Enter runs native code from the native offset resume until it
	// leaves, with st as the state block.
	Enter(st *State, resume uint32)
	// Start is the native offset of the program's first instruction
	// (after its budget charge, which Go makes).
	Start() uint32
	// Exits is the exit table that State.ExitID indexes.
	Exits() []Exit
	// Release unmaps the code. It must not be running.
	Release()
}

// CoarseCode is implemented by Code whose budget accounting may be
// coarse; CoarseBudget reports whether it is (see the package comment).
// Code that does not implement it accounts exactly.
type CoarseCode interface {
	CoarseBudget() bool
}

// LookaheadCode is implemented by Code that may check the budget ahead
// (see the package comment); Lookahead reports whether it does and its
// bias.
type LookaheadCode interface {
	Lookahead() (bias int64, ok bool)
}

// FrameCode is implemented by Code whose BPF call frames Go can read:
// ReturnPC maps a Frame.Ret to the pc that the call returns to (the
// instruction after the call), so that the interpreter can take a run
// over midway.
type FrameCode interface {
	ReturnPC(ret uint64) (pc int, ok bool)
}

// EntryCode is implemented by Code that Go may enter without the
// indirection of Code.Enter: Entry returns the trampoline and the code's
// address, and enter(st, base, base+resume) is Enter(st, resume).
type EntryCode interface {
	Entry() (enter func(st *State, code, resume uintptr), base uintptr)
}

// ProofCode is implemented by Code that may skip the checks of accesses
// that Program.Proven marks. UsesProofs reports whether it does; Go then
// makes sure the proofs hold for a run before entering the code and after
// every exit, and when they stop holding (a helper moved the packet
// outside mem) hands the run over to the interpreter, for which such code
// must implement FrameCode too.
type ProofCode interface {
	UsesProofs() bool
}

// Checkpoints returns the checkpoints of coarse budget accounting (see the
// package comment) and their weights: weight[pc] > 0 exactly when pc is a
// checkpoint. Every path from a checkpoint that reaches no other
// checkpoint executes at most weight[pc] instructions (lddw counts one)
// before it exits or reaches the next checkpoint.
func Checkpoints(p *Program) (weight []uint32) {
	n := len(p.Insts)
	cp := make([]bool, n)
	cp[0] = true
	for pc := range n - 1 {
		if p.Second[pc] {
			continue
		}
		in := &p.Insts[pc]
		switch {
		case in.Op == OpCallLocal:
			cp[in.Off] = true
			cp[pc+1] = true
		case in.Op >= OpJa && in.Op <= OpJsle32Reg && int(in.Off) <= pc:
			cp[in.Off] = true
		}
	}
	// Every edge that is not into a checkpoint goes forward: longest
	// paths, from the end.
	long := make([]uint64, n+1)
	at := func(pc int) uint64 {
		if pc >= n || cp[pc] {
			return 0
		}
		return long[pc]
	}
	for pc := n - 1; pc >= 0; pc-- {
		if p.Second[pc] {
			continue
		}
		in := &p.Insts[pc]
		var next uint64
		switch {
		case in.Op == OpExit || in.Op == OpFallOff || in.Op == OpCallLocal:
		case in.Op == OpJa:
			next = at(int(in.Off))
		case in.Op > OpJa && in.Op <= OpJsle32Reg:
			next = max(at(int(in.Off)), at(pc+1))
		case in.Op == OpLddw:
			next = at(pc + 2)
		default:
			next = at(pc + 1)
		}
		long[pc] = min(1+next, 1<<31)
	}
	weight = make([]uint32, n)
	for pc := range n {
		if cp[pc] && !p.Second[pc] {
			weight[pc] = uint32(long[pc])
		}
	}
	return weight
}

// Compile is set by package vm/jit, on architectures that have a back end,
// to compile a program to native code. Nil means no JIT is linked in.
var Compile func(p *Program, opts Options) (Code, error)

// Hooks that package vm sets in its init, so that vm/jit can reach a
// *vm.Program without vm exporting its internals (the argument is a
// *vm.Program; anything else panics).
var (
	// Source returns the program in the form a back end compiles.
	Source func(prog any) *Program
	// Bind makes code the native code that runs with Engine JIT for the
	// program, replacing what was there; nil unbinds it, so that the next
	// JIT run compiles afresh.
	Bind func(prog any, code Code)
)
