package jit

import (
	"fmt"

	"github.com/wagglebpf/waggle/vm/internal/jitabi"
)

// The amd64 back end.
//
// Register mapping (fixed):
//
//	BPF   r0  r1  r2  r3 r4 r5  r6  r7  r8  r9  r10(host address)  budget
//	x86   rbx rdi rsi r8 r9 r10 r12 r13 r14 r15 rbp                r11
//
// rax is scratch: dead between BPF instructions. rcx and rdx hold the
// bounds of mem (region 1 of the table, always at the virtual address
// vm.MemAddr): rcx its Lim8 (its length less 7, or 0), rdx the host
// address of its first byte. They are copies of the scratch area's
// hLim and hHost, so that an instruction that needs more scratch
// registers (division, shifts by a register, atomics, calls, blinded
// immediates, the slow paths) may use them and reload them after
// (restoreMem); exits clobber them and the entry sequence loads them. r10
// is kept as the host address of the frame, so that a stack access with a
// constant offset inside the current frame is one instruction; its virtual
// value (what the program sees when it copies r10) is rbp minus the stack
// delta.
//
// Scratch area. The trampoline (enter_amd64.s) calls the code with rsp 8
// bytes below a 152-byte area of its own frame, H = rsp+8 (rsp+16 inside
// the refill stubs, the only calls native code makes):
//
//	H+0    the state block pointer
//	H+8    the caller's rbp
//	H+16   the stack delta (host address of the stack minus StackAddr)
//	H+24   a spill slot for the refill stubs
//	H+32   the load cache: base, host, lim1, lim2, lim4, lim8 of a region
//	H+80   the store cache, the same
//	H+128  mem's Lim8 and host address (what rcx and rdx hold)
//	H+144  a spill slot for BPF returns
//
// Memory accesses. An access through r10 at a constant offset inside the
// current frame is one instruction. Any other first tries mem, inline: the
// offset of its address from MemAddr (one lea) is compared with rcx, and
// the access is made at rdx plus that offset when the address is in mem
// with 8 bytes to spare. (Making it at rdx plus the address plus a
// displacement would save the lea's subtraction, but stores with such an
// operand ran the sieve a third slower.) Otherwise (another region, or
// the last 7 bytes of mem) a cold path tries the caches, the
// interpreter's: the last region that a load (store) hit. An access is
// inside the cached region when (addr-base) < limN: one compare;
// otherwise a refill stub scans the region table and refills the cache,
// or reports that no region holds the access and the code leaves with
// ExitFault. The caches are reset on every entry and on BPF calls and
// returns (which move the stack region). Accesses through r10 outside the
// current frame go to the caches directly, and accesses that the verifier
// proved (jitabi.Program.Proven) are made with no check at all: in mem at
// rdx plus the address less MemAddr, in the stack at the stack delta plus
// the address.
//
// Budget. Exact code checks ahead (see deferral in labels.go and jitabi's
// Budget section): the charges are subtractions from r11, most of them
// deferred and made at once, and a check is a jl after one of them, to a
// cold exit. Coarse code charges at checkpoints only.
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
	hLim    = 128
	hHost   = 136
	hRet    = 144
	hSize   = 152
	cBase   = 0
	cHost   = 8
	cLim1   = 16
	amd64SP = rsp
)

var _ = register("amd64", &backend{compile: compileAMD64, disasm: disasmFor("amd64")})

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
	// Exact accounting defers charges and checks ahead (see deferral).
	deferral deferral

	// calls is set when the program makes local calls; loopHead[pc] when
	// a jump goes back to pc.
	calls    bool
	loopHead []bool
	// usesProofs is set once an access relies on the verifier's proofs;
	// returns are the labels where local calls return, by the pc there.
	usesProofs bool
	returns    map[int]x86Label
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
	} else {
		g.deferral = planDeferral(p, g.labels)
	}
	if opts.Blind {
		g.key = blindKey()
	}
	g.loopHead = make([]bool, n)
	for pc := range n {
		g.calls = g.calls || !p.Second[pc] && p.Insts[pc].Op == jitabi.OpCallLocal
		if in := &p.Insts[pc]; !p.Second[pc] && isBranch(in.Op) && int(in.Off) <= pc {
			g.loopHead[in.Off] = true
		}
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
	var returns map[uint32]int32
	if len(g.returns) > 0 {
		returns = map[uint32]int32{}
		for pc, l := range g.returns {
			returns[uint32(g.lbl[l])] = int32(pc)
		}
	}
	return &Assembly{Arch: "amd64", Text: g.a.b, Start: uint32(g.lbl[start]), Exits: g.exits, PCs: pcs, Notes: g.notes, CoarseBudget: g.coarse,
		UsesProofs: g.usesProofs, Returns: returns, Bias: g.deferral.bias, Lookahead: !g.coarse}, nil
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
	a.load(8, false, rcx, mdisp(rdi, jitabi.OffRegions))
	a.load(8, false, rdx, mdisp(rcx, jitabi.SizeRegion+jitabi.OffRegHost))
	a.load(8, false, rcx, mdisp(rcx, jitabi.SizeRegion+jitabi.OffRegLim8))
	a.store(8, hm(hLim), rcx)
	a.store(8, hm(hHost), rdx)
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

// proven returns the operand of the access at pc through BPF register
// base plus off when the verifier proved where it lies
// (jitabi.Program.Proven), so that it needs no check; rax may hold part
// of the address.
func (g *amd64Gen) proven(pc int, base uint8, off int32) (x86Mem, bool) {
	if g.p.Proven == nil {
		return x86Mem{}, false
	}
	r := amd64Regs[base%11]
	switch g.p.Proven[pc] {
	case jitabi.ProvenMem:
		if base%11 == 10 {
			return x86Mem{}, false
		}
		g.usesProofs = true
		return x86Mem{base: rdx, index: r, scale: 1, disp: off - jitabi.MemAddr}, true
	case jitabi.ProvenStack:
		if base%11 == 10 {
			return mdisp(rbp, off), true // rbp is r10's host address
		}
		g.usesProofs = true
		g.a.load(8, false, rax, hm(hSD))
		return x86Mem{base: rax, index: r, scale: 1, disp: off}, true
	}
	return x86Mem{}, false
}

// restoreMem reloads rcx and rdx, mem's bounds, after code that used them
// as scratch registers.
func (g *amd64Gen) restoreMem() {
	g.a.load(8, false, rcx, hm(hLim))
	g.a.load(8, false, rdx, hm(hHost))
}

// accessFunc emits a load or store at operand at; tmp is a scratch
// register it may use (for r10's value or a blinded immediate).
type accessFunc func(at x86Mem, tmp x86Reg)

// memAccess emits an access of size bytes at BPF register base plus off,
// made by emit once the address is translated (see the package comment on
// memory accesses); on failure the code leaves with ExitFault. useTmp says
// whether emit uses its scratch register.
func (g *amd64Gen) memAccess(pc int, base uint8, off int32, size int, write bool, access uint8, useTmp bool, emit accessFunc) {
	a := &g.a
	if base%11 == 10 {
		g.vaddr(rbp, off)
		g.cachedAccess(pc, size, write, access, emit)
		return
	}
	a.lea(rax, mdisp(amd64Regs[base%11], off-jitabi.MemAddr))
	a.aluRR(true, x86Cmp, rax, rcx)
	slow, done := g.newLabel(), g.newLabel()
	g.jccTo(x86CCAE, slow)
	emit(x86Mem{base: rdx, index: rax, scale: 1}, rcx)
	if useTmp {
		a.load(8, false, rcx, hm(hLim))
	}
	g.bind(done)
	g.cold = append(g.cold, func() {
		g.bind(slow)
		a.lea(rax, mdisp(rax, jitabi.MemAddr))
		g.cachedAccess(pc, size, write, access, emit)
		g.jmpTo(done)
	})
}

// cachedAccess emits the access of size bytes at the virtual address in
// rax through the load or store cache and, when that misses, the refill
// stubs. It leaves rcx and rdx as it found them.
func (g *amd64Gen) cachedAccess(pc int, size int, write bool, access uint8, emit accessFunc) {
	a := &g.a
	g.translateRAX(pc, size, write, access)
	emit(mdisp(rcx, 0), rax)
	a.load(8, false, rcx, hm(hLim))
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

// translateRAX translates the virtual address in rax for an access of
// size bytes through the load or store cache: afterwards rcx holds the
// host address (rax still the virtual one). rdx is kept. On failure the
// code leaves with ExitFault.
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
	fault := g.exit(jitabi.Exit{Kind: jitabi.ExitFault, Access: access, Size: uint8(size), PC: int32(pc), Owed: g.owed(pc)}, -1)
	g.cold = append(g.cold, func() {
		g.bind(slow)
		g.callTo(g.refill[w][idx])
		a.load(8, false, rdx, hm(hHost))
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
	g.a.load(8, false, rdx, hm(hHost))
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
		if g.loopHead[pc] {
			g.a.align(32)
		}
		g.bind(g.charge[pc])
		if w := g.weight[pc]; w > 0 {
			a.aluRI(true, x86Sub, rBudget, int32(w))
			g.jccTo(x86CCL, g.coldExit(jitabi.Exit{Kind: jitabi.ExitBudget, PC: int32(pc)}, g.body[pc]))
		}
	} else {
		d := &g.deferral
		// Control falling in owes the canonical amount of a merge point,
		// or pays with a check into a checkpoint.
		g.adjustBudget(d.adjust[pc])
		if d.entered[pc] {
			g.chargeAt(d.enter[pc], pc)
		}
		if d.checkpoint[pc] && d.into[pc] > 0 {
			n := int64(p.Runs[pc])
			if s := d.sole[pc]; s >= 0 {
				n = d.edge[s]
			}
			switch {
			case g.loopHead[pc] || !g.fallsInto(pc):
				// Inline, where control comes by the jumps every
				// time round a loop; falling in, control skips the
				// charge: it made its own.
				if g.fallsInto(pc) {
					g.jmpTo(g.body[pc])
				}
				if g.loopHead[pc] {
					g.a.align(32)
				}
				g.bind(g.charge[pc])
				g.chargeAt(n, pc)
			default:
				// Out of line, so that control falling in does not jump.
				body := g.body[pc]
				g.cold = append(g.cold, func() {
					g.bind(g.charge[pc])
					g.chargeAt(n, pc)
					g.jmpTo(body)
				})
			}
		} else {
			g.bind(g.charge[pc])
		}
	}
	if g.loopHead[pc] && !g.coarse && g.deferral.into[pc] == 0 {
		g.a.align(32)
	}
	g.bind(g.body[pc])
	if !g.coarse && g.deferral.flushed[pc] {
		g.chargeAt(g.deferral.flush[pc], pc)
	}
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
		a.aluRR(op < jitabi.OpAdd32Imm, aluOf[op-1], dst, g.val(in.Src, rax))
	case jitabi.OpMul64Imm, jitabi.OpMul32Imm:
		w := op == jitabi.OpMul64Imm
		if g.imm(imm32, rax) {
			a.imulRRI(w, dst, dst, imm32)
		} else {
			a.imulRR(w, dst, rax)
		}
	case jitabi.OpMul64Reg, jitabi.OpMul32Reg:
		a.imulRR(op == jitabi.OpMul64Reg, dst, g.val(in.Src, rax))
	case jitabi.OpDiv64Imm, jitabi.OpDiv64Reg, jitabi.OpSDiv64Imm, jitabi.OpSDiv64Reg,
		jitabi.OpMod64Imm, jitabi.OpMod64Reg, jitabi.OpSMod64Imm, jitabi.OpSMod64Reg,
		jitabi.OpDiv32Imm, jitabi.OpDiv32Reg, jitabi.OpSDiv32Imm, jitabi.OpSDiv32Reg,
		jitabi.OpMod32Imm, jitabi.OpMod32Reg, jitabi.OpSMod32Imm, jitabi.OpSMod32Reg:
		g.divmod(in, dst, g.val(in.Src, rcx))
		g.restoreMem()
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
		a.load(8, false, rcx, hm(hLim))
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
		if src = g.val(in.Src, dst); dst != src {
			a.movRR(true, dst, src)
		}
	case jitabi.OpMov32Reg:
		a.movRR(false, dst, g.val(in.Src, rax))
	case jitabi.OpMovSX8to64:
		a.movsx8(true, dst, g.val(in.Src, rax))
	case jitabi.OpMovSX16to64:
		a.movsx16(true, dst, g.val(in.Src, rax))
	case jitabi.OpMovSX32to64:
		a.movsxd(dst, g.val(in.Src, rax))
	case jitabi.OpMovSX8to32:
		a.movsx8(false, dst, g.val(in.Src, rax))
	case jitabi.OpMovSX16to32:
		a.movsx16(false, dst, g.val(in.Src, rax))
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
		if g.coarse {
			g.jmpTo(g.charge[in.Off])
			break
		}
		d := &g.deferral
		switch {
		case !d.checkpoint[in.Off]:
			g.adjustBudget(d.edge[pc]) // to the canonical amount there
		case d.sole[in.Off] == int32(pc):
			g.jmpTo(g.charge[in.Off]) // the target makes this jump's charge
			return nil
		default:
			g.chargeAt(d.edge[pc], int(in.Off))
		}
		g.jmpTo(g.body[in.Off])
	case jitabi.OpJeqReg, jitabi.OpJgtReg, jitabi.OpJgeReg, jitabi.OpJsetReg, jitabi.OpJneReg,
		jitabi.OpJsgtReg, jitabi.OpJsgeReg, jitabi.OpJltReg, jitabi.OpJleReg, jitabi.OpJsltReg, jitabi.OpJsleReg,
		jitabi.OpJeq32Reg, jitabi.OpJgt32Reg, jitabi.OpJge32Reg, jitabi.OpJset32Reg, jitabi.OpJne32Reg,
		jitabi.OpJsgt32Reg, jitabi.OpJsge32Reg, jitabi.OpJlt32Reg, jitabi.OpJle32Reg, jitabi.OpJslt32Reg, jitabi.OpJsle32Reg:
		w := op <= jitabi.OpJsleReg
		dst, src := g.val(in.Dst, rax), g.val(in.Src, rax)
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
		dst := g.val(in.Dst, rax)
		switch {
		case !g.imm(imm32, rdx) && set:
			a.testRR(w, dst, rdx)
		case !g.opts.Blind && set:
			a.testRI(w, dst, imm32)
		case g.opts.Blind:
			a.aluRR(w, x86Cmp, dst, rdx)
		case imm32 == 0 && g.zeroFlagSet(pc, w, condOf[op]):
			// The instruction before left the flags this needs.
		case imm32 == 0:
			a.testRR(w, dst, dst) // the same flags as cmp dst, 0
		default:
			a.aluRI(w, x86Cmp, dst, imm32)
		}
		if g.opts.Blind {
			a.load(8, false, rdx, hm(hHost)) // a mov keeps the flags
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
		if at, ok := g.proven(pc, in.Src, off); ok {
			a.load(size, sx, dst, at)
			break
		}
		g.memAccess(pc, in.Src, off, size, false, jitabi.AccessLoad, false, func(at x86Mem, _ x86Reg) {
			a.load(size, sx, dst, at)
		})
	case jitabi.OpStB, jitabi.OpStH, jitabi.OpStW, jitabi.OpStDW:
		size := [...]int{1, 2, 4, 8}[op-jitabi.OpStB]
		emit := func(at x86Mem, tmp x86Reg) {
			if g.opts.Blind {
				g.imm(imm32, tmp)
				a.store(size, at, tmp)
			} else {
				a.storeImm(size, at, imm32)
			}
		}
		if in.Dst == 10 && stackFast(in.Off, size) {
			emit(mdisp(rbp, in.Off), rax)
			break
		}
		if at, ok := g.proven(pc, in.Dst, in.Off); ok {
			emit(at, rcx)
			if g.opts.Blind {
				a.load(8, false, rcx, hm(hLim))
			}
			break
		}
		g.memAccess(pc, in.Dst, in.Off, size, true, jitabi.AccessStore, g.opts.Blind, emit)
	case jitabi.OpStxB, jitabi.OpStxH, jitabi.OpStxW, jitabi.OpStxDW:
		size := [...]int{1, 2, 4, 8}[op-jitabi.OpStxB]
		if in.Dst == 10 && stackFast(in.Off, size) {
			a.store(size, mdisp(rbp, in.Off), g.val(in.Src, rax))
			break
		}
		if at, ok := g.proven(pc, in.Dst, in.Off); ok {
			if in.Src%11 == 10 {
				// rax may be the operand's base: r10's value in rcx.
				a.store(size, at, g.val(in.Src, rcx))
				a.load(8, false, rcx, hm(hLim))
			} else {
				a.store(size, at, amd64Regs[in.Src%11])
			}
			break
		}
		g.memAccess(pc, in.Dst, in.Off, size, true, jitabi.AccessStore, in.Src%11 == 10, func(at x86Mem, tmp x86Reg) {
			a.store(size, at, g.val(in.Src, tmp))
		})
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
	g.restoreMem()
}

// branch emits the jump of the conditional jump at pc, whose flags are
// set, and the charge of its fall-through.
func (g *amd64Gen) branch(pc int, c x86Cond) {
	in := &g.p.Insts[pc]
	if g.coarse {
		g.jccTo(c, g.charge[in.Off])
		return
	}
	// The fall-through's charge is owed (see deferral). Into a
	// checkpoint, the target makes this jump's charge: its own, or, when
	// others jump there too, its run's, which is the same (the jump paid
	// what it owed before). Into a merge point, the jump owes what is
	// owed there, or pays the difference on the way.
	d := &g.deferral
	t := in.Off
	switch adj := d.edge[pc]; {
	case d.checkpoint[t]:
		g.jccTo(c, g.charge[t])
	case adj == 0:
		g.jccTo(c, g.body[t])
	default:
		stub := g.newLabel()
		g.jccTo(c, stub)
		g.cold = append(g.cold, func() {
			g.bind(stub)
			g.adjustBudget(adj)
			g.jmpTo(g.body[t])
		})
	}
}

// adjustBudget charges n (which may be negative: a refund) without a
// check, in exact code that checks ahead.
func (g *amd64Gen) adjustBudget(n int64) {
	switch {
	case n > 0:
		g.a.aluRI(true, x86Sub, rBudget, int32(n))
	case n < 0:
		g.a.aluRI(true, x86Add, rBudget, int32(-n))
	}
}

// chargeAt charges n to the budget in exact code and checks that what is
// left covers the bias: when not, it leaves with an ExitBudget whose PC
// is pc, the instruction that control goes on to, where the interpreter
// can take over (see jitabi's Budget section).
func (g *amd64Gen) chargeAt(n int64, pc int) {
	resume := g.newLabel()
	g.a.aluRI(true, x86Sub, rBudget, int32(n))
	g.jccTo(x86CCL, g.coldExit(jitabi.Exit{Kind: jitabi.ExitBudget, PC: int32(pc)}, resume))
	g.bind(resume)
}

// owed is what the exact code owes the budget at pc (see deferral), for
// the exits there.
func (g *amd64Gen) owed(pc int) uint32 {
	if g.coarse {
		return 0
	}
	return uint32(g.deferral.owed[pc])
}

// zeroFlagSet reports whether the flags that the x86 code of the
// instruction before pc leaves are those that testing pc's destination
// register against 0 would set, as far as condition c goes (equal or not
// equal), with nothing between: that instruction is an add, sub, and, or
// or xor on the same register, as wide as the test (or 32 bits, whose
// result is zero-extended), and control reaches pc only from it.
func (g *amd64Gen) zeroFlagSet(pc int, w bool, c x86Cond) bool {
	if c != x86CCE && c != x86CCNE || pc == 0 || g.p.Second[pc-1] || g.labels.at[pc] {
		return false
	}
	if g.coarse && g.weight[pc] > 0 || !g.coarse && g.deferral.flushed[pc] {
		return false // a charge comes between
	}
	prev, in := &g.p.Insts[pc-1], &g.p.Insts[pc]
	if prev.Dst != in.Dst || in.Dst%11 == 10 {
		return false
	}
	switch prev.Op {
	case jitabi.OpAdd64Imm, jitabi.OpAdd64Reg, jitabi.OpSub64Imm, jitabi.OpSub64Reg, jitabi.OpOr64Imm, jitabi.OpOr64Reg,
		jitabi.OpAnd64Imm, jitabi.OpAnd64Reg, jitabi.OpXor64Imm, jitabi.OpXor64Reg:
		return w
	case jitabi.OpAdd32Imm, jitabi.OpAdd32Reg, jitabi.OpSub32Imm, jitabi.OpSub32Reg, jitabi.OpOr32Imm, jitabi.OpOr32Reg,
		jitabi.OpAnd32Imm, jitabi.OpAnd32Reg, jitabi.OpXor32Imm, jitabi.OpXor32Reg:
		return true
	}
	return false
}

// fallsInto reports whether the instruction before pc can continue at pc.
func (g *amd64Gen) fallsInto(pc int) bool {
	prev := pc - 1
	if prev >= 0 && g.p.Second[prev] {
		prev--
	}
	if prev < 0 {
		return false
	}
	op := g.p.Insts[prev].Op
	return op != jitabi.OpJa && op != jitabi.OpExit && op != jitabi.OpCallLocal
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
		g.jccTo(x86CCNE, g.coldExit(jitabi.Exit{Kind: jitabi.ExitMisaligned, Size: uint8(size), PC: int32(pc), Owed: g.owed(pc)}, -1))
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
	g.restoreMem()
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
	if g.returns == nil {
		g.returns = map[int]x86Label{}
	}
	g.returns[pc+1] = g.charge[pc+1]
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
	g.restoreMem()
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
	if !g.calls {
		// No local calls: every exit ends the run.
		g.leave(g.exit(jitabi.Exit{Kind: jitabi.ExitDone, PC: int32(pc)}, -1))
		return
	}
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
	a.load(8, false, rcx, mdisp(rdx, jitabi.OffFrameRet))
	a.store(8, hm(hRet), rcx)
	g.restoreMem()
	a.jmpM(hm(hRet))
}
