package vm_test

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/cilium/ebpf/asm"

	"github.com/wagglebpf/waggle/vm"
)

// coreRun loads insns and runs them over mem.
func coreRun(t *testing.T, insns asm.Instructions, mem []byte, opts vm.RunOptions) (uint64, error) {
	t.Helper()
	p, err := vm.LoadInstructions(insns)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return p.Run(mem, opts)
}

// coreRaw encodes one raw instruction, for encodings cilium/ebpf's asm
// does not produce (or refuses to).
func coreRaw(op uint8, dst, src uint8, off int16, imm int32) []byte {
	b := make([]byte, 8)
	b[0] = op
	b[1] = dst | src<<4
	binary.LittleEndian.PutUint16(b[2:], uint16(off))
	binary.LittleEndian.PutUint32(b[4:], uint32(imm))
	return b
}

func coreCat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

var coreExit = coreRaw(0x95, 0, 0, 0, 0)

// coreLddw returns the two slots of lddw dst, v.
func coreLddw(dst uint8, v uint64) []byte {
	return coreCat(coreRaw(0x18, dst, 0, 0, int32(uint32(v))), coreRaw(0, 0, 0, 0, int32(uint32(v>>32))))
}

func TestALU(t *testing.T) {
	const minI64 = uint64(1) << 63
	ld := func(r asm.Register, v uint64) asm.Instruction { return asm.LoadImm(r, int64(v), asm.DWord) }
	tests := []struct {
		name  string
		insns asm.Instructions
		want  uint64
	}{
		{"add64 imm sign-extends", asm.Instructions{asm.Mov.Imm(asm.R0, 1), asm.Add.Imm(asm.R0, -2)}, math.MaxUint64},
		{"add32 wraps and zero-extends", asm.Instructions{ld(asm.R0, 0xffffffff_ffffffff), asm.Add.Imm32(asm.R0, 2)}, 1},
		{"sub64 reg", asm.Instructions{asm.Mov.Imm(asm.R0, 5), asm.Mov.Imm(asm.R1, 7), asm.Sub.Reg(asm.R0, asm.R1)}, math.MaxUint64 - 1},
		{"mul32 truncates", asm.Instructions{ld(asm.R0, 0x1_0000_0003), asm.Mul.Imm32(asm.R0, 0x10000001)}, 0x30000003},
		{"mul64", asm.Instructions{ld(asm.R0, 0x1_0000_0003), asm.Mul.Imm(asm.R0, 3)}, 0x3_0000_0009},
		{"div64 unsigned", asm.Instructions{asm.Mov.Imm(asm.R0, -1), asm.Div.Imm(asm.R0, 2)}, math.MaxUint64 / 2},
		{"div64 imm is sign-extended", asm.Instructions{asm.Mov.Imm(asm.R0, -1), asm.Div.Imm(asm.R0, -1)}, 1},
		{"div64 by zero reg", asm.Instructions{asm.Mov.Imm(asm.R0, 9), asm.Mov.Imm(asm.R1, 0), asm.Div.Reg(asm.R0, asm.R1)}, 0},
		{"div64 by zero imm", asm.Instructions{asm.Mov.Imm(asm.R0, 9), asm.Div.Imm(asm.R0, 0)}, 0},
		{"div32 by zero", asm.Instructions{ld(asm.R0, 0xffff_0000_0000_0009), asm.Mov.Imm(asm.R1, 0), asm.Div.Reg32(asm.R0, asm.R1)}, 0},
		{"div32 ignores upper halves", asm.Instructions{ld(asm.R0, 0x5_0000_0009), ld(asm.R1, 0x1_0000_0003), asm.Div.Reg32(asm.R0, asm.R1)}, 3},
		{"mod64 by zero keeps dst", asm.Instructions{ld(asm.R0, 0xffff_0000_0000_0009), asm.Mod.Imm(asm.R0, 0)}, 0xffff_0000_0000_0009},
		{"mod32 by zero zeroes upper half", asm.Instructions{ld(asm.R0, 0xffff_0000_0000_0009), asm.Mov.Imm(asm.R1, 0), asm.Mod.Reg32(asm.R0, asm.R1)}, 9},
		{"mod64", asm.Instructions{asm.Mov.Imm(asm.R0, 17), asm.Mod.Imm(asm.R0, 5)}, 2},
		{"sdiv64 negative", asm.Instructions{asm.Mov.Imm(asm.R0, -7), asm.SDiv.Imm(asm.R0, 2)}, uint64(math.MaxUint64 - 2)},
		{"sdiv64 INT_MIN/-1", asm.Instructions{ld(asm.R0, minI64), asm.SDiv.Imm(asm.R0, -1)}, minI64},
		{"sdiv64 by zero", asm.Instructions{asm.Mov.Imm(asm.R0, -7), asm.SDiv.Imm(asm.R0, 0)}, 0},
		{"smod64 INT_MIN/-1", asm.Instructions{ld(asm.R0, minI64), asm.Mov.Imm(asm.R1, -1), asm.SMod.Reg(asm.R0, asm.R1)}, 0},
		{"smod64 sign follows dividend", asm.Instructions{asm.Mov.Imm(asm.R0, -7), asm.SMod.Imm(asm.R0, 2)}, math.MaxUint64},
		{"smod64 by zero keeps dst", asm.Instructions{asm.Mov.Imm(asm.R0, -7), asm.SMod.Imm(asm.R0, 0)}, uint64(math.MaxUint64 - 6)},
		{"sdiv32 INT_MIN/-1", asm.Instructions{asm.Mov.Imm32(asm.R0, math.MinInt32), asm.SDiv.Imm32(asm.R0, -1)}, 0x80000000},
		{"sdiv32 negative", asm.Instructions{asm.Mov.Imm32(asm.R0, -7), asm.SDiv.Imm32(asm.R0, 2)}, 0xfffffffd},
		{"smod32 INT_MIN/-1", asm.Instructions{asm.Mov.Imm32(asm.R0, math.MinInt32), asm.SMod.Imm32(asm.R0, -1)}, 0},
		{"smod32 by zero zeroes upper half", asm.Instructions{asm.Mov.Imm(asm.R0, -7), asm.SMod.Imm32(asm.R0, 0)}, 0xfffffff9},
		{"or/and/xor", asm.Instructions{asm.Mov.Imm(asm.R0, 0xf0), asm.Or.Imm(asm.R0, 0x0f), asm.And.Imm(asm.R0, 0x3c), asm.Xor.Imm(asm.R0, 0xff)}, 0xc3},
		{"xor32 zero-extends", asm.Instructions{asm.Mov.Imm(asm.R0, -1), asm.Xor.Imm32(asm.R0, 0)}, 0xffffffff},
		{"lsh64 masks count", asm.Instructions{asm.Mov.Imm(asm.R0, 1), asm.Mov.Imm(asm.R1, 65), asm.LSh.Reg(asm.R0, asm.R1)}, 2},
		{"lsh32 masks count", asm.Instructions{asm.Mov.Imm(asm.R0, 1), asm.Mov.Imm(asm.R1, 33), asm.LSh.Reg32(asm.R0, asm.R1)}, 2},
		{"lsh32 drops upper bits", asm.Instructions{asm.Mov.Imm(asm.R0, 3), asm.LSh.Imm32(asm.R0, 31)}, 0x80000000},
		{"rsh64 by 64 is by 0", asm.Instructions{asm.Mov.Imm(asm.R0, 8), asm.Mov.Imm(asm.R1, 64), asm.RSh.Reg(asm.R0, asm.R1)}, 8},
		{"rsh32 of upper half", asm.Instructions{ld(asm.R0, 0x1_0000_0010), asm.RSh.Imm32(asm.R0, 4)}, 1},
		{"arsh64", asm.Instructions{asm.Mov.Imm(asm.R0, -16), asm.ArSh.Imm(asm.R0, 2)}, uint64(math.MaxUint64 - 3)},
		{"arsh64 masks count", asm.Instructions{asm.Mov.Imm(asm.R0, -16), asm.Mov.Imm(asm.R1, 66), asm.ArSh.Reg(asm.R0, asm.R1)}, uint64(math.MaxUint64 - 3)},
		{"arsh32", asm.Instructions{asm.Mov.Imm32(asm.R0, math.MinInt32), asm.ArSh.Imm32(asm.R0, 4)}, 0xf8000000},
		{"neg64", asm.Instructions{asm.Mov.Imm(asm.R0, 5), asm.Neg.Imm(asm.R0, 0)}, uint64(math.MaxUint64 - 4)},
		{"neg32", asm.Instructions{asm.Mov.Imm(asm.R0, 5), asm.Neg.Imm32(asm.R0, 0)}, 0xfffffffb},
		{"mov32 zero-extends", asm.Instructions{asm.Mov.Imm(asm.R1, -1), asm.Mov.Reg32(asm.R0, asm.R1)}, 0xffffffff},
		{"mov32 imm", asm.Instructions{asm.Mov.Imm32(asm.R0, -1)}, 0xffffffff},
		{"movsx8 to 64", asm.Instructions{asm.Mov.Imm(asm.R1, 0x180), asm.MovSX8.Reg(asm.R0, asm.R1)}, 0xffffffff_ffffff80},
		{"movsx16 to 64", asm.Instructions{asm.Mov.Imm(asm.R1, 0x8001), asm.MovSX16.Reg(asm.R0, asm.R1)}, 0xffffffff_ffff8001},
		{"movsx32 to 64", asm.Instructions{asm.Mov.Imm32(asm.R1, math.MinInt32), asm.MovSX32.Reg(asm.R0, asm.R1)}, 0xffffffff_80000000},
		{"movsx8 to 32", asm.Instructions{asm.Mov.Imm(asm.R1, 0x80), asm.MovSX8.Reg32(asm.R0, asm.R1)}, 0xffffff80},
		{"movsx16 to 32", asm.Instructions{asm.Mov.Imm(asm.R1, 0x7fff), asm.MovSX16.Reg32(asm.R0, asm.R1)}, 0x7fff},
		{"lddw", asm.Instructions{ld(asm.R0, 0x1122334455667788)}, 0x1122334455667788},
		{"le16 truncates", asm.Instructions{ld(asm.R0, 0x1122334455667788), asm.HostTo(asm.LE, asm.R0, asm.Half)}, 0x7788},
		{"le32 truncates", asm.Instructions{ld(asm.R0, 0x1122334455667788), asm.HostTo(asm.LE, asm.R0, asm.Word)}, 0x55667788},
		{"le64 is a no-op", asm.Instructions{ld(asm.R0, 0x1122334455667788), asm.HostTo(asm.LE, asm.R0, asm.DWord)}, 0x1122334455667788},
		{"be16", asm.Instructions{ld(asm.R0, 0x1122334455667788), asm.HostTo(asm.BE, asm.R0, asm.Half)}, 0x8877},
		{"be32", asm.Instructions{ld(asm.R0, 0x1122334455667788), asm.HostTo(asm.BE, asm.R0, asm.Word)}, 0x88776655},
		{"be64", asm.Instructions{ld(asm.R0, 0x1122334455667788), asm.HostTo(asm.BE, asm.R0, asm.DWord)}, 0x8877665544332211},
		{"bswap16", asm.Instructions{ld(asm.R0, 0x1122334455667788), asm.BSwap(asm.R0, asm.Half)}, 0x8877},
		{"bswap32", asm.Instructions{ld(asm.R0, 0x1122334455667788), asm.BSwap(asm.R0, asm.Word)}, 0x88776655},
		{"bswap64", asm.Instructions{ld(asm.R0, 0x1122334455667788), asm.BSwap(asm.R0, asm.DWord)}, 0x8877665544332211},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := coreRun(t, append(tt.insns, asm.Return()), nil, vm.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("r0 = %#x, want %#x", got, tt.want)
			}
		})
	}
}

// TestJumps checks every condition, 64- and 32-bit, imm and reg, against
// Go's evaluation of the same comparison.
func TestJumps(t *testing.T) {
	conds := []struct {
		op  asm.JumpOp
		c64 func(a, b uint64) bool
		c32 func(a, b uint32) bool
	}{
		{asm.JEq, func(a, b uint64) bool { return a == b }, func(a, b uint32) bool { return a == b }},
		{asm.JNE, func(a, b uint64) bool { return a != b }, func(a, b uint32) bool { return a != b }},
		{asm.JGT, func(a, b uint64) bool { return a > b }, func(a, b uint32) bool { return a > b }},
		{asm.JGE, func(a, b uint64) bool { return a >= b }, func(a, b uint32) bool { return a >= b }},
		{asm.JLT, func(a, b uint64) bool { return a < b }, func(a, b uint32) bool { return a < b }},
		{asm.JLE, func(a, b uint64) bool { return a <= b }, func(a, b uint32) bool { return a <= b }},
		{asm.JSet, func(a, b uint64) bool { return a&b != 0 }, func(a, b uint32) bool { return a&b != 0 }},
		{asm.JSGT, func(a, b uint64) bool { return int64(a) > int64(b) }, func(a, b uint32) bool { return int32(a) > int32(b) }},
		{asm.JSGE, func(a, b uint64) bool { return int64(a) >= int64(b) }, func(a, b uint32) bool { return int32(a) >= int32(b) }},
		{asm.JSLT, func(a, b uint64) bool { return int64(a) < int64(b) }, func(a, b uint32) bool { return int32(a) < int32(b) }},
		{asm.JSLE, func(a, b uint64) bool { return int64(a) <= int64(b) }, func(a, b uint32) bool { return int32(a) <= int32(b) }},
	}
	values := []int32{0, 1, -1, 2, math.MinInt32, math.MaxInt32, 0x100}
	uppers := []uint64{0, 0x1_0000_0000, 0xffffffff_00000000}
	for _, c := range conds {
		for _, a := range values {
			for _, up := range uppers {
				av := uint64(int64(a)) ^ up
				for _, b := range values {
					bv := uint64(int64(b))
					for _, w := range []string{"64", "32"} {
						for _, form := range []string{"imm", "reg"} {
							var j asm.Instruction
							var want bool
							switch w + form {
							case "64imm":
								j, want = c.op.Imm(asm.R1, b, "yes"), c.c64(av, bv)
							case "64reg":
								j, want = c.op.Reg(asm.R1, asm.R2, "yes"), c.c64(av, bv)
							case "32imm":
								j, want = c.op.Imm32(asm.R1, b, "yes"), c.c32(uint32(av), uint32(bv))
							case "32reg":
								j, want = c.op.Reg32(asm.R1, asm.R2, "yes"), c.c32(uint32(av), uint32(bv))
							}
							insns := asm.Instructions{
								asm.LoadImm(asm.R1, int64(av), asm.DWord),
								asm.LoadImm(asm.R2, int64(bv), asm.DWord),
								asm.Mov.Imm(asm.R0, 0),
								j,
								asm.Return(),
								asm.Mov.Imm(asm.R0, 1).WithSymbol("yes"),
								asm.Return(),
							}
							got, err := coreRun(t, insns, nil, vm.RunOptions{})
							if err != nil {
								t.Fatal(err)
							}
							if (got == 1) != want {
								t.Errorf("%v%s %s %#x, %#x: taken = %v, want %v", c.op, w, form, av, bv, got == 1, want)
							}
						}
					}
				}
			}
		}
	}
}

func TestJa(t *testing.T) {
	// ja (16-bit offset) and gotol (32-bit imm), forwards and backwards.
	insns := asm.Instructions{
		asm.Mov.Imm(asm.R0, 0),
		asm.Ja.Label("fwd"),
		asm.Mov.Imm(asm.R0, 100),
		asm.Add.Imm(asm.R0, 1).WithSymbol("back"),
		asm.Return(),
		asm.Add.Imm(asm.R0, 10).WithSymbol("fwd"),
		asm.LongJump("back"),
	}
	got, err := coreRun(t, insns, nil, vm.RunOptions{})
	if err != nil || got != 11 {
		t.Fatalf("got %d, %v; want 11", got, err)
	}
}

func TestLoadStore(t *testing.T) {
	mem := []byte{0x80, 0xff, 0x01, 0x02, 0x83, 0x84, 0x85, 0x86, 9, 9, 9, 9}
	tests := []struct {
		name  string
		insns asm.Instructions
		want  uint64
	}{
		{"ldxb", asm.Instructions{asm.LoadMem(asm.R0, asm.R1, 0, asm.Byte)}, 0x80},
		{"ldxh", asm.Instructions{asm.LoadMem(asm.R0, asm.R1, 0, asm.Half)}, 0xff80},
		{"ldxw", asm.Instructions{asm.LoadMem(asm.R0, asm.R1, 0, asm.Word)}, 0x0201ff80},
		{"ldxdw", asm.Instructions{asm.LoadMem(asm.R0, asm.R1, 0, asm.DWord)}, 0x868584830201ff80},
		{"ldxsb", asm.Instructions{asm.LoadMemSX(asm.R0, asm.R1, 0, asm.Byte)}, 0xffffffff_ffffff80},
		{"ldxsh", asm.Instructions{asm.LoadMemSX(asm.R0, asm.R1, 0, asm.Half)}, 0xffffffff_ffffff80},
		{"ldxsw", asm.Instructions{asm.LoadMemSX(asm.R0, asm.R1, 4, asm.Word)}, 0xffffffff_86858483},
		{"ldxsb positive", asm.Instructions{asm.LoadMemSX(asm.R0, asm.R1, 2, asm.Byte)}, 1},
		{"ldx at the last byte", asm.Instructions{asm.LoadMem(asm.R0, asm.R1, 11, asm.Byte)}, 9},
		{"ldx negative offset", asm.Instructions{asm.Add.Imm(asm.R1, 4), asm.LoadMem(asm.R0, asm.R1, -2, asm.Byte)}, 1},
		{"stb/ldx on the stack", asm.Instructions{
			coreStDW(asm.RFP, -8, 0),
			asm.StoreImm(asm.RFP, -7, 0x7f, asm.Byte),
			asm.LoadMem(asm.R0, asm.RFP, -8, asm.DWord)}, 0x7f00},
		{"sth/stw/stdw imm", asm.Instructions{
			coreStDW(asm.RFP, -16, -1),
			asm.StoreImm(asm.RFP, -16, 0x1234, asm.Half),
			asm.StoreImm(asm.RFP, -12, 0x55667788, asm.Word),
			asm.LoadMem(asm.R0, asm.RFP, -16, asm.DWord)}, 0x55667788_ffff1234},
		{"stx all sizes", asm.Instructions{
			asm.LoadImm(asm.R2, 0x1122334455667788, asm.DWord),
			asm.StoreMem(asm.RFP, -8, asm.R2, asm.DWord),
			asm.StoreMem(asm.RFP, -8, asm.R2, asm.Byte),
			asm.StoreMem(asm.RFP, -16, asm.R2, asm.Word),
			asm.StoreMem(asm.RFP, -12, asm.R2, asm.Half),
			asm.LoadMem(asm.R0, asm.RFP, -16, asm.DWord),
			asm.LoadMem(asm.R3, asm.RFP, -8, asm.Byte),
			asm.Add.Reg(asm.R0, asm.R3)}, 0x00007788_55667788 + 0x88},
		{"store to mem is visible", asm.Instructions{
			asm.StoreImm(asm.R1, 8, 0x42, asm.Byte),
			asm.LoadMem(asm.R0, asm.R1, 8, asm.Word)}, 0x09090942},
		{"r2 is len(mem)", asm.Instructions{asm.Mov.Reg(asm.R0, asm.R2)}, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := append([]byte(nil), mem...)
			got, err := coreRun(t, append(tt.insns, asm.Return()), m, vm.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("r0 = %#x, want %#x", got, tt.want)
			}
		})
	}
}

func TestAtomics(t *testing.T) {
	// Each program starts with 0x0f0f0f0f_0f0f0f0f at r10-8 and r1 = 0xff, r0 = 0.
	setup := asm.Instructions{
		asm.LoadImm(asm.R2, 0x0f0f0f0f_0f0f0f0f, asm.DWord),
		asm.StoreMem(asm.RFP, -8, asm.R2, asm.DWord),
		asm.Mov.Imm(asm.R1, 0xff),
		asm.Mov.Imm(asm.R0, 0),
	}
	mem := asm.LoadMem(asm.R3, asm.RFP, -8, asm.DWord)
	tests := []struct {
		name          string
		op            asm.Instruction
		wantMem, want uint64 // memory after, and r1 (or r0 for cmpxchg)
		wantR0        bool
	}{
		{"add64", asm.AddAtomic.Mem(asm.RFP, asm.R1, asm.DWord, -8), 0x0f0f0f0f_0f0f100e, 0xff, false},
		{"fetch add64", asm.FetchAdd.Mem(asm.RFP, asm.R1, asm.DWord, -8), 0x0f0f0f0f_0f0f100e, 0x0f0f0f0f_0f0f0f0f, false},
		{"add32", asm.AddAtomic.Mem(asm.RFP, asm.R1, asm.Word, -8), 0x0f0f0f0f_0f0f100e, 0xff, false},
		{"fetch add32", asm.FetchAdd.Mem(asm.RFP, asm.R1, asm.Word, -8), 0x0f0f0f0f_0f0f100e, 0x0f0f0f0f, false},
		{"or64", asm.OrAtomic.Mem(asm.RFP, asm.R1, asm.DWord, -8), 0x0f0f0f0f_0f0f0fff, 0xff, false},
		{"fetch or32", asm.FetchOr.Mem(asm.RFP, asm.R1, asm.Word, -8), 0x0f0f0f0f_0f0f0fff, 0x0f0f0f0f, false},
		{"and64", asm.AndAtomic.Mem(asm.RFP, asm.R1, asm.DWord, -8), 0x0f, 0xff, false},
		{"fetch and64", asm.FetchAnd.Mem(asm.RFP, asm.R1, asm.DWord, -8), 0x0f, 0x0f0f0f0f_0f0f0f0f, false},
		{"and32 keeps the other half", asm.AndAtomic.Mem(asm.RFP, asm.R1, asm.Word, -4), 0x0000000f_0f0f0f0f, 0xff, false},
		{"xor64", asm.XorAtomic.Mem(asm.RFP, asm.R1, asm.DWord, -8), 0x0f0f0f0f_0f0f0ff0, 0xff, false},
		{"fetch xor32", asm.FetchXor.Mem(asm.RFP, asm.R1, asm.Word, -8), 0x0f0f0f0f_0f0f0ff0, 0x0f0f0f0f, false},
		{"xchg64", asm.Xchg.Mem(asm.RFP, asm.R1, asm.DWord, -8), 0xff, 0x0f0f0f0f_0f0f0f0f, false},
		{"xchg32", asm.Xchg.Mem(asm.RFP, asm.R1, asm.Word, -8), 0x0f0f0f0f_000000ff, 0x0f0f0f0f, false},
		{"cmpxchg64 mismatch", asm.CmpXchg.Mem(asm.RFP, asm.R1, asm.DWord, -8), 0x0f0f0f0f_0f0f0f0f, 0x0f0f0f0f_0f0f0f0f, true},
		{"cmpxchg32 mismatch", asm.CmpXchg.Mem(asm.RFP, asm.R1, asm.Word, -8), 0x0f0f0f0f_0f0f0f0f, 0x0f0f0f0f, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := asm.R1
			if tt.wantR0 {
				reg = asm.R0
			}
			insns := append(append(asm.Instructions{}, setup...), tt.op, mem, asm.Mov.Reg(asm.R0, reg), asm.Return())
			p, err := vm.LoadInstructions(insns)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Run(nil, vm.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("register = %#x, want %#x", got, tt.want)
			}
			// Read memory back through a second program variant.
			insns[len(insns)-2] = asm.Mov.Reg(asm.R0, asm.R3)
			p, _ = vm.LoadInstructions(insns)
			gotMem, _ := p.Run(nil, vm.RunOptions{})
			if gotMem != tt.wantMem {
				t.Errorf("memory = %#x, want %#x", gotMem, tt.wantMem)
			}
		})
	}

	t.Run("cmpxchg match", func(t *testing.T) {
		for _, size := range []asm.Size{asm.Word, asm.DWord} {
			insns := asm.Instructions{
				coreStDW(asm.RFP, -8, 7),
				asm.Mov.Imm(asm.R0, 7),
				asm.Mov.Imm(asm.R1, 42),
				asm.CmpXchg.Mem(asm.RFP, asm.R1, size, -8),
				asm.LoadMem(asm.R3, asm.RFP, -8, asm.DWord),
				asm.LSh.Imm(asm.R3, 8),
				asm.Or.Reg(asm.R0, asm.R3), // r0 = old (7) | mem<<8
				asm.Return(),
			}
			got, err := coreRun(t, insns, nil, vm.RunOptions{})
			if err != nil || got != 42<<8|7 {
				t.Errorf("%v: got %#x, %v; want %#x", size, got, err, 42<<8|7)
			}
		}
	})

	t.Run("misaligned", func(t *testing.T) {
		insns := asm.Instructions{
			asm.Mov.Imm(asm.R1, 1),
			asm.AddAtomic.Mem(asm.RFP, asm.R1, asm.DWord, -12),
			asm.Return(),
		}
		_, err := coreRun(t, insns, nil, vm.RunOptions{})
		coreWantErr(t, err, vm.ErrMisaligned, "vm: pc 1: misaligned 8-byte atomic at 0x10000ff4")
	})
	t.Run("out of bounds", func(t *testing.T) {
		insns := asm.Instructions{
			asm.Mov.Imm(asm.R2, 1),
			asm.AddAtomic.Mem(asm.R1, asm.R2, asm.Word, 8),
			asm.Return(),
		}
		_, err := coreRun(t, insns, make([]byte, 8), vm.RunOptions{})
		coreWantErr(t, err, vm.ErrOutOfBounds, "vm: pc 1: out-of-bounds 4-byte atomic at 0x20000008 (mem is 0x20000000-0x20000008)")
	})
}

// coreStDW is st [dst+off], imm with a 64-bit store, which asm.StoreImm
// refuses to build.
func coreStDW(dst asm.Register, off int16, v int64) asm.Instruction {
	return asm.Instruction{OpCode: asm.StoreImmOp(asm.DWord), Dst: dst, Offset: off, Constant: v}
}

func coreWantErr(t *testing.T, err, is error, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", msg)
	}
	if !errors.Is(err, is) {
		t.Errorf("error %v is not %v", err, is)
	}
	if err.Error() != msg {
		t.Errorf("error:\n got %q\nwant %q", err.Error(), msg)
	}
}

func TestMemoryFaults(t *testing.T) {
	tests := []struct {
		name  string
		insns asm.Instructions
		msg   string
	}{
		{"load past mem", asm.Instructions{asm.LoadMem(asm.R0, asm.R1, 8, asm.DWord)},
			"vm: pc 0: out-of-bounds 8-byte load at 0x20000008 (mem is 0x20000000-0x2000000c)"},
		{"load before mem", asm.Instructions{asm.LoadMem(asm.R0, asm.R1, -1, asm.Byte)},
			"vm: pc 0: out-of-bounds 1-byte load at 0x1fffffff (mem is 0x20000000-0x2000000c)"},
		{"store past mem", asm.Instructions{asm.StoreImm(asm.R1, 12, 0, asm.Byte)},
			"vm: pc 0: out-of-bounds 1-byte store at 0x2000000c (mem is 0x20000000-0x2000000c)"},
		{"null", asm.Instructions{asm.Mov.Imm(asm.R1, 0), asm.LoadMem(asm.R0, asm.R1, 0, asm.Word)},
			"vm: pc 1: out-of-bounds 4-byte load at 0x0 (stack is 0x10000e00-0x10001000)"},
		{"above the stack", asm.Instructions{asm.StoreMem(asm.RFP, 0, asm.R1, asm.DWord)},
			"vm: pc 0: out-of-bounds 8-byte store at 0x10001000 (stack is 0x10000e00-0x10001000)"},
		{"below the frame", asm.Instructions{asm.LoadMem(asm.R0, asm.RFP, -520, asm.DWord)},
			"vm: pc 0: out-of-bounds 8-byte load at 0x10000df8 (stack is 0x10000e00-0x10001000)"},
		{"straddling the end", asm.Instructions{asm.LoadMem(asm.R0, asm.RFP, -4, asm.DWord)},
			"vm: pc 0: out-of-bounds 8-byte load at 0x10000ffc (stack is 0x10000e00-0x10001000)"},
		{"wrapping address", asm.Instructions{asm.LoadImm(asm.R1, -2, asm.DWord), asm.LoadMem(asm.R0, asm.R1, 0, asm.DWord)},
			"vm: pc 2: out-of-bounds 8-byte load at 0xfffffffffffffffe (mem is 0x20000000-0x2000000c)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := coreRun(t, append(tt.insns, asm.Return()), make([]byte, 12), vm.RunOptions{})
			coreWantErr(t, err, vm.ErrOutOfBounds, tt.msg)
			var re *vm.RunError
			if !errors.As(err, &re) || re.Size == 0 {
				t.Errorf("error %#v lacks its address and size", err)
			}
		})
	}
}

func TestLocalCalls(t *testing.T) {
	t.Run("frames are isolated and r6-r9 preserved", func(t *testing.T) {
		insns := asm.Instructions{
			asm.Mov.Imm(asm.R6, 6),
			asm.Mov.Imm(asm.R9, 9),
			coreStDW(asm.RFP, -8, 1000),
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.Add.Imm(asm.R1, -8), // a pointer to the caller's frame
			asm.Call.Label("fn"),
			asm.LoadMem(asm.R2, asm.RFP, -8, asm.DWord), // 1000 + 1 from fn through the pointer
			asm.Add.Reg(asm.R0, asm.R2),
			asm.Add.Reg(asm.R0, asm.R6),
			asm.Add.Reg(asm.R0, asm.R9),
			asm.Return(),

			coreStDW(asm.RFP, -8, 50).WithSymbol("fn"), // own frame
			asm.LoadMem(asm.R3, asm.R1, 0, asm.DWord),
			asm.Add.Imm(asm.R3, 1),
			asm.StoreMem(asm.R1, 0, asm.R3, asm.DWord),
			asm.Mov.Imm(asm.R6, 0),
			asm.Mov.Imm(asm.R9, 0),
			asm.LoadMem(asm.R0, asm.RFP, -8, asm.DWord),
			asm.Return(),
		}
		got, err := coreRun(t, insns, nil, vm.RunOptions{})
		if err != nil || got != 50+1001+6+9 {
			t.Fatalf("got %d, %v; want %d", got, err, 50+1001+6+9)
		}
	})

	// depth calls itself until r1 reaches 0, each call one frame deeper.
	depth := func(n int32) asm.Instructions {
		return asm.Instructions{
			asm.Mov.Imm(asm.R1, n),
			asm.Mov.Imm(asm.R0, 0),
			asm.Call.Label("f"),
			asm.Return(),
			asm.JEq.Imm(asm.R1, 0, "out").WithSymbol("f"),
			asm.Add.Imm(asm.R1, -1),
			asm.StoreMem(asm.RFP, -8, asm.R1, asm.DWord),
			asm.Call.Label("f"),
			asm.Add.Imm(asm.R0, 1),
			asm.Return().WithSymbol("out"),
		}
	}
	t.Run("eight frames", func(t *testing.T) {
		got, err := coreRun(t, depth(6), nil, vm.RunOptions{})
		if err != nil || got != 6 {
			t.Fatalf("got %d, %v; want 6", got, err)
		}
	})
	t.Run("nine frames", func(t *testing.T) {
		_, err := coreRun(t, depth(7), nil, vm.RunOptions{})
		coreWantErr(t, err, vm.ErrCallDepth, "vm: pc 7: call depth exceeded (at most 8 frames)")
	})
	t.Run("unbounded recursion", func(t *testing.T) {
		insns := asm.Instructions{asm.Call.Label("f"), asm.Return(), asm.Call.Label("f").WithSymbol("f"), asm.Return()}
		_, err := coreRun(t, insns, nil, vm.RunOptions{})
		coreWantErr(t, err, vm.ErrCallDepth, "vm: pc 2: call depth exceeded (at most 8 frames)")
	})
}

func TestBudget(t *testing.T) {
	insns := asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Add.Imm(asm.R0, 1).WithSymbol("l"), asm.Ja.Label("l")}
	_, err := coreRun(t, insns, nil, vm.RunOptions{MaxSteps: 1000})
	coreWantErr(t, err, vm.ErrBudget, "vm: pc 2: instruction budget of 1000 exceeded")
	_, err = coreRun(t, insns, nil, vm.RunOptions{})
	coreWantErr(t, err, vm.ErrBudget, "vm: pc 2: instruction budget of 16777216 exceeded")

	// A loop of 10 iterations of 3 instructions, plus 2 and the exit:
	// exactly 33 instructions, so a budget of 33 passes and 32 fails.
	loop := asm.Instructions{
		asm.Mov.Imm(asm.R0, 0),
		asm.Mov.Imm(asm.R1, 10),
		asm.Add.Imm(asm.R0, 2).WithSymbol("l"),
		asm.Add.Imm(asm.R1, -1),
		asm.JNE.Imm(asm.R1, 0, "l"),
		asm.Return(),
	}
	p, err := vm.LoadInstructions(loop)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Execute(nil, vm.RunOptions{MaxSteps: 33})
	if err != nil || res.R0 != 20 || res.Steps != 33 {
		t.Errorf("got %+v, %v; want r0 20 in 33 steps", res, err)
	}
	if _, err := p.Run(nil, vm.RunOptions{MaxSteps: 32}); !errors.Is(err, vm.ErrBudget) {
		t.Errorf("budget 32: %v, want ErrBudget", err)
	}
}

func TestHelpers(t *testing.T) {
	add := func(env *vm.Env, a [5]uint64) (uint64, error) { return a[0] + a[1] + a[2] + a[3] + a[4], nil }
	call := func(id int32) asm.Instruction { return asm.BuiltinFunc(id).Call() }
	t.Run("args and result", func(t *testing.T) {
		insns := asm.Instructions{
			asm.Mov.Imm(asm.R1, 1), asm.Mov.Imm(asm.R2, 2), asm.Mov.Imm(asm.R3, 3), asm.Mov.Imm(asm.R4, 4), asm.Mov.Imm(asm.R5, 5),
			call(77), asm.Return(),
		}
		got, err := coreRun(t, insns, nil, vm.RunOptions{Helpers: map[int32]vm.HelperFunc{77: add}})
		if err != nil || got != 15 {
			t.Fatalf("got %d, %v", got, err)
		}
		_, err = coreRun(t, insns, nil, vm.RunOptions{})
		coreWantErr(t, err, vm.ErrUnknownHelper, "vm: pc 5: unknown helper id 77")
	})
	t.Run("callx", func(t *testing.T) {
		code := coreCat(
			coreRaw(0xb7, 1, 0, 0, 20), // mov r1, 20
			coreRaw(0xb7, 3, 0, 0, 77), // mov r3, 77
			coreRaw(0x8d, 3, 0, 0, 0),  // callx r3
			coreRaw(0xb7, 3, 0, 0, 78), // mov r3, 78
			coreRaw(0x8d, 3, 0, 0, 0),  // callx r3: unknown
			coreExit)
		p, err := vm.Load(code)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Run(nil, vm.RunOptions{Helpers: map[int32]vm.HelperFunc{77: add}})
		coreWantErr(t, err, vm.ErrUnknownHelper, "vm: pc 4: unknown helper id 78")
	})
	t.Run("stop", func(t *testing.T) {
		stop := func(env *vm.Env, a [5]uint64) (uint64, error) { env.Stop(); return 99, nil }
		insns := asm.Instructions{call(1), asm.Mov.Imm(asm.R0, 1), asm.Return()}
		p, _ := vm.LoadInstructions(insns)
		res, err := p.Execute(nil, vm.RunOptions{Helpers: map[int32]vm.HelperFunc{1: stop}})
		if err != nil || res.R0 != 99 || res.Steps != 1 {
			t.Fatalf("got %+v, %v; want r0 99 after 1 step", res, err)
		}
	})
	t.Run("error", func(t *testing.T) {
		boom := errors.New("boom")
		fail := func(env *vm.Env, a [5]uint64) (uint64, error) { return 0, boom }
		_, err := coreRun(t, asm.Instructions{asm.Mov.Imm(asm.R0, 0), call(2), asm.Return()}, nil, vm.RunOptions{Helpers: map[int32]vm.HelperFunc{2: fail}})
		coreWantErr(t, err, boom, "vm: pc 1: helper: boom")
	})
	t.Run("env memory", func(t *testing.T) {
		var seen string
		h := map[int32]vm.HelperFunc{
			// memfrob(ptr, len)
			1: func(env *vm.Env, a [5]uint64) (uint64, error) {
				b, err := env.Bytes(a[0], a[1], true)
				if err != nil {
					return 0, err
				}
				for i := range b {
					b[i] ^= 42
				}
				return 0, nil
			},
			2: func(env *vm.Env, a [5]uint64) (uint64, error) {
				s, err := env.CString(a[0], 0)
				seen = string(s)
				return uint64(len(s)), err
			},
			// returns a read-only region holding "hi"
			3: func(env *vm.Env, a [5]uint64) (uint64, error) {
				return env.AddRegion("greeting", []byte("hi\x00"), false)
			},
		}
		insns := asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.R1),
			asm.Mov.Imm(asm.R2, 3),
			call(1), // frob the first 3 bytes of mem
			asm.Mov.Reg(asm.R1, asm.R6),
			call(2), // strlen
			asm.Mov.Reg(asm.R7, asm.R0),
			call(3),
			asm.LoadMem(asm.R8, asm.R0, 1, asm.Byte), // 'i'
			asm.Mov.Reg(asm.R1, asm.R0),
			call(2),
			asm.Add.Reg(asm.R0, asm.R7),
			asm.LSh.Imm(asm.R0, 8),
			asm.Add.Reg(asm.R0, asm.R8),
			asm.Return(),
		}
		mem := []byte{'a' ^ 42, 'b' ^ 42, 'c' ^ 42, 0}
		got, err := coreRun(t, insns, mem, vm.RunOptions{Helpers: h})
		if err != nil || got != (3+2)<<8|'i' || seen != "hi" || string(mem[:3]) != "abc" {
			t.Fatalf("got %#x, %v, %q, mem %q", got, err, seen, mem)
		}

		// The program cannot write the read-only region, nor can a
		// helper be given memory outside the program's.
		insns = asm.Instructions{call(3), asm.StoreImm(asm.R0, 0, 1, asm.Byte), asm.Return()}
		_, err = coreRun(t, insns, nil, vm.RunOptions{Helpers: h})
		coreWantErr(t, err, vm.ErrOutOfBounds, "vm: pc 1: 1-byte store at 0x100000000 to read-only greeting (0x100000000-0x100000003)")
		insns = asm.Instructions{asm.Mov.Imm(asm.R1, 0), asm.Mov.Imm(asm.R2, 10), call(1), asm.Return()}
		_, err = coreRun(t, insns, nil, vm.RunOptions{Helpers: h})
		if !errors.Is(err, vm.ErrOutOfBounds) || !strings.Contains(err.Error(), "vm: pc 2: helper: helper write of 10 bytes at 0x0") {
			t.Errorf("got %v", err)
		}
	})
}

func TestPacketLoads(t *testing.T) {
	pkt := []byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66}
	tests := []struct {
		name  string
		insns asm.Instructions
		want  uint64
	}{
		{"ld_abs b", asm.Instructions{asm.LoadAbs(1, asm.Byte)}, 0x22},
		{"ld_abs h", asm.Instructions{asm.LoadAbs(1, asm.Half)}, 0x2233},
		{"ld_abs w", asm.Instructions{asm.LoadAbs(2, asm.Word)}, 0x33445566},
		{"ld_ind w", asm.Instructions{asm.Mov.Imm(asm.R3, 1), asm.LoadInd(asm.R0, asm.R3, 1, asm.Word)}, 0x33445566},
		{"ld_abs past the end returns 0", asm.Instructions{asm.LoadAbs(3, asm.Word), asm.Mov.Imm(asm.R0, 7)}, 0},
		{"ld_ind negative returns 0", asm.Instructions{asm.Mov.Imm(asm.R3, -4), asm.LoadInd(asm.R0, asm.R3, 1, asm.Byte), asm.Mov.Imm(asm.R0, 7)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := coreRun(t, append(tt.insns, asm.Return()), pkt, vm.RunOptions{})
			if err != nil || got != tt.want {
				t.Errorf("got %#x, %v; want %#x", got, err, tt.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	mov := coreRaw(0xb7, 0, 0, 0, 0)
	tests := []struct {
		name string
		code []byte
		msg  string
	}{
		{"empty", nil, "vm: pc 0: empty program"},
		{"ragged", make([]byte, 12), "vm: pc 1: bytecode length 12 is not a multiple of 8"},
		{"unknown opcode", coreCat(coreRaw(0xff, 0, 0, 0, 0), coreExit), "vm: pc 0: invalid opcode 0xff"},
		{"bad register", coreCat(coreRaw(0xb7, 11, 0, 0, 0), coreExit), "vm: pc 0: invalid destination register r11"},
		{"write r10", coreCat(coreRaw(0xb7, 10, 0, 0, 0), coreExit), "vm: pc 0: r10 is read-only"},
		{"load into r10", coreCat(coreRaw(0x79, 10, 1, 0, 0), coreExit), "vm: pc 0: r10 is read-only"},
		{"jump out", coreCat(coreRaw(0x05, 0, 0, 5, 0), coreExit), "vm: pc 0: jump target 6 is outside the program (0-1)"},
		{"jump before start", coreCat(coreRaw(0x15, 0, 0, -2, 0), coreExit), "vm: pc 0: jump target -1 is outside the program (0-1)"},
		{"jump into lddw", coreCat(coreRaw(0x05, 0, 0, 1, 0), coreLddw(0, 1), coreExit), "vm: pc 0: jump target 2 is the second slot of lddw"},
		{"lddw cut short", coreCat(mov, coreExit, coreRaw(0x18, 0, 0, 0, 0)), "vm: pc 2: lddw is missing its second slot"},
		{"lddw bad second slot", coreCat(coreRaw(0x18, 0, 0, 0, 0), coreRaw(0x07, 0, 0, 0, 0), coreExit), "vm: pc 1: second slot of lddw must have zero opcode, registers and offset"},
		{"map reference", coreCat(coreRaw(0x18, 1, 1, 0, 3), coreRaw(0, 0, 0, 0, 0), coreExit), "vm: pc 0: lddw src 1: map index 3, but the program has 0 maps"},
		{"call target out", coreCat(coreRaw(0x85, 0, 1, 0, 9), coreExit), "vm: pc 0: call target 10 is outside the program (0-1)"},
		{"falls through", coreCat(mov, mov), "vm: pc 1: last instruction must be exit or ja"},
		{"bad movsx offset", coreCat(coreRaw(0xbf, 0, 1, 7, 0), coreExit), "vm: pc 0: invalid movsx offset 7"},
		{"movsx32 in ALU32", coreCat(coreRaw(0xbc, 0, 1, 32, 0), coreExit), "vm: pc 0: invalid movsx offset 32"},
		{"bad swap width", coreCat(coreRaw(0xdc, 0, 0, 0, 8), coreExit), "vm: pc 0: byte swap width 8 is not 16, 32 or 64"},
		{"atomic on a byte", coreCat(coreRaw(0xd3, 10, 1, -8, 0), coreExit), "vm: pc 0: 1-byte atomic read-modify-write is not defined"},
		{"bad atomic op", coreCat(coreRaw(0xdb, 10, 1, -8, 0x10), coreExit), "vm: pc 0: invalid atomic operation 0x10"},
		{"kfunc", coreCat(coreRaw(0x85, 0, 2, 0, 1), coreExit), "vm: pc 0: kfunc calls are not supported yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := vm.Load(tt.code)
			if err == nil || err.Error() != tt.msg {
				t.Errorf("error:\n got %v\nwant %s", err, tt.msg)
			}
		})
	}
	if _, err := vm.Load(coreCat(coreRaw(0x18, 1, 2, 0, 3), coreRaw(0, 0, 0, 0, 0), coreExit)); !errors.Is(err, vm.ErrNoMap) {
		t.Errorf("map value reference without maps: %v, want ErrNoMap", err)
	}
	// Division by a zero immediate is defined, so it loads.
	if _, err := vm.Load(coreCat(coreRaw(0x37, 0, 0, 0, 0), coreExit)); err != nil {
		t.Errorf("div by zero imm: %v", err)
	}
}

func TestLoadInstructionsKeepsInput(t *testing.T) {
	insns := asm.Instructions{asm.Ja.Label("x"), asm.Return().WithSymbol("x")}
	if _, err := vm.LoadInstructions(insns); err != nil {
		t.Fatal(err)
	}
	if insns[0].Offset != -1 {
		t.Errorf("LoadInstructions resolved the caller's jump in place (offset %d)", insns[0].Offset)
	}
}

// TestConcurrentRuns runs one program from several goroutines; with -race
// this checks that runs share nothing mutable.
func TestConcurrentRuns(t *testing.T) {
	p, err := vm.LoadInstructions(benchSieve)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 {
				got, err := p.Run(make([]byte, 1000), vm.RunOptions{})
				if err != nil || got != 168 {
					t.Errorf("got %d, %v; want 168", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
