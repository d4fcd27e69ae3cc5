package verifier

// Arithmetic: scalars through their bounds and known bits, pointers
// through the offsets the kernel allows.

import (
	"math"
	"strings"

	"github.com/cilium/ebpf/asm"
)

func (v *verifier) alu(pc int, st *state, ins *asm.Instruction) *Rejection {
	op := ins.OpCode.ALUOp()
	is64 := ins.OpCode.Class() == asm.ALU64Class
	dstR := ins.Dst
	regs := []asm.Register{ins.Dst}
	var src reg
	if op == asm.Swap {
		d, rej := v.readReg(pc, st, dstR)
		if rej != nil {
			return rej
		}
		if d.t != scalarT {
			return v.rejectAt(pc, st, regs, "byte swap of a %s is not allowed", d.t)
		}
		st.regs[dstR] = scalarReg(sizedScalar(int(ins.Constant) / 8))
		return nil
	}
	if ins.OpCode.Source() == asm.RegSource {
		regs = append(regs, ins.Src)
		var rej *Rejection
		if src, rej = v.readReg(pc, st, ins.Src); rej != nil {
			return rej
		}
	} else {
		c := uint64(ins.Constant)
		if !is64 {
			c = uint64(uint32(ins.Constant))
		}
		src = scalarReg(constScalar(c))
	}
	switch op {
	case asm.MovSX8, asm.MovSX16, asm.MovSX32:
		if src.isPtr() {
			return v.rejectAt(pc, st, regs, "sign-extending a %s is not allowed", src.t)
		}
		bits := map[asm.ALUOp]uint{asm.MovSX8: 8, asm.MovSX16: 16, asm.MovSX32: 32}[op]
		st.regs[dstR] = scalarReg(signExtend(src.s, bits, is64))
		return nil
	}
	if op == asm.Mov {
		if !is64 {
			if src.isPtr() {
				if v.opts.Unprivileged {
					return v.rejectAt(pc, st, regs, "a 32-bit copy of a %s would leak part of a pointer", src.t)
				}
				src = scalarReg(sizedScalar(4))
			}
			src.s = trunc32(src.s)
		}
		st.regs[dstR] = src
		return nil
	}
	dst, rej := v.readReg(pc, st, dstR)
	if rej != nil {
		return rej
	}
	if op == asm.Neg {
		if dst.t != scalarT {
			return v.rejectAt(pc, st, regs, "negating a %s is not allowed", dst.t)
		}
		r := unknownScalar()
		if dst.s.isConst() {
			r = constScalar(-dst.s.val())
		}
		if !is64 {
			r = trunc32(r)
			if dst.s.isConst() {
				r = constScalar(uint64(uint32(-dst.s.val())))
			}
		}
		st.regs[dstR] = scalarReg(r)
		return nil
	}
	if dst.isPtr() || src.isPtr() {
		return v.ptrALU(pc, st, ins, op, is64, dst, src, regs)
	}
	a, b := dst.s, src.s
	if !is64 {
		a, b = trunc32(a), trunc32(b)
	}
	width := uint64(64)
	if !is64 {
		width = 32
	}
	var r scalar
	switch op {
	case asm.Add:
		r = scalarAdd(a, b)
	case asm.Sub:
		r = scalarSub(a, b)
	case asm.Mul:
		r = scalarMul(a, b)
	case asm.Div, asm.Mod, asm.SDiv, asm.SMod:
		if ins.OpCode.Source() == asm.ImmSource && ins.Constant == 0 {
			return v.rejectAt(pc, st, regs, "division by the constant zero")
		}
		switch op {
		case asm.Div:
			r = scalarDiv(a, b)
		case asm.Mod:
			r = scalarMod(a, b)
		default:
			r = signedDivMod(a, b, op == asm.SMod, is64)
		}
	case asm.And:
		r = scalarAnd(a, b)
	case asm.Or:
		r = scalarOr(a, b)
	case asm.Xor:
		r = scalarXor(a, b)
	case asm.LSh, asm.RSh, asm.ArSh:
		if ins.OpCode.Source() == asm.ImmSource && uint64(ins.Constant) >= width {
			return v.rejectAt(pc, st, regs, "shift by %d is out of range for a %d-bit operation", ins.Constant, width)
		}
		if !b.isConst() || b.val() >= width {
			r = unknownScalar()
			break
		}
		k := uint(b.val())
		switch {
		case op == asm.LSh:
			r = scalarLsh(a, k)
		case op == asm.RSh:
			r = scalarRsh(a, k)
		case is64:
			r = scalarArsh(a, k)
		default:
			r = unknownScalar()
		}
	default:
		r = unknownScalar()
	}
	if !is64 {
		r = trunc32(r)
	}
	st.regs[dstR] = scalarReg(r)
	return nil
}

func (v *verifier) ptrALU(pc int, st *state, ins *asm.Instruction, op asm.ALUOp, is64 bool, dst, src reg, regs []asm.Register) *Rejection {
	if !is64 {
		return v.rejectAt(pc, st, regs, "32-bit arithmetic on a pointer is not allowed")
	}
	if dst.isPtr() && src.isPtr() {
		if op == asm.Sub && dst.t == src.t && (dst.t == ptrPacket || dst.t == ptrStack || dst.t == ptrMapValue) && !v.opts.Unprivileged {
			st.regs[ins.Dst] = scalarReg(unknownScalar())
			return nil
		}
		return v.rejectAt(pc, st, regs, "pointer arithmetic between a %s and a %s is not allowed", dst.t, src.t)
	}
	ptr, off := dst, src
	if src.isPtr() {
		if op != asm.Add {
			return v.rejectAt(pc, st, regs, "only addition is allowed with a pointer as the source operand, not %s", aluName(op))
		}
		ptr, off = src, dst
	}
	if op != asm.Add && op != asm.Sub {
		return v.rejectAt(pc, st, regs, "pointer arithmetic with %s is not allowed; only adding or subtracting a number is", aluName(op))
	}
	switch ptr.t {
	case ptrMapValueOrNull, ptrMemOrNull:
		return v.rejectAt(pc, st, regs, "arithmetic on a pointer that may be NULL is not allowed; check the result of %s at insn %d first", v.helperName(ptr.origin), ptr.origin)
	case constPtrMap, ptrPacketEnd, ptrFunc:
		return v.rejectAt(pc, st, regs, "arithmetic on a %s is not allowed", ptr.t)
	}
	s := off.s
	if s.isConst() {
		c := int64(s.val())
		if op == asm.Sub {
			if c == math.MinInt64 {
				return v.rejectAt(pc, st, regs, "pointer offset is out of range")
			}
			c = -c
		}
		n := ptr.off + c
		if c <= -maxVarOff || c >= maxVarOff || n <= -maxVarOff || n >= maxVarOff {
			return v.rejectAt(pc, st, regs, "pointer offset %d is out of the allowed range", c)
		}
		if ptr.t == ptrStack && v.opts.Unprivileged && (n < -stackSize || n > 0) {
			return v.rejectAt(pc, st, regs, "stack pointer offset %d is outside the stack, which unprivileged programs may not compute", n)
		}
		if ptr.t == ptrPacket && (n > maxPacketOff || n < -maxPacketOff) {
			return v.rejectAt(pc, st, regs, "packet pointer offset %d is beyond the 64 KiB a packet can span", n)
		}
		ptr.off = n
		st.regs[ins.Dst] = ptr
		return nil
	}
	switch ptr.t {
	case ptrCtx:
		// Allowed, as in the kernel (it is how tracepoint __data_loc
		// fields are found), but the result can only be passed on, not
		// dereferenced.
		if v.opts.Unprivileged {
			return v.rejectAt(pc, st, regs, "adding a variable offset to the context pointer is not allowed for unprivileged programs")
		}
	case ptrStack:
		return v.rejectAt(pc, st, regs, notYet+"variable offsets into the stack")
	}
	// The kernel refuses offsets it cannot bound before any access.
	if s.smin == math.MinInt64 {
		return v.rejectAt(pc, st, regs, "adding a number with no lower bound to a %s is not allowed; check it first", ptr.t)
	}
	if s.smin <= -maxVarOff || s.smin >= maxVarOff {
		return v.rejectAt(pc, st, regs, "adding %s to a %s would put it out of bounds", s, ptr.t)
	}
	if op == asm.Sub {
		if v.opts.Unprivileged || ptr.t == ptrPacket {
			return v.rejectAt(pc, st, regs, "subtracting a variable from a %s is not allowed", ptr.t)
		}
		ptr.s = scalarSub(ptr.s, s)
	} else {
		ptr.s = scalarAdd(ptr.s, s)
	}
	if ptr.t == ptrPacket {
		ptr.id = v.newID()
		ptr.rng = 0
	}
	st.regs[ins.Dst] = ptr
	return nil
}

func aluName(op asm.ALUOp) string {
	return strings.ToLower(op.String())
}
