package jit_test

import (
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf/asm"

	"github.com/wagglebpf/waggle/vm"
)

// TestRepeat runs a program with RunOptions.Repeat in both engines: each
// run must start with a clear stack and fresh registers and see what the
// runs before it wrote to mem; the result is the last run's.
func TestRepeat(t *testing.T) {
	requireJIT(t)
	// r0 = the stack slot at fp-8 (0 in a fresh run) + the counter at
	// mem[0], which it increments; then it dirties the stack.
	p := mustLoad(t, asm.Instructions{
		asm.LoadMem(asm.R0, asm.RFP, -8, asm.DWord),
		asm.LoadMem(asm.R3, asm.R1, 0, asm.DWord),
		asm.Add.Imm(asm.R3, 1),
		asm.StoreMem(asm.R1, 0, asm.R3, asm.DWord),
		asm.Add.Reg(asm.R0, asm.R3),
		asm.StoreMem(asm.RFP, -8, asm.R3, asm.DWord),
		asm.Mov.Reg(asm.R4, asm.RFP),
		asm.Add.Imm(asm.R4, -500),
		asm.StoreImm(asm.R4, 0, 99, asm.Word),
		asm.Return(),
	}, nil)
	for _, e := range []vm.Engine{vm.Interpreter, vm.JIT} {
		for _, n := range []int{0, 1, 7} {
			mem := make([]byte, 8)
			res, err := p.Execute(mem, vm.RunOptions{Engine: e, Repeat: n})
			if err != nil {
				t.Fatal(err)
			}
			runs := uint64(max(n, 1))
			if got := binary.LittleEndian.Uint64(mem); got != runs {
				t.Errorf("%v, repeat %d: counter %d", e, n, got)
			}
			if res.R0 != runs || res.Steps != 10 {
				t.Errorf("%v, repeat %d: r0 %d, %d steps; want %d, 10", e, n, res.R0, res.Steps, runs)
			}
		}
	}
	// An error stops the runs: the third faults.
	q := mustLoad(t, asm.Instructions{
		asm.LoadMem(asm.R3, asm.R1, 0, asm.DWord),
		asm.Add.Imm(asm.R3, 1),
		asm.StoreMem(asm.R1, 0, asm.R3, asm.DWord),
		asm.JLT.Imm(asm.R3, 3, "ok"),
		asm.LoadMem(asm.R0, asm.R3, 0, asm.DWord),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("ok"),
		asm.Return(),
	}, nil)
	for _, e := range []vm.Engine{vm.Interpreter, vm.JIT} {
		mem := make([]byte, 8)
		_, err := q.Execute(mem, vm.RunOptions{Engine: e, Repeat: 10})
		if err == nil || binary.LittleEndian.Uint64(mem) != 3 {
			t.Errorf("%v: error %v after %d runs, want a fault in the third", e, err, binary.LittleEndian.Uint64(mem))
		}
	}
}
