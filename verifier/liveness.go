package verifier

import "github.com/cilium/ebpf/asm"

// regSet is a set of registers r0-r10 as bits.
type regSet uint16

func regBit(r asm.Register) regSet { return 1 << r }

const argRegs = regSet(0b111110) // r1-r5
const callerSaved = argRegs | 1  // r0-r5

// useDef returns the registers an instruction reads and writes.
func (v *verifier) useDef(ins *asm.Instruction) (use, def regSet) {
	op := ins.OpCode
	reg := op.Source() == asm.RegSource
	switch cls := op.Class(); {
	case cls.IsALU():
		switch a := op.ALUOp(); a {
		case asm.Mov, asm.MovSX8, asm.MovSX16, asm.MovSX32:
			if reg {
				use = regBit(ins.Src)
			}
		case asm.Neg, asm.Swap:
			use = regBit(ins.Dst)
		default:
			use = regBit(ins.Dst)
			if reg {
				use |= regBit(ins.Src)
			}
		}
		def = regBit(ins.Dst)
	case cls == asm.LdXClass:
		use, def = regBit(ins.Src), regBit(ins.Dst)
	case cls == asm.LdClass:
		if op.IsDWordLoad() {
			return 0, regBit(ins.Dst)
		}
		use = regBit(asm.R6)
		if op.Mode() == asm.IndMode {
			use |= regBit(ins.Src)
		}
		def = callerSaved
	case cls == asm.StClass:
		use = regBit(ins.Dst)
	case cls == asm.StXClass:
		use = regBit(ins.Dst) | regBit(ins.Src)
		if op.Mode() == asm.AtomicMode {
			switch op.AtomicOp() {
			case asm.CmpXchg:
				use |= regBit(asm.R0)
				def = regBit(asm.R0)
			case asm.FetchAdd, asm.FetchOr, asm.FetchAnd, asm.FetchXor, asm.Xchg:
				def = regBit(ins.Src)
			}
		}
	case cls.IsJump():
		switch op.JumpOp() {
		case asm.Exit:
			use = regBit(asm.R0)
		case asm.Call:
			use = argRegs
			if h, ok := v.helpers[int32(ins.Constant)]; ok && ins.Src == 0 && len(h.Args) <= 5 {
				use = 0
				for i := range h.Args {
					use |= regBit(asm.R1 + asm.Register(i))
				}
			}
			def = callerSaved
		case asm.Ja:
		default:
			use = regBit(ins.Dst)
			if reg {
				use |= regBit(ins.Src)
			}
		}
	}
	return use, def
}

// computeLiveness finds, for every instruction, the registers that some
// path from it may read before writing. A call's successor is the
// instruction after it: the callee is a function of its own, whose exit
// reads only r0, and the caller's r6-r9 survive it.
func (v *verifier) computeLiveness() {
	n := len(v.insns)
	v.liveIn = make([]regSet, n)
	use := make([]regSet, n)
	def := make([]regSet, n)
	for pc, ins := range v.insns {
		if ins != nil {
			use[pc], def[pc] = v.useDef(ins)
		}
	}
	for changed := true; changed; {
		changed = false
		for pc := n - 1; pc >= 0; pc-- {
			ins := v.insns[pc]
			if ins == nil {
				continue
			}
			var out regSet
			next := pc + int(ins.Size()/asm.InstructionSize)
			switch {
			case !ins.OpCode.Class().IsJump():
				out = v.liveAt(next)
			case ins.OpCode.JumpOp() == asm.Exit:
			case ins.OpCode.JumpOp() == asm.Call:
				out = v.liveAt(next)
			default:
				t, _ := jumpTarget(ins, pc)
				out = v.liveAt(t)
				if ins.OpCode.JumpOp() != asm.Ja {
					out |= v.liveAt(next)
				}
			}
			in := use[pc] | out&^def[pc]
			if in != v.liveIn[pc] {
				v.liveIn[pc] = in
				changed = true
			}
		}
	}
}

func (v *verifier) liveAt(pc int) regSet {
	if pc < 0 || pc >= len(v.liveIn) {
		return 0
	}
	return v.liveIn[pc]
}

// forgetDead clears what no path from pc can read: dead registers of the
// running frame, and in callers' saved registers everything but the
// live r6-r9 at the return point. A state so cleaned covers more states.
func (v *verifier) forgetDead(st *state, pc int) {
	live := v.liveAt(pc) | regBit(asm.R10)
	for r := range st.regs {
		if live&(1<<r) == 0 {
			st.regs[r] = reg{}
		}
	}
	for i := 1; i < len(st.frames); i++ {
		f := &st.frames[i]
		ret := v.liveAt(f.callsite+1) | regBit(asm.R10)
		for i := range f.saved {
			if ret&regBit(asm.R6+asm.Register(i)) == 0 {
				f.saved[i] = reg{}
			}
		}
	}
}
