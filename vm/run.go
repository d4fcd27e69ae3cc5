package vm

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"
)

// HelperFunc implements a helper function. args are r1-r5; the result goes
// to r0. A non-nil error stops the program and is returned, wrapped in a
// [*RunError], by Run.
type HelperFunc func(env *Env, args [5]uint64) (uint64, error)

// RunOptions configures one run of a program.
type RunOptions struct {
	Helpers  map[int32]HelperFunc // by the kernel's helper id
	MaxSteps uint64               // instruction budget; 0 means a default of 1<<24
	// CPU is the processor the run pretends to be on: it selects the
	// value of per-CPU maps and the buffer of perf event arrays, so that
	// an embedder can shard runs over goroutines as the kernel shards
	// them over CPUs. It must be below the CPU count of the maps used.
	CPU int
	// Packet, when set, is what the legacy LD_ABS and LD_IND loads read,
	// as the kernel's read the skb's data; otherwise they read mem.
	// [Context.Run] sets it for __sk_buff contexts.
	Packet []byte
	// Engine chooses the interpreter (the default) or the JIT, which
	// needs package vm/jit linked in and falls back to the interpreter
	// where there is no back end. Both give the same results.
	Engine Engine
	// Repeat, when above 1, runs the program that many times in a row
	// over the same mem (which keeps what each run writes, as do maps),
	// as the kernel's BPF_PROG_TEST_RUN does with its repeat count: each
	// run starts afresh (registers, a clear stack, its own budget of
	// MaxSteps) and the result is the last run's. An error stops the
	// runs. The work of setting up a run is done once, so that this
	// measures the program rather than the call.
	Repeat int
}

// Result describes a completed run.
type Result struct {
	R0 uint64 // the program's return value
	// Steps is the number of instructions executed (lddw counts as
	// one), as charged against RunOptions.MaxSteps. Both engines count
	// exactly, unless the program's native code was compiled with
	// jit.Options.CoarseBudget: Steps of a successful run is then an
	// upper bound of the instructions executed.
	Steps uint64
}

// Run executes the program with r1 = the address of mem (0 when mem is
// empty), r2 = len(mem) (uBPF's calling convention, which the conformance
// suite uses), and r10 = the top of a 512-byte stack per frame. It returns
// r0 at exit. mem is the program's to read and write for the duration of
// the call; it may be up to MaxMem bytes long.
func (p *Program) Run(mem []byte, opts RunOptions) (uint64, error) {
	res, err := p.Execute(mem, opts)
	return res.R0, err
}

// Execute is Run that also reports how many instructions were executed.
//
// A verified program (see [Program.Verified]) is proved safe for a
// context of Report.ContextBytes bytes: when mem is shorter, the program
// runs over a copy of mem zero-extended to that size, and what it writes
// into mem's own bytes is copied back. (A program reached by a tail call
// runs over the same memory as its caller.)
func (p *Program) Execute(mem []byte, opts RunOptions) (Result, error) {
	if uint64(len(mem)) > MaxMem {
		return Result{}, fmt.Errorf("vm: mem of %d bytes is larger than %d", len(mem), uint64(MaxMem))
	}
	if need := p.contextBytes(); need > len(mem) {
		padded := make([]byte, need)
		copy(padded, mem)
		res, err := p.execute(padded, &opts)
		copy(mem, padded)
		return res, err
	}
	return p.execute(mem, &opts)
}

func (p *Program) execute(mem []byte, opts *RunOptions) (Result, error) {
	if opts.Engine == JIT {
		if res, err, ok := p.executeNative(mem, opts); ok {
			return res, err
		}
	}
	m := machinePool.Get().(*machine)
	defer m.release()
	m.reset(p, mem, opts)
	budget := clampSteps(opts.MaxSteps)
	var (
		r0   uint64
		left int64
		err  error
	)
	for i := range max(opts.Repeat, 1) {
		if i > 0 {
			m.rewind(p)
		}
		r0, left, err = m.exec(p, mem, budget)
		// A successful tail call stops the program that made it (see
		// helperTailCall); the next one runs here, with the same context
		// and the rest of the budget, so that a chain of tail calls never
		// nests.
		for err == nil && m.tail != nil {
			next := m.tail
			m.tail = nil
			m.env.stopped = false
			m.bind(next)
			r0, left, err = m.run(next, mem, left, 0, 0, [5]uint64{m.tailCtx, uint64(len(mem))})
		}
		if err != nil {
			break
		}
	}
	return Result{R0: r0, Steps: uint64(budget - left)}, err
}

// fixedRegions are the stack (index 0) and mem (index 1).
const fixedRegions = 2

// frame is what a bpf-to-bpf call saves: where to return, the run length
// to charge on return, and the callee-saved registers r6-r9 and r10.
type frame struct {
	ret    int
	retRun uint32
	saved  [5]uint64
}

// runOpts is what a machine keeps of its run's RunOptions: only what
// helpers and the engines read after the run has started.
type runOpts struct {
	Helpers map[int32]HelperFunc
	Packet  []byte
	CPU     int
}

// machine is the per-run state. Machines are pooled because a run of a
// small program (a packet filter) is otherwise dominated by allocating and
// clearing the stack.
//
// A pooled machine holds nothing of its last run: release clears what
// that run could have written to the stack and drops its regions, memory,
// helpers and options, so that reset only has to fill in the new run's.
type machine struct {
	regions []region // [0] the stack, [1] mem: their names and flags never change
	stack   [MaxCallDepth * StackSize]byte
	frames  [MaxCallDepth]frame
	// Where run resumes a run that native code hands over (deopt).
	entry       [11]uint64 // r0-r10
	resumePC    int
	resumeDepth int
	resumeLeft  int64
	helpers     []HelperFunc // resolved for this run, by Program.helperIDs index
	opts        runOpts
	env         Env

	// State that helpers need and the interpreter keeps in locals: set
	// around each helper call, not per instruction.
	prog      *Program // the program running now (changes on tail calls)
	mem       []byte
	depth     int   // call depth of the frame that called the helper
	left      int64 // budget left when the helper was called
	tail      *Program
	tailCtx   uint64
	tailCalls int

	// What this run may have written to the stack, which release clears:
	// frames 0 to maxDepth-1 (the deepest call depth reached, by either
	// engine, callbacks included) whole, and frameUse bytes below the top
	// of frame maxDepth, where frameUse is the largest stackUse of the
	// programs this run ran (see Program.stackUse; each engine adds its
	// program's as it starts): maxDepth*StackSize + frameUse bytes from
	// the top of stack.
	maxDepth int
	frameUse int

	native *nativeState // allocated on the first native run
}

var machinePool = sync.Pool{New: func() any {
	m := &machine{regions: make([]region, fixedRegions, 8)}
	m.regions[0] = region{name: "stack", writable: true}
	m.regions[1] = region{base: MemAddr, writable: true, name: "mem"}
	m.setStack(0)
	m.env.m = m
	return m
}}

func (m *machine) reset(p *Program, mem []byte, opts *RunOptions) {
	// release left the stack clear, the regions at the two fixed ones
	// (the stack at depth 0, mem empty) and no references.
	m.regions[1].data = mem
	m.opts.Helpers, m.opts.Packet, m.opts.CPU = opts.Helpers, opts.Packet, opts.CPU
	m.env.stopped = false
	m.mem = mem
	m.tailCtx, m.tailCalls = 0, 0
	m.maxDepth, m.frameUse = 0, 0
	m.bind(p)
}

// bind makes p the running program: its helpers and the regions of its
// maps' values.
func (m *machine) bind(p *Program) {
	m.prog = p
	if len(m.helpers) > 0 || len(p.helperIDs) > 0 {
		clear(m.helpers)
		m.helpers = m.helpers[:0]
		for _, id := range p.helperIDs {
			m.helpers = append(m.helpers, m.opts.Helpers[id])
		}
	}
	if len(p.maps) > 0 {
		m.addMapRegions(p)
	}
}

// rewind makes the machine ready for another run of p over the same
// memory with the same options (RunOptions.Repeat), as release and reset
// would, keeping what both would set again.
func (m *machine) rewind(p *Program) {
	m.clearStack()
	if len(m.regions) > fixedRegions {
		clear(m.regions[fixedRegions:])
		m.regions = m.regions[:fixedRegions]
	}
	m.setStack(0)
	m.env.stopped = false
	m.tail, m.tailCtx, m.tailCalls = nil, 0, 0
	m.maxDepth, m.frameUse = 0, 0
	if m.prog != p || len(p.maps) > 0 {
		m.bind(p)
	}
}

// clearStack clears what the run can have written to the stack, and only
// that (an empty program writes nothing): a later run must not see it.
func (m *machine) clearStack() {
	if d := m.maxDepth*StackSize + m.frameUse; d > 0 {
		clear(m.stack[len(m.stack)-min(d, len(m.stack)):])
	}
}

func (m *machine) release() {
	m.clearStack()
	// Drop references to the caller's memory and helpers before pooling,
	// and the regions that this run added.
	if len(m.regions) > fixedRegions {
		clear(m.regions[fixedRegions:])
		m.regions = m.regions[:fixedRegions]
	}
	m.setStack(0)
	m.regions[1].data = nil
	if m.native != nil {
		m.native.ready = false
	}
	if len(m.helpers) > 0 {
		clear(m.helpers)
		m.helpers = m.helpers[:0]
	}
	if m.opts.Helpers != nil || m.opts.Packet != nil {
		m.opts.Helpers, m.opts.Packet = nil, nil
	}
	m.prog, m.mem, m.tail = nil, nil, nil
	machinePool.Put(m)
}

// stackUse is how many bytes below r10, in any one frame, a run of p can
// write: StackSize unless every store and atomic that writes memory is
// r10-relative with a constant offset inside the frame and the program
// calls no helper (a helper may write through a pointer, and a program
// may name any stack address as a constant); then the deepest of those
// stores. Together with the deepest call depth reached it bounds what a
// run can have written to the stack, whichever engine ran it (both place
// frame d at stackTop - d*StackSize), so that a run clears only that.
func (p *Program) stackUse() int {
	if u := p.jit.stackUse.Load(); u != 0 {
		return int(u - 1)
	}
	use := p.stackUseBut(nil)
	p.jit.stackUse.Store(int32(use) + 1)
	return use
}

// stackUseBut is stackUse, leaving out the stores that skip[pc] marks.
func (p *Program) stackUseBut(skip []bool) int {
	use := 0
	for pc := 0; pc < len(p.code); pc++ {
		in := &p.code[pc]
		size := int32(0)
		switch in.op {
		case opLddw:
			pc++ // skip the second slot
		case opCall, opCallX:
			use = StackSize
		case opStB, opStxB:
			size = 1
		case opStH, opStxH:
			size = 2
		case opStW, opStxW:
			size = 4
		case opStDW, opStxDW:
			size = 8
		case opAtomic:
			if uint32(in.imm) != atomicLoadAcq {
				size = int32(in.size)
			}
		}
		if size == 0 || skip != nil && skip[pc] {
			continue
		}
		if in.dst != 10 || in.off < -StackSize || in.off+size > 0 {
			use = StackSize
		} else {
			use = max(use, int(-in.off))
		}
	}
	return use
}

// setStack makes the stack region cover the frame at depth and all its
// callers' frames (a callee may use pointers to its callers' stack, as in
// the kernel) but not the unused frames below it.
func (m *machine) setStack(depth int) {
	lo := (MaxCallDepth - 1 - depth) * StackSize
	m.regions[0].base = StackAddr + uint64(lo)
	m.regions[0].data = m.stack[lo:]
}

// exec is the interpreter. Everything it touches per instruction is a
// local: the registers, the pc, the budget, the decoded code and the two
// region caches, so that the hot loop is one bounds-checked fetch and one
// jump-table dispatch per instruction. It returns r0, the unused budget and
// the error, if any.
func (m *machine) exec(p *Program, mem []byte, budget int64) (r0 uint64, left int64, err error) {
	var r1 uint64
	if len(mem) > 0 {
		r1 = MemAddr
	}
	return m.run(p, mem, budget, 0, 0, [5]uint64{r1, uint64(len(mem))})
}

// run is the interpreter proper: it starts at pc start in a fresh frame at
// call depth base with r1-r5 = args, and returns when that frame exits.
// Base 0 is a whole program; a deeper base is a callback that a helper
// calls (Env.CallLocal), which runs on the frames below the caller's.
// A negative start resumes instead where m.entry, m.resumePC,
// m.resumeDepth and m.resumeLeft say, with the call frames of m.frames
// (see machine.deopt).
func (m *machine) run(p *Program, mem []byte, budget int64, start, base int, args [5]uint64) (r0 uint64, left int64, err error) {
	code := p.code
	var regs [16]uint64
	depth := base
	pc := start
	m.frameUse = max(m.frameUse, p.stackUse())
	if start >= 0 {
		regs[1], regs[2], regs[3], regs[4], regs[5] = args[0], args[1], args[2], args[3], args[4]
		regs[10] = stackTop - uint64(base)*StackSize
		m.maxDepth = max(m.maxDepth, base)
		left = budget - int64(p.runs[start])
		if left < 0 {
			return 0, left, budgetError(start, budget)
		}
	} else {
		// A run that native code hands over midway (see deopt).
		r := &m.entry
		regs[0], regs[1], regs[2], regs[3], regs[4], regs[5] = r[0], r[1], r[2], r[3], r[4], r[5]
		regs[6], regs[7], regs[8], regs[9], regs[10] = r[6], r[7], r[8], r[9], r[10]
		pc, depth, left = m.resumePC, m.resumeDepth, m.resumeLeft
	}
	m.setStack(depth)
	lc := cache{base: m.regions[0].base, data: m.regions[0].data}
	sc := lc
	var (
		fAddr uint64
		fSize int
		fKind string
	)
	for {
		in := &code[pc]
		pc++
		switch in.op {
		case opAdd64Imm:
			regs[in.dst&15] += uint64(in.imm)
		case opAdd64Reg:
			regs[in.dst&15] += regs[in.src&15]
		case opSub64Imm:
			regs[in.dst&15] -= uint64(in.imm)
		case opSub64Reg:
			regs[in.dst&15] -= regs[in.src&15]
		case opMul64Imm:
			regs[in.dst&15] *= uint64(in.imm)
		case opMul64Reg:
			regs[in.dst&15] *= regs[in.src&15]
		case opDiv64Imm:
			regs[in.dst&15] = div64(regs[in.dst&15], uint64(in.imm))
		case opDiv64Reg:
			regs[in.dst&15] = div64(regs[in.dst&15], regs[in.src&15])
		case opSDiv64Imm:
			regs[in.dst&15] = sdiv64(regs[in.dst&15], uint64(in.imm))
		case opSDiv64Reg:
			regs[in.dst&15] = sdiv64(regs[in.dst&15], regs[in.src&15])
		case opOr64Imm:
			regs[in.dst&15] |= uint64(in.imm)
		case opOr64Reg:
			regs[in.dst&15] |= regs[in.src&15]
		case opAnd64Imm:
			regs[in.dst&15] &= uint64(in.imm)
		case opAnd64Reg:
			regs[in.dst&15] &= regs[in.src&15]
		case opLsh64Imm:
			regs[in.dst&15] <<= uint64(in.imm) & 63
		case opLsh64Reg:
			regs[in.dst&15] <<= regs[in.src&15] & 63
		case opRsh64Imm:
			regs[in.dst&15] >>= uint64(in.imm) & 63
		case opRsh64Reg:
			regs[in.dst&15] >>= regs[in.src&15] & 63
		case opNeg64:
			regs[in.dst&15] = -regs[in.dst&15]
		case opMod64Imm:
			regs[in.dst&15] = mod64(regs[in.dst&15], uint64(in.imm))
		case opMod64Reg:
			regs[in.dst&15] = mod64(regs[in.dst&15], regs[in.src&15])
		case opSMod64Imm:
			regs[in.dst&15] = smod64(regs[in.dst&15], uint64(in.imm))
		case opSMod64Reg:
			regs[in.dst&15] = smod64(regs[in.dst&15], regs[in.src&15])
		case opXor64Imm:
			regs[in.dst&15] ^= uint64(in.imm)
		case opXor64Reg:
			regs[in.dst&15] ^= regs[in.src&15]
		case opMov64Imm:
			regs[in.dst&15] = uint64(in.imm)
		case opMov64Reg:
			regs[in.dst&15] = regs[in.src&15]
		case opMovSX8to64:
			regs[in.dst&15] = uint64(int64(int8(regs[in.src&15])))
		case opMovSX16to64:
			regs[in.dst&15] = uint64(int64(int16(regs[in.src&15])))
		case opMovSX32to64:
			regs[in.dst&15] = uint64(int64(int32(regs[in.src&15])))
		case opArsh64Imm:
			regs[in.dst&15] = uint64(int64(regs[in.dst&15]) >> (uint64(in.imm) & 63))
		case opArsh64Reg:
			regs[in.dst&15] = uint64(int64(regs[in.dst&15]) >> (regs[in.src&15] & 63))

		case opAdd32Imm:
			regs[in.dst&15] = uint64(uint32(regs[in.dst&15]) + uint32(in.imm))
		case opAdd32Reg:
			regs[in.dst&15] = uint64(uint32(regs[in.dst&15]) + uint32(regs[in.src&15]))
		case opSub32Imm:
			regs[in.dst&15] = uint64(uint32(regs[in.dst&15]) - uint32(in.imm))
		case opSub32Reg:
			regs[in.dst&15] = uint64(uint32(regs[in.dst&15]) - uint32(regs[in.src&15]))
		case opMul32Imm:
			regs[in.dst&15] = uint64(uint32(regs[in.dst&15]) * uint32(in.imm))
		case opMul32Reg:
			regs[in.dst&15] = uint64(uint32(regs[in.dst&15]) * uint32(regs[in.src&15]))
		case opDiv32Imm:
			regs[in.dst&15] = div32(regs[in.dst&15], uint64(in.imm))
		case opDiv32Reg:
			regs[in.dst&15] = div32(regs[in.dst&15], regs[in.src&15])
		case opSDiv32Imm:
			regs[in.dst&15] = sdiv32(regs[in.dst&15], uint64(in.imm))
		case opSDiv32Reg:
			regs[in.dst&15] = sdiv32(regs[in.dst&15], regs[in.src&15])
		case opOr32Imm:
			regs[in.dst&15] = uint64(uint32(regs[in.dst&15]) | uint32(in.imm))
		case opOr32Reg:
			regs[in.dst&15] = uint64(uint32(regs[in.dst&15]) | uint32(regs[in.src&15]))
		case opAnd32Imm:
			regs[in.dst&15] = uint64(uint32(regs[in.dst&15]) & uint32(in.imm))
		case opAnd32Reg:
			regs[in.dst&15] = uint64(uint32(regs[in.dst&15]) & uint32(regs[in.src&15]))
		case opLsh32Imm:
			regs[in.dst&15] = uint64(uint32(regs[in.dst&15]) << (uint32(in.imm) & 31))
		case opLsh32Reg:
			regs[in.dst&15] = uint64(uint32(regs[in.dst&15]) << (uint32(regs[in.src&15]) & 31))
		case opRsh32Imm:
			regs[in.dst&15] = uint64(uint32(regs[in.dst&15]) >> (uint32(in.imm) & 31))
		case opRsh32Reg:
			regs[in.dst&15] = uint64(uint32(regs[in.dst&15]) >> (uint32(regs[in.src&15]) & 31))
		case opNeg32:
			regs[in.dst&15] = uint64(-uint32(regs[in.dst&15]))
		case opMod32Imm:
			regs[in.dst&15] = mod32(regs[in.dst&15], uint64(in.imm))
		case opMod32Reg:
			regs[in.dst&15] = mod32(regs[in.dst&15], regs[in.src&15])
		case opSMod32Imm:
			regs[in.dst&15] = smod32(regs[in.dst&15], uint64(in.imm))
		case opSMod32Reg:
			regs[in.dst&15] = smod32(regs[in.dst&15], regs[in.src&15])
		case opXor32Imm:
			regs[in.dst&15] = uint64(uint32(regs[in.dst&15]) ^ uint32(in.imm))
		case opXor32Reg:
			regs[in.dst&15] = uint64(uint32(regs[in.dst&15]) ^ uint32(regs[in.src&15]))
		case opMov32Imm:
			regs[in.dst&15] = uint64(uint32(in.imm))
		case opMov32Reg:
			regs[in.dst&15] = uint64(uint32(regs[in.src&15]))
		case opMovSX8to32:
			regs[in.dst&15] = uint64(uint32(int32(int8(regs[in.src&15]))))
		case opMovSX16to32:
			regs[in.dst&15] = uint64(uint32(int32(int16(regs[in.src&15]))))
		case opArsh32Imm:
			regs[in.dst&15] = uint64(uint32(int32(regs[in.dst&15]) >> (uint32(in.imm) & 31)))
		case opArsh32Reg:
			regs[in.dst&15] = uint64(uint32(int32(regs[in.dst&15]) >> (uint32(regs[in.src&15]) & 31)))

		case opLe16:
			regs[in.dst&15] = uint64(uint16(regs[in.dst&15]))
		case opLe32:
			regs[in.dst&15] = uint64(uint32(regs[in.dst&15]))
		case opBswap16:
			regs[in.dst&15] = uint64(bits.ReverseBytes16(uint16(regs[in.dst&15])))
		case opBswap32:
			regs[in.dst&15] = uint64(bits.ReverseBytes32(uint32(regs[in.dst&15])))
		case opBswap64:
			regs[in.dst&15] = bits.ReverseBytes64(regs[in.dst&15])

		case opLddw:
			regs[in.dst&15] = uint64(in.imm)
			pc++

		case opJa:
			if left -= int64(in.nt); left < 0 {
				goto budget
			}
			pc = int(in.off)
		case opJeqImm:
			n, t := in.nf, pc
			if regs[in.dst&15] == uint64(in.imm) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJeqReg:
			n, t := in.nf, pc
			if regs[in.dst&15] == regs[in.src&15] {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJgtImm:
			n, t := in.nf, pc
			if regs[in.dst&15] > uint64(in.imm) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJgtReg:
			n, t := in.nf, pc
			if regs[in.dst&15] > regs[in.src&15] {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJgeImm:
			n, t := in.nf, pc
			if regs[in.dst&15] >= uint64(in.imm) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJgeReg:
			n, t := in.nf, pc
			if regs[in.dst&15] >= regs[in.src&15] {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJsetImm:
			n, t := in.nf, pc
			if regs[in.dst&15]&uint64(in.imm) != 0 {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJsetReg:
			n, t := in.nf, pc
			if regs[in.dst&15]&regs[in.src&15] != 0 {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJneImm:
			n, t := in.nf, pc
			if regs[in.dst&15] != uint64(in.imm) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJneReg:
			n, t := in.nf, pc
			if regs[in.dst&15] != regs[in.src&15] {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJsgtImm:
			n, t := in.nf, pc
			if int64(regs[in.dst&15]) > in.imm {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJsgtReg:
			n, t := in.nf, pc
			if int64(regs[in.dst&15]) > int64(regs[in.src&15]) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJsgeImm:
			n, t := in.nf, pc
			if int64(regs[in.dst&15]) >= in.imm {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJsgeReg:
			n, t := in.nf, pc
			if int64(regs[in.dst&15]) >= int64(regs[in.src&15]) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJltImm:
			n, t := in.nf, pc
			if regs[in.dst&15] < uint64(in.imm) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJltReg:
			n, t := in.nf, pc
			if regs[in.dst&15] < regs[in.src&15] {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJleImm:
			n, t := in.nf, pc
			if regs[in.dst&15] <= uint64(in.imm) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJleReg:
			n, t := in.nf, pc
			if regs[in.dst&15] <= regs[in.src&15] {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJsltImm:
			n, t := in.nf, pc
			if int64(regs[in.dst&15]) < in.imm {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJsltReg:
			n, t := in.nf, pc
			if int64(regs[in.dst&15]) < int64(regs[in.src&15]) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJsleImm:
			n, t := in.nf, pc
			if int64(regs[in.dst&15]) <= in.imm {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJsleReg:
			n, t := in.nf, pc
			if int64(regs[in.dst&15]) <= int64(regs[in.src&15]) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJeq32Imm:
			n, t := in.nf, pc
			if uint32(regs[in.dst&15]) == uint32(in.imm) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJeq32Reg:
			n, t := in.nf, pc
			if uint32(regs[in.dst&15]) == uint32(regs[in.src&15]) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJgt32Imm:
			n, t := in.nf, pc
			if uint32(regs[in.dst&15]) > uint32(in.imm) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJgt32Reg:
			n, t := in.nf, pc
			if uint32(regs[in.dst&15]) > uint32(regs[in.src&15]) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJge32Imm:
			n, t := in.nf, pc
			if uint32(regs[in.dst&15]) >= uint32(in.imm) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJge32Reg:
			n, t := in.nf, pc
			if uint32(regs[in.dst&15]) >= uint32(regs[in.src&15]) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJset32Imm:
			n, t := in.nf, pc
			if uint32(regs[in.dst&15])&uint32(in.imm) != 0 {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJset32Reg:
			n, t := in.nf, pc
			if uint32(regs[in.dst&15])&uint32(regs[in.src&15]) != 0 {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJne32Imm:
			n, t := in.nf, pc
			if uint32(regs[in.dst&15]) != uint32(in.imm) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJne32Reg:
			n, t := in.nf, pc
			if uint32(regs[in.dst&15]) != uint32(regs[in.src&15]) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJsgt32Imm:
			n, t := in.nf, pc
			if int32(regs[in.dst&15]) > int32(in.imm) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJsgt32Reg:
			n, t := in.nf, pc
			if int32(regs[in.dst&15]) > int32(regs[in.src&15]) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJsge32Imm:
			n, t := in.nf, pc
			if int32(regs[in.dst&15]) >= int32(in.imm) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJsge32Reg:
			n, t := in.nf, pc
			if int32(regs[in.dst&15]) >= int32(regs[in.src&15]) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJlt32Imm:
			n, t := in.nf, pc
			if uint32(regs[in.dst&15]) < uint32(in.imm) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJlt32Reg:
			n, t := in.nf, pc
			if uint32(regs[in.dst&15]) < uint32(regs[in.src&15]) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJle32Imm:
			n, t := in.nf, pc
			if uint32(regs[in.dst&15]) <= uint32(in.imm) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJle32Reg:
			n, t := in.nf, pc
			if uint32(regs[in.dst&15]) <= uint32(regs[in.src&15]) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJslt32Imm:
			n, t := in.nf, pc
			if int32(regs[in.dst&15]) < int32(in.imm) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJslt32Reg:
			n, t := in.nf, pc
			if int32(regs[in.dst&15]) < int32(regs[in.src&15]) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJsle32Imm:
			n, t := in.nf, pc
			if int32(regs[in.dst&15]) <= int32(in.imm) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opJsle32Reg:
			n, t := in.nf, pc
			if int32(regs[in.dst&15]) <= int32(regs[in.src&15]) {
				n, t = in.nt, int(in.off)
			}
			if left -= int64(n); left < 0 {
				goto budget
			}
			pc = t
		case opLdxB:
			addr := regs[in.src&15] + uint64(in.imm)
			a, ok := lc.at(addr, 1)
			if !ok {
				if a, ok = m.refill(&lc, addr, 1, false); !ok {
					fAddr, fSize, fKind = addr, 1, "load"
					goto fault
				}
			}
			regs[in.dst&15] = uint64(lc.data[a])
		case opLdxH:
			addr := regs[in.src&15] + uint64(in.imm)
			a, ok := lc.at(addr, 2)
			if !ok {
				if a, ok = m.refill(&lc, addr, 2, false); !ok {
					fAddr, fSize, fKind = addr, 2, "load"
					goto fault
				}
			}
			regs[in.dst&15] = uint64(binary.LittleEndian.Uint16(lc.data[a:]))
		case opLdxW:
			addr := regs[in.src&15] + uint64(in.imm)
			a, ok := lc.at(addr, 4)
			if !ok {
				if a, ok = m.refill(&lc, addr, 4, false); !ok {
					fAddr, fSize, fKind = addr, 4, "load"
					goto fault
				}
			}
			regs[in.dst&15] = uint64(binary.LittleEndian.Uint32(lc.data[a:]))
		case opLdxDW:
			addr := regs[in.src&15] + uint64(in.imm)
			a, ok := lc.at(addr, 8)
			if !ok {
				if a, ok = m.refill(&lc, addr, 8, false); !ok {
					fAddr, fSize, fKind = addr, 8, "load"
					goto fault
				}
			}
			regs[in.dst&15] = binary.LittleEndian.Uint64(lc.data[a:])
		case opLdxSB:
			addr := regs[in.src&15] + uint64(in.imm)
			a, ok := lc.at(addr, 1)
			if !ok {
				if a, ok = m.refill(&lc, addr, 1, false); !ok {
					fAddr, fSize, fKind = addr, 1, "load"
					goto fault
				}
			}
			regs[in.dst&15] = uint64(int64(int8(lc.data[a])))
		case opLdxSH:
			addr := regs[in.src&15] + uint64(in.imm)
			a, ok := lc.at(addr, 2)
			if !ok {
				if a, ok = m.refill(&lc, addr, 2, false); !ok {
					fAddr, fSize, fKind = addr, 2, "load"
					goto fault
				}
			}
			regs[in.dst&15] = uint64(int64(int16(binary.LittleEndian.Uint16(lc.data[a:]))))
		case opLdxSW:
			addr := regs[in.src&15] + uint64(in.imm)
			a, ok := lc.at(addr, 4)
			if !ok {
				if a, ok = m.refill(&lc, addr, 4, false); !ok {
					fAddr, fSize, fKind = addr, 4, "load"
					goto fault
				}
			}
			regs[in.dst&15] = uint64(int64(int32(binary.LittleEndian.Uint32(lc.data[a:]))))
		case opStB:
			addr := regs[in.dst&15] + uint64(int64(in.off))
			a, ok := sc.at(addr, 1)
			if !ok {
				if a, ok = m.refill(&sc, addr, 1, true); !ok {
					fAddr, fSize, fKind = addr, 1, "store"
					goto fault
				}
			}
			sc.data[a] = byte(in.imm)
		case opStH:
			addr := regs[in.dst&15] + uint64(int64(in.off))
			a, ok := sc.at(addr, 2)
			if !ok {
				if a, ok = m.refill(&sc, addr, 2, true); !ok {
					fAddr, fSize, fKind = addr, 2, "store"
					goto fault
				}
			}
			binary.LittleEndian.PutUint16(sc.data[a:], uint16(in.imm))
		case opStW:
			addr := regs[in.dst&15] + uint64(int64(in.off))
			a, ok := sc.at(addr, 4)
			if !ok {
				if a, ok = m.refill(&sc, addr, 4, true); !ok {
					fAddr, fSize, fKind = addr, 4, "store"
					goto fault
				}
			}
			binary.LittleEndian.PutUint32(sc.data[a:], uint32(in.imm))
		case opStDW:
			addr := regs[in.dst&15] + uint64(int64(in.off))
			a, ok := sc.at(addr, 8)
			if !ok {
				if a, ok = m.refill(&sc, addr, 8, true); !ok {
					fAddr, fSize, fKind = addr, 8, "store"
					goto fault
				}
			}
			binary.LittleEndian.PutUint64(sc.data[a:], uint64(in.imm))
		case opStxB:
			addr := regs[in.dst&15] + uint64(int64(in.off))
			a, ok := sc.at(addr, 1)
			if !ok {
				if a, ok = m.refill(&sc, addr, 1, true); !ok {
					fAddr, fSize, fKind = addr, 1, "store"
					goto fault
				}
			}
			sc.data[a] = byte(regs[in.src&15])
		case opStxH:
			addr := regs[in.dst&15] + uint64(int64(in.off))
			a, ok := sc.at(addr, 2)
			if !ok {
				if a, ok = m.refill(&sc, addr, 2, true); !ok {
					fAddr, fSize, fKind = addr, 2, "store"
					goto fault
				}
			}
			binary.LittleEndian.PutUint16(sc.data[a:], uint16(regs[in.src&15]))
		case opStxW:
			addr := regs[in.dst&15] + uint64(int64(in.off))
			a, ok := sc.at(addr, 4)
			if !ok {
				if a, ok = m.refill(&sc, addr, 4, true); !ok {
					fAddr, fSize, fKind = addr, 4, "store"
					goto fault
				}
			}
			binary.LittleEndian.PutUint32(sc.data[a:], uint32(regs[in.src&15]))
		case opStxDW:
			addr := regs[in.dst&15] + uint64(int64(in.off))
			a, ok := sc.at(addr, 8)
			if !ok {
				if a, ok = m.refill(&sc, addr, 8, true); !ok {
					fAddr, fSize, fKind = addr, 8, "store"
					goto fault
				}
			}
			binary.LittleEndian.PutUint64(sc.data[a:], uint64(regs[in.src&15]))

		case opAtomic:
			if e := m.atomic(in, &regs, pc-1); e != nil {
				return 0, left, e
			}

		case opCall:
			h := m.helpers[in.imm]
			if h == nil {
				return 0, left, unknownHelper(pc-1, int64(p.helperIDs[in.imm]))
			}
			r, l, e := m.call(h, &regs, pc-1, depth, left)
			if e != nil {
				return 0, l, e
			}
			left = l
			regs[0] = r
			if m.env.stopped {
				return r, left + int64(p.runs[pc-1]-1), nil
			}
		case opCallX:
			id := regs[in.dst&15]
			h := m.opts.Helpers[int32(id)]
			if h == nil || uint64(int64(int32(id))) != id {
				return 0, left, unknownHelper(pc-1, int64(id))
			}
			r, l, e := m.call(h, &regs, pc-1, depth, left)
			if e != nil {
				return 0, l, e
			}
			left = l
			regs[0] = r
			if m.env.stopped {
				return r, left + int64(p.runs[pc-1]-1), nil
			}
		case opCallLocal:
			if depth+1 >= MaxCallDepth {
				return 0, left, &RunError{PC: pc - 1, Err: ErrCallDepth, msg: fmt.Sprintf("call depth exceeded (at most %d frames)", MaxCallDepth)}
			}
			if left -= int64(in.nt); left < 0 {
				goto budget
			}
			f := &m.frames[depth]
			f.ret, f.retRun = pc, in.nf
			f.saved = [5]uint64{regs[6], regs[7], regs[8], regs[9], regs[10]}
			depth++
			if depth > m.maxDepth {
				m.maxDepth = depth
			}
			regs[10] -= StackSize
			m.setStack(depth)
			lc = cache{base: m.regions[0].base, data: m.regions[0].data}
			sc = lc
			pc = int(in.off)
		case opExit:
			if depth == base {
				return regs[0], left, nil
			}
			depth--
			f := &m.frames[depth]
			if left -= int64(f.retRun); left < 0 {
				goto budget
			}
			regs[6], regs[7], regs[8], regs[9], regs[10] = f.saved[0], f.saved[1], f.saved[2], f.saved[3], f.saved[4]
			m.setStack(depth)
			lc = cache{base: m.regions[0].base, data: m.regions[0].data}
			sc = lc
			pc = f.ret

		case opLdAbsB, opLdAbsH, opLdAbsW, opLdIndB, opLdIndH, opLdIndW:
			pkt := mem
			if m.opts.Packet != nil {
				pkt = m.opts.Packet
			}
			v, ok := ldPacket(in, &regs, pkt)
			if !ok {
				// The kernel ends a socket filter that reads past the
				// packet with a return value of 0 (drop).
				return 0, left + int64(p.runs[pc-1]-1), nil
			}
			regs[0] = v

		case opFallOff:
			return 0, left, &RunError{PC: pc - 1, Err: ErrFellOff, msg: "fell off the end of the program"}
		default:
			// Load never produces other ops; stay safe if it ever does.
			return 0, left, &RunError{PC: pc - 1, msg: fmt.Sprintf("internal error: bad decoded op %d", in.op)}
		}
	}

budget:
	return 0, left, budgetError(pc-1, budget)
fault:
	return 0, left, m.memFault(pc-1, fAddr, fSize, fKind)
}

func unknownHelper(pc int, id int64) error {
	return &RunError{PC: pc, Err: ErrUnknownHelper, msg: fmt.Sprintf("unknown helper id %d", id)}
}

// call runs a helper. It is out of line so that the interpreter loop keeps
// its registers to itself.
func (m *machine) call(h HelperFunc, regs *[16]uint64, pc, depth int, left int64) (uint64, int64, error) {
	// A helper may run a callback (Env.CallLocal), which needs to know
	// where the caller's frames end and draws on the same budget.
	m.depth, m.left = depth, left
	r, err := h(&m.env, [5]uint64{regs[1], regs[2], regs[3], regs[4], regs[5]})
	if err != nil {
		return 0, m.left, &RunError{PC: pc, Err: err, msg: "helper: " + err.Error()}
	}
	return r, m.left, nil
}

// ldPacket implements the legacy LD_ABS and LD_IND loads: a big-endian
// read from mem taken as the packet, at a 32-bit signed offset.
func ldPacket(in *inst, regs *[16]uint64, mem []byte) (uint64, bool) {
	off := int32(in.imm)
	size := 4
	switch in.op {
	case opLdIndB, opLdIndH, opLdIndW:
		off = int32(uint32(regs[in.src&15]) + uint32(in.imm))
	}
	switch in.op {
	case opLdAbsB, opLdIndB:
		size = 1
	case opLdAbsH, opLdIndH:
		size = 2
	}
	if off < 0 || int64(off)+int64(size) > int64(len(mem)) {
		return 0, false
	}
	b := mem[off:]
	switch size {
	case 1:
		return uint64(b[0]), true
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), true
	}
	return uint64(binary.BigEndian.Uint32(b)), true
}

// atomic implements the atomic-mode stores. They must be naturally aligned,
// as in the kernel. When the host memory is aligned too (always, for the
// stack; for mem when the caller's slice is), they use the processor's
// atomics, so that programs sharing memory across goroutines see the
// ISA's guarantees.
func (m *machine) atomic(in *inst, regs *[16]uint64, pc int) error {
	n := uint64(in.size)
	op := uint32(in.imm)
	base := regs[in.dst&15]
	write := op != atomicLoadAcq
	if op == atomicLoadAcq {
		base = regs[in.src&15]
	}
	addr := base + uint64(int64(in.off))
	if addr%n != 0 {
		return &RunError{PC: pc, Addr: addr, Size: int(n), Err: ErrMisaligned, msg: fmt.Sprintf("misaligned %d-byte atomic at %#x", n, addr)}
	}
	r := m.find(addr, n, write)
	if r == nil {
		return m.memFault(pc, addr, int(n), "atomic")
	}
	b := r.data[addr-r.base:][:n]
	p := unsafe.Pointer(&b[0])
	aligned := uintptr(p)%uintptr(n) == 0

	switch op {
	case atomicLoadAcq:
		var v uint64
		switch n {
		case 1:
			v = uint64(b[0])
		case 2:
			v = uint64(binary.LittleEndian.Uint16(b))
		case 4:
			if aligned {
				v = uint64(atomic.LoadUint32((*uint32)(p)))
			} else {
				v = uint64(binary.LittleEndian.Uint32(b))
			}
		case 8:
			if aligned {
				v = atomic.LoadUint64((*uint64)(p))
			} else {
				v = binary.LittleEndian.Uint64(b)
			}
		}
		regs[in.dst&15] = v
		return nil
	case atomicStoreRl:
		v := regs[in.src&15]
		switch n {
		case 1:
			b[0] = byte(v)
		case 2:
			binary.LittleEndian.PutUint16(b, uint16(v))
		case 4:
			if aligned {
				atomic.StoreUint32((*uint32)(p), uint32(v))
			} else {
				binary.LittleEndian.PutUint32(b, uint32(v))
			}
		case 8:
			if aligned {
				atomic.StoreUint64((*uint64)(p), v)
			} else {
				binary.LittleEndian.PutUint64(b, v)
			}
		}
		return nil
	}

	src := regs[in.src&15]
	if n == 4 {
		var old uint32
		v := uint32(src)
		if aligned {
			a := (*uint32)(p)
			switch op &^ atomicFetch {
			case atomicAdd:
				old = atomic.AddUint32(a, v) - v
			case atomicOr:
				old = atomic.OrUint32(a, v)
			case atomicAnd:
				old = atomic.AndUint32(a, v)
			case atomicXor:
				for old = atomic.LoadUint32(a); !atomic.CompareAndSwapUint32(a, old, old^v); old = atomic.LoadUint32(a) {
				}
			case atomicXchg &^ atomicFetch:
				old = atomic.SwapUint32(a, v)
			case atomicCmpXchg &^ atomicFetch:
				want := uint32(regs[0])
				for old = atomic.LoadUint32(a); old == want && !atomic.CompareAndSwapUint32(a, old, v); old = atomic.LoadUint32(a) {
				}
			}
		} else {
			old = binary.LittleEndian.Uint32(b)
			binary.LittleEndian.PutUint32(b, uint32(rmw(op, uint64(old), uint64(v), uint64(uint32(regs[0])))))
		}
		finishAtomic(op, regs, in.src, uint64(old))
		return nil
	}
	var old uint64
	if aligned {
		a := (*uint64)(p)
		switch op &^ atomicFetch {
		case atomicAdd:
			old = atomic.AddUint64(a, src) - src
		case atomicOr:
			old = atomic.OrUint64(a, src)
		case atomicAnd:
			old = atomic.AndUint64(a, src)
		case atomicXor:
			for old = atomic.LoadUint64(a); !atomic.CompareAndSwapUint64(a, old, old^src); old = atomic.LoadUint64(a) {
			}
		case atomicXchg &^ atomicFetch:
			old = atomic.SwapUint64(a, src)
		case atomicCmpXchg &^ atomicFetch:
			for old = atomic.LoadUint64(a); old == regs[0] && !atomic.CompareAndSwapUint64(a, old, src); old = atomic.LoadUint64(a) {
			}
		}
	} else {
		old = binary.LittleEndian.Uint64(b)
		binary.LittleEndian.PutUint64(b, rmw(op, old, src, regs[0]))
	}
	finishAtomic(op, regs, in.src, old)
	return nil
}

// rmw computes the new memory value of an atomic operation, for the
// fallback on host memory that is not aligned.
func rmw(op uint32, old, src, r0 uint64) uint64 {
	switch op &^ atomicFetch {
	case atomicAdd:
		return old + src
	case atomicOr:
		return old | src
	case atomicAnd:
		return old & src
	case atomicXor:
		return old ^ src
	case atomicXchg &^ atomicFetch:
		return src
	case atomicCmpXchg &^ atomicFetch:
		if old == r0 {
			return src
		}
	}
	return old
}

// finishAtomic writes the old value where the ISA says: r0 for cmpxchg,
// the source register for the fetch forms (xchg included).
func finishAtomic(op uint32, regs *[16]uint64, src uint8, old uint64) {
	switch {
	case op == atomicCmpXchg:
		regs[0] = old
	case op&atomicFetch != 0:
		regs[src&15] = old
	}
}

// Division and modulo as RFC 9669 defines them: division by zero gives 0,
// modulo by zero leaves dst unchanged, and the 32-bit forms zero the upper
// half. Go already defines MinInt/-1 (= MinInt, remainder 0) without a
// trap, as the ISA wants.

func div64(d, s uint64) uint64 {
	if s == 0 {
		return 0
	}
	return d / s
}

func sdiv64(d, s uint64) uint64 {
	if s == 0 {
		return 0
	}
	return uint64(int64(d) / int64(s))
}

func mod64(d, s uint64) uint64 {
	if s == 0 {
		return d
	}
	return d % s
}

func smod64(d, s uint64) uint64 {
	if s == 0 {
		return d
	}
	return uint64(int64(d) % int64(s))
}

func div32(d, s uint64) uint64 {
	if uint32(s) == 0 {
		return 0
	}
	return uint64(uint32(d) / uint32(s))
}

func sdiv32(d, s uint64) uint64 {
	if uint32(s) == 0 {
		return 0
	}
	return uint64(uint32(int32(d) / int32(s)))
}

func mod32(d, s uint64) uint64 {
	if uint32(s) == 0 {
		return uint64(uint32(d))
	}
	return uint64(uint32(d) % uint32(s))
}

func smod32(d, s uint64) uint64 {
	if uint32(s) == 0 {
		return uint64(uint32(d))
	}
	return uint64(uint32(int32(d) % int32(s)))
}
