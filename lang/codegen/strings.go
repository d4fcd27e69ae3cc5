package codegen

import (
	"encoding/binary"

	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/lang/ast"
)

// Strings are NUL-terminated buffers on the stack of known size, so the
// string functions compare them byte by byte in straight-line code: no
// loop for the verifier to follow, and no helper.

// strlen counts the bytes before the first NUL.
func (g *gen) strlen(e *ast.Call) (*val, error) {
	x, err := g.expr(e.Args[0])
	if err != nil {
		return nil, err
	}
	out := g.regs.newVal()
	done := g.newLabel("strlen")
	g.emit(asm.Mov.Imm(out.reg, 0))
	for i := 0; i < x.t.Size; i++ {
		g.emit(
			asm.LoadMem(asm.R1, asm.RFP, x.off+int16(i), asm.Byte),
			asm.JEq.Imm(asm.R1, 0, done),
			asm.Mov.Imm(out.reg, int32(i+1)),
		)
	}
	g.place(done)
	g.emit(asm.Mov.Reg(out.reg, out.reg))
	return intVal(e.Type(), out), nil
}

// strncmp is 0 when the first n bytes of two strings are the same (up to
// a NUL in both), 1 otherwise, as bpftrace's strncmp.
func (g *gen) strncmp(e *ast.Call) (*val, error) {
	x, err := g.expr(e.Args[0])
	if err != nil {
		return nil, err
	}
	y, err := g.expr(e.Args[1])
	if err != nil {
		return nil, err
	}
	n, _ := e.Args[2].(*ast.IntLit)
	out := g.regs.newVal()
	differ, done := g.newLabel("strncmpne"), g.newLabel("strncmpdone")
	g.emit(asm.Mov.Imm(out.reg, 0))
	for i := 0; i < int(n.Value); i++ {
		if i >= x.t.Size && i >= y.t.Size {
			break // both ended: equal
		}
		g.loadByte(asm.R1, x, i)
		g.loadByte(asm.R2, y, i)
		g.emit(asm.JNE.Reg(asm.R1, asm.R2, differ), asm.JEq.Imm(asm.R1, 0, done))
	}
	if g.referenced(differ) {
		g.jump(done)
		g.place(differ)
		g.emit(asm.Mov.Imm(out.reg, 1))
	}
	g.place(done)
	g.emit(asm.Mov.Reg(out.reg, out.reg))
	return intVal(e.Type(), out), nil
}

// loadByte loads byte i of a string buffer, or 0 past its end.
func (g *gen) loadByte(r asm.Register, s *val, i int) {
	if i >= s.t.Size {
		g.emit(asm.Mov.Imm(r, 0))
		return
	}
	g.emit(asm.LoadMem(r, asm.RFP, s.off+int16(i), asm.Byte))
}

// strcontains is true when the needle occurs in the haystack; the empty
// needle occurs everywhere.
func (g *gen) strcontains(e *ast.Call) (*val, error) {
	h, err := g.expr(e.Args[0])
	if err != nil {
		return nil, err
	}
	nd, err := g.expr(e.Args[1])
	if err != nil {
		return nil, err
	}
	out := g.regs.newVal()
	found, notFound, done := g.newLabel("found"), g.newLabel("notfound"), g.newLabel("strcontains")
	hs, ns := h.t.Size, nd.t.Size
	for i := 0; i < hs; i++ {
		next := g.newLabel("strcnext")
		for j := 0; j < ns; j++ {
			g.emit(
				asm.LoadMem(asm.R2, asm.RFP, nd.off+int16(j), asm.Byte),
				asm.JEq.Imm(asm.R2, 0, found),
			)
			if i+j >= hs {
				g.jump(next)
				break
			}
			g.emit(
				asm.LoadMem(asm.R1, asm.RFP, h.off+int16(i+j), asm.Byte),
				asm.JNE.Reg(asm.R1, asm.R2, next),
			)
		}
		g.jump(found)
		g.place(next)
		// No match can start past the haystack's end.
		g.emit(
			asm.LoadMem(asm.R1, asm.RFP, h.off+int16(i), asm.Byte),
			asm.JEq.Imm(asm.R1, 0, notFound),
		)
	}
	g.place(notFound)
	g.emit(asm.Mov.Imm(out.reg, 0))
	g.jump(done)
	if g.referenced(found) {
		g.place(found)
		g.emit(asm.Mov.Imm(out.reg, 1))
	}
	g.place(done)
	g.emit(asm.Mov.Reg(out.reg, out.reg))
	return intVal(e.Type(), out), nil
}

// bswap reverses the bytes of an integer of its type's width.
func (g *gen) bswap(e *ast.Call) (*val, error) {
	x, err := g.expr(e.Args[0])
	if err != nil {
		return nil, err
	}
	t := e.Type()
	size, ok := map[int]asm.Size{2: asm.Half, 4: asm.Word, 8: asm.DWord}[t.Size]
	if !ok {
		return x, nil // one byte: nothing to swap
	}
	r := g.regs.use(x.i)
	// Converting to the other byte order swaps on every kernel (BPF_END),
	// unlike the unconditional swap of BPF ISA v4.
	order := asm.BE
	if binary.NativeEndian.Uint16([]byte{0, 1}) == 1 {
		order = asm.LE
	}
	g.emit(asm.HostTo(order, r, size))
	g.regs.unpin(x.i)
	return g.truncate(intVal(t, x.i), t), nil
}
