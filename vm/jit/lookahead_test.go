package jit_test

import (
	"testing"

	"github.com/cilium/ebpf/asm"

	"github.com/wagglebpf/waggle/vm"
	"github.com/wagglebpf/waggle/vm/jit"
)

// TestBudgetEveryStep runs programs whose loops store to memory, call
// functions and fall through chains of jumps with every budget from 1 to
// past what they need, in both engines: exact native code, which checks
// the budget ahead and hands the run to the interpreter when it runs
// short (from inside a called function too), must stop where the
// interpreter stops, with the same error, count and memory.
func TestBudgetEveryStep(t *testing.T) {
	requireJIT(t)
	progs := map[string]asm.Instructions{
		// A loop that stores each step, with a chain of jumps that fall
		// through, calling a function that loops too.
		"loops": {
			asm.Mov.Imm(asm.R6, 0),
			asm.Mov.Imm(asm.R0, 0),
			asm.Mov.Reg(asm.R3, asm.R6).WithSymbol("loop"),
			asm.And.Imm(asm.R3, 7),
			asm.JEq.Imm(asm.R3, 1, "one"),
			asm.JEq.Imm(asm.R3, 2, "two"),
			asm.JEq.Imm(asm.R3, 3, "three"),
			asm.Add.Imm(asm.R0, 1),
			asm.StoreMem(asm.R1, 0, asm.R0, asm.DWord),
			asm.Ja.Label("next"),
			asm.Add.Imm(asm.R0, 2).WithSymbol("one"),
			asm.Ja.Label("next"),
			asm.Add.Imm(asm.R0, 3).WithSymbol("two"),
			asm.StoreMem(asm.R1, 8, asm.R0, asm.DWord),
			asm.Ja.Label("next"),
			asm.Mov.Reg(asm.R7, asm.R1).WithSymbol("three"),
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.Call.Label("f"),
			asm.Mov.Reg(asm.R1, asm.R7),
			asm.StoreMem(asm.R1, 16, asm.R0, asm.DWord),
			asm.Add.Imm(asm.R6, 1).WithSymbol("next"),
			asm.JLT.Imm(asm.R6, 40, "loop"),
			asm.Return(),
			// f(n): a loop of n steps that stores on its stack.
			asm.Mov.Imm(asm.R0, 0).WithSymbol("f"),
			asm.StoreMem(asm.RFP, -8, asm.R1, asm.DWord).WithSymbol("floop"),
			asm.Add.Imm(asm.R0, 3),
			asm.Sub.Imm(asm.R1, 1),
			asm.JSGT.Imm(asm.R1, 0, "floop"),
			asm.Return(),
		},
		// Diamonds (log2 by binary search) in a loop, stores between,
		// and a load that faults after them in the last round.
		"diamonds": {
			asm.Mov.Imm(asm.R6, 1),
			asm.Mov.Imm(asm.R0, 0),
			asm.Mov.Reg(asm.R4, asm.R6).WithSymbol("loop"),
			asm.Mov.Imm(asm.R5, 0),
			asm.Mov.Reg(asm.R3, asm.R4),
			asm.RSh.Imm(asm.R3, 4),
			asm.JEq.Imm(asm.R3, 0, "s4"),
			asm.Mov.Reg(asm.R4, asm.R3),
			asm.Add.Imm(asm.R5, 4),
			asm.Mov.Reg(asm.R3, asm.R4).WithSymbol("s4"),
			asm.RSh.Imm(asm.R3, 2),
			asm.JEq.Imm(asm.R3, 0, "s2"),
			asm.Mov.Reg(asm.R4, asm.R3),
			asm.Add.Imm(asm.R5, 2),
			asm.StoreMem(asm.R1, 0, asm.R5, asm.DWord),
			asm.Mov.Reg(asm.R3, asm.R4).WithSymbol("s2"),
			asm.RSh.Imm(asm.R3, 1),
			asm.JEq.Imm(asm.R3, 0, "s1"),
			asm.Add.Imm(asm.R5, 1),
			asm.Add.Reg(asm.R0, asm.R5).WithSymbol("s1"),
			asm.JNE.Imm(asm.R6, 60, "skip"),
			asm.LoadMem(asm.R2, asm.R6, 0, asm.DWord), // faults
			asm.Add.Imm(asm.R6, 1).WithSymbol("skip"),
			asm.JLT.Imm(asm.R6, 70, "loop"),
			asm.Return(),
		},
		// Straight code with a long run before its only branch.
		"straight": append(append(asm.Instructions{asm.Mov.Imm(asm.R0, 0)},
			func() (is asm.Instructions) {
				for i := range 50 {
					is = append(is, asm.Add.Imm(asm.R0, int32(i)))
				}
				return is
			}()...),
			asm.JEq.Imm(asm.R0, 0, "z"),
			asm.StoreMem(asm.R1, 0, asm.R0, asm.DWord),
			asm.Return().WithSymbol("z"),
		),
	}
	for name, insns := range progs {
		p := mustLoad(t, insns, nil)
		if _, err := jit.Compile(p, jit.Options{}); err != nil {
			t.Fatal(err)
		}
		full, _ := p.Execute(make([]byte, 24), vm.RunOptions{MaxSteps: 1 << 20})
		// Far from the budget, the runs end in native code.
		if d := compare(p, make([]byte, 24), vm.RunOptions{MaxSteps: 1 << 20}); d != "" {
			t.Fatalf("%s:\n%s", name, d)
		}
		for steps := uint64(1); steps <= full.Steps+2; steps++ {
			if d := compare(p, make([]byte, 24), vm.RunOptions{MaxSteps: steps}); d != "" {
				t.Fatalf("%s, max steps %d of %d:\n%s", name, steps, full.Steps, d)
			}
		}
	}
}

// TestZeroFlagFromALU checks jumps on a register against 0 right after
// an ALU operation on it, whose flags the amd64 back end reuses: every
// operation, both widths of each, values whose results are 0, and not 0
// only in their upper half.
func TestZeroFlagFromALU(t *testing.T) {
	requireJIT(t)
	type alu struct {
		op  asm.ALUOp
		val int64
	}
	ops := []alu{{asm.Add, -1}, {asm.Sub, 1}, {asm.And, 0xff00}, {asm.Or, 0}, {asm.Xor, 1}, {asm.Add, 0}}
	starts := []int64{0, 1, 1 << 32, 1<<32 + 1, 0xff00}
	for _, o := range ops {
		for _, wide := range []bool{false, true} {
			for _, jwide := range []bool{false, true} {
				for _, jop := range []asm.JumpOp{asm.JEq, asm.JNE} {
					for _, reg := range []bool{false, true} {
						var insns asm.Instructions
						insns = append(insns, asm.LoadMem(asm.R3, asm.R1, 0, asm.DWord), asm.Mov.Imm(asm.R4, int32(o.val)))
						switch {
						case wide && reg:
							insns = append(insns, o.op.Reg(asm.R3, asm.R4))
						case wide:
							insns = append(insns, o.op.Imm(asm.R3, int32(o.val)))
						case reg:
							insns = append(insns, o.op.Reg32(asm.R3, asm.R4))
						default:
							insns = append(insns, o.op.Imm32(asm.R3, int32(o.val)))
						}
						j := jop.Imm(asm.R3, 0, "yes")
						if !jwide {
							j = jop.Imm32(asm.R3, 0, "yes")
						}
						insns = append(insns, j, asm.Mov.Imm(asm.R0, 1), asm.Return(),
							asm.Mov.Imm(asm.R0, 2).WithSymbol("yes"), asm.Return())
						p := mustLoad(t, insns, nil)
						for _, v := range starts {
							mem := make([]byte, 8)
							for i := range 8 {
								mem[i] = byte(v >> (8 * i))
							}
							if d := compare(p, mem, vm.RunOptions{}); d != "" {
								t.Fatalf("%v (64-bit %v, reg %v), %v (64-bit %v) 0, r3 = %#x:\n%s", o.op, wide, reg, jop, jwide, v, d)
							}
						}
					}
				}
			}
		}
	}
}
