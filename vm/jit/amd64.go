package jit

import (
	"fmt"

	"github.com/wagglebpf/waggle/vm/internal/jitabi"
	"golang.org/x/arch/x86/x86asm"
)

// The amd64 back end.
//
// Register mapping (fixed):
//
//	BPF   r0  r1  r2  r3 r4 r5  r6  r7  r8  r9  r10(host address)  budget
//	x86   rbx rdi rsi r8 r9 r10 r12 r13 r14 r15 rbp                r11
//
// rax, rcx and rdx are scratch: dead between BPF instructions, so
// division, shifts by cl and cmpxchg need no spills. r10 is kept as the
// host address of the frame, so that a stack access with a constant
// offset inside the current frame is one instruction; its virtual value
// (what the program sees when it copies r10) is rbp minus the stack delta.
//
// Scratch area. The trampoline (enter_amd64.s) calls the code with rsp 8
// bytes below a 128-byte area of its own frame, H = rsp+8 (rsp+16 inside
// the refill stubs, the only calls native code makes):
//
//	H+0    the state block pointer
//	H+8    the caller's rbp
//	H+16   the stack delta (host address of the stack minus StackAddr)
//	H+24   a spill slot for the refill stubs
//	H+32   the load cache: base, host, lim1, lim2, lim4, lim8 of a region
//	H+80   the store cache, the same
//
// The caches are the interpreter's: the last region that a load (store)
// hit. An access is inside the cached region when (addr-base) < limN: one
// compare; otherwise a refill stub scans the region table and refills the
// cache, or reports that no region holds the access and the code leaves
// with ExitFault. The caches are reset on every entry and on BPF calls and
// returns (which move the stack region).
//
// Code layout: the entry sequence at offset 0 (load registers from the
// state block, jump to the resume address), the common exit (store them,
// return), the eight refill stubs (load/store x 1, 2, 4, 8 bytes), the
// program, and cold stubs (exits, slow paths) after it.

var amd64Regs = [11]x86Reg{rbx, rdi, rsi, r8, r9, r10, r12, r13, r14, r15, rbp}

const (
	rBudget = r11

	hBase   = 8 // H = rsp + hBase at the top level
	hST     = 0
	hRBP    = 8
	hSD     = 16
	hSpill  = 24
	hLC     = 32
	hSC     = 80
	hSize   = 128
	cBase   = 0
	cHost   = 8
	cLim1   = 16
	amd64SP = rsp
)

var _ = register("amd64", &backend{compile: compileAMD64, disasm: disasmAMD64})

func disasmAMD64(text []byte, off int, pc uint64) (string, int) {
	inst, err := x86asm.Decode(text[off:], 64)
	if err != nil || inst.Len == 0 {
		return fmt.Sprintf(".byte %#x", text[off]), 1
	}
	return x86asm.IntelSyntax(inst, pc, nil), inst.Len
}

// limOff is the offset of limN within a cache or region entry.
func limOff(n int) int32 {
	switch n {
	case 1:
		return 16
	case 2:
		return 24
	case 4:
		return 32
	}
	return 40
}

type x86Label int

type x86Fixup struct {
	at int
	l  x86Label
}

type amd64Gen struct {
	a      x86
	p      *jitabi.Program
	opts   jitabi.Options
	key    uint32
	lbl    []int // x86Label positions, -1 unbound
	fix    []x86Fixup
	cold   []func()
	exits  []jitabi.Exit
	resume []x86Label // resume x86Label of each exit, or -1
	labels labels

	charge, body []x86Label // per pc
	exitL        x86Label   // the common exit
	refill       [2][4]x86Label
	notes        map[int]string

	// Coarse budget accounting (jitabi's Options.CoarseBudget): only
	// checkpoints charge, weight[pc] each.
	coarse bool
	weight []uint32
}

func (g *amd64Gen) newLabel() x86Label {
	g.lbl = append(g.lbl, -1)
	return x86Label(len(g.lbl) - 1)
}

func (g *amd64Gen) bind(l x86Label) { g.lbl[l] = g.a.len() }

func (g *amd64Gen) jmpTo(l x86Label) { g.fix = append(g.fix, x86Fixup{g.a.jmp(), l}) }

func (g *amd64Gen) jccTo(c x86Cond, l x86Label) { g.fix = append(g.fix, x86Fixup{g.a.jcc(c), l}) }

func (g *amd64Gen) callTo(l x86Label) { g.fix = append(g.fix, x86Fixup{g.a.call(), l}) }

func (g *amd64Gen) note(s string) {
	if g.notes == nil {
		g.notes = map[int]string{}
	}
	g.notes[g.a.len()] = s
}

// exit registers an exit and returns its id; resume is where Go
// continues (-1: nowhere).
func (g *amd64Gen) exit(e jitabi.Exit, resume x86Label) uint32 {
	g.exits = append(g.exits, e)
	g.resume = append(g.resume, resume)
	return uint32(len(g.exits) - 1)
}

// leave emits: ecx = id; jmp exit.
func (g *amd64Gen) leave(id uint32) {
	g.a.movRI32(rcx, id)
	g.jmpTo(g.exitL)
}

// coldExit returns a x86Label of a cold stub that leaves with e.
func (g *amd64Gen) coldExit(e jitabi.Exit, resume x86Label) x86Label {
	l := g.newLabel()
	id := g.exit(e, resume)
	g.cold = append(g.cold, func() {
		g.bind(l)
		g.leave(id)
	})
	return l
}

func hm(off int32) x86Mem { return mdisp(rsp, hBase+off) }

func compileAMD64(p *jitabi.Program, opts jitabi.Options) (*Assembly, error) {
	n := len(p.Insts)
	if n == 0 || p.Insts[n-1].Op != jitabi.OpFallOff {
		return nil, fmt.Errorf("jit: program lacks its sentinel")
	}
	g := &amd64Gen{p: p, opts: opts, labels: analyse(p), coarse: opts.CoarseBudget}
	if g.coarse {
		g.weight = jitabi.Checkpoints(p)
	}
	if opts.Blind {
		g.key = blindKey()
	}
	g.a.b = make([]byte, 0, 64*n+1024)
	g.charge = make([]x86Label, n)
	g.body = make([]x86Label, n)
	for pc := range n {
		g.charge[pc] = g.newLabel()
		g.body[pc] = g.newLabel()
	}
	g.exitL = g.newLabel()
	for w := range 2 {
		for i := range 4 {
			g.refill[w][i] = g.newLabel()
		}
	}

	g.entry()
	g.commonExit()
	for w := range 2 {
		for i, size := range []int{1, 2, 4, 8} {
			g.refillStub(w == 1, size, g.refill[w][i])
		}
	}
	pcs := make([]int32, n)
	for pc := range n {
		if p.Second[pc] {
			pcs[pc] = -1
			continue
		}
		pcs[pc] = int32(g.a.len())
		if err := g.inst(pc); err != nil {
			return nil, err
		}
	}
	for i := 0; i < len(g.cold); i++ {
		g.cold[i]()
	}
	for _, f := range g.fix {
		t := g.lbl[f.l]
		if t < 0 {
			return nil, fmt.Errorf("jit: internal error: unbound x86Label %d", f.l)
		}
		g.a.patch(f.at, t)
	}
	for i, l := range g.resume {
		if l >= 0 {
			g.exits[i].Resume = uint32(g.lbl[l])
		}
	}
	start := g.body[0]
	if g.coarse {
		start = g.charge[0]
	}
	return &Assembly{Arch: "amd64", Text: g.a.b, Start: uint32(g.lbl[start]), Exits: g.exits, PCs: pcs, Notes: g.notes, CoarseBudget: g.coarse}, nil
}

// entry: rdi = state, rsi = resume address.
func (g *amd64Gen) entry() {
	a := &g.a
	g.note("entry")
	a.store(8, hm(hST), rdi)
	a.store(8, hm(hRBP), rbp)
	a.load(8, false, rax, mdisp(rdi, jitabi.OffStackDelta))
	a.store(8, hm(hSD), rax)
	g.invalidateCaches()
	a.movRR(true, rax, rsi)
	for i, r := range amd64Regs[:10] {
		if r != rdi {
			a.load(8, false, r, mdisp(rdi, int32(8*i)))
		}
	}
	a.load(8, false, rbp, mdisp(rdi, 80))
	a.aluRM(true, x86Add, rbp, hm(hSD))
	a.load(8, false, rBudget, mdisp(rdi, jitabi.OffBudget))
	a.load(8, false, rdi, mdisp(rdi, 8))
	a.jmpR(rax)
}

func (g *amd64Gen) invalidateCaches() {
	for _, c := range []int32{hLC, hSC} {
		for i := range int32(4) {
			g.a.storeImm(8, hm(c+cLim1+8*i), 0)
		}
	}
}

// commonExit: ecx = exit id, rax = aux.
func (g *amd64Gen) commonExit() {
	a := &g.a
	g.bind(g.exitL)
	g.note("exit")
	a.load(8, false, rdx, hm(hST))
	a.store(8, mdisp(rdx, jitabi.OffExitID), rcx)
	a.store(8, mdisp(rdx, jitabi.OffAux), rax)
	for i, r := range amd64Regs[:10] {
		a.store(8, mdisp(rdx, int32(8*i)), r)
	}
	a.movRR(true, rax, rbp)
	a.aluRM(true, x86Sub, rax, hm(hSD))
	a.store(8, mdisp(rdx, 80), rax)
	a.store(8, mdisp(rdx, jitabi.OffBudget), rBudget)
	a.load(8, false, rbp, hm(hRBP))
	a.ret()
}

// refillStub: rax = address; returns rcx = host address of the access, or
// 0 when no (writable) region holds it; clobbers rdx. The cache is
// refilled on success.
func (g *amd64Gen) refillStub(write bool, size int, l x86Label) {
	a := &g.a
	g.bind(l)
	g.note(fmt.Sprintf("refill write=%v size=%d", write, size))
	h := func(off int32) x86Mem { return mdisp(rsp, hBase+8+off) }
	cache := int32(hLC)
	if write {
		cache = hSC
	}
	a.store(8, h(hSpill), rdi)
	a.load(8, false, rdx, h(hST))
	a.load(8, false, rcx, mdisp(rdx, jitabi.OffNRegions))
	a.load(8, false, rdx, mdisp(rdx, jitabi.OffRegions))
	loop, next, fail := g.newLabel(), g.newLabel(), g.newLabel()
	g.bind(loop)
	a.testRR(true, rcx, rcx)
	g.jccTo(x86CCE, fail)
	a.movRR(true, rdi, rax)
	a.aluRM(true, x86Sub, rdi, mdisp(rdx, jitabi.OffRegBase))
	a.aluRM(true, x86Cmp, rdi, mdisp(rdx, limOff(size)))
	g.jccTo(x86CCAE, next)
	if write {
		a.aluMI(true, x86Cmp, mdisp(rdx, jitabi.OffRegWritable), 0)
		g.jccTo(x86CCE, next)
	}
	for i := range int32(6) {
		a.load(8, false, rcx, mdisp(rdx, 8*i))
		a.store(8, h(cache+8*i), rcx)
	}
	a.load(8, false, rcx, mdisp(rdx, jitabi.OffRegHost))
	a.aluRR(true, x86Add, rcx, rdi)
	a.load(8, false, rdi, h(hSpill))
	a.ret()
	g.bind(next)
	a.aluRI(true, x86Add, rdx, jitabi.SizeRegion)
	a.aluRI(true, x86Sub, rcx, 1)
	g.jmpTo(loop)
	g.bind(fail)
	a.aluRR(false, x86Xor, rcx, rcx)
	a.load(8, false, rdi, h(hSpill))
	a.ret()
}

// translate emits the translation of the virtual address base+off for an
// access of size bytes: afterwards rcx holds the host address (rax the
// virtual one). On failure the code leaves with ExitFault.
func (g *amd64Gen) translate(pc int, base x86Reg, off int32, size int, write bool, access uint8) {
	g.vaddr(base, off)
	g.translateRAX(pc, size, write, access)
}

// vaddr: rax = the virtual address base+off (rbp holds r10's host
// address).
func (g *amd64Gen) vaddr(base x86Reg, off int32) {
	g.a.lea(rax, mdisp(base, off))
	if base == rbp {
		g.a.aluRM(true, x86Sub, rax, hm(hSD))
	}
}

// val returns the machine register holding BPF register r's value, which
// for r10 is its virtual address, computed into tmp.
func (g *amd64Gen) val(r uint8, tmp x86Reg) x86Reg {
	if r%11 != 10 {
		return amd64Regs[r%11]
	}
	g.a.movRR(true, tmp, rbp)
	g.a.aluRM(true, x86Sub, tmp, hm(hSD))
	return tmp
}

func (g *amd64Gen) translateRAX(pc int, size int, write bool, access uint8) {
	a := &g.a
	cache := int32(hLC)
	w := 0
	if write {
		cache, w = hSC, 1
	}
	a.movRR(true, rcx, rax)
	a.aluRM(true, x86Sub, rcx, hm(cache+cBase))
	a.aluRM(true, x86Cmp, rcx, hm(cache+limOff(size)))
	slow, done := g.newLabel(), g.newLabel()
	g.jccTo(x86CCAE, slow)
	a.aluRM(true, x86Add, rcx, hm(cache+cHost))
	g.bind(done)
	idx := map[int]int{1: 0, 2: 1, 4: 2, 8: 3}[size]
	fault := g.exit(jitabi.Exit{Kind: jitabi.ExitFault, Access: access, Size: uint8(size), PC: int32(pc)}, -1)
	g.cold = append(g.cold, func() {
		g.bind(slow)
		g.callTo(g.refill[w][idx])
		a.testRR(true, rcx, rcx)
		g.jccTo(x86CCNE, done)
		g.leave(fault)
	})
}

// stackFast reports whether an access of size bytes at r10+off is inside
// the current frame, which is always addressable.
func stackFast(off int32, size int) bool { return off >= -jitabi.StackSize && off+int32(size) <= 0 }

// imm returns the immediate as an operand: when blinding, it is loaded
// into tmp (sign-extended to 64 bits) and ok is false; otherwise ok is
// true and the caller encodes it directly.
func (g *amd64Gen) imm(v int32, tmp x86Reg) (ok bool) {
	if !g.opts.Blind {
		return true
	}
	k := int32(g.key)
	g.a.movRI(tmp, uint64(int64(v^k)))
	g.a.aluRI(true, x86Xor, tmp, k)
	return false
}

// const64 loads a 64-bit constant into r, blinded when asked.
func (g *amd64Gen) const64(r x86Reg, v uint64) {
	if !g.opts.Blind || v == 0 {
		g.a.movRI(r, v)
		return
	}
	k := uint64(g.key)<<32 | uint64(g.key^0x5a5a5a5a)
	g.a.movRI(r, v^k)
	g.a.movRI(rdx, k)
	g.a.aluRR(true, x86Xor, r, rdx)
}

var aluOf = map[uint8]x86ALU{
	jitabi.OpAdd64Imm: x86Add, jitabi.OpSub64Imm: x86Sub, jitabi.OpOr64Imm: x86Or, jitabi.OpAnd64Imm: x86And, jitabi.OpXor64Imm: x86Xor,
	jitabi.OpAdd32Imm: x86Add, jitabi.OpSub32Imm: x86Sub, jitabi.OpOr32Imm: x86Or, jitabi.OpAnd32Imm: x86And, jitabi.OpXor32Imm: x86Xor,
}

var shiftOf = map[uint8]uint8{
	jitabi.OpLsh64Imm: x86Shl, jitabi.OpRsh64Imm: x86Shr, jitabi.OpArsh64Imm: x86Sar,
	jitabi.OpLsh32Imm: x86Shl, jitabi.OpRsh32Imm: x86Shr, jitabi.OpArsh32Imm: x86Sar,
}

// jump conditions by the imm form of each conditional jump.
var condOf = map[uint8]x86Cond{
	jitabi.OpJeqImm: x86CCE, jitabi.OpJgtImm: x86CCA, jitabi.OpJgeImm: x86CCAE, jitabi.OpJsetImm: x86CCNE,
	jitabi.OpJneImm: x86CCNE, jitabi.OpJsgtImm: x86CCG, jitabi.OpJsgeImm: x86CCGE, jitabi.OpJltImm: x86CCB,
	jitabi.OpJleImm: x86CCBE, jitabi.OpJsltImm: x86CCL, jitabi.OpJsleImm: x86CCLE,
	jitabi.OpJeq32Imm: x86CCE, jitabi.OpJgt32Imm: x86CCA, jitabi.OpJge32Imm: x86CCAE, jitabi.OpJset32Imm: x86CCNE,
	jitabi.OpJne32Imm: x86CCNE, jitabi.OpJsgt32Imm: x86CCG, jitabi.OpJsge32Imm: x86CCGE, jitabi.OpJlt32Imm: x86CCB,
	jitabi.OpJle32Imm: x86CCBE, jitabi.OpJslt32Imm: x86CCL, jitabi.OpJsle32Imm: x86CCLE,
}

// inst emits the code of the instruction at pc.
func (g *amd64Gen) inst(pc int) error {
	a := &g.a
	p := g.p
	in := &p.Insts[pc]
	if g.coarse {
		g.bind(g.charge[pc])
		if w := g.weight[pc]; w > 0 {
			a.aluRI(true, x86Sub, rBudget, int32(w))
			g.jccTo(x86CCL, g.coldExit(jitabi.Exit{Kind: jitabi.ExitBudget, PC: int32(pc)}, g.body[pc]))
		}
	} else if g.labels.at[pc] {
		if g.labels.plainInto[pc] {
			g.jmpTo(g.body[pc])
		}
		g.bind(g.charge[pc])
		a.aluRI(true, x86Sub, rBudget, int32(p.Runs[pc]))
		g.jccTo(x86CCL, g.coldExit(jitabi.Exit{Kind: jitabi.ExitBudget, PC: -1}, g.body[pc]))
	}
	g.bind(g.body[pc])
	dst, src := amd64Regs[in.Dst%11], amd64Regs[in.Src%11]
	op := in.Op
	imm32 := int32(in.Imm)

	switch op {
	case jitabi.OpAdd64Imm, jitabi.OpSub64Imm, jitabi.OpOr64Imm, jitabi.OpAnd64Imm, jitabi.OpXor64Imm,
		jitabi.OpAdd32Imm, jitabi.OpSub32Imm, jitabi.OpOr32Imm, jitabi.OpAnd32Imm, jitabi.OpXor32Imm:
		w := op < jitabi.OpAdd32Imm
		if g.imm(imm32, rax) {
			a.aluRI(w, aluOf[op], dst, imm32)
		} else {
			a.aluRR(w, aluOf[op], dst, rax)
		}
	case jitabi.OpAdd64Reg, jitabi.OpSub64Reg, jitabi.OpOr64Reg, jitabi.OpAnd64Reg, jitabi.OpXor64Reg,
		jitabi.OpAdd32Reg, jitabi.OpSub32Reg, jitabi.OpOr32Reg, jitabi.OpAnd32Reg, jitabi.OpXor32Reg:
		a.aluRR(op < jitabi.OpAdd32Imm, aluOf[op-1], dst, g.val(in.Src, rcx))
	case jitabi.OpMul64Imm, jitabi.OpMul32Imm:
		w := op == jitabi.OpMul64Imm
		if g.imm(imm32, rax) {
			a.imulRRI(w, dst, dst, imm32)
		} else {
			a.imulRR(w, dst, rax)
		}
	case jitabi.OpMul64Reg, jitabi.OpMul32Reg:
		a.imulRR(op == jitabi.OpMul64Reg, dst, g.val(in.Src, rcx))
	case jitabi.OpDiv64Imm, jitabi.OpDiv64Reg, jitabi.OpSDiv64Imm, jitabi.OpSDiv64Reg,
		jitabi.OpMod64Imm, jitabi.OpMod64Reg, jitabi.OpSMod64Imm, jitabi.OpSMod64Reg,
		jitabi.OpDiv32Imm, jitabi.OpDiv32Reg, jitabi.OpSDiv32Imm, jitabi.OpSDiv32Reg,
		jitabi.OpMod32Imm, jitabi.OpMod32Reg, jitabi.OpSMod32Imm, jitabi.OpSMod32Reg:
		g.divmod(in, dst, g.val(in.Src, rcx))
	case jitabi.OpLsh64Imm, jitabi.OpRsh64Imm, jitabi.OpArsh64Imm:
		if s := uint8(in.Imm) & 63; s != 0 {
			a.shiftI(true, shiftOf[op], dst, s)
		}
	case jitabi.OpLsh32Imm, jitabi.OpRsh32Imm, jitabi.OpArsh32Imm:
		if s := uint8(in.Imm) & 31; s != 0 {
			a.shiftI(false, shiftOf[op], dst, s)
		} else {
			a.movRR(false, dst, dst)
		}
	case jitabi.OpLsh64Reg, jitabi.OpRsh64Reg, jitabi.OpArsh64Reg, jitabi.OpLsh32Reg, jitabi.OpRsh32Reg, jitabi.OpArsh32Reg:
		a.movRR(false, rcx, g.val(in.Src, rcx))
		a.shiftCL(op <= jitabi.OpArsh64Reg, shiftOf[op-1], dst)
	case jitabi.OpNeg64:
		a.group3(true, x86Neg, dst)
	case jitabi.OpNeg32:
		a.group3(false, x86Neg, dst)
	case jitabi.OpMov64Imm:
		if g.opts.Blind {
			g.imm(imm32, dst)
		} else {
			a.movRI(dst, uint64(in.Imm))
		}
	case jitabi.OpMov32Imm:
		if g.opts.Blind {
			g.imm(imm32, dst)
			a.movRR(false, dst, dst)
		} else {
			a.movRI(dst, uint64(uint32(imm32)))
		}
	case jitabi.OpMov64Reg:
		if src = g.val(in.Src, rcx); dst != src {
			a.movRR(true, dst, src)
		}
	case jitabi.OpMov32Reg:
		a.movRR(false, dst, g.val(in.Src, rcx))
	case jitabi.OpMovSX8to64:
		a.movsx8(true, dst, g.val(in.Src, rcx))
	case jitabi.OpMovSX16to64:
		a.movsx16(true, dst, g.val(in.Src, rcx))
	case jitabi.OpMovSX32to64:
		a.movsxd(dst, g.val(in.Src, rcx))
	case jitabi.OpMovSX8to32:
		a.movsx8(false, dst, g.val(in.Src, rcx))
	case jitabi.OpMovSX16to32:
		a.movsx16(false, dst, g.val(in.Src, rcx))
	case jitabi.OpLe16:
		a.movzx16(dst, dst)
	case jitabi.OpLe32:
		a.movRR(false, dst, dst)
	case jitabi.OpBswap16:
		a.rol16by8(dst)
		a.movzx16(dst, dst)
	case jitabi.OpBswap32:
		a.bswap(false, dst)
	case jitabi.OpBswap64:
		a.bswap(true, dst)
	case jitabi.OpLddw:
		g.const64(dst, uint64(in.Imm))

	case jitabi.OpJa:
		if !g.coarse {
			a.movRI32(rax, uint32(pc))
		}
		g.jmpTo(g.charge[in.Off])
	case jitabi.OpJeqReg, jitabi.OpJgtReg, jitabi.OpJgeReg, jitabi.OpJsetReg, jitabi.OpJneReg,
		jitabi.OpJsgtReg, jitabi.OpJsgeReg, jitabi.OpJltReg, jitabi.OpJleReg, jitabi.OpJsltReg, jitabi.OpJsleReg,
		jitabi.OpJeq32Reg, jitabi.OpJgt32Reg, jitabi.OpJge32Reg, jitabi.OpJset32Reg, jitabi.OpJne32Reg,
		jitabi.OpJsgt32Reg, jitabi.OpJsge32Reg, jitabi.OpJlt32Reg, jitabi.OpJle32Reg, jitabi.OpJslt32Reg, jitabi.OpJsle32Reg:
		w := op <= jitabi.OpJsleReg
		dst, src := g.val(in.Dst, rcx), g.val(in.Src, rdx)
		if in.Dst == 10 && in.Src == 10 {
			src = rcx
		}
		if op == jitabi.OpJsetReg || op == jitabi.OpJset32Reg {
			a.testRR(w, dst, src)
		} else {
			a.aluRR(w, x86Cmp, dst, src)
		}
		g.branch(pc, condOf[op-1])
	case jitabi.OpJeqImm, jitabi.OpJgtImm, jitabi.OpJgeImm, jitabi.OpJsetImm, jitabi.OpJneImm,
		jitabi.OpJsgtImm, jitabi.OpJsgeImm, jitabi.OpJltImm, jitabi.OpJleImm, jitabi.OpJsltImm, jitabi.OpJsleImm,
		jitabi.OpJeq32Imm, jitabi.OpJgt32Imm, jitabi.OpJge32Imm, jitabi.OpJset32Imm, jitabi.OpJne32Imm,
		jitabi.OpJsgt32Imm, jitabi.OpJsge32Imm, jitabi.OpJlt32Imm, jitabi.OpJle32Imm, jitabi.OpJslt32Imm, jitabi.OpJsle32Imm:
		w := op <= jitabi.OpJsleReg
		set := op == jitabi.OpJsetImm || op == jitabi.OpJset32Imm
		dst := g.val(in.Dst, rcx)
		switch {
		case !g.imm(imm32, rdx) && set:
			a.testRR(w, dst, rdx)
		case !g.opts.Blind && set:
			a.testRI(w, dst, imm32)
		case g.opts.Blind:
			a.aluRR(w, x86Cmp, dst, rdx)
		default:
			a.aluRI(w, x86Cmp, dst, imm32)
		}
		g.branch(pc, condOf[op])

	case jitabi.OpLdxB, jitabi.OpLdxH, jitabi.OpLdxW, jitabi.OpLdxDW, jitabi.OpLdxSB, jitabi.OpLdxSH, jitabi.OpLdxSW:
		size := [...]int{1, 2, 4, 8, 1, 2, 4}[op-jitabi.OpLdxB]
		sx := op >= jitabi.OpLdxSB
		off := int32(in.Imm)
		if in.Src == 10 && stackFast(off, size) {
			a.load(size, sx, dst, mdisp(rbp, off))
			break
		}
		g.translate(pc, src, off, size, false, jitabi.AccessLoad)
		a.load(size, sx, dst, mdisp(rcx, 0))
	case jitabi.OpStB, jitabi.OpStH, jitabi.OpStW, jitabi.OpStDW:
		size := [...]int{1, 2, 4, 8}[op-jitabi.OpStB]
		var at x86Mem
		if in.Dst == 10 && stackFast(in.Off, size) {
			at = mdisp(rbp, in.Off)
		} else {
			g.translate(pc, dst, in.Off, size, true, jitabi.AccessStore)
			at = mdisp(rcx, 0)
		}
		if g.opts.Blind {
			g.imm(imm32, rdx)
			a.store(size, at, rdx)
		} else {
			a.storeImm(size, at, imm32)
		}
	case jitabi.OpStxB, jitabi.OpStxH, jitabi.OpStxW, jitabi.OpStxDW:
		size := [...]int{1, 2, 4, 8}[op-jitabi.OpStxB]
		if in.Dst == 10 && stackFast(in.Off, size) {
			a.store(size, mdisp(rbp, in.Off), g.val(in.Src, rax))
			break
		}
		g.translate(pc, dst, in.Off, size, true, jitabi.AccessStore)
		a.store(size, mdisp(rcx, 0), g.val(in.Src, rax))
	case jitabi.OpAtomic:
		g.atomic(pc, in, dst, src)

	case jitabi.OpCall:
		id := g.exit(jitabi.Exit{Kind: jitabi.ExitHelper, PC: int32(pc), Helper: int32(in.Imm)}, g.newLabel())
		if len(p.ArrayMaps) > 0 && in.Imm == p.Lookup {
			g.inlineLookup(id)
			break
		}
		g.leave(id)
		g.bind(g.resume[id])
	case jitabi.OpCallX:
		id := g.exit(jitabi.Exit{Kind: jitabi.ExitHelperX, PC: int32(pc)}, g.newLabel())
		g.leave(id)
		g.bind(g.resume[id])
	case jitabi.OpLdAbsB, jitabi.OpLdAbsH, jitabi.OpLdAbsW, jitabi.OpLdIndB, jitabi.OpLdIndH, jitabi.OpLdIndW:
		id := g.exit(jitabi.Exit{Kind: jitabi.ExitLdPacket, PC: int32(pc)}, g.newLabel())
		g.leave(id)
		g.bind(g.resume[id])
	case jitabi.OpCallLocal:
		g.callLocal(pc, in)
	case jitabi.OpExit:
		g.ret(pc)
	case jitabi.OpFallOff:
		g.leave(g.exit(jitabi.Exit{Kind: jitabi.ExitFellOff, PC: int32(pc)}, -1))
	default:
		return fmt.Errorf("jit: pc %d: unsupported op %d", pc, op)
	}
	return nil
}

// inlineLookup emits a map_lookup_elem call whose helper exit is id with
// the lookups in the program's array maps inlined (see jitabi.ArrayMap):
// r1 (rdi) is compared with each array map's handle; on a match, the key
// at r2 (rsi) is read through the load cache and the refill stubs, and r0
// (rbx) becomes the value's address or 0. Anything else, a key that no
// region holds included, leaves with the helper exit.
func (g *amd64Gen) inlineLookup(id uint32) {
	a := &g.a
	maps := g.p.ArrayMaps
	call, done := g.newLabel(), g.resume[id]
	g.note("inline map_lookup_elem")
	a.load(8, false, rdx, hm(hST))
	a.aluMI(true, x86Cmp, mdisp(rdx, jitabi.OffInline), 0)
	g.jccTo(x86CCE, call)
	hit := make([]x86Label, len(maps))
	for i, m := range maps {
		hit[i] = g.newLabel()
		g.const64(rax, m.Handle)
		a.aluRR(true, x86Cmp, rdi, rax)
		g.jccTo(x86CCE, hit[i])
	}
	g.jmpTo(call)
	for i, m := range maps {
		g.bind(hit[i])
		// The key: the load path of ldxw, but a key no region holds
		// makes the helper call (whose error is the interpreter's).
		a.movRR(true, rax, rsi)
		a.movRR(true, rcx, rax)
		a.aluRM(true, x86Sub, rcx, hm(hLC+cBase))
		a.aluRM(true, x86Cmp, rcx, hm(hLC+limOff(4)))
		slow, load := g.newLabel(), g.newLabel()
		g.jccTo(x86CCAE, slow)
		a.aluRM(true, x86Add, rcx, hm(hLC+cHost))
		g.bind(load)
		g.cold = append(g.cold, func() {
			g.bind(slow)
			g.callTo(g.refill[0][2])
			a.testRR(true, rcx, rcx)
			g.jccTo(x86CCNE, load)
			g.jmpTo(call)
		})
		a.load(4, false, rax, mdisp(rcx, 0))
		miss := g.newLabel()
		a.movRI32(rcx, m.MaxEntries)
		a.aluRR(false, x86Cmp, rax, rcx)
		g.jccTo(x86CCAE, miss)
		g.const64(rcx, m.Stride)
		a.imulRR(true, rax, rcx)
		g.const64(rbx, m.Base)
		a.aluRR(true, x86Add, rbx, rax)
		g.jmpTo(done)
		g.bind(miss)
		a.aluRR(false, x86Xor, rbx, rbx)
		g.jmpTo(done)
	}
	g.bind(call)
	g.leave(id)
	g.bind(done)
}

// branch emits the jump of the conditional jump at pc, whose flags are
// set, and the charge of its fall-through.
func (g *amd64Gen) branch(pc int, c x86Cond) {
	in := &g.p.Insts[pc]
	if g.coarse {
		g.jccTo(c, g.charge[in.Off])
		return
	}
	g.a.movRI32(rax, uint32(pc))
	g.jccTo(c, g.charge[in.Off])
	if g.labels.at[pc+1] {
		return // falls into pc+1's own charge, with rax = pc
	}
	g.a.aluRI(true, x86Sub, rBudget, int32(in.NF))
	resume := g.newLabel()
	g.jccTo(x86CCL, g.coldExit(jitabi.Exit{Kind: jitabi.ExitBudget, PC: int32(pc)}, resume))
	g.bind(resume)
}

// divmod: division by zero gives 0, modulo by zero leaves dst (32-bit
// forms zero its upper half), INT_MIN / -1 wraps and INT_MIN % -1 is 0.
func (g *amd64Gen) divmod(in *jitabi.Inst, dst, src x86Reg) {
	a := &g.a
	op := in.Op
	w := op <= jitabi.OpArsh64Reg
	var isImm bool
	switch op {
	case jitabi.OpDiv64Imm, jitabi.OpSDiv64Imm, jitabi.OpMod64Imm, jitabi.OpSMod64Imm,
		jitabi.OpDiv32Imm, jitabi.OpSDiv32Imm, jitabi.OpMod32Imm, jitabi.OpSMod32Imm:
		isImm = true
	default:
		isImm = false
	}
	signed := op == jitabi.OpSDiv64Imm || op == jitabi.OpSDiv64Reg || op == jitabi.OpSMod64Imm || op == jitabi.OpSMod64Reg ||
		op == jitabi.OpSDiv32Imm || op == jitabi.OpSDiv32Reg || op == jitabi.OpSMod32Imm || op == jitabi.OpSMod32Reg
	mod := op == jitabi.OpMod64Imm || op == jitabi.OpMod64Reg || op == jitabi.OpSMod64Imm || op == jitabi.OpSMod64Reg ||
		op == jitabi.OpMod32Imm || op == jitabi.OpMod32Reg || op == jitabi.OpSMod32Imm || op == jitabi.OpSMod32Reg

	byZero := func() {
		switch {
		case !mod:
			a.aluRR(false, x86Xor, dst, dst)
		case !w:
			a.movRR(false, dst, dst)
		}
	}
	byMinus1 := func() {
		if mod {
			a.aluRR(false, x86Xor, dst, dst)
		} else {
			a.group3(w, x86Neg, dst)
		}
	}
	divisor := src
	if isImm {
		v := int32(in.Imm)
		if !w && uint32(v) == 0 || w && v == 0 {
			byZero()
			return
		}
		if signed && v == -1 {
			byMinus1()
			return
		}
		if g.imm(v, rcx) {
			a.movRI(rcx, uint64(int64(v)))
		}
		divisor = rcx
	}
	done := g.newLabel()
	if !isImm {
		zero := g.newLabel()
		a.testRR(w, src, src)
		g.fix = append(g.fix, x86Fixup{a.jcc(x86CCE), zero})
		g.cold = append(g.cold, func() {
			g.bind(zero)
			byZero()
			g.jmpTo(done)
		})
		if signed {
			m1 := g.newLabel()
			a.aluRI(w, x86Cmp, src, -1)
			g.jccTo(x86CCE, m1)
			g.cold = append(g.cold, func() {
				g.bind(m1)
				byMinus1()
				g.jmpTo(done)
			})
		}
	}
	a.movRR(w, rax, dst)
	if signed {
		a.cqo(w)
		a.group3(w, x86IDiv, divisor)
	} else {
		a.aluRR(false, x86Xor, rdx, rdx)
		a.group3(w, x86Div, divisor)
	}
	if mod {
		a.movRR(w, dst, rdx)
	} else {
		a.movRR(w, dst, rax)
	}
	g.bind(done)
}

func (g *amd64Gen) atomic(pc int, in *jitabi.Inst, dst, src x86Reg) {
	a := &g.a
	size := int(in.Size)
	op := uint32(in.Imm)
	w := size == 8
	base := dst
	write := true
	if op == jitabi.AtomicLoadAcq {
		base, write = src, false
	}
	g.vaddr(base, in.Off)
	if size > 1 {
		a.testRI(false, rax, int32(size-1))
		g.jccTo(x86CCNE, g.coldExit(jitabi.Exit{Kind: jitabi.ExitMisaligned, Size: uint8(size), PC: int32(pc)}, -1))
	}
	g.translateRAX(pc, size, write, jitabi.AccessAtomic)
	at := mdisp(rcx, 0)
	if op != jitabi.AtomicLoadAcq {
		src = g.val(in.Src, rdx) // r10 only where Load allows it: no fetch
	}
	switch op {
	case jitabi.AtomicLoadAcq:
		a.load(size, false, dst, at)
	case jitabi.AtomicStoreRl:
		a.store(size, at, src)
	case jitabi.AtomicAdd:
		a.lockALU(w, x86Add, at, src)
	case jitabi.AtomicOr:
		a.lockALU(w, x86Or, at, src)
	case jitabi.AtomicAnd:
		a.lockALU(w, x86And, at, src)
	case jitabi.AtomicXor:
		a.lockALU(w, x86Xor, at, src)
	case jitabi.AtomicAdd | jitabi.AtomicFetch:
		a.lockXadd(w, at, src)
		if !w {
			a.movRR(false, src, src)
		}
	case jitabi.AtomicXchg:
		a.xchg(w, at, src)
		if !w {
			a.movRR(false, src, src)
		}
	case jitabi.AtomicCmpXchg:
		a.movRR(true, rax, amd64Regs[0])
		a.lockCmpxchg(w, at, src)
		a.movRR(w, amd64Regs[0], rax)
	case jitabi.AtomicOr | jitabi.AtomicFetch, jitabi.AtomicAnd | jitabi.AtomicFetch, jitabi.AtomicXor | jitabi.AtomicFetch:
		alu := map[uint32]x86ALU{jitabi.AtomicOr: x86Or, jitabi.AtomicAnd: x86And, jitabi.AtomicXor: x86Xor}[op&^jitabi.AtomicFetch]
		loop := g.newLabel()
		a.load(size, false, rax, at)
		g.bind(loop)
		a.movRR(w, rdx, rax)
		a.aluRR(w, alu, rdx, src)
		a.lockCmpxchg(w, at, rdx)
		g.jccTo(x86CCNE, loop)
		a.movRR(w, src, rax)
	default:
		g.leave(g.exit(jitabi.Exit{Kind: jitabi.ExitFellOff, PC: int32(pc)}, -1))
	}
}

// callLocal: push a BPF frame in the state block and jump to the callee.
func (g *amd64Gen) callLocal(pc int, in *jitabi.Inst) {
	a := &g.a
	a.load(8, false, rax, hm(hST))
	a.load(8, false, rcx, mdisp(rax, jitabi.OffDepth))
	a.lea(rdx, mdisp(rcx, 1))
	a.aluRI(true, x86Cmp, rdx, jitabi.MaxCallDepth)
	g.jccTo(x86CCAE, g.coldExit(jitabi.Exit{Kind: jitabi.ExitCallDepth, PC: int32(pc)}, -1))
	a.store(8, mdisp(rax, jitabi.OffDepth), rdx)
	skip := g.newLabel()
	a.aluRM(true, x86Cmp, rdx, mdisp(rax, jitabi.OffMaxDepth))
	g.jccTo(x86CCBE, skip)
	a.store(8, mdisp(rax, jitabi.OffMaxDepth), rdx)
	g.bind(skip)
	a.imulRRI(true, rcx, rcx, jitabi.SizeFrame)
	a.lea(rcx, x86Mem{base: rax, index: rcx, scale: 1, disp: jitabi.OffFrames})
	at := a.lea(rdx, x86Mem{rip: true})
	g.fix = append(g.fix, x86Fixup{at, g.charge[pc+1]})
	a.store(8, mdisp(rcx, jitabi.OffFrameRet), rdx)
	a.storeImm(8, mdisp(rcx, jitabi.OffFrameRun), int32(in.NF))
	for i, r := range amd64Regs[6:10] {
		a.store(8, mdisp(rcx, jitabi.OffFrameSaved+int32(8*i)), r)
	}
	a.movRR(true, rdx, rbp)
	a.aluRM(true, x86Sub, rdx, hm(hSD))
	a.store(8, mdisp(rcx, jitabi.OffFrameSaved+32), rdx)
	a.aluRI(true, x86Sub, rbp, jitabi.StackSize)
	g.moveStack(-jitabi.StackSize)
	a.movRI32(rax, uint32(pc))
	g.jmpTo(g.charge[in.Off])
}

// moveStack moves the stack region's start by d bytes (rax = state).
func (g *amd64Gen) moveStack(d int32) {
	a := &g.a
	a.load(8, false, rcx, mdisp(rax, jitabi.OffRegions))
	a.aluMI(true, x86Add, mdisp(rcx, jitabi.OffRegBase), d)
	a.aluMI(true, x86Add, mdisp(rcx, jitabi.OffRegHost), d)
	for i := range int32(4) {
		a.aluMI(true, x86Sub, mdisp(rcx, jitabi.OffRegLim1+8*i), d)
	}
	g.invalidateCaches()
}

// ret: exit from a BPF function, or from the program.
func (g *amd64Gen) ret(pc int) {
	a := &g.a
	a.load(8, false, rax, hm(hST))
	a.load(8, false, rcx, mdisp(rax, jitabi.OffDepth))
	a.aluRM(true, x86Cmp, rcx, mdisp(rax, jitabi.OffBaseDepth))
	g.jccTo(x86CCE, g.coldExit(jitabi.Exit{Kind: jitabi.ExitDone, PC: int32(pc)}, -1))
	a.aluRI(true, x86Sub, rcx, 1)
	a.store(8, mdisp(rax, jitabi.OffDepth), rcx)
	a.imulRRI(true, rcx, rcx, jitabi.SizeFrame)
	a.lea(rdx, x86Mem{base: rax, index: rcx, scale: 1, disp: jitabi.OffFrames})
	for i, r := range amd64Regs[6:10] {
		a.load(8, false, r, mdisp(rdx, jitabi.OffFrameSaved+int32(8*i)))
	}
	a.aluRI(true, x86Add, rbp, jitabi.StackSize)
	g.moveStack(jitabi.StackSize)
	a.movRI32(rax, uint32(pc))
	a.jmpM(mdisp(rdx, jitabi.OffFrameRet))
}
