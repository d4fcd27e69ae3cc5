package codegen

import (
	"strconv"

	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
	"github.com/wagglebpf/waggle/lang/sema"
)

// intVal wraps an integer register value.
func intVal(t *ast.Type, i *ival) *val { return &val{t: t, i: i} }

// expr generates an expression. Integers come back in ival form, other
// values as stack buffers.
func (g *gen) expr(e ast.Expr) (*val, error) {
	defer g.at(e)()
	t := e.Type()
	if v, ok := g.constant(e); ok {
		return v, nil
	}
	if isMemory(e) {
		return g.memRead(e)
	}
	switch e := e.(type) {
	case *ast.IntLit:
		return intVal(t, imm(int64(e.Value))), nil
	case *ast.BoolLit:
		if e.Value {
			return intVal(t, imm(1)), nil
		}
		return intVal(t, imm(0)), nil
	case *ast.StrLit:
		return g.stringConst(e.Value, t.Size), nil
	case *ast.VarExpr:
		slot, err := g.slot(e.Name, t)
		if err != nil {
			return nil, err
		}
		if isBufType(slot.t) {
			// A copy, so that later assignments to the variable in the same
			// statement do not change this value.
			v := g.buffer(slot.t)
			g.copyStack(v.off, slot.off, layout.Size(slot.t))
			return v, nil
		}
		return g.loadInt(slot.off, slot.t), nil
	case *ast.PosParam:
		return g.posParam(e)
	case *ast.Ident:
		return g.builtin(e)
	case *ast.MapExpr:
		return g.mapRead(e)
	case *ast.Call:
		return g.call(e)
	case *ast.Unary:
		return g.unary(e)
	case *ast.Binary:
		return g.binary(e)
	case *ast.Ternary:
		return g.ternary(e)
	case *ast.FieldExpr:
		return g.field(e)
	case *ast.TupleExpr:
		return g.tuple(e)
	case *ast.TupleIndex:
		x, err := g.expr(e.X)
		if err != nil {
			return nil, err
		}
		off := x.off + int16(layout.Offsets(x.t)[e.Index])
		et := x.t.Elems[e.Index]
		if isBufType(et) {
			return &val{t: et, off: off}, nil
		}
		return g.loadInt(off, et), nil
	case *ast.CastExpr:
		if t.Kind == ast.KindArray {
			return g.castToArray(e)
		}
		x, err := g.expr(e.X)
		if err != nil {
			return nil, err
		}
		return g.truncate(x, t), nil
	case *ast.BlockExpr:
		// A macro's body: its statements end with no value in a register,
		// so the values the enclosing expression holds go to the stack.
		g.regs.spillAll()
		for _, s := range e.Stmts {
			if err := g.stmt(s); err != nil {
				return nil, err
			}
		}
		if e.Value == nil {
			return none(), nil
		}
		return g.expr(e.Value)
	}
	return nil, g.errorf(e, "this expression is not supported yet")
}

// truncate converts an integer to the width and signedness of t.
func (g *gen) truncate(x *val, t *ast.Type) *val {
	if x.i.isImm {
		v := x.i.imm
		switch {
		case t.Kind == ast.KindBool:
			if v != 0 {
				v = 1
			}
		default:
			v = extendConst(v, 8*t.Size, t.Signed)
		}
		return intVal(t, imm(v))
	}
	r := g.regs.use(x.i)
	switch {
	case t.Kind == ast.KindBool:
		skip := g.newLabel("bool")
		g.emit(asm.JEq.Imm(r, 0, skip), asm.Mov.Imm(r, 1))
		g.place(skip)
	default:
		g.extend(r, 8*t.Size, t.Signed)
	}
	g.regs.unpin(x.i)
	return intVal(t, x.i)
}

func (g *gen) posParam(e *ast.PosParam) (*val, error) {
	params := g.prog.Info.Params
	if e.Count {
		return intVal(e.Type(), imm(int64(len(params)))), nil
	}
	text := ""
	if e.Index <= len(params) {
		text = params[e.Index-1]
	}
	if e.Type().Kind == ast.KindString {
		return g.stringConst(text, e.Type().Size), nil
	}
	n, _ := strconv.ParseInt(text, 0, 64)
	return intVal(e.Type(), imm(n)), nil
}

// call0 calls a helper with no arguments and returns R0 in a new value.
func (g *gen) call0(fn asm.BuiltinFunc, t *ast.Type) *val {
	g.emit(fn.Call())
	v := g.regs.newVal()
	g.emit(asm.Mov.Reg(v.reg, asm.R0))
	return intVal(t, v)
}

// call0Low calls a helper with no arguments and returns the low 32 bits
// of R0 in a new value (a 32-bit move zero-extends).
func (g *gen) call0Low(fn asm.BuiltinFunc, t *ast.Type) *val {
	g.emit(fn.Call())
	v := g.regs.newVal()
	g.emit(asm.Mov.Reg32(v.reg, asm.R0))
	return intVal(t, v)
}

// global reads slot i of the globals map.
func (g *gen) global(i int32, t *ast.Type) *val {
	key := g.stack.alloc(8)
	g.emit(
		asm.StoreImm(asm.RFP, key, int64(i), asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference(GlobalsMap),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(key)),
		asm.FnMapLookupElem.Call(),
	)
	v := g.regs.newVal()
	done := g.newLabel("global")
	g.emit(asm.Mov.Imm(v.reg, 0), asm.JEq.Imm(asm.R0, 0, done), asm.LoadMem(v.reg, asm.R0, 0, asm.DWord))
	g.place(done)
	return intVal(t, v)
}

func (g *gen) builtin(e *ast.Ident) (*val, error) {
	if v, ok, err := g.processBuiltin(e); ok {
		return v, err
	}
	t := e.Type()
	switch e.Name {
	case "kstack", "ustack":
		return g.stackID(t), nil
	case "pid", "tid":
		if e.Name == "tid" {
			return g.call0Low(asm.FnGetCurrentPidTgid, t), nil
		}
		v := g.call0(asm.FnGetCurrentPidTgid, t)
		g.emit(asm.RSh.Imm(v.i.reg, 32))
		return v, nil
	case "uid", "gid":
		if e.Name == "uid" {
			return g.call0Low(asm.FnGetCurrentUidGid, t), nil
		}
		v := g.call0(asm.FnGetCurrentUidGid, t)
		g.emit(asm.RSh.Imm(v.i.reg, 32))
		return v, nil
	case "cpu":
		return g.call0(asm.FnGetSmpProcessorId, t), nil
	case "nsecs":
		return g.call0(asm.FnKtimeGetNs, t), nil
	case "elapsed":
		start := g.global(GlobalStart, t)
		now := g.call0(asm.FnKtimeGetNs, t)
		r := g.regs.use(now.i)
		s := g.regs.use(start.i)
		g.emit(asm.Sub.Reg(r, s))
		g.regs.free(start.i)
		g.regs.unpin(now.i)
		return now, nil
	case "cpid":
		return g.global(GlobalCpid, t), nil
	case "cgroup":
		return g.call0(asm.FnGetCurrentCgroupId, t), nil
	case "rand":
		return g.call0(asm.FnGetPrandomU32, t), nil
	case "curtask":
		return g.call0(asm.FnGetCurrentTask, t), nil
	case "jiffies":
		return g.call0(asm.FnJiffies64, t), nil
	case "numaid":
		return g.call0(asm.FnGetNumaNodeId, t), nil
	case "ncpus":
		return intVal(t, imm(int64(g.opts.NCPUs))), nil
	case "comm":
		// bpf_get_current_comm fills the whole buffer, NUL-padded (its
		// argument is uninitialised memory): it needs no zeroing unless
		// the layout rounds it up.
		var buf *val
		if layout.Size(t) == t.Size {
			buf = &val{t: t, off: g.stack.alloc(t.Size)}
		} else {
			buf = g.buffer(t)
		}
		g.emit(
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.Add.Imm(asm.R1, int32(buf.off)),
			asm.Mov.Imm(asm.R2, int32(t.Size)),
			asm.FnGetCurrentComm.Call(),
		)
		return buf, nil
	case "probe":
		return g.stringConst(g.inst.Name, t.Size), nil
	case "func":
		name := g.inst.Func
		if g.inst.Kind == sema.ProbeUprobe || g.inst.Kind == sema.ProbeUretprobe {
			name = g.inst.Symbol
		}
		return g.stringConst(name, t.Size), nil
	case "retval":
		if g.inst.Kind == sema.ProbeFexit {
			// The context is the arguments, then the return value.
			v := g.regs.newVal()
			g.emit(asm.LoadMem(v.reg, ctxReg, int16(8*len(g.inst.Proto.Params)), asm.DWord))
			return g.truncate(intVal(t, v), t), nil
		}
		regs, err := archRegs()
		if err != nil {
			return nil, g.errorf(e, "%v", err)
		}
		v := g.regs.newVal()
		g.emit(asm.LoadMem(v.reg, ctxReg, regs.ret, asm.DWord))
		return intVal(t, v), nil
	}
	if n, ok := argIndex(e.Name); ok {
		v := g.regs.newVal()
		if g.inst.Kind == sema.ProbeRawTracepoint {
			g.emit(asm.LoadMem(v.reg, ctxReg, int16(8*n), asm.DWord))
			return intVal(t, v), nil
		}
		regs, err := archRegs()
		if err != nil {
			return nil, g.errorf(e, "%v", err)
		}
		g.emit(asm.LoadMem(v.reg, ctxReg, regs.args[n], asm.DWord))
		return intVal(t, v), nil
	}
	return nil, g.errorf(e, "%s is not supported yet", e.Name)
}

func argIndex(name string) (int, bool) {
	if len(name) == 4 && name[:3] == "arg" && name[3] >= '0' && name[3] <= '5' {
		return int(name[3] - '0'), true
	}
	return 0, false
}

// field reads args.NAME in a tracepoint, fentry or fexit probe.
func (g *gen) field(e *ast.FieldExpr) (*val, error) {
	if g.inst.Kind == sema.ProbeFentry || g.inst.Kind == sema.ProbeFexit || g.inst.Kind == sema.ProbeRawTracepoint {
		i, _, err := g.inst.FentryArg(e.Field)
		if err != nil {
			return nil, g.errorf(e, "%v", err)
		}
		t := e.Type()
		v := g.regs.newVal()
		g.emit(asm.LoadMem(v.reg, ctxReg, int16(8*i), asm.DWord))
		return g.truncate(intVal(t, v), t), nil
	}
	var f *fieldInfo
	for i := range g.inst.Format.Fields {
		ff := &g.inst.Format.Fields[i]
		if ff.Name == e.Field && !ff.Common {
			f = &fieldInfo{off: int16(ff.Offset), size: ff.Size, signed: ff.Signed, dataLoc: ff.DataLoc}
			break
		}
	}
	if f == nil {
		return nil, g.errorf(e, "no field %s", e.Field)
	}
	t := e.Type()
	switch {
	case f.dataLoc:
		// The field holds (length << 16 | offset) of data after the record.
		v := g.regs.newVal()
		g.emit(
			asm.LoadMem(v.reg, ctxReg, f.off, asm.Word),
			asm.And.Imm(v.reg, 0xffff),
			asm.Add.Reg(v.reg, ctxReg),
		)
		return intVal(t, v), nil
	case isBufType(t):
		buf := g.buffer(t)
		g.emit(
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.Add.Imm(asm.R1, int32(buf.off)),
			asm.Mov.Imm(asm.R2, int32(min(f.size, layout.Size(t)))),
			asm.Mov.Reg(asm.R3, ctxReg),
			asm.Add.Imm(asm.R3, int32(f.off)),
			asm.FnProbeReadKernel.Call(),
		)
		return buf, nil
	}
	v := g.regs.newVal()
	g.emit(asm.LoadMem(v.reg, ctxReg, f.off, memSize(f.size)))
	if f.signed {
		g.extend(v.reg, 8*f.size, true)
	}
	return intVal(t, v), nil
}

type fieldInfo struct {
	off     int16
	size    int
	signed  bool
	dataLoc bool
}

func (g *gen) tuple(e *ast.TupleExpr) (*val, error) {
	buf := g.buffer(e.Type())
	offs := layout.Offsets(e.Type())
	for i, el := range e.Elems {
		v, err := g.expr(el)
		if err != nil {
			return nil, err
		}
		g.storeAt(buf.off+int16(offs[i]), e.Type().Elems[i], v)
		if !v.isBuf() {
			g.regs.free(v.i)
		}
	}
	return buf, nil
}

func (g *gen) unary(e *ast.Unary) (*val, error) {
	if e.Op == "++" || e.Op == "--" {
		return g.incdec(e)
	}
	if e.Op == "&" {
		return g.addressOf(e)
	}
	x, err := g.expr(e.X)
	if err != nil {
		return nil, err
	}
	if x.i.isImm {
		switch e.Op {
		case "!":
			if x.i.imm == 0 {
				return intVal(e.Type(), imm(1)), nil
			}
			return intVal(e.Type(), imm(0)), nil
		case "-":
			return intVal(e.Type(), imm(-x.i.imm)), nil
		case "~":
			return intVal(e.Type(), imm(^x.i.imm)), nil
		}
	}
	r := g.regs.use(x.i)
	switch e.Op {
	case "!":
		set := g.newLabel("not")
		done := g.newLabel("notdone")
		g.emit(asm.JEq.Imm(r, 0, set), asm.Mov.Imm(r, 0), asm.Ja.Label(done))
		g.place(set)
		g.emit(asm.Mov.Imm(r, 1))
		g.place(done)
	case "-":
		g.emit(asm.Neg.Imm(r, 0))
	case "~":
		g.emit(asm.Xor.Imm(r, -1))
	}
	g.regs.unpin(x.i)
	return intVal(e.Type(), x.i), nil
}

var aluOps = map[string]asm.ALUOp{
	"+": asm.Add, "-": asm.Sub, "*": asm.Mul, "/": asm.Div, "%": asm.Mod,
	"&": asm.And, "|": asm.Or, "^": asm.Xor, "<<": asm.LSh, ">>": asm.RSh,
}

func (g *gen) binary(e *ast.Binary) (*val, error) {
	switch e.Op {
	case "&&", "||":
		return g.logical(e)
	}
	if e.X.Type().Kind == ast.KindString {
		return g.strEqual(e)
	}
	if v, ok, err := g.ptrArith(e); ok || err != nil {
		return v, err
	}
	x, err := g.expr(e.X)
	if err != nil {
		return nil, err
	}
	y, err := g.expr(e.Y)
	if err != nil {
		return nil, err
	}
	signed := !e.X.Type().IsUnsigned64() && !e.Y.Type().IsUnsigned64()
	if op, ok := aluOps[e.Op]; ok {
		if (e.Op == "/" || e.Op == "%") && !(y.i.isImm && y.i.imm != 0) {
			return g.divide(e, x, y, signed), nil
		}
		if signed {
			switch e.Op {
			case "/":
				op = asm.SDiv
			case "%":
				op = asm.SMod
			case ">>":
				op = asm.ArSh
			}
		}
		rx := g.regs.use(x.i)
		if y.i.isImm && y.i.imm >= -1<<31 && y.i.imm < 1<<31 {
			g.emit(op.Imm(rx, int32(y.i.imm)))
		} else {
			ry := g.regs.use(y.i)
			g.emit(op.Reg(rx, ry))
			g.regs.free(y.i)
		}
		g.regs.unpin(x.i)
		return intVal(e.Type(), x.i), nil
	}
	// Comparisons: result = 1; if (x op y) skip; result = 0.
	jops := map[string][2]asm.JumpOp{
		"==": {asm.JEq, asm.JEq}, "!=": {asm.JNE, asm.JNE},
		"<": {asm.JLT, asm.JSLT}, "<=": {asm.JLE, asm.JSLE},
		">": {asm.JGT, asm.JSGT}, ">=": {asm.JGE, asm.JSGE},
	}
	pair := jops[e.Op]
	jop := pair[0]
	if signed {
		jop = pair[1]
	}
	rx := g.regs.use(x.i)
	out := g.regs.newVal()
	done := g.newLabel("cmp")
	g.emit(asm.Mov.Imm(out.reg, 1))
	if y.i.isImm && y.i.imm >= -1<<31 && y.i.imm < 1<<31 {
		g.emit(jop.Imm(rx, int32(y.i.imm), done))
	} else {
		ry := g.regs.use(y.i)
		g.emit(jop.Reg(rx, ry, done))
		g.regs.free(y.i)
	}
	g.emit(asm.Mov.Imm(out.reg, 0))
	g.place(done)
	g.regs.free(x.i)
	return intVal(e.Type(), out), nil
}

// logical generates && and || with short-circuit evaluation. The result
// goes through a stack slot because the two paths join.
func (g *gen) logical(e *ast.Binary) (*val, error) {
	slot := g.stack.alloc(8)
	short, done := g.newLabel("short"), g.newLabel("logic")
	x, err := g.expr(e.X)
	if err != nil {
		return nil, err
	}
	rx := g.regs.use(x.i)
	g.regs.spillAll()
	if e.Op == "&&" {
		g.emit(asm.JEq.Imm(rx, 0, short))
	} else {
		g.emit(asm.JNE.Imm(rx, 0, short))
	}
	y, err := g.expr(e.Y)
	if err != nil {
		return nil, err
	}
	ry := g.regs.use(y.i)
	g.emit(
		stImm(asm.RFP, slot, 1),
		asm.JNE.Imm(ry, 0, done),
		stImm(asm.RFP, slot, 0),
		asm.Ja.Label(done),
	)
	g.regs.free(y.i)
	g.place(short)
	if e.Op == "&&" {
		g.emit(stImm(asm.RFP, slot, 0))
	} else {
		g.emit(stImm(asm.RFP, slot, 1))
	}
	g.place(done)
	g.regs.spillAll()
	return g.loadInt(slot, e.Type()), nil
}

// strEqual compares two strings up to and including the first NUL, as
// bpftrace's == on strings does.
func (g *gen) strEqual(e *ast.Binary) (*val, error) {
	x, err := g.expr(e.X)
	if err != nil {
		return nil, err
	}
	y, err := g.expr(e.Y)
	if err != nil {
		return nil, err
	}
	n := min(x.t.Size, y.t.Size)
	out := g.regs.newVal()
	differ, same, done := g.newLabel("strne"), g.newLabel("streq"), g.newLabel("strdone")
	for i := 0; i < n; i++ {
		g.emit(
			asm.LoadMem(asm.R1, asm.RFP, x.off+int16(i), asm.Byte),
			asm.LoadMem(asm.R2, asm.RFP, y.off+int16(i), asm.Byte),
			asm.JNE.Reg(asm.R1, asm.R2, differ),
			asm.JEq.Imm(asm.R1, 0, same),
		)
	}
	// All n bytes equal without a NUL: equal when both end here.
	if x.t.Size != y.t.Size {
		longer := x
		if y.t.Size > x.t.Size {
			longer = y
		}
		g.emit(asm.LoadMem(asm.R1, asm.RFP, longer.off+int16(n), asm.Byte), asm.JNE.Imm(asm.R1, 0, differ))
	}
	g.place(same)
	eq, ne := int32(1), int32(0)
	if e.Op == "!=" {
		eq, ne = 0, 1
	}
	g.emit(asm.Mov.Imm(out.reg, eq), asm.Ja.Label(done))
	g.place(differ)
	g.emit(asm.Mov.Imm(out.reg, ne))
	g.place(done)
	return intVal(e.Type(), out), nil
}

func (g *gen) ternary(e *ast.Ternary) (*val, error) {
	t := e.Type()
	// The result is written on both paths into one stack place.
	var out *val
	if isBufType(t) {
		out = g.buffer(t)
	} else {
		out = &val{t: t, off: g.stack.alloc(8)}
	}
	if e.Then != nil {
		if err := g.ternaryTo(e, func(v *val) { g.storeAt(out.off, t, v) }); err != nil {
			return nil, err
		}
	} else {
		// x ?: y is x when x is not zero.
		c, err := g.expr(e.Cond)
		if err != nil {
			return nil, err
		}
		done := g.newLabel("tdone")
		rc := g.regs.use(c.i)
		g.emit(asm.StoreMem(asm.RFP, out.off, rc, asm.DWord))
		g.regs.free(c.i) // its register still holds it for the jump
		g.regs.spillAll()
		g.emit(asm.JNE.Imm(rc, 0, done))
		b, err := g.expr(e.Else)
		if err != nil {
			return nil, err
		}
		g.storeAt(out.off, t, b)
		if !b.isBuf() {
			g.regs.free(b.i)
		}
		g.regs.spillAll()
		g.place(done)
	}
	if isBufType(t) {
		return out, nil
	}
	return g.loadInt(out.off, t), nil
}

// ternaryTo generates c ? a : b (b alone when c is false), handing the
// value of the arm that runs to store, which writes it where the two
// paths meet: a variable, a key or a record field directly.
func (g *gen) ternaryTo(e *ast.Ternary, store func(v *val)) error {
	elseL, done := g.newLabel("else"), g.newLabel("tdone")
	// Values of the enclosing expression wait on the stack, where both
	// paths leave them.
	g.regs.spillAll()
	if err := g.branch(e.Cond, elseL, false); err != nil {
		return err
	}
	arm := func(x ast.Expr) error {
		v, err := g.expr(x)
		if err != nil {
			return err
		}
		store(v)
		if !v.isBuf() {
			g.regs.free(v.i)
		}
		g.regs.spillAll()
		return nil
	}
	if err := arm(e.Then); err != nil {
		return err
	}
	g.jump(done)
	g.place(elseL)
	if err := arm(e.Else); err != nil {
		return err
	}
	g.place(done)
	return nil
}

// Jumps of the comparisons (unsigned, signed), and the comparison that
// is true exactly when another is false.
var (
	cmpJumps = map[string][2]asm.JumpOp{
		"==": {asm.JEq, asm.JEq}, "!=": {asm.JNE, asm.JNE},
		"<": {asm.JLT, asm.JSLT}, "<=": {asm.JLE, asm.JSLE},
		">": {asm.JGT, asm.JSGT}, ">=": {asm.JGE, asm.JSGE},
	}
	cmpNegated = map[string]string{"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
)

// branch jumps to label when e is true (not zero) if when is set, when
// it is false otherwise, and falls through in the other case. Conditions
// (predicates, if, while, ternaries) go through it: comparisons, !, &&,
// || and map reads become jumps without a 0 or 1 in a register. Values
// of an enclosing expression must be on the stack already (spillAll),
// as the paths meet at label.
func (g *gen) branch(e ast.Expr, label string, when bool) error {
	defer g.at(e)()
	_, isConst := g.constant(e)
	if !isConst && !isMemory(e) {
		switch x := e.(type) {
		case *ast.Unary:
			if x.Op == "!" {
				return g.branch(x.X, label, !when)
			}
		case *ast.Binary:
			switch x.Op {
			case "&&", "||":
				if when != (x.Op == "&&") {
					// false of &&, true of ||: either operand decides.
					if err := g.branch(x.X, label, when); err != nil {
						return err
					}
					return g.branch(x.Y, label, when)
				}
				skip := g.newLabel("cond")
				if err := g.branch(x.X, skip, !when); err != nil {
					return err
				}
				if err := g.branch(x.Y, label, when); err != nil {
					return err
				}
				g.place(skip)
				return nil
			}
			if pair, ok := cmpJumps[x.Op]; ok && x.X.Type().Kind != ast.KindString {
				return g.branchCmp(x, pair, label, when)
			}
		case *ast.MapExpr:
			if m := g.mapOf(x.Name); !isBufType(m.Value) && !(m.PerCPU && m.Value.IsAggregation()) {
				// A missing key reads as 0.
				key, err := g.mapKey(m, x.Keys)
				if err != nil {
					return err
				}
				g.lookup(m, key)
				if when {
					skip := g.newLabel("cond")
					g.emit(asm.JEq.Imm(asm.R0, 0, skip), asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord), asm.JNE.Imm(asm.R1, 0, label))
					g.place(skip)
				} else {
					g.emit(asm.JEq.Imm(asm.R0, 0, label), asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord), asm.JEq.Imm(asm.R1, 0, label))
				}
				return nil
			}
		}
	}
	v, err := g.expr(e)
	if err != nil {
		return err
	}
	r := g.regs.use(v.i)
	g.regs.free(v.i)
	if when {
		g.emit(asm.JNE.Imm(r, 0, label))
	} else {
		g.emit(asm.JEq.Imm(r, 0, label))
	}
	return nil
}

// branchCmp is branch for a comparison of two integers.
func (g *gen) branchCmp(e *ast.Binary, pair [2]asm.JumpOp, label string, when bool) error {
	x, err := g.expr(e.X)
	if err != nil {
		return err
	}
	y, err := g.expr(e.Y)
	if err != nil {
		return err
	}
	if !when {
		pair = cmpJumps[cmpNegated[e.Op]]
	}
	jop := pair[0]
	if !e.X.Type().IsUnsigned64() && !e.Y.Type().IsUnsigned64() {
		jop = pair[1]
	}
	rx := g.regs.use(x.i)
	if y.i.isImm && y.i.imm >= -1<<31 && y.i.imm < 1<<31 {
		g.emit(jop.Imm(rx, int32(y.i.imm), label))
	} else {
		ry := g.regs.use(y.i)
		g.emit(jop.Reg(rx, ry, label))
		g.regs.free(y.i)
	}
	g.regs.free(x.i)
	return nil
}

// divide generates x / y and x % y for a divisor that may be zero: as
// bpftrace does, a zero divisor gives 1 instead of the kernel's 0 (for /)
// or x (for %).
func (g *gen) divide(e *ast.Binary, x, y *val, signed bool) *val {
	op := aluOps[e.Op]
	if signed {
		op = map[string]asm.ALUOp{"/": asm.SDiv, "%": asm.SMod}[e.Op]
	}
	rx := g.regs.use(x.i)
	ry := g.regs.use(y.i)
	zero, done := g.newLabel("divzero"), g.newLabel("divdone")
	g.emit(
		asm.JEq.Imm(ry, 0, zero),
		op.Reg(rx, ry),
		asm.Ja.Label(done),
	)
	g.place(zero)
	g.emit(asm.Mov.Imm(rx, 1))
	g.place(done)
	g.regs.free(y.i)
	g.regs.unpin(x.i)
	return intVal(x.t, x.i)
}
