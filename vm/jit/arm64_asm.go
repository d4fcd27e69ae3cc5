package jit

import (
	"encoding/binary"
	"math/bits"
)

// This file is an AArch64 (A64) instruction encoder: just the instructions
// that the arm64 back end emits, each one a method that appends one 32-bit
// word. It is plain Go that builds on every architecture, so that the
// encodings are tested on any host (against golang.org/x/arch's decoder)
// and arm64 code can be generated and disassembled anywhere.
//
// Conventions follow the Arm ARM: sf selects the 32-bit (W) or 64-bit (X)
// form; register 31 is the zero register in most operand positions and the
// stack pointer in the few (immediate add/sub, load/store bases) where the
// architecture says so.

// a64Reg is a general-purpose register number, 0-30, or 31 (xzr or sp).
type a64Reg uint8

const (
	x0 a64Reg = iota
	x1
	x2
	x3
	x4
	x5
	x6
	x7
	x8
	x9
	x10
	x11
	x12
	x13
	x14
	x15
	x16
	x17
	x18
	x19
	x20
	x21
	x22
	x23
	x24
	x25
	x26
	x27
	x28
	x29
	x30
	xzr a64Reg = 31 // the zero register, in operand positions that read it
	xsp a64Reg = 31 // the stack pointer, in base and immediate-add positions
)

// a64Sf is the operand width: the sf bit (bit 31) of data-processing
// instructions, ORed straight into the encoding.
type a64Sf uint32

const (
	w32 a64Sf = 0
	x64 a64Sf = 1 << 31
)

// a64Cond is a condition code for b.cond, csel and friends.
type a64Cond uint8

const (
	a64EQ a64Cond = iota // equal
	a64NE                // not equal
	a64HS                // unsigned >= (carry set)
	a64LO                // unsigned <
	a64MI                // negative
	a64PL                // positive or zero
	a64VS                // overflow
	a64VC                // no overflow
	a64HI                // unsigned >
	a64LS                // unsigned <=
	a64GE                // signed >=
	a64LT                // signed <
	a64GT                // signed >
	a64LE                // signed <=
	a64AL                // always
)

// invert returns the opposite condition (EQ <-> NE, ...).
func (c a64Cond) invert() a64Cond { return c ^ 1 }

// a64Shift is the shift applied to the second register of shifted-register
// data-processing instructions.
type a64Shift uint32

const (
	a64LSL a64Shift = 0
	a64LSR a64Shift = 1
	a64ASR a64Shift = 2
	a64ROR a64Shift = 3 // logical instructions only
)

// a64Asm collects encoded instructions.
type a64Asm struct {
	code []uint32
}

func (a *a64Asm) emit(w uint32) { a.code = append(a.code, w) }

// pos returns the index of the next instruction.
func (a *a64Asm) pos() int { return len(a.code) }

// bytes returns the code as little-endian bytes, which is how A64
// instructions are stored whatever the data endianness.
func (a *a64Asm) bytes() []byte {
	b := make([]byte, 4*len(a.code))
	for i, w := range a.code {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	return b
}

func a64Rd(r a64Reg) uint32 { return uint32(r) & 31 }
func a64Rn(r a64Reg) uint32 { return (uint32(r) & 31) << 5 }
func a64Rm(r a64Reg) uint32 { return (uint32(r) & 31) << 16 }
func a64Ra(r a64Reg) uint32 { return (uint32(r) & 31) << 10 }

// --- Add, subtract and logical operations on registers ---

const (
	a64OpADDsr  = 0x0b000000
	a64OpADDSsr = 0x2b000000
	a64OpSUBsr  = 0x4b000000
	a64OpSUBSsr = 0x6b000000
	a64OpANDsr  = 0x0a000000
	a64OpBICsr  = 0x0a200000
	a64OpORRsr  = 0x2a000000
	a64OpORNsr  = 0x2a200000
	a64OpEORsr  = 0x4a000000
	a64OpEONsr  = 0x4a200000
	a64OpANDSsr = 0x6a000000
)

// shifted emits a shifted-register instruction: d = n OP (m SHIFT amt).
func (a *a64Asm) shifted(op uint32, sf a64Sf, d, n, m a64Reg, sh a64Shift, amt uint8) {
	a.emit(op | uint32(sf) | uint32(sh)<<22 | a64Rm(m) | uint32(amt&63)<<10 | a64Rn(n) | a64Rd(d))
}

func (a *a64Asm) add(sf a64Sf, d, n, m a64Reg)  { a.shifted(a64OpADDsr, sf, d, n, m, a64LSL, 0) }
func (a *a64Asm) adds(sf a64Sf, d, n, m a64Reg) { a.shifted(a64OpADDSsr, sf, d, n, m, a64LSL, 0) }
func (a *a64Asm) sub(sf a64Sf, d, n, m a64Reg)  { a.shifted(a64OpSUBsr, sf, d, n, m, a64LSL, 0) }
func (a *a64Asm) subs(sf a64Sf, d, n, m a64Reg) { a.shifted(a64OpSUBSsr, sf, d, n, m, a64LSL, 0) }
func (a *a64Asm) and(sf a64Sf, d, n, m a64Reg)  { a.shifted(a64OpANDsr, sf, d, n, m, a64LSL, 0) }
func (a *a64Asm) ands(sf a64Sf, d, n, m a64Reg) { a.shifted(a64OpANDSsr, sf, d, n, m, a64LSL, 0) }
func (a *a64Asm) bic(sf a64Sf, d, n, m a64Reg)  { a.shifted(a64OpBICsr, sf, d, n, m, a64LSL, 0) }
func (a *a64Asm) orr(sf a64Sf, d, n, m a64Reg)  { a.shifted(a64OpORRsr, sf, d, n, m, a64LSL, 0) }
func (a *a64Asm) orn(sf a64Sf, d, n, m a64Reg)  { a.shifted(a64OpORNsr, sf, d, n, m, a64LSL, 0) }
func (a *a64Asm) eor(sf a64Sf, d, n, m a64Reg)  { a.shifted(a64OpEORsr, sf, d, n, m, a64LSL, 0) }

// mov copies a register (orr d, zr, m). It cannot name sp; see movSP.
func (a *a64Asm) mov(sf a64Sf, d, m a64Reg) { a.orr(sf, d, xzr, m) }

// mvn is bitwise not (orn d, zr, m).
func (a *a64Asm) mvn(sf a64Sf, d, m a64Reg) { a.orn(sf, d, xzr, m) }

// neg is two's-complement negation (sub d, zr, m).
func (a *a64Asm) neg(sf a64Sf, d, m a64Reg) { a.sub(sf, d, xzr, m) }

// cmp sets the flags from n - m.
func (a *a64Asm) cmp(sf a64Sf, n, m a64Reg) { a.subs(sf, xzr, n, m) }

// tst sets the flags from n & m.
func (a *a64Asm) tst(sf a64Sf, n, m a64Reg) { a.ands(sf, xzr, n, m) }

// --- Add and subtract immediate ---

const (
	a64OpADDi  = 0x11000000
	a64OpADDSi = 0x31000000
	a64OpSUBi  = 0x51000000
	a64OpSUBSi = 0x71000000
)

// addSubImm emits an immediate add or subtract of a 12-bit value,
// optionally shifted left by 12. Here register 31 is sp for d (except
// for the flag-setting forms) and n.
func (a *a64Asm) addSubImm(op uint32, sf a64Sf, d, n a64Reg, imm uint32, lsl12 bool) {
	w := op | uint32(sf) | (imm&0xfff)<<10 | a64Rn(n) | a64Rd(d)
	if lsl12 {
		w |= 1 << 22
	}
	a.emit(w)
}

// a64Imm12 reports whether v fits an add/sub immediate, and how.
func a64Imm12(v uint64) (imm uint32, lsl12, ok bool) {
	switch {
	case v < 1<<12:
		return uint32(v), false, true
	case v&0xfff == 0 && v < 1<<24:
		return uint32(v >> 12), true, true
	}
	return 0, false, false
}

// addImm emits d = n + v and reports false, emitting nothing, when v
// is not encodable.
func (a *a64Asm) addImm(sf a64Sf, d, n a64Reg, v uint64) bool {
	imm, sh, ok := a64Imm12(v)
	if ok {
		a.addSubImm(a64OpADDi, sf, d, n, imm, sh)
	}
	return ok
}

// subImm emits d = n - v, like addImm.
func (a *a64Asm) subImm(sf a64Sf, d, n a64Reg, v uint64) bool {
	imm, sh, ok := a64Imm12(v)
	if ok {
		a.addSubImm(a64OpSUBi, sf, d, n, imm, sh)
	}
	return ok
}

// cmpImm sets the flags from n - v (cmp n, #v), or from n + -v (cmn)
// when that is what encodes; false when neither does.
func (a *a64Asm) cmpImm(sf a64Sf, n a64Reg, v int64) bool {
	if imm, sh, ok := a64Imm12(uint64(v)); ok && v >= 0 {
		a.addSubImm(a64OpSUBSi, sf, xzr, n, imm, sh)
		return true
	}
	if imm, sh, ok := a64Imm12(uint64(-v)); ok && v < 0 {
		a.addSubImm(a64OpADDSi, sf, xzr, n, imm, sh)
		return true
	}
	return false
}

// movSP copies to or from sp (add d, n, #0), which orr cannot name.
func (a *a64Asm) movSP(d, n a64Reg) { a.addSubImm(a64OpADDi, x64, d, n, 0, false) }

// --- Logical immediate ---

const (
	a64OpANDi  = 0x12000000
	a64OpORRi  = 0x32000000
	a64OpEORi  = 0x52000000
	a64OpANDSi = 0x72000000
)

// a64BitMask encodes v as an A64 logical ("bitmask") immediate: a
// rotated run of ones replicated in elements of 2, 4, ..., 64 bits. It
// returns the N:immr:imms fields as a 13-bit value ready to be shifted
// to bit 10. For the 32-bit forms v must fit in 32 bits. (The algorithm
// is LLVM's processLogicalImmediate.)
func a64BitMask(v uint64, sf a64Sf) (uint32, bool) {
	size := uint(64)
	if sf == w32 {
		if v>>32 != 0 {
			return 0, false
		}
		size = 32
		v |= v << 32 // the 32-bit forms see the element pattern repeated
	}
	if v == 0 || v == ^uint64(0) {
		return 0, false
	}
	// The element size: the smallest power of two that v repeats in.
	for size > 2 {
		half := size / 2
		mask := uint64(1)<<half - 1
		if v&mask != (v>>half)&mask {
			break
		}
		size = half
	}
	mask := ^uint64(0) >> (64 - size)
	v &= mask
	var rot, ones uint
	if a64IsShiftedMask(v) {
		rot = uint(bits.TrailingZeros64(v))
		ones = uint(bits.TrailingZeros64(^(v >> rot)))
	} else {
		v |= ^mask
		if !a64IsShiftedMask(^v) {
			return 0, false
		}
		clo := uint(bits.LeadingZeros64(^v))
		rot = 64 - clo
		ones = clo + uint(bits.TrailingZeros64(^v)) - (64 - size)
	}
	immr := (size - rot) & (size - 1)
	nimms := ^(uint64(size)-1)<<1 | uint64(ones-1)
	n := uint32(nimms>>6&1) ^ 1
	return n<<12 | uint32(immr)<<6 | uint32(nimms&0x3f), true
}

// a64IsShiftedMask reports whether v is a single non-empty run of ones.
func a64IsShiftedMask(v uint64) bool {
	if v == 0 {
		return false
	}
	x := (v - 1) | v
	return (x+1)&x == 0
}

// logImm emits d = n OP v for a logical immediate op and reports false,
// emitting nothing, when v has no bitmask encoding.
func (a *a64Asm) logImm(op uint32, sf a64Sf, d, n a64Reg, v uint64) bool {
	enc, ok := a64BitMask(v, sf)
	if ok {
		a.emit(op | uint32(sf) | enc<<10 | a64Rn(n) | a64Rd(d))
	}
	return ok
}

func (a *a64Asm) andImm(sf a64Sf, d, n a64Reg, v uint64) bool {
	return a.logImm(a64OpANDi, sf, d, n, v)
}
func (a *a64Asm) orrImm(sf a64Sf, d, n a64Reg, v uint64) bool {
	return a.logImm(a64OpORRi, sf, d, n, v)
}
func (a *a64Asm) eorImm(sf a64Sf, d, n a64Reg, v uint64) bool {
	return a.logImm(a64OpEORi, sf, d, n, v)
}

// tstImm sets the flags from n & v (ands zr, n, #v).
func (a *a64Asm) tstImm(sf a64Sf, n a64Reg, v uint64) bool {
	return a.logImm(a64OpANDSi, sf, xzr, n, v)
}

// --- Move wide and constants ---

const (
	a64OpMOVN = 0x12800000
	a64OpMOVZ = 0x52800000
	a64OpMOVK = 0x72800000
)

// movWide emits movz, movn or movk of a 16-bit value at hw*16 bits.
func (a *a64Asm) movWide(op uint32, sf a64Sf, d a64Reg, imm uint16, hw uint8) {
	a.emit(op | uint32(sf) | uint32(hw&3)<<21 | uint32(imm)<<5 | a64Rd(d))
}

func (a *a64Asm) movz(sf a64Sf, d a64Reg, imm uint16, hw uint8) { a.movWide(a64OpMOVZ, sf, d, imm, hw) }
func (a *a64Asm) movn(sf a64Sf, d a64Reg, imm uint16, hw uint8) { a.movWide(a64OpMOVN, sf, d, imm, hw) }
func (a *a64Asm) movk(sf a64Sf, d a64Reg, imm uint16, hw uint8) { a.movWide(a64OpMOVK, sf, d, imm, hw) }

// movConst loads v into d in as few instructions as it can: one movz or
// movn when v is a single 16-bit chunk away from all zeros or all ones,
// one orr when it is a bitmask immediate, else a movz (or movn) and
// movk for each remaining chunk. The 32-bit form writes v's low half and
// zeroes the upper half of d.
func (a *a64Asm) movConst(sf a64Sf, d a64Reg, v uint64) {
	chunks := 4
	if sf == w32 {
		v = uint64(uint32(v))
		chunks = 2
	}
	var zeros, ones int
	for i := 0; i < chunks; i++ {
		switch uint16(v >> (16 * i)) {
		case 0:
			zeros++
		case 0xffff:
			ones++
		}
	}
	if zeros < chunks-1 && ones < chunks-1 {
		// More than one movk either way: a bitmask immediate may do it
		// in one instruction.
		if a.orrImm(sf, d, xzr, v) {
			return
		}
	}
	fill, first := uint16(0), a64OpMOVZ
	if ones > zeros {
		fill, first = 0xffff, a64OpMOVN
	}
	done := false
	for i := 0; i < chunks; i++ {
		c := uint16(v >> (16 * i))
		if c == fill {
			continue
		}
		if !done {
			if first == a64OpMOVN {
				a.movn(sf, d, ^c, uint8(i))
			} else {
				a.movz(sf, d, c, uint8(i))
			}
			done = true
			continue
		}
		a.movk(sf, d, c, uint8(i))
	}
	if !done { // v is all fill: 0 or all ones
		if fill == 0 {
			a.movz(sf, d, 0, 0)
		} else {
			a.movn(sf, d, 0, 0)
		}
	}
}

// --- Multiply, divide, variable shifts ---

const (
	a64OpMADD  = 0x1b000000
	a64OpMSUB  = 0x1b008000
	a64OpUDIV  = 0x1ac00800
	a64OpSDIV  = 0x1ac00c00
	a64OpLSLV  = 0x1ac02000
	a64OpLSRV  = 0x1ac02400
	a64OpASRV  = 0x1ac02800
	a64OpRORV  = 0x1ac02c00
	a64OpRBIT  = 0x5ac00000
	a64OpREV16 = 0x5ac00400
	a64OpREV32 = 0x5ac00800 // rev of a W register, rev32 of an X register
	a64OpREV64 = 0xdac00c00
)

// madd emits d = acc + n*m.
func (a *a64Asm) madd(sf a64Sf, d, n, m, acc a64Reg) {
	a.emit(a64OpMADD | uint32(sf) | a64Rm(m) | a64Ra(acc) | a64Rn(n) | a64Rd(d))
}

// msub emits d = acc - n*m, which with a quotient in n gives a remainder.
func (a *a64Asm) msub(sf a64Sf, d, n, m, acc a64Reg) {
	a.emit(a64OpMSUB | uint32(sf) | a64Rm(m) | a64Ra(acc) | a64Rn(n) | a64Rd(d))
}

func (a *a64Asm) mul(sf a64Sf, d, n, m a64Reg) { a.madd(sf, d, n, m, xzr) }

func (a *a64Asm) dp2(op uint32, sf a64Sf, d, n, m a64Reg) {
	a.emit(op | uint32(sf) | a64Rm(m) | a64Rn(n) | a64Rd(d))
}

// udiv and sdiv never trap: division by zero gives 0, and sdiv of the
// most negative value by -1 gives the most negative value.
func (a *a64Asm) udiv(sf a64Sf, d, n, m a64Reg) { a.dp2(a64OpUDIV, sf, d, n, m) }
func (a *a64Asm) sdiv(sf a64Sf, d, n, m a64Reg) { a.dp2(a64OpSDIV, sf, d, n, m) }

// Variable shifts take the count modulo the register width, as BPF wants.
func (a *a64Asm) lslv(sf a64Sf, d, n, m a64Reg) { a.dp2(a64OpLSLV, sf, d, n, m) }
func (a *a64Asm) lsrv(sf a64Sf, d, n, m a64Reg) { a.dp2(a64OpLSRV, sf, d, n, m) }
func (a *a64Asm) asrv(sf a64Sf, d, n, m a64Reg) { a.dp2(a64OpASRV, sf, d, n, m) }

// rev16 swaps the bytes in each halfword.
func (a *a64Asm) rev16(sf a64Sf, d, n a64Reg) { a.emit(a64OpREV16 | uint32(sf) | a64Rn(n) | a64Rd(d)) }

// rev32 reverses the bytes of a W register (rev wd, wn) or of each word
// of an X register (rev32 xd, xn).
func (a *a64Asm) rev32(sf a64Sf, d, n a64Reg) { a.emit(a64OpREV32 | uint32(sf) | a64Rn(n) | a64Rd(d)) }

// rev reverses all eight bytes of an X register.
func (a *a64Asm) rev(d, n a64Reg) { a.emit(a64OpREV64 | a64Rn(n) | a64Rd(d)) }

// --- Bitfield moves: immediate shifts and extensions ---

const (
	a64OpSBFM = 0x13000000
	a64OpUBFM = 0x53000000
)

func (a *a64Asm) bfm(op uint32, sf a64Sf, d, n a64Reg, immr, imms uint8) {
	w := op | uint32(sf) | uint32(immr&63)<<16 | uint32(imms&63)<<10 | a64Rn(n) | a64Rd(d)
	if sf == x64 {
		w |= 1 << 22 // N must equal sf
	}
	a.emit(w)
}

func a64Width(sf a64Sf) uint8 {
	if sf == x64 {
		return 64
	}
	return 32
}

// lslImm, lsrImm and asrImm shift by a constant, taken modulo the width.
func (a *a64Asm) lslImm(sf a64Sf, d, n a64Reg, s uint8) {
	w := a64Width(sf)
	s &= w - 1
	a.bfm(a64OpUBFM, sf, d, n, (w-s)&(w-1), w-1-s)
}

func (a *a64Asm) lsrImm(sf a64Sf, d, n a64Reg, s uint8) {
	w := a64Width(sf)
	a.bfm(a64OpUBFM, sf, d, n, s&(w-1), w-1)
}

func (a *a64Asm) asrImm(sf a64Sf, d, n a64Reg, s uint8) {
	w := a64Width(sf)
	a.bfm(a64OpSBFM, sf, d, n, s&(w-1), w-1)
}

// Zero and sign extensions of the low 8, 16 or 32 bits of n. The W
// forms of the sign extensions fill only the low 32 bits (and, as every
// W write, zero the upper half).
func (a *a64Asm) uxtb(d, n a64Reg)           { a.bfm(a64OpUBFM, w32, d, n, 0, 7) }
func (a *a64Asm) uxth(d, n a64Reg)           { a.bfm(a64OpUBFM, w32, d, n, 0, 15) }
func (a *a64Asm) uxtw(d, n a64Reg)           { a.mov(w32, d, n) }
func (a *a64Asm) sxtb(sf a64Sf, d, n a64Reg) { a.bfm(a64OpSBFM, sf, d, n, 0, 7) }
func (a *a64Asm) sxth(sf a64Sf, d, n a64Reg) { a.bfm(a64OpSBFM, sf, d, n, 0, 15) }
func (a *a64Asm) sxtw(d, n a64Reg)           { a.bfm(a64OpSBFM, x64, d, n, 0, 31) }

// --- Conditional select ---

const (
	a64OpCSEL  = 0x1a800000
	a64OpCSINC = 0x1a800400
	a64OpCSINV = 0x5a800000
	a64OpCSNEG = 0x5a800400
)

func (a *a64Asm) csel(sf a64Sf, d, n, m a64Reg, c a64Cond) {
	a.emit(a64OpCSEL | uint32(sf) | a64Rm(m) | uint32(c)<<12 | a64Rn(n) | a64Rd(d))
}

func (a *a64Asm) csinc(sf a64Sf, d, n, m a64Reg, c a64Cond) {
	a.emit(a64OpCSINC | uint32(sf) | a64Rm(m) | uint32(c)<<12 | a64Rn(n) | a64Rd(d))
}

// cset sets d to 1 when c holds, else 0.
func (a *a64Asm) cset(sf a64Sf, d a64Reg, c a64Cond) { a.csinc(sf, d, xzr, xzr, c.invert()) }

// --- Loads and stores ---

// a64Mem is a load or store of one size and kind: the size (bits 31:30)
// and opc (bits 23:22) fields, shared by all addressing modes.
type a64Mem uint32

const (
	a64STRB   a64Mem = 0<<30 | 0<<22
	a64LDRB   a64Mem = 0<<30 | 1<<22
	a64LDRSBx a64Mem = 0<<30 | 2<<22 // sign-extend to 64 bits
	a64LDRSBw a64Mem = 0<<30 | 3<<22 // sign-extend to 32 bits
	a64STRH   a64Mem = 1<<30 | 0<<22
	a64LDRH   a64Mem = 1<<30 | 1<<22
	a64LDRSHx a64Mem = 1<<30 | 2<<22
	a64LDRSHw a64Mem = 1<<30 | 3<<22
	a64STRW   a64Mem = 2<<30 | 0<<22
	a64LDRW   a64Mem = 2<<30 | 1<<22
	a64LDRSW  a64Mem = 2<<30 | 2<<22
	a64STRX   a64Mem = 3<<30 | 0<<22
	a64LDRX   a64Mem = 3<<30 | 1<<22
)

// size returns the access size in bytes.
func (m a64Mem) size() int { return 1 << (uint32(m) >> 30) }

// ldstReg emits a load or store at base + index (register offset, no
// scaling).
func (a *a64Asm) ldstReg(m a64Mem, t, base, index a64Reg) {
	const opt = 3 << 13 // lsl #0 of an X index
	a.emit(0x38200800 | uint32(m) | a64Rm(index) | opt | a64Rn(base) | a64Rd(t))
}

// ldstImm emits a load or store at base + off, using the scaled unsigned
// 12-bit form when off is a non-negative multiple of the size and the
// unscaled signed 9-bit form (ldur/stur) otherwise. It reports false,
// emitting nothing, when off fits neither.
func (a *a64Asm) ldstImm(m a64Mem, t, base a64Reg, off int64) bool {
	sz := int64(m.size())
	switch {
	case off >= 0 && off%sz == 0 && off/sz < 1<<12:
		a.emit(0x39000000 | uint32(m) | uint32(off/sz)<<10 | a64Rn(base) | a64Rd(t))
	case off >= -256 && off < 256:
		a.emit(0x38000000 | uint32(m) | uint32(off&0x1ff)<<12 | a64Rn(base) | a64Rd(t))
	default:
		return false
	}
	return true
}

// ldp and stp of X registers at base + off (off a multiple of 8 in
// [-512, 504]): plain, pre-indexed (base updated first) or post-indexed
// (base updated after).
type a64Index uint32

const (
	a64Offset a64Index = 2 << 23
	a64Pre    a64Index = 3 << 23
	a64Post   a64Index = 1 << 23
)

func (a *a64Asm) pair(load bool, mode a64Index, t1, t2, base a64Reg, off int) {
	w := 0xa8000000 | uint32(mode) | uint32(off/8&0x7f)<<15 | uint32(t2&31)<<10 | a64Rn(base) | a64Rd(t1)
	if load {
		w |= 1 << 22
	}
	a.emit(w)
}

func (a *a64Asm) stp(mode a64Index, t1, t2, base a64Reg, off int) {
	a.pair(false, mode, t1, t2, base, off)
}

func (a *a64Asm) ldp(mode a64Index, t1, t2, base a64Reg, off int) {
	a.pair(true, mode, t1, t2, base, off)
}

// Exclusive and ordered accesses, for atomics. size is 1, 2, 4 or 8.
func a64SizeBits(size int) uint32 { return uint32(bits.TrailingZeros(uint(size))) << 30 }

// ldaxr: load-acquire exclusive.
func (a *a64Asm) ldaxr(size int, t, base a64Reg) {
	a.emit(0x085ffc00 | a64SizeBits(size) | a64Rn(base) | a64Rd(t))
}

// ldxr: load exclusive.
func (a *a64Asm) ldxr(size int, t, base a64Reg) {
	a.emit(0x085f7c00 | a64SizeBits(size) | a64Rn(base) | a64Rd(t))
}

// stlxr: store-release exclusive; status is 0 when the store happened.
func (a *a64Asm) stlxr(size int, status, t, base a64Reg) {
	a.emit(0x0800fc00 | a64SizeBits(size) | a64Rm(status) | a64Rn(base) | a64Rd(t))
}

// stxr: store exclusive.
func (a *a64Asm) stxr(size int, status, t, base a64Reg) {
	a.emit(0x08007c00 | a64SizeBits(size) | a64Rm(status) | a64Rn(base) | a64Rd(t))
}

// ldar: load-acquire.
func (a *a64Asm) ldar(size int, t, base a64Reg) {
	a.emit(0x08dffc00 | a64SizeBits(size) | a64Rn(base) | a64Rd(t))
}

// stlr: store-release.
func (a *a64Asm) stlr(size int, t, base a64Reg) {
	a.emit(0x089ffc00 | a64SizeBits(size) | a64Rn(base) | a64Rd(t))
}

// dmbISH is a full barrier in the inner shareable domain.
func (a *a64Asm) dmbISH() { a.emit(0xd5033bbf) }

// --- Branches ---

const (
	a64OpB    = 0x14000000
	a64OpBL   = 0x94000000
	a64OpBcc  = 0x54000000
	a64OpCBZ  = 0x34000000
	a64OpCBNZ = 0x35000000
	a64OpTBZ  = 0x36000000
	a64OpTBNZ = 0x37000000
	a64OpBR   = 0xd61f0000
	a64OpBLR  = 0xd63f0000
	a64OpRET  = 0xd65f0000
	a64OpNOP  = 0xd503201f
	a64OpBRK  = 0xd4200000
)

// Branch emitters take the target as a signed offset in instructions
// from the branch itself; 0 is the placeholder used before a fix-up.

func (a *a64Asm) b(off int)  { a.emit(a64OpB | uint32(off)&(1<<26-1)) }
func (a *a64Asm) bl(off int) { a.emit(a64OpBL | uint32(off)&(1<<26-1)) }

func (a *a64Asm) bcond(c a64Cond, off int) {
	a.emit(a64OpBcc | (uint32(off)&(1<<19-1))<<5 | uint32(c))
}

func (a *a64Asm) cbz(sf a64Sf, t a64Reg, off int) {
	a.emit(a64OpCBZ | uint32(sf) | (uint32(off)&(1<<19-1))<<5 | a64Rd(t))
}

func (a *a64Asm) cbnz(sf a64Sf, t a64Reg, off int) {
	a.emit(a64OpCBNZ | uint32(sf) | (uint32(off)&(1<<19-1))<<5 | a64Rd(t))
}

// tbz and tbnz test bit bit (0-63) of t.
func (a *a64Asm) tbz(t a64Reg, bit uint8, off int) {
	a.emit(a64OpTBZ | uint32(bit>>5)<<31 | uint32(bit&31)<<19 | (uint32(off)&(1<<14-1))<<5 | a64Rd(t))
}

func (a *a64Asm) tbnz(t a64Reg, bit uint8, off int) {
	a.emit(a64OpTBNZ | uint32(bit>>5)<<31 | uint32(bit&31)<<19 | (uint32(off)&(1<<14-1))<<5 | a64Rd(t))
}

func (a *a64Asm) br(n a64Reg)  { a.emit(a64OpBR | a64Rn(n)) }
func (a *a64Asm) blr(n a64Reg) { a.emit(a64OpBLR | a64Rn(n)) }
func (a *a64Asm) ret()         { a.emit(a64OpRET | a64Rn(x30)) }
func (a *a64Asm) nop()         { a.emit(a64OpNOP) }
func (a *a64Asm) brk(imm uint16) {
	a.emit(a64OpBRK | uint32(imm)<<5)
}

// adr sets d to the address of the instruction off instructions away.
func (a *a64Asm) adr(d a64Reg, off int) {
	b := uint32(off * 4)
	a.emit(0x10000000 | (b&3)<<29 | (b>>2&(1<<19-1))<<5 | a64Rd(d))
}

// patch points the branch (or adr) at index at to the instruction at
// index target. It reports false when the distance does not fit the
// branch's field (±128 MiB for b/bl, ±1 MiB for b.cond, cbz, cbnz and
// adr, ±32 KiB for tbz, tbnz).
func (a *a64Asm) patch(at, target int) bool {
	off := target - at
	w := a.code[at]
	fits := func(bits uint) bool { return off >= -(1<<(bits-1)) && off < 1<<(bits-1) }
	switch {
	case w&0x7c000000 == a64OpB: // b, bl
		if !fits(26) {
			return false
		}
		w = w&^(1<<26-1) | uint32(off)&(1<<26-1)
	case w&0xff000010 == a64OpBcc, w&0x7e000000 == a64OpCBZ: // b.cond, cbz, cbnz
		if !fits(19) {
			return false
		}
		w = w&^((1<<19-1)<<5) | (uint32(off)&(1<<19-1))<<5
	case w&0x7e000000 == a64OpTBZ: // tbz, tbnz
		if !fits(14) {
			return false
		}
		w = w&^((1<<14-1)<<5) | (uint32(off)&(1<<14-1))<<5
	case w&0x9f000000 == 0x10000000: // adr
		if !fits(19) {
			return false
		}
		b := uint32(off * 4)
		w = w&^(3<<29|(1<<19-1)<<5) | (b&3)<<29 | (b>>2&(1<<19-1))<<5
	default:
		panic("jit: patch of a non-branch instruction")
	}
	a.code[at] = w
	return true
}
