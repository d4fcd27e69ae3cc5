package jit

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

var x86Names = [16]string{"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}
var x86Names32 = [16]string{"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"}
var x86Names16 = [16]string{"ax", "cx", "dx", "bx", "sp", "bp", "si", "di", "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"}
var x86Names8 = [16]string{"al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"}

// memText is how x86asm's Intel syntax prints [base+disp].
func memText(size string, base x86Reg, disp int32) string {
	s := size + " ptr [" + x86Names[base]
	switch {
	case disp > 0:
		s += fmt.Sprintf("+%#x", disp)
	case disp < -128: // a disp32 prints unsigned
		s += fmt.Sprintf("+%#x", uint32(disp))
	case disp < 0:
		s += fmt.Sprintf("-%#x", -int64(disp))
	}
	return s + "]"
}

// TestX86Encodings checks each encoder form, over every register and
// several displacements, against golang.org/x/arch's decoder: the bytes
// must decode to exactly one instruction of the expected text.
func TestX86Encodings(t *testing.T) {
	type tc struct {
		emit func(a *x86)
		want string
	}
	var cases []tc
	disps := []int32{0, 8, -8, 127, -128, 128, 4096, -512, 1 << 20}
	for r := x86Reg(0); r < 16; r++ {
		for s := x86Reg(0); s < 16; s++ {
			cases = append(cases,
				tc{func(a *x86) { a.aluRR(true, x86Add, r, s) }, "add " + x86Names[r] + ", " + x86Names[s]},
				tc{func(a *x86) { a.aluRR(false, x86Sub, r, s) }, "sub " + x86Names32[r] + ", " + x86Names32[s]},
				tc{func(a *x86) { a.aluRR(true, x86Cmp, r, s) }, "cmp " + x86Names[r] + ", " + x86Names[s]},
				tc{func(a *x86) { a.testRR(true, r, s) }, "test " + x86Names[r] + ", " + x86Names[s]},
				tc{func(a *x86) { a.movRR(true, r, s) }, "mov " + x86Names[r] + ", " + x86Names[s]},
				tc{func(a *x86) { a.imulRR(true, r, s) }, "imul " + x86Names[r] + ", " + x86Names[s]},
				tc{func(a *x86) { a.movsx8(true, r, s) }, "movsx " + x86Names[r] + ", " + x86Names8[s]},
				tc{func(a *x86) { a.movsx16(false, r, s) }, "movsx " + x86Names32[r] + ", " + x86Names16[s]},
				tc{func(a *x86) { a.movsxd(r, s) }, "movsxd " + x86Names[r] + ", " + x86Names32[s]},
				tc{func(a *x86) { a.movzx16(r, s) }, "movzx " + x86Names32[r] + ", " + x86Names16[s]},
			)
			if s == rsp {
				continue
			}
			for _, d := range disps {
				cases = append(cases,
					tc{func(a *x86) { a.load(8, false, r, mdisp(s, d)) }, "mov " + x86Names[r] + ", " + memText("qword", s, d)},
					tc{func(a *x86) { a.load(4, false, r, mdisp(s, d)) }, "mov " + x86Names32[r] + ", " + memText("dword", s, d)},
					tc{func(a *x86) { a.load(2, false, r, mdisp(s, d)) }, "movzx " + x86Names32[r] + ", " + memText("word", s, d)},
					tc{func(a *x86) { a.load(1, true, r, mdisp(s, d)) }, "movsx " + x86Names[r] + ", " + memText("byte", s, d)},
					tc{func(a *x86) { a.load(4, true, r, mdisp(s, d)) }, "movsxd " + x86Names[r] + ", " + memText("dword", s, d)},
					tc{func(a *x86) { a.store(8, mdisp(s, d), r) }, "mov " + memText("qword", s, d) + ", " + x86Names[r]},
					tc{func(a *x86) { a.store(2, mdisp(s, d), r) }, "mov " + memText("word", s, d) + ", " + x86Names16[r]},
					tc{func(a *x86) { a.store(1, mdisp(s, d), r) }, "mov " + memText("byte", s, d) + ", " + x86Names8[r]},
					tc{func(a *x86) { a.lockALU(true, x86Add, mdisp(s, d), r) }, "lock add " + memText("qword", s, d) + ", " + x86Names[r]},
					tc{func(a *x86) { a.lockXadd(false, mdisp(s, d), r) }, "lock xadd " + memText("dword", s, d) + ", " + x86Names32[r]},
					tc{func(a *x86) { a.lockCmpxchg(true, mdisp(s, d), r) }, "lock cmpxchg " + memText("qword", s, d) + ", " + x86Names[r]},
					tc{func(a *x86) { a.xchg(true, mdisp(s, d), r) }, "xchg " + memText("qword", s, d) + ", " + x86Names[r]},
					tc{func(a *x86) { a.lea(r, mdisp(s, d)) }, "lea " + x86Names[r] + ", " + strings.TrimPrefix(memText("", s, d), " ")},
				)
			}
		}
		for _, imm := range []int32{0, 1, -1, 127, -128, 128, 0x7fffffff, -0x80000000} {
			cases = append(cases,
				tc{func(a *x86) { a.aluRI(true, x86And, r, imm) }, fmt.Sprintf("and %s, %s", x86Names[r], immText(imm))},
				tc{func(a *x86) { a.aluRI(false, x86Xor, r, imm) }, fmt.Sprintf("xor %s, %s", x86Names32[r], immText(imm))},
				tc{func(a *x86) { a.imulRRI(true, r, r, imm) }, fmt.Sprintf("imul %s, %s, %s", x86Names[r], x86Names[r], immText(imm))},
				tc{func(a *x86) { a.storeImm(8, mdisp(rsp, 40), imm) }, fmt.Sprintf("mov qword ptr [rsp+0x28], %s", immText(imm))},
			)
		}
		cases = append(cases,
			tc{func(a *x86) { a.shiftCL(true, x86Sar, r) }, "sar " + x86Names[r] + ", cl"},
			tc{func(a *x86) { a.shiftI(false, x86Shl, r, 7) }, "shl " + x86Names32[r] + ", 0x7"},
			tc{func(a *x86) { a.group3(true, x86Neg, r) }, "neg " + x86Names[r]},
			tc{func(a *x86) { a.group3(false, x86IDiv, r) }, "idiv " + x86Names32[r]},
			tc{func(a *x86) { a.bswap(true, r) }, "bswap " + x86Names[r]},
			tc{func(a *x86) { a.rol16by8(r) }, "rol " + x86Names16[r] + ", 0x8"},
			tc{func(a *x86) { a.movRI(r, 0x123456789) }, "mov " + x86Names[r] + ", 0x123456789"},
			tc{func(a *x86) { a.movRI32(r, 0x80000000) }, "mov " + x86Names32[r] + ", -0x80000000"},
			tc{func(a *x86) { a.jmpR(r) }, "jmp " + x86Names[r]},
		)
	}
	cases = append(cases,
		tc{func(a *x86) { a.cqo(true) }, "cqo"},
		tc{func(a *x86) { a.cqo(false) }, "cdq"},
		tc{func(a *x86) { a.ret() }, "ret"},
	)
	bad := 0
	for _, c := range cases {
		var a x86
		c.emit(&a)
		inst, err := x86asm.Decode(a.b, 64)
		got := ""
		if err == nil {
			got = x86asm.IntelSyntax(inst, 0, nil)
		}
		if err != nil || inst.Len != len(a.b) || got != c.want {
			if bad++; bad < 20 {
				t.Errorf("% x: decodes as %q (len %d of %d, err %v), want %q", a.b, got, inst.Len, len(a.b), err, c.want)
			}
		}
	}
	t.Logf("%d encodings checked", len(cases))
}

// immText is imm as x86asm prints an immediate operand.
func immText(imm int32) string {
	if imm < 0 {
		return fmt.Sprintf("-%#x", -int64(imm))
	}
	return fmt.Sprintf("%#x", imm)
}
