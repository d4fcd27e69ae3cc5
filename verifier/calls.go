package verifier

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf/asm"
)

// maxCallFrames is the kernel's MAX_CALL_FRAMES: the main program and up to
// seven nested bpf-to-bpf calls.
const maxCallFrames = 8

// callSub enters the subprogram called at pc: a new frame with its own
// stack; r1-r5 are the arguments, r6-r9 belong to the caller.
func (v *verifier) callSub(pc int, st *state, ins *asm.Instruction) (int, *work, *Rejection) {
	target := pc + 1 + int(int32(ins.Constant))
	if rej := v.checkEnter(pc, st, target); rej != nil {
		return 0, nil, rej
	}
	callee := frame{start: target, callsite: pc, stack: &stackState{}, own: true}
	copy(callee.saved[:], st.regs[asm.R6:asm.R10])
	st.frames = append(st.frames, callee)
	var regs [11]reg
	copy(regs[asm.R1:asm.R6], st.regs[asm.R1:asm.R6])
	regs[asm.R10] = reg{t: ptrStack, s: constScalar(0), frame: st.depth()}
	st.regs = regs
	v.recordChain(st, pc)
	return target, nil, nil
}

// checkEnter refuses entering the function at target from pc when it is
// already running (recursion) or the call would nest too deep.
func (v *verifier) checkEnter(pc int, st *state, target int) *Rejection {
	for _, f := range st.frames {
		if f.start == target {
			return v.rejectAt(pc, st, nil, "recursive call to the function at insn %d is not allowed", target)
		}
	}
	if len(st.frames) >= maxCallFrames {
		return v.rejectAt(pc, st, nil, "the call nests %d functions deep, more than the limit of %d", len(st.frames)+1, maxCallFrames)
	}
	return nil
}

// ret returns from a subprogram to its caller: r0 is the result, r1-r5 are
// clobbered and r6-r10 are the caller's again.
func (v *verifier) ret(pc int, st *state) (int, *work, *Rejection) {
	r0 := st.regs[asm.R0]
	if st.top().args != nil && r0.t != notInit && !(r0.t == ptrStack && r0.frame == st.depth()) {
		return v.callbackReturn(pc, st)
	}
	if r0.t == notInit {
		return 0, nil, v.rejectAt(pc, st, []asm.Register{asm.R0}, "r0 is not initialised when the function returns")
	}
	if r0.t == ptrStack && r0.frame == st.depth() {
		return 0, nil, v.rejectAt(pc, st, []asm.Register{asm.R0}, "the function returns a pointer to its own stack, which is gone after the return")
	}
	callee := st.frames[len(st.frames)-1]
	st.frames = st.frames[:len(st.frames)-1]
	st.regs = [11]reg{asm.R0: r0, asm.R10: {t: ptrStack, s: constScalar(0), frame: st.depth()}}
	copy(st.regs[asm.R6:asm.R10], callee.saved[:])
	return callee.callsite + 1, nil, nil
}

// checkStackChains applies the kernel's limit of 512 bytes of stack for a
// whole chain of calls, each frame rounded up to 32 bytes. It returns the
// deepest chain's size.
func (v *verifier) checkStackChains() (int, *Rejection) {
	frameSize := func(start int) int {
		d := int(-v.stackDepth[start])
		if d < 1 {
			d = 1
		}
		return (d + 31) / 32 * 32
	}
	deepest := int(-v.stackDepth[0])
	for _, c := range v.chains {
		total := 0
		var names []string
		for _, s := range c.starts {
			total += frameSize(s)
			names = append(names, fmt.Sprintf("insn %d (%d bytes)", s, -v.stackDepth[s]))
		}
		if total > stackSize {
			return 0, v.rejectAt(c.pc, nil, nil, "the call chain %s uses %d bytes of stack with each frame rounded up to 32, more than the 512 allowed", strings.Join(names, " -> "), total)
		}
		if total > deepest {
			deepest = total
		}
	}
	return deepest, nil
}

// acquire records a new reference taken at pc.
func (v *verifier) acquire(st *state, pc int) int {
	id := v.newID()
	st.refs = append(st.refs, refState{id: id, pc: pc})
	return id
}

func (st *state) dropRef(id int) bool {
	for i, r := range st.refs {
		if r.id == id {
			st.refs = append(st.refs[:i:i], st.refs[i+1:]...)
			return true
		}
	}
	return false
}

// release ends reference id at pc: every register and spill that points to
// its memory becomes unusable.
func (v *verifier) release(st *state, id, pc int) {
	st.dropRef(id)
	forEachReg(st, func(r *reg) {
		if (r.t == ptrMem || r.t == ptrMemOrNull) && r.ref == id {
			*r = reg{released: true, origin: pc}
		}
	})
}

func (v *verifier) helperName(pc int) string {
	if pc >= 0 && pc < len(v.insns) && v.insns[pc] != nil {
		if h, ok := v.helpers[int32(v.insns[pc].Constant)]; ok {
			return h.Name
		}
	}
	return "a helper"
}

// callWithCallback handles a helper that calls a function of the program
// back (bpf_loop, bpf_for_each_map_elem) any number of times. The call
// is a loop: either the helper returns, or it calls the function, whose
// return comes back to the call to decide again. Scalars the callback
// changes in its caller's stack are widened to unknown on each return, so
// the loop reaches a state it has seen and stops there.
func (v *verifier) callWithCallback(pc int, st *state, ins *asm.Instruction, h HelperSig) (int, *work, *Rejection) {
	var args [5]reg
	copy(args[:], st.regs[asm.R1:asm.R6])
	entry := st.clone()
	if rej := v.call(pc, st, ins); rej != nil {
		return 0, nil, rej
	}
	fn := int(args[1].off)
	inv := entry.clone()
	if rej := v.checkEnter(pc, inv, fn); rej != nil {
		return 0, nil, rej
	}
	cb := frame{start: fn, callsite: pc, stack: &stackState{}, own: true, args: &args, entry: entry}
	copy(cb.saved[:], inv.regs[asm.R6:asm.R10])
	inv.frames = append(inv.frames, cb)
	var regs [11]reg
	switch h.Callback {
	case CallbackLoop:
		regs[asm.R1] = scalarReg(sizedScalar(4)) // the index, below a u32 count
		regs[asm.R2] = args[2]
	case CallbackForEachMapElem:
		m := args[0].m
		key := v.keyRefs[m]
		if key == nil {
			// One per map, so that states holding key pointers compare.
			key = &mapRef{name: m.name + " key", info: MapInfo{Type: m.info.Type, ValueSize: m.info.KeySize}}
			v.keyRefs[m] = key
		}
		regs[asm.R1] = args[0]
		regs[asm.R2] = reg{t: ptrMapValue, m: key, s: constScalar(0), readOnly: true}
		regs[asm.R3] = reg{t: ptrMapValue, m: m, s: constScalar(0)}
		regs[asm.R4] = args[2]
	}
	regs[asm.R10] = reg{t: ptrStack, s: constScalar(0), frame: inv.depth()}
	inv.regs = regs
	v.recordChain(inv, pc)
	return pc + 1, &work{fn, inv}, nil
}

// callbackReturn ends one call of a callback: r0 must be 0 or 1, the
// caller is restored as it was at the helper call, with what the callback
// changed in its stacks widened, and the helper call runs again.
func (v *verifier) callbackReturn(pc int, st *state) (int, *work, *Rejection) {
	r0 := st.regs[asm.R0]
	if r0.t != scalarT || r0.s.smin < 0 || r0.s.smax > 1 {
		return 0, nil, v.rejectAt(pc, st, []asm.Register{asm.R0}, "a callback must return 0 or 1, but r0 may be %s", r0)
	}
	cb := st.frames[len(st.frames)-1]
	if len(st.refs) != len(cb.entry.refs) {
		return 0, nil, v.rejectAt(pc, st, nil, "a callback must release what it acquires and release nothing of its caller's")
	}
	st.frames = st.frames[:len(st.frames)-1]
	var regs [11]reg
	copy(regs[asm.R1:asm.R6], cb.args[:])
	copy(regs[asm.R6:asm.R10], cb.saved[:])
	regs[asm.R10] = reg{t: ptrStack, s: constScalar(0), frame: st.depth()}
	st.regs = regs
	for fi := range st.frames {
		widenStack(st, fi, cb.entry.frames[fi].stack)
	}
	return cb.callsite, nil, nil
}

// widenStack makes every scalar spilled in frame fi that differs from
// what was there before an unknown scalar.
func widenStack(st *state, fi int, before *stackState) {
	cur := st.frames[fi].stack
	if cur == before {
		return
	}
	for slot := stackSize/8 - len(cur.spill); slot < stackSize/8; slot++ {
		if cur.kindAt(slot*8) != slotSpill {
			continue
		}
		r := cur.spillAt(slot)
		if r.t != scalarT || r.s.isUnknown() {
			continue
		}
		if old := before.spillAt(slot); before.kindAt(slot*8) != slotSpill || old != r {
			st.stackW(fi).setSpill(slot, scalarReg(unknownScalar()))
			cur = st.frames[fi].stack
		}
	}
}

// recordChain notes the chain of functions now running, for the stack
// limit across frames.
func (v *verifier) recordChain(st *state, pc int) {
	starts := make([]int, len(st.frames))
	key := make([]string, len(st.frames))
	for i, f := range st.frames {
		starts[i] = f.start
		key[i] = fmt.Sprint(f.start)
	}
	k := strings.Join(key, ",")
	if _, ok := v.chains[k]; !ok {
		v.chains[k] = chain{starts: starts, pc: pc}
	}
}
