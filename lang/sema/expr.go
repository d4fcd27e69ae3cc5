package sema

import (
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/ctypes"
	"github.com/wagglebpf/waggle/lang/layout"
	"github.com/wagglebpf/waggle/lang/output"
)

// exprStmt checks an expression used as a statement: calls and ++/--.
func (c *checker) exprStmt(e ast.Expr) {
	switch e := e.(type) {
	case *ast.Call:
		if isAggregation(e.Func) {
			c.errorf(e, "%s", notAssigned(e.Func))
			return
		}
		c.expr(e)
	case *ast.Unary:
		if e.Op == "++" || e.Op == "--" {
			c.incdec(e)
			return
		}
		c.expr(e)
	default:
		c.expr(e)
	}
}

// incdec checks ++ and -- on a variable or map.
func (c *checker) incdec(e *ast.Unary) *ast.Type {
	switch x := e.X.(type) {
	case *ast.VarExpr:
		t := c.lookupVar(x.Name)
		if t == nil {
			c.errorf(x, "undefined variable %s", x.Name)
			return nil
		}
		if t == errType {
			return nil
		}
		if !isInt(t) {
			c.errorf(e, "%s needs an integer, not %s", e.Op, t)
			return nil
		}
		x.SetType(t)
	case *ast.MapExpr:
		key := c.mapKey(x)
		c.defineMap(x, key, ast.Int64, e)
	default:
		c.errorf(e, "%s applies to variables and maps", e.Op)
		return nil
	}
	e.SetType(ast.Int64)
	return ast.Int64
}

func (c *checker) set(e ast.Expr, t *ast.Type) *ast.Type {
	if t != nil {
		e.SetType(t)
	}
	return t
}

func (c *checker) strType() *ast.Type {
	return &ast.Type{Kind: ast.KindString, Size: c.info.Config.MaxStrlen}
}

// expr checks an expression and returns its type (nil after an error).
func (c *checker) expr(e ast.Expr) *ast.Type {
	switch e := e.(type) {
	case *ast.IntLit:
		if e.Value > 1<<63-1 {
			return c.set(e, ast.Uint64)
		}
		return c.set(e, ast.Int64)
	case *ast.StrLit:
		return c.set(e, &ast.Type{Kind: ast.KindString, Size: len(e.Value) + 1})
	case *ast.BoolLit:
		return c.set(e, ast.Bool)
	case *ast.VarExpr:
		t := c.lookupVar(e.Name)
		if t == nil {
			c.errorf(e, "undefined variable %s", e.Name)
			return nil
		}
		if t == errType {
			return nil
		}
		return c.set(e, t)
	case *ast.MapExpr:
		key := c.mapKey(e)
		mi := c.info.Maps[e.Name]
		if mi == nil || mi.Value == nil {
			c.errorf(e, "undefined map %s", e.Name)
			return nil
		}
		if (mi.Key == nil) != (key == nil) || (key != nil && !assignable(mi.Key, key)) {
			c.errorf(e, "%s is used with different keys: %s here, %s at %s", e.Name, keyName(key), keyName(mi.Key), mi.First.Pos().Start)
			return nil
		}
		if mi.Value.IsAggregation() {
			// Reading an aggregation gives its current value on this CPU.
			switch mi.Value.Kind {
			case ast.KindCount:
				return c.set(e, ast.Uint64)
			case ast.KindSum, ast.KindMin, ast.KindMax:
				if mi.Value.Signed {
					return c.set(e, ast.Int64)
				}
				return c.set(e, ast.Uint64)
			}
			c.errorf(e, "%s holds %s, which cannot be read in a probe", e.Name, mi.Value)
			return nil
		}
		return c.set(e, mi.Value)
	case *ast.PosParam:
		if e.Count {
			return c.set(e, ast.Int64)
		}
		if e.Index < 1 {
			c.errorf(e, "positional parameters start at $1")
			return nil
		}
		if e.Index <= len(c.info.Params) {
			if _, err := strconv.ParseInt(c.info.Params[e.Index-1], 0, 64); err != nil {
				return c.set(e, &ast.Type{Kind: ast.KindString, Size: len(c.info.Params[e.Index-1]) + 1})
			}
		}
		return c.set(e, ast.Int64)
	case *ast.Ident:
		return c.set(e, c.builtin(e))
	case *ast.Call:
		return c.set(e, c.call(e))
	case *ast.Unary:
		return c.set(e, c.unary(e))
	case *ast.Binary:
		return c.set(e, c.binary(e))
	case *ast.Ternary:
		ct := c.expr(e.Cond)
		if ct != nil && !isScalar(ct) {
			c.errorf(e.Cond, "a condition must be an integer or boolean, not %s", ct)
		}
		var tt *ast.Type
		if e.Then != nil {
			tt = c.expr(e.Then)
		} else {
			tt = ct
		}
		et := c.expr(e.Else)
		if tt == nil || et == nil {
			return nil
		}
		if !assignable(tt, et) && !assignable(et, tt) {
			c.errorf(e, "the branches of ?: have different types: %s and %s", tt, et)
			return nil
		}
		return c.set(e, widen(tt, et))
	case *ast.FieldExpr:
		return c.set(e, c.field(e))
	case *ast.TupleExpr:
		t := &ast.Type{Kind: ast.KindTuple}
		for _, el := range e.Elems {
			et := c.expr(el)
			if et == nil {
				return nil
			}
			if et.Kind == ast.KindNone || et.IsAggregation() {
				c.errorf(el, "%s cannot be in a tuple", et)
				return nil
			}
			t.Elems = append(t.Elems, et.Widened())
		}
		return c.set(e, t)
	case *ast.TupleIndex:
		t := c.expr(e.X)
		if t == nil {
			return nil
		}
		if t.Kind != ast.KindTuple {
			c.errorf(e, ".%d needs a tuple, not %s", e.Index, t)
			return nil
		}
		if e.Index < 0 || e.Index >= len(t.Elems) {
			c.errorf(e, "tuple index %d is out of range (the tuple has %d elements)", e.Index, len(t.Elems))
			return nil
		}
		return c.set(e, t.Elems[e.Index])
	case *ast.CastExpr:
		if t, ok := c.castToArray(e); ok {
			return c.set(e, t)
		}
		xt := c.expr(e.X)
		to := c.typeExpr(e.To)
		if xt == nil || to == nil {
			return nil
		}
		if to.Kind == ast.KindPtr {
			if !isScalar(xt) {
				c.errorf(e, "cannot cast %s to %s", xt, e.To)
				return nil
			}
			if xt.Kind == ast.KindPtr && xt.User && !to.User {
				// A cast keeps the address space: what a user pointer
				// points to stays in user memory.
				u := *to
				u.User = true
				to = &u
			}
			return c.set(e, to)
		}
		if !isScalar(xt) || (to.Kind != ast.KindInt && to.Kind != ast.KindBool) {
			c.errorf(e, "cannot cast %s to %s", xt, e.To)
			return nil
		}
		cast := *to
		cast.Cast = true
		return c.set(e, &cast)
	case *ast.SizeofExpr:
		var of *ast.Type
		if e.OfExpr != nil {
			of = c.expr(e.OfExpr)
		} else {
			of = c.typeExpr(e.OfType)
		}
		if of == nil {
			return nil
		}
		size := of.Size
		if of.Kind == ast.KindTuple {
			size = layout.Size(of)
		}
		c.info.ConstExprs[e] = int64(size)
		return c.set(e, ast.Uint64)
	case *ast.IndexExpr:
		return c.set(e, c.index(e))
	case *ast.BlockExpr:
		c.push()
		for _, s := range e.Stmts {
			c.stmt(s)
		}
		t := ast.None
		if e.Value != nil {
			t = c.expr(e.Value)
		}
		c.pop()
		return c.set(e, t)
	case *ast.OffsetofExpr:
		return c.set(e, c.offsetof(e))
	}
	c.errorf(e, "unsupported expression")
	return nil
}

// TypeOf resolves a written type the way the checker does, with the
// script's C definitions.
func (in *Info) TypeOf(t *ast.TypeExpr) (*ast.Type, error) {
	c := &checker{info: in}
	if in.Types == nil {
		in.Types = ctypes.New(in.kernelBTFSource())
	}
	ty := c.typeExpr(t)
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	return ty, nil
}

// typeExpr resolves a written type: the language's integers and strings,
// and C types (struct sock *, pid_t, char[16]) from the script's
// definitions and the kernel's BTF.
func (c *checker) typeExpr(t *ast.TypeExpr) *ast.Type {
	name := strings.Join(strings.Fields(t.Name), " ")
	ints := map[string]*ast.Type{
		"uint8": ast.Uint8, "uint16": ast.Uint16, "uint32": ast.Uint32, "uint64": ast.Uint64,
		"int8": ast.Int8, "int16": ast.Int16, "int32": ast.Int32, "int64": ast.Int64,
		"u8": ast.Uint8, "u16": ast.Uint16, "u32": ast.Uint32, "u64": ast.Uint64,
		"s8": ast.Int8, "s16": ast.Int16, "s32": ast.Int32, "s64": ast.Int64,
		"char": ast.Int8, "unsigned char": ast.Uint8, "short": ast.Int16, "unsigned short": ast.Uint16,
		"int": ast.Int32, "unsigned int": ast.Uint32, "unsigned": ast.Uint32,
		"long": ast.Int64, "unsigned long": ast.Uint64, "long long": ast.Int64, "unsigned long long": ast.Uint64,
		"bool": ast.Bool,
	}
	if it, ok := ints[name]; ok && t.Ptr == 0 {
		if t.Array == ast.ArrayUnsized {
			c.errorf(t, "array types without a length are not supported yet")
			return nil
		}
		if t.Array > 0 {
			if it.Size == 1 {
				return &ast.Type{Kind: ast.KindString, Size: t.Array}
			}
			c.errorf(t, "arrays of %s are not supported yet", name)
			return nil
		}
		return it
	}
	if name == "string" && t.Ptr == 0 {
		return c.strType()
	}
	if t.Array == ast.ArrayUnsized {
		c.errorf(t, "array types without a length are not supported yet")
		return nil
	}
	if it, ok := ints[name]; ok {
		// A pointer to one of the language's integers: the C integer of
		// that width.
		name = cNameOf(it)
	}
	return c.cType(t, name)
}

// cNameOf is the C integer type of a language integer.
func cNameOf(t *ast.Type) string {
	names := map[int]string{1: "char", 2: "short", 4: "int", 8: "long"}
	n := names[t.Size]
	if t.Kind == ast.KindBool {
		return "bool"
	}
	if !t.Signed {
		return "unsigned " + n
	}
	return n
}

// x86_64 and arm64 pt_regs offsets of the argument and return registers.
var argBuiltins = map[string]int{"arg0": 0, "arg1": 1, "arg2": 2, "arg3": 3, "arg4": 4, "arg5": 5}

func (c *checker) builtin(e *ast.Ident) *ast.Type {
	if t, ok := c.processBuiltin(e); ok {
		return t
	}
	k := c.inst.Kind
	switch e.Name {
	case "kstack", "ustack":
		return StackType(e.Name == "ustack", "bpftrace", MaxStackDepth)
	case "pid", "tid", "uid", "gid", "cpu", "nsecs", "elapsed", "cgroup", "rand", "ncpus", "cpid", "jiffies", "numaid":
		return ast.Uint64
	case "comm":
		return &ast.Type{Kind: ast.KindString, Size: 16}
	case "probe":
		return &ast.Type{Kind: ast.KindString, Size: len(c.inst.Name) + 1}
	case "curtask":
		return c.curtaskType(e)
	case "func":
		if k == ProbeUprobe || k == ProbeUretprobe {
			return &ast.Type{Kind: ast.KindString, Size: len(c.inst.Symbol) + 1}
		}
		if k == ProbeKprobe || k == ProbeKretprobe || k == ProbeFentry || k == ProbeFexit {
			return &ast.Type{Kind: ast.KindString, Size: len(c.inst.Func) + 1}
		}
		c.errorf(e, "func is only available in kprobe, uprobe, fentry and fexit probes")
		return nil
	case "retval":
		if k == ProbeFexit && c.inst.Proto != nil {
			if c.inst.Proto.Return == nil {
				c.errorf(e, "%s returns nothing", c.inst.Func)
				return nil
			}
			if _, void := c.inst.Proto.Return.(*btf.Void); void {
				c.errorf(e, "%s returns nothing", c.inst.Func)
				return nil
			}
			t, err := c.info.Types.LangType(c.inst.Proto.Return, false, c.info.Config.MaxStrlen)
			if err != nil {
				c.errorf(e, "retval: %v", err)
				return nil
			}
			return t
		}
		if k != ProbeKretprobe && k != ProbeUretprobe {
			c.errorf(e, "retval is only available in kretprobe, uretprobe and fexit probes")
			return nil
		}
		return ast.Int64
	case "args":
		if k == ProbeFentry || k == ProbeFexit {
			return &ast.Type{Kind: ast.KindRecord, Name: "args"}
		}
		if k == ProbeRawTracepoint {
			if c.inst.Proto == nil {
				proto, err := rawTracepointProto(c.info.kernelBTFSource(), c.inst.Func)
				if err != nil {
					c.errorf(e, "%v", err)
					return nil
				}
				c.inst.Proto = proto
			}
			return &ast.Type{Kind: ast.KindRecord, Name: "args"}
		}
		if k != ProbeTracepoint {
			c.errorf(e, "args is only available in tracepoint, rawtracepoint, fentry and fexit probes")
			return nil
		}
		return &ast.Type{Kind: ast.KindRecord, Name: "args"}
	}
	if n, ok := argBuiltins[e.Name]; ok {
		if k != ProbeKprobe && k != ProbeUprobe && k != ProbeRawTracepoint {
			c.errorf(e, "%s is only available in kprobe, uprobe and rawtracepoint probes", e.Name)
			return nil
		}
		_ = n
		return ast.Uint64
	}
	if strings.HasPrefix(e.Name, "arg") {
		if _, err := strconv.Atoi(e.Name[3:]); err == nil {
			c.errorf(e, "there is no %s: only arg0 to arg%d are available", e.Name, argRegisters-1)
			return nil
		}
	}
	if t, ok := c.constIdent(e); ok {
		return t
	}
	c.errorf(e, "unknown identifier %q", e.Name)
	return nil
}

// field checks x.f and x->f: the fields of args, and of C structs and
// unions.
func (c *checker) field(e *ast.FieldExpr) *ast.Type {
	id, ok := e.X.(*ast.Ident)
	if !ok || id.Name != "args" {
		xt := c.expr(e.X)
		if xt == nil {
			return nil
		}
		return c.cField(e, xt)
	}
	if c.builtin(id) == nil {
		return nil
	}
	id.SetType(&ast.Type{Kind: ast.KindRecord, Name: "args"})
	if c.inst.Kind == ProbeFentry || c.inst.Kind == ProbeFexit || c.inst.Kind == ProbeRawTracepoint {
		_, bt, err := c.inst.FentryArg(e.Field)
		if err != nil {
			c.errorf(e, "%v", err)
			return nil
		}
		t, err := c.info.Types.LangType(bt, false, c.info.Config.MaxStrlen)
		if err != nil {
			c.errorf(e, "args.%s: %v", e.Field, err)
			return nil
		}
		if t.Kind == ast.KindRecord || t.Kind == ast.KindArray || t.Kind == ast.KindString {
			c.errorf(e, "args.%s is a %s passed by value, which is not supported yet", e.Field, t)
			return nil
		}
		return t
	}
	f, err := c.tracepointField(e.Field)
	if err != nil {
		c.errorf(e, "%v", err)
		return nil
	}
	user := c.inst.Group == "syscalls"
	if t := c.tracepointPointer(f, user); t != nil {
		return t
	}
	return fieldType(f, user)
}

// fieldType is the language type of a tracepoint field.
func fieldType(f *attach.TracepointField, user bool) *ast.Type {
	switch {
	case f.DataLoc:
		return &ast.Type{Kind: ast.KindPtr, Size: 8, Elem: ast.Int8}
	case f.ArrayLen > 0 && f.ElemSize == 1 && strings.Contains(f.CType, "char"):
		return &ast.Type{Kind: ast.KindString, Size: f.ArrayLen}
	case f.ArrayLen > 0:
		return &ast.Type{Kind: ast.KindArray, Size: f.Size, Len: f.ArrayLen, Elem: &ast.Type{Kind: ast.KindInt, Size: f.ElemSize, Signed: f.Signed}}
	case strings.Contains(f.CType, "*"):
		return &ast.Type{Kind: ast.KindPtr, Size: 8, Elem: ast.Int8, User: user}
	case f.Size == 1 || f.Size == 2 || f.Size == 4 || f.Size == 8:
		return &ast.Type{Kind: ast.KindInt, Size: f.Size, Signed: f.Signed}
	}
	return &ast.Type{Kind: ast.KindArray, Size: f.Size, Len: f.Size, Elem: ast.Uint8}
}

func (c *checker) unary(e *ast.Unary) *ast.Type {
	if e.Op == "++" || e.Op == "--" {
		return c.incdec(e)
	}
	t := c.expr(e.X)
	if t == nil {
		return nil
	}
	switch e.Op {
	case "!":
		if !isScalar(t) {
			c.errorf(e, "! needs an integer or boolean, not %s", t)
			return nil
		}
		return ast.Bool
	case "-", "~":
		if !isInt(t) {
			c.errorf(e, "%s needs an integer, not %s", e.Op, t)
			return nil
		}
		return ast.Int64
	case "*":
		return c.deref(e, t)
	case "&":
		return c.addressOf(e, t)
	}
	c.errorf(e, "unknown operator %s", e.Op)
	return nil
}

func (c *checker) binary(e *ast.Binary) *ast.Type {
	xt, yt := c.expr(e.X), c.expr(e.Y)
	if xt == nil || yt == nil {
		return nil
	}
	switch e.Op {
	case "&&", "||":
		if !isScalar(xt) || !isScalar(yt) {
			c.errorf(e, "%s needs integers or booleans, not %s and %s", e.Op, xt, yt)
			return nil
		}
		return ast.Bool
	case "==", "!=", "<", "<=", ">", ">=":
		if xt.Kind == ast.KindString && yt.Kind == ast.KindString {
			if e.Op != "==" && e.Op != "!=" {
				c.errorf(e, "strings can only be compared with == and !=")
				return nil
			}
			return ast.Bool
		}
		if !isScalar(xt) || !isScalar(yt) {
			c.errorf(e, "cannot compare %s with %s", xt, yt)
			return nil
		}
		return ast.Bool
	case "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>":
		// Pointer arithmetic moves by the size of what is pointed to.
		if xt.Kind == ast.KindPtr && isInt(yt) && (e.Op == "+" || e.Op == "-") {
			return xt
		}
		if yt.Kind == ast.KindPtr && isInt(xt) && e.Op == "+" {
			return yt
		}
		if !isScalar(xt) || !isScalar(yt) || xt.Kind == ast.KindBool && yt.Kind == ast.KindBool {
			if !(isInt(xt) && isInt(yt)) {
				c.errorf(e, "%s needs integers, not %s and %s", e.Op, xt, yt)
				return nil
			}
		}
		// C's usual conversions: an unsigned 64-bit operand makes the
		// operation unsigned.
		if xt.IsUnsigned64() || yt.IsUnsigned64() {
			return ast.Uint64
		}
		return ast.Int64
	}
	c.errorf(e, "unknown operator %s", e.Op)
	return nil
}

func (c *checker) call(e *ast.Call) *ast.Type {
	nargs := func(lo, hi int) bool {
		if len(e.Args) < lo || len(e.Args) > hi {
			switch {
			case lo == hi:
				c.errorf(e, "%s() takes %d argument%s", e.Func, lo, plural(lo))
			case lo+1 == hi:
				c.errorf(e, "%s() takes %d or %d arguments", e.Func, lo, hi)
			default:
				c.errorf(e, "%s() takes %d to %d arguments", e.Func, lo, hi)
			}
			return false
		}
		return true
	}
	if t, ok := c.processCall(e); ok {
		return t
	}
	switch e.Func {
	case "printf":
		if len(e.Args) == 0 {
			c.errorf(e, "printf() needs a format string")
			return nil
		}
		fmtLit, ok := e.Args[0].(*ast.StrLit)
		if !ok {
			c.errorf(e.Args[0], "printf()'s format must be a string literal")
			return nil
		}
		c.expr(fmtLit)
		var types []*ast.Type
		for _, a := range e.Args[1:] {
			t := c.expr(a)
			if t == nil {
				return nil
			}
			if t.Kind == ast.KindNone || t.IsAggregation() || t.Kind == ast.KindRecord || t.Kind == ast.KindArray {
				c.errorf(a, "%s cannot be printed with printf", t)
				return nil
			}
			types = append(types, t)
		}
		if err := output.CheckFormat(fmtLit.Value, types); err != nil {
			c.errorf(e, "%v", err)
			return nil
		}
		return ast.None
	case "exit":
		if !nargs(0, 1) {
			return nil
		}
		if len(e.Args) == 1 {
			if t := c.expr(e.Args[0]); t != nil && !isInt(t) {
				c.errorf(e.Args[0], "exit() takes an integer exit code")
				return nil
			}
		}
		return ast.None
	case "time":
		if !nargs(0, 1) {
			return nil
		}
		if len(e.Args) == 1 {
			if _, ok := e.Args[0].(*ast.StrLit); !ok {
				c.errorf(e.Args[0], "time()'s format must be a string literal")
				return nil
			}
			c.expr(e.Args[0])
		}
		return ast.None
	case "print":
		if !nargs(1, 3) {
			return nil
		}
		if m, ok := e.Args[0].(*ast.MapExpr); ok && len(m.Keys) == 0 {
			if mi := c.info.Maps[m.Name]; mi == nil || mi.Value == nil {
				c.errorf(m, "undefined map %s", m.Name)
				return nil
			}
			// print(@m, top, div): how many entries, and a divisor.
			for _, a := range e.Args[1:] {
				if t := c.expr(a); t != nil && !isInt(t) {
					c.errorf(a, "print()'s top and divisor must be integers, not %s", t)
					return nil
				}
			}
			return ast.None
		}
		if len(e.Args) != 1 {
			c.errorf(e, "print() of a value takes one argument")
			return nil
		}
		t := c.expr(e.Args[0])
		if t == nil {
			return nil
		}
		if t.Kind == ast.KindNone || t.IsAggregation() || t.Kind == ast.KindRecord && !c.recordValue(e.Args[0], t) {
			c.errorf(e.Args[0], "%s cannot be printed", t)
			return nil
		}
		return ast.None
	case "clear", "zero":
		if !nargs(1, 1) {
			return nil
		}
		m, ok := e.Args[0].(*ast.MapExpr)
		if !ok || len(m.Keys) > 0 {
			c.errorf(e.Args[0], "%s() takes a map, like %s(@x)", e.Func, e.Func)
			return nil
		}
		if mi := c.info.Maps[m.Name]; mi == nil || mi.Value == nil {
			c.errorf(m, "undefined map %s", m.Name)
			return nil
		}
		return ast.None
	case "delete":
		if !nargs(1, 2) {
			return nil
		}
		m, ok := e.Args[0].(*ast.MapExpr)
		if !ok {
			c.errorf(e.Args[0], "delete() takes a map element, like delete(@x[k]) or delete(@x, k)")
			return nil
		}
		c.mapElement(m, e.Args[1:])
		return ast.None
	case "has_key":
		if !nargs(2, 2) {
			return nil
		}
		m, ok := e.Args[0].(*ast.MapExpr)
		if !ok || len(m.Keys) > 0 {
			c.errorf(e.Args[0], "has_key() takes a map and a key, like has_key(@x, k)")
			return nil
		}
		c.mapElement(m, e.Args[1:])
		return ast.Bool
	case "len":
		if !nargs(1, 1) {
			return nil
		}
		m, ok := e.Args[0].(*ast.MapExpr)
		if !ok || len(m.Keys) > 0 {
			c.errorf(e.Args[0], "len() takes a map, like len(@x)")
			return nil
		}
		if mi := c.info.Maps[m.Name]; mi == nil || mi.Value == nil {
			c.errorf(m, "undefined map %s", m.Name)
			return nil
		}
		return ast.Int64
	case "str":
		if !nargs(1, 2) {
			return nil
		}
		t := c.expr(e.Args[0])
		if t == nil {
			return nil
		}
		size := c.info.Config.MaxStrlen
		if len(e.Args) == 2 {
			if nt := c.expr(e.Args[1]); nt == nil || !isInt(nt) {
				if nt != nil {
					c.errorf(e.Args[1], "str()'s length must be an integer, not %s", nt)
				}
				return nil
			}
			if v, ok := constInt(e.Args[1]); ok && v > 0 && v < int64(size-1) {
				size = int(v) + 1
			}
		}
		switch t.Kind {
		case ast.KindString:
			return t
		case ast.KindPtr, ast.KindInt:
			return &ast.Type{Kind: ast.KindString, Size: size}
		}
		c.errorf(e.Args[0], "str() needs a pointer or an address, not %s", t)
		return nil
	case "strlen":
		if !nargs(1, 1) {
			return nil
		}
		if t := c.expr(e.Args[0]); t != nil && t.Kind != ast.KindString {
			c.errorf(e.Args[0], "strlen() expects a string argument, not %s", t)
			return nil
		}
		return ast.Uint64
	case "strncmp":
		if !nargs(3, 3) {
			return nil
		}
		for _, a := range e.Args[:2] {
			if t := c.expr(a); t != nil && t.Kind != ast.KindString {
				c.errorf(a, "strncmp() expects a string argument, not %s", t)
				return nil
			}
		}
		c.expr(e.Args[2])
		if v, ok := constInt(e.Args[2]); !ok || v < 0 || v > 1<<16 {
			c.errorf(e.Args[2], "strncmp() expects an integer literal for its length")
			return nil
		}
		return ast.Uint64
	case "strcontains":
		if !nargs(2, 2) {
			return nil
		}
		var sizes [2]int
		for i, a := range e.Args {
			t := c.expr(a)
			if t == nil {
				return nil
			}
			if t.Kind != ast.KindString {
				c.errorf(a, "strcontains() expects a string argument, not %s", t)
				return nil
			}
			sizes[i] = t.Size
		}
		if sizes[0]*sizes[1] > maxStrcontains {
			c.errorf(e, "strcontains() of strings this long (%d and %d bytes) would need too many instructions; shorten them, e.g. str(p, 32)", sizes[0], sizes[1])
			return nil
		}
		return ast.Bool
	case "bswap":
		if !nargs(1, 1) {
			return nil
		}
		t := c.expr(e.Args[0])
		if t == nil {
			return nil
		}
		if t.Kind != ast.KindInt {
			c.errorf(e.Args[0], "bswap() only supports integer arguments, not %s", t)
			return nil
		}
		return t
	case "kstack", "ustack":
		return c.stackCall(e)
	case "ksym", "usym":
		if !nargs(1, 1) {
			return nil
		}
		t := c.expr(e.Args[0])
		if t == nil {
			return nil
		}
		if t.Kind != ast.KindInt && t.Kind != ast.KindPtr {
			c.errorf(e.Args[0], "%s() expects an integer or a pointer, not %s", e.Func, t)
			return nil
		}
		if e.Func == "ksym" {
			return &ast.Type{Kind: ast.KindKsym, Size: 8}
		}
		// usym carries the pid with the address: the process's mappings
		// name it.
		return &ast.Type{Kind: ast.KindUsym, Size: 16}
	case "kaddr", "uaddr":
		if !nargs(1, 1) {
			return nil
		}
		c.expr(e.Args[0])
		if _, ok := e.Args[0].(*ast.StrLit); !ok {
			c.errorf(e.Args[0], "%s() expects a string literal", e.Func)
			return nil
		}
		return ast.Uint64
	case "strftime", "buf", "ntop", "pton", "macaddr", "strerror", "syscall_name", "kptr", "uptr", "join":
		return c.bytesCall(e)
	case "path":
		return c.pathCall(e)
	case "count", "sum", "avg", "min", "max", "stats", "hist", "lhist":
		c.errorf(e, "%s", notAssigned(e.Func))
		return nil
	}
	c.errorf(e, "unknown function %s()", e.Func)
	return nil
}

// mapElement checks a map element given as @m[k] or as (@m, k).
func (c *checker) mapElement(m *ast.MapExpr, keyArgs []ast.Expr) {
	mi := c.info.Maps[m.Name]
	if mi == nil || mi.Value == nil {
		c.errorf(m, "undefined map %s", m.Name)
		return
	}
	keys := m.Keys
	if len(keys) == 0 {
		keys = keyArgs
	} else if len(keyArgs) > 0 {
		c.errorf(m, "give the key once: either %s[k] or (%s, k)", m.Name, m.Name)
		return
	}
	probe := &ast.MapExpr{Span: m.Span, Name: m.Name, Keys: keys}
	key := c.mapKey(probe)
	if (mi.Key == nil) != (key == nil) || (key != nil && !assignable(mi.Key, key)) {
		c.errorf(m, "%s is used with different keys: %s here, %s at %s", m.Name, keyName(key), keyName(mi.Key), mi.First.Pos().Start)
	}
}

// notAssigned is the message for an aggregating call used as a value.
func notAssigned(fn string) string {
	example := fn + "(...)"
	if fn == "count" {
		example = "count()"
	}
	return fn + "() must be assigned to a map: @x = " + example
}

// maxStrcontains bounds the product of the two string sizes of
// strcontains(), which is compared byte by byte without a loop.
const maxStrcontains = 64 * 64

// MaxStackDepth is the deepest stack kstack and ustack capture: the
// kernel's default perf_event_max_stack, and bpftrace's limit.
const MaxStackDepth = 127

// StackType is the type of kstack (user false) or ustack: the stack id
// and the pid, printed in mode (Name) with at most depth (Len) frames.
func StackType(user bool, mode string, depth int) *ast.Type {
	return &ast.Type{Kind: ast.KindStack, Size: 16, User: user, Name: mode, Len: depth}
}

// stackCall checks kstack(N), kstack(MODE) and kstack(MODE, N).
func (c *checker) stackCall(e *ast.Call) *ast.Type {
	if len(e.Args) < 1 || len(e.Args) > 2 {
		c.errorf(e, "%s() takes 1 or 2 arguments", e.Func)
		return nil
	}
	mode, depth := "bpftrace", MaxStackDepth
	args := e.Args
	if id, ok := args[0].(*ast.Ident); ok {
		switch id.Name {
		case "bpftrace", "perf", "raw":
			mode = id.Name
		default:
			c.errorf(id, "%s: invalid stack mode %q: valid modes are bpftrace, perf and raw", e.Func, id.Name)
			return nil
		}
		args = args[1:]
	} else if len(args) == 2 {
		c.errorf(args[0], "%s() expects a stack mode (bpftrace, perf or raw) as its first argument", e.Func)
		return nil
	}
	if len(args) == 1 {
		c.expr(args[0])
		v, ok := constInt(args[0])
		if !ok {
			c.errorf(args[0], "%s() expects an integer literal for the number of frames", e.Func)
			return nil
		}
		if v < 1 || v > MaxStackDepth {
			c.errorf(args[0], "%s(): the number of frames must be between 1 and %d, not %d", e.Func, MaxStackDepth, v)
			return nil
		}
		depth = int(v)
	}
	return StackType(e.Func == "ustack", mode, depth)
}
