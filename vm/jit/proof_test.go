package jit_test

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/wagglebpf/waggle/verifier"
	"github.com/wagglebpf/waggle/vm"
	"github.com/wagglebpf/waggle/vm/jit"
)

// Verified programs: the JIT makes the context, packet and stack accesses
// that the verifier proved in bounds without checks, and Go makes sure
// the proofs hold for each run (the context's packet pointers lie in mem)
// before and after every helper call, handing the run to the interpreter
// when they stop holding.

// xdpParse reads the Ethernet header of an XDP packet and the IPv4
// header behind it, writes the packet, keeps values on the stack through
// a pointer, and calls a function that reads the packet too.
func xdpParse() asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R2, asm.R6, 0, asm.Word), // data
		asm.LoadMem(asm.R3, asm.R6, 4, asm.Word), // data_end
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.Add.Imm(asm.R4, 34),
		asm.JGT.Reg(asm.R4, asm.R3, "short"),
		asm.LoadMem(asm.R0, asm.R2, 12, asm.Half),
		asm.LoadMem(asm.R5, asm.R2, 23, asm.Byte), // IP protocol
		asm.Add.Reg(asm.R0, asm.R5),
		asm.StoreImm(asm.R2, 0, 0x5a, asm.Byte),
		asm.LoadMem(asm.R5, asm.R2, 26, asm.Word), // source address
		asm.StoreMem(asm.R2, 30, asm.R5, asm.Word),
		asm.Mov.Reg(asm.R7, asm.RFP),
		asm.Add.Imm(asm.R7, -16),
		asm.StoreMem(asm.R7, 0, asm.R0, asm.DWord),
		asm.StoreMem(asm.R7, 8, asm.R5, asm.DWord),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Call.Label("sum"),
		asm.LoadMem(asm.R1, asm.R7, 0, asm.DWord),
		asm.Add.Reg(asm.R0, asm.R1),
		asm.LoadMem(asm.R1, asm.R7, 8, asm.DWord),
		asm.Xor.Reg(asm.R0, asm.R1),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 1).WithSymbol("short"),
		asm.Return(),
		// sum(ctx): the sum of the packet's first 14 bytes, or 0.
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word).WithSymbol("sum"),
		asm.LoadMem(asm.R3, asm.R1, 4, asm.Word),
		asm.Mov.Imm(asm.R0, 0),
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.Add.Imm(asm.R4, 14),
		asm.JGT.Reg(asm.R4, asm.R3, "sum_out"),
		asm.Mov.Imm(asm.R5, 0),
		asm.LoadMem(asm.R4, asm.R2, 0, asm.Byte).WithSymbol("sum_loop"),
		asm.Add.Reg(asm.R0, asm.R4),
		asm.Add.Imm(asm.R2, 1),
		asm.Add.Imm(asm.R5, 1),
		asm.JLT.Imm(asm.R5, 14, "sum_loop"),
		asm.Return().WithSymbol("sum_out"),
	}
}

func loadVerifiedXDP(t *testing.T, insns asm.Instructions) *vm.Program {
	t.Helper()
	p, err := vm.LoadVerified(insns, ebpf.XDP, nil, verifier.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestProvenAccesses runs a verified XDP program over packets of every
// length up to 80 bytes in both engines, with exact and coarse budget
// accounting, and requires the JIT's code to make its proved accesses
// without checks.
func TestProvenAccesses(t *testing.T) {
	requireJIT(t)
	r := rand.New(rand.NewPCG(7, 7))
	for _, coarse := range []bool{false, true} {
		p := loadVerifiedXDP(t, xdpParse())
		c, err := jit.Compile(p, jit.Options{CoarseBudget: coarse})
		if err != nil {
			t.Fatal(err)
		}
		if !jit.UsesProofs(c) {
			t.Fatal("the code makes every access with a check")
		}
		for n := range 81 {
			pkt := make([]byte, n)
			for i := range pkt {
				pkt[i] = byte(r.Uint32())
			}
			ctx, err := vm.NewXDPContext(vm.XDPMD{Packet: pkt})
			if err != nil {
				t.Fatal(err)
			}
			for _, repeat := range []int{1, 4} {
				if d := compareBudget(p, ctx.Mem, vm.RunOptions{Repeat: repeat}, coarse); d != "" {
					t.Fatalf("coarse %v, %d-byte packet, repeat %d:\n%s", coarse, n, repeat, d)
				}
			}
		}
	}
}

// compareBudget is compare, but for coarse code only requires the
// instruction count not to be below the interpreter's.
func compareBudget(p *vm.Program, mem []byte, opts vm.RunOptions, coarse bool) string {
	if !coarse {
		return compare(p, mem, opts)
	}
	i := run(p, mem, opts, vm.Interpreter)
	j := run(p, mem, opts, vm.JIT)
	if i.steps <= j.steps {
		i.steps = j.steps
	}
	if i.r0 == j.r0 && i.steps == j.steps && string(i.mem) == string(j.mem) && i.err == j.err {
		return ""
	}
	return "interpreter: " + i.String() + "\njit:         " + j.String()
}

// TestProofGuard runs the verified program over contexts whose packet
// pointers do not describe memory of the run (past its end, into the
// context itself, below mem): the proofs do not hold there, and the run
// must be the interpreter's, fault included, in both engines.
func TestProofGuard(t *testing.T) {
	requireJIT(t)
	p := loadVerifiedXDP(t, xdpParse())
	if _, err := jit.Compile(p, jit.Options{}); err != nil {
		t.Fatal(err)
	}
	ctx, err := vm.NewXDPContext(vm.XDPMD{Packet: make([]byte, 64)})
	if err != nil {
		t.Fatal(err)
	}
	end := uint32(vm.MemAddr + len(ctx.Mem))
	for _, tc := range []struct {
		name      string
		data, end uint32
	}{
		{"past the end", end - 40, end + 1<<20},
		{"over the context", vm.MemAddr, end},
		{"below mem", vm.MemAddr - 1<<16, end},
		{"far away", 0x7f000000, 0x7f010000},
	} {
		mem := append([]byte(nil), ctx.Mem...)
		binary.LittleEndian.PutUint32(mem[vm.XDPMDData:], tc.data)
		binary.LittleEndian.PutUint32(mem[vm.XDPMDDataEnd:], tc.end)
		for _, repeat := range []int{1, 3} {
			if d := compare(p, mem, vm.RunOptions{Repeat: repeat}); d != "" {
				t.Errorf("%s, repeat %d:\n%s", tc.name, repeat, d)
			}
		}
	}
}

// TestProofDeopt calls a helper that moves data_end past the end of mem
// (as an embedder's helper could) from a function called by the program;
// the function then reads 60 KiB into the "packet", which the verifier
// allows. The interpreter faults there; the JIT must stop relying on its
// proofs when the helper returns, and fault the same way.
func TestProofDeopt(t *testing.T) {
	requireJIT(t)
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.Call.Label("f"),
		asm.Add.Imm(asm.R0, 1),
		asm.Return(),
		asm.Mov.Reg(asm.R6, asm.R1).WithSymbol("f"),
		asm.FnKtimeGetNs.Call(),
		asm.LoadMem(asm.R2, asm.R6, 0, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, 4, asm.Word),
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.Add.Imm(asm.R4, 60000),
		asm.JGT.Reg(asm.R4, asm.R3, "out"),
		asm.Add.Imm(asm.R2, 59990),
		asm.LoadMem(asm.R0, asm.R2, 9, asm.Byte),
		asm.StoreImm(asm.R2, 0, 7, asm.Byte),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 2).WithSymbol("out"),
		asm.Return(),
	}
	p := loadVerifiedXDP(t, insns)
	c, err := jit.Compile(p, jit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !jit.UsesProofs(c) {
		t.Fatal("the code makes every access with a check")
	}
	ctx, err := vm.NewXDPContext(vm.XDPMD{Packet: make([]byte, 64)})
	if err != nil {
		t.Fatal(err)
	}
	for _, move := range []bool{false, true} {
		opts := vm.RunOptions{Helpers: map[int32]vm.HelperFunc{
			vm.HelperKtimeGetNS: func(env *vm.Env, _ [5]uint64) (uint64, error) {
				if move {
					b, err := env.Bytes(vm.MemAddr+vm.XDPMDDataEnd, 4, true)
					if err != nil {
						return 0, err
					}
					binary.LittleEndian.PutUint32(b, binary.LittleEndian.Uint32(b)+1<<20)
				}
				return 1, nil
			},
		}}
		i := run(p, ctx.Mem, opts, vm.Interpreter)
		if move && i.err == "" {
			t.Fatalf("the interpreter does not fault: %v", i)
		}
		if d := compare(p, ctx.Mem, opts); d != "" {
			t.Errorf("helper moves data_end %v:\n%s", move, d)
		}
	}
}
