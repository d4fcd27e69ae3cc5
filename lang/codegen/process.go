package codegen

import (
	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
	"github.com/wagglebpf/waggle/lang/sema"
)

// This file generates the builtins that reach out of the probe into the
// system: argN of usdt probes, cgroup_path(), cat(), system(), signal()
// and getopt(). lang/sema/process.go checks them.

// processBuiltin generates the builtins of this file; handled is false
// for the others.
func (g *gen) processBuiltin(e *ast.Ident) (v *val, handled bool, err error) {
	if g.inst.Kind == sema.ProbeUsdt && e.Name != "args" {
		if n, ok := usdtArgNumber(e.Name); ok {
			v, err = g.usdtArg(e, n)
			return v, true, err
		}
	}
	return nil, false, nil
}

func usdtArgNumber(name string) (int, bool) {
	if len(name) < 4 || name[:3] != "arg" {
		return 0, false
	}
	n := 0
	for _, c := range name[3:] {
		if c < '0' || c > '9' || n > 100 {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// processCall generates the calls of this file; handled is false for the
// others.
func (g *gen) processCall(e *ast.Call) (v *val, handled bool, err error) {
	switch e.Func {
	case "cgroup_path":
		// The cgroup id: user space finds the path when it prints.
		id, err := g.expr(e.Args[0])
		if err != nil {
			return nil, true, err
		}
		return intVal(e.Type(), id.i), true, nil
	case "cat", "system":
		args := make([]*ast.Type, 0, len(e.Args)-1)
		for _, a := range e.Args[1:] {
			args = append(args, a.Type().Widened())
		}
		idx := len(g.prog.Formats)
		g.prog.Formats = append(g.prog.Formats, Format{Text: e.Args[0].(*ast.StrLit).Value, Args: args})
		kind := layout.RecordCat
		if e.Func == "system" {
			kind = layout.RecordSystem
		}
		return none(), true, g.record(kind, int64(idx), e.Args[1:])
	case "signal":
		return none(), true, g.signal(e)
	case "getopt":
		v, err := g.getopt(e)
		return v, true, err
	}
	return nil, false, nil
}

// signal sends a signal to the current process with bpf_send_signal.
func (g *gen) signal(e *ast.Call) error {
	if lit, ok := e.Args[0].(*ast.StrLit); ok {
		n, _ := sema.SignalNumber(lit.Value)
		g.emit(asm.Mov.Imm(asm.R1, int32(n)), asm.FnSendSignal.Call())
		return nil
	}
	v, err := g.expr(e.Args[0])
	if err != nil {
		return err
	}
	if v.i.isImm {
		g.emit(asm.Mov.Imm(asm.R1, int32(v.i.imm)))
	} else {
		r := g.regs.use(v.i)
		g.emit(asm.Mov.Reg32(asm.R1, r))
		g.regs.free(v.i)
	}
	g.emit(asm.FnSendSignal.Call())
	return nil
}

// getopt is a constant: the named argument's value, or its default.
func (g *gen) getopt(e *ast.Call) (*val, error) {
	name := e.Args[0].(*ast.StrLit).Value
	opt := g.prog.Info.Getopts[name]
	if opt == nil {
		return nil, g.errorf(e, "getopt(%q) was not checked", name)
	}
	t := e.Type()
	switch t.Kind {
	case ast.KindBool:
		if opt.Bool {
			return intVal(t, imm(1)), nil
		}
		return intVal(t, imm(0)), nil
	case ast.KindString:
		return g.stringConst(opt.Str, t.Size), nil
	}
	return intVal(t, imm(opt.Int)), nil
}
