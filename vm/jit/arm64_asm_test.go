package jit

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/arch/arm64/arm64asm"
)

// disasmA64 decodes code with golang.org/x/arch, one line per
// instruction in GNU syntax.
func disasmA64(t *testing.T, code []uint32) []string {
	t.Helper()
	var out []string
	for _, w := range code {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], w)
		in, err := arm64asm.Decode(b[:])
		if err != nil {
			out = append(out, fmt.Sprintf("<%08x: %v>", w, err))
			continue
		}
		out = append(out, strings.TrimSpace(arm64asm.GNUSyntax(in)))
	}
	return out
}

// TestA64Encodings checks every encoder against golang.org/x/arch's
// decoder: each case emits one or more instructions and lists what they
// must disassemble to.
func TestA64Encodings(t *testing.T) {
	cases := []struct {
		emit func(a *a64Asm)
		want string // instructions separated by "; "
	}{
		// Add, subtract, logical: register and shifted register.
		{func(a *a64Asm) { a.add(x64, x0, x1, x2) }, "add x0, x1, x2"},
		{func(a *a64Asm) { a.add(w32, x3, x4, x30) }, "add w3, w4, w30"},
		{func(a *a64Asm) { a.sub(x64, x5, x6, x7) }, "sub x5, x6, x7"},
		{func(a *a64Asm) { a.sub(w32, x5, x6, x7) }, "sub w5, w6, w7"},
		{func(a *a64Asm) { a.adds(x64, x1, x2, x3) }, "adds x1, x2, x3"},
		{func(a *a64Asm) { a.subs(w32, x1, x2, x3) }, "subs w1, w2, w3"},
		{func(a *a64Asm) { a.and(x64, x8, x9, x10) }, "and x8, x9, x10"},
		{func(a *a64Asm) { a.and(w32, x8, x9, x10) }, "and w8, w9, w10"},
		{func(a *a64Asm) { a.orr(x64, x11, x12, x13) }, "orr x11, x12, x13"},
		{func(a *a64Asm) { a.orr(w32, x11, x12, x13) }, "orr w11, w12, w13"},
		{func(a *a64Asm) { a.eor(x64, x14, x15, x16) }, "eor x14, x15, x16"},
		{func(a *a64Asm) { a.eor(w32, x14, x15, x16) }, "eor w14, w15, w16"},
		{func(a *a64Asm) { a.bic(x64, x1, x2, x3) }, "bic x1, x2, x3"},
		{func(a *a64Asm) { a.ands(x64, x1, x2, x3) }, "ands x1, x2, x3"},
		{func(a *a64Asm) { a.shifted(a64OpADDsr, x64, x0, x1, x2, a64LSL, 3) }, "add x0, x1, x2, lsl #3"},
		{func(a *a64Asm) { a.shifted(a64OpSUBsr, x64, x0, x1, x2, a64LSR, 63) }, "sub x0, x1, x2, lsr #63"},
		{func(a *a64Asm) { a.shifted(a64OpADDsr, w32, x0, x1, x2, a64ASR, 31) }, "add w0, w1, w2, asr #31"},
		{func(a *a64Asm) { a.shifted(a64OpORRsr, x64, x0, x1, x2, a64LSL, 32) }, "orr x0, x1, x2, lsl #32"},
		{func(a *a64Asm) { a.shifted(a64OpANDsr, x64, x0, x1, x2, a64ROR, 8) }, "and x0, x1, x2, ror #8"},
		{func(a *a64Asm) { a.shifted(a64OpEORsr, w32, x0, x1, x2, a64LSR, 16) }, "eor w0, w1, w2, lsr #16"},
		{func(a *a64Asm) { a.mov(x64, x0, x1) }, "mov x0, x1"},
		{func(a *a64Asm) { a.mov(w32, x0, x1) }, "mov w0, w1"},
		{func(a *a64Asm) { a.uxtw(x3, x3) }, "mov w3, w3"},
		{func(a *a64Asm) { a.mvn(x64, x2, x3) }, "mvn x2, x3"},
		{func(a *a64Asm) { a.mvn(w32, x2, x3) }, "mvn w2, w3"},
		{func(a *a64Asm) { a.neg(x64, x2, x3) }, "neg x2, x3"},
		{func(a *a64Asm) { a.neg(w32, x2, x2) }, "neg w2, w2"},
		{func(a *a64Asm) { a.cmp(x64, x1, x2) }, "cmp x1, x2"},
		{func(a *a64Asm) { a.cmp(w32, x1, x2) }, "cmp w1, w2"},
		{func(a *a64Asm) { a.tst(x64, x1, x2) }, "tst x1, x2"},
		{func(a *a64Asm) { a.tst(w32, x1, x2) }, "tst w1, w2"},

		// Immediate add, subtract and compare.
		{func(a *a64Asm) { a.addImm(x64, x0, x1, 1) }, "add x0, x1, #0x1"},
		{func(a *a64Asm) { a.addImm(x64, x0, x1, 4095) }, "add x0, x1, #0xfff"},
		{func(a *a64Asm) { a.addImm(x64, x0, x1, 0x1000) }, "add x0, x1, #0x1, lsl #12"},
		{func(a *a64Asm) { a.addImm(w32, x0, x1, 0xfff000) }, "add w0, w1, #0xfff, lsl #12"},
		{func(a *a64Asm) { a.subImm(x64, x0, x1, 512) }, "sub x0, x1, #0x200"},
		{func(a *a64Asm) { a.subImm(w32, x0, x1, 0x7000) }, "sub w0, w1, #0x7, lsl #12"},
		{func(a *a64Asm) { a.addImm(x64, xsp, xsp, 16) }, "add sp, sp, #0x10"},
		{func(a *a64Asm) { a.subImm(x64, xsp, xsp, 32) }, "sub sp, sp, #0x20"},
		{func(a *a64Asm) { a.movSP(x0, xsp) }, "mov x0, sp"},
		{func(a *a64Asm) { a.movSP(xsp, x0) }, "mov sp, x0"},
		{func(a *a64Asm) { a.cmpImm(x64, x3, 7) }, "cmp x3, #0x7"},
		{func(a *a64Asm) { a.cmpImm(w32, x3, 0x5000) }, "cmp w3, #0x5, lsl #12"},
		{func(a *a64Asm) { a.cmpImm(x64, x3, -1) }, "cmn x3, #0x1"},
		{func(a *a64Asm) { a.cmpImm(w32, x3, -4095) }, "cmn w3, #0xfff"},

		// Logical immediates.
		{func(a *a64Asm) { a.andImm(w32, x0, x1, 0xff) }, "and w0, w1, #0xff"},
		{func(a *a64Asm) { a.andImm(x64, x0, x1, 0xffff) }, "and x0, x1, #0xffff"},
		{func(a *a64Asm) { a.andImm(x64, x0, x1, 0xffffffff00000000) }, "and x0, x1, #0xffffffff00000000"},
		{func(a *a64Asm) { a.orrImm(x64, x0, x1, 0x5555555555555555) }, "orr x0, x1, #0x5555555555555555"},
		{func(a *a64Asm) { a.orrImm(w32, x0, x1, 0x80000001) }, "orr w0, w1, #0x80000001"},
		{func(a *a64Asm) { a.eorImm(x64, x0, x1, 0x8000000000000000) }, "eor x0, x1, #0x8000000000000000"},
		{func(a *a64Asm) { a.eorImm(w32, x0, x1, 0xfffffffe) }, "eor w0, w1, #0xfffffffe"},
		{func(a *a64Asm) { a.tstImm(x64, x5, 1) }, "tst x5, #0x1"},
		{func(a *a64Asm) { a.tstImm(w32, x5, 0x0f0f0f0f) }, "tst w5, #0xf0f0f0f"},

		// Move wide and constants.
		{func(a *a64Asm) { a.movz(x64, x0, 0x1234, 0) }, "mov x0, #0x1234"},
		{func(a *a64Asm) { a.movz(x64, x0, 0x1234, 3) }, "mov x0, #0x1234000000000000"},
		{func(a *a64Asm) { a.movz(w32, x0, 0xffff, 1) }, "mov w0, #0xffff0000"},
		{func(a *a64Asm) { a.movk(x64, x0, 0xbeef, 2) }, "movk x0, #0xbeef, lsl #32"},
		{func(a *a64Asm) { a.movk(w32, x0, 0xbeef, 1) }, "movk w0, #0xbeef, lsl #16"},
		{func(a *a64Asm) { a.movn(x64, x0, 0, 0) }, "mov x0, #0xffffffffffffffff"},
		{func(a *a64Asm) { a.movn(w32, x0, 1, 0) }, "mov w0, #0xfffffffe"},
		{func(a *a64Asm) { a.movConst(x64, x7, 0) }, "mov x7, #0x0"},
		{func(a *a64Asm) { a.movConst(x64, x7, 42) }, "mov x7, #0x2a"},
		{func(a *a64Asm) { a.movConst(x64, x7, ^uint64(0)) }, "mov x7, #0xffffffffffffffff"},
		{func(a *a64Asm) { a.movConst(x64, x7, 0xffffffff80000000) }, "mov x7, #0xffffffff80000000"},
		{func(a *a64Asm) { a.movConst(x64, x7, 0x123456789abcdef0) }, "mov x7, #0xdef0; movk x7, #0x9abc, lsl #16; movk x7, #0x5678, lsl #32; movk x7, #0x1234, lsl #48"},
		{func(a *a64Asm) { a.movConst(x64, x7, 0xffffffff12345678) }, "mov x7, #0xffffffffffff5678; movk x7, #0x1234, lsl #16"},
		{func(a *a64Asm) { a.movConst(x64, x7, 0x00ff00ff00ff00ff) }, "mov x7, #0xff00ff00ff00ff"},
		{func(a *a64Asm) { a.movConst(w32, x7, 0x12345678) }, "mov w7, #0x5678; movk w7, #0x1234, lsl #16"},
		{func(a *a64Asm) { a.movConst(w32, x7, 0xffffffff) }, "mov w7, #0xffffffff"},
		{func(a *a64Asm) { a.movConst(w32, x7, 0x10000) }, "mov w7, #0x10000"},

		// Multiply, divide, remainder, variable shifts.
		{func(a *a64Asm) { a.mul(x64, x0, x1, x2) }, "mul x0, x1, x2"},
		{func(a *a64Asm) { a.mul(w32, x0, x1, x2) }, "mul w0, w1, w2"},
		{func(a *a64Asm) { a.madd(x64, x0, x1, x2, x3) }, "madd x0, x1, x2, x3"},
		{func(a *a64Asm) { a.msub(x64, x0, x1, x2, x3) }, "msub x0, x1, x2, x3"},
		{func(a *a64Asm) { a.msub(w32, x0, x1, x2, x3) }, "msub w0, w1, w2, w3"},
		{func(a *a64Asm) { a.udiv(x64, x0, x1, x2) }, "udiv x0, x1, x2"},
		{func(a *a64Asm) { a.udiv(w32, x0, x1, x2) }, "udiv w0, w1, w2"},
		{func(a *a64Asm) { a.sdiv(x64, x0, x1, x2) }, "sdiv x0, x1, x2"},
		{func(a *a64Asm) { a.sdiv(w32, x0, x1, x2) }, "sdiv w0, w1, w2"},
		{func(a *a64Asm) { a.lslv(x64, x0, x1, x2) }, "lsl x0, x1, x2"},
		{func(a *a64Asm) { a.lslv(w32, x0, x1, x2) }, "lsl w0, w1, w2"},
		{func(a *a64Asm) { a.lsrv(x64, x0, x1, x2) }, "lsr x0, x1, x2"},
		{func(a *a64Asm) { a.lsrv(w32, x0, x1, x2) }, "lsr w0, w1, w2"},
		{func(a *a64Asm) { a.asrv(x64, x0, x1, x2) }, "asr x0, x1, x2"},
		{func(a *a64Asm) { a.asrv(w32, x0, x1, x2) }, "asr w0, w1, w2"},

		// Immediate shifts, byte swaps, extensions.
		{func(a *a64Asm) { a.lslImm(x64, x0, x1, 3) }, "lsl x0, x1, #3"},
		{func(a *a64Asm) { a.lslImm(x64, x0, x1, 63) }, "lsl x0, x1, #63"},
		{func(a *a64Asm) { a.lslImm(w32, x0, x1, 31) }, "lsl w0, w1, #31"},
		{func(a *a64Asm) { a.lslImm(w32, x0, x1, 1) }, "lsl w0, w1, #1"},
		{func(a *a64Asm) { a.lsrImm(x64, x0, x1, 32) }, "lsr x0, x1, #32"},
		{func(a *a64Asm) { a.lsrImm(w32, x0, x1, 5) }, "lsr w0, w1, #5"},
		{func(a *a64Asm) { a.asrImm(x64, x0, x1, 63) }, "asr x0, x1, #63"},
		{func(a *a64Asm) { a.asrImm(w32, x0, x1, 7) }, "asr w0, w1, #7"},
		{func(a *a64Asm) { a.rev16(w32, x0, x1) }, "rev16 w0, w1"},
		{func(a *a64Asm) { a.rev16(x64, x0, x1) }, "rev16 x0, x1"},
		{func(a *a64Asm) { a.rev32(w32, x0, x1) }, "rev w0, w1"},
		{func(a *a64Asm) { a.rev32(x64, x0, x1) }, "rev32 x0, x1"},
		{func(a *a64Asm) { a.rev(x0, x1) }, "rev x0, x1"},
		{func(a *a64Asm) { a.uxtb(x0, x1) }, "uxtb w0, w1"},
		{func(a *a64Asm) { a.uxth(x0, x1) }, "uxth w0, w1"},
		{func(a *a64Asm) { a.sxtb(x64, x0, x1) }, "sxtb x0, w1"},
		{func(a *a64Asm) { a.sxtb(w32, x0, x1) }, "sxtb w0, w1"},
		{func(a *a64Asm) { a.sxth(x64, x0, x1) }, "sxth x0, w1"},
		{func(a *a64Asm) { a.sxth(w32, x0, x1) }, "sxth w0, w1"},
		{func(a *a64Asm) { a.sxtw(x0, x1) }, "sxtw x0, w1"},

		// Conditional select.
		{func(a *a64Asm) { a.csel(x64, x0, x1, x2, a64EQ) }, "csel x0, x1, x2, eq"},
		{func(a *a64Asm) { a.csel(w32, x0, x1, x2, a64LT) }, "csel w0, w1, w2, lt"},
		{func(a *a64Asm) { a.csinc(x64, x0, x1, x2, a64HI) }, "csinc x0, x1, x2, hi"},
		{func(a *a64Asm) { a.cset(x64, x0, a64NE) }, "cset x0, ne"},
		{func(a *a64Asm) { a.cset(w32, x0, a64LS) }, "cset w0, ls"},

		// Loads and stores: register offset.
		{func(a *a64Asm) { a.ldstReg(a64LDRB, x0, x1, x2) }, "ldrb w0, [x1,x2]"},
		{func(a *a64Asm) { a.ldstReg(a64LDRH, x0, x1, x2) }, "ldrh w0, [x1,x2]"},
		{func(a *a64Asm) { a.ldstReg(a64LDRW, x0, x1, x2) }, "ldr w0, [x1,x2]"},
		{func(a *a64Asm) { a.ldstReg(a64LDRX, x0, x1, x2) }, "ldr x0, [x1,x2]"},
		{func(a *a64Asm) { a.ldstReg(a64LDRSBx, x0, x1, x2) }, "ldrsb x0, [x1,x2]"},
		{func(a *a64Asm) { a.ldstReg(a64LDRSBw, x0, x1, x2) }, "ldrsb w0, [x1,x2]"},
		{func(a *a64Asm) { a.ldstReg(a64LDRSHx, x0, x1, x2) }, "ldrsh x0, [x1,x2]"},
		{func(a *a64Asm) { a.ldstReg(a64LDRSHw, x0, x1, x2) }, "ldrsh w0, [x1,x2]"},
		{func(a *a64Asm) { a.ldstReg(a64LDRSW, x0, x1, x2) }, "ldrsw x0, [x1,x2]"},
		{func(a *a64Asm) { a.ldstReg(a64STRB, x0, x1, x2) }, "strb w0, [x1,x2]"},
		{func(a *a64Asm) { a.ldstReg(a64STRH, x0, x1, x2) }, "strh w0, [x1,x2]"},
		{func(a *a64Asm) { a.ldstReg(a64STRW, x0, x1, x2) }, "str w0, [x1,x2]"},
		{func(a *a64Asm) { a.ldstReg(a64STRX, x0, x1, x2) }, "str x0, [x1,x2]"},
		{func(a *a64Asm) { a.ldstReg(a64STRX, xzr, x1, x2) }, "str xzr, [x1,x2]"},
		{func(a *a64Asm) { a.ldstReg(a64LDRX, x0, xsp, x2) }, "ldr x0, [sp,x2]"},

		// Loads and stores: immediate offset, scaled and unscaled.
		{func(a *a64Asm) { a.ldstImm(a64LDRX, x0, x1, 0) }, "ldr x0, [x1]"},
		{func(a *a64Asm) { a.ldstImm(a64LDRX, x0, x1, 8) }, "ldr x0, [x1,#8]"},
		{func(a *a64Asm) { a.ldstImm(a64LDRX, x0, x1, 32760) }, "ldr x0, [x1,#32760]"},
		{func(a *a64Asm) { a.ldstImm(a64LDRX, x0, x1, -8) }, "ldur x0, [x1,#-8]"},
		{func(a *a64Asm) { a.ldstImm(a64LDRX, x0, x1, 3) }, "ldur x0, [x1,#3]"},
		{func(a *a64Asm) { a.ldstImm(a64STRX, x0, xsp, 16) }, "str x0, [sp,#16]"},
		{func(a *a64Asm) { a.ldstImm(a64LDRW, x0, x1, 4092) }, "ldr w0, [x1,#4092]"},
		{func(a *a64Asm) { a.ldstImm(a64STRW, x0, x1, -256) }, "stur w0, [x1,#-256]"},
		{func(a *a64Asm) { a.ldstImm(a64LDRH, x0, x1, 2) }, "ldrh w0, [x1,#2]"},
		{func(a *a64Asm) { a.ldstImm(a64STRH, x0, x1, 255) }, "sturh w0, [x1,#255]"},
		{func(a *a64Asm) { a.ldstImm(a64LDRB, x0, x1, 4095) }, "ldrb w0, [x1,#4095]"},
		{func(a *a64Asm) { a.ldstImm(a64STRB, x0, x1, -1) }, "sturb w0, [x1,#-1]"},
		{func(a *a64Asm) { a.ldstImm(a64LDRSBx, x0, x1, 1) }, "ldrsb x0, [x1,#1]"},
		{func(a *a64Asm) { a.ldstImm(a64LDRSHx, x0, x1, -2) }, "ldursh x0, [x1,#-2]"},
		{func(a *a64Asm) { a.ldstImm(a64LDRSW, x0, x1, 4) }, "ldrsw x0, [x1,#4]"},
		{func(a *a64Asm) { a.ldstImm(a64LDRSW, x0, x1, -4) }, "ldursw x0, [x1,#-4]"},

		// Register pairs.
		{func(a *a64Asm) { a.stp(a64Pre, x29, x30, xsp, -16) }, "stp x29, x30, [sp,#-16]!"},
		{func(a *a64Asm) { a.ldp(a64Post, x29, x30, xsp, 16) }, "ldp x29, x30, [sp],#16"},
		{func(a *a64Asm) { a.stp(a64Offset, x19, x20, xsp, 32) }, "stp x19, x20, [sp,#32]"},
		{func(a *a64Asm) { a.ldp(a64Offset, x0, x1, x2, 504) }, "ldp x0, x1, [x2,#504]"},
		{func(a *a64Asm) { a.stp(a64Offset, x0, x1, x2, -512) }, "stp x0, x1, [x2,#-512]"},

		// Exclusive and ordered accesses.
		{func(a *a64Asm) { a.ldaxr(8, x0, x1) }, "ldaxr x0, [x1]"},
		{func(a *a64Asm) { a.ldaxr(4, x0, x1) }, "ldaxr w0, [x1]"},
		{func(a *a64Asm) { a.ldxr(8, x0, x1) }, "ldxr x0, [x1]"},
		{func(a *a64Asm) { a.ldxr(4, x0, x1) }, "ldxr w0, [x1]"},
		{func(a *a64Asm) { a.stlxr(8, x2, x0, x1) }, "stlxr w2, x0, [x1]"},
		{func(a *a64Asm) { a.stlxr(4, x2, x0, x1) }, "stlxr w2, w0, [x1]"},
		{func(a *a64Asm) { a.stxr(8, x2, x0, x1) }, "stxr w2, x0, [x1]"},
		{func(a *a64Asm) { a.stxr(4, x2, x0, x1) }, "stxr w2, w0, [x1]"},
		{func(a *a64Asm) { a.ldar(8, x0, x1) }, "ldar x0, [x1]"},
		{func(a *a64Asm) { a.ldar(4, x0, x1) }, "ldar w0, [x1]"},
		{func(a *a64Asm) { a.ldar(2, x0, x1) }, "ldarh w0, [x1]"},
		{func(a *a64Asm) { a.ldar(1, x0, x1) }, "ldarb w0, [x1]"},
		{func(a *a64Asm) { a.stlr(8, x0, x1) }, "stlr x0, [x1]"},
		{func(a *a64Asm) { a.stlr(4, x0, x1) }, "stlr w0, [x1]"},
		{func(a *a64Asm) { a.stlr(2, x0, x1) }, "stlrh w0, [x1]"},
		{func(a *a64Asm) { a.stlr(1, x0, x1) }, "stlrb w0, [x1]"},
		{func(a *a64Asm) { a.dmbISH() }, "dmb ish"},

		// Branches.
		{func(a *a64Asm) { a.b(2) }, "b .+0x8"},
		{func(a *a64Asm) { a.b(-1) }, "b .+0xfffffffffffffffc"},
		{func(a *a64Asm) { a.bl(16) }, "bl .+0x40"},
		{func(a *a64Asm) { a.bcond(a64EQ, 2) }, "b.eq .+0x8"},
		{func(a *a64Asm) { a.bcond(a64GT, -3) }, "b.gt .+0xfffffffffffffff4"},
		{func(a *a64Asm) { a.bcond(a64LO, 1) }, "b.cc .+0x4"},
		{func(a *a64Asm) { a.cbz(x64, x3, 4) }, "cbz x3, .+0x10"},
		{func(a *a64Asm) { a.cbz(w32, x3, 4) }, "cbz w3, .+0x10"},
		{func(a *a64Asm) { a.cbnz(x64, x3, -4) }, "cbnz x3, .+0xfffffffffffffff0"},
		{func(a *a64Asm) { a.cbnz(w32, x3, 1) }, "cbnz w3, .+0x4"},
		{func(a *a64Asm) { a.tbz(x3, 63, 2) }, "tbz x3, #63, .+0x8"},
		{func(a *a64Asm) { a.tbnz(x3, 3, 2) }, "tbnz w3, #3, .+0x8"},
		{func(a *a64Asm) { a.br(x16) }, "br x16"},
		{func(a *a64Asm) { a.blr(x9) }, "blr x9"},
		{func(a *a64Asm) { a.ret() }, "ret"},
		{func(a *a64Asm) { a.nop() }, "nop"},
		{func(a *a64Asm) { a.brk(0x3e8) }, "brk #0x3e8"},
		{func(a *a64Asm) { a.adr(x5, 3) }, "adr x5, .+0xc"},
		{func(a *a64Asm) { a.adr(x5, -2) }, "adr x5, .+0xfffffffffffffff8"},
	}
	for _, c := range cases {
		var a a64Asm
		c.emit(&a)
		got := strings.Join(disasmA64(t, a.code), "; ")
		if got != c.want {
			t.Errorf("got  %s\nwant %s (%08x)", got, c.want, a.code)
		}
	}
}

// TestA64Unencodable checks that encoders with limited immediates refuse
// what does not fit instead of emitting something else.
func TestA64Unencodable(t *testing.T) {
	var a a64Asm
	if a.addImm(x64, x0, x0, 0x1001) || a.subImm(x64, x0, x0, 1<<24) || a.cmpImm(x64, x0, 0x1001) || a.cmpImm(x64, x0, -0x1001) {
		t.Error("add/sub immediate accepted an unencodable value")
	}
	for _, v := range []uint64{0, ^uint64(0), 5, 0x1234, 0xffff0000ffff0001} {
		if a.andImm(x64, x0, x0, v) {
			t.Errorf("bitmask immediate %#x accepted", v)
		}
	}
	if a.andImm(w32, x0, x0, 0x1_0000_0000) || a.andImm(w32, x0, x0, 0xffffffff) {
		t.Error("32-bit bitmask immediate accepted a value that does not fit")
	}
	if a.ldstImm(a64LDRX, x0, x1, 32768) || a.ldstImm(a64LDRX, x0, x1, -257) || a.ldstImm(a64LDRW, x0, x1, 257) {
		t.Error("load offset accepted out of range")
	}
	if len(a.code) != 0 {
		t.Errorf("refusals emitted %d instructions", len(a.code))
	}
}

// decodeBitMask is the Arm ARM's DecodeBitMasks for the wmask.
func decodeBitMask(n, immr, imms uint32, size uint) (uint64, bool) {
	l := 31 - bits.LeadingZeros32(n<<6|(^imms&0x3f))
	if l < 1 {
		return 0, false
	}
	esize := uint(1) << l
	if esize > size {
		return 0, false
	}
	levels := uint32(esize - 1)
	s, r := imms&levels, immr&levels
	if s == levels {
		return 0, false
	}
	elem := uint64(1)<<(s+1) - 1
	emask := ^uint64(0) >> (64 - esize)
	if r != 0 {
		elem = (elem>>r | elem<<(uint32(esize)-r)) & emask
	}
	var v uint64
	for i := uint(0); i < size; i += esize {
		v |= elem << i
	}
	return v, true
}

// TestA64BitMaskExhaustive checks the bitmask immediate encoder on every
// value that has an encoding (all 5,334 of them for 64 bits, 1,302 for
// 32), and that it finds none for values around them that have none.
func TestA64BitMaskExhaustive(t *testing.T) {
	for _, sf := range []a64Sf{x64, w32} {
		size := uint(a64Width(sf))
		valid := map[uint64]bool{}
		for n := uint32(0); n < 2; n++ {
			if n == 1 && sf == w32 {
				continue
			}
			for immr := uint32(0); immr < 64; immr++ {
				for imms := uint32(0); imms < 64; imms++ {
					v, ok := decodeBitMask(n, immr, imms, size)
					if !ok || valid[v] {
						continue
					}
					valid[v] = true
					enc, ok := a64BitMask(v, sf)
					if !ok {
						t.Fatalf("sf=%d: %#x (N=%d immr=%d imms=%d) not encoded", size, v, n, immr, imms)
					}
					got, ok := decodeBitMask(enc>>12, enc>>6&63, enc&63, size)
					if !ok || got != v {
						t.Fatalf("sf=%d: %#x encoded as %#x, which decodes to %#x", size, v, enc, got)
					}
				}
			}
		}
		want := map[uint]int{64: 5334, 32: 1302}[size]
		if len(valid) != want {
			t.Errorf("sf=%d: %d encodable values, want %d", size, len(valid), want)
		}
		r := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < 100000; i++ {
			v := r.Uint64()
			if sf == w32 {
				v = uint64(uint32(v))
			}
			if _, ok := a64BitMask(v, sf); ok != valid[v] {
				t.Fatalf("sf=%d: %#x: encodable %v, want %v", size, v, ok, valid[v])
			}
		}
	}
}

// TestA64MovConst checks constant materialisation by running the
// emitted instructions through a tiny evaluator of movz/movn/movk/orr.
func TestA64MovConst(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	vals := []uint64{0, 1, 0xffff, 0x10000, 0xffffffff, 0x100000000, ^uint64(0), 1 << 63, 0x8000000000000001, 0xfffffffffffe0000}
	for i := 0; i < 20000; i++ {
		v := r.Uint64()
		switch i % 4 {
		case 1:
			v &= 0xffff0000ffff
		case 2:
			v |= 0xffffffff0000ffff
		case 3:
			v = uint64(int64(int32(v)))
		}
		vals = append(vals, v)
	}
	for _, v := range vals {
		for _, sf := range []a64Sf{x64, w32} {
			var a a64Asm
			a.movConst(sf, x9, v)
			want := v
			if sf == w32 {
				want = uint64(uint32(v))
			}
			got := evalMov(t, a.code, sf)
			if got != want {
				t.Fatalf("movConst(%d, %#x) = %#x via %q", a64Width(sf), v, got, disasmA64(t, a.code))
			}
			if n := len(a.code); n > int(a64Width(sf))/16 {
				t.Fatalf("movConst(%d, %#x) took %d instructions", a64Width(sf), v, n)
			}
		}
	}
}

func evalMov(t *testing.T, code []uint32, sf a64Sf) uint64 {
	var x uint64
	for _, w := range code {
		if w&0x80000000 != uint32(sf) {
			t.Fatalf("instruction %08x has the wrong width", w)
		}
		imm := uint64(w >> 5 & 0xffff)
		sh := 16 * (w >> 21 & 3)
		switch w & 0x7f800000 {
		case a64OpMOVZ:
			x = imm << sh
		case a64OpMOVN:
			x = ^(imm << sh)
		case a64OpMOVK:
			x = x&^(0xffff<<sh) | imm<<sh
		case a64OpORRi:
			v, ok := decodeBitMask(w>>22&1, w>>16&63, w>>10&63, uint(a64Width(sf)))
			if !ok || w>>5&31 != 31 {
				t.Fatalf("bad orr %08x", w)
			}
			x = v
		default:
			t.Fatalf("unexpected instruction %08x", w)
		}
		if sf == w32 {
			x = uint64(uint32(x))
		}
	}
	return x
}

// TestA64Patch checks that branch fix-ups land where they should and
// refuse distances that do not fit.
func TestA64Patch(t *testing.T) {
	var a a64Asm
	a.b(0)
	a.bcond(a64NE, 0)
	a.cbz(x64, x1, 0)
	a.cbnz(w32, x1, 0)
	a.tbnz(x2, 40, 0)
	a.adr(x3, 0)
	a.bl(0)
	for i := 0; i < 7; i++ {
		if !a.patch(i, 10) {
			t.Fatalf("patch %d failed", i)
		}
	}
	want := []string{"b .+0x28", "b.ne .+0x24", "cbz x1, .+0x20", "cbnz w1, .+0x1c", "tbnz x2, #40, .+0x18", "adr x3, .+0x14", "bl .+0x10"}
	if got := disasmA64(t, a.code); strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if !a.patch(1, 1-(1<<18)) || a.patch(1, 1+(1<<18)) || a.patch(4, 4+(1<<13)) || !a.patch(0, -(1<<25)) {
		t.Error("range limits wrong")
	}
}
