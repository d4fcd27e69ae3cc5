package jit

import "github.com/wagglebpf/waggle/vm/internal/jitabi"

// Arch-neutral analysis that every back end needs.

// isBranch reports whether op transfers control to Inst.Off.
func isBranch(op uint8) bool {
	return (op >= jitabi.OpJa && op <= jitabi.OpJsle32Reg) || op == jitabi.OpCallLocal
}

// isCond reports whether op is a conditional jump.
func isCond(op uint8) bool { return op > jitabi.OpJa && op <= jitabi.OpJsle32Reg }

// labels is where control can arrive other than by falling through from
// the previous instruction, which is where the budget is charged (see
// jitabi's Budget section): jump and call targets, and the instruction
// after each local call (where calls return).
type labels struct {
	// at[pc] is set when pc has a label; its charge is Runs[pc].
	at []bool
	// plainInto[pc] is set when pc has a label and the instruction
	// before it falls into it without a charge (anything but a jump,
	// call or exit): the code for pc must then skip its own charge.
	plainInto []bool
}

func analyse(p *jitabi.Program) labels {
	n := len(p.Insts)
	l := labels{at: make([]bool, n), plainInto: make([]bool, n)}
	for pc := 0; pc < n-1; pc++ {
		if p.Second[pc] {
			continue
		}
		in := &p.Insts[pc]
		if isBranch(in.Op) {
			l.at[in.Off] = true
		}
		if in.Op == jitabi.OpCallLocal {
			l.at[pc+1] = true
		}
	}
	prev := -1
	for pc := 0; pc < n; pc++ {
		if p.Second[pc] {
			continue
		}
		if l.at[pc] && prev >= 0 {
			op := p.Insts[prev].Op
			l.plainInto[pc] = !isBranch(op) && op != jitabi.OpExit
		}
		prev = pc
	}
	return l
}
