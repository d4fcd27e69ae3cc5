package vm

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/wagglebpf/waggle/verifier"
	"github.com/wagglebpf/waggle/vm/internal/jitabi"
)

// This file is the Go half of the JIT: it runs native code that a back end
// in package vm/jit produced, handling each exit (helper calls, faults,
// the budget) with the same code and the same errors as the interpreter.
// The contract with the back ends is package jitabi; vm never imports
// vm/jit, which registers itself in jitabi.Compile.

// Engine selects how a program runs.
type Engine uint8

const (
	// Interpreter runs the decoded program in the interpreter, the
	// reference implementation. It is the zero value.
	Interpreter Engine = iota
	// JIT runs the program as native code when a JIT for this
	// architecture is linked in (import package vm/jit; amd64 and arm64
	// on Linux), compiling it on first use and keeping the code with the
	// program, and in the interpreter otherwise. Results, map and memory
	// effects and errors are the interpreter's.
	JIT
)

func (e Engine) String() string {
	switch e {
	case Interpreter:
		return "interp"
	case JIT:
		return "jit"
	}
	return fmt.Sprintf("Engine(%d)", uint8(e))
}

// JITAvailable reports whether Engine JIT runs native code in this
// process: a back end for this architecture and operating system is linked
// in (package vm/jit is imported).
func JITAvailable() bool { return jitabi.Compile != nil }

// The address space that native code assumes.
var (
	_ [0]struct{} = [MemAddr - jitabi.MemAddr]struct{}{}
	_ [0]struct{} = [jitabi.MemAddr - MemAddr]struct{}{}
	_ [0]struct{} = [StackAddr - jitabi.StackAddr]struct{}{}
	_ [0]struct{} = [jitabi.StackAddr - StackAddr]struct{}{}
	_ [0]struct{} = [fixedRegions - 2]struct{}{}
)

// nativeSlot holds a program's compiled code. Code is compiled once, on
// first use, and shared by every run; it is released with the program (a
// finalizer on the code's owner in vm/jit unmaps it).
//
// It also caches Program.stackUse (plus one; 0: not computed yet), a fact
// about the program that both engines use on every run.
type nativeSlot struct {
	mu       sync.Mutex
	code     atomic.Pointer[nativeCode]
	stackUse atomic.Int32
}

type nativeCode struct {
	code   jitabi.Code
	exits  []jitabi.Exit
	coarse bool // the code accounts the budget coarsely (jitabi.CoarseCode)
	// guard is set when the code skips the checks of accesses that the
	// verifier proved (jitabi.ProofCode): what must hold of a run for
	// those proofs to apply.
	guard  *memGuard
	frames jitabi.FrameCode
	// lookahead is set when the code checks the budget ahead by bias
	// (jitabi.LookaheadCode).
	lookahead bool
	bias      int64
	// stackUse is what a run of the code can write to the stack in one
	// frame (see Program.stackUse): when the code relies on the
	// verifier's proofs, and so runs only where they hold, the stores
	// proved to be to the context or the packet do not count.
	stackUse int
	// start is where runs start; enter and base, when set, enter the
	// code directly (jitabi.EntryCode).
	start uint32
	enter func(st *jitabi.State, code, resume uintptr)
	base  uintptr
	err   error
}

func newNativeCode(p *Program, code jitabi.Code) *nativeCode {
	c := &nativeCode{code: code, exits: code.Exits(), start: code.Start()}
	if ec, ok := code.(jitabi.EntryCode); ok {
		c.enter, c.base = ec.Entry()
	}
	if cc, ok := code.(jitabi.CoarseCode); ok {
		c.coarse = cc.CoarseBudget()
	}
	c.frames, _ = code.(jitabi.FrameCode)
	c.stackUse = p.stackUse()
	if pc, ok := code.(jitabi.ProofCode); ok && pc.UsesProofs() && c.frames != nil {
		var proven []uint8
		proven, c.guard = p.proofs()
		skip := make([]bool, len(proven))
		for pc, k := range proven {
			skip[pc] = k == jitabi.ProvenMem
		}
		c.stackUse = p.stackUseBut(skip)
	}
	if lc, ok := code.(jitabi.LookaheadCode); ok && c.frames != nil {
		c.bias, c.lookahead = lc.Lookahead()
		if !c.lookahead {
			c.bias = 0
		}
	}
	return c
}

// native returns p's native code, compiling it with default options if
// needed; nil when no JIT is linked in.
func (p *Program) native() (*nativeCode, error) {
	if c := p.jit.code.Load(); c != nil {
		return c, c.err
	}
	if jitabi.Compile == nil {
		return nil, nil
	}
	p.jit.mu.Lock()
	defer p.jit.mu.Unlock()
	if c := p.jit.code.Load(); c != nil {
		return c, c.err
	}
	code, err := jitabi.Compile(p.abi(), jitabi.Options{})
	var c *nativeCode
	if err == nil {
		c = newNativeCode(p, code)
	} else {
		c = &nativeCode{err: fmt.Errorf("vm: jit: %w", err)}
	}
	p.jit.code.Store(c)
	return c, c.err
}

// setNative makes code p's native code (nil: none, compile on next use).
// It is what jitabi.Bind does, for package vm/jit. Code that is replaced
// is not released here: a run may still be using it, and its owner in
// vm/jit unmaps it once it is unreachable.
func setNative(p *Program, code jitabi.Code) {
	p.jit.mu.Lock()
	defer p.jit.mu.Unlock()
	if code == nil {
		p.jit.code.Store(nil)
		return
	}
	p.jit.code.Store(newNativeCode(p, code))
}

func init() {
	jitabi.Bind = func(p any, code jitabi.Code) { setNative(p.(*Program), code) }
	jitabi.Source = func(p any) *jitabi.Program { return p.(*Program).abi() }
}

// abi returns the program in the form the back ends compile.
func (p *Program) abi() *jitabi.Program {
	n := len(p.code)
	ap := &jitabi.Program{Insts: make([]jitabi.Inst, n), Runs: p.runs, Second: make([]bool, n)}
	ap.Proven, _ = p.proofs()
	for pc, in := range p.code {
		ap.Insts[pc] = jitabi.Inst{Op: in.op, Dst: in.dst, Src: in.src, Size: in.size, NT: in.nt, Imm: in.imm, Off: in.off, NF: in.nf}
		if in.op == opLddw && pc+1 < n {
			ap.Second[pc+1] = true
		}
	}
	if idx := p.lookupIndex(); idx >= 0 {
		for _, mp := range p.maps {
			a, ok := mp.(*arrayMap)
			if !ok || a.spec.Type != Array || a.ncpu != 1 {
				continue
			}
			ap.ArrayMaps = append(ap.ArrayMaps, jitabi.ArrayMap{Handle: a.handle(), Base: a.valueAddr(), Stride: uint64(a.stride), MaxEntries: a.spec.MaxEntries})
		}
		ap.Lookup = int64(idx)
	}
	return ap
}

// memGuard is what must hold of a run, and keep holding after every
// helper call, for the verifier's proofs of a program's context and
// packet accesses to hold in the VM: the context pointer is mem's address
// and mem holds the ctxBytes the verifier allows; every packet pointer
// that the program loads from the context (fields) lies in mem, past
// those bytes, so that no packet access can reach beyond mem nor change a
// packet pointer. A run over a context built by NewXDPContext or
// NewSkBuffContext satisfies it; a run over other bytes may not, and then
// runs in the interpreter, with its checks, from the point it stopped
// holding.
type memGuard struct {
	ctxBytes int
	fields   []verifier.ContextField
}

// holds reports whether the guard holds for a run with context pointer
// r1 over mem.
func (g *memGuard) holds(mem []byte, r1 uint64) bool {
	if len(mem) < g.ctxBytes || (g.ctxBytes > 0 && r1 != MemAddr) {
		return false
	}
	return g.fieldsHold(mem)
}

// fieldsHold is the part of holds that a helper can change.
func (g *memGuard) fieldsHold(mem []byte) bool {
	lo, hi := uint64(MemAddr)+uint64(g.ctxBytes), uint64(MemAddr)+uint64(len(mem))
	for _, f := range g.fields {
		if f.Offset < 0 || f.Offset+f.Size > len(mem) {
			return false
		}
		var v uint64
		switch f.Size {
		case 4:
			v = uint64(binary.LittleEndian.Uint32(mem[f.Offset:]))
		case 8:
			v = binary.LittleEndian.Uint64(mem[f.Offset:])
		default:
			return false
		}
		if v < lo || v > hi {
			return false
		}
	}
	return true
}

// proofs returns the verifier's facts about p's loads and stores in the
// form of jitabi.Program.Proven, and the guard under which those marked
// ProvenMem hold (nil when there are none); nil, nil for a program that
// was not verified, or whose report does not describe its instructions.
func (p *Program) proofs() ([]uint8, *memGuard) {
	rep := p.verified
	if rep == nil || len(rep.Access) != len(p.code)-1 {
		return nil, nil
	}
	proven := make([]uint8, len(p.code))
	mem := false
	for pc, a := range rep.Access {
		if a == 0 {
			continue
		}
		switch op := p.code[pc].op; {
		case op == opAtomic:
			continue // not made without checks
		case op >= opLdxB && op <= opStxDW:
		default:
			return nil, nil // the report is not about this code
		}
		switch {
		case a&^(verifier.AccessContext|verifier.AccessPacket) == 0:
			proven[pc] = jitabi.ProvenMem
			mem = true
		case a == verifier.AccessStack:
			proven[pc] = jitabi.ProvenStack
		}
	}
	var g *memGuard
	if mem {
		g = &memGuard{ctxBytes: rep.ContextBytes, fields: rep.PacketFields}
	}
	return proven, g
}

// lookupIndex is the index in p's helper table of map_lookup_elem (helper
// 1), or -1 when p does not call it.
func (p *Program) lookupIndex() int {
	for i, id := range p.helperIDs {
		if id == 1 {
			return i
		}
	}
	return -1
}

// mapLookupPC identifies helperMapLookup among HelperFuncs.
var mapLookupPC = reflect.ValueOf(HelperFunc(helperMapLookup)).Pointer()

// inlineLookup reports whether native code may inline p's array map
// lookups in this run: its helper 1 is this package's map_lookup_elem
// (an embedder may replace or wrap it, or leave it out).
func (m *machine) inlineLookup(p *Program) uint64 {
	if len(p.maps) == 0 {
		return 0
	}
	idx := p.lookupIndex()
	if idx < 0 || idx >= len(m.helpers) || m.helpers[idx] == nil {
		return 0
	}
	if reflect.ValueOf(m.helpers[idx]).Pointer() != mapLookupPC {
		return 0
	}
	return 1
}

// nativeState is the part of a machine that native code uses.
type nativeState struct {
	st      jitabi.State
	regions []jitabi.Region
	stack0  jitabi.Region // the stack's entry at depth 0, which never changes
	// ready is set while the region table and the state block are set
	// up for the run's memory and program, so that another run of
	// RunOptions.Repeat may start without doing it again; handedOver when
	// the interpreter took the last run over (deopt) or ran it.
	ready, handedOver bool
	synced            int // m.regions[fixedRegions:synced] are in regions already
}

// budgetSlice bounds how long native code runs without coming back to Go,
// so that a long run lets the scheduler and the garbage collector in.
const budgetSlice = 1 << 22

// executeNative is execute for Engine JIT; ok is false when there is no
// native code for p (no JIT linked in), and the caller interprets.
func (p *Program) executeNative(mem []byte, opts *RunOptions) (res Result, err error, ok bool) {
	c, err := p.native()
	if c == nil && err == nil {
		return Result{}, nil, false
	}
	if err != nil {
		return Result{}, err, true
	}
	m := machinePool.Get().(*machine)
	defer m.release()
	m.reset(p, mem, opts)
	budget := clampSteps(opts.MaxSteps)
	var r1 uint64
	if len(mem) > 0 {
		r1 = MemAddr
	}
	var (
		r0   uint64
		left int64
	)
	for i := range max(opts.Repeat, 1) {
		switch {
		case i == 0:
			r0, left, err = m.runNative(p, c, mem, budget, r1, uint64(len(mem)))
		case m.prog == p && len(m.regions) == fixedRegions && m.native != nil && m.native.ready:
			// The last run was p's alone: only the stack and the
			// registers need to be made fresh.
			m.clearStack()
			m.maxDepth, m.frameUse = 0, 0
			m.env.stopped = false
			r0, left, err = m.rerunNative(p, c, mem, budget, r1, uint64(len(mem)))
		default:
			m.rewind(p)
			r0, left, err = m.runNative(p, c, mem, budget, r1, uint64(len(mem)))
		}
		for err == nil && m.tail != nil {
			next := m.tail
			m.tail = nil
			m.env.stopped = false
			m.bind(next)
			nc, cerr := next.native()
			switch {
			case cerr != nil:
				err = cerr
			case nc == nil:
				r0, left, err = m.run(next, mem, left, 0, 0, [5]uint64{m.tailCtx, uint64(len(mem))})
			default:
				r0, left, err = m.runNative(next, nc, mem, left, m.tailCtx, uint64(len(mem)))
			}
		}
		if err != nil {
			break
		}
	}
	return Result{R0: r0, Steps: uint64(budget - left)}, err, true
}

// syncRegions brings the native region table up to date with m.regions:
// the stack (whose extent depends on the call depth) and mem always, the
// rest as they are added.
func (m *machine) syncRegions(ns *nativeState) {
	if ns.synced > len(m.regions) || len(ns.regions) > len(m.regions) {
		ns.regions, ns.synced = ns.regions[:0], 0
	}
	if cap(ns.regions) < len(m.regions) {
		ns.regions = append(make([]jitabi.Region, 0, 2*len(m.regions)), ns.regions...)
	}
	ns.regions = ns.regions[:len(m.regions)]
	for i := range m.regions {
		if i >= fixedRegions && i < ns.synced {
			continue
		}
		nativeRegion(&ns.regions[i], &m.regions[i])
	}
	ns.synced = len(m.regions)
	ns.st.Regions = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(ns.regions))))
	ns.st.NRegions = uint64(len(ns.regions))
}

// nativeRegion fills a region table entry.
func nativeRegion(nr *jitabi.Region, r *region) {
	n := uint64(len(r.data))
	nr.Base = r.base
	nr.Host = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(r.data))))
	nr.Lim1, nr.Lim2, nr.Lim4, nr.Lim8 = 0, 0, 0, 0
	if n >= 8 {
		nr.Lim1, nr.Lim2, nr.Lim4, nr.Lim8 = n, n-1, n-3, n-7
	} else {
		if n >= 1 {
			nr.Lim1 = n
		}
		if n >= 2 {
			nr.Lim2 = n - 1
		}
		if n >= 4 {
			nr.Lim4 = n - 3
		}
	}
	nr.Writable = 0
	if r.writable {
		nr.Writable = 1
	}
}

// runNative runs p's native code from its first instruction at depth 0
// with r1 and r2 set (r3-r5 are 0); it is m.run for native code, with
// the same results. (The registers are not an array argument: copying one
// that its caller has just written stalls on reading it in pieces of
// another size.)
func (m *machine) runNative(p *Program, c *nativeCode, mem []byte, budget int64, r1, r2 uint64) (r0 uint64, left int64, err error) {
	if m.native != nil {
		m.native.ready = false
	}
	if c.guard != nil && !c.guard.holds(mem, r1) || c.lookahead && budget-int64(p.runs[0]) < c.bias {
		return m.interpret(p, mem, budget, r1, r2)
	}
	ns := m.native
	if ns == nil {
		ns = &nativeState{regions: make([]jitabi.Region, fixedRegions, 8)}
		m.setStack(0)
		nativeRegion(&ns.stack0, &m.regions[0])
		ns.st.StackDelta = uint64(uintptr(unsafe.Pointer(&m.stack[0]))) - StackAddr
		m.native = ns
	}
	// The fixed regions always (native code moves the stack's on BPF
	// calls; mem is the caller's), the rest as they are added.
	ns.regions = ns.regions[:fixedRegions]
	m.setStack(0) // a tail call may come from a deeper frame
	ns.regions[0] = ns.stack0
	nativeRegion(&ns.regions[1], &m.regions[1])
	ns.synced = fixedRegions
	if len(m.regions) > fixedRegions {
		m.syncRegions(ns)
	}
	st := &ns.st
	st.Regions = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(ns.regions))))
	st.NRegions = uint64(len(ns.regions))
	st.InlineLookup = 0
	if len(p.maps) > 0 {
		st.InlineLookup = m.inlineLookup(p)
	}
	ns.ready = true
	return m.startNative(p, c, mem, budget, r1, r2)
}

// rerunNative is runNative for the next run of RunOptions.Repeat, when
// the run before was p's alone (no tail call, no region added) and so
// left the machine's regions, and the native region table, as runNative
// set them up.
func (m *machine) rerunNative(p *Program, c *nativeCode, mem []byte, budget int64, r1, r2 uint64) (r0 uint64, left int64, err error) {
	ns := m.native
	if ns.handedOver {
		// The interpreter finished the last run: a helper may have moved
		// the packet, and the stack region's entry may have been left
		// deeper.
		if c.guard != nil && !c.guard.holds(mem, r1) {
			return m.interpret(p, mem, budget, r1, r2)
		}
		m.setStack(0)
		ns.regions[0] = ns.stack0
	}
	if c.lookahead && budget-int64(p.runs[0]) < c.bias {
		return m.interpret(p, mem, budget, r1, r2)
	}
	return m.startNative(p, c, mem, budget, r1, r2)
}

// interpret runs p in the interpreter where its native code cannot run.
func (m *machine) interpret(p *Program, mem []byte, budget int64, r1, r2 uint64) (uint64, int64, error) {
	if m.native != nil {
		m.native.handedOver = true
	}
	return m.run(p, mem, budget, 0, 0, [5]uint64{r1, r2})
}

// startNative runs p's native code from its first instruction at depth
// 0 with r1 and r2 set, the regions being set up.
func (m *machine) startNative(p *Program, c *nativeCode, mem []byte, budget int64, r1, r2 uint64) (r0 uint64, left int64, err error) {
	m.frameUse = max(m.frameUse, c.stackUse)
	m.native.handedOver = false
	st := &m.native.st
	st.Regs[0], st.Regs[6], st.Regs[7], st.Regs[8], st.Regs[9], st.Regs[10] = 0, 0, 0, 0, 0, stackTop
	st.Regs[1], st.Regs[2], st.Regs[3], st.Regs[4], st.Regs[5] = r1, r2, 0, 0, 0
	st.Depth, st.BaseDepth, st.MaxDepth = 0, 0, 0
	r0, left, err = m.enterNative(p, c, mem, budget)
	// Frames 0 to MaxDepth may have been written (callbacks that helpers
	// ran in the interpreter record their own depth).
	m.maxDepth = max(m.maxDepth, int(st.MaxDepth))
	return r0, left, err
}

// enterNative is runNative's loop: it enters native code and handles its
// exits until the run ends.
func (m *machine) enterNative(p *Program, c *nativeCode, mem []byte, budget int64) (r0 uint64, left int64, err error) {
	ns := m.native
	st := &ns.st
	// The interpreter charges the first run before the first instruction;
	// coarse code charges it itself, at its start.
	left = budget
	if !c.coarse {
		left -= int64(p.runs[0])
		if left < 0 {
			return 0, left, budgetError(0, budget)
		}
	}
	// left = reserve + st.Budget + bias - what the code owes, at all
	// times; bias is 0 unless the code checks ahead.
	bias := c.bias
	sliceMax := max(budgetSlice, 2*bias)
	slice := min(left, sliceMax)
	reserve := left - slice
	st.Budget = slice - bias
	exits := c.exits
	resume := c.start
	for {
		if c.enter != nil {
			c.enter(st, c.base, c.base+uintptr(resume))
		} else {
			c.code.Enter(st, resume)
		}
		e := &exits[st.ExitID]
		resume = e.Resume
		left = reserve + st.Budget + bias - int64(e.Owed)
		switch e.Kind {
		case jitabi.ExitDone:
			return st.Regs[0], left, nil
		case jitabi.ExitBudget:
			pc := int(e.PC)
			if c.lookahead {
				// What is left no longer covers the bias: either the
				// slice ran out, or the run's budget is close to its end
				// and the interpreter, which checks every charge,
				// finishes the run from pc.
				if left < bias {
					return m.deopt(p, c, mem, budget, left, pc)
				}
			} else {
				if pc < 0 {
					pc = int(st.Aux)
				}
				if left < 0 {
					return 0, left, budgetError(pc, budget)
				}
			}
			// A slice ran out: a chance for the scheduler and the
			// garbage collector (Go only preempts Go code).
			runtime.Gosched()
		case jitabi.ExitHelper, jitabi.ExitHelperX:
			pc := int(e.PC)
			var h HelperFunc
			if e.Kind == jitabi.ExitHelper {
				h = m.helpers[e.Helper]
				if h == nil {
					return 0, left, unknownHelper(pc, int64(p.helperIDs[e.Helper]))
				}
			} else {
				id := st.Regs[p.code[pc].dst&15]
				h = m.opts.Helpers[int32(id)]
				if h == nil || uint64(int64(int32(id))) != id {
					return 0, left, unknownHelper(pc, int64(id))
				}
			}
			depth := int(st.Depth)
			m.setStack(depth)
			var regs [16]uint64
			copy(regs[:11], st.Regs[:])
			r, l, e := m.call(h, &regs, pc, depth, left)
			left = l
			if e != nil {
				return 0, left, e
			}
			st.Regs[0] = r
			if m.env.stopped {
				return r, c.refund(left, p, pc), nil
			}
			if c.guard != nil && !c.guard.fieldsHold(mem) || left < bias {
				return m.deopt(p, c, mem, budget, left, pc+1)
			}
			// The helper may have added regions, or run a callback that
			// moved the stack region.
			m.setStack(depth)
			m.syncRegions(ns)
		case jitabi.ExitFault, jitabi.ExitMisaligned:
			pc := int(e.PC)
			m.setStack(int(st.Depth))
			if e.Kind == jitabi.ExitMisaligned {
				return 0, left, &RunError{PC: pc, Addr: st.Aux, Size: int(e.Size), Err: ErrMisaligned, msg: fmt.Sprintf("misaligned %d-byte atomic at %#x", e.Size, st.Aux)}
			}
			return 0, left, m.memFault(pc, st.Aux, int(e.Size), [...]string{"load", "store", "atomic"}[e.Access])
		case jitabi.ExitCallDepth:
			return 0, left, &RunError{PC: int(e.PC), Err: ErrCallDepth, msg: fmt.Sprintf("call depth exceeded (at most %d frames)", MaxCallDepth)}
		case jitabi.ExitLdPacket:
			pc := int(e.PC)
			pkt := mem
			if m.opts.Packet != nil {
				pkt = m.opts.Packet
			}
			var regs [16]uint64
			copy(regs[:11], st.Regs[:])
			v, ok := ldPacket(&p.code[pc], &regs, pkt)
			if !ok {
				return 0, c.refund(left, p, pc), nil
			}
			st.Regs[0] = v
			if left < bias {
				return m.deopt(p, c, mem, budget, left, pc+1)
			}
		case jitabi.ExitFellOff:
			return 0, left, &RunError{PC: int(e.PC), Err: ErrFellOff, msg: "fell off the end of the program"}
		default:
			return 0, left, &RunError{PC: int(e.PC), msg: fmt.Sprintf("internal error: bad native exit kind %d", e.Kind)}
		}
		// Top the slice up for the next stretch.
		slice = min(left, sliceMax)
		reserve = left - slice
		st.Budget = slice - bias
	}
}

// deopt hands the run over to the interpreter at pc, which must be where
// native code stopped, mid-way through a straight-line run that is already
// charged: the registers, call frames and budget carry over. Only code
// that implements jitabi.ProofCode can do this.
func (m *machine) deopt(p *Program, c *nativeCode, mem []byte, budget, left int64, pc int) (uint64, int64, error) {
	st := &m.native.st
	m.native.handedOver = true
	depth := int(st.Depth)
	for d := range depth {
		f := &st.Frames[d]
		ret, ok := c.frames.ReturnPC(f.Ret)
		if !ok {
			return 0, left, &RunError{PC: pc, msg: fmt.Sprintf("internal error: native frame %d returns to an unknown address", d)}
		}
		m.frames[d] = frame{ret: ret, retRun: uint32(f.RetRun), saved: f.Saved}
	}
	m.maxDepth = max(m.maxDepth, int(st.MaxDepth))
	for i, v := range st.Regs {
		m.entry[i] = v
	}
	m.resumePC, m.resumeDepth, m.resumeLeft = pc, depth, left
	return m.run(p, mem, budget, -1, int(st.BaseDepth), [5]uint64{})
}

// refund is the budget left after a run that stops at pc (a helper's
// Stop, a packet load past the end), which the interpreter gives back the
// rest of pc's straight-line run. Coarse code's charges are not per run:
// it keeps them, so that Steps stays an upper bound.
func (c *nativeCode) refund(left int64, p *Program, pc int) int64 {
	if c.coarse {
		return left
	}
	return left + int64(p.runs[pc]-1)
}

func budgetError(pc int, budget int64) error {
	return &RunError{PC: pc, Err: ErrBudget, msg: fmt.Sprintf("instruction budget of %d exceeded", budget)}
}
