package jit

import "encoding/binary"

// This file is an x86-64 instruction encoder: just what the amd64 back end
// emits. It is plain Go that builds everywhere, so that encodings are
// tested on any host against golang.org/x/arch's decoder.

// x86Reg is a general-purpose register number as the ModRM and REX fields
// encode it.
type x86Reg uint8

const (
	rax x86Reg = iota
	rcx
	rdx
	rbx
	rsp
	rbp
	rsi
	rdi
	r8
	r9
	r10
	r11
	r12
	r13
	r14
	r15
)

// x86Mem is a memory operand [base + index*scale + disp], or [rip + disp]
// when rip is set (disp is then patched by the caller or relative to the
// end of the instruction).
type x86Mem struct {
	base  x86Reg
	index x86Reg
	scale uint8 // 0: no index; 1, 2, 4 or 8
	disp  int32
	rip   bool
}

func mdisp(base x86Reg, disp int32) x86Mem { return x86Mem{base: base, disp: disp} }

// x86 is an instruction buffer.
type x86 struct {
	b []byte
}

func (a *x86) len() int { return len(a.b) }

func (a *x86) byte(bs ...byte) { a.b = append(a.b, bs...) }

func (a *x86) u32(v uint32) { a.b = binary.LittleEndian.AppendUint32(a.b, v) }

func (a *x86) u64(v uint64) { a.b = binary.LittleEndian.AppendUint64(a.b, v) }

// rex emits a REX prefix when one is needed: w for 64-bit operand size,
// r, x, b for the high registers, force for byte registers sil/dil/bpl/spl.
func (a *x86) rex(w bool, r, x, b x86Reg, force bool) {
	v := byte(0x40)
	if w {
		v |= 8
	}
	if r >= 8 {
		v |= 4
	}
	if x >= 8 {
		v |= 2
	}
	if b >= 8 {
		v |= 1
	}
	if v != 0x40 || force {
		a.byte(v)
	}
}

// modrmReg encodes a register-direct operand.
func (a *x86) modrmReg(reg, rm x86Reg) { a.byte(0xc0 | byte(reg&7)<<3 | byte(rm&7)) }

// modrmMem encodes a memory operand; it returns the offset of a rip
// displacement (so that the caller can patch it), or -1.
func (a *x86) modrmMem(reg x86Reg, o x86Mem) int {
	r := byte(reg&7) << 3
	if o.rip {
		a.byte(0x05 | r)
		at := a.len()
		a.u32(uint32(o.disp))
		return at
	}
	var mod byte
	switch {
	case o.disp == 0 && o.base&7 != 5:
		mod = 0
	case o.disp >= -128 && o.disp <= 127:
		mod = 1
	default:
		mod = 2
	}
	if o.scale != 0 || o.base&7 == 4 {
		idx := byte(4) // none
		var ss byte
		if o.scale != 0 {
			idx = byte(o.index & 7)
			ss = map[uint8]byte{1: 0, 2: 1, 4: 2, 8: 3}[o.scale]
		}
		a.byte(mod<<6 | r | 4)
		a.byte(ss<<6 | idx<<3 | byte(o.base&7))
	} else {
		a.byte(mod<<6 | r | byte(o.base&7))
	}
	switch mod {
	case 1:
		a.byte(byte(int8(o.disp)))
	case 2:
		a.u32(uint32(o.disp))
	}
	return -1
}

func (o x86Mem) idx() x86Reg {
	if o.scale == 0 {
		return 0
	}
	return o.index
}

// rr emits opcode with a register-direct ModRM (reg, rm).
func (a *x86) rr(w bool, op []byte, reg, rm x86Reg) {
	a.rex(w, reg, 0, rm, false)
	a.byte(op...)
	a.modrmReg(reg, rm)
}

// rm emits opcode with a memory ModRM.
func (a *x86) rm(w bool, op []byte, reg x86Reg, o x86Mem) int {
	a.rex(w, reg, o.idx(), o.base, false)
	a.byte(op...)
	return a.modrmMem(reg, o)
}

// ALU operations of the 0x01-0x3b family and group 1 (0x81 /n).
type x86ALU uint8

const (
	x86Add x86ALU = 0
	x86Or  x86ALU = 1
	x86And x86ALU = 4
	x86Sub x86ALU = 5
	x86Xor x86ALU = 6
	x86Cmp x86ALU = 7
)

// aluRR: dst op= src.
func (a *x86) aluRR(w bool, op x86ALU, dst, src x86Reg) {
	a.rr(w, []byte{byte(op)<<3 | 1}, src, dst)
}

// aluRI: dst op= imm (sign-extended imm32 for 64-bit).
func (a *x86) aluRI(w bool, op x86ALU, dst x86Reg, imm int32) {
	if imm >= -128 && imm <= 127 {
		a.rr(w, []byte{0x83}, x86Reg(op), dst)
		a.byte(byte(int8(imm)))
		return
	}
	a.rr(w, []byte{0x81}, x86Reg(op), dst)
	a.u32(uint32(imm))
}

// aluRM: dst op= [x86Mem].
func (a *x86) aluRM(w bool, op x86ALU, dst x86Reg, o x86Mem) {
	a.rm(w, []byte{byte(op)<<3 | 3}, dst, o)
}

// aluMR: [x86Mem] op= src.
func (a *x86) aluMR(w bool, op x86ALU, o x86Mem, src x86Reg) {
	a.rm(w, []byte{byte(op)<<3 | 1}, src, o)
}

// aluMI: [x86Mem] op= imm.
func (a *x86) aluMI(w bool, op x86ALU, o x86Mem, imm int32) {
	if imm >= -128 && imm <= 127 {
		a.rm(w, []byte{0x83}, x86Reg(op), o)
		a.byte(byte(int8(imm)))
		return
	}
	a.rm(w, []byte{0x81}, x86Reg(op), o)
	a.u32(uint32(imm))
}

// testRR: flags of a & b.
func (a *x86) testRR(w bool, x, y x86Reg) { a.rr(w, []byte{0x85}, y, x) }

// testRI: flags of r & imm.
func (a *x86) testRI(w bool, r x86Reg, imm int32) {
	a.rr(w, []byte{0xf7}, 0, r)
	a.u32(uint32(imm))
}

// movRR: dst = src (32-bit form zero-extends).
func (a *x86) movRR(w bool, dst, src x86Reg) { a.rr(w, []byte{0x89}, src, dst) }

// movRI loads a 64-bit constant in the shortest form.
func (a *x86) movRI(dst x86Reg, v uint64) {
	switch {
	case v == 0:
		a.aluRR(false, x86Xor, dst, dst)
	case v <= 0xffffffff:
		a.rex(false, 0, 0, dst, false)
		a.byte(0xb8 + byte(dst&7))
		a.u32(uint32(v))
	case int64(v) >= -1<<31 && int64(v) < 1<<31:
		a.rr(true, []byte{0xc7}, 0, dst)
		a.u32(uint32(v))
	default:
		a.rex(true, 0, 0, dst, false)
		a.byte(0xb8 + byte(dst&7))
		a.u64(v)
	}
}

// movRI32 loads a 32-bit constant, zero-extended, always as 5-6 bytes (it
// does not touch the flags, unlike xor).
func (a *x86) movRI32(dst x86Reg, v uint32) {
	a.rex(false, 0, 0, dst, false)
	a.byte(0xb8 + byte(dst&7))
	a.u32(v)
}

// load: dst = [x86Mem] of size bytes, zero-extended (sx: sign-extended to 64).
func (a *x86) load(size int, sx bool, dst x86Reg, o x86Mem) {
	switch {
	case size == 8:
		a.rm(true, []byte{0x8b}, dst, o)
	case size == 4 && sx:
		a.rm(true, []byte{0x63}, dst, o)
	case size == 4:
		a.rm(false, []byte{0x8b}, dst, o)
	case size == 2 && sx:
		a.rm(true, []byte{0x0f, 0xbf}, dst, o)
	case size == 2:
		a.rm(false, []byte{0x0f, 0xb7}, dst, o)
	case size == 1 && sx:
		a.rm(true, []byte{0x0f, 0xbe}, dst, o)
	default:
		a.rm(false, []byte{0x0f, 0xb6}, dst, o)
	}
}

// store: [x86Mem] = src, size bytes.
func (a *x86) store(size int, o x86Mem, src x86Reg) {
	switch size {
	case 8:
		a.rm(true, []byte{0x89}, src, o)
	case 4:
		a.rm(false, []byte{0x89}, src, o)
	case 2:
		a.byte(0x66)
		a.rm(false, []byte{0x89}, src, o)
	default:
		a.rex(false, src, o.idx(), o.base, src >= 4 && src < 8)
		a.byte(0x88)
		a.modrmMem(src, o)
	}
}

// storeImm: [x86Mem] = imm, size bytes (8: sign-extended imm32).
func (a *x86) storeImm(size int, o x86Mem, imm int32) {
	switch size {
	case 8:
		a.rm(true, []byte{0xc7}, 0, o)
		a.u32(uint32(imm))
	case 4:
		a.rm(false, []byte{0xc7}, 0, o)
		a.u32(uint32(imm))
	case 2:
		a.byte(0x66)
		a.rm(false, []byte{0xc7}, 0, o)
		a.b = binary.LittleEndian.AppendUint16(a.b, uint16(imm))
	default:
		a.rm(false, []byte{0xc6}, 0, o)
		a.byte(byte(imm))
	}
}

// lea: dst = address of x86Mem.
func (a *x86) lea(dst x86Reg, o x86Mem) int { return a.rm(true, []byte{0x8d}, dst, o) }

// imulRR: dst *= src.
func (a *x86) imulRR(w bool, dst, src x86Reg) { a.rr(w, []byte{0x0f, 0xaf}, dst, src) }

// imulRRI: dst = src * imm.
func (a *x86) imulRRI(w bool, dst, src x86Reg, imm int32) {
	if imm >= -128 && imm <= 127 {
		a.rr(w, []byte{0x6b}, dst, src)
		a.byte(byte(int8(imm)))
		return
	}
	a.rr(w, []byte{0x69}, dst, src)
	a.u32(uint32(imm))
}

// Group 3 (0xf7 /n) and group 2 (shifts) operations.
const (
	x86Not  = 2
	x86Neg  = 3
	x86Div  = 6
	x86IDiv = 7

	x86Rol = 0
	x86Shl = 4
	x86Shr = 5
	x86Sar = 7
)

func (a *x86) group3(w bool, n uint8, r x86Reg) { a.rr(w, []byte{0xf7}, x86Reg(n), r) }

// shiftCL: r op= cl.
func (a *x86) shiftCL(w bool, n uint8, r x86Reg) { a.rr(w, []byte{0xd3}, x86Reg(n), r) }

// shiftI: r op= imm.
func (a *x86) shiftI(w bool, n uint8, r x86Reg, imm uint8) {
	if imm == 1 {
		a.rr(w, []byte{0xd1}, x86Reg(n), r)
		return
	}
	a.rr(w, []byte{0xc1}, x86Reg(n), r)
	a.byte(imm)
}

// rol16: rotate the low 16 bits of r by 8 (a 16-bit byte swap).
func (a *x86) rol16by8(r x86Reg) {
	a.byte(0x66)
	a.rr(false, []byte{0xc1}, x86Rol, r)
	a.byte(8)
}

// cqo / cdq sign-extend rax into rdx.
func (a *x86) cqo(w bool) {
	if w {
		a.byte(0x48)
	}
	a.byte(0x99)
}

// movzx/movsx register forms.
func (a *x86) movzx8(dst, src x86Reg) {
	a.rex(false, dst, 0, src, src >= 4 && src < 8)
	a.byte(0x0f, 0xb6)
	a.modrmReg(dst, src)
}
func (a *x86) movzx16(dst, src x86Reg) { a.rr(false, []byte{0x0f, 0xb7}, dst, src) }
func (a *x86) movsx8(w bool, dst, src x86Reg) {
	a.rex(w, dst, 0, src, src >= 4 && src < 8)
	a.byte(0x0f, 0xbe)
	a.modrmReg(dst, src)
}
func (a *x86) movsx16(w bool, dst, src x86Reg) { a.rr(w, []byte{0x0f, 0xbf}, dst, src) }
func (a *x86) movsxd(dst, src x86Reg)          { a.rr(true, []byte{0x63}, dst, src) }

// bswap: r = byte-reversed r (32 or 64 bits).
func (a *x86) bswap(w bool, r x86Reg) {
	a.rex(w, 0, 0, r, false)
	a.byte(0x0f, 0xc8+byte(r&7))
}

// Condition codes.
type x86Cond uint8

const (
	x86CCO  x86Cond = 0x0
	x86CCB  x86Cond = 0x2 // unsigned <
	x86CCAE x86Cond = 0x3 // unsigned >=
	x86CCE  x86Cond = 0x4
	x86CCNE x86Cond = 0x5
	x86CCBE x86Cond = 0x6 // unsigned <=
	x86CCA  x86Cond = 0x7 // unsigned >
	x86CCS  x86Cond = 0x8
	x86CCL  x86Cond = 0xc // signed <
	x86CCGE x86Cond = 0xd
	x86CCLE x86Cond = 0xe
	x86CCG  x86Cond = 0xf
)

// jcc emits a conditional jump with a 32-bit displacement and returns the
// offset of the displacement, to be patched.
func (a *x86) jcc(c x86Cond) int {
	a.byte(0x0f, 0x80|byte(c))
	at := a.len()
	a.u32(0)
	return at
}

// jmp emits a jump with a 32-bit displacement; see jcc.
func (a *x86) jmp() int {
	a.byte(0xe9)
	at := a.len()
	a.u32(0)
	return at
}

// call emits a near call with a 32-bit displacement; see jcc.
func (a *x86) call() int {
	a.byte(0xe8)
	at := a.len()
	a.u32(0)
	return at
}

// patch makes the rel32 at offset at point to target.
func (a *x86) patch(at, target int) {
	binary.LittleEndian.PutUint32(a.b[at:], uint32(int32(target-(at+4))))
}

// jmpR: jump to the address in r.
func (a *x86) jmpR(r x86Reg) {
	a.rex(false, 0, 0, r, false)
	a.byte(0xff)
	a.modrmReg(4, r)
}

// jmpM: jump to the address stored at x86Mem.
func (a *x86) jmpM(o x86Mem) { a.rm(false, []byte{0xff}, 4, o) }

func (a *x86) ret() { a.byte(0xc3) }

func (a *x86) int3() { a.byte(0xcc) }

// x86Nops are the recommended multi-byte no-ops, by length.
var x86Nops = [...][]byte{
	1: {0x90},
	2: {0x66, 0x90},
	3: {0x0f, 0x1f, 0x00},
	4: {0x0f, 0x1f, 0x40, 0x00},
	5: {0x0f, 0x1f, 0x44, 0x00, 0x00},
	6: {0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00},
	7: {0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00},
	8: {0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00},
}

// align pads the code with no-ops to a multiple of n bytes (a power of
// two, at most 64).
func (a *x86) align(n int) {
	for pad := -a.len() & (n - 1); pad > 0; {
		k := min(pad, 8)
		a.byte(x86Nops[k]...)
		pad -= k
	}
}

// Atomics.

// lockALU: lock [x86Mem] op= src (add, or, and, xor).
func (a *x86) lockALU(w bool, op x86ALU, o x86Mem, src x86Reg) {
	a.byte(0xf0)
	a.aluMR(w, op, o, src)
}

// lockXadd: lock xadd [x86Mem], src (src gets the old value).
func (a *x86) lockXadd(w bool, o x86Mem, src x86Reg) {
	a.byte(0xf0)
	a.rm(w, []byte{0x0f, 0xc1}, src, o)
}

// xchg: xchg [x86Mem], src (implicitly locked).
func (a *x86) xchg(w bool, o x86Mem, src x86Reg) { a.rm(w, []byte{0x87}, src, o) }

// lockCmpxchg: lock cmpxchg [x86Mem], src (compares with rax).
func (a *x86) lockCmpxchg(w bool, o x86Mem, src x86Reg) {
	a.byte(0xf0)
	a.rm(w, []byte{0x0f, 0xb1}, src, o)
}
