package codegen

import (
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// The code generator works one expression at a time, so a few patterns
// recur at the seams that a pass over the finished function removes:
//
//   - mov rA, rB; *(rfp+off) = rA, with rA dead afterwards (a helper's
//     result parked on the stack): the store takes rB;
//   - *(rfp+off) = rA; rB = *(rfp+off) (a value stored, then read back at
//     once): the load becomes a move, or goes when rB is rA;
//   - the context saved in R6 by the prologue when every read of it comes
//     before the first call or write of R1: those reads use R1 and the
//     prologue goes.
//
// None changes what the program computes; registers are followed by a
// liveness analysis over the control flow (jumps by their labels).

// regSet is a set of registers R0-R10, one bit each.
type regSet uint16

func regBit(r asm.Register) regSet { return 1 << r }

const (
	argRegs    = regSet(0b111110) // R1-R5
	callerRegs = regSet(0b111111) // R0-R5
	allRegs    = regSet(0x7ff)
)

// useDef gives the registers an instruction reads and writes. Atomic
// operations and legacy packet loads are treated as reading every
// register and writing none, which only keeps more values alive.
func useDef(in asm.Instruction) (use, def regSet) {
	op := in.OpCode
	src := regSet(0)
	if op.Source() == asm.RegSource {
		src = regBit(in.Src)
	}
	switch op.Class() {
	case asm.ALUClass, asm.ALU64Class:
		switch op.ALUOp() {
		case asm.Mov:
			return src, regBit(in.Dst)
		case asm.Neg, asm.Swap:
			return regBit(in.Dst), regBit(in.Dst)
		}
		return regBit(in.Dst) | src, regBit(in.Dst)
	case asm.LdXClass:
		return regBit(in.Src), regBit(in.Dst)
	case asm.LdClass:
		if op.IsDWordLoad() {
			return 0, regBit(in.Dst)
		}
		return allRegs, 0
	case asm.StClass:
		return regBit(in.Dst), 0
	case asm.StXClass:
		if op.Mode() == asm.MemMode {
			return regBit(in.Dst) | regBit(in.Src), 0
		}
		return allRegs, 0
	case asm.JumpClass, asm.Jump32Class:
		switch op.JumpOp() {
		case asm.Call:
			return argRegs, callerRegs
		case asm.Exit:
			return regBit(asm.R0), 0
		case asm.Ja:
			return 0, 0
		}
		return regBit(in.Dst) | src, 0
	}
	return allRegs, 0
}

// liveness computes the registers live after each instruction. It
// reports false when a jump's label is not in insns.
func liveness(insns asm.Instructions) ([]regSet, bool) {
	at := map[string]int{}
	for i, in := range insns {
		if s := in.Symbol(); s != "" {
			at[s] = i
		}
	}
	n := len(insns)
	use, def := make([]regSet, n), make([]regSet, n)
	succ := make([][2]int, n) // -1: none
	for i, in := range insns {
		use[i], def[i] = useDef(in)
		succ[i] = [2]int{i + 1, -1}
		if i+1 >= n {
			succ[i][0] = -1
		}
		cls := in.OpCode.Class()
		if cls != asm.JumpClass && cls != asm.Jump32Class {
			continue
		}
		switch in.OpCode.JumpOp() {
		case asm.Call:
		case asm.Exit:
			succ[i][0] = -1
		default:
			t, ok := at[in.Reference()]
			if !ok {
				return nil, false
			}
			if in.OpCode.JumpOp() == asm.Ja {
				succ[i][0] = t
			} else {
				succ[i][1] = t
			}
		}
	}
	out := make([]regSet, n)
	in := make([]regSet, n)
	for changed := true; changed; {
		changed = false
		for i := n - 1; i >= 0; i-- {
			var o regSet
			for _, s := range succ[i] {
				if s >= 0 {
					o |= in[s]
				}
			}
			out[i] = o
			if li := use[i] | (o &^ def[i]); li != in[i] {
				in[i] = li
				changed = true
			}
		}
	}
	return out, true
}

var movReg = asm.Mov.Reg(0, 0).OpCode

// peephole rewrites g.insns (and g.pos alongside) as described above;
// prologue says that g.insns[0] is the context-saving mov R6, R1.
func (g *gen) peephole(prologue bool) {
	for pass := 0; pass < 4; pass++ {
		live, ok := liveness(g.insns)
		if !ok {
			return
		}
		changed := false
		if prologue && g.dropPrologue(live) {
			prologue, changed = false, true
			if live, ok = liveness(g.insns); !ok {
				return
			}
		}
		ins, pos := g.insns[:0:0], g.pos[:0:0]
		for i := 0; i < len(g.insns); i++ {
			in := g.insns[i]
			if i+1 < len(g.insns) && (i > 0 || !prologue) {
				next := g.insns[i+1]
				store := next.OpCode.Class() == asm.StXClass && next.OpCode.Mode() == asm.MemMode
				switch {
				case in.OpCode == movReg && store && next.Symbol() == "" && btf.FuncMetadata(&in) == nil &&
					next.Src == in.Dst && next.Dst != in.Dst && in.Src != in.Dst && in.Src != asm.RFP &&
					live[i+1]&regBit(in.Dst) == 0:
					// mov rA, rB; *(x+off) = rA  ->  *(x+off) = rB
					next.Src = in.Src
					if s := in.Symbol(); s != "" {
						next = next.WithSymbol(s)
					}
					g.insns[i+1] = next
					changed = true
					continue
				case in.OpCode.Class() == asm.StXClass && in.OpCode.Mode() == asm.MemMode && in.Dst == asm.RFP && in.OpCode.Size() == asm.DWord &&
					next.OpCode.Class() == asm.LdXClass && next.OpCode.Mode() == asm.MemMode && next.OpCode.Size() == asm.DWord &&
					next.Src == asm.RFP && next.Offset == in.Offset && next.Symbol() == "" && in.Src != asm.RFP:
					// *(rfp+off) = rA; rB = *(rfp+off)  ->  mov rB, rA (or nothing)
					ins, pos = append(ins, in), append(pos, g.pos[i])
					if next.Dst != in.Src {
						ins, pos = append(ins, asm.Mov.Reg(next.Dst, in.Src)), append(pos, g.pos[i+1])
					}
					i++
					changed = true
					continue
				}
			}
			ins, pos = append(ins, in), append(pos, g.pos[i])
		}
		g.insns, g.pos = ins, pos
		if !changed {
			return
		}
	}
}

// dropPrologue removes the prologue mov R6, R1 when every read of R6
// comes before anything that could change R1 or join paths: those reads
// take R1 instead.
func (g *gen) dropPrologue(live []regSet) bool {
	k := 1
	for ; k < len(g.insns); k++ {
		in := g.insns[k]
		_, def := useDef(in)
		cls := in.OpCode.Class()
		if in.Symbol() != "" || cls == asm.JumpClass || cls == asm.Jump32Class || def&(regBit(asm.R1)|regBit(ctxReg)) != 0 ||
			(cls == asm.LdClass && !in.OpCode.IsDWordLoad()) || (cls == asm.StXClass && in.OpCode.Mode() != asm.MemMode) {
			break
		}
	}
	// R6 must be dead from instruction k on: live after k-1.
	if k >= len(g.insns) || live[k-1]&regBit(ctxReg) != 0 {
		return false
	}
	for i := 1; i < k; i++ {
		in := &g.insns[i]
		if in.OpCode.IsDWordLoad() {
			continue
		}
		if in.Dst == ctxReg {
			in.Dst = asm.R1
		}
		if in.Src == ctxReg {
			switch cls := in.OpCode.Class(); {
			case cls == asm.LdXClass || cls == asm.StXClass,
				(cls == asm.ALUClass || cls == asm.ALU64Class) && in.OpCode.Source() == asm.RegSource:
				in.Src = asm.R1
			}
		}
	}
	g.insns, g.pos = g.insns[1:], g.pos[1:]
	return true
}
