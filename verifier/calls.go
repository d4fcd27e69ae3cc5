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
	for _, f := range st.frames {
		if f.start == target {
			return 0, nil, v.rejectAt(pc, st, nil, "recursive call to the function at insn %d is not allowed", target)
		}
	}
	if len(st.frames) >= maxCallFrames {
		return 0, nil, v.rejectAt(pc, st, nil, "the call nests %d functions deep, more than the limit of %d", len(st.frames)+1, maxCallFrames)
	}
	callee := frame{start: target, callsite: pc, stack: &stackState{}, own: true}
	copy(callee.saved[:], st.regs[asm.R6:asm.R10])
	st.frames = append(st.frames, callee)
	var regs [11]reg
	copy(regs[asm.R1:asm.R6], st.regs[asm.R1:asm.R6])
	regs[asm.R10] = reg{t: ptrStack, s: constScalar(0), frame: st.depth()}
	st.regs = regs

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
	return target, nil, nil
}

// ret returns from a subprogram to its caller: r0 is the result, r1-r5 are
// clobbered and r6-r10 are the caller's again.
func (v *verifier) ret(pc int, st *state) (int, *work, *Rejection) {
	r0 := st.regs[asm.R0]
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
