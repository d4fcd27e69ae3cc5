package conformance

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf/asm"
)

// slot is one encoded instruction, for readable expectations.
func slot(op, regs uint8, off int16, imm int32) []byte {
	b := []byte{op, regs}
	b = binary.LittleEndian.AppendUint16(b, uint16(off))
	return binary.LittleEndian.AppendUint32(b, uint32(imm))
}

func mustAssemble(t *testing.T, src string) []byte {
	t.Helper()
	code, err := Assemble(src)
	if err != nil {
		t.Fatalf("Assemble(%q): %v", src, err)
	}
	return code
}

func withOffset(ins asm.Instruction, off int16) asm.Instruction {
	ins.Offset = off
	return ins
}

func withConstant(ins asm.Instruction, c int64) asm.Instruction {
	ins.Constant = c
	return ins
}

// TestEncodingsAgainstCilium builds each instruction family with cilium/ebpf's
// asm package and compares: the bytes cilium marshals, and the instruction
// cilium decodes from our bytes.
func TestEncodingsAgainstCilium(t *testing.T) {
	type tc struct {
		src  string
		want asm.Instruction
	}
	cases := []tc{
		{"add %r1, 5", asm.Add.Imm(asm.R1, 5)},
		{"add64 %r1, 5", asm.Add.Imm(asm.R1, 5)},
		{"add32 %r1, %r2", asm.Add.Reg32(asm.R1, asm.R2)},
		{"sub %r3, -1", asm.Sub.Imm(asm.R3, -1)},
		{"sub32 %r3, %r9", asm.Sub.Reg32(asm.R3, asm.R9)},
		{"mul32 %r0, 0xffffffff", asm.Mul.Imm32(asm.R0, -1)},
		{"mul %r0, %r1", asm.Mul.Reg(asm.R0, asm.R1)},
		{"div %r1, %r2", asm.Div.Reg(asm.R1, asm.R2)},
		{"div32 %r1, 7", asm.Div.Imm32(asm.R1, 7)},
		{"sdiv %r1, -3", asm.SDiv.Imm(asm.R1, -3)},
		{"sdiv32 %r1, %r2", asm.SDiv.Reg32(asm.R1, asm.R2)},
		{"mod %r1, 0x10", asm.Mod.Imm(asm.R1, 16)},
		{"mod32 %r1, %r2", asm.Mod.Reg32(asm.R1, asm.R2)},
		{"smod %r4, %r5", asm.SMod.Reg(asm.R4, asm.R5)},
		{"smod32 %r4, 7", asm.SMod.Imm32(asm.R4, 7)},
		{"or %r1, 0x80000000", asm.Or.Imm(asm.R1, -0x80000000)},
		{"or32 %r1, %r2", asm.Or.Reg32(asm.R1, asm.R2)},
		{"and %r1, 0xffff", asm.And.Imm(asm.R1, 0xffff)},
		{"and32 %r1, %r2", asm.And.Reg32(asm.R1, asm.R2)},
		{"lsh %r1, 63", asm.LSh.Imm(asm.R1, 63)},
		{"lsh32 %r1, %r2", asm.LSh.Reg32(asm.R1, asm.R2)},
		{"rsh %r1, %r2", asm.RSh.Reg(asm.R1, asm.R2)},
		{"rsh32 %r1, 3", asm.RSh.Imm32(asm.R1, 3)},
		{"arsh %r1, 1", asm.ArSh.Imm(asm.R1, 1)},
		{"arsh32 %r1, %r2", asm.ArSh.Reg32(asm.R1, asm.R2)},
		{"xor %r1, %r2", asm.Xor.Reg(asm.R1, asm.R2)},
		{"xor32 %r1, -2", asm.Xor.Imm32(asm.R1, -2)},
		{"mov %r0, %r10", asm.Mov.Reg(asm.R0, asm.R10)},
		{"mov %r0, -1", asm.Mov.Imm(asm.R0, -1)},
		{"mov32 %r0, 1", asm.Mov.Imm32(asm.R0, 1)},
		{"mov32 %r0, %r1", asm.Mov.Reg32(asm.R0, asm.R1)},
		{"neg %r1", asm.Neg.Imm(asm.R1, 0)},
		{"neg32 %r2", asm.Neg.Imm32(asm.R2, 0)},
		{"movsx832 %r0, %r1", asm.MovSX8.Reg32(asm.R0, asm.R1)},
		{"movsx1632 %r2, %r3", asm.MovSX16.Reg32(asm.R2, asm.R3)},
		{"movsx864 %r4, %r5", asm.MovSX8.Reg(asm.R4, asm.R5)},
		{"movsx1664 %r6, %r7", asm.MovSX16.Reg(asm.R6, asm.R7)},
		{"movsx3264 %r8, %r9", asm.MovSX32.Reg(asm.R8, asm.R9)},
		{"le16 %r0", asm.HostTo(asm.LE, asm.R0, asm.Half)},
		{"le32 %r1", asm.HostTo(asm.LE, asm.R1, asm.Word)},
		{"le64 %r2", asm.HostTo(asm.LE, asm.R2, asm.DWord)},
		{"be16 %r0", asm.HostTo(asm.BE, asm.R0, asm.Half)},
		{"be32 %r1", asm.HostTo(asm.BE, asm.R1, asm.Word)},
		{"be64 %r2", asm.HostTo(asm.BE, asm.R2, asm.DWord)},
		{"swap16 %r0", asm.BSwap(asm.R0, asm.Half)},
		{"bswap32 %r1", asm.BSwap(asm.R1, asm.Word)},
		{"swap64 %r2", asm.BSwap(asm.R2, asm.DWord)},
		{"bswap64 %r2", asm.BSwap(asm.R2, asm.DWord)},
		{"ja +3", withOffset(asm.Ja.Label("x"), 3)},
		{"ja -1", withOffset(asm.Ja.Label("x"), -1)},
		{"ja32 -2", withConstant(asm.LongJump("x"), -2)},
		{"gotol +70000", withConstant(asm.LongJump("x"), 70000)},
		{"ldxb %r0, [%r1+2]", asm.LoadMem(asm.R0, asm.R1, 2, asm.Byte)},
		{"ldxh %r0, [%r1]", asm.LoadMem(asm.R0, asm.R1, 0, asm.Half)},
		{"ldxw %r9, [%r10-4]", asm.LoadMem(asm.R9, asm.R10, -4, asm.Word)},
		{"ldxdw %r0, [%r2-16]", asm.LoadMem(asm.R0, asm.R2, -16, asm.DWord)},
		{"ldxsb %r0, [%r10-1]", asm.LoadMemSX(asm.R0, asm.R10, -1, asm.Byte)},
		{"ldxsh %r0, [%r10-2]", asm.LoadMemSX(asm.R0, asm.R10, -2, asm.Half)},
		{"ldxsw %r0, [%r10-4]", asm.LoadMemSX(asm.R0, asm.R10, -4, asm.Word)},
		{"stb [%r10-8], 5", asm.StoreImm(asm.R10, -8, 5, asm.Byte)},
		{"sth [%r1+0x2], -1", asm.StoreImm(asm.R1, 2, -1, asm.Half)},
		{"stw [%r1], 0x11223344", asm.StoreImm(asm.R1, 0, 0x11223344, asm.Word)},
		// cilium's StoreImm refuses DWord; the opcode is the same recipe.
		{"stdw [%r10-16], 0xab", asm.Instruction{OpCode: asm.StoreImmOp(asm.DWord), Dst: asm.R10, Offset: -16, Constant: 0xab}},
		{"stxb [%r10-1], %r1", asm.StoreMem(asm.R10, -1, asm.R1, asm.Byte)},
		{"stxh [%r0+4], %r2", asm.StoreMem(asm.R0, 4, asm.R2, asm.Half)},
		{"stxw [%r0 + 8], %r3", asm.StoreMem(asm.R0, 8, asm.R3, asm.Word)},
		{"stxdw [%r10-8], %r4", asm.StoreMem(asm.R10, -8, asm.R4, asm.DWord)},
		{"lddw %r0, 0x1122334455667788", asm.LoadImm(asm.R0, 0x1122334455667788, asm.DWord)},
		{"lddw %r1, -1", asm.LoadImm(asm.R1, -1, asm.DWord)},
		{"lddw %r2, 0xffffffffffffffff", asm.LoadImm(asm.R2, -1, asm.DWord)},
		{"lock add [%r10-8], %r1", asm.AddAtomic.Mem(asm.R10, asm.R1, asm.DWord, -8)},
		{"lock add32 [%r10-8], %r1", asm.AddAtomic.Mem(asm.R10, asm.R1, asm.Word, -8)},
		{"lock fetch add [%r1+4], %r2", asm.FetchAdd.Mem(asm.R1, asm.R2, asm.DWord, 4)},
		{"lock fetch add32 [%r1+4], %r2", asm.FetchAdd.Mem(asm.R1, asm.R2, asm.Word, 4)},
		{"lock and [%r1], %r2", asm.AndAtomic.Mem(asm.R1, asm.R2, asm.DWord, 0)},
		{"lock fetch and32 [%r1], %r2", asm.FetchAnd.Mem(asm.R1, asm.R2, asm.Word, 0)},
		{"lock or32 [%r1], %r2", asm.OrAtomic.Mem(asm.R1, asm.R2, asm.Word, 0)},
		{"lock fetch or [%r1], %r2", asm.FetchOr.Mem(asm.R1, asm.R2, asm.DWord, 0)},
		{"lock xor [%r1], %r2", asm.XorAtomic.Mem(asm.R1, asm.R2, asm.DWord, 0)},
		{"lock fetch xor32 [%r1], %r2", asm.FetchXor.Mem(asm.R1, asm.R2, asm.Word, 0)},
		{"lock xchg [%r10-8], %r3", asm.Xchg.Mem(asm.R10, asm.R3, asm.DWord, -8)},
		{"lock xchg32 [%r10-8], %r3", asm.Xchg.Mem(asm.R10, asm.R3, asm.Word, -8)},
		{"lock cmpxchg [%r10-8], %r1", asm.CmpXchg.Mem(asm.R10, asm.R1, asm.DWord, -8)},
		{"lock cmpxchg32 [%r10-8], %r1", asm.CmpXchg.Mem(asm.R10, asm.R1, asm.Word, -8)},
		{"call 5", asm.BuiltinFunc(5).Call()},
		{"call helper 1", asm.FnMapLookupElem.Call()},
		{"call local +3", asm.Instruction{OpCode: asm.OpCode(asm.JumpClass).SetJumpOp(asm.Call), Src: asm.PseudoCall, Constant: 3}},
		// callx: the register holding the helper id is in dst (LLVM's encoding, and bpf_conformance's).
		{"call %r2", asm.Instruction{OpCode: asm.Call.Op(asm.RegSource), Dst: asm.R2}},
		{"callx %r2", asm.Instruction{OpCode: asm.Call.Op(asm.RegSource), Dst: asm.R2}},
		{"exit", asm.Return()},
		{"ldabsh 12", asm.LoadAbs(12, asm.Half)},
		{"ldabsb 0", asm.LoadAbs(0, asm.Byte)},
		{"ldindw %r3, 4", asm.LoadInd(asm.R0, asm.R3, 4, asm.Word)},
	}
	jumps := []struct {
		name string
		op   asm.JumpOp
	}{
		{"jeq", asm.JEq}, {"jgt", asm.JGT}, {"jge", asm.JGE}, {"jset", asm.JSet},
		{"jne", asm.JNE}, {"jsgt", asm.JSGT}, {"jsge", asm.JSGE}, {"jlt", asm.JLT},
		{"jle", asm.JLE}, {"jslt", asm.JSLT}, {"jsle", asm.JSLE},
	}
	for _, j := range jumps {
		cases = append(cases,
			tc{j.name + " %r1, 5, +1", withOffset(j.op.Imm(asm.R1, 5, "l"), 1)},
			tc{j.name + " %r1, -5, -3", withOffset(j.op.Imm(asm.R1, -5, "l"), -3)},
			tc{j.name + " %r1, %r2, +7", withOffset(j.op.Reg(asm.R1, asm.R2, "l"), 7)},
			tc{j.name + "32 %r3, 0x80000000, +2", withOffset(j.op.Imm32(asm.R3, -0x80000000, "l"), 2)},
			tc{j.name + "32 %r3, %r4, -4", withOffset(j.op.Reg32(asm.R3, asm.R4, "l"), -4)},
		)
	}

	for _, c := range cases {
		t.Run(c.src, func(t *testing.T) {
			got := mustAssemble(t, c.src)
			atomic := c.want.OpCode.Class() == asm.StXClass && c.want.OpCode.Mode() == asm.AtomicMode
			// cilium/ebpf v0.22's Instruction.Marshal drops the atomic operation
			// from imm (it reads the constant before folding the op into it), so
			// atomics are checked only by decoding below.
			if !atomic {
				var want bytes.Buffer
				if _, err := c.want.Marshal(&want, binary.LittleEndian); err != nil {
					t.Fatalf("cilium marshal: %v", err)
				}
				if !bytes.Equal(got, want.Bytes()) {
					t.Errorf("bytes\n got % x\nwant % x", got, want.Bytes())
				}
			}
			var dec asm.Instruction
			if err := dec.Unmarshal(bytes.NewReader(got), binary.LittleEndian, "linux"); err != nil {
				t.Fatalf("cilium cannot decode % x: %v", got, err)
			}
			if dec.OpCode != c.want.OpCode || dec.Dst != c.want.Dst || dec.Src != c.want.Src || dec.Offset != c.want.Offset ||
				(!atomic && dec.Constant != c.want.Constant) {
				t.Errorf("cilium decodes % x as %v (op %#x dst %v src %v off %d imm %d), want %v (op %#x dst %v src %v off %d imm %d)",
					got, dec, uint32(dec.OpCode), dec.Dst, dec.Src, dec.Offset, dec.Constant,
					c.want, uint32(c.want.OpCode), c.want.Dst, c.want.Src, c.want.Offset, c.want.Constant)
			}
		})
	}
}

// TestRFCOpcodes pins the opcode bytes of RFC 9669's tables for forms the
// cilium comparison does not reach or that are easy to get subtly wrong.
func TestRFCOpcodes(t *testing.T) {
	cases := []struct {
		src  string
		want []byte
	}{
		{"lddw %r0, 0x1122334455667788", append(slot(0x18, 0x00, 0, 0x55667788), slot(0x00, 0, 0, 0x11223344)...)},
		{"lddw %r9, 2147483648", append(slot(0x18, 0x09, 0, -0x80000000), slot(0, 0, 0, 0)...)},
		{"call %r9", slot(0x8d, 0x09, 0, 0)},
		{"call 0", slot(0x85, 0x00, 0, 0)},
		{"call runtime 7", slot(0x85, 0x20, 0, 7)},
		{"ja32 +1", slot(0x06, 0, 0, 1)},
		{"ja +0", slot(0x05, 0, 0, 0)},
		{"lock fetch xchg [%r1-8], %r2", slot(0xdb, 0x21, -8, 0xe1)},
		{"lock cmpxchg32 [%r1+0], %r2", slot(0xc3, 0x21, 0, 0xf1)},
		{"lock fetch and32 [%r1], %r2", slot(0xc3, 0x21, 0, 0x51)},
		{"lock or [%r1], %r2", slot(0xdb, 0x21, 0, 0x40)},
		{"lock fetch xor [%r1], %r2", slot(0xdb, 0x21, 0, 0xa1)},
		{"sdiv %r1, %r2", slot(0x3f, 0x21, 1, 0)},
		{"smod32 %r1, -1", slot(0x94, 0x01, 1, -1)},
		{"movsx3264 %r0, %r9", slot(0xbf, 0x90, 32, 0)},
		{"movsx832 %r0, %r9", slot(0xbc, 0x90, 8, 0)},
		{"le16 %r3", slot(0xd4, 0x03, 0, 16)},
		{"be64 %r3", slot(0xdc, 0x03, 0, 64)},
		{"bswap16 %r3", slot(0xd7, 0x03, 0, 16)},
		{"neg %r3", slot(0x87, 0x03, 0, 0)},
		{"neg32 %r3", slot(0x84, 0x03, 0, 0)},
		{"ldxsw %r1, [%r2+0x7fff]", slot(0x81, 0x21, 0x7fff, 0)},
		{"stdw [%r1-32768], -1", slot(0x7a, 0x01, -0x8000, -1)},
		{"ldindb %r1, 0x4", slot(0x50, 0x10, 0, 4)},
		{"ldabsdw 8", slot(0x38, 0x00, 0, 8)},
		{"EXIT # upper case mnemonics are accepted", slot(0x95, 0, 0, 0)},
	}
	for _, c := range cases {
		if got := mustAssemble(t, c.src); !bytes.Equal(got, c.want) {
			t.Errorf("%s:\n got % x\nwant % x", c.src, got, c.want)
		}
	}
}

func TestLabels(t *testing.T) {
	src := `
start:
	mov %r0, 0
	jeq %r1, 0, exit     # the implicit label: the first exit
	lddw %r2, 1          # two slots
	ja32 back
	call local fn
back: ja start
	exit
fn:
	mov %r0, 1
	exit
`
	got := mustAssemble(t, src)
	prog := [][]byte{
		slot(0xb7, 0x00, 0, 0),  // 0 mov %r0, 0
		slot(0x15, 0x01, 5, 0),  // 1 jeq %r1, 0, exit(7): 7-1-1 = 5
		slot(0x18, 0x02, 0, 1),  // 2 lddw %r2, 1
		slot(0x00, 0x00, 0, 0),  // 3 second half
		slot(0x06, 0x00, 0, 1),  // 4 ja32 back(6): 6-4-1 = 1, in imm
		slot(0x85, 0x10, 0, 2),  // 5 call local fn(8): 8-5-1 = 2, in imm, src 1
		slot(0x05, 0x00, -7, 0), // 6 back: ja start(0): 0-6-1 = -7
		slot(0x95, 0x00, 0, 0),  // 7 exit
		slot(0xb7, 0x00, 0, 1),  // 8 fn: mov %r0, 1
		slot(0x95, 0x00, 0, 0),  // 9 exit
	}
	if w := bytes.Join(prog, nil); !bytes.Equal(got, w) {
		t.Errorf("got\n% x\nwant\n% x", got, w)
	}
}
