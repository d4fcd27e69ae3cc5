// Package disasm prints eBPF instructions in the syntax of the kernel's
// verifier log and bpftool ("r1 = *(u64 *)(r10 -8)"), which is what users
// of eBPF already read.
package disasm

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/cilium/ebpf/asm"
)

// Insn renders one instruction. Jumps show their relative offset
// ("goto pc+3"); map loads show the map's name when the instruction
// references one.
func Insn(ins asm.Instruction) string {
	op := ins.OpCode
	switch cls := op.Class(); {
	case cls.IsALU():
		return alu(ins)
	case cls == asm.LdXClass:
		t := "u"
		if op.Mode() == asm.MemSXMode {
			t = "s"
		}
		return fmt.Sprintf("%s = *(%s%d *)(%s %s)", reg(ins.Dst, false), t, 8*op.Size().Sizeof(), reg(ins.Src, false), off(ins.Offset))
	case cls == asm.StClass:
		return fmt.Sprintf("*(u%d *)(%s %s) = %d", 8*op.Size().Sizeof(), reg(ins.Dst, false), off(ins.Offset), ins.Constant)
	case cls == asm.StXClass:
		if op.Mode() == asm.AtomicMode {
			return atomic(ins)
		}
		return fmt.Sprintf("*(u%d *)(%s %s) = %s", 8*op.Size().Sizeof(), reg(ins.Dst, false), off(ins.Offset), reg(ins.Src, false))
	case cls == asm.LdClass:
		return ld(ins)
	case cls.IsJump():
		return jump(ins)
	}
	return fmt.Sprintf("(bad opcode %#x)", uint16(op))
}

func off(o int16) string {
	if o < 0 {
		return fmt.Sprint(o)
	}
	return fmt.Sprintf("+%d", o)
}

// reg names a register as the instruction's width sees it: w for 32 bits.
func reg(r asm.Register, w32 bool) string {
	if w32 {
		return fmt.Sprintf("w%d", uint8(r))
	}
	return fmt.Sprintf("r%d", uint8(r))
}

var aluOps = map[asm.ALUOp]string{
	asm.Add: "+=", asm.Sub: "-=", asm.Mul: "*=", asm.Div: "/=", asm.Or: "|=", asm.And: "&=",
	asm.LSh: "<<=", asm.RSh: ">>=", asm.Mod: "%=", asm.Xor: "^=", asm.Mov: "=", asm.ArSh: "s>>=",
	asm.SDiv: "s/=", asm.SMod: "s%=",
}

func alu(ins asm.Instruction) string {
	op := ins.OpCode
	w32 := op.Class() == asm.ALUClass
	dst := reg(ins.Dst, w32)
	src := fmt.Sprint(ins.Constant)
	if op.Source() == asm.RegSource {
		src = reg(ins.Src, w32)
	}
	switch a := op.ALUOp(); a {
	case asm.Neg:
		return fmt.Sprintf("%s = -%s", dst, dst)
	case asm.Swap:
		kind := "le"
		switch {
		case op.Class() == asm.ALU64Class:
			kind = "bswap"
		case op.Endianness() == asm.BE:
			kind = "be"
		}
		r := reg(ins.Dst, false)
		return fmt.Sprintf("%s = %s%d %s", r, kind, ins.Constant, r)
	case asm.MovSX8, asm.MovSX16, asm.MovSX32:
		bits := map[asm.ALUOp]int{asm.MovSX8: 8, asm.MovSX16: 16, asm.MovSX32: 32}[a]
		return fmt.Sprintf("%s = (s%d)%s", dst, bits, reg(ins.Src, w32))
	default:
		if s, ok := aluOps[a]; ok {
			return fmt.Sprintf("%s %s %s", dst, s, src)
		}
	}
	return fmt.Sprintf("(bad alu opcode %#x)", uint16(op))
}

func atomic(ins asm.Instruction) string {
	size := ins.OpCode.Size()
	bits := 8 * size.Sizeof()
	mem := fmt.Sprintf("(u%d *)(%s %s)", bits, reg(ins.Dst, false), off(ins.Offset))
	w32 := size == asm.Word
	src := reg(ins.Src, w32)
	sfx := ""
	if bits == 64 {
		sfx = "64"
	}
	switch a := ins.OpCode.AtomicOp(); a {
	case asm.AddAtomic, asm.OrAtomic, asm.AndAtomic, asm.XorAtomic:
		s := map[asm.AtomicOp]string{asm.AddAtomic: "+=", asm.OrAtomic: "|=", asm.AndAtomic: "&=", asm.XorAtomic: "^="}[a]
		return fmt.Sprintf("lock *%s %s %s", mem, s, src)
	case asm.FetchAdd, asm.FetchOr, asm.FetchAnd, asm.FetchXor:
		s := map[asm.AtomicOp]string{asm.FetchAdd: "add", asm.FetchOr: "or", asm.FetchAnd: "and", asm.FetchXor: "xor"}[a]
		return fmt.Sprintf("%s = atomic%s_fetch_%s(%s, %s)", src, sfx, s, mem, src)
	case asm.Xchg:
		return fmt.Sprintf("%s = atomic%s_xchg(%s, %s)", src, sfx, mem, src)
	case asm.CmpXchg:
		return fmt.Sprintf("%s = atomic%s_cmpxchg(%s, %s, %s)", reg(asm.R0, w32), sfx, mem, reg(asm.R0, w32), src)
	}
	return fmt.Sprintf("(bad atomic operation %#x)", uint32(ins.Constant))
}

func ld(ins asm.Instruction) string {
	op := ins.OpCode
	switch op.Mode() {
	case asm.AbsMode:
		return fmt.Sprintf("r0 = *(u%d *)skb[%d]", 8*op.Size().Sizeof(), ins.Constant)
	case asm.IndMode:
		return fmt.Sprintf("r0 = *(u%d *)skb[%s + %d]", 8*op.Size().Sizeof(), reg(ins.Src, false), ins.Constant)
	}
	if !op.IsDWordLoad() {
		return fmt.Sprintf("(bad load opcode %#x)", uint16(op))
	}
	name := ins.Reference()
	dst := reg(ins.Dst, false)
	switch ins.Src {
	case asm.PseudoMapFD:
		if name == "" {
			return fmt.Sprintf("%s = map[fd:%d]", dst, int32(ins.Constant))
		}
		return fmt.Sprintf("%s = map[%s]", dst, name)
	case asm.PseudoMapValue:
		o := uint64(ins.Constant) >> 32
		if name == "" {
			return fmt.Sprintf("%s = map[fd:%d][0]+%d", dst, int32(ins.Constant), o)
		}
		return fmt.Sprintf("%s = map[%s][0]+%d", dst, name, o)
	case asm.PseudoFunc:
		return fmt.Sprintf("%s = func[%s]", dst, name)
	case 0:
		return fmt.Sprintf("%s = %#x ll", dst, uint64(ins.Constant))
	}
	return fmt.Sprintf("%s = (source %d) %#x ll", dst, ins.Src, uint64(ins.Constant))
}

var jumpOps = map[asm.JumpOp]string{
	asm.JEq: "==", asm.JGT: ">", asm.JGE: ">=", asm.JSet: "&", asm.JNE: "!=", asm.JSGT: "s>",
	asm.JSGE: "s>=", asm.JLT: "<", asm.JLE: "<=", asm.JSLT: "s<", asm.JSLE: "s<=",
}

func jump(ins asm.Instruction) string {
	op := ins.OpCode
	w32 := op.Class() == asm.Jump32Class
	switch j := op.JumpOp(); j {
	case asm.Exit:
		return "exit"
	case asm.Call:
		switch ins.Src {
		case asm.PseudoCall:
			if ins.Constant == -1 && ins.Reference() != "" {
				return "call " + ins.Reference()
			}
			return fmt.Sprintf("call pc%s", off(int16(ins.Constant)))
		case asm.PseudoKfuncCall:
			return fmt.Sprintf("call kernel-function#%d", ins.Constant)
		}
		return fmt.Sprintf("call %s#%d", HelperName(int32(ins.Constant)), ins.Constant)
	case asm.Ja:
		if w32 {
			return fmt.Sprintf("gotol pc%+d", int32(ins.Constant))
		}
		return fmt.Sprintf("goto pc%s", off(ins.Offset))
	default:
		s, ok := jumpOps[j]
		if !ok {
			return fmt.Sprintf("(bad jump opcode %#x)", uint16(op))
		}
		src := fmt.Sprintf("%#x", ins.Constant)
		if ins.Constant < 0 {
			src = fmt.Sprint(ins.Constant)
		}
		if w32 && ins.Constant >= 0 {
			src = fmt.Sprintf("%#x", uint32(ins.Constant))
		}
		if op.Source() == asm.RegSource {
			src = reg(ins.Src, w32)
		}
		return fmt.Sprintf("if %s %s %s goto pc%s", reg(ins.Dst, w32), s, src, off(ins.Offset))
	}
}

// HelperName is a helper's C name ("bpf_map_lookup_elem") from its number.
func HelperName(id int32) string {
	s := asm.BuiltinFunc(id).String()
	if !strings.HasPrefix(s, "Fn") {
		return fmt.Sprintf("helper%d", id)
	}
	var b strings.Builder
	b.WriteString("bpf")
	for i, r := range s[2:] {
		if unicode.IsUpper(r) {
			b.WriteByte('_')
			r = unicode.ToLower(r)
		} else if i == 0 {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return b.String()
}
