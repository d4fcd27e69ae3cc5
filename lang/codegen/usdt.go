package codegen

import (
	"fmt"
	"runtime"

	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/sema"
)

// usdtArg reads argN of a usdt probe as the probe site's note describes
// it: a constant, a register of the uprobe's struct pt_regs, or memory of
// the traced process at a register plus an offset (plus an index times a
// scale), or at a symbol's address moved by the file's load bias. The
// value is extended from its size as the note says, with its sign or
// with zeros.
func (g *gen) usdtArg(e *ast.Ident, n int) (*val, error) {
	site := g.inst.USDT
	if site == nil || n >= len(site.Args) {
		return nil, g.errorf(e, "%s: the usdt probe site has no such argument", e.Name)
	}
	a := site.Args[n]
	t := e.Type()
	switch a.Kind {
	case attach.USDTArgConst:
		return intVal(t, imm(extendConst(a.Value, 8*a.Bytes(), a.Signed()))), nil
	case attach.USDTArgReg:
		v := g.regs.newVal()
		g.emit(asm.LoadMem(v.reg, ctxReg, int16(a.RegOffset), asm.DWord))
		if a.RegShift != 0 {
			g.emit(asm.RSh.Imm(v.reg, int32(a.RegShift)))
		}
		g.extend(v.reg, 8*a.Bytes(), a.Signed())
		return intVal(t, v), nil
	case attach.USDTArgMem:
		return g.usdtMemArg(e, a, t)
	}
	return nil, g.errorf(e, "%s: unknown usdt argument kind %v", e.Name, a.Kind)
}

// usdtMemArg reads a memory operand from the traced process.
func (g *gen) usdtMemArg(e *ast.Ident, a attach.USDTArg, t *ast.Type) (*val, error) {
	site := g.inst.USDT
	buf := g.stack.alloc(8)
	// A failed read leaves 0.
	g.emit(stImm(asm.RFP, buf, 0))
	switch {
	case a.Symbol != "":
		// The symbol moved with the file by as much as the probe did: the
		// probe's run-time address (pt_regs' ip, which the kernel points at
		// the probe before calling the program) minus its address in the
		// file.
		ip, err := ipOffset()
		if err != nil {
			return nil, g.errorf(e, "%v", err)
		}
		g.emit(
			asm.LoadMem(asm.R3, ctxReg, ip, asm.DWord),
			asm.LoadImm(asm.R1, int64(a.SymbolAddr)+a.Offset-int64(site.PC), asm.DWord),
			asm.Add.Reg(asm.R3, asm.R1),
		)
	default:
		if a.Reg != "" {
			g.emit(asm.LoadMem(asm.R3, ctxReg, int16(a.RegOffset), asm.DWord))
		} else {
			g.emit(asm.Mov.Imm(asm.R3, 0))
		}
		switch {
		case a.Offset == 0:
		case a.Offset >= -1<<31 && a.Offset < 1<<31:
			g.emit(asm.Add.Imm(asm.R3, int32(a.Offset)))
		default:
			g.emit(asm.LoadImm(asm.R1, a.Offset, asm.DWord), asm.Add.Reg(asm.R3, asm.R1))
		}
		if a.Index != "" {
			g.emit(asm.LoadMem(asm.R1, ctxReg, int16(a.IndexOffset), asm.DWord))
			if a.Scale > 1 {
				g.emit(asm.Mul.Imm(asm.R1, int32(a.Scale)))
			}
			g.emit(asm.Add.Reg(asm.R3, asm.R1))
		}
	}
	g.emit(
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, int32(buf)),
		asm.Mov.Imm(asm.R2, int32(a.Bytes())),
		asm.FnProbeReadUser.Call(),
	)
	g.checkHelper(asm.FnProbeReadUser)
	v := g.regs.newVal()
	g.emit(asm.LoadMem(v.reg, asm.RFP, buf, memSize(a.Bytes())))
	g.extend(v.reg, 8*a.Bytes(), a.Signed())
	return intVal(t, v), nil
}

// ipOffset is where struct pt_regs keeps the instruction pointer.
func ipOffset() (int16, error) {
	name := map[string]string{"amd64": "rip", "arm64": "pc"}[runtime.GOARCH]
	off, ok := attach.PtRegsOffset(runtime.GOARCH, name)
	if !ok {
		return 0, fmt.Errorf("usdt arguments addressed through a symbol are not supported on %s yet", runtime.GOARCH)
	}
	return int16(off), nil
}

// usdtTarget is a usdt probe site as an attach target: a uprobe at the
// site's file offset. lang/driver attaches it with attach.AttachUSDT,
// which also sets the probe's semaphore.
func usdtTarget(inst *sema.Instance) attach.Target {
	t := attach.Target{Kind: attach.KindUprobe}
	if inst.USDT != nil {
		t.Uprobe = attach.UprobeTarget{Binary: inst.USDT.Path, Offset: inst.USDT.Offset}
	}
	return t
}
