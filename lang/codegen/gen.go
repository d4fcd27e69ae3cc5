package codegen

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
	"github.com/wagglebpf/waggle/lang/sema"
)

// gen generates one probe's program.
type gen struct {
	prog     *Program
	inst     *sema.Instance
	mapIndex map[string]int
	opts     Options

	insns   asm.Instructions
	pos     []ast.Span // parallel to insns
	cur     ast.Span   // the node being generated
	pending []string   // labels for the next instruction
	alias   map[string]string
	// dead is set after an unconditional jump: until the next label no
	// instruction can run, and the verifier refuses unreachable ones.
	dead bool
	// needLenCallback appends len()'s callback function to the program.
	needLenCallback bool
	// subprogs are the callback functions of for loops, appended after
	// the main function, each starting with its BTF function info.
	subprogs []subprog
	// calleeDepth is the deepest stack the callbacks called from the
	// function being generated need, their own callbacks included: the
	// kernel counts the frames of a call chain together against 512 bytes.
	calleeDepth int
	labels      int

	regs  *regalloc
	stack stack
	vars  map[string]varSlot
	// loop labels for break and continue.
	breakLabel, continueLabel []string
	exitLabel                 string
}

type varSlot struct {
	off int16
	t   *ast.Type
}

// val is the result of an expression: an integer (i) or a buffer on the
// stack (off, t.Size or layout.Size(t) bytes).
type val struct {
	t   *ast.Type
	i   *ival
	off int16
}

func (v *val) isBuf() bool { return v.i == nil }

func (g *gen) errorf(n ast.Node, format string, args ...any) error {
	return &sema.Error{Span: n.Pos(), Msg: fmt.Sprintf(format, args...)}
}

// at sets the source position of the instructions emitted next.
func (g *gen) at(n ast.Node) func() {
	prev := g.cur
	g.cur = n.Pos()
	return func() { g.cur = prev }
}

func (g *gen) emit(ins ...asm.Instruction) {
	for _, in := range ins {
		if g.dead {
			if len(g.pending) == 0 {
				continue
			}
			g.dead = false
		}
		// Several labels on one spot: the first names the instruction and
		// jumps to the others are redirected to it when the program is done.
		if len(g.pending) > 0 {
			for _, other := range g.pending[1:] {
				g.alias[other] = g.pending[0]
			}
			in = in.WithSymbol(g.pending[0])
			g.pending = nil
		}
		g.insns = append(g.insns, in)
		g.pos = append(g.pos, g.cur)
	}
}

// jump emits an unconditional jump; what follows until a label is dead.
func (g *gen) jump(label string) {
	g.emit(asm.Ja.Label(label))
	g.dead = true
}

func (g *gen) newLabel(kind string) string {
	g.labels++
	return fmt.Sprintf("%s_%d", kind, g.labels)
}

// place puts a label on the next instruction.
func (g *gen) place(label string) {
	g.pending = append(g.pending, label)
}

// sources maps raw instruction offsets to positions.
func (g *gen) sources() map[int]ast.Span {
	out := map[int]ast.Span{}
	off := 0
	for i, in := range g.insns {
		out[off] = g.pos[i]
		off += int(in.Size() / asm.InstructionSize)
	}
	return out
}

// probe generates the whole program of the instance.
func (g *gen) probe() (asm.Instructions, error) {
	p := g.inst.Probe
	g.cur = p.Pos()
	g.exitLabel = g.newLabel("exit")
	g.emit(asm.Mov.Reg(ctxReg, asm.R1))
	if g.opts.PID != 0 && g.inst.Kind != sema.ProbeBegin && g.inst.Kind != sema.ProbeEnd {
		g.emit(
			asm.FnGetCurrentPidTgid.Call(),
			asm.RSh.Imm(asm.R0, 32),
			asm.JNE.Imm(asm.R0, int32(g.opts.PID), g.exitLabel),
		)
	}
	g.allocVars(p.Body)
	if p.Pred != nil {
		done := g.at(p.Pred)
		if err := g.branch(p.Pred, g.exitLabel, false); err != nil {
			return nil, err
		}
		g.regs.freeAll()
		done()
	}
	if err := g.block(p.Body); err != nil {
		return nil, err
	}
	g.place(g.exitLabel)
	g.emit(asm.Mov.Imm(asm.R0, 0), asm.Return())
	if g.needLenCallback {
		// A program with a second function needs BTF function info for
		// both; cilium/ebpf builds it from this metadata.
		cb := &btf.Func{
			Name: lenCallback, Linkage: btf.StaticFunc,
			Type: &btf.FuncProto{Return: long, Params: []btf.FuncParam{
				{Name: "map", Type: ptr}, {Name: "key", Type: ptr}, {Name: "value", Type: ptr}, {Name: "ctx", Type: ptr},
			}},
		}
		g.dead = false
		g.emit(btf.WithFuncMetadata(asm.Mov.Imm(asm.R0, 0).WithSymbol(lenCallback), cb), asm.Return())
	}
	for _, sp := range g.subprogs {
		g.insns = append(g.insns, sp.insns...)
		g.pos = append(g.pos, sp.pos...)
	}
	if g.stack.err != nil {
		return nil, g.errorf(p, "%v", g.stack.err)
	}
	if d := frameDepth(g.stack.max) + g.calleeDepth; d > stackSize {
		return nil, g.errorf(p, "the probe and its for loops need %d bytes of BPF stack together, more than %d; use fewer or shorter strings (config = { max_strlen = N })", d, stackSize)
	}
	for i, in := range g.insns {
		if target, ok := g.alias[in.Reference()]; ok {
			g.insns[i] = in.WithReference(target)
		}
	}
	prologue := true
	if !g.usesContext() {
		// Nothing reads the context: drop the prologue that saved it.
		g.insns, g.pos = g.insns[1:], g.pos[1:]
		prologue = false
	}
	g.peephole(prologue)
	if g.needLenCallback || len(g.subprogs) > 0 {
		g.insns[0] = btf.WithFuncMetadata(g.insns[0], &btf.Func{
			Name: "probe", Linkage: btf.GlobalFunc,
			Type: &btf.FuncProto{Return: long, Params: []btf.FuncParam{{Name: "ctx", Type: ptr}}},
		})
	}
	return g.insns, nil
}

// Types of the BTF function info of programs with a len() callback.
var (
	long = &btf.Int{Name: "long", Size: 8, Encoding: btf.Signed}
	ptr  = &btf.Pointer{Target: &btf.Void{}}
)

// usesContext reports whether any instruction after the prologue reads R6.
func (g *gen) usesContext() bool {
	for _, in := range g.insns[1:] {
		if in.OpCode.IsDWordLoad() {
			continue // Src holds a pseudo-source, not a register
		}
		if in.Src == ctxReg || in.Dst == ctxReg {
			return true
		}
	}
	return false
}

// allocVars gives every scratch variable of the probe a stack slot of its
// widest type, for the whole probe.
func (g *gen) allocVars(b *ast.Block) {
	sizes := map[string]*ast.Type{}
	var walk func(s ast.Stmt)
	// inFor is set inside the bodies of for loops, which run as callbacks
	// with frames of their own: there, only variables of this frame that
	// the body assigns (perhaps a longer string) are noted.
	inFor := false
	note := func(name string, t *ast.Type) {
		if t == nil {
			return
		}
		k := slotKey(name, t)
		old, ok := sizes[k]
		if inFor && !ok {
			return
		}
		if !ok || layout.Size(t) > layout.Size(old) {
			sizes[k] = t
		}
	}
	// scan finds the statements of macro expansions inside expressions.
	var scan func(e ast.Expr)
	scan = func(e ast.Expr) {
		if e == nil {
			return
		}
		ast.Inspect(e, func(n ast.Node) bool {
			if b, ok := n.(*ast.BlockExpr); ok {
				for _, x := range b.Stmts {
					walk(x)
				}
				scan(b.Value)
				return false
			}
			return true
		})
	}
	walk = func(s ast.Stmt) {
		switch s := s.(type) {
		case *ast.ExprStmt:
			scan(s.X)
		case *ast.VarDecl:
			scan(s.Value)
		case *ast.AssignStmt:
			scan(s.Target)
			scan(s.Value)
		case *ast.IfStmt:
			scan(s.Cond)
		case *ast.WhileStmt:
			scan(s.Cond)
		case *ast.ForStmt:
			scan(s.Lo)
			scan(s.Hi)
		case *ast.JumpStmt:
			scan(s.Value)
		}
		switch s := s.(type) {
		case *ast.Block:
			for _, x := range s.Stmts {
				walk(x)
			}
		case *ast.VarDecl:
			note(s.Name, g.declType(s))
		case *ast.AssignStmt:
			if v, ok := s.Target.(*ast.VarExpr); ok {
				note(v.Name, v.Type())
			}
		case *ast.IfStmt:
			walk(s.Then)
			if s.Else != nil {
				walk(s.Else)
			}
		case *ast.WhileStmt:
			walk(s.Body)
		case *ast.UnrollStmt:
			walk(s.Body)
		case *ast.ForStmt:
			saved := inFor
			inFor = true
			walk(s.Body)
			inFor = saved
		}
	}
	walk(b)
	var pred ast.Expr
	if b == g.inst.Probe.Body {
		pred = g.inst.Probe.Pred
	}
	written := writtenFirst(b, pred)
	kinds := map[string]int{}
	for k := range sizes {
		name, _, _ := strings.Cut(k, "|")
		kinds[name]++
	}
	for _, k := range sortedKeys(sizes) {
		t := sizes[k]
		if _, ok := g.vars[k]; ok {
			continue // a for loop's copy of a variable of the probe
		}
		off := g.stack.alloc(layout.Size(t))
		g.vars[k] = varSlot{off: off, t: t}
		// A slot that an assignment fills whole before anything reads it
		// needs no clearing.
		name, _, _ := strings.Cut(k, "|")
		if written[name] && kinds[name] == 1 && layout.Size(t)%8 == 0 {
			continue
		}
		g.zero(off, layout.Size(t))
	}
}

// writtenFirst finds the variables whose first mention in b (after the
// predicate pred, when not nil) is a plain assignment (= or let with a
// value) at the top level of b, whose value does not mention them: such
// an assignment runs before any read of the variable, and storeVar
// writes the variable's whole slot.
func writtenFirst(b *ast.Block, pred ast.Expr) map[string]bool {
	seen := map[string]bool{}
	mention := func(n ast.Node) {
		ast.Inspect(n, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.VarExpr:
				seen[n.Name] = true
			case *ast.VarDecl:
				seen[n.Name] = true
			}
			return true
		})
	}
	if pred != nil {
		mention(pred)
	}
	written := map[string]bool{}
	for _, s := range b.Stmts {
		var name string
		var value ast.Expr
		switch s := s.(type) {
		case *ast.AssignStmt:
			if v, ok := s.Target.(*ast.VarExpr); ok && s.Op == "=" {
				name, value = v.Name, s.Value
			}
		case *ast.VarDecl:
			name, value = s.Name, s.Value
		}
		if value != nil && !seen[name] {
			mention(value)
			if !seen[name] {
				written[name] = true
			}
		}
		mention(s)
	}
	return written
}

// declType is the type a let declaration gives its variable.
func (g *gen) declType(s *ast.VarDecl) *ast.Type {
	if s.Type != nil {
		if dt, err := g.prog.Info.TypeOf(s.Type); err == nil {
			return dt
		}
	}
	if s.Value != nil && s.Value.Type() != nil {
		return s.Value.Type()
	}
	return ast.Int64
}

// slotKey names a variable's stack slot. A name used with types of
// different kinds in different blocks (block scoping allows it) gets one
// slot per kind; strings of different lengths share the longest.
func slotKey(name string, t *ast.Type) string {
	switch t.Kind {
	case ast.KindInt, ast.KindBool, ast.KindPtr:
		return name + "|int"
	case ast.KindString:
		return name + "|str"
	}
	return name + "|" + t.String()
}

// slot finds the slot of a variable used with type t.
func (g *gen) slot(name string, t *ast.Type) (varSlot, error) {
	s, ok := g.vars[slotKey(name, t)]
	if !ok {
		return s, fmt.Errorf("codegen: no slot for %s of type %s", name, t)
	}
	return s, nil
}

// zero clears n bytes at R10+off (n a multiple of 8).
func (g *gen) zero(off int16, n int) {
	for i := 0; i < n; i += 8 {
		g.emit(stImm(asm.RFP, off+int16(i), 0))
	}
}

func (g *gen) block(b *ast.Block) error {
	for _, s := range b.Stmts {
		if err := g.stmt(s); err != nil {
			return err
		}
	}
	return nil
}

func (g *gen) stmt(s ast.Stmt) error {
	defer g.at(s)()
	mark := g.stack.mark()
	defer func() {
		g.stack.release(mark)
		g.regs.freeAll()
	}()
	switch s := s.(type) {
	case *ast.Block:
		return g.block(s)
	case *ast.ExprStmt:
		return g.exprStmt(s.X)
	case *ast.VarDecl:
		if s.Value == nil {
			return nil
		}
		if tern, ok := s.Value.(*ast.Ternary); ok && tern.Then != nil {
			return g.ternaryToVar(s.Name, g.declType(s), tern)
		}
		v, err := g.expr(s.Value)
		if err != nil {
			return err
		}
		return g.storeVar(s.Name, g.declType(s), v)
	case *ast.AssignStmt:
		return g.assign(s)
	case *ast.IfStmt:
		return g.ifStmt(s)
	case *ast.WhileStmt:
		top, end := g.newLabel("while"), g.newLabel("endwhile")
		g.place(top)
		if err := g.branch(s.Cond, end, false); err != nil {
			return err
		}
		g.regs.freeAll()
		g.breakLabel = append(g.breakLabel, end)
		g.continueLabel = append(g.continueLabel, top)
		err := g.block(s.Body)
		g.breakLabel = g.breakLabel[:len(g.breakLabel)-1]
		g.continueLabel = g.continueLabel[:len(g.continueLabel)-1]
		if err != nil {
			return err
		}
		g.emit(asm.Ja.Label(top))
		g.place(end)
		return nil
	case *ast.UnrollStmt:
		n := int(s.Count.(*ast.IntLit).Value)
		for i := 0; i < n; i++ {
			if err := g.block(s.Body); err != nil {
				return err
			}
		}
		return nil
	case *ast.ForStmt:
		return g.forStmt(s)
	case *ast.JumpStmt:
		switch s.Kind {
		case "return":
			g.jump(g.exitLabel)
		case "break":
			g.jump(g.breakLabel[len(g.breakLabel)-1])
		case "continue":
			g.jump(g.continueLabel[len(g.continueLabel)-1])
		}
		return nil
	}
	return g.errorf(s, "this statement is not supported yet")
}

func (g *gen) ifStmt(s *ast.IfStmt) error {
	elseL, endL := g.newLabel("else"), g.newLabel("endif")
	if err := g.branch(s.Cond, elseL, false); err != nil {
		return err
	}
	g.regs.freeAll()
	if err := g.block(s.Then); err != nil {
		return err
	}
	if s.Else != nil {
		g.emit(asm.Ja.Label(endL))
	}
	g.place(elseL)
	if s.Else != nil {
		if err := g.stmt(s.Else); err != nil {
			return err
		}
		g.place(endL)
	}
	return nil
}

// ternaryToVar assigns c ? a : b to a variable: each arm stores its
// value into the variable's slot.
func (g *gen) ternaryToVar(name string, t *ast.Type, e *ast.Ternary) error {
	if _, err := g.slot(name, t); err != nil {
		return err
	}
	defer g.at(e)()
	return g.ternaryTo(e, func(v *val) { g.storeVar(name, t, v) })
}

// storeVar writes a value into a scratch variable of type t.
func (g *gen) storeVar(name string, t *ast.Type, v *val) error {
	slot, err := g.slot(name, t)
	if err != nil {
		return err
	}
	if !v.isBuf() && t.Kind == ast.KindInt && t.Size < 8 {
		v = g.truncate(v, t)
	}
	g.storeAt(slot.off, slot.t, v)
	return nil
}

// storeAt writes v, converted to type t's layout, at R10+off.
func (g *gen) storeAt(off int16, t *ast.Type, v *val) {
	if !v.isBuf() && v.i.isImm && v.i.imm >= -1<<31 && v.i.imm < 1<<31 {
		g.emit(stImm(asm.RFP, off, v.i.imm))
		return
	}
	if !v.isBuf() {
		r := g.regs.use(v.i)
		g.emit(asm.StoreMem(asm.RFP, off, r, asm.DWord))
		g.regs.unpin(v.i)
		return
	}
	dst := layout.Size(t)
	src := layout.Size(v.t)
	if t.Kind == ast.KindTuple && v.t.Kind == ast.KindTuple {
		// Element-wise, since strings inside may differ in length.
		doffs, soffs := layout.Offsets(t), layout.Offsets(v.t)
		g.zero(off, dst)
		for i := range t.Elems {
			ev := &val{t: v.t.Elems[i], off: v.off + int16(soffs[i])}
			if !isBufType(v.t.Elems[i]) {
				ev = g.loadInt(v.off+int16(soffs[i]), v.t.Elems[i])
			}
			g.storeAt(off+int16(doffs[i]), t.Elems[i], ev)
		}
		return
	}
	// Buffers are whole words, zero-padded: copy the common part and
	// clear the rest.
	n := min(dst, src)
	g.copyStack(off, v.off, n)
	if dst > n {
		g.zero(off+int16(n), dst-n)
	}
}

// exprTo evaluates e straight into R10+off as type t: values that a
// helper writes into memory (comm, str()) go there directly instead of
// through a temporary buffer.
func (g *gen) exprTo(e ast.Expr, off int16, t *ast.Type) error {
	if id, ok := e.(*ast.Ident); ok && id.Name == "comm" && t.Kind == ast.KindString && layout.Size(t) >= 16 {
		defer g.at(e)()
		g.zero(off+16, layout.Size(t)-16)
		g.emit(
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.Add.Imm(asm.R1, int32(off)),
			asm.Mov.Imm(asm.R2, 16),
			asm.FnGetCurrentComm.Call(),
		)
		return nil
	}
	if c, ok := e.(*ast.Call); ok && c.Func == "str" && c.Args[0].Type().Kind != ast.KindString &&
		t.Kind == ast.KindString && layout.Size(t) >= layout.Size(c.Type()) {
		defer g.at(e)()
		return g.strTo(c, off, layout.Size(t))
	}
	if c, ok := e.(*ast.Ternary); ok && c.Then != nil {
		defer g.at(e)()
		return g.ternaryTo(c, func(v *val) { g.storeAt(off, t, v) })
	}
	v, err := g.expr(e)
	if err != nil {
		return err
	}
	g.storeAt(off, t, v)
	if !v.isBuf() {
		g.regs.free(v.i)
	}
	return nil
}

// storeConst writes the 64-bit constant k at R10+off.
func (g *gen) storeConst(off int16, k int64) {
	if k >= -1<<31 && k < 1<<31 {
		g.emit(stImm(asm.RFP, off, k))
		return
	}
	g.emit(asm.LoadImm(asm.R1, k, asm.DWord), asm.StoreMem(asm.RFP, off, asm.R1, asm.DWord))
}

func isBufType(t *ast.Type) bool {
	switch t.Kind {
	case ast.KindString, ast.KindTuple, ast.KindBuffer, ast.KindArray, ast.KindRecord, ast.KindInet, ast.KindMac, ast.KindUsym, ast.KindStack:
		return true
	}
	return false
}

// copyStack copies n bytes (a multiple of 8, or rounded down to bytes)
// between stack buffers.
func (g *gen) copyStack(dst, src int16, n int) {
	if dst == src {
		return
	}
	i := 0
	for ; i+8 <= n; i += 8 {
		g.emit(asm.LoadMem(asm.R1, asm.RFP, src+int16(i), asm.DWord), asm.StoreMem(asm.RFP, dst+int16(i), asm.R1, asm.DWord))
	}
	for ; i < n; i++ {
		g.emit(asm.LoadMem(asm.R1, asm.RFP, src+int16(i), asm.Byte), asm.StoreMem(asm.RFP, dst+int16(i), asm.R1, asm.Byte))
	}
}

// loadInt reads an 8-byte integer from the stack into a new value.
func (g *gen) loadInt(off int16, t *ast.Type) *val {
	v := g.regs.newVal()
	g.emit(asm.LoadMem(v.reg, asm.RFP, off, asm.DWord))
	return &val{t: t, i: v}
}

// buffer allocates a zeroed stack buffer for a value of type t.
func (g *gen) buffer(t *ast.Type) *val {
	n := layout.Size(t)
	off := g.stack.alloc(n)
	g.zero(off, (n+7)&^7)
	return &val{t: t, off: off}
}

// stringConst writes s into a new string buffer of size bytes.
func (g *gen) stringConst(s string, size int) *val {
	t := &ast.Type{Kind: ast.KindString, Size: size}
	off := g.stack.alloc(size)
	b := make([]byte, (size+7)&^7)
	copy(b, s)
	for i := 0; i < len(b); i += 8 {
		g.emit(stImm(asm.RFP, off+int16(i), 0))
		w := int64(binary.NativeEndian.Uint64(b[i:]))
		if w == 0 {
			continue
		}
		g.emit(asm.LoadImm(asm.R1, w, asm.DWord), asm.StoreMem(asm.RFP, off+int16(i), asm.R1, asm.DWord))
	}
	return &val{t: t, off: off}
}

// extend widens the low bits of r to 64, with the sign when signed, else
// with zeros.
func (g *gen) extend(r asm.Register, bits int, signed bool) {
	if bits >= 64 {
		return
	}
	shift := int32(64 - bits)
	g.emit(asm.LSh.Imm(r, shift))
	if signed {
		g.emit(asm.ArSh.Imm(r, shift))
	} else {
		g.emit(asm.RSh.Imm(r, shift))
	}
}

// extendConst is extend on a constant.
func extendConst(v int64, bits int, signed bool) int64 {
	if bits >= 64 {
		return v
	}
	shift := 64 - bits
	if signed {
		return v << shift >> shift
	}
	return int64(uint64(v) << shift >> shift)
}

// memSize is the load or store width of n bytes (1, 2, 4; else 8).
func memSize(n int) asm.Size {
	switch n {
	case 1:
		return asm.Byte
	case 2:
		return asm.Half
	case 4:
		return asm.Word
	}
	return asm.DWord
}
