package verifier

// The checks made before any state is tracked: instruction encodings,
// jumps, functions and reachability.

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// jumpTarget returns the target of a jump at pc, or -1 if it has none.
func jumpTarget(ins *asm.Instruction, pc int) (int, bool) {
	op := ins.OpCode.JumpOp()
	switch op {
	case asm.Call, asm.Exit:
		return 0, false
	case asm.Ja:
		if ins.OpCode.Class() == asm.Jump32Class {
			return pc + 1 + int(int32(ins.Constant)), true
		}
	}
	return pc + 1 + int(ins.Offset), true
}

// checkProgram performs the control-flow checks.
func (v *verifier) checkProgram() *Rejection {
	n := len(v.insns)
	if v.typ == ebpf.UnspecifiedProgram {
		return v.rejectAt(0, nil, nil, "the program has no type, which no kernel loads; its section name should say what it is")
	}
	if v.ctx = ctxFor(v.typ, v.opts.AttachType); v.ctx == nil {
		return v.rejectAt(0, nil, nil, notYet+"program type %s", v.typ)
	}
	if v.typ == ebpf.Tracing {
		v.ctx.rawMax = 8 * min(v.opts.TracingArgs, 12)
		if v.ctx.rawMax == 0 {
			v.ctx.name = "argument array (its size is unknown without the target's BTF)"
		}
	}
	if v.opts.Unprivileged && v.typ != ebpf.SocketFilter {
		return v.rejectAt(0, nil, nil, "only socket filter programs may be loaded by unprivileged users, not %s", v.typ)
	}
	if n > 1_000_000 {
		return v.rejectAt(0, nil, nil, "the program has %d instructions, more than the limit of 1000000", n)
	}
	v.prune = make([]bool, n)
	v.ptrKinds = make([]uint8, n)
	v.access = make([]Access, n)
	v.pktFields = map[ContextField]bool{}
	v.callbackCall = make([]bool, n)
	for pc, ins := range v.insns {
		if ins != nil && ins.IsBuiltinCall() {
			if h, ok := v.helpers[int32(ins.Constant)]; ok && h.Callback != NoCallback {
				v.callbackCall[pc] = true
				v.prune[pc] = true
			}
		}
	}
	// Subprograms start at 0 and at every bpf-to-bpf call target.
	isStart := make([]bool, n)
	isStart[0] = true
	for pc, ins := range v.insns {
		if ins != nil && ins.IsFunctionReference() {
			t := pc + 1 + int(int32(ins.Constant))
			if t < 0 || t >= n {
				return v.rejectAt(pc, nil, nil, "the call goes to instruction %d, outside the program (0..%d)", t, n-1)
			}
			if v.insns[t] == nil {
				return v.rejectAt(pc, nil, nil, "the call goes to instruction %d, the middle of a 64-bit immediate load", t)
			}
			isStart[t] = true
			v.prune[t] = true
		}
	}
	v.subprogOf = make([]int, n)
	for pc, cur := 0, 0; pc < n; pc++ {
		if isStart[pc] {
			cur = pc
		}
		v.subprogOf[pc] = cur
	}
	var buf [2]int
	succ := func(pc int) []int {
		ins := v.insns[pc]
		out := buf[:0]
		next := pc + int(ins.Size()/asm.InstructionSize)
		if ins.IsLoadOfFunctionPointer() {
			return append(out, next, pc+1+int(int32(ins.Constant)))
		}
		if !ins.OpCode.Class().IsJump() {
			return append(out, next)
		}
		op := ins.OpCode.JumpOp()
		switch op {
		case asm.Exit:
			return nil
		case asm.Call:
			if ins.Src == asm.PseudoCall {
				return append(out, next, pc+1+int(int32(ins.Constant)))
			}
			return append(out, next)
		}
		t, _ := jumpTarget(ins, pc)
		if op == asm.Ja {
			return append(out, t)
		}
		return append(out, next, t)
	}
	for pc, ins := range v.insns {
		if ins == nil {
			continue
		}
		if rej := v.checkEncoding(pc, ins); rej != nil {
			return rej
		}
		for _, s := range succ(pc) {
			if s == n {
				return v.rejectAt(pc, nil, nil, "execution can fall off the end of the program after instruction %d; every path must end in exit", pc)
			}
			if s < 0 || s > n {
				return v.rejectAt(pc, nil, nil, "the jump goes to instruction %d, outside the program (0..%d)", s, n-1)
			}
			if v.insns[s] == nil {
				return v.rejectAt(pc, nil, nil, "the jump goes to instruction %d, the middle of a 64-bit immediate load", s)
			}
			next := pc + int(ins.Size()/asm.InstructionSize)
			if v.subprogOf[s] != v.subprogOf[pc] && !(ins.IsFunctionReference() && s != next) {
				if s == next {
					return v.rejectAt(pc, nil, nil, "execution can fall from the function at insn %d into the next one at insn %d; every path must end in exit", v.subprogOf[pc], s)
				}
				return v.rejectAt(pc, nil, nil, "the jump goes to instruction %d, outside its function (which starts at insn %d)", s, v.subprogOf[pc])
			}
		}
		if ins.OpCode.Class().IsJump() && !ins.IsFunctionCall() {
			if t, ok := jumpTarget(ins, pc); ok {
				v.prune[t] = true
				if ins.OpCode.JumpOp() != asm.Ja {
					v.prune[pc+1] = true
				}
			}
		}
	}
	seen := make([]bool, n)
	stack := []int{0}
	seen[0] = true
	for len(stack) > 0 {
		pc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, s := range succ(pc) {
			if !seen[s] {
				seen[s] = true
				stack = append(stack, s)
			}
		}
	}
	for pc, ins := range v.insns {
		if ins != nil && !seen[pc] && !v.opts.AllowUnreachable {
			return v.rejectAt(pc, nil, nil, "instruction %d is unreachable", pc)
		}
	}
	return nil
}

func validReg(r asm.Register) bool { return r <= asm.R10 }

func (v *verifier) checkEncoding(pc int, ins *asm.Instruction) *Rejection {
	op := ins.OpCode
	if !validReg(ins.Dst) || !validReg(ins.Src) {
		return v.rejectAt(pc, nil, nil, "the instruction uses an invalid register number")
	}
	if op == asm.InvalidOpCode {
		return v.rejectAt(pc, nil, nil, "invalid opcode")
	}
	cls := op.Class()
	if what := reservedFields(ins); what != "" {
		return v.rejectAt(pc, nil, nil, "reserved fields of the instruction are not zero (%s)", what)
	}
	switch {
	case cls == asm.LdClass:
		if ins.Dst == asm.R10 {
			return v.rejectAt(pc, nil, nil, "r10 (the frame pointer) is read-only")
		}
		if !op.IsDWordLoad() {
			if m := op.Mode(); m == asm.AbsMode || m == asm.IndMode {
				if op.Size() == asm.DWord {
					return v.rejectAt(pc, nil, nil, "legacy packet loads of 8 bytes do not exist")
				}
				if !v.ctx.skb {
					return v.rejectAt(pc, nil, nil, "legacy packet loads (LD_ABS/LD_IND) are only allowed in socket filter and tc programs, not %s", v.typ)
				}
				return nil
			}
			return v.rejectAt(pc, nil, nil, "unknown load instruction (opcode %#x)", uint16(op))
		}
		switch ins.Src {
		case 0:
		case asm.PseudoMapFD, asm.PseudoMapValue:
			if ins.Src == asm.PseudoMapFD && uint64(ins.Constant)>>32 != 0 {
				return v.rejectAt(pc, nil, nil, "a map load's second immediate must be zero")
			}
			if v.maps[pc] == nil {
				return v.rejectAt(pc, nil, nil, notYet+"64-bit immediate loads of unresolved externs (kconfig or ksym values) or of map file descriptors")
			}
		case asm.PseudoFunc:
		default:
			return v.rejectAt(pc, nil, nil, notYet+"64-bit immediate loads with source %d", ins.Src)
		}
	case cls == asm.LdXClass:
		if m := op.Mode(); m != asm.MemMode && m != asm.MemSXMode {
			return v.rejectAt(pc, nil, nil, "unknown load mode (opcode %#x)", uint16(op))
		}
		if op.Mode() == asm.MemSXMode && op.Size() == asm.DWord {
			return v.rejectAt(pc, nil, nil, "sign-extending loads of 8 bytes do not exist")
		}
	case cls == asm.StClass || cls == asm.StXClass:
		if op.Mode() == asm.AtomicMode {
			if cls != asm.StXClass || (op.Size() != asm.Word && op.Size() != asm.DWord) {
				return v.rejectAt(pc, nil, nil, "atomic operations must be 32- or 64-bit register stores (opcode %#x)", uint16(op))
			}
			aop := op.AtomicOp()
			if ins.Constant != 0 && ins.Constant != int64(aop>>8) {
				return v.rejectAt(pc, nil, nil, "invalid atomic operation %#x", uint32(ins.Constant))
			}
			switch aop {
			case asm.AddAtomic, asm.OrAtomic, asm.AndAtomic, asm.XorAtomic, asm.FetchAdd, asm.FetchOr, asm.FetchAnd, asm.FetchXor, asm.Xchg, asm.CmpXchg:
			default:
				return v.rejectAt(pc, nil, nil, notYet+"atomic operation %#x", uint32(ins.Constant))
			}
			break
		}
		if op.Mode() != asm.MemMode {
			return v.rejectAt(pc, nil, nil, "unknown store mode (opcode %#x)", uint16(op))
		}
	case cls.IsALU():
		switch op.ALUOp() {
		case asm.Add, asm.Sub, asm.Mul, asm.Div, asm.Or, asm.And, asm.LSh, asm.RSh, asm.Neg, asm.Mod, asm.Xor, asm.Mov, asm.ArSh, asm.SDiv, asm.SMod, asm.Swap:
		case asm.MovSX8, asm.MovSX16, asm.MovSX32:
			if op.Source() != asm.RegSource || (op.ALUOp() == asm.MovSX32 && op.Class() != asm.ALU64Class) {
				return v.rejectAt(pc, nil, nil, "invalid sign-extending move (opcode %#x)", uint16(op))
			}
		default:
			return v.rejectAt(pc, nil, nil, "unknown ALU operation (opcode %#x)", uint16(op))
		}
		if ins.Offset != 0 {
			return v.rejectAt(pc, nil, nil, "reserved offset field of an ALU instruction is not zero")
		}
		if ins.Dst == asm.R10 {
			return v.rejectAt(pc, nil, nil, "r10 (the frame pointer) is read-only")
		}
	case cls.IsJump():
		switch op.JumpOp() {
		case asm.Call:
			if ins.Src != 0 && ins.Src != asm.PseudoCall {
				return v.rejectAt(pc, nil, nil, notYet+"kfunc calls")
			}
		case asm.Exit, asm.Ja, asm.JEq, asm.JGT, asm.JGE, asm.JSet, asm.JNE, asm.JSGT, asm.JSGE, asm.JLT, asm.JLE, asm.JSLT, asm.JSLE:
		default:
			return v.rejectAt(pc, nil, nil, "unknown jump operation (opcode %#x)", uint16(op))
		}
	default:
		return v.rejectAt(pc, nil, nil, "unknown instruction class (opcode %#x)", uint16(op))
	}
	if cls == asm.LdXClass && ins.Dst == asm.R10 {
		return v.rejectAt(pc, nil, nil, "r10 (the frame pointer) is read-only")
	}
	return nil
}
