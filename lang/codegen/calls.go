package codegen

import (
	"errors"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
	"github.com/wagglebpf/waggle/lang/sema"
)

// exprStmt generates an expression whose value is not used.
func (g *gen) exprStmt(e ast.Expr) error {
	v, err := g.expr(e)
	if err != nil {
		return err
	}
	if v != nil && v.i != nil {
		g.regs.free(v.i)
	}
	return nil
}

func (g *gen) call(e *ast.Call) (*val, error) {
	if v, ok, err := g.processCall(e); ok {
		return v, err
	}
	switch e.Func {
	case "printf":
		args := make([]*ast.Type, 0, len(e.Args)-1)
		for _, a := range e.Args[1:] {
			args = append(args, a.Type().Widened())
		}
		idx := len(g.prog.Formats)
		g.prog.Formats = append(g.prog.Formats, Format{Text: e.Args[0].(*ast.StrLit).Value, Args: args})
		return none(), g.record(layout.RecordPrintf, int64(idx), e.Args[1:])
	case "time":
		text := "%H:%M:%S\n"
		if len(e.Args) == 1 {
			text = e.Args[0].(*ast.StrLit).Value
		}
		idx := len(g.prog.Formats)
		g.prog.Formats = append(g.prog.Formats, Format{Text: text})
		return none(), g.record(layout.RecordTime, int64(idx), nil)
	case "exit":
		var code ast.Expr = &ast.IntLit{Span: e.Span, Value: 0}
		code.SetType(ast.Int64)
		if len(e.Args) == 1 {
			code = e.Args[0]
		}
		if err := g.recordExprs(layout.RecordExit, code); err != nil {
			return nil, err
		}
		g.jump(g.exitLabel)
		return none(), nil
	case "print":
		if m, ok := e.Args[0].(*ast.MapExpr); ok && len(m.Keys) == 0 {
			// [map index][top][div]; top and div are 0 when not given.
			args := append([]ast.Expr{}, e.Args[1:]...)
			for len(args) < 2 {
				zero := &ast.IntLit{Span: e.Span}
				zero.SetType(ast.Int64)
				args = append(args, zero)
			}
			return none(), g.record(layout.RecordPrint, int64(g.mapIndex[m.Name]), args)
		}
		idx := len(g.prog.Values)
		g.prog.Values = append(g.prog.Values, e.Args[0].Type())
		return none(), g.record(layout.RecordPrintValue, int64(idx), e.Args[:1])
	case "clear", "zero":
		kind := layout.RecordClear
		if e.Func == "zero" {
			kind = layout.RecordZero
		}
		return none(), g.record(kind, int64(g.mapIndex[e.Args[0].(*ast.MapExpr).Name]), nil)
	case "delete":
		mx := e.Args[0].(*ast.MapExpr)
		m := g.mapOf(mx.Name)
		keys := mx.Keys
		if len(keys) == 0 {
			keys = e.Args[1:]
		}
		key, err := g.mapKey(m, keys)
		if err != nil {
			return nil, err
		}
		if m.Cell {
			// An array's entry cannot go: this CPU's count goes to 0.
			zero := g.stack.alloc(8)
			g.emit(stImm(asm.RFP, zero, 0))
			g.update(m, key, zero, 0)
			return none(), nil
		}
		g.emit(
			asm.LoadMapPtr(asm.R1, 0).WithReference(m.BPFName),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, int32(key)),
			asm.FnMapDeleteElem.Call(),
		)
		return none(), nil
	case "has_key":
		m := g.mapOf(e.Args[0].(*ast.MapExpr).Name)
		out := g.regs.newVal()
		key, err := g.mapKey(m, e.Args[1:])
		if err != nil {
			return nil, err
		}
		g.lookup(m, key)
		r := g.regs.use(out)
		done := g.newLabel("haskey")
		g.emit(asm.Mov.Imm(r, 0), asm.JEq.Imm(asm.R0, 0, done), asm.Mov.Imm(r, 1))
		g.place(done)
		g.regs.unpin(out)
		return intVal(e.Type(), out), nil
	case "str":
		return g.str(e)
	case "len":
		return g.mapLen(e)
	case "strlen":
		return g.strlen(e)
	case "strncmp":
		return g.strncmp(e)
	case "strcontains":
		return g.strcontains(e)
	case "bswap":
		return g.bswap(e)
	case "ksym":
		v, err := g.expr(e.Args[0])
		if err != nil {
			return nil, err
		}
		return intVal(e.Type(), v.i), nil
	case "usym":
		return g.usym(e)
	case "kstack", "ustack":
		return g.stackID(e.Type()), nil
	case "kaddr", "uaddr":
		return g.symAddr(e)
	case "strftime", "buf", "ntop", "pton", "macaddr", "strerror", "syscall_name", "kptr", "uptr", "join":
		return g.bytesCall(e)
	case "path":
		return g.path(e)
	}
	return nil, g.errorf(e, "%s() is not supported yet", e.Func)
}

func none() *val { return &val{t: ast.None, i: imm(0)} }

// str reads a NUL-terminated string from a pointer into a buffer.
func (g *gen) str(e *ast.Call) (*val, error) {
	src := e.Args[0]
	if src.Type().Kind == ast.KindString {
		return g.expr(src)
	}
	t := e.Type()
	buf := &val{t: t, off: g.stack.alloc(layout.Size(t))}
	return buf, g.strTo(e, buf.off, layout.Size(t))
}

// strTo reads str()'s string into size bytes at R10+off (at least its
// type's layout size), zero-padded.
func (g *gen) strTo(e *ast.Call, off int16, size int) error {
	src := e.Args[0]
	p, err := g.expr(src)
	if err != nil {
		return err
	}
	t := e.Type()
	g.zero(off, (size+7)&^7)
	buf := &val{t: t, off: off}
	var n *val
	if len(e.Args) == 2 {
		if n, err = g.expr(e.Args[1]); err != nil {
			return err
		}
	}
	rp := g.regs.use(p.i)
	g.emit(asm.Mov.Reg(asm.R3, rp))
	g.regs.free(p.i)
	if n == nil {
		g.emit(asm.Mov.Imm(asm.R2, int32(t.Size)))
	} else {
		// min(n+1, size), at least 1 so the verifier sees a positive size.
		rn := g.regs.use(n.i)
		ok := g.newLabel("strlen")
		g.emit(
			asm.Mov.Reg(asm.R2, rn),
			asm.Add.Imm(asm.R2, 1),
			asm.JLE.Imm(asm.R2, int32(t.Size), ok),
			asm.Mov.Imm(asm.R2, int32(t.Size)),
		)
		g.place(ok)
		g.emit(asm.And.Imm(asm.R2, 0x7fff))
		g.regs.free(n.i)
	}
	fn := asm.FnProbeReadKernelStr
	if g.userPointer(src) {
		fn = asm.FnProbeReadUserStr
	}
	g.emit(
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, int32(buf.off)),
		fn.Call(),
	)
	g.checkHelper(fn)
	return nil
}

// userPointer decides whether a pointer read should use the user-memory
// helpers: syscall tracepoint arguments and uprobe arguments point to user
// memory; everything else is read as kernel memory.
func (g *gen) userPointer(e ast.Expr) bool {
	if user, ok := markedSpace(e); ok {
		return user
	}
	if t := e.Type(); t != nil && t.Kind == ast.KindPtr && t.User {
		return true
	}
	switch g.inst.Kind.String() {
	case "uprobe", "uretprobe", "usdt":
		return true
	}
	return false
}

// record sends kind, index and the values of args (laid out as a tuple)
// to the events ring buffer.
func (g *gen) record(kind layout.RecordKind, index int64, args []ast.Expr) error {
	tuple := &ast.Type{Kind: ast.KindTuple}
	for _, a := range args {
		tuple.Elems = append(tuple.Elems, a.Type().Widened())
	}
	size := layout.RecordHeader + layout.Size(tuple)
	off := g.stack.alloc(size)
	offs := layout.Offsets(tuple)
	for i, a := range args {
		// Straight into the record: comm and str() are written there by
		// their helpers, with no copy.
		if err := g.exprTo(a, off+layout.RecordHeader+int16(offs[i]), tuple.Elems[i]); err != nil {
			return err
		}
	}
	g.emit(stImm(asm.RFP, off, int64(kind)))
	g.storeConst(off+8, index)
	g.output(off, size)
	return nil
}

// bpfFCurrentCPU is BPF_F_CURRENT_CPU, the index of the perf buffer of the
// CPU the program runs on.
const bpfFCurrentCPU = 0xffffffff

// output sends size bytes at R10+off to user space.
func (g *gen) output(off int16, size int) {
	if g.opts.PerfEvents {
		g.emit(
			asm.Mov.Reg(asm.R1, ctxReg),
			asm.LoadMapPtr(asm.R2, 0).WithReference(EventsMap),
			asm.LoadImm(asm.R3, bpfFCurrentCPU, asm.DWord),
			asm.Mov.Reg(asm.R4, asm.RFP),
			asm.Add.Imm(asm.R4, int32(off)),
			asm.Mov.Imm(asm.R5, int32(size)),
			asm.FnPerfEventOutput.Call(),
		)
		return
	}
	g.emit(
		asm.LoadMapPtr(asm.R1, 0).WithReference(EventsMap),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(off)),
		asm.Mov.Imm(asm.R3, int32(size)),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnRingbufOutput.Call(),
	)
}

// recordExprs sends kind followed directly by the values (no index): the
// exit code record is [kind][code].
func (g *gen) recordExprs(kind layout.RecordKind, code ast.Expr) error {
	off := g.stack.alloc(16)
	v, err := g.expr(code)
	if err != nil {
		return err
	}
	g.storeAt(off+8, ast.Int64, v)
	g.regs.free(v.i)
	g.emit(stImm(asm.RFP, off, int64(kind)))
	g.output(off, 16)
	return nil
}

// lenCallback is the bpf_for_each_map_elem callback of len(): it visits
// every element and does nothing, since the helper returns the count.
const lenCallback = "len_cb"

// mapLen counts a map's elements with bpf_for_each_map_elem (5.13+).
func (g *gen) mapLen(e *ast.Call) (*val, error) {
	m := g.mapOf(e.Args[0].(*ast.MapExpr).Name)
	g.needLenCallback = true
	g.emit(
		asm.LoadMapPtr(asm.R1, 0).WithReference(m.BPFName),
		asm.Instruction{OpCode: asm.LoadImmOp(asm.DWord), Dst: asm.R2, Src: asm.PseudoFunc, Constant: -1}.WithReference(lenCallback),
		asm.Mov.Imm(asm.R3, 0),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnForEachMapElem.Call(),
	)
	v := g.regs.newVal()
	g.emit(asm.Mov.Reg(v.reg, asm.R0))
	if m.Value.Kind == ast.KindHist || m.Value.Kind == ast.KindLHist {
		// One element per bucket: not what the user counts. bpftrace does
		// not allow it either.
		return nil, g.errorf(e, "len() of a histogram map is not supported")
	}
	return intVal(e.Type(), v), nil
}

// usym stores the address with the pid of the current process, whose
// mappings name it when the value is printed.
func (g *gen) usym(e *ast.Call) (*val, error) {
	v, err := g.expr(e.Args[0])
	if err != nil {
		return nil, err
	}
	buf := g.buffer(e.Type())
	g.storeAt(buf.off, ast.Uint64, v)
	g.regs.free(v.i)
	pid := g.call0(asm.FnGetCurrentPidTgid, ast.Uint64)
	g.emit(asm.RSh.Imm(pid.i.reg, 32))
	g.storeAt(buf.off+8, ast.Uint64, pid)
	g.regs.free(pid.i)
	return buf, nil
}

// symAddr resolves kaddr("name") and uaddr("bin:name") while compiling:
// the value is a constant.
func (g *gen) symAddr(e *ast.Call) (*val, error) {
	name := e.Args[0].(*ast.StrLit).Value
	var (
		addr uint64
		err  error
	)
	if e.Func == "kaddr" {
		if g.opts.KernelAddress == nil {
			return nil, g.errorf(e, "Failed to resolve kernel symbol: %s", name)
		}
		if addr, err = g.opts.KernelAddress(name); err != nil {
			return nil, g.errorf(e, "Failed to resolve kernel symbol: %s", name)
		}
	} else {
		if !strings.Contains(name, ":") {
			if g.inst.Kind != sema.ProbeUprobe && g.inst.Kind != sema.ProbeUretprobe {
				return nil, g.errorf(e, "uaddr(%q) names no binary: write uaddr(\"BINARY:SYMBOL\"), or use it in a uprobe", name)
			}
			name = g.inst.Binary + ":" + name
		}
		if g.opts.UserAddress == nil {
			return nil, g.errorf(e, "Could not resolve symbol: %s", name)
		}
		if addr, err = g.opts.UserAddress(name); err != nil {
			// bpftrace's words, then why.
			if inner := errors.Unwrap(err); inner != nil {
				err = inner
			}
			return nil, g.errorf(e, "Could not resolve symbol: %s (%v)", name, err)
		}
	}
	return intVal(e.Type(), imm(int64(addr))), nil
}

// bpfFUserStack is BPF_F_USER_STACK: bpf_get_stackid walks the user stack.
const bpfFUserStack = 1 << 8

// stackID captures the current kernel or user stack into StacksMap and
// makes the value [stack id][pid]. A failed capture keeps its negative
// id, which user space prints as an empty stack, as bpftrace does.
func (g *gen) stackID(t *ast.Type) *val {
	if _, ok := g.prog.Spec.Maps[StacksMap]; !ok {
		g.prog.Spec.Maps[StacksMap] = &ebpf.MapSpec{
			Name:       StacksMap,
			Type:       ebpf.StackTrace,
			KeySize:    4,
			ValueSize:  8 * sema.MaxStackDepth,
			MaxEntries: StacksEntries,
		}
	}
	buf := g.buffer(t)
	var flags int32
	if t.User {
		flags = bpfFUserStack
	}
	g.emit(
		asm.Mov.Reg(asm.R1, ctxReg),
		asm.LoadMapPtr(asm.R2, 0).WithReference(StacksMap),
		asm.Mov.Imm(asm.R3, flags),
		asm.FnGetStackid.Call(),
		asm.StoreMem(asm.RFP, buf.off, asm.R0, asm.DWord),
	)
	if t.User {
		g.emit(
			asm.FnGetCurrentPidTgid.Call(),
			asm.RSh.Imm(asm.R0, 32),
			asm.StoreMem(asm.RFP, buf.off+8, asm.R0, asm.DWord),
		)
	}
	return buf
}
