package verifier

import (
	"math"

	"github.com/cilium/ebpf/asm"
)

// legacyLoad checks LD_ABS/LD_IND: a load from the socket buffer in r6
// that ends the program with r0 = 0 when out of bounds. It clobbers r1-r5.
func (v *verifier) legacyLoad(pc int, st *state, ins *asm.Instruction) *Rejection {
	r6 := st.regs[asm.R6]
	if r6.t != ptrCtx || r6.off != 0 {
		return v.rejectAt(pc, st, []asm.Register{asm.R6}, "legacy packet loads read the socket buffer in r6, but r6 holds a %s", r6.t)
	}
	if st.depth() > 0 {
		return v.rejectAt(pc, st, nil, notYet+"legacy packet loads inside called functions")
	}
	if len(st.refs) > 0 {
		ref := st.refs[0]
		return v.rejectAt(pc, st, nil, "a legacy packet load may end the program while the memory reserved at insn %d is still held", ref.pc)
	}
	if ins.OpCode.Mode() == asm.IndMode {
		src, rej := v.readReg(pc, st, ins.Src)
		if rej != nil {
			return rej
		}
		if src.t != scalarT {
			return v.rejectAt(pc, st, []asm.Register{ins.Src}, "the offset of a legacy packet load must be a number, not a %s", src.t)
		}
	}
	for r := asm.R1; r <= asm.R5; r++ {
		st.regs[r] = reg{}
	}
	st.regs[asm.R0] = scalarReg(sizedScalar(ins.OpCode.Size().Sizeof()))
	return nil
}

// atomic checks an atomic read-modify-write: a read and a write of the same
// memory, with the old value loaded into src (or r0 for cmpxchg) by the
// fetching forms.
func (v *verifier) atomic(pc int, st *state, ins *asm.Instruction) *Rejection {
	regs := []asm.Register{ins.Dst, ins.Src}
	ptr, rej := v.readReg(pc, st, ins.Dst)
	if rej != nil {
		return rej
	}
	src, rej := v.readReg(pc, st, ins.Src)
	if rej != nil {
		return rej
	}
	if src.isPtr() {
		return v.rejectAt(pc, st, regs, "an atomic operation may not store a pointer (%s holds a %s)", ins.Src, src.t)
	}
	aop := ins.OpCode.AtomicOp()
	if aop == asm.CmpXchg {
		r0, rej := v.readReg(pc, st, asm.R0)
		if rej != nil {
			return rej
		}
		if r0.isPtr() {
			return v.rejectAt(pc, st, []asm.Register{asm.R0}, "the value compared by cmpxchg must be a number, not a %s", r0.t)
		}
	}
	switch ptr.t {
	case ptrStack, ptrMapValue, ptrMem:
	case ptrCtx, ptrPacket:
		return v.rejectAt(pc, st, regs, "atomic operations on the %s are not allowed", ptr.t)
	}
	size := ins.OpCode.Size().Sizeof()
	if ptr.t == ptrMapValue || ptr.t == ptrMem {
		// Atomic accesses must be aligned: the fixed offset and the
		// known low bits of the variable one must make a multiple of
		// the size.
		low := uint64(size - 1)
		if off := uint64(ptr.off+int64(ins.Offset)) + ptr.s.t.v; off&low != 0 || ptr.s.t.m&low != 0 {
			return v.rejectAt(pc, st, regs, "an atomic access of %d bytes into the %s may be misaligned (%s)", size, ptr.t, ptr)
		}
	}
	old, rej := v.checkMem(pc, st, ptr, int64(ins.Offset), access{size: size, base: ins.Dst}, regs)
	if rej != nil {
		return rej
	}
	if old.isPtr() {
		return v.rejectAt(pc, st, regs, "atomic operation on memory that holds a pointer is not allowed")
	}
	if _, rej := v.checkMem(pc, st, ptr, int64(ins.Offset), access{size: size, write: true, val: scalarReg(sizedScalar(size)), base: ins.Dst}, regs); rej != nil {
		return rej
	}
	switch aop {
	case asm.CmpXchg:
		st.regs[asm.R0] = scalarReg(sizedScalar(size))
	case asm.FetchAdd, asm.FetchOr, asm.FetchAnd, asm.FetchXor, asm.Xchg:
		st.regs[ins.Src] = scalarReg(sizedScalar(size))
	}
	return nil
}

// signExtend is the value of a sign-extending move of the low bits bits of
// s: exact for constants, else the range of the narrow signed type.
func signExtend(s scalar, bits uint, is64 bool) scalar {
	if s.isConst() {
		x := uint64(int64(s.val()<<(64-bits)) >> (64 - bits))
		if !is64 {
			x = uint64(uint32(x))
		}
		return constScalar(x)
	}
	if !is64 {
		return sizedScalar(4)
	}
	half := int64(1) << (bits - 1)
	r := unknownScalar()
	r.smin, r.smax = -half, half-1
	if bits == 64 {
		r.smin, r.smax = math.MinInt64, math.MaxInt64
	}
	return normalize(r)
}

// reservedFields names the fields of an instruction that its encoding
// requires to be zero (or to hold one of few values) but do not, as the
// kernel refuses them; "" when the encoding is clean.
func reservedFields(ins *asm.Instruction) string {
	op := ins.OpCode
	cls := op.Class()
	reg := op.Source() == asm.RegSource
	switch {
	case cls.IsALU():
		switch op.ALUOp() {
		case asm.Neg:
			if ins.Src != 0 || ins.Constant != 0 || reg {
				return "neg has no source"
			}
		case asm.Swap:
			if ins.Src != 0 || (ins.Constant != 16 && ins.Constant != 32 && ins.Constant != 64) {
				return "byte swaps take a width of 16, 32 or 64 and no source register"
			}
			if cls == asm.ALU64Class && reg {
				return "64-bit byte swaps are unconditional"
			}
		default:
			if reg && ins.Constant != 0 {
				return "immediate of a register operation"
			}
			if !reg && ins.Src != 0 {
				return "source register of an immediate operation"
			}
		}
	case cls == asm.LdXClass:
		if ins.Constant != 0 {
			return "immediate of a load"
		}
	case cls == asm.StXClass && op.Mode() != asm.AtomicMode:
		if ins.Constant != 0 {
			return "immediate of a register store"
		}
	case cls == asm.StClass:
		if ins.Src != 0 {
			return "source register of an immediate store"
		}
	case cls == asm.LdClass:
		if op.IsDWordLoad() {
			if ins.Offset != 0 {
				return "offset of a 64-bit immediate load"
			}
		} else if ins.Dst != 0 || ins.Offset != 0 || (op.Mode() == asm.AbsMode && ins.Src != 0) {
			return "destination, offset or source of a legacy packet load"
		}
	case cls.IsJump():
		switch op.JumpOp() {
		case asm.Exit:
			if ins.Src != 0 || ins.Dst != 0 || ins.Offset != 0 || ins.Constant != 0 || reg {
				return "exit takes no operands"
			}
		case asm.Call:
			if ins.Dst != 0 || ins.Offset != 0 || reg {
				return "destination or offset of a call"
			}
		case asm.Ja:
			if ins.Src != 0 || ins.Dst != 0 || reg || (cls == asm.JumpClass && ins.Constant != 0) || (cls == asm.Jump32Class && ins.Offset != 0) {
				return "operands of an unconditional jump"
			}
		default:
			if reg && ins.Constant != 0 {
				return "immediate of a register comparison"
			}
			if !reg && ins.Src != 0 {
				return "source register of an immediate comparison"
			}
		}
	}
	return ""
}
