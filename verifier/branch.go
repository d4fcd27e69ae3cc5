package verifier

import (
	"math"

	"github.com/cilium/ebpf/asm"
)

// branch handles a conditional jump: it refines the state for both outcomes
// and drops the outcomes that cannot happen.
func (v *verifier) branch(pc int, st *state, ins *asm.Instruction) (int, *work, *Rejection) {
	op := ins.OpCode.JumpOp()
	is32 := ins.OpCode.Class() == asm.Jump32Class
	regs := []asm.Register{ins.Dst}
	dst, rej := v.readReg(pc, st, ins.Dst)
	if rej != nil {
		return 0, nil, rej
	}
	var src reg
	srcIsReg := ins.OpCode.Source() == asm.RegSource
	if srcIsReg {
		regs = append(regs, ins.Src)
		if src, rej = v.readReg(pc, st, ins.Src); rej != nil {
			return 0, nil, rej
		}
	} else {
		c := uint64(ins.Constant)
		if is32 {
			c = uint64(uint32(ins.Constant))
		}
		src = scalarReg(constScalar(c))
	}
	target, _ := jumpTarget(ins, pc)
	fall := pc + 1

	if dst.t == scalarT && src.t == scalarT {
		// The common case, without a copy of the state when only one
		// outcome is possible.
		set := func(s *state, a, b scalar) {
			s.regs[ins.Dst].s = a
			if srcIsReg {
				s.regs[ins.Src].s = b
			}
		}
		a, b := dst.s, src.s
		takenOK, notTakenOK := true, true
		var ta, tb, na, nb scalar
		if is32 && !fits32(a, b, op) {
			ta, tb, na, nb = a, b, a, b // no refinement, both outcomes possible
		} else {
			ta, tb, takenOK = refine(a, b, op, true)
			na, nb, notTakenOK = refine(a, b, op, false)
		}
		switch {
		case takenOK && notTakenOK:
			taken := st.clone()
			set(taken, ta, tb)
			set(st, na, nb)
			taken.path = &pathNode{target, st.path}
			st.path = &pathNode{fall, st.path}
			return fall, &work{target, taken}, nil
		case takenOK:
			set(st, ta, tb)
			return target, nil, nil
		case notTakenOK:
			set(st, na, nb)
			return fall, nil, nil
		}
		// Neither: the state itself was infeasible; end the path.
		return -1, nil, nil
	}

	taken := st.clone()
	notTaken := st
	takenOK, notTakenOK := true, true

	switch {
	case !is32 && ((isOrNull(dst) && isZero(src)) || (isOrNull(src) && isZero(dst))):
		if op != asm.JEq && op != asm.JNE {
			if v.opts.Unprivileged {
				return 0, nil, v.rejectAt(pc, st, regs, "comparing a pointer that may be NULL other than with == or != 0 is not allowed")
			}
			break
		}
		if v.opts.Unprivileged && srcIsReg {
			return 0, nil, v.rejectAt(pc, st, regs, "comparing a pointer with a register is not allowed for unprivileged programs; compare it with the constant 0")
		}
		p := dst
		if isOrNull(src) {
			p = src
		}
		nullSt, okSt := taken, notTaken
		if op == asm.JNE {
			nullSt, okSt = notTaken, taken
		}
		markNull(nullSt, p.id, true)
		markNull(okSt, p.id, false)
	case (dst.t == ptrPacket && src.t == ptrPacketEnd) || (dst.t == ptrPacketEnd && src.t == ptrPacket):
		if is32 {
			return 0, nil, v.rejectAt(pc, st, regs, "32-bit comparison of packet pointers is not allowed")
		}
		// Which outcome proves pkt <= end (or pkt < end)?
		pktLeft := dst.t == ptrPacket
		p := dst
		if !pktLeft {
			p = src
		}
		var safe *state
		switch op {
		case asm.JGT, asm.JGE: // pkt > end / end > pkt
			if pktLeft {
				safe = notTaken
			} else {
				safe = taken
			}
		case asm.JLT, asm.JLE: // pkt < end / end < pkt
			if pktLeft {
				safe = taken
			} else {
				safe = notTaken
			}
		}
		if safe != nil && p.off > 0 && p.off <= maxPacketOff {
			markRange(safe, p.id, p.off)
		}
	case dst.isPtr() || src.isPtr():
		if v.opts.Unprivileged {
			return 0, nil, v.rejectAt(pc, st, regs, "comparing pointers is not allowed for unprivileged programs")
		}
	}
	if takenOK && notTakenOK {
		taken.path = &pathNode{target, st.path}
		notTaken.path = &pathNode{fall, st.path}
		return fall, &work{target, taken}, nil
	}
	if takenOK {
		*st = *taken
		return target, nil, nil
	}
	if notTakenOK {
		return fall, nil, nil
	}
	// Both impossible: the state itself was infeasible; end the path.
	return -1, nil, nil
}

func isOrNull(r reg) bool { return r.t == ptrMapValueOrNull || r.t == ptrMemOrNull }

func isZero(r reg) bool { return r.t == scalarT && r.s.isConst() && r.s.val() == 0 }

// fits32 reports whether a 32-bit comparison of a and b gives the same
// result as the 64-bit one.
func fits32(a, b scalar, op asm.JumpOp) bool {
	if a.umax > math.MaxUint32 || b.umax > math.MaxUint32 {
		return false
	}
	switch op {
	case asm.JSGT, asm.JSGE, asm.JSLT, asm.JSLE:
		return a.umax <= math.MaxInt32 && b.umax <= math.MaxInt32
	}
	return true
}

// forEachReg visits every register and spilled register of every frame.
func forEachReg(st *state, f func(r *reg)) {
	for i := range st.regs {
		f(&st.regs[i])
	}
	for fi := range st.frames {
		fr := &st.frames[fi]
		if fi > 0 {
			for i := range fr.saved {
				f(&fr.saved[i])
			}
		}
		for slot := stackSize/8 - len(fr.stack.spill); slot < stackSize/8; slot++ {
			if fr.stack.kindAt(slot*8) != slotSpill {
				continue
			}
			old := fr.stack.spillAt(slot)
			r := old
			if f(&r); r != old {
				st.stackW(fi).setSpill(slot, r)
			}
		}
	}
}

func markNull(st *state, id int, null bool) {
	ref := 0
	forEachReg(st, func(r *reg) {
		if (r.t != ptrMapValueOrNull && r.t != ptrMemOrNull) || r.id != id {
			return
		}
		if null {
			ref = r.ref
			*r = scalarReg(constScalar(0))
		} else if r.t == ptrMemOrNull {
			r.t = ptrMem
			r.id = 0
		} else {
			r.t = ptrMapValue
			r.id = 0
		}
	})
	if ref != 0 {
		// A reservation that failed holds nothing to release.
		st.dropRef(ref)
	}
}

func markRange(st *state, id int, n int64) {
	forEachReg(st, func(r *reg) {
		if r.t == ptrPacket && r.id == id && r.rng < n {
			r.rng = n
		}
	})
}

// refine returns a and b restricted to the values for which "a op b" is
// cond; ok is false when no such values exist.
func refine(a, b scalar, op asm.JumpOp, cond bool) (scalar, scalar, bool) {
	// Normalise the negated conditions.
	if !cond {
		switch op {
		case asm.JEq:
			op = asm.JNE
		case asm.JNE:
			op = asm.JEq
		case asm.JGT:
			op = asm.JLE
		case asm.JGE:
			op = asm.JLT
		case asm.JLT:
			op = asm.JGE
		case asm.JLE:
			op = asm.JGT
		case asm.JSGT:
			op = asm.JSLE
		case asm.JSGE:
			op = asm.JSLT
		case asm.JSLT:
			op = asm.JSGE
		case asm.JSLE:
			op = asm.JSGT
		case asm.JSet:
			// a & b == 0
			if a.t.m == 0 && b.t.m == 0 {
				return a, b, a.t.v&b.t.v == 0
			}
			if tand(a.t, b.t).v != 0 {
				return a, b, false
			}
			if b.isConst() {
				a.t = tnum{a.t.v &^ b.val(), a.t.m &^ b.val()}
				ok := a.sync()
				return a, b, ok
			}
			return a, b, true
		}
	}
	switch op {
	case asm.JEq:
		t, ok := tintersect(a.t, b.t)
		if !ok {
			return a, b, false
		}
		a.t = t
		a.umin, a.umax = max(a.umin, b.umin), min(a.umax, b.umax)
		a.smin, a.smax = max(a.smin, b.smin), min(a.smax, b.smax)
		ok = a.sync()
		return a, a, ok
	case asm.JNE:
		if a.isConst() && b.isConst() {
			return a, b, a.val() != b.val()
		}
		if b.isConst() {
			a = trimEdge(a, b.val())
			return a, b, a.sync()
		}
		if a.isConst() {
			b = trimEdge(b, a.val())
			return a, b, b.sync()
		}
		return a, b, true
	case asm.JGT:
		if b.umin == math.MaxUint64 || a.umax == 0 {
			return a, b, false
		}
		a.umin = max(a.umin, b.umin+1)
		b.umax = min(b.umax, a.umax-1)
	case asm.JGE:
		a.umin = max(a.umin, b.umin)
		b.umax = min(b.umax, a.umax)
	case asm.JLT:
		if a.umin == math.MaxUint64 || b.umax == 0 {
			return a, b, false
		}
		a.umax = min(a.umax, b.umax-1)
		b.umin = max(b.umin, a.umin+1)
	case asm.JLE:
		a.umax = min(a.umax, b.umax)
		b.umin = max(b.umin, a.umin)
	case asm.JSGT:
		if b.smin == math.MaxInt64 || a.smax == math.MinInt64 {
			return a, b, false
		}
		a.smin = max(a.smin, b.smin+1)
		b.smax = min(b.smax, a.smax-1)
	case asm.JSGE:
		a.smin = max(a.smin, b.smin)
		b.smax = min(b.smax, a.smax)
	case asm.JSLT:
		if a.smin == math.MaxInt64 || b.smax == math.MinInt64 {
			return a, b, false
		}
		a.smax = min(a.smax, b.smax-1)
		b.smin = max(b.smin, a.smin+1)
	case asm.JSLE:
		a.smax = min(a.smax, b.smax)
		b.smin = max(b.smin, a.smin)
	case asm.JSet:
		if tand(a.t, b.t) == (tnum{}) {
			return a, b, false
		}
		return a, b, true
	default:
		return a, b, true
	}
	if a.umin > a.umax || b.umin > b.umax || a.smin > a.smax || b.smin > b.smax {
		return a, b, false
	}
	okA, okB := a.sync(), b.sync()
	return a, b, okA && okB
}

// trimEdge removes x from s when x is at the edge of one of its ranges.
func trimEdge(s scalar, x uint64) scalar {
	if s.umin == x && s.umin < s.umax {
		s.umin++
	} else if s.umax == x && s.umin < s.umax {
		s.umax--
	}
	if s.smin == int64(x) && s.smin < s.smax {
		s.smin++
	} else if s.smax == int64(x) && s.smin < s.smax {
		s.smax--
	}
	return s
}

// covers reports whether every concrete state described by cur is also
// described by old, so that exploring cur cannot find anything new.
func (v *verifier) covers(old, cur *state) bool {
	if len(old.frames) != len(cur.frames) || len(old.refs) != len(cur.refs) {
		return false
	}
	ids := map[int]int{}
	for i := range old.regs {
		if !v.regCovers(old.regs[i], cur.regs[i], ids) {
			return false
		}
	}
	for fi := range old.frames {
		of, cf := &old.frames[fi], &cur.frames[fi]
		if of.callsite != cf.callsite {
			return false
		}
		for i := range of.saved {
			if !v.regCovers(of.saved[i], cf.saved[i], ids) {
				return false
			}
		}
		if (of.args == nil) != (cf.args == nil) {
			return false
		}
		if of.args != nil {
			for i := range of.args {
				if !v.regCovers(of.args[i], cf.args[i], ids) {
					return false
				}
			}
		}
		if !v.stackCovers(of.stack, cf.stack, ids) {
			return false
		}
	}
	// Every reference the old state held must be held here too, under the
	// same correspondence of ids as the registers that point to it.
	for i, o := range old.refs {
		if m, ok := ids[o.id]; ok {
			if m != cur.refs[i].id {
				return false
			}
		} else if o.pc != cur.refs[i].pc {
			return false
		}
	}
	return true
}

func (v *verifier) stackCovers(old, cur *stackState, ids map[int]int) bool {
	deepest := max(len(old.spill), len(cur.spill))
	for slot := stackSize/8 - deepest; slot < stackSize/8; slot++ {
		base := slot * 8
		if old.kindAt(base) == slotSpill {
			if cur.kindAt(base) != slotSpill || !v.regCovers(old.spillAt(slot), cur.spillAt(slot), ids) {
				// A spilled unknown scalar is as good as plain data.
				o := old.spillAt(slot)
				if !(o.t == scalarT && o.s.isUnknown() && plainData(cur, base)) {
					return false
				}
			}
			continue
		}
		for j := base; j < base+8; j++ {
			ok := v.kindCovers(old.kindAt(j), cur, j)
			if !ok {
				return false
			}
		}
	}
	return true
}

// plainData reports whether the 8 bytes at base hold data, not a spill.
func plainData(st *stackState, base int) bool {
	for j := base; j < base+8; j++ {
		if k := st.kindAt(j); k != slotMisc && k != slotZero {
			return false
		}
	}
	return true
}

func (v *verifier) kindCovers(old slotKind, cur *stackState, j int) bool {
	ck := cur.kindAt(j)
	curScalarish := ck == slotMisc || ck == slotZero || (ck == slotSpill && cur.spillAt(j/8).t == scalarT)
	switch old {
	case slotInvalid:
		if v.opts.Unprivileged {
			return true
		}
		return ck == slotInvalid || curScalarish
	case slotMisc:
		return curScalarish
	case slotZero:
		return ck == slotZero
	}
	return false
}

func (v *verifier) regCovers(o, c reg, ids map[int]int) bool {
	if o.t == notInit {
		return true
	}
	if o.t != c.t {
		return false
	}
	if !scalarCovers(o.s, c.s) {
		return false
	}
	switch o.t {
	case scalarT, ptrCtx, ptrPacketEnd, ptrFunc:
		return o.off == c.off
	case ptrStack:
		return o.off == c.off && o.frame == c.frame
	case constPtrMap:
		return o.m == c.m
	case ptrMapValue:
		return o.m == c.m && o.off == c.off && o.readOnly == c.readOnly
	case ptrMem:
		return o.off == c.off && o.size == c.size && sameID(ids, o.ref, c.ref)
	case ptrMemOrNull:
		return o.off == c.off && o.size == c.size && sameID(ids, o.ref, c.ref) && sameID(ids, o.id, c.id)
	case ptrMapValueOrNull, ptrPacket:
		if o.m != c.m || o.off != c.off || c.rng < o.rng {
			return false
		}
		return sameID(ids, o.id, c.id)
	}
	return false
}

// sameID checks that id o of the old state corresponds to id c of the
// current one, recording the correspondence the first time. Ids are
// globally unique, so one map serves null-check, packet and reference ids.
func sameID(ids map[int]int, o, c int) bool {
	if o == 0 || c == 0 {
		return o == c
	}
	if m, ok := ids[o]; ok {
		return m == c
	}
	for _, m := range ids {
		if m == c {
			return false
		}
	}
	ids[o] = c
	return true
}

func scalarCovers(o, c scalar) bool {
	return o.smin <= c.smin && c.smax <= o.smax && o.umin <= c.umin && c.umax <= o.umax && tin(o.t, c.t)
}
