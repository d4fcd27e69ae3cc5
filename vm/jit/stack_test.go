package jit_test

import (
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/vm"
)

// frameWalk is a program that runs body at every call depth 0-7: the
// entry sets r1 = 7 and falls into f(r1), which points r8 at the bottom
// of its own frame, runs body for each of its 64 words (r8 advancing to
// r10), and calls f(r1-1) until r1 is 0. r7 is ORed across the frames
// into r0.
func frameWalk(body ...asm.Instruction) asm.Instructions {
	insns := asm.Instructions{
		asm.Mov.Imm(asm.R1, 7),
		asm.Mov.Reg(asm.R6, asm.R1).WithSymbol("f"),
		asm.Mov.Imm(asm.R7, 0),
		asm.Mov.Imm(asm.R9, -1),
		asm.Mov.Reg(asm.R8, asm.R10),
		asm.Add.Imm(asm.R8, -vm.StackSize),
	}
	body[0] = body[0].WithSymbol("loop")
	insns = append(insns, body...)
	return append(insns,
		asm.Add.Imm(asm.R8, 8),
		asm.JNE.Reg(asm.R8, asm.R10, "loop"),
		asm.JEq.Imm(asm.R6, 0, "out"),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Sub.Imm(asm.R1, 1),
		asm.Call.Label("f"),
		asm.Or.Reg(asm.R7, asm.R0),
		asm.Mov.Reg(asm.R0, asm.R7).WithSymbol("out"),
		asm.Return(),
	)
}

// TestStackClearedBetweenRuns checks that no run sees what an earlier
// run left on the stack, whichever engine ran either, however the
// earlier run wrote it: through r10, through a pointer, through a
// constant address, through a helper, in deep frames, and when it ended
// with a fault. Runs take their machine from a pool, so the runs here
// reuse one machine.
func TestStackClearedBetweenRuns(t *testing.T) {
	requireJIT(t)
	// The reader ORs every word of every frame into r0.
	reader := mustLoad(t, frameWalk(
		asm.LoadMem(asm.R2, asm.R8, 0, asm.DWord),
		asm.Or.Reg(asm.R7, asm.R2),
	), nil)
	const fillHelper = 1000
	helpers := map[int32]vm.HelperFunc{
		// fillHelper(addr, n) writes n bytes of 0xff at addr.
		fillHelper: func(env *vm.Env, a [5]uint64) (uint64, error) {
			b, err := env.Bytes(a[0], a[1], true)
			for i := range b {
				b[i] = 0xff
			}
			return 0, err
		},
	}
	top := uint64(vm.StackAddr + (vm.MaxCallDepth-1)*vm.StackSize)
	writers := map[string]asm.Instructions{
		"pointer": frameWalk(asm.StoreMem(asm.R8, 0, asm.R9, asm.DWord)),
		"r10": frameWalk(
			asm.StoreMem(asm.R10, -8, asm.R9, asm.DWord),
			asm.StoreMem(asm.R10, -vm.StackSize, asm.R9, asm.DWord),
			asm.StoreMem(asm.R10, -200, asm.R9, asm.Byte),
		),
		"constant": {
			asm.LoadImm(asm.R1, int64(top), asm.DWord),
			asm.Mov.Imm(asm.R9, -1),
			asm.StoreMem(asm.R1, 0, asm.R9, asm.DWord),
			asm.StoreMem(asm.R1, vm.StackSize-8, asm.R9, asm.DWord),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		},
		"atomic": frameWalk(asm.StoreXAdd(asm.R8, asm.R9, asm.DWord)),
		"helper": frameWalk(
			asm.Mov.Reg(asm.R1, asm.R8),
			asm.Mov.Imm(asm.R2, 8),
			asm.BuiltinFunc(fillHelper).Call(),
		),
		"fault": frameWalk(
			asm.StoreMem(asm.R8, 0, asm.R9, asm.DWord),
			asm.JNE.Imm(asm.R6, 2, "next"),
			asm.LoadMem(asm.R2, asm.R6, 0, asm.DWord), // address 2: a fault at depth 5
			asm.Mov.Imm(asm.R0, 0).WithSymbol("next"),
		),
	}
	engines := []vm.Engine{vm.Interpreter, vm.JIT}
	for name, insns := range writers {
		w, err := vm.LoadInstructions(insns)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, we := range engines {
			for _, re := range engines {
				for range 3 {
					w.Run(nil, vm.RunOptions{Engine: we, Helpers: helpers})
					r0, err := reader.Run(nil, vm.RunOptions{Engine: re})
					if err != nil {
						t.Fatalf("%s: reader: %v", name, err)
					}
					if r0 != 0 {
						t.Fatalf("%s written by %v, read by %v: the stack holds %#x from the previous run", name, we, re, r0)
					}
				}
			}
		}
	}
	// The reader does see what the writers wrote within one run (the
	// test would prove nothing otherwise).
	both := mustLoad(t, frameWalk(
		asm.StoreMem(asm.R8, 0, asm.R9, asm.DWord),
		asm.LoadMem(asm.R2, asm.R8, 0, asm.DWord),
		asm.Or.Reg(asm.R7, asm.R2),
	), nil)
	for _, e := range engines {
		if r0, err := both.Run(nil, vm.RunOptions{Engine: e}); err != nil || r0 != 1<<64-1 {
			t.Fatalf("%v: write and read back: r0 = %#x, %v", e, r0, err)
		}
	}
}
