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
// the previous instruction: jump and call targets, and the instruction
// after each local call (where calls return).
type labels struct {
	// at[pc] is set when pc has a label.
	at []bool
}

func analyse(p *jitabi.Program) labels {
	n := len(p.Insts)
	l := labels{at: make([]bool, n)}
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
	return l
}

// maxOwed bounds the charges that exact code makes between two checks
// (see deferral), and so its bias: past it, the code checks.
const maxOwed = 1 << 16

// deferral is the plan of exact budget accounting that checks ahead (see
// jitabi's Budget section). Charges are deferred: a conditional jump that
// falls through owes its charge, and what is owed is made at once later.
// Checks are made on every way into a checkpoint (a loop head: a jump
// goes back there; a function; a return point), before an instruction
// that hands control to Go (a call, an exit), and when too much is owed.
// Where forward jumps and falling through meet (a merge point), nothing is
// checked: what is owed there is one amount, the canonical, which the
// ways in that owe otherwise reach by subtracting the difference (one sub
// or add, no check), except the one it is taken from.
type deferral struct {
	// checkpoint[pc] is set for loop heads, functions and return points.
	checkpoint []bool
	// enter[pc], when entered[pc] is set, is what control falling into
	// checkpoint pc pays, with a check, before pc's label.
	enter   []int64
	entered []bool
	// adjust[pc] is what control falling into a merge point pc pays,
	// without a check, so as to owe the canonical amount.
	adjust []int64
	// flush[pc], when flushed[pc] is set, is what every way into pc pays,
	// with a check, before pc's code: what is owed there, before a call
	// or exit, before a jump into a checkpoint that others jump to too, or
	// when too much was charged since the last check.
	flush   []int64
	flushed []bool
	// owed[pc] is what is owed when pc's code starts (after any flush
	// there): an exit there (a fault) reports it, for Go to charge.
	owed []int64
	// edge[pc], for a jump at pc: into a checkpoint, what the taken jump
	// pays with the check at the target (owed and its own charge) when it
	// is the target's sole way in; into a merge point, what it pays
	// without a check to owe the canonical amount there.
	edge []int64
	// sole[t] is the jump that is the only way into checkpoint t by a
	// jump, call or return, so that t's charge can be that jump's own;
	// -1 when there is none or there are several.
	sole []int32
	// into[t] counts the jumps, calls and returns into t.
	into []int32
	// bias is the most that code charges between two checks.
	bias int64
}

// deferrable reports whether charges owed before op may stay owed past
// it: it does not hand control to Go, where the budget must be exact.
func deferrable(op uint8) bool {
	switch op {
	case jitabi.OpCall, jitabi.OpCallX, jitabi.OpCallLocal, jitabi.OpExit, jitabi.OpFallOff,
		jitabi.OpLdAbsB, jitabi.OpLdAbsH, jitabi.OpLdAbsW, jitabi.OpLdIndB, jitabi.OpLdIndH, jitabi.OpLdIndW:
		return false
	}
	return true
}

// way is a way into a merge point: what is owed along it and what was
// charged since the last check.
type way struct {
	from      int // the jump, or -1 for falling through
	cond      bool
	owed, acc int64
}

func planDeferral(p *jitabi.Program, l labels) deferral {
	n := len(p.Insts)
	d := deferral{checkpoint: make([]bool, n), enter: make([]int64, n), entered: make([]bool, n), adjust: make([]int64, n),
		flush: make([]int64, n), flushed: make([]bool, n), owed: make([]int64, n), edge: make([]int64, n),
		sole: make([]int32, n), into: make([]int32, n)}
	for pc := range d.sole {
		d.sole[pc] = -1
	}
	for pc := 0; pc < n-1; pc++ {
		if p.Second[pc] {
			continue
		}
		in := &p.Insts[pc]
		switch {
		case isCond(in.Op) || in.Op == jitabi.OpJa:
			d.into[in.Off]++
			d.sole[in.Off] = int32(pc)
			if int(in.Off) <= pc {
				d.checkpoint[in.Off] = true
			}
		case in.Op == jitabi.OpCallLocal:
			d.into[in.Off] += 2 // never sole
			d.into[pc+1] += 2
			d.checkpoint[in.Off] = true
			d.checkpoint[pc+1] = true
		}
	}
	for t := range d.sole {
		if d.into[t] != 1 {
			d.sole[t] = -1
		}
	}
	note := func(acc int64) { d.bias = max(d.bias, acc) }
	var owed, acc int64 // what is owed, and what was charged since the last check
	flush := func(pc int) {
		d.flush[pc] += owed
		d.flushed[pc] = true
		note(acc)
		owed, acc = 0, 0
	}
	ways := make(map[int][]way)
	falls := true // control can fall into pc
	for pc := 0; pc < n; pc++ {
		if p.Second[pc] {
			continue
		}
		in := &p.Insts[pc]
		switch {
		case d.checkpoint[pc]:
			if falls {
				d.enter[pc], d.entered[pc] = owed, true
				note(acc)
			}
			owed, acc = 0, 0
		case l.at[pc]:
			// A merge point: the canonical amount is the first
			// conditional jump's, else falling through's, else the
			// first jump's.
			ws := ways[pc]
			delete(ways, pc)
			if falls {
				ws = append(ws, way{from: -1, owed: owed, acc: acc})
			}
			if len(ws) == 0 {
				owed, acc = 0, 0 // not reached
				break
			}
			pick := 0
			for i, w := range ws {
				if w.cond {
					pick = i
					break
				}
				if w.from < 0 {
					pick = i
				}
			}
			canon := ws[pick].owed
			acc = 0
			for _, w := range ws {
				if w.from < 0 {
					d.adjust[pc] = w.owed - canon
				} else {
					d.edge[w.from] = w.owed - canon
				}
				acc = max(acc, w.acc)
			}
			owed = canon
		}
		if !deferrable(in.Op) || acc > maxOwed {
			flush(pc)
		}
		d.owed[pc] = owed
		falls = true
		switch {
		case isCond(in.Op) || in.Op == jitabi.OpJa:
			t := int(in.Off)
			if d.checkpoint[t] {
				if d.sole[t] != int32(pc) && isCond(in.Op) && owed > 0 {
					// The target charges its run for every way in:
					// pay what is owed first.
					flush(pc)
					d.owed[pc] = 0
				}
				d.edge[pc] = owed + int64(in.NT)
				note(acc + int64(in.NT))
			} else {
				ways[t] = append(ways[t], way{from: pc, cond: isCond(in.Op), owed: owed + int64(in.NT), acc: acc + int64(in.NT)})
			}
			if in.Op == jitabi.OpJa {
				falls = false
			} else {
				owed += int64(in.NF)
				acc += int64(in.NF)
			}
		case in.Op == jitabi.OpCallLocal:
			note(int64(in.NT))
			note(int64(in.NF)) // charged at the return point
			falls = false
		case in.Op == jitabi.OpExit || in.Op == jitabi.OpFallOff:
			falls = false
		}
	}
	for t := range d.checkpoint {
		if d.checkpoint[t] && d.sole[t] < 0 && !p.Second[t] {
			note(int64(p.Runs[t])) // its generic charge
		}
	}
	return d
}
