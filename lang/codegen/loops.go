package codegen

import (
	"sort"
	"strings"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
)

// subprog is a callback function generated for a for loop.
type subprog struct {
	insns asm.Instructions
	pos   []ast.Span
}

// frameState is what generating one BPF function keeps: a callback is
// generated with a fresh one and the caller's is restored afterwards.
type frameState struct {
	insns                     asm.Instructions
	pos                       []ast.Span
	pending                   []string
	dead                      bool
	regs                      *regalloc
	stack                     stack
	vars                      map[string]varSlot
	breakLabel, continueLabel []string
	exitLabel                 string
	calleeDepth               int
}

func (g *gen) saveFrame() frameState {
	return frameState{
		insns: g.insns, pos: g.pos, pending: g.pending, dead: g.dead, regs: g.regs,
		stack: g.stack, vars: g.vars, breakLabel: g.breakLabel, continueLabel: g.continueLabel,
		exitLabel: g.exitLabel, calleeDepth: g.calleeDepth,
	}
}

func (g *gen) restoreFrame(f frameState) {
	g.insns, g.pos, g.pending, g.dead, g.regs = f.insns, f.pos, f.pending, f.dead, f.regs
	g.stack, g.vars, g.breakLabel, g.continueLabel = f.stack, f.vars, f.breakLabel, f.continueLabel
	g.exitLabel, g.calleeDepth = f.exitLabel, f.calleeDepth
}

// frameDepth is the stack a frame of n bytes counts for in the kernel's
// check of a call chain (rounded up to 32 bytes).
func frameDepth(n int) int { return (max(n, 1) + 31) &^ 31 }

// loopCtx is what the caller of a loop callback shares with it through the
// callback's context pointer, which points at the caller's frame pointer:
// the offsets, in the caller's frame, of the saved probe context, of the
// flag the callback sets when the probe must end (exit()), and of the
// range's start.
type loopCtx struct {
	ctxSave, stop, lo int16
}

// forStmt generates a for loop as a callback function: for ($kv : @m)
// with bpf_for_each_map_elem (5.13+), for ($i : lo..hi) with bpf_loop
// (5.17+), as bpftrace does. The callback gets a pointer to the caller's
// frame; the variables of the caller that the body uses are copied into
// the callback's frame on entry and back on every way out, so the body is
// generated exactly like code in the caller.
func (g *gen) forStmt(s *ast.ForStmt) error {
	g.regs.spillAll()
	lc := loopCtx{ctxSave: g.stack.alloc(8), stop: g.stack.alloc(8)}
	g.emit(asm.StoreMem(asm.RFP, lc.ctxSave, ctxReg, asm.DWord), stImm(asm.RFP, lc.stop, 0))
	name := g.newLabel("for_cb")
	skip := g.newLabel("forskip")
	if s.Map != nil {
		m := g.mapOf(s.Map.Name)
		if err := g.loopCallback(s, name, lc, m); err != nil {
			return err
		}
		g.emit(
			asm.LoadMapPtr(asm.R1, 0).WithReference(m.BPFName),
			asm.Instruction{OpCode: asm.LoadImmOp(asm.DWord), Dst: asm.R2, Src: asm.PseudoFunc, Constant: -1}.WithReference(name),
			asm.Mov.Reg(asm.R3, asm.RFP),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnForEachMapElem.Call(),
		)
	} else {
		lc.lo = g.stack.alloc(8)
		if err := g.exprTo(s.Lo, lc.lo, ast.Int64); err != nil {
			return err
		}
		hi, err := g.expr(s.Hi)
		if err != nil {
			return err
		}
		rh := g.regs.use(hi.i)
		// The number of iterations, hi - lo, or none when hi <= lo.
		g.emit(
			asm.LoadMem(asm.R1, asm.RFP, lc.lo, asm.DWord),
			asm.JSLE.Reg(rh, asm.R1, skip),
			asm.Sub.Reg(rh, asm.R1),
			asm.Mov.Reg(asm.R1, rh),
		)
		g.regs.free(hi.i)
		if err := g.loopCallback(s, name, lc, nil); err != nil {
			return err
		}
		g.emit(
			asm.Instruction{OpCode: asm.LoadImmOp(asm.DWord), Dst: asm.R2, Src: asm.PseudoFunc, Constant: -1}.WithReference(name),
			asm.Mov.Reg(asm.R3, asm.RFP),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnLoop.Call(),
		)
	}
	g.emit(
		asm.LoadMem(asm.R1, asm.RFP, lc.stop, asm.DWord),
		asm.JNE.Imm(asm.R1, 0, g.exitLabel),
	)
	g.place(skip)
	// Anchor the skip label on a real instruction.
	g.emit(asm.Mov.Imm(asm.R0, 0))
	return nil
}

// copyPair is one variable copied between the caller's frame (parent) and
// a callback's frame (own).
type copyPair struct {
	parent, own int16
	size        int
}

// loopCallback generates the callback of a for loop (m set: a map
// iteration; otherwise a range) into g.subprogs.
func (g *gen) loopCallback(s *ast.ForStmt, name string, lc loopCtx, m *Map) error {
	used := map[string]bool{}
	ast.Inspect(s.Body, func(n ast.Node) bool {
		if v, ok := n.(*ast.VarExpr); ok {
			used[v.Name] = true
		}
		if d, ok := n.(*ast.VarDecl); ok {
			used[d.Name] = true
		}
		return true
	})
	parentVars := g.vars
	saved := g.saveFrame()
	g.insns, g.pos, g.pending, g.dead = nil, nil, nil, false
	g.regs = newRegalloc(g)
	g.stack = stack{}
	g.vars = map[string]varSlot{}
	g.calleeDepth = 0
	contL, brkL, stopL, wbL := g.newLabel("forcont"), g.newLabel("forbreak"), g.newLabel("forstop"), g.newLabel("forret")
	g.breakLabel, g.continueLabel, g.exitLabel = []string{brkL}, []string{contL}, stopL

	parent := g.stack.alloc(8)
	ret := g.stack.alloc(8)
	var params []btf.FuncParam
	var first asm.Instruction
	if m != nil {
		params = []btf.FuncParam{{Name: "map", Type: ptr}, {Name: "key", Type: ptr}, {Name: "value", Type: ptr}, {Name: "ctx", Type: ptr}}
		first = asm.StoreMem(asm.RFP, parent, asm.R4, asm.DWord)
	} else {
		params = []btf.FuncParam{{Name: "index", Type: long}, {Name: "ctx", Type: ptr}}
		first = asm.StoreMem(asm.RFP, parent, asm.R2, asm.DWord)
	}
	fn := &btf.Func{Name: name, Linkage: btf.StaticFunc, Type: &btf.FuncProto{Return: long, Params: params}}
	g.emit(btf.WithFuncMetadata(first.WithSymbol(name), fn))

	// The loop variable.
	vt := ast.Int64
	if m != nil {
		vt = s.Map.Type()
	}
	kv := g.stack.alloc(layout.Size(vt))
	g.vars[slotKey(s.Var, vt)] = varSlot{off: kv, t: vt}
	if m != nil {
		offs := layout.Offsets(vt)
		// R2 is the key, R3 the value (this CPU's, in a per-CPU map).
		g.copyMem(asm.RFP, kv+int16(offs[0]), asm.R2, 0, keyBase(m))
		if !(m.PerCPU && m.Value.IsAggregation()) {
			g.copyMem(asm.RFP, kv+int16(offs[1]), asm.R3, 0, layout.Size(m.Value))
		}
	} else {
		// $i = lo + index.
		g.emit(
			asm.LoadMem(asm.R3, asm.R2, lc.lo, asm.DWord),
			asm.Add.Reg(asm.R3, asm.R1),
			asm.StoreMem(asm.RFP, kv, asm.R3, asm.DWord),
		)
	}
	// The probe's context, for helpers and args.
	g.emit(
		asm.LoadMem(asm.R1, asm.RFP, parent, asm.DWord),
		asm.LoadMem(ctxReg, asm.R1, lc.ctxSave, asm.DWord),
	)
	// Copy in the caller's variables the body uses.
	var pairs []copyPair
	for _, k := range sortedKeys(parentVars) {
		vname, _, _ := strings.Cut(k, "|")
		if !used[vname] || vname == s.Var {
			continue
		}
		ps := parentVars[k]
		size := (layout.Size(ps.t) + 7) &^ 7
		own := g.stack.alloc(size)
		g.vars[k] = varSlot{off: own, t: ps.t}
		pairs = append(pairs, copyPair{parent: ps.off, own: own, size: size})
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].own > pairs[j].own })
	if len(pairs) > 0 {
		g.emit(asm.LoadMem(asm.R2, asm.RFP, parent, asm.DWord))
		for _, p := range pairs {
			g.copyMem(asm.RFP, p.own, asm.R2, p.parent, p.size)
		}
	}
	if m != nil && m.PerCPU && m.Value.IsAggregation() {
		// The value of every CPU together, as reading the map gives.
		offs := layout.Offsets(vt)
		v, err := g.perCPURead(m, kv+int16(offs[0]), vt.Elems[1])
		if err != nil {
			return err
		}
		r := g.regs.use(v.i)
		g.emit(asm.StoreMem(asm.RFP, kv+int16(offs[1]), r, asm.DWord))
		g.regs.freeAll()
	}
	g.allocVars(s.Body)
	if err := g.block(s.Body); err != nil {
		return err
	}
	// The ways out, each only when something reaches it: the kernel
	// refuses unreachable instructions.
	if !g.dead || g.referenced(contL) {
		g.place(contL)
		g.emit(stImm(asm.RFP, ret, 0))
		g.jump(wbL)
	}
	if g.referenced(brkL) {
		g.place(brkL)
		g.emit(stImm(asm.RFP, ret, 1))
		g.jump(wbL)
	}
	if g.referenced(stopL) {
		g.place(stopL)
		g.emit(
			asm.LoadMem(asm.R1, asm.RFP, parent, asm.DWord),
			stImm(asm.R1, lc.stop, 1),
			stImm(asm.RFP, ret, 1),
		)
	}
	g.place(wbL)
	if len(pairs) > 0 {
		g.emit(asm.LoadMem(asm.R2, asm.RFP, parent, asm.DWord))
		for _, p := range pairs {
			g.copyMem(asm.R2, p.parent, asm.RFP, p.own, p.size)
		}
	}
	g.emit(asm.LoadMem(asm.R0, asm.RFP, ret, asm.DWord), asm.Return())
	if g.stack.err != nil {
		return g.errorf(s, "%v", g.stack.err)
	}
	depth := frameDepth(g.stack.max) + g.calleeDepth
	sp := subprog{insns: g.insns, pos: g.pos}
	g.restoreFrame(saved)
	g.subprogs = append(g.subprogs, sp)
	g.calleeDepth = max(g.calleeDepth, depth)
	return nil
}

// copyMem copies n bytes (a multiple of 8) from src+soff to dst+doff
// through R5.
func (g *gen) copyMem(dst asm.Register, doff int16, src asm.Register, soff int16, n int) {
	for i := 0; i+8 <= n; i += 8 {
		g.emit(
			asm.LoadMem(asm.R5, src, soff+int16(i), asm.DWord),
			asm.StoreMem(dst, doff+int16(i), asm.R5, asm.DWord),
		)
	}
}

// referenced reports whether an instruction of the current function jumps
// to label.
func (g *gen) referenced(label string) bool {
	for _, in := range g.insns {
		if in.Reference() == label {
			return true
		}
	}
	return false
}
