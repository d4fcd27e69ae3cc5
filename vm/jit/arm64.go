package jit

import (
	"fmt"

	"github.com/wagglebpf/waggle/vm/internal/jitabi"
)

// The AArch64 back end. It is plain Go that builds everywhere (code for
// arm64 can be generated and listed on any host); enter_arm64.s makes it
// runnable on arm64.
//
// # Registers
//
//	x0-x10   BPF r0-r10 (r10 holds its virtual address, as in Go)
//	x11-x17  scratch: x16 is the address of a memory access (and State.Aux
//	         at an exit), x17 the exit id, x14/x15 the offset into and
//	         host base of the region that holds an access
//	x19      the state block (jitabi.State)
//	x20      the budget (State.Budget while native code runs)
//	x22      the region table (State.Regions)
//	x23      where to return to the trampoline
//	x24      the host address that r10 points to
//	x25      mem's host address minus its virtual one (vm.MemAddr)
//	x30      link register for the out-of-line region lookups
//
// x18 (the platform register), x28 (Go's g), x29 (Go's frame pointer) and
// sp are never touched, so that a signal that lands in native code finds
// what Go's signal handler expects. No native stack is used at all.
//
// # Memory accesses
//
// An access through r10 at a constant offset inside the current frame
// ([-512, -size]) cannot fail: it is one load or store at x24+off. Any
// other access computes its virtual address in x16 and checks it inline
// against one region of the table, the stack (region 0) when the base
// register is r10 and mem (region 1) otherwise; when that fails, an
// out-of-line stub calls a shared routine (one per size, for loads and
// for stores) that scans the whole table as the interpreter does, and
// leaves with ExitFault when no region holds the access.
//
// # Budget
//
// Charges are made where control transfers, at the jump, call or exit
// itself, with the amount for the path taken (Inst.NT or Inst.NF, or the
// frame's RetRun), so that a budget exit carries the interpreter's pc in
// Exit.PC. A charge is a subs and a b.mi to an out-of-line exit stub.
//
// # Atomics
//
// Read-modify-write atomics are load-acquire/store-release exclusive
// loops (ldaxr/stlxr), which every ARMv8.0 core has; LSE atomics (ARMv8.1)
// would be shorter but are missing on the Cortex-A53 and A72 of common
// boards (Raspberry Pi 3 and 4), and one code path is easier to test. An
// access whose host address is not naturally aligned (a mem slice that the
// embedder did not align) falls back to plain loads and stores, as the
// interpreter does, since exclusive and acquire/release instructions
// fault on unaligned addresses.

var _ = register("arm64", &backend{compile: compileARM64, disasm: disasmFor("arm64")})

// Register assignment (see above).
const (
	a64St      = x19
	a64Budget  = x20
	a64Regions = x22
	a64Return  = x23
	a64Stack   = x24
	a64MemHost = x25
	a64Addr    = x16
	a64ExitID  = x17
	a64Off     = x14
	a64Host    = x15
	a64Tmp     = x12 // immediates
	a64Tmp2    = x13
	a64Key     = x11 // the blinding key
)

type a64Compiler struct {
	a     a64Asm
	p     *jitabi.Program
	far   bool
	blind bool
	key   uint64

	exits []jitabi.Exit
	pcs   []int32 // instruction index where each BPF pc's code starts
	notes map[int]string

	exitCommon int       // the shared exit sequence
	scan       [2][4]int // region lookups, by [write][log2 size]

	jumps  []a64Fixup // branches to BPF pcs
	stubs  []a64Stub  // out-of-line code, emitted after the program
	tooFar bool       // a stub is out of reach of its branch

	usesProofs bool        // some access relies on the verifier's proofs
	returns    map[int]int // instruction index where a local call returns, by the pc there
}

// a64Fixup is a branch at instruction at to BPF pc.
type a64Fixup struct{ at, pc int }

// a64Stub is a conditional branch at instruction at to out-of-line code
// that emit writes.
type a64Stub struct {
	at   int
	emit func()
}

func compileARM64(p *jitabi.Program, opts jitabi.Options) (*Assembly, error) {
	n := len(p.Insts)
	far := false
	for {
		c := &a64Compiler{p: p, far: far, blind: opts.Blind, notes: map[int]string{}}
		if c.blind {
			c.key = uint64(blindKey())<<32 | uint64(blindKey())
		}
		if err := c.compile(); err != nil {
			return nil, err
		}
		if !c.link() {
			if far {
				return nil, fmt.Errorf("jit: arm64: program of %d instructions is too large for its branches", n)
			}
			far = true
			continue
		}
		pcs := make([]int32, n)
		for pc := range pcs {
			pcs[pc] = -1
			if c.pcs[pc] >= 0 {
				pcs[pc] = c.pcs[pc] * 4
			}
		}
		notes := make(map[int]string, len(c.notes))
		for at, s := range c.notes {
			notes[at*4] = s
		}
		var returns map[uint32]int32
		if c.usesProofs {
			returns = map[uint32]int32{}
			for pc, at := range c.returns {
				returns[uint32(at*4)] = int32(pc)
			}
		}
		return &Assembly{
			Arch:       "arm64",
			Text:       c.a.bytes(),
			Start:      uint32(c.pcs[0] * 4),
			Exits:      c.exits,
			PCs:        pcs,
			Notes:      notes,
			UsesProofs: c.usesProofs,
			Returns:    returns,
		}, nil
	}
}

func (c *a64Compiler) note(s string) { c.notes[c.a.pos()] = s }

// exit adds an exit table entry and returns its id.
func (c *a64Compiler) exit(e jitabi.Exit) int {
	c.exits = append(c.exits, e)
	return len(c.exits) - 1
}

// resumeHere makes exit id resume at the next instruction.
func (c *a64Compiler) resumeHere(id int) { c.exits[id].Resume = uint32(c.a.pos() * 4) }

// leave emits an unconditional exit with id.
func (c *a64Compiler) leave(id int) {
	c.a.movConst(w32, a64ExitID, uint64(id))
	c.a.b(c.exitCommon - c.a.pos())
}

// leaveIf leaves with exit id when cond holds: a b.cond to an
// out-of-line stub, or, for programs too large for that, the exit inline
// behind a branch on the opposite condition.
func (c *a64Compiler) leaveIf(cond a64Cond, id int) {
	c.outOfLine(cond, func() { c.leave(id) })
}

// outOfLine emits a branch on cond to code that emit writes after the
// program (or inline, skipped, in far mode). The out-of-line code must
// not fall through.
func (c *a64Compiler) outOfLine(cond a64Cond, emit func()) {
	if c.far {
		at := c.a.pos()
		c.a.bcond(cond.invert(), 0)
		emit()
		c.a.patch(at, c.a.pos())
		return
	}
	c.stubs = append(c.stubs, a64Stub{at: c.a.pos(), emit: emit})
	c.a.bcond(cond, 0)
}

// charge subtracts n from the budget and leaves with ExitBudget at pc
// when it goes negative, resuming just after.
func (c *a64Compiler) charge(n uint32, pc int) {
	if !c.a.subs12(a64Budget, uint64(n)) {
		c.a.movConst(x64, a64Tmp, uint64(n))
		c.a.subs(x64, a64Budget, a64Budget, a64Tmp)
	}
	id := c.exit(jitabi.Exit{Kind: jitabi.ExitBudget, PC: int32(pc)})
	c.leaveIf(a64MI, id)
	c.resumeHere(id)
}

// subs12 emits subs d, d, #v when v fits an immediate.
func (a *a64Asm) subs12(d a64Reg, v uint64) bool {
	imm, sh, ok := a64Imm12(v)
	if ok {
		a.addSubImm(a64OpSUBSi, x64, d, d, imm, sh)
	}
	return ok
}

// imm loads a constant from the bytecode into d, XORed with the key and
// recovered at run time when blinding.
func (c *a64Compiler) imm(sf a64Sf, d a64Reg, v uint64) {
	if !c.blind {
		c.a.movConst(sf, d, v)
		return
	}
	c.a.movConst(sf, d, v^c.key)
	c.a.movConst(sf, a64Key, c.key)
	c.a.eor(sf, d, d, a64Key)
}

func (c *a64Compiler) compile() error {
	a := &c.a
	p := c.p
	n := len(p.Insts)
	c.pcs = make([]int32, n)

	// Entry: x0 = state, x1 = where to resume, x30 = the trampoline.
	c.note("entry")
	a.mov(x64, a64St, x0)
	a.mov(x64, a64Return, x30)
	a.mov(x64, a64ExitID, x1)
	a.ldstImm(a64LDRX, a64Budget, a64St, jitabi.OffBudget)
	a.ldstImm(a64LDRX, a64Regions, a64St, jitabi.OffRegions)
	a.ldstImm(a64LDRX, a64Stack, a64St, jitabi.OffStackDelta)
	a.ldstImm(a64LDRX, a64MemHost, a64Regions, jitabi.SizeRegion+jitabi.OffRegHost)
	a.movConst(x64, a64Tmp, jitabi.MemAddr)
	a.sub(x64, a64MemHost, a64MemHost, a64Tmp)
	for r := 0; r < 10; r += 2 {
		a.ldp(a64Offset, a64Reg(r), a64Reg(r+1), a64St, jitabi.OffRegs+8*r)
	}
	a.ldstImm(a64LDRX, x10, a64St, jitabi.OffRegs+80)
	a.add(x64, a64Stack, a64Stack, x10)
	a.br(a64ExitID)

	// The shared exit: x17 = exit id, x16 = Aux.
	c.note("exit")
	c.exitCommon = a.pos()
	for r := 0; r < 10; r += 2 {
		a.stp(a64Offset, a64Reg(r), a64Reg(r+1), a64St, jitabi.OffRegs+8*r)
	}
	a.ldstImm(a64STRX, x10, a64St, jitabi.OffRegs+80)
	a.ldstImm(a64STRX, a64Budget, a64St, jitabi.OffBudget)
	a.ldstImm(a64STRX, a64ExitID, a64St, jitabi.OffExitID)
	a.ldstImm(a64STRX, a64Addr, a64St, jitabi.OffAux)
	a.retTo(a64Return)

	c.emitScans()

	for pc := 0; pc < n; pc++ {
		if pc > 0 && p.Second[pc] {
			c.pcs[pc] = -1
			continue
		}
		c.pcs[pc] = int32(a.pos())
		if err := c.inst(pc); err != nil {
			return err
		}
	}

	// Out-of-line stubs, after the program.
	for _, s := range c.stubs {
		target := a.pos()
		s.emit()
		if !a.patch(s.at, target) {
			c.tooFar = true // only for huge programs: recompile far
		}
	}
	return nil
}

// link resolves branches to BPF pcs and reports false when one does not
// reach.
func (c *a64Compiler) link() bool {
	if c.tooFar {
		return false
	}
	for _, f := range c.jumps {
		if !c.a.patch(f.at, int(c.pcs[f.pc])) {
			return false
		}
	}
	return true
}

// retTo returns to the address in n.
func (a *a64Asm) retTo(n a64Reg) { a.emit(a64OpRET | a64Rn(n)) }

// emitScans emits the region lookups: with the virtual address in x16
// and the exit id (of the access's ExitFault) in x17, each returns the
// region's host base in x15 and the offset into it in x14, or leaves
// with that exit. They clobber x11-x13.
func (c *a64Compiler) emitScans() {
	a := &c.a
	lims := [4]int{jitabi.OffRegLim1, jitabi.OffRegLim2, jitabi.OffRegLim4, jitabi.OffRegLim8}
	for w := 0; w < 2; w++ {
		for s := 0; s < 4; s++ {
			c.note(fmt.Sprintf("region lookup, %d-byte %s", 1<<s, [2]string{"load", "store"}[w]))
			c.scan[w][s] = a.pos()
			a.ldstImm(a64LDRX, x12, a64St, jitabi.OffNRegions)
			a.mov(x64, x13, a64Regions)
			loop := a.pos()
			a.cbz(x64, x12, 0)
			fault := loop
			a.ldp(a64Offset, a64Off, a64Host, x13, jitabi.OffRegBase)
			a.ldstImm(a64LDRX, x11, x13, int64(lims[s]))
			a.sub(x64, a64Off, a64Addr, a64Off)
			a.addImm(x64, x13, x13, jitabi.SizeRegion)
			a.subImm(x64, x12, x12, 1)
			a.cmp(x64, a64Off, x11)
			a.bcond(a64HS, loop-a.pos())
			if w == 1 {
				a.ldstImm(a64LDRX, x11, x13, jitabi.OffRegWritable-jitabi.SizeRegion)
				a.cbz(x64, x11, loop-a.pos())
			}
			a.ret()
			a.patch(fault, a.pos())
			a.b(c.exitCommon - a.pos())
		}
	}
}

// a64Operand is where a translated access goes: host base register plus
// either an index register or an immediate offset.
type a64Operand struct {
	base   a64Reg
	index  a64Reg
	off    int64
	useIdx bool
}

// ldst emits a load or store with a translated operand.
func (c *a64Compiler) ldst(m a64Mem, t a64Reg, o a64Operand) {
	if o.useIdx {
		c.a.ldstReg(m, t, o.base, o.index)
		return
	}
	if !c.a.ldstImm(m, t, o.base, o.off) {
		// The stack fast path's offsets are in [-512, -1]: ldur covers
		// [-256, -1], the rest goes through x16.
		c.a.subImm(x64, a64Addr, o.base, 512)
		c.a.ldstImm(m, t, a64Addr, o.off+512)
	}
}

// hostAddr puts the host address of a translated operand in x16.
func (c *a64Compiler) hostAddr(o a64Operand) {
	if o.useIdx {
		c.a.add(x64, a64Addr, o.base, o.index)
		return
	}
	if o.off < 0 {
		c.a.subImm(x64, a64Addr, o.base, uint64(-o.off))
	} else {
		c.a.addImm(x64, a64Addr, o.base, uint64(o.off))
	}
}

// addrOf puts reg + off in x16.
func (c *a64Compiler) addrOf(reg a64Reg, off int64) {
	switch {
	case off == 0:
		c.a.mov(x64, a64Addr, reg)
	case off > 0 && c.a.addImm(x64, a64Addr, reg, uint64(off)):
	case off < 0 && c.a.subImm(x64, a64Addr, reg, uint64(-off)):
	default:
		c.a.movConst(x64, a64Addr, uint64(off))
		c.a.add(x64, a64Addr, reg, a64Addr)
	}
}

// translate emits the translation of the access of size bytes at reg +
// off for the instruction at pc, leaving with an ExitFault of the given
// access kind when no suitable region holds it. write asks for a
// writable region. atomic forces the address into x16 (which the atomics
// need for their alignment checks) even on the stack fast path.
func (c *a64Compiler) translate(pc int, reg a64Reg, off int64, size int, write bool, access uint8, atomic bool) a64Operand {
	a := &c.a
	if reg == x10 && off >= -jitabi.StackSize && off <= int64(-size) && !atomic {
		return a64Operand{base: a64Stack, off: off}
	}
	// The virtual address: reg itself when off is 0 (the slow path
	// copies it to x16, where an exit expects it), else x16.
	addr := reg
	if off != 0 || atomic {
		c.addrOf(reg, off)
		addr = a64Addr
	}
	if atomic && size > 1 {
		id := c.exit(jitabi.Exit{Kind: jitabi.ExitMisaligned, Size: uint8(size), PC: int32(pc)})
		a.tstImm(x64, a64Addr, uint64(size-1))
		c.leaveIf(a64NE, id)
	}
	if reg == x10 && off >= -jitabi.StackSize && off <= int64(-size) {
		return a64Operand{base: a64Stack, off: off}
	}
	guess := 1 // mem
	if reg == x10 {
		guess = 0 // the stack
	}
	lim := [9]int{1: jitabi.OffRegLim1, 2: jitabi.OffRegLim2, 4: jitabi.OffRegLim4, 8: jitabi.OffRegLim8}[size]
	a.ldp(a64Offset, a64Off, a64Host, a64Regions, guess*jitabi.SizeRegion)
	a.ldstImm(a64LDRX, a64Tmp2, a64Regions, int64(guess*jitabi.SizeRegion+lim))
	a.sub(x64, a64Off, addr, a64Off)
	a.cmp(x64, a64Off, a64Tmp2)
	id := c.exit(jitabi.Exit{Kind: jitabi.ExitFault, Access: access, Size: uint8(size), PC: int32(pc)})
	w := 0
	if write {
		w = 1
	}
	c.scanOnMiss(c.scan[w][a64Log2(size)], addr, id)
	return a64Operand{base: a64Host, index: a64Off, useIdx: true}
}

// proven returns the operand of the access at pc through reg plus off
// when the verifier proved where it lies (jitabi.Program.Proven), so that
// it needs no check.
func (c *a64Compiler) proven(pc int, reg a64Reg, off int64) (a64Operand, bool) {
	if c.p.Proven == nil || reg == x10 {
		return a64Operand{}, false // r10: the stack fast path does as well
	}
	idx := reg
	switch c.p.Proven[pc] {
	case jitabi.ProvenMem:
		if off != 0 {
			c.addrOf(reg, off)
			idx = a64Addr
		}
		c.usesProofs = true
		return a64Operand{base: a64MemHost, index: idx, useIdx: true}, true
	case jitabi.ProvenStack:
		// x24 - x10 is the stack's host address minus its virtual one.
		c.addrOf(reg, off)
		c.a.sub(x64, a64Addr, a64Addr, x10)
		c.usesProofs = true
		return a64Operand{base: a64Stack, index: a64Addr, useIdx: true}, true
	}
	return a64Operand{}, false
}

// scanOnMiss emits, for the unsigned-higher-or-same case of the region
// check just compared, an out-of-line call of the region-table scan stub
// for the address in addr: the stub comes back to the access with x14 and
// x15 set, or leaves with exit id.
func (c *a64Compiler) scanOnMiss(scan int, addr a64Reg, id int) {
	a := &c.a
	resume, back := -1, -1
	c.outOfLine(a64HS, func() {
		if addr != a64Addr {
			a.mov(x64, a64Addr, addr)
		}
		a.movConst(w32, a64ExitID, uint64(id))
		a.bl(scan - a.pos())
		back = a.pos()
		a.b(0)
		if resume >= 0 {
			a.patch(back, resume)
		}
	})
	resume = a.pos()
	if c.far {
		a.patch(back, resume)
	}
}

func a64Log2(size int) int {
	switch size {
	case 1:
		return 0
	case 2:
		return 1
	case 4:
		return 2
	}
	return 3
}

var (
	a64Loads  = [9]a64Mem{1: a64LDRB, 2: a64LDRH, 4: a64LDRW, 8: a64LDRX}
	a64Stores = [9]a64Mem{1: a64STRB, 2: a64STRH, 4: a64STRW, 8: a64STRX}
)

// a64JmpConds maps the conditional jumps (imm form; reg is +1) to their
// condition after a compare (or, for jset, a tst).
var a64JmpConds = map[uint8]a64Cond{
	jitabi.OpJeqImm: a64EQ, jitabi.OpJgtImm: a64HI, jitabi.OpJgeImm: a64HS,
	jitabi.OpJsetImm: a64NE, jitabi.OpJneImm: a64NE, jitabi.OpJsgtImm: a64GT,
	jitabi.OpJsgeImm: a64GE, jitabi.OpJltImm: a64LO, jitabi.OpJleImm: a64LS,
	jitabi.OpJsltImm: a64LT, jitabi.OpJsleImm: a64LE,
	jitabi.OpJeq32Imm: a64EQ, jitabi.OpJgt32Imm: a64HI, jitabi.OpJge32Imm: a64HS,
	jitabi.OpJset32Imm: a64NE, jitabi.OpJne32Imm: a64NE, jitabi.OpJsgt32Imm: a64GT,
	jitabi.OpJsge32Imm: a64GE, jitabi.OpJlt32Imm: a64LO, jitabi.OpJle32Imm: a64LS,
	jitabi.OpJslt32Imm: a64LT, jitabi.OpJsle32Imm: a64LE,
}

// inst emits the code for the instruction at pc.
func (c *a64Compiler) inst(pc int) error {
	a := &c.a
	in := &c.p.Insts[pc]
	d, s := a64Reg(in.Dst&15), a64Reg(in.Src&15)
	op := in.Op

	switch {
	case op >= jitabi.OpAdd64Imm && op <= jitabi.OpArsh32Reg:
		c.alu(in)
		return nil
	case op >= jitabi.OpJeqImm && op <= jitabi.OpJsle32Reg:
		c.jump(pc, in)
		return nil
	}

	switch op {
	case jitabi.OpLe16:
		a.uxth(d, d)
	case jitabi.OpLe32:
		a.uxtw(d, d)
	case jitabi.OpBswap16:
		a.rev16(w32, d, d)
		a.uxth(d, d)
	case jitabi.OpBswap32:
		a.rev32(w32, d, d)
	case jitabi.OpBswap64:
		a.rev(d, d)

	case jitabi.OpLddw:
		c.imm(x64, d, uint64(in.Imm))

	case jitabi.OpJa:
		c.charge(in.NT, pc)
		c.jumpTo(int(in.Off))

	case jitabi.OpLdxB, jitabi.OpLdxH, jitabi.OpLdxW, jitabi.OpLdxDW, jitabi.OpLdxSB, jitabi.OpLdxSH, jitabi.OpLdxSW:
		size := map[uint8]int{jitabi.OpLdxB: 1, jitabi.OpLdxH: 2, jitabi.OpLdxW: 4, jitabi.OpLdxDW: 8, jitabi.OpLdxSB: 1, jitabi.OpLdxSH: 2, jitabi.OpLdxSW: 4}[op]
		m := a64Loads[size]
		switch op {
		case jitabi.OpLdxSB:
			m = a64LDRSBx
		case jitabi.OpLdxSH:
			m = a64LDRSHx
		case jitabi.OpLdxSW:
			m = a64LDRSW
		}
		o, ok := c.proven(pc, s, in.Imm)
		if !ok {
			o = c.translate(pc, s, in.Imm, size, false, jitabi.AccessLoad, false)
		}
		c.ldst(m, d, o)

	case jitabi.OpStB, jitabi.OpStH, jitabi.OpStW, jitabi.OpStDW, jitabi.OpStxB, jitabi.OpStxH, jitabi.OpStxW, jitabi.OpStxDW:
		size := map[uint8]int{jitabi.OpStB: 1, jitabi.OpStH: 2, jitabi.OpStW: 4, jitabi.OpStDW: 8, jitabi.OpStxB: 1, jitabi.OpStxH: 2, jitabi.OpStxW: 4, jitabi.OpStxDW: 8}[op]
		o, ok := c.proven(pc, d, int64(in.Off))
		if !ok {
			o = c.translate(pc, d, int64(in.Off), size, true, jitabi.AccessStore, false)
		}
		v := s
		if op <= jitabi.OpStDW {
			v = xzr
			if in.Imm != 0 || c.blind {
				v = a64Tmp
				c.imm(x64, v, uint64(in.Imm))
			}
		}
		c.ldst(a64Stores[size], v, o)

	case jitabi.OpAtomic:
		c.atomic(pc, in)

	case jitabi.OpCall:
		id := c.exit(jitabi.Exit{Kind: jitabi.ExitHelper, PC: int32(pc), Helper: int32(in.Imm)})
		if len(c.p.ArrayMaps) > 0 && in.Imm == c.p.Lookup {
			c.inlineLookup(id)
			break
		}
		c.leave(id)
		c.resumeHere(id)
	case jitabi.OpCallX:
		id := c.exit(jitabi.Exit{Kind: jitabi.ExitHelperX, PC: int32(pc)})
		c.leave(id)
		c.resumeHere(id)
	case jitabi.OpLdAbsB, jitabi.OpLdAbsH, jitabi.OpLdAbsW, jitabi.OpLdIndB, jitabi.OpLdIndH, jitabi.OpLdIndW:
		id := c.exit(jitabi.Exit{Kind: jitabi.ExitLdPacket, PC: int32(pc)})
		c.leave(id)
		c.resumeHere(id)

	case jitabi.OpCallLocal:
		c.callLocal(pc, in)
	case jitabi.OpExit:
		c.exitInst(pc)

	case jitabi.OpFallOff:
		c.leave(c.exit(jitabi.Exit{Kind: jitabi.ExitFellOff, PC: int32(pc)}))

	default:
		return fmt.Errorf("jit: arm64: unsupported operation %d at pc %d", op, pc)
	}
	return nil
}

// inlineLookup emits a map_lookup_elem call whose helper exit is id with
// the lookups in the program's array maps inlined (see jitabi.ArrayMap):
// r1 is compared with each array map's handle; on a match, the key at r2
// is read with the checks of a load (the stack region first, then the
// shared region lookup) and r0 becomes the value's address or 0. Anything
// else leaves with the helper exit, a key that no region holds included:
// the region lookup leaves with the exit in x17, here the helper's.
func (c *a64Compiler) inlineLookup(id int) {
	a := &c.a
	maps := c.p.ArrayMaps
	c.note("inline map_lookup_elem")
	var toCall, toDone []int // branches to patch
	a.ldstImm(a64LDRX, a64Tmp, a64St, jitabi.OffInline)
	toCall = append(toCall, a.pos())
	a.cbz(x64, a64Tmp, 0)
	hits := make([]int, len(maps))
	for i, m := range maps {
		c.imm(x64, a64Tmp, m.Handle)
		a.cmp(x64, x1, a64Tmp)
		hits[i] = a.pos()
		a.bcond(a64EQ, 0)
	}
	toCall = append(toCall, a.pos())
	a.b(0)
	for i, m := range maps {
		a.patch(hits[i], a.pos())
		// The key's region: the stack (region 0), where keys usually
		// are, then the whole table.
		a.ldp(a64Offset, a64Off, a64Host, a64Regions, 0)
		a.ldstImm(a64LDRX, a64Tmp2, a64Regions, jitabi.OffRegLim4)
		a.sub(x64, a64Off, x2, a64Off)
		a.cmp(x64, a64Off, a64Tmp2)
		c.scanOnMiss(c.scan[0][a64Log2(4)], x2, id)
		a.ldstReg(a64LDRW, a64Tmp, a64Host, a64Off)
		a.movConst(w32, a64Tmp2, uint64(m.MaxEntries))
		a.cmp(w32, a64Tmp, a64Tmp2)
		miss := a.pos()
		a.bcond(a64HS, 0)
		c.imm(x64, a64Tmp2, m.Stride)
		a.mul(x64, a64Tmp, a64Tmp, a64Tmp2)
		c.imm(x64, x0, m.Base)
		a.add(x64, x0, x0, a64Tmp)
		toDone = append(toDone, a.pos())
		a.b(0)
		a.patch(miss, a.pos())
		a.mov(x64, x0, xzr)
		toDone = append(toDone, a.pos())
		a.b(0)
	}
	for _, at := range toCall {
		a.patch(at, a.pos())
	}
	c.leave(id)
	c.resumeHere(id)
	for _, at := range toDone {
		a.patch(at, a.pos())
	}
}

// jumpTo emits an unconditional branch to BPF pc.
func (c *a64Compiler) jumpTo(pc int) {
	c.jumps = append(c.jumps, a64Fixup{at: c.a.pos(), pc: pc})
	c.a.b(0)
}

// a64AluKind is an ALU operation independent of width and source.
type a64AluKind uint8

const (
	a64AluAdd a64AluKind = iota
	a64AluSub
	a64AluMul
	a64AluDiv
	a64AluSDiv
	a64AluOr
	a64AluAnd
	a64AluLsh
	a64AluRsh
	a64AluNeg
	a64AluMod
	a64AluSMod
	a64AluXor
	a64AluMov
	a64AluMovSX8
	a64AluMovSX16
	a64AluMovSX32
	a64AluArsh
)

// a64AluOps lists each ALU op of jitabi in order, from OpAdd64Imm, with its
// kind and whether it takes a register.
var a64AluOps = func() map[uint8][2]uint8 {
	m := map[uint8][2]uint8{}
	seq := []struct {
		k   a64AluKind
		imm bool // has an imm/reg pair
	}{
		{a64AluAdd, true}, {a64AluSub, true}, {a64AluMul, true}, {a64AluDiv, true}, {a64AluSDiv, true},
		{a64AluOr, true}, {a64AluAnd, true}, {a64AluLsh, true}, {a64AluRsh, true}, {a64AluNeg, false},
		{a64AluMod, true}, {a64AluSMod, true}, {a64AluXor, true}, {a64AluMov, true},
	}
	for _, base := range []uint8{jitabi.OpAdd64Imm, jitabi.OpAdd32Imm} {
		op := base
		for _, e := range seq {
			if e.imm {
				m[op] = [2]uint8{uint8(e.k), 0}
				m[op+1] = [2]uint8{uint8(e.k), 1}
				op += 2
			} else {
				m[op] = [2]uint8{uint8(e.k), 1}
				op++
			}
		}
		if base == jitabi.OpAdd64Imm {
			m[op], m[op+1], m[op+2] = [2]uint8{uint8(a64AluMovSX8), 1}, [2]uint8{uint8(a64AluMovSX16), 1}, [2]uint8{uint8(a64AluMovSX32), 1}
			op += 3
		} else {
			m[op], m[op+1] = [2]uint8{uint8(a64AluMovSX8), 1}, [2]uint8{uint8(a64AluMovSX16), 1}
			op += 2
		}
		m[op] = [2]uint8{uint8(a64AluArsh), 0}
		m[op+1] = [2]uint8{uint8(a64AluArsh), 1}
	}
	return m
}()

// alu emits an ALU32 or ALU64 instruction.
func (c *a64Compiler) alu(in *jitabi.Inst) {
	a := &c.a
	e := a64AluOps[in.Op]
	k, reg := a64AluKind(e[0]), e[1] == 1
	sf := x64
	if in.Op >= jitabi.OpAdd32Imm {
		sf = w32
	}
	d := a64Reg(in.Dst & 15)
	v := uint64(in.Imm)
	if sf == w32 {
		v = uint64(uint32(in.Imm))
	}
	neg := -v
	if sf == w32 {
		neg = uint64(uint32(neg))
	}
	// src returns the second operand: the source register, or the
	// immediate loaded into the scratch register.
	src := func() a64Reg {
		if reg {
			return a64Reg(in.Src & 15)
		}
		c.imm(sf, a64Tmp, v)
		return a64Tmp
	}
	plain := !reg && !c.blind // the immediate may appear in the code
	switch k {
	case a64AluAdd:
		if plain && (a.addImm(sf, d, d, v) || a.subImm(sf, d, d, neg)) {
			return
		}
		a.add(sf, d, d, src())
	case a64AluSub:
		if plain && (a.subImm(sf, d, d, v) || a.addImm(sf, d, d, neg)) {
			return
		}
		a.sub(sf, d, d, src())
	case a64AluMul:
		a.mul(sf, d, d, src())
	case a64AluDiv:
		a.udiv(sf, d, d, src())
	case a64AluSDiv:
		a.sdiv(sf, d, d, src())
	case a64AluMod, a64AluSMod:
		// d - (d/s)*s: division by zero gives 0, so the remainder is d,
		// and MinInt/-1 gives MinInt, whose remainder comes out 0, as
		// the ISA wants. The 32-bit forms zero the upper half.
		r := src()
		if k == a64AluMod {
			a.udiv(sf, a64Tmp2, d, r)
		} else {
			a.sdiv(sf, a64Tmp2, d, r)
		}
		a.msub(sf, d, a64Tmp2, r, d)
	case a64AluOr:
		if plain && a.orrImm(sf, d, d, v) {
			return
		}
		a.orr(sf, d, d, src())
	case a64AluAnd:
		if plain && a.andImm(sf, d, d, v) {
			return
		}
		a.and(sf, d, d, src())
	case a64AluXor:
		if plain && a.eorImm(sf, d, d, v) {
			return
		}
		a.eor(sf, d, d, src())
	case a64AluLsh, a64AluRsh, a64AluArsh:
		if !reg {
			// The count is masked to the width; it is not blinded: a
			// shift count cannot carry a chosen instruction.
			sh := uint8(v) & (a64Width(sf) - 1)
			switch k {
			case a64AluLsh:
				a.lslImm(sf, d, d, sh)
			case a64AluRsh:
				a.lsrImm(sf, d, d, sh)
			default:
				a.asrImm(sf, d, d, sh)
			}
			return
		}
		s := a64Reg(in.Src & 15)
		switch k {
		case a64AluLsh:
			a.lslv(sf, d, d, s)
		case a64AluRsh:
			a.lsrv(sf, d, d, s)
		default:
			a.asrv(sf, d, d, s)
		}
	case a64AluNeg:
		a.neg(sf, d, d)
	case a64AluMov:
		if reg {
			a.mov(sf, d, a64Reg(in.Src&15))
		} else {
			c.imm(sf, d, v)
		}
	case a64AluMovSX8:
		a.sxtb(sf, d, a64Reg(in.Src&15))
	case a64AluMovSX16:
		a.sxth(sf, d, a64Reg(in.Src&15))
	case a64AluMovSX32:
		a.sxtw(d, a64Reg(in.Src&15))
	}
}

// jump emits a conditional jump: the compare, then the charge for the
// path taken.
func (c *a64Compiler) jump(pc int, in *jitabi.Inst) {
	a := &c.a
	op := in.Op
	reg := (op-jitabi.OpJeqImm)%2 == 1
	base := op
	if reg {
		base--
	}
	cond := a64JmpConds[base]
	sf := x64
	if op >= jitabi.OpJeq32Imm {
		sf = w32
	}
	d := a64Reg(in.Dst & 15)
	isSet := base == jitabi.OpJsetImm || base == jitabi.OpJset32Imm
	v := uint64(in.Imm)
	if sf == w32 {
		v = uint64(uint32(in.Imm))
	}
	switch {
	case reg && isSet:
		a.tst(sf, d, a64Reg(in.Src&15))
	case reg:
		a.cmp(sf, d, a64Reg(in.Src&15))
	case !c.blind && isSet && a.tstImm(sf, d, v):
	case !c.blind && !isSet && a.cmpImm(sf, d, in.Imm):
	default:
		c.imm(sf, a64Tmp, v)
		if isSet {
			a.tst(sf, d, a64Tmp)
		} else {
			a.cmp(sf, d, a64Tmp)
		}
	}
	// Taken: charge NT and go; not taken: charge NF.
	skip := a.pos()
	a.bcond(cond.invert(), 0)
	c.charge(in.NT, pc)
	c.jumpTo(int(in.Off))
	a.patch(skip, a.pos())
	c.charge(in.NF, pc)
}

// callLocal emits a BPF-to-BPF call (see jitabi's BPF-to-BPF calls).
func (c *a64Compiler) callLocal(pc int, in *jitabi.Inst) {
	a := &c.a
	// The depth check comes first, as in the interpreter.
	a.ldstImm(a64LDRX, x13, a64St, jitabi.OffDepth)
	a.cmpImm(x64, x13, jitabi.MaxCallDepth-1)
	c.leaveIf(a64HS, c.exit(jitabi.Exit{Kind: jitabi.ExitCallDepth, PC: int32(pc)}))
	c.charge(in.NT, pc)
	// The frame at State.Frames[depth]; x13 may have been lost to a
	// budget exit, so reload it.
	a.ldstImm(a64LDRX, x13, a64St, jitabi.OffDepth)
	a.movConst(x64, x12, jitabi.SizeFrame)
	a.madd(x64, x14, x13, x12, a64St) // x14 = st + depth*SizeFrame
	ret := a.pos()
	a.adr(x15, 0)
	a.ldstImm(a64STRX, x15, x14, jitabi.OffFrames+jitabi.OffFrameRet)
	a.movConst(x64, x15, uint64(in.NF))
	a.ldstImm(a64STRX, x15, x14, jitabi.OffFrames+jitabi.OffFrameRun)
	a.stp(a64Offset, x6, x7, x14, jitabi.OffFrames+jitabi.OffFrameSaved)
	a.stp(a64Offset, x8, x9, x14, jitabi.OffFrames+jitabi.OffFrameSaved+16)
	a.ldstImm(a64STRX, x10, x14, jitabi.OffFrames+jitabi.OffFrameSaved+32)
	a.addImm(x64, x13, x13, 1)
	a.ldstImm(a64STRX, x13, a64St, jitabi.OffDepth)
	a.ldstImm(a64LDRX, x12, a64St, jitabi.OffMaxDepth)
	a.cmp(x64, x13, x12)
	a.csel(x64, x12, x13, x12, a64HI)
	a.ldstImm(a64STRX, x12, a64St, jitabi.OffMaxDepth)
	a.subImm(x64, x10, x10, jitabi.StackSize)
	a.subImm(x64, a64Stack, a64Stack, jitabi.StackSize)
	c.moveStackRegion(true)
	c.jumpTo(int(in.Off))
	a.patch(ret, a.pos())
	if c.returns == nil {
		c.returns = map[int]int{}
	}
	c.returns[pc+1] = a.pos()
}

// moveStackRegion grows (on a call) or shrinks (on a return) the stack
// region, entry 0 of the region table, by one frame at its low end.
func (c *a64Compiler) moveStackRegion(grow bool) {
	a := &c.a
	down := func(r a64Reg) { a.subImm(x64, r, r, jitabi.StackSize) }
	up := func(r a64Reg) { a.addImm(x64, r, r, jitabi.StackSize) }
	baseHost, lims := down, up
	if !grow {
		baseHost, lims = up, down
	}
	a.ldp(a64Offset, x12, x13, a64Regions, jitabi.OffRegBase)
	baseHost(x12)
	baseHost(x13)
	a.stp(a64Offset, x12, x13, a64Regions, jitabi.OffRegBase)
	for _, off := range []int{jitabi.OffRegLim1, jitabi.OffRegLim4} {
		a.ldp(a64Offset, x12, x13, a64Regions, off)
		lims(x12)
		lims(x13)
		a.stp(a64Offset, x12, x13, a64Regions, off)
	}
}

// exitInst emits BPF exit: the end of the run at the base depth, else a
// return from a local call.
func (c *a64Compiler) exitInst(pc int) {
	a := &c.a
	a.ldstImm(a64LDRX, x13, a64St, jitabi.OffDepth)
	a.ldstImm(a64LDRX, x12, a64St, jitabi.OffBaseDepth)
	a.cmp(x64, x13, x12)
	done := c.exit(jitabi.Exit{Kind: jitabi.ExitDone, PC: int32(pc)})
	c.leaveIf(a64LS, done)
	a.subImm(x64, x13, x13, 1)
	a.ldstImm(a64STRX, x13, a64St, jitabi.OffDepth)
	a.movConst(x64, x12, jitabi.SizeFrame)
	a.madd(x64, x14, x13, x12, a64St)
	a.ldstImm(a64LDRX, x12, x14, jitabi.OffFrames+jitabi.OffFrameRun)
	a.subs(x64, a64Budget, a64Budget, x12)
	id := c.exit(jitabi.Exit{Kind: jitabi.ExitBudget, PC: int32(pc)})
	c.leaveIf(a64MI, id)
	c.resumeHere(id)
	// After a budget exit only the BPF registers survive: recompute the
	// frame address (cheap, and the same on both paths).
	a.ldstImm(a64LDRX, x13, a64St, jitabi.OffDepth)
	a.movConst(x64, x12, jitabi.SizeFrame)
	a.madd(x64, x14, x13, x12, a64St)
	a.ldp(a64Offset, x6, x7, x14, jitabi.OffFrames+jitabi.OffFrameSaved)
	a.ldp(a64Offset, x8, x9, x14, jitabi.OffFrames+jitabi.OffFrameSaved+16)
	a.ldstImm(a64LDRX, x10, x14, jitabi.OffFrames+jitabi.OffFrameSaved+32)
	a.addImm(x64, a64Stack, a64Stack, jitabi.StackSize)
	c.moveStackRegion(false)
	a.ldstImm(a64LDRX, x15, x14, jitabi.OffFrames+jitabi.OffFrameRet)
	a.br(x15)
}

// atomic emits an OpAtomic.
func (c *a64Compiler) atomic(pc int, in *jitabi.Inst) {
	a := &c.a
	size := int(in.Size)
	op := uint32(in.Imm)
	d, s := a64Reg(in.Dst&15), a64Reg(in.Src&15)
	base := d
	if op == jitabi.AtomicLoadAcq {
		base = s
	}
	o := c.translate(pc, base, int64(in.Off), size, op != jitabi.AtomicLoadAcq, jitabi.AccessAtomic, true)
	c.hostAddr(o) // x16 = host address
	sf := x64
	if size < 8 {
		sf = w32
	}
	// Host memory that is not naturally aligned takes the plain path.
	plain := -1
	if size > 1 {
		a.tstImm(x64, a64Addr, uint64(size-1))
		plain = a.pos()
		a.bcond(a64NE, 0)
	}
	c.atomicBody(op, size, sf, d, s, true)
	if plain < 0 {
		return
	}
	done := a.pos()
	a.b(0)
	a.patch(plain, a.pos())
	c.atomicBody(op, size, sf, d, s, false)
	a.patch(done, a.pos())
}

// atomicBody emits the operation on the host address in x16, with
// exclusive (and acquire/release) instructions, or plain ones.
func (c *a64Compiler) atomicBody(op uint32, size int, sf a64Sf, d, s a64Reg, excl bool) {
	a := &c.a
	old, nw, status := a64Tmp2, a64Tmp, x11
	load := func(t a64Reg) {
		if excl {
			a.ldaxr(size, t, a64Addr)
		} else {
			a.ldstImm(a64Loads[size], t, a64Addr, 0)
		}
	}
	// store stores t and loops back to loop while the exclusive store
	// fails.
	store := func(t a64Reg, loop int) {
		if excl {
			a.stlxr(size, status, t, a64Addr)
			a.cbnz(w32, status, loop-a.pos())
		} else {
			a.ldstImm(a64Stores[size], t, a64Addr, 0)
		}
	}
	switch op {
	case jitabi.AtomicLoadAcq:
		if excl {
			a.ldar(size, d, a64Addr)
		} else {
			a.ldstImm(a64Loads[size], d, a64Addr, 0)
		}
		return
	case jitabi.AtomicStoreRl:
		if excl {
			a.stlr(size, s, a64Addr)
		} else {
			a.ldstImm(a64Stores[size], s, a64Addr, 0)
		}
		return
	case jitabi.AtomicCmpXchg:
		loop := a.pos()
		load(old)
		a.cmp(sf, old, x0)
		ne := a.pos()
		a.bcond(a64NE, 0)
		store(s, loop)
		a.patch(ne, a.pos())
		a.mov(sf, x0, old)
		return
	case jitabi.AtomicXchg:
		loop := a.pos()
		load(old)
		store(s, loop)
		a.mov(sf, s, old)
		return
	}
	loop := a.pos()
	load(old)
	switch op &^ jitabi.AtomicFetch {
	case jitabi.AtomicAdd:
		a.add(sf, nw, old, s)
	case jitabi.AtomicOr:
		a.orr(sf, nw, old, s)
	case jitabi.AtomicAnd:
		a.and(sf, nw, old, s)
	case jitabi.AtomicXor:
		a.eor(sf, nw, old, s)
	}
	store(nw, loop)
	if op&jitabi.AtomicFetch != 0 {
		a.mov(sf, s, old)
	}
}
