package verifier

// Calls of kernel helpers: arguments checked against their signatures.

import (
	"math"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

func (v *verifier) call(pc int, st *state, ins *asm.Instruction) *Rejection {
	id := int32(ins.Constant)
	h, ok := v.helpers[id]
	if !ok {
		return v.rejectAt(pc, st, nil, "unknown helper function %d", ins.Constant)
	}
	if h.Types != nil && !slices.Contains(h.Types, v.typ) {
		return v.rejectAt(pc, st, nil, "helper %s is not available to %s programs", h.Name, v.typ)
	}
	if h.NoRefs && len(st.refs) > 0 {
		return v.rejectAt(pc, st, nil, "%s may not return, but the memory reserved at insn %d is still held", h.Name, st.refs[0].pc)
	}
	if h.Privileged && v.opts.Unprivileged {
		return v.rejectAt(pc, st, nil, "helper %s needs a privileged loader", h.Name)
	}
	if len(h.Args) > 5 {
		return v.rejectAt(pc, st, nil, "helper %s has more than 5 arguments", h.Name)
	}
	var m *mapRef
	var memArg reg
	var memReg asm.Register
	var memWrite bool
	var allocSize int64
	var key reg
	released := 0
	for i, at := range h.Args {
		r := asm.R1 + asm.Register(i)
		regs := []asm.Register{r}
		a, rej := v.readReg(pc, st, r)
		if rej != nil {
			return v.rejectAt(pc, st, regs, "%s (argument %d of %s) is not initialised", r, i+1, h.Name)
		}
		switch at {
		case ArgAnything:
			if a.isPtr() && v.opts.Unprivileged {
				return v.rejectAt(pc, st, regs, "passing a pointer in %s to %s would leak a kernel address", r, h.Name)
			}
		case ArgMapPtr:
			if a.t != constPtrMap {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) must be a map, not a %s", r, i+1, h.Name, a.t)
			}
			allowed := h.MapTypes
			if allowed == nil {
				allowed = dataMaps
			}
			okType := false
			for _, t := range allowed {
				okType = okType || t == a.m.info.Type
			}
			if !okType {
				return v.rejectAt(pc, st, regs, "%s cannot be used with map %s of type %s", h.Name, a.m.name, a.m.info.Type)
			}
			m = a.m
		case ArgMapKey, ArgMapValue, ArgMapValueOut:
			if m == nil {
				return v.rejectAt(pc, st, regs, "helper %s has a key or value argument without a map argument before it", h.Name)
			}
			size, what := m.info.KeySize, "key"
			if at != ArgMapKey {
				size, what = m.info.ValueSize, "value"
			}
			if a.t != ptrStack && a.t != ptrMapValue && a.t != ptrPacket && a.t != ptrMem {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) must point to the map %s (%d bytes), not be a %s", r, i+1, h.Name, what, size, a.t)
			}
			out := at == ArgMapValueOut
			if out && a.t == ptrPacket {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) may not point into the packet", r, i+1, h.Name)
			}
			if rej := v.helperMem(pc, st, a, r, int64(size), int64(size), out, !out); rej != nil {
				return rej
			}
			if at == ArgMapKey {
				key = a
			}
		case ArgConstAllocSize:
			if a.t != scalarT || !a.s.isConst() || a.s.val() > math.MaxInt32 {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) must be a known constant size, not %s", r, i+1, h.Name, a)
			}
			allocSize = int64(a.s.val())
		case ArgFunc:
			if a.t != ptrFunc {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) must be a function of the program, not a %s", r, i+1, h.Name, a.t)
			}
		case ArgStackOrNull:
			if a.t != ptrStack && !isZero(a) {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) must be a stack pointer or NULL, not a %s", r, i+1, h.Name, a.t)
			}
		case ArgReleaseMem:
			if a.t != ptrMem || a.ref == 0 {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) must be memory returned by bpf_ringbuf_reserve and checked against NULL, not a %s", r, i+1, h.Name, a.t)
			}
			if a.off != 0 || !(a.s.isConst() && a.s.val() == 0) {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) must be the unmodified pointer returned by bpf_ringbuf_reserve, not one moved by %d bytes", r, i+1, h.Name, a.off)
			}
			released = a.ref
		case ArgCtx:
			if a.t != ptrCtx || a.off != 0 || !(a.s.isConst() && a.s.val() == 0) {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) must be the unmodified context pointer, not a %s", r, i+1, h.Name, a.t)
			}
		case ArgMem, ArgUninitMem:
			ok := a.t == ptrStack || a.t == ptrMapValue || a.t == ptrMem || (at == ArgMem && a.t == ptrPacket)
			if !ok {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) must point to stack or map value memory, not be a %s", r, i+1, h.Name, a.t)
			}
			memArg, memReg, memWrite = a, r, at == ArgUninitMem
		case ArgSize, ArgSizeOrZero:
			if memReg == 0 {
				return v.rejectAt(pc, st, regs, "helper %s has a size argument without a memory argument before it", h.Name)
			}
			if a.t != scalarT {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) must be a size, not a %s", r, i+1, h.Name, a.t)
			}
			if a.s.smin < 0 || a.s.umax > math.MaxInt32 {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) is a size that is not bounded; check it first", r, i+1, h.Name)
			}
			if at == ArgSize && a.s.umin == 0 {
				return v.rejectAt(pc, st, regs, "%s (argument %d of %s) may be zero, which is not allowed", r, i+1, h.Name)
			}
			if rej := v.helperMem(pc, st, memArg, memReg, int64(a.s.umax), int64(a.s.umin), memWrite, false); rej != nil {
				return rej
			}
			memReg = 0
		}
	}
	if memReg != 0 {
		return v.rejectAt(pc, st, nil, "helper %s has a memory argument without a size", h.Name)
	}
	for r := asm.R1; r <= asm.R5; r++ {
		st.regs[r] = reg{}
	}
	if released != 0 {
		v.release(st, released, pc)
	}
	if h.ChangesPacket {
		forEachReg(st, func(r *reg) {
			if r.t == ptrPacket || r.t == ptrPacketEnd {
				*r = reg{released: true, origin: pc}
			}
		})
	}
	switch h.Ret {
	case RetMapValueOrNull:
		st.regs[asm.R0] = reg{t: ptrMapValueOrNull, m: m, s: constScalar(0), id: v.newID(), origin: pc}
		if int32(ins.Constant) == 1 && zeroKey(st, key, m) {
			// An array always has element 0, as the kernel knows.
			st.regs[asm.R0] = reg{t: ptrMapValue, m: m, s: constScalar(0)}
		}
	case RetVoid:
		st.regs[asm.R0] = reg{}
	case RetMemOrNull:
		st.regs[asm.R0] = reg{t: ptrMemOrNull, size: allocSize, s: constScalar(0), id: v.newID(), ref: v.acquire(st, pc), origin: pc}
	default:
		st.regs[asm.R0] = scalarReg(unknownScalar())
	}
	return nil
}

// helperMem checks that a helper may access size bytes at ptr (the largest
// possible size; minSize the smallest). strictInit requires initialised
// stack even for privileged loaders (map keys and values).
func (v *verifier) helperMem(pc int, st *state, ptr reg, r asm.Register, size, minSize int64, write, strictInit bool) *Rejection {
	regs := []asm.Register{r}
	// Even a zero-sized access must point inside the memory, as the
	// kernel checks and as helpers that look at the pointer need.
	switch ptr.t {
	case ptrStack:
		lo := ptr.off
		if lo < -stackSize || lo+size > 0 {
			return v.rejectAt(pc, st, regs, "%s points to %d bytes at stack offset %d, outside the 512-byte stack", r, size, lo)
		}
		v.noteStack(st, ptr.frame, lo)
		i := int(lo + stackSize)
		if write {
			// Spills the helper may overwrite become plain data; bytes it
			// surely writes become initialised.
			stk := st.stackW(ptr.frame)
			clobberStack(stk, i, int(size))
			for j := i; j < i+int(minSize); j++ {
				stk.setKind(j, slotMisc)
			}
			return nil
		}
		stk := st.frames[ptr.frame].stack
		for j := i; j < i+int(size); j++ {
			k := stk.kindAt(j)
			if k == slotInvalid && (strictInit || v.opts.Unprivileged) {
				return v.rejectAt(pc, st, regs, "%s points to stack memory at offset %d that is not initialised", r, int64(j-stackSize))
			}
			if k == slotSpill && stk.spillAt(j/8).isPtr() && v.opts.Unprivileged {
				return v.rejectAt(pc, st, regs, "%s points to stack memory holding a pointer, which would leak it", r)
			}
		}
		return nil
	case ptrMapValue, ptrPacket, ptrMem:
		_, rej := v.checkMem(pc, st, ptr, 0, access{size: int(size), write: write, base: r}, regs)
		return rej
	}
	return v.rejectAt(pc, st, regs, "%s must point to memory", r)
}

// zeroKey reports whether key points to stack bytes known to be zero, as
// many as m's key, and m is an array with an element 0.
func zeroKey(st *state, key reg, m *mapRef) bool {
	if key.t != ptrStack || m == nil || m.info.MaxEntries == 0 || (m.info.Type != ebpf.Array && m.info.Type != ebpf.PerCPUArray) {
		return false
	}
	stk := st.frames[key.frame].stack
	i := int(key.off + stackSize)
	for j := i; j < i+int(m.info.KeySize); j++ {
		if stk.kindAt(j) != slotZero {
			return false
		}
	}
	return true
}
