package codegen

import (
	"fmt"

	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/ctypes"
	"github.com/wagglebpf/waggle/lang/layout"
	"github.com/wagglebpf/waggle/lang/sema"
)

// Reading C memory: a field, element or dereference is compiled as an
// address computed step by step (each struct field offset carrying a
// relocation, see core.go), then one probe read of the final value. A
// chain such as p->a.b[2].c is one read; each pointer on the way is one
// read more.

// isMemory reports whether e reads traced memory through C types (and not
// the probe's context, as args does).
func isMemory(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.FieldExpr:
		id, ok := e.X.(*ast.Ident)
		return !ok || id.Name != "args"
	case *ast.IndexExpr:
		return true
	case *ast.Unary:
		return e.Op == "*"
	}
	return false
}

// userMem tells whether memory reached through a value of type t is the
// traced process's: a user pointer, or a plain integer used as an address
// in a uprobe or USDT probe.
func (g *gen) userMem(t *ast.Type) bool {
	if t.User {
		return true
	}
	if t.Kind == ast.KindPtr || t.Kind == ast.KindRecord || t.Kind == ast.KindArray {
		return false
	}
	return g.userPointer(&ast.Ident{})
}

// address computes where e lives in traced memory, and whether that is
// user memory.
func (g *gen) address(e ast.Expr) (*ival, bool, error) {
	defer g.at(e)()
	switch e := e.(type) {
	case *ast.FieldExpr:
		xt := e.X.Type()
		var base *ival
		var user bool
		rec := xt
		if xt.Kind == ast.KindPtr {
			p, err := g.expr(e.X)
			if err != nil {
				return nil, false, err
			}
			base, user, rec = p.i, g.userMem(xt), xt.Elem
		} else {
			var err error
			if base, user, err = g.address(e.X); err != nil {
				return nil, false, err
			}
		}
		f, err := g.prog.Info.Types.FieldOf(rec.BTF, e.Field)
		if err != nil {
			return nil, false, g.errorf(e, "%v", err)
		}
		g.addOffset(base, f.BitOffset/8&^(bitWindow(f)-1), g.reloc(e, rec))
		return base, user, nil
	case *ast.IndexExpr:
		xt := e.X.Type()
		var base *ival
		var user bool
		if xt.Kind == ast.KindPtr {
			p, err := g.expr(e.X)
			if err != nil {
				return nil, false, err
			}
			base, user = p.i, g.userMem(xt)
		} else {
			var err error
			if base, user, err = g.address(e.X); err != nil {
				return nil, false, err
			}
		}
		size := ctypes.ElemSize(xt)
		if xt.Kind == ast.KindString {
			size = 1
		}
		idx, err := g.expr(e.Index)
		if err != nil {
			return nil, false, err
		}
		g.scaledAdd(base, idx.i, size)
		return base, user, nil
	case *ast.Unary:
		if e.Op == "*" {
			p, err := g.expr(e.X)
			if err != nil {
				return nil, false, err
			}
			return p.i, g.userMem(e.X.Type()), nil
		}
	}
	return nil, false, g.errorf(e, "this expression has no address in memory")
}

// addOffset adds a constant to an address, with the relocation that
// recomputes it for the kernel the program is loaded on.
func (g *gen) addOffset(base *ival, off int, r *Reloc) {
	if base.isImm && r == nil {
		base.imm += int64(off)
		return
	}
	if off == 0 && r == nil {
		return
	}
	reg := g.regs.use(base)
	ins := asm.Add.Imm(reg, int32(off))
	if r != nil {
		r.Local = off
		ins = WithReloc(ins, r)
	}
	g.emit(ins)
	g.regs.unpin(base)
}

// scaledAdd adds idx*size to base.
func (g *gen) scaledAdd(base, idx *ival, size int) {
	if idx.isImm {
		g.addOffset(base, int(idx.imm)*size, nil)
		return
	}
	rb := g.regs.use(base)
	ri := g.regs.use(idx)
	if size != 1 {
		g.emit(asm.Mul.Imm(ri, int32(size)))
	}
	g.emit(asm.Add.Reg(rb, ri))
	g.regs.free(idx)
	g.regs.unpin(base)
}

// bitWindow is how many bytes are read for a field: its own size, or for
// a bitfield the smallest aligned power of two that holds it.
func bitWindow(f *ctypes.Field) int {
	if f.Bits == 0 {
		return 1
	}
	for _, n := range []int{1, 2, 4, 8} {
		start := f.BitOffset / 8 &^ (n - 1)
		if f.BitOffset+f.Bits <= (start+n)*8 {
			return n
		}
	}
	return 8
}

// memRead reads a C value: a field, an element, or *p.
func (g *gen) memRead(e ast.Expr) (*val, error) {
	t := e.Type()
	if fe, ok := e.(*ast.FieldExpr); ok && fe.X.Type().Kind == ast.KindRecord && !sema.Addressable(fe.X) {
		return g.recordField(fe)
	}
	if fe, ok := e.(*ast.FieldExpr); ok {
		if f, err := g.fieldInfo(fe); err == nil && f.Bits > 0 {
			return g.bitfield(fe, f)
		}
	}
	if ie, ok := e.(*ast.IndexExpr); ok && !sema.Addressable(ie) {
		return g.indexValue(ie)
	}
	if u, ok := e.(*ast.Unary); ok && u.X.Type().Kind == ast.KindInt {
		// *addr on a plain integer reads 8 bytes, as bpftrace does.
		t = ast.Int64
	}
	addr, user, err := g.address(e)
	if err != nil {
		return nil, err
	}
	return g.readAt(addr, user, t), nil
}

// fieldInfo finds the member a field expression names.
func (g *gen) fieldInfo(e *ast.FieldExpr) (*ctypes.Field, error) {
	rec := e.X.Type()
	if rec.Kind == ast.KindPtr {
		rec = rec.Elem
	}
	if rec.BTF == nil {
		return nil, fmt.Errorf("no C type")
	}
	return g.prog.Info.Types.FieldOf(rec.BTF, e.Field)
}

// readAt probe-reads a value of type t at addr into a register (integers
// and pointers) or a stack buffer (strings, arrays, records).
func (g *gen) readAt(addr *ival, user bool, t *ast.Type) *val {
	fn := asm.FnProbeReadKernel
	if user {
		fn = asm.FnProbeReadUser
	}
	if isBufType(t) {
		buf := g.buffer(t)
		size := t.Size
		if t.Kind != ast.KindString {
			size = min(t.Size, layout.Size(t))
		}
		g.probeRead(fn, buf.off, size, addr)
		return buf
	}
	size := t.Size
	if t.Kind == ast.KindBool {
		size = 1
	}
	tmp := g.stack.alloc(8)
	g.probeRead(fn, tmp, size, addr)
	v := g.regs.newVal()
	g.emit(asm.LoadMem(v.reg, asm.RFP, tmp, memSize(size)))
	if t.Signed {
		g.extend(v.reg, 8*size, true)
	}
	return intVal(t, v)
}

// probeRead calls fn(stack+off, size, addr) and frees addr.
func (g *gen) probeRead(fn asm.BuiltinFunc, off int16, size int, addr *ival) {
	if addr.isImm {
		g.emit(asm.LoadImm(asm.R3, addr.imm, asm.DWord))
	} else {
		g.emit(asm.Mov.Reg(asm.R3, g.regs.use(addr)))
		g.regs.free(addr)
	}
	g.emit(
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, int32(off)),
		asm.Mov.Imm(asm.R2, int32(size)),
		fn.Call(),
	)
	g.checkHelper(fn)
}

// bitfield reads the aligned window that holds a bitfield, then shifts
// and masks it out (little-endian bit numbering, as on x86-64 and arm64).
func (g *gen) bitfield(e *ast.FieldExpr, f *ctypes.Field) (*val, error) {
	addr, user, err := g.address(e)
	if err != nil {
		return nil, err
	}
	n := bitWindow(f)
	v := g.readAt(addr, user, &ast.Type{Kind: ast.KindInt, Size: n})
	shift := f.BitOffset - (f.BitOffset/8&^(n-1))*8
	r := g.regs.use(v.i)
	if shift > 0 {
		g.emit(asm.RSh.Imm(r, int32(shift)))
	}
	t := e.Type()
	if f.Bits < 32 && !t.Signed {
		g.emit(asm.And.Imm(r, int32(1)<<f.Bits-1))
	} else {
		g.extend(r, f.Bits, t.Signed)
	}
	g.regs.unpin(v.i)
	return intVal(t, v.i), nil
}

// addressOf compiles &x.
func (g *gen) addressOf(e *ast.Unary) (*val, error) {
	addr, _, err := g.address(e.X)
	if err != nil {
		return nil, err
	}
	return intVal(e.Type(), addr), nil
}

// constant is the value sema found for a #define, enum constant, sizeof
// or offsetof.
func (g *gen) constant(e ast.Expr) (*val, bool) {
	info := g.prog.Info
	if id, ok := e.(*ast.Ident); ok {
		c, ok := info.Consts[id]
		if !ok {
			return nil, false
		}
		if c.IsStr {
			return g.stringConst(c.Str, e.Type().Size), true
		}
		return intVal(e.Type(), imm(c.Int)), true
	}
	if n, ok := info.ConstExprs[e]; ok {
		return intVal(e.Type(), imm(n)), true
	}
	return nil, false
}

// ptrArith scales p + n and p - n by the size of what p points to.
func (g *gen) ptrArith(e *ast.Binary) (*val, bool, error) {
	xt, yt := e.X.Type(), e.Y.Type()
	if e.Op != "+" && e.Op != "-" {
		return nil, false, nil
	}
	var p, n ast.Expr
	switch {
	case xt.Kind == ast.KindPtr && yt.Kind != ast.KindPtr:
		p, n = e.X, e.Y
	case yt.Kind == ast.KindPtr && xt.Kind != ast.KindPtr && e.Op == "+":
		p, n = e.Y, e.X
	default:
		return nil, false, nil
	}
	size := ctypes.ElemSize(p.Type())
	if size == 1 {
		return nil, false, nil
	}
	pv, err := g.expr(p)
	if err != nil {
		return nil, true, err
	}
	nv, err := g.expr(n)
	if err != nil {
		return nil, true, err
	}
	if e.Op == "-" {
		if nv.i.isImm {
			nv.i.imm = -nv.i.imm
		} else {
			r := g.regs.use(nv.i)
			g.emit(asm.Neg.Imm(r, 0))
			g.regs.unpin(nv.i)
		}
	}
	g.scaledAdd(pv.i, nv.i, size)
	return intVal(e.Type(), pv.i), true, nil
}

// indexValue reads element i (a constant, sema makes sure) of an array or
// string held on the stack.
func (g *gen) indexValue(e *ast.IndexExpr) (*val, error) {
	x, err := g.expr(e.X)
	if err != nil {
		return nil, err
	}
	idx, err := g.expr(e.Index)
	if err != nil {
		return nil, err
	}
	size := 1
	if x.t.Kind == ast.KindArray {
		size = ctypes.ElemSize(x.t)
	}
	t := e.Type()
	v := g.regs.newVal()
	g.emit(asm.LoadMem(v.reg, asm.RFP, x.off+int16(idx.i.imm)*int16(size), memSize(size)))
	if t.Signed {
		g.extend(v.reg, 8*size, true)
	}
	return intVal(t, v), nil
}

// castToArray stores an integer into a buffer to be seen as an array.
func (g *gen) castToArray(e *ast.CastExpr) (*val, error) {
	x, err := g.expr(e.X)
	if err != nil {
		return nil, err
	}
	buf := g.buffer(e.Type())
	r := g.regs.use(x.i)
	g.emit(asm.StoreMem(asm.RFP, buf.off, r, memSize(e.Type().Size)))
	g.regs.free(x.i)
	return buf, nil
}

// recordField reads a field of a record held on the stack (copied whole
// into a variable or map): a load from the stack, or a copy of the
// field's bytes for strings, arrays and records.
func (g *gen) recordField(e *ast.FieldExpr) (*val, error) {
	x, err := g.expr(e.X)
	if err != nil {
		return nil, err
	}
	f, err := g.prog.Info.Types.FieldOf(e.X.Type().BTF, e.Field)
	if err != nil {
		return nil, g.errorf(e, "%v", err)
	}
	t := e.Type()
	if isBufType(t) {
		out := g.buffer(t)
		n := t.Size
		if t.Kind != ast.KindString {
			n = min(t.Size, layout.Size(t))
		}
		src := x.off + int16(f.BitOffset/8)
		for i := 0; i < n; i++ {
			g.emit(asm.LoadMem(asm.R1, asm.RFP, src+int16(i), asm.Byte), asm.StoreMem(asm.RFP, out.off+int16(i), asm.R1, asm.Byte))
		}
		return out, nil
	}
	n := t.Size
	if f.Bits > 0 {
		n = bitWindow(f)
	}
	if t.Kind == ast.KindBool {
		n = 1
	}
	start := f.BitOffset / 8 &^ (n - 1)
	if f.Bits == 0 {
		start = f.BitOffset / 8
	}
	v := g.regs.newVal()
	// Byte by byte: a member's offset need not be aligned for its size
	// in a packed or odd layout, and stack loads must be.
	g.emit(asm.Mov.Imm(v.reg, 0))
	for i := n - 1; i >= 0; i-- {
		g.emit(
			asm.LSh.Imm(v.reg, 8),
			asm.LoadMem(asm.R1, asm.RFP, x.off+int16(start+i), asm.Byte),
			asm.Or.Reg(v.reg, asm.R1),
		)
	}
	if f.Bits > 0 {
		if shift := f.BitOffset - start*8; shift > 0 {
			g.emit(asm.RSh.Imm(v.reg, int32(shift)))
		}
		g.extend(v.reg, f.Bits, t.Signed)
		return intVal(t, v), nil
	}
	if t.Signed {
		g.extend(v.reg, 8*n, true)
	}
	return intVal(t, v), nil
}

// path compiles path(p[, size]) to bpf_d_path into a string buffer; a
// struct path held in memory is passed by its address.
func (g *gen) path(e *ast.Call) (*val, error) {
	var p *ival
	if e.Args[0].Type().Kind == ast.KindRecord {
		addr, _, err := g.address(e.Args[0])
		if err != nil {
			return nil, err
		}
		p = addr
	} else {
		v, err := g.expr(e.Args[0])
		if err != nil {
			return nil, err
		}
		p = v.i
	}
	t := e.Type()
	buf := g.buffer(t)
	if p.isImm {
		g.emit(asm.LoadImm(asm.R1, p.imm, asm.DWord))
	} else {
		g.emit(asm.Mov.Reg(asm.R1, g.regs.use(p)))
		g.regs.free(p)
	}
	g.emit(
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(buf.off)),
		asm.Mov.Imm(asm.R3, int32(t.Size)),
		asm.FnDPath.Call(),
	)
	g.checkHelper(asm.FnDPath)
	return buf, nil
}
