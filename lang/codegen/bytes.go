package codegen

import (
	"encoding/binary"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
	"github.com/wagglebpf/waggle/lang/sema"
)

// JoinMap is the per-CPU scratch buffer join() builds its record in: the
// record is larger than the 512-byte stack.
const JoinMap = "join"

// joinRecordSize is the size of a join() record: kind, separator index,
// then the strings.
const joinRecordSize = layout.RecordHeader + layout.JoinArgs*layout.JoinArgSize

// bytesCall generates the functions sema's bytesCall checks.
func (g *gen) bytesCall(e *ast.Call) (*val, error) {
	switch e.Func {
	case "strftime", "strerror", "syscall_name":
		// The number itself; user space formats it.
		v, err := g.expr(e.Args[len(e.Args)-1])
		if err != nil {
			return nil, err
		}
		return intVal(e.Type(), v.i), nil
	case "kptr", "uptr":
		v, err := g.expr(e.Args[0])
		if err != nil {
			return nil, err
		}
		return intVal(e.Type(), v.i), nil
	case "pton":
		b, _ := sema.Pton(e.Args[0].(*ast.StrLit).Value)
		return g.constBytes(e.Type(), b), nil
	case "buf":
		return g.buf(e)
	case "ntop":
		return g.ntop(e)
	case "macaddr":
		return g.macaddr(e)
	case "join":
		return none(), g.join(e)
	}
	return nil, g.errorf(e, "%s() is not supported yet", e.Func)
}

// markedSpace reports the address space kptr() and uptr() mark: user is
// meaningful only when ok.
func markedSpace(e ast.Expr) (user, ok bool) {
	if c, isCall := e.(*ast.Call); isCall {
		switch c.Func {
		case "kptr":
			return false, true
		case "uptr":
			return true, true
		}
	}
	if t := e.Type(); t != nil && t.Kind == ast.KindInt && t.User {
		return true, true
	}
	return false, false
}

// constBytes writes b into a new zeroed buffer of type t.
func (g *gen) constBytes(t *ast.Type, b []byte) *val {
	v := g.buffer(t)
	words := make([]byte, (layout.Size(t)+7)&^7)
	copy(words, b)
	for i := 0; i < len(words); i += 8 {
		w := int64(binary.NativeEndian.Uint64(words[i:]))
		if w == 0 {
			continue
		}
		g.emit(asm.LoadImm(asm.R1, w, asm.DWord), asm.StoreMem(asm.RFP, v.off+int16(i), asm.R1, asm.DWord))
	}
	return v
}

// readHelper is bpf_probe_read_user or _kernel, as the pointer's address
// space says.
func (g *gen) readHelper(src ast.Expr) asm.BuiltinFunc {
	if g.userPointer(src) {
		return asm.FnProbeReadUser
	}
	return asm.FnProbeReadKernel
}

// isArrayValue reports whether a value of type t is bytes on the stack
// (an array or a string) rather than an address to read from.
func isArrayValue(t *ast.Type) bool {
	return t.Kind == ast.KindArray || t.Kind == ast.KindString
}

// buf reads up to t.Size bytes into [length][bytes]: from memory at a
// pointer, or from an array value.
func (g *gen) buf(e *ast.Call) (*val, error) {
	t := e.Type()
	src := e.Args[0]
	out := g.buffer(t)
	if isArrayValue(src.Type()) {
		x, err := g.expr(src)
		if err != nil {
			return nil, err
		}
		n := min(t.Size, layout.Size(src.Type()))
		if src.Type().Kind == ast.KindString {
			n = min(t.Size, src.Type().Size)
		}
		g.copyStack(out.off+layout.BufferHeader, x.off, n)
		if err := g.bufLength(e, out, n); err != nil {
			return nil, err
		}
		return out, nil
	}
	p, err := g.expr(src)
	if err != nil {
		return nil, err
	}
	if err := g.bufLength(e, out, t.Size); err != nil {
		return nil, err
	}
	rp := g.regs.use(p.i)
	g.emit(
		asm.Mov.Reg(asm.R3, rp),
		asm.LoadMem(asm.R2, asm.RFP, out.off, asm.DWord),
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, int32(out.off+layout.BufferHeader)),
		g.readHelper(src).Call(),
	)
	g.checkHelper(g.readHelper(src))
	g.regs.free(p.i)
	return out, nil
}

// bufLength stores the length of a buf() value: the constant size, or
// min(n, size) of a length known at run time.
func (g *gen) bufLength(e *ast.Call, out *val, size int) error {
	if len(e.Args) < 2 {
		g.emit(stImm(asm.RFP, out.off, int64(size)))
		return nil
	}
	if _, ok := e.Args[1].(*ast.IntLit); ok {
		g.emit(stImm(asm.RFP, out.off, int64(min(size, e.Type().Size))))
		return nil
	}
	n, err := g.expr(e.Args[1])
	if err != nil {
		return err
	}
	rn := g.regs.use(n.i)
	ok := g.newLabel("buflen")
	// Unsigned: a negative length is huge and becomes size.
	g.emit(
		asm.Mov.Reg(asm.R2, rn),
		asm.JLE.Imm(asm.R2, int32(size), ok),
		asm.Mov.Imm(asm.R2, int32(size)),
	)
	g.place(ok)
	g.emit(asm.StoreMem(asm.RFP, out.off, asm.R2, asm.DWord))
	g.regs.free(n.i)
	return nil
}

// ntop builds [family][16 bytes of address].
func (g *gen) ntop(e *ast.Call) (*val, error) {
	out := g.buffer(e.Type())
	addr := e.Args[len(e.Args)-1]
	at := addr.Type()
	if len(e.Args) == 2 {
		af, err := g.expr(e.Args[0])
		if err != nil {
			return nil, err
		}
		g.storeAt(out.off, ast.Int64, af)
		g.regs.free(af.i)
	} else {
		af := layout.AFInet
		if isArrayValue(at) && at.Size == 16 {
			af = layout.AFInet6
		}
		g.emit(stImm(asm.RFP, out.off, int64(af)))
	}
	x, err := g.expr(addr)
	if err != nil {
		return nil, err
	}
	if !x.isBuf() {
		// An integer's first four bytes in memory, as bpftrace takes it.
		r := g.regs.use(x.i)
		g.emit(asm.StoreMem(asm.RFP, out.off+8, r, asm.Word))
		g.regs.free(x.i)
		return out, nil
	}
	g.copyStack(out.off+8, x.off, min(at.Size, 16))
	return out, nil
}

// macaddr reads six bytes from a pointer or takes them from an array.
func (g *gen) macaddr(e *ast.Call) (*val, error) {
	out := g.buffer(e.Type())
	src := e.Args[0]
	x, err := g.expr(src)
	if err != nil {
		return nil, err
	}
	if x.isBuf() {
		g.copyStack(out.off, x.off, sema.MacSize)
		return out, nil
	}
	r := g.regs.use(x.i)
	g.emit(
		asm.Mov.Reg(asm.R3, r),
		asm.Mov.Imm(asm.R2, sema.MacSize),
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, int32(out.off)),
		g.readHelper(src).Call(),
	)
	g.regs.free(x.i)
	return out, nil
}

// join reads the strings of a NULL-terminated char *[] into a record built
// in JoinMap and sends it: JoinArgs pointers are read whatever their
// values, and a failed read leaves an empty string, where user space
// stops, as bpftrace does.
func (g *gen) join(e *ast.Call) error {
	if _, ok := g.prog.Spec.Maps[JoinMap]; !ok {
		g.prog.Spec.Maps[JoinMap] = &ebpf.MapSpec{
			Name:       JoinMap,
			Type:       ebpf.PerCPUArray,
			KeySize:    4,
			ValueSize:  joinRecordSize,
			MaxEntries: 1,
		}
	}
	sep := " "
	if len(e.Args) == 2 {
		sep = e.Args[1].(*ast.StrLit).Value
	}
	idx := len(g.prog.Formats)
	g.prog.Formats = append(g.prog.Formats, Format{Text: sep})

	src := e.Args[0]
	argv, err := g.expr(src)
	if err != nil {
		return err
	}
	readPtr, readStr := asm.FnProbeReadKernel, asm.FnProbeReadKernelStr
	if g.userPointer(src) {
		readPtr, readStr = asm.FnProbeReadUser, asm.FnProbeReadUserStr
	}
	key := g.stack.alloc(8)
	tmp := g.stack.alloc(8)
	// Branches follow: values the statement holds go to the stack.
	g.regs.spillAll()
	ra := g.regs.use(argv.i)
	done := g.newLabel("joindone")
	g.emit(
		stImm(asm.RFP, key, 0),
		asm.LoadMapPtr(asm.R1, 0).WithReference(JoinMap),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(key)),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, done),
	)
	rec := g.regs.newVal()
	rr := g.regs.use(rec)
	g.emit(
		asm.Mov.Reg(rr, asm.R0),
		stImm(rr, 0, int64(layout.RecordJoin)),
		stImm(rr, 8, int64(idx)),
	)
	for i := range layout.JoinArgs {
		g.emit(
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.Add.Imm(asm.R1, int32(tmp)),
			asm.Mov.Imm(asm.R2, 8),
			asm.Mov.Reg(asm.R3, ra),
			asm.Add.Imm(asm.R3, int32(8*i)),
			readPtr.Call(),
			asm.Mov.Reg(asm.R1, rr),
			asm.Add.Imm(asm.R1, int32(layout.RecordHeader+i*layout.JoinArgSize)),
			asm.Mov.Imm(asm.R2, layout.JoinArgSize),
			asm.LoadMem(asm.R3, asm.RFP, tmp, asm.DWord),
			readStr.Call(),
		)
	}
	if g.opts.PerfEvents {
		g.emit(
			asm.Mov.Reg(asm.R1, ctxReg),
			asm.LoadMapPtr(asm.R2, 0).WithReference(EventsMap),
			asm.LoadImm(asm.R3, bpfFCurrentCPU, asm.DWord),
			asm.Mov.Reg(asm.R4, rr),
			asm.Mov.Imm(asm.R5, joinRecordSize),
			asm.FnPerfEventOutput.Call(),
		)
	} else {
		g.emit(
			asm.LoadMapPtr(asm.R1, 0).WithReference(EventsMap),
			asm.Mov.Reg(asm.R2, rr),
			asm.Mov.Imm(asm.R3, joinRecordSize),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnRingbufOutput.Call(),
		)
	}
	g.place(done)
	g.regs.free(rec)
	g.regs.free(argv.i)
	// Neither value is in a register on the path that skipped.
	g.regs.spillAll()
	return nil
}
