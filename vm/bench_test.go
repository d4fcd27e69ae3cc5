package vm_test

import (
	"testing"

	"github.com/cilium/ebpf/asm"

	"github.com/wagglebpf/waggle/vm"
)

// benchALU is an ALU-heavy loop in the style of a hash function: 10
// instructions per iteration, 1M iterations, so about 10M instructions
// per run.
var benchALU = asm.Instructions{
	asm.Mov.Imm(asm.R0, 0),
	asm.Mov.Imm(asm.R1, 1_000_000),
	asm.Mov.Imm(asm.R2, 0x12345),
	asm.Mul.Imm(asm.R2, 31).WithSymbol("loop"),
	asm.Add.Reg(asm.R0, asm.R2),
	asm.Mov.Reg(asm.R3, asm.R0),
	asm.RSh.Imm(asm.R3, 7),
	asm.Xor.Reg(asm.R0, asm.R3),
	asm.And.Imm32(asm.R2, 0x7fffffff),
	asm.LSh.Imm(asm.R0, 1),
	asm.Sub.Imm(asm.R1, 1),
	asm.Add.Imm(asm.R0, 3),
	asm.JNE.Imm(asm.R1, 0, "loop"),
	asm.Return(),
}

// benchSieve is a sieve of Eratosthenes over mem (one byte per number),
// counting the primes below len(mem): loads, stores and branches.
var benchSieve = asm.Instructions{
	// r1 = mem, r2 = n, r0 = count, r3 = i
	asm.Mov.Imm(asm.R0, 0),
	asm.Mov.Imm(asm.R3, 2),
	asm.JGE.Reg(asm.R3, asm.R2, "done").WithSymbol("outer"),
	asm.Mov.Reg(asm.R4, asm.R1),
	asm.Add.Reg(asm.R4, asm.R3),
	asm.LoadMem(asm.R5, asm.R4, 0, asm.Byte),
	asm.JNE.Imm(asm.R5, 0, "next"),
	asm.Add.Imm(asm.R0, 1),
	asm.Mov.Reg(asm.R6, asm.R3),
	asm.Mul.Reg(asm.R6, asm.R3),
	asm.JGE.Reg(asm.R6, asm.R2, "next").WithSymbol("inner"),
	asm.Mov.Reg(asm.R4, asm.R1),
	asm.Add.Reg(asm.R4, asm.R6),
	asm.StoreImm(asm.R4, 0, 1, asm.Byte),
	asm.Add.Reg(asm.R6, asm.R3),
	asm.Ja.Label("inner"),
	asm.Add.Imm(asm.R3, 1).WithSymbol("next"),
	asm.Ja.Label("outer"),
	asm.Return().WithSymbol("done"),
}

func benchProgram(b *testing.B, insns asm.Instructions, memSize int, want uint64) {
	p, err := vm.LoadInstructions(insns)
	if err != nil {
		b.Fatal(err)
	}
	mem := make([]byte, memSize)
	var steps uint64
	b.ResetTimer()
	for b.Loop() {
		clear(mem)
		res, err := p.Execute(mem, vm.RunOptions{MaxSteps: 1 << 40})
		if err != nil {
			b.Fatal(err)
		}
		if want != 0 && res.R0 != want {
			b.Fatalf("r0 = %d, want %d", res.R0, want)
		}
		steps += res.Steps
	}
	b.ReportMetric(float64(steps)/b.Elapsed().Seconds()/1e6, "Minsn/s")
	b.ReportMetric(float64(steps)/float64(b.N), "insn/op")
}

// BenchmarkInterpreter measures the interpreter's speed in millions of
// eBPF instructions per second.
func BenchmarkInterpreter(b *testing.B) {
	b.Run("alu", func(b *testing.B) { benchProgram(b, benchALU, 0, 0) })
	b.Run("sieve", func(b *testing.B) { benchProgram(b, benchSieve, 1<<20, 82025) })
}
