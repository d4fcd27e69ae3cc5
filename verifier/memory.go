package verifier

// Loads and stores through every kind of pointer.

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// checkMem checks an access of a.size bytes at insnOff from ptr. For loads
// it returns the loaded value.
func (v *verifier) checkMem(pc int, st *state, ptr reg, insnOff int64, a access, regs []asm.Register) (reg, *Rejection) {
	r := a.base
	if cls := v.insns[pc].OpCode.Class(); (cls == asm.LdXClass || cls == asm.StClass || cls == asm.StXClass) && ptr.isPtr() {
		kind := uint8(2)
		if ptr.t == ptrCtx {
			kind = 1
		}
		if v.ptrKinds[pc] |= kind; v.ptrKinds[pc] == 3 {
			return reg{}, v.rejectAt(pc, st, regs, "this instruction accesses the context on one path and other memory on another, which the kernel cannot rewrite; use separate instructions")
		}
	}
	if cls := v.insns[pc].OpCode.Class(); cls == asm.LdXClass || cls == asm.StClass || cls == asm.StXClass {
		v.access[pc] |= accessOf(ptr.t)
	}
	switch ptr.t {
	case notInit:
		return reg{}, v.rejectAt(pc, st, regs, "%s is not initialised", r)
	case scalarT:
		if ptr.s.isConst() && ptr.s.val() == 0 {
			return reg{}, v.rejectAt(pc, st, regs, "%s is NULL here and cannot be dereferenced", r)
		}
		return reg{}, v.rejectAt(pc, st, regs, "%s holds a number, not a pointer, and cannot be dereferenced", r)
	case ptrMapValueOrNull, ptrMemOrNull:
		return reg{}, v.rejectAt(pc, st, regs, "%s may be NULL here: the result of %s at insn %d is used without checking it", r, v.helperName(ptr.origin), ptr.origin)
	case constPtrMap, ptrPacketEnd, ptrFunc:
		return reg{}, v.rejectAt(pc, st, regs, "%s is a %s and cannot be dereferenced", r, ptr.t)
	}
	if a.write && ptr.readOnly {
		return reg{}, v.rejectAt(pc, st, regs, "%s points to memory the program may only read", r)
	}
	if a.write && a.val.isPtr() {
		switch {
		case ptr.t == ptrCtx:
			return reg{}, v.rejectAt(pc, st, regs, "storing a pointer into the context is not allowed")
		case ptr.t == ptrPacket:
			return reg{}, v.rejectAt(pc, st, regs, "storing a pointer into packet data is not allowed")
		case ptr.t == ptrMapValue && v.opts.Unprivileged:
			return reg{}, v.rejectAt(pc, st, regs, "storing a pointer into a map value would leak a kernel address")
		case ptr.t == ptrStack:
		default:
			if a.size != 8 {
				return reg{}, v.rejectAt(pc, st, regs, "storing part of a pointer is not allowed")
			}
		}
	}
	switch ptr.t {
	case ptrStack:
		if a.write && a.val.t == ptrStack && a.val.frame > ptr.frame {
			return reg{}, v.rejectAt(pc, st, regs, "storing a pointer to the stack of a called function into its caller's stack is not allowed")
		}
		return v.stackAccess(pc, st, ptr.frame, ptr.off+insnOff, a, regs)
	case ptrMem:
		return v.sizedAccess(pc, st, ptr, insnOff, a, regs, ptr.size, "ring buffer memory")
	case ptrMapValue:
		return v.sizedAccess(pc, st, ptr, insnOff, a, regs, int64(ptr.m.info.ValueSize), "map value")
	case ptrPacket:
		off := ptr.off + insnOff
		if ptr.s.smin < 0 || ptr.s.umax > 0xffff {
			return reg{}, v.rejectAt(pc, st, regs, "the variable offset of the packet pointer is unbounded")
		}
		if off < 0 {
			return reg{}, v.rejectAt(pc, st, regs, "packet access at negative offset %d", off)
		}
		if off+int64(a.size) > ptr.rng {
			return reg{}, v.rejectAt(pc, st, regs, "packet access at offset %d (%d bytes) has not been checked against data_end", off, a.size)
		}
		if a.write && (v.typ == ebpf.SocketFilter || v.ctx.readOnlyPacket) {
			return reg{}, v.rejectAt(pc, st, regs, "%s programs may not write to the packet", v.typ)
		}
		return scalarReg(sizedScalar(a.size)), nil
	case ptrCtx:
		return v.ctxAccess(pc, st, ptr, insnOff, a, regs)
	}
	return reg{}, v.rejectAt(pc, st, regs, "invalid memory access through %s", r)
}

// accessOf is the kind of memory a pointer of type t points to.
func accessOf(t regType) Access {
	switch t {
	case ptrCtx:
		return AccessContext
	case ptrPacket:
		return AccessPacket
	case ptrStack:
		return AccessStack
	}
	return AccessOther
}

// sizedAccess checks an access to memory of a known size: a map value or
// a ring buffer reservation.
func (v *verifier) sizedAccess(pc int, st *state, ptr reg, insnOff int64, a access, regs []asm.Register, size int64, what string) (reg, *Rejection) {
	if ptr.s.smin < -maxVarOff || ptr.s.smax > maxVarOff {
		return reg{}, v.rejectAt(pc, st, regs, "the offset into the %s is unbounded; check it against the size (%d bytes) first", what, size)
	}
	lo := ptr.off + insnOff + ptr.s.smin
	hi := ptr.off + insnOff + ptr.s.smax + int64(a.size)
	if lo < 0 || hi > size {
		if ptr.s.isConst() {
			return reg{}, v.rejectAt(pc, st, regs, "access of %d bytes at offset %d of a %d-byte %s is out of bounds", a.size, lo, size, what)
		}
		return reg{}, v.rejectAt(pc, st, regs, "access of %d bytes at offsets %d..%d of a %d-byte %s may be out of bounds", a.size, lo, hi-int64(a.size), size, what)
	}
	return scalarReg(sizedScalar(a.size)), nil
}

func (v *verifier) ctxAccess(pc int, st *state, ptr reg, insnOff int64, a access, regs []asm.Register) (reg, *Rejection) {
	if ptr.off != 0 || !(ptr.s.isConst() && ptr.s.val() == 0) {
		return reg{}, v.rejectAt(pc, st, regs, "the context pointer was modified (offset %d, variable %s); access context fields through the original pointer with an instruction offset", ptr.off, ptr.s)
	}
	c := v.ctx
	off := insnOff
	if end := off + int64(a.size); off >= 0 && end > v.ctxBytes {
		// Recorded before the checks below; a rejected access ends the
		// analysis anyway.
		v.ctxBytes = end
	}
	if c.raw {
		if a.write {
			return reg{}, v.rejectAt(pc, st, regs, "the %s is read-only", c.name)
		}
		okSize := false
		for _, s := range c.rawSizes {
			okSize = okSize || s == a.size
		}
		if !okSize || off < int64(c.rawMin) || off%int64(a.size) != 0 || off+int64(a.size) > int64(c.rawMax) {
			return reg{}, v.rejectAt(pc, st, regs, "context access of %d bytes at offset %d is not allowed for %s (aligned reads of %v bytes within offsets %d..%d only)", a.size, off, c.name, c.rawSizes, c.rawMin, c.rawMax-1)
		}
		return scalarReg(sizedScalar(a.size)), nil
	}
	if what, ok := c.notYet[int(off)]; ok {
		return reg{}, v.rejectAt(pc, st, regs, notYet+"%s", what)
	}
	for _, f := range c.fields {
		if c.narrowReads && !a.write && f.kind == scalarT && a.size < f.size && off >= int64(f.off) && off+int64(a.size) <= int64(f.off+f.size) {
			if off%int64(a.size) != 0 {
				return reg{}, v.rejectAt(pc, st, regs, "context field %s.%s is read in part at a misaligned offset %d", c.name, f.name, off)
			}
			return scalarReg(sizedScalar(a.size)), nil
		}
		if int64(f.off) != off {
			continue
		}
		if a.size != f.size {
			return reg{}, v.rejectAt(pc, st, regs, "context field %s.%s must be accessed with %d bytes, not %d", c.name, f.name, f.size, a.size)
		}
		if a.write {
			if !f.write {
				return reg{}, v.rejectAt(pc, st, regs, "context field %s.%s is read-only", c.name, f.name)
			}
			return reg{}, nil
		}
		switch f.kind {
		case ptrPacket:
			v.pktFields[ContextField{Offset: f.off, Size: f.size}] = true
			return reg{t: ptrPacket, s: constScalar(0), id: 0}, nil
		case ptrPacketEnd:
			v.pktFields[ContextField{Offset: f.off, Size: f.size}] = true
			return reg{t: ptrPacketEnd, s: constScalar(0)}, nil
		}
		return scalarReg(sizedScalar(a.size)), nil
	}
	return reg{}, v.rejectAt(pc, st, regs, "context access of %d bytes at offset %d is not a known field of %s", a.size, off, c.name)
}

// noteStack records that frame fr uses its stack down to off.
func (v *verifier) noteStack(st *state, fr int, off int64) {
	start := st.frames[fr].start
	if off < v.stackDepth[start] {
		v.stackDepth[start] = off
	}
}

func (v *verifier) stackAccess(pc int, st *state, fr int, off int64, a access, regs []asm.Register) (reg, *Rejection) {
	if off < -stackSize || off+int64(a.size) > 0 {
		return reg{}, v.rejectAt(pc, st, regs, "stack access of %d bytes at offset %d is outside the 512-byte stack", a.size, off)
	}
	if off%int64(a.size) != 0 {
		return reg{}, v.rejectAt(pc, st, regs, "misaligned stack access of %d bytes at offset %d", a.size, off)
	}
	v.noteStack(st, fr, off)
	i := int(off + stackSize)
	if a.write {
		if a.val.isPtr() && a.size != 8 {
			return reg{}, v.rejectAt(pc, st, regs, "storing part of a pointer on the stack is not allowed")
		}
		s := st.stackW(fr)
		clobberStack(s, i, a.size)
		if a.size == 8 && (a.val.isPtr() || a.val.t == scalarT) {
			for j := i; j < i+8; j++ {
				s.setKind(j, slotSpill)
			}
			s.setSpill(i/8, a.val)
		} else {
			k := slotMisc
			if a.val.t == scalarT && a.val.s.isConst() && a.val.s.val() == 0 {
				k = slotZero
			}
			for j := i; j < i+a.size; j++ {
				s.setKind(j, k)
			}
		}
		return reg{}, nil
	}
	s := st.frames[fr].stack
	if a.size == 8 && s.kindAt(i) == slotSpill && s.spillAt(i/8).t != notInit {
		return s.spillAt(i / 8), nil
	}
	zero := true
	for j := i; j < i+a.size; j++ {
		zero = zero && s.kindAt(j) == slotZero
		switch s.kindAt(j) {
		case slotInvalid:
			if v.opts.Unprivileged {
				return reg{}, v.rejectAt(pc, st, regs, "read of uninitialised stack at offset %d", int64(j-stackSize))
			}
		case slotSpill:
			if s.spillAt(j/8).isPtr() && v.opts.Unprivileged {
				return reg{}, v.rejectAt(pc, st, regs, "partial read of a pointer spilled at stack offset %d", int64(j/8*8-stackSize))
			}
		}
	}
	if zero {
		return scalarReg(constScalar(0)), nil
	}
	return scalarReg(sizedScalar(a.size)), nil
}

// clobberStack marks bytes [i, i+n) as about to be overwritten: spills they
// touch become plain data.
func clobberStack(s *stackState, i, n int) {
	for slot := i / 8; slot <= (i+n-1)/8; slot++ {
		if s.kindAt(slot*8) == slotSpill {
			for j := slot * 8; j < slot*8+8; j++ {
				s.setKind(j, slotMisc)
			}
			s.setSpill(slot, reg{})
		}
	}
}

func (v *verifier) load(pc int, st *state, ins *asm.Instruction) *Rejection {
	regs := []asm.Register{ins.Src}
	ptr, rej := v.readReg(pc, st, ins.Src)
	if rej != nil {
		return rej
	}
	val, rej := v.checkMem(pc, st, ptr, int64(ins.Offset), access{size: ins.OpCode.Size().Sizeof(), base: ins.Src}, regs)
	if rej != nil {
		return rej
	}
	if val.t == ptrPacket {
		val.id = 0
	}
	if ins.OpCode.Mode() == asm.MemSXMode {
		if val.isPtr() {
			return v.rejectAt(pc, st, regs, "a sign-extending load of a %s is not allowed", val.t)
		}
		val = scalarReg(signExtend(val.s, uint(8*ins.OpCode.Size().Sizeof()), true))
	}
	st.regs[ins.Dst] = val
	return nil
}

func (v *verifier) store(pc int, st *state, ins *asm.Instruction) *Rejection {
	regs := []asm.Register{ins.Dst}
	ptr, rej := v.readReg(pc, st, ins.Dst)
	if rej != nil {
		return rej
	}
	size := ins.OpCode.Size().Sizeof()
	var val reg
	if ins.OpCode.Class() == asm.StXClass {
		regs = append(regs, ins.Src)
		if val, rej = v.readReg(pc, st, ins.Src); rej != nil {
			return rej
		}
	} else {
		c := uint64(ins.Constant)
		if size < 8 {
			c &= uint64(1)<<(8*uint(size)) - 1
		}
		val = scalarReg(constScalar(c))
	}
	if val.t == scalarT && size < 8 {
		// Only the low bytes are stored; a constant stays one.
		if val.s.isConst() {
			val = scalarReg(constScalar(val.s.val() & (uint64(1)<<(8*uint(size)) - 1)))
		} else {
			val = scalarReg(sizedScalar(size))
		}
	}
	_, rej = v.checkMem(pc, st, ptr, int64(ins.Offset), access{size: size, write: true, val: val, base: ins.Dst}, regs)
	return rej
}
