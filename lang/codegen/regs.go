package codegen

import (
	"fmt"

	"github.com/cilium/ebpf/asm"
)

// Registers: R0-R5 are clobbered by helper calls and used only within one
// emitted sequence; R6 holds the context for the whole program; R7-R9
// are callee-saved and hold intermediate integer values. When all three
// are taken, the value held longest is spilled to the stack and reloaded
// when it is used.
const ctxReg = asm.R6

var poolRegs = []asm.Register{asm.R7, asm.R8, asm.R9}

// ival is an integer (or pointer) value under evaluation: a constant, in a
// register, or spilled to a stack slot.
type ival struct {
	isImm bool
	imm   int64
	reg   asm.Register // valid when inReg
	inReg bool
	slot  int16 // valid when spilled
	// pinned values are operands of the instruction being emitted and
	// must not be spilled.
	pinned bool
	id     int
}

// regalloc hands out pool registers and spills when they run out.
type regalloc struct {
	g      *gen
	owner  map[asm.Register]*ival
	nextID int
}

func newRegalloc(g *gen) *regalloc {
	return &regalloc{g: g, owner: map[asm.Register]*ival{}}
}

// newVal returns a value that will live in a register.
func (r *regalloc) newVal() *ival {
	r.nextID++
	v := &ival{id: r.nextID}
	v.reg = r.take(v)
	v.inReg = true
	return v
}

func imm(k int64) *ival { return &ival{isImm: true, imm: k} }

// take finds a free register for v, spilling the oldest unpinned value if
// none is free.
func (r *regalloc) take(v *ival) asm.Register {
	for _, reg := range poolRegs {
		if r.owner[reg] == nil {
			r.owner[reg] = v
			return reg
		}
	}
	var victim *ival
	for _, reg := range poolRegs {
		o := r.owner[reg]
		if o.pinned {
			continue
		}
		if victim == nil || o.id < victim.id {
			victim = o
		}
	}
	if victim == nil {
		panic("codegen: every register is pinned")
	}
	reg := victim.reg
	slot := r.g.stack.alloc(8)
	r.g.emit(asm.StoreMem(asm.RFP, slot, reg, asm.DWord))
	victim.inReg, victim.slot = false, slot
	r.owner[reg] = v
	return reg
}

// use returns a register holding v's value and pins it until unpin.
func (r *regalloc) use(v *ival) asm.Register {
	switch {
	case v.inReg:
	case v.isImm:
		r.nextID++
		v.id = r.nextID
		v.reg = r.take(v)
		v.inReg, v.isImm = true, false
		if v.imm >= -1<<31 && v.imm < 1<<31 {
			// mov sign-extends its 32-bit constant: one slot, not two.
			r.g.emit(asm.Mov.Imm(v.reg, int32(v.imm)))
		} else {
			r.g.emit(asm.LoadImm(v.reg, v.imm, asm.DWord))
		}
	default:
		r.nextID++
		v.id = r.nextID
		v.reg = r.take(v)
		v.inReg = true
		r.g.emit(asm.LoadMem(v.reg, asm.RFP, v.slot, asm.DWord))
	}
	v.pinned = true
	return v.reg
}

func (r *regalloc) unpin(vs ...*ival) {
	for _, v := range vs {
		v.pinned = false
	}
}

// free releases v's register.
func (r *regalloc) free(v *ival) {
	if v == nil || !v.inReg {
		return
	}
	if r.owner[v.reg] == v {
		delete(r.owner, v.reg)
	}
	v.inReg, v.pinned = false, false
}

// spillAll moves every value held in a register to the stack. Code that
// branches calls it first, so that on every path to a join each value is
// where the other paths expect it (in its stack slot).
func (r *regalloc) spillAll() {
	for _, reg := range poolRegs {
		v := r.owner[reg]
		if v == nil {
			continue
		}
		slot := r.g.stack.alloc(8)
		r.g.emit(asm.StoreMem(asm.RFP, slot, reg, asm.DWord))
		v.inReg, v.pinned, v.slot = false, false, slot
		delete(r.owner, reg)
	}
}

// freeAll releases every register (between statements no value is live).
func (r *regalloc) freeAll() {
	r.owner = map[asm.Register]*ival{}
}

// stack is the probe's 512-byte BPF stack: slots for scratch variables for
// the whole probe, and temporaries released at the end of each statement.
type stack struct {
	used int // bytes in use, growing down from R10
	max  int
	err  error
}

const stackSize = 512

// alloc reserves n bytes (rounded up to 8) and returns their offset from R10.
func (s *stack) alloc(n int) int16 {
	n = (n + 7) &^ 7
	s.used += n
	if s.used > s.max {
		s.max = s.used
	}
	if s.used > stackSize && s.err == nil {
		s.err = fmt.Errorf("the probe needs more than %d bytes of BPF stack; use fewer or shorter strings (config = { max_strlen = N })", stackSize)
	}
	if s.used > stackSize {
		// Keep generating valid offsets; the error is reported.
		return -8
	}
	return int16(-s.used)
}

func (s *stack) mark() int        { return s.used }
func (s *stack) release(mark int) { s.used = mark }

// stImm stores a constant that fits in 32 bits (sign-extended by the
// kernel) as a 64-bit value: BPF_ST | BPF_MEM | BPF_DW, which cilium/ebpf's
// asm.StoreImm does not build.
func stImm(dst asm.Register, off int16, v int64) asm.Instruction {
	if v < -1<<31 || v >= 1<<31 {
		panic("codegen: stImm constant does not fit in 32 bits")
	}
	return asm.Instruction{OpCode: asm.StoreImmOp(asm.DWord), Dst: dst, Offset: off, Constant: v}
}
