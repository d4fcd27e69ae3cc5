package sema

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/ctypes"
)

// C types in scripts: casts to struct pointers, field access through any
// depth of pointers, indexing, dereference, sizeof and offsetof, enum
// constants and #defines. The types come from the script's own C
// definitions first, then from the kernel's BTF (lang/ctypes).

// kernelBTF is the type information of the kernel the program is for.
func (in *Info) kernelBTFSource() func() (*btf.Spec, error) {
	if in.kernelBTF == nil {
		return btf.LoadKernelSpec
	}
	return in.kernelBTF
}

// cdefs reads the script's C definitions.
func (c *checker) cdefs(prog *ast.Program) {
	c.info.Types = ctypes.New(c.info.kernelBTFSource())
	c.info.Consts = map[*ast.Ident]ctypes.Const{}
	c.info.ConstExprs = map[ast.Expr]int64{}
	for _, inc := range prog.Includes {
		c.info.Types.Include(inc)
	}
	for _, d := range prog.CDefs {
		if err := c.info.Types.Add(d.Text); err != nil {
			c.errorf(d, "in this C definition: %v", err)
		}
	}
}

// userMemory reports whether pointers in this probe point into the traced
// process (uprobes and USDT) rather than the kernel.
func (c *checker) userMemory() bool {
	switch c.inst.Kind {
	case ProbeUprobe, ProbeUretprobe, ProbeUsdt:
		return true
	}
	return false
}

// cType resolves a written C type: "struct sock *", "pid_t", "char *",
// "union bpf_attr", "void *".
func (c *checker) cType(t *ast.TypeExpr, name string) *ast.Type {
	bt, err := c.info.Types.Lookup(name)
	if err != nil {
		c.errorf(t, "%v", err)
		return nil
	}
	for range t.Ptr {
		bt = &btf.Pointer{Target: bt}
	}
	if t.Array > 0 {
		bt = &btf.Array{Index: &btf.Int{Size: 4}, Type: bt, Nelems: uint32(t.Array)}
	}
	lt, err := c.info.Types.LangType(bt, c.inst != nil && c.userMemory(), c.info.Config.MaxStrlen)
	if err != nil {
		c.errorf(t, "%v", err)
		return nil
	}
	return lt
}

// record is the C struct or union behind a record type, with a message
// when it has none (a tracepoint's args, or a type without BTF).
func (c *checker) record(at ast.Node, t *ast.Type) btf.Type {
	if t.BTF == nil {
		c.errorf(at, "%s has no C type information", t)
		return nil
	}
	return t.BTF
}

// cField checks x.f and x->f on C records and pointers to them.
func (c *checker) cField(e *ast.FieldExpr, xt *ast.Type) *ast.Type {
	rt := xt
	if e.Arrow {
		if xt.Kind != ast.KindPtr || xt.Elem.Kind != ast.KindRecord {
			if xt.Kind == ast.KindRecord {
				c.errorf(e, "%s is a struct, not a pointer: use . instead of ->", xt)
			} else {
				c.errorf(e, "-> needs a pointer to a struct or union, not %s", xt)
			}
			return nil
		}
		rt = xt.Elem
	} else if xt.Kind != ast.KindRecord {
		if xt.Kind == ast.KindPtr && xt.Elem.Kind == ast.KindRecord {
			// bpftrace reads through a pointer with '.' as well.
			rt = xt.Elem
		} else {
			c.errorf(e, "cannot read field %s of %s, which is not a struct", e.Field, xt)
			return nil
		}
	}
	rec := c.record(e, rt)
	if rec == nil {
		return nil
	}
	f, err := c.info.Types.FieldOf(rec, e.Field)
	if err != nil {
		c.errorf(e, "%v", err)
		return nil
	}
	user := rt.User || xt.Kind == ast.KindPtr && xt.User
	ft, err := c.info.Types.LangType(f.Type, user, c.info.Config.MaxStrlen)
	if err != nil {
		c.errorf(e, "field %s: %v", e.Field, err)
		return nil
	}
	if f.Bits > 0 && ft.Kind != ast.KindInt && ft.Kind != ast.KindBool {
		c.errorf(e, "bitfield %s of type %s is not supported", e.Field, ft)
		return nil
	}
	return inMemory(ft, user)
}

// inMemory marks a record or array read from user memory, so that what is
// read through it is read from user memory too.
func inMemory(t *ast.Type, user bool) *ast.Type {
	if user && (t.Kind == ast.KindRecord || t.Kind == ast.KindArray) && !t.User {
		u := *t
		u.User = true
		return &u
	}
	return t
}

// index checks x[i] on arrays, pointers and strings.
func (c *checker) index(e *ast.IndexExpr) *ast.Type {
	xt := c.expr(e.X)
	it := c.expr(e.Index)
	if xt == nil || it == nil {
		return nil
	}
	if !isInt(it) {
		c.errorf(e.Index, "an index must be an integer, not %s", it)
		return nil
	}
	switch xt.Kind {
	case ast.KindArray:
		n, isConst := constInt(e.Index)
		if isConst && (n < 0 || n >= int64(xt.Len)) && xt.Len > 0 {
			c.errorf(e.Index, "index %d is out of range for %s", n, xt)
			return nil
		}
		if !isConst && !Addressable(e.X) {
			c.errorf(e.Index, "an array held in a variable or map takes only a constant index")
			return nil
		}
		return inMemory(xt.Elem, xt.User)
	case ast.KindPtr:
		if xt.Elem.Kind == ast.KindNone {
			c.errorf(e, "cannot index %s: it points to nothing of known size", xt)
			return nil
		}
		return inMemory(xt.Elem, xt.User)
	case ast.KindString:
		n, isConst := constInt(e.Index)
		if isConst && (n < 0 || n >= int64(xt.Size)) {
			c.errorf(e.Index, "index %d is out of range for %s", n, xt)
			return nil
		}
		if !isConst && !Addressable(e.X) {
			c.errorf(e.Index, "a string held in a variable or map takes only a constant index")
			return nil
		}
		return ast.Int8
	}
	c.errorf(e, "cannot index %s, which is not an array or a pointer", xt)
	return nil
}

// deref checks *p. bpftrace reads an integer through a pointer to it, and
// reads 8 bytes through a plain integer used as an address.
func (c *checker) deref(e *ast.Unary, t *ast.Type) *ast.Type {
	switch {
	case t.Kind == ast.KindPtr && t.Elem.Kind == ast.KindNone:
		c.errorf(e, "cannot dereference %s", t)
		return nil
	case t.Kind == ast.KindPtr:
		return inMemory(t.Elem, t.User)
	case t.Kind == ast.KindInt:
		return ast.Int64
	}
	c.errorf(e, "cannot dereference %s, which is not a pointer", t)
	return nil
}

// addressOf checks &x: the address of something in memory.
func (c *checker) addressOf(e *ast.Unary, t *ast.Type) *ast.Type {
	if !Addressable(e.X) {
		c.errorf(e, "& needs something in memory (a field, an element, or *p)")
		return nil
	}
	return &ast.Type{Kind: ast.KindPtr, Size: 8, Elem: t, User: t.User || pointsToUser(e.X)}
}

// Addressable reports whether e is a place in traced memory that the
// code generator can compute the address of.
func Addressable(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.FieldExpr:
		if id, ok := e.X.(*ast.Ident); ok && id.Name == "args" {
			return false
		}
		return e.Arrow || Addressable(e.X) || e.X.Type() != nil && e.X.Type().Kind == ast.KindPtr
	case *ast.IndexExpr:
		t := e.X.Type()
		return t != nil && (t.Kind == ast.KindPtr || Addressable(e.X))
	case *ast.Unary:
		return e.Op == "*"
	}
	return false
}

func pointsToUser(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.FieldExpr:
		if t := e.X.Type(); t != nil && t.User {
			return true
		}
		return pointsToUser(e.X)
	case *ast.IndexExpr:
		return e.X.Type() != nil && e.X.Type().User
	case *ast.Unary:
		return e.X.Type() != nil && e.X.Type().User
	}
	return false
}

// offsetof checks offsetof(struct T, a.b) and offsetof(expr, a.b).
func (c *checker) offsetof(e *ast.OffsetofExpr) *ast.Type {
	var rt *ast.Type
	if e.Of != nil {
		rt = c.typeExpr(e.Of)
	} else {
		rt = c.expr(e.OfExpr)
	}
	if rt == nil {
		return nil
	}
	off, err := c.FieldOffset(rt, e.Field)
	if err != nil {
		c.errorf(e, "%v", err)
		return nil
	}
	c.info.ConstExprs[e] = int64(off)
	return ast.Uint64
}

// FieldOffset is the byte offset of a path of fields in a record type.
func (c *checker) FieldOffset(rt *ast.Type, path []string) (int, error) {
	return FieldPathOffset(c.info.Types, rt, path)
}

// FieldPathOffset is the byte offset of a.b.c in a record type.
func FieldPathOffset(defs *ctypes.Defs, rt *ast.Type, path []string) (int, error) {
	if rt.Kind != ast.KindRecord || rt.BTF == nil {
		return 0, fmt.Errorf("offsetof needs a struct or union, not %s", rt)
	}
	var bt btf.Type = rt.BTF
	off := 0
	for _, name := range path {
		f, err := defs.FieldOf(bt, name)
		if err != nil {
			return 0, err
		}
		if f.Bits > 0 {
			return 0, fmt.Errorf("%s is a bitfield, which has no byte offset", name)
		}
		off += f.ByteOffset()
		bt = f.Type
	}
	return off, nil
}

// constIdent resolves a name that is no builtin: a #define or an enum
// constant of the script or of the kernel.
func (c *checker) constIdent(e *ast.Ident) (*ast.Type, bool) {
	if c.info.Types == nil {
		return nil, false
	}
	v, ok, err := c.info.Types.Const(e.Name)
	if !ok {
		return nil, false
	}
	if err != nil {
		c.errorf(e, "%v", err)
		return nil, true
	}
	c.info.Consts[e] = v
	if v.IsStr {
		return &ast.Type{Kind: ast.KindString, Size: len(v.Str) + 1}, true
	}
	return ast.Int64, true
}

// curtaskType is struct task_struct * from the kernel's BTF.
func (c *checker) curtaskType(e *ast.Ident) *ast.Type {
	bt, err := c.info.Types.Lookup("struct task_struct")
	if err != nil {
		// Without BTF curtask is still an address.
		return &ast.Type{Kind: ast.KindPtr, Size: 8, Elem: &ast.Type{Kind: ast.KindRecord, Name: "struct task_struct"}}
	}
	return &ast.Type{Kind: ast.KindPtr, Size: 8, Elem: &ast.Type{Kind: ast.KindRecord, Name: "struct task_struct", Size: sizeOf(bt), BTF: bt}}
}

func sizeOf(t btf.Type) int {
	n, _ := btf.Sizeof(t)
	return n
}

// rawTracepointProto types a raw tracepoint's args from the kernel's BTF:
// the function __bpf_trace_NAME takes the tracepoint's private data, then
// the arguments with their names. Without it the btf_trace_NAME typedef
// gives the types, and the names arg0, arg1, ...
func rawTracepointProto(kernelBTF func() (*btf.Spec, error), event string) (*btf.FuncProto, error) {
	spec, err := kernelBTF()
	if err != nil {
		return nil, fmt.Errorf("rawtracepoint args need the kernel's BTF: %w", err)
	}
	var fn *btf.Func
	if err := spec.TypeByName("__bpf_trace_"+event, &fn); err == nil {
		if fp, ok := fn.Type.(*btf.FuncProto); ok && len(fp.Params) > 0 {
			return &btf.FuncProto{Return: fp.Return, Params: fp.Params[1:]}, nil
		}
	}
	var td *btf.Typedef
	if err := spec.TypeByName("btf_trace_"+event, &td); err != nil {
		return nil, fmt.Errorf("raw tracepoint %s has no __bpf_trace_%s or btf_trace_%s in the kernel's BTF", event, event, event)
	}
	ptr, ok := td.Type.(*btf.Pointer)
	if !ok {
		return nil, fmt.Errorf("btf_trace_%s is not a function pointer", event)
	}
	fp, ok := ptr.Target.(*btf.FuncProto)
	if !ok || len(fp.Params) == 0 {
		return nil, fmt.Errorf("btf_trace_%s is not a function pointer", event)
	}
	params := make([]btf.FuncParam, len(fp.Params)-1)
	for i, p := range fp.Params[1:] {
		params[i] = btf.FuncParam{Name: fmt.Sprintf("arg%d", i), Type: p.Type}
	}
	return &btf.FuncProto{Return: fp.Return, Params: params}, nil
}

// castToArray checks (uint8[4])x: an integer seen as the array of its
// bytes (or of narrower integers), as bpftrace allows.
func (c *checker) castToArray(e *ast.CastExpr) (*ast.Type, bool) {
	if e.To.Array <= 0 || e.To.Ptr > 0 {
		return nil, false
	}
	elem := (&ast.TypeExpr{Span: e.To.Span, Name: e.To.Name}).Name
	et := map[string]*ast.Type{"uint8": ast.Uint8, "int8": ast.Int8, "uint16": ast.Uint16, "int16": ast.Int16, "uint32": ast.Uint32, "int32": ast.Int32}[elem]
	if et == nil {
		return nil, false
	}
	xt := c.expr(e.X)
	if xt == nil {
		return nil, true
	}
	if !isInt(xt) || xt.Size != et.Size*e.To.Array {
		c.errorf(e, "cannot cast %s to %s: the sizes differ", xt, e.To)
		return nil, true
	}
	return &ast.Type{Kind: ast.KindArray, Elem: et, Len: e.To.Array, Size: xt.Size}, true
}

// tracepointPointer types a tracepoint field declared as a pointer to a
// struct or union ("struct __kernel_timespec * rqtp") from BTF, so that
// args.rqtp->tv_sec reads through it; nil for other fields or when BTF
// does not know the type.
func (c *checker) tracepointPointer(f *attach.TracepointField, user bool) *ast.Type {
	ct := strings.TrimSpace(f.CType)
	if f.DataLoc || f.ArrayLen > 0 || strings.Count(ct, "*") != 1 || !strings.HasSuffix(ct, "*") {
		return nil
	}
	var words []string
	for _, w := range strings.Fields(strings.TrimSuffix(ct, "*")) {
		if w != "const" && w != "volatile" {
			words = append(words, w)
		}
	}
	if len(words) != 2 || (words[0] != "struct" && words[0] != "union") {
		return nil
	}
	bt, err := c.info.Types.Lookup(strings.Join(words, " "))
	if err != nil {
		return nil
	}
	lt, err := c.info.Types.LangType(&btf.Pointer{Target: bt}, user, c.info.Config.MaxStrlen)
	if err != nil {
		return nil
	}
	return lt
}

// MaxRecordValue is the largest struct or union a script may copy whole
// (into a variable or map, or to print it): it is read onto the 512-byte
// BPF stack.
const MaxRecordValue = 256

// recordValue checks that a record used as a value can be copied; it
// reports why not at n.
func (c *checker) recordValue(n ast.Node, t *ast.Type) bool {
	switch {
	case t.BTF == nil:
		c.errorf(n, "%s has no C type information to copy it with", t)
		return false
	case t.Size > MaxRecordValue:
		c.errorf(n, "%s is %d bytes, more than the %d a struct may have to be copied whole; read its fields instead", t, t.Size, MaxRecordValue)
		return false
	}
	if _, err := c.info.Types.Complete(t.BTF); err != nil {
		c.errorf(n, "%v", err)
		return false
	}
	return true
}

// pathCall checks path(p[, size]): the file path of a struct path *
// (or of a struct path in memory, whose address is taken), through
// bpf_d_path, which the kernel allows in fentry and fexit probes only.
func (c *checker) pathCall(e *ast.Call) *ast.Type {
	if len(e.Args) < 1 || len(e.Args) > 2 {
		c.errorf(e, "path() takes 1 or 2 arguments")
		return nil
	}
	if k := c.inst.Kind; k != ProbeFentry && k != ProbeFexit {
		c.errorf(e, "The path function can only be used with 'fentry', 'fexit' probes")
		return nil
	}
	t := c.expr(e.Args[0])
	if t == nil {
		return nil
	}
	switch {
	case t.Kind == ast.KindPtr && t.Elem.Kind == ast.KindRecord && t.Elem.Name != "struct path":
		c.errorf(e.Args[0], "path() needs a struct path *, not %s", t)
		return nil
	case t.Kind == ast.KindRecord && (t.Name != "struct path" || !Addressable(e.Args[0])):
		c.errorf(e.Args[0], "path() needs a struct path *, not %s", t)
		return nil
	case t.Kind != ast.KindPtr && t.Kind != ast.KindRecord && !isInt(t):
		c.errorf(e.Args[0], "path() needs a struct path *, not %s", t)
		return nil
	}
	size := c.info.Config.MaxStrlen
	if len(e.Args) == 2 {
		c.expr(e.Args[1])
		n, ok := constInt(e.Args[1])
		if !ok || n < 1 || n > int64(c.info.Config.MaxStrlen) {
			c.errorf(e.Args[1], "path()'s size must be a constant from 1 to max_strlen (%d)", c.info.Config.MaxStrlen)
			return nil
		}
		size = int(n)
	}
	return &ast.Type{Kind: ast.KindString, Size: size}
}
