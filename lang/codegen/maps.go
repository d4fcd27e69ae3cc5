package codegen

import (
	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
)

// BPF_ANY and BPF_NOEXIST for map updates.
const (
	bpfAny     = 0
	bpfNoexist = 1
)

func (g *gen) mapOf(name string) *Map { return g.prog.Maps[g.mapIndex[name]] }

// keyBase is the size of a map's key before any hist bucket index: a
// map without keys has the 8-byte key 0, except a histogram, whose key
// is just the bucket index.
func keyBase(m *Map) int {
	switch {
	case m.Key != nil:
		return layout.Size(m.Key)
	case m.Value.Kind == ast.KindHist || m.Value.Kind == ast.KindLHist:
		return 0
	}
	return 8
}

// mapKey builds the key of m[keys] in a stack buffer, with room for a
// hist bucket index after it when the map holds a histogram (zeroed
// here: only aggregate writes it, with mapKeyFor).
func (g *gen) mapKey(m *Map, keys []ast.Expr) (int16, error) {
	return g.mapKeyFor(m, keys, false)
}

// mapKeyFor is mapKey; bucketWritten says the caller writes the hist
// bucket index itself, so that it needs no zeroing.
func (g *gen) mapKeyFor(m *Map, keys []ast.Expr, bucketWritten bool) (int16, error) {
	size := keyBase(m)
	extra := 0
	if m.Value.Kind == ast.KindHist || m.Value.Kind == ast.KindLHist {
		extra = layout.HistKey
	}
	off := g.stack.alloc(size + extra)
	// The key's bytes are written whole below (every value is stored at
	// its full layout size, buffers zero-padded), except without keys
	// (the key is 0) and in padding between the elements of a key tuple:
	// only those need clearing first.
	if !keyFilled(m, keys) {
		g.zero(off, size)
	}
	if extra > 0 && !bucketWritten {
		g.zero(off+int16(size), extra)
	}
	switch {
	case m.Key == nil:
	case len(keys) == 1:
		if err := g.exprTo(keys[0], off, m.Key); err != nil {
			return 0, err
		}
	default:
		offs := layout.Offsets(m.Key)
		for i, k := range keys {
			if err := g.exprTo(k, off+int16(offs[i]), m.Key.Elems[i]); err != nil {
				return 0, err
			}
		}
	}
	return off, nil
}

// keyFilled reports whether building the key of m[keys] writes every
// byte of it: a key of one value always does (storeAt and exprTo write a
// value's whole layout size); a key of several does when its elements
// leave no padding between or after them.
func keyFilled(m *Map, keys []ast.Expr) bool {
	switch {
	case m.Key == nil:
		return false
	case len(keys) == 1:
		return true
	}
	offs := layout.Offsets(m.Key)
	end := 0
	for i, et := range m.Key.Elems {
		if offs[i] != end {
			return false
		}
		end += layout.Size(et)
	}
	return end == layout.Size(m.Key)
}

// lookup emits map_lookup_elem(m, R10+key); R0 holds the result.
func (g *gen) lookup(m *Map, key int16) {
	g.emit(
		asm.LoadMapPtr(asm.R1, 0).WithReference(m.BPFName),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(key)),
		asm.FnMapLookupElem.Call(),
	)
}

// update emits map_update_elem(m, R10+key, R10+value, flags).
func (g *gen) update(m *Map, key, value int16, flags int32) {
	g.emit(
		asm.LoadMapPtr(asm.R1, 0).WithReference(m.BPFName),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(key)),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, int32(value)),
		asm.Mov.Imm(asm.R4, flags),
		asm.FnMapUpdateElem.Call(),
	)
}

// mapRead reads @m[k]: the value, or zero when the key is absent.
func (g *gen) mapRead(e *ast.MapExpr) (*val, error) {
	m := g.mapOf(e.Name)
	key, err := g.mapKey(m, e.Keys)
	if err != nil {
		return nil, err
	}
	t := m.Value
	if isBufType(t) {
		out := g.buffer(t)
		g.lookup(m, key)
		done := g.newLabel("mapmiss")
		g.emit(asm.JEq.Imm(asm.R0, 0, done))
		n := layout.Size(t)
		for i := 0; i+8 <= n; i += 8 {
			g.emit(asm.LoadMem(asm.R1, asm.R0, int16(i), asm.DWord), asm.StoreMem(asm.RFP, out.off+int16(i), asm.R1, asm.DWord))
		}
		g.place(done)
		return out, nil
	}
	if m.PerCPU && t.IsAggregation() {
		return g.perCPURead(m, key, e.Type())
	}
	v := g.regs.newVal()
	g.lookup(m, key)
	done := g.newLabel("mapmiss")
	g.emit(asm.Mov.Imm(v.reg, 0), asm.JEq.Imm(asm.R0, 0, done), asm.LoadMem(v.reg, asm.R0, 0, asm.DWord))
	g.place(done)
	rt := t
	if t.IsAggregation() {
		rt = ast.Int64
	}
	return intVal(rt, v), nil
}

// perCPURead reads an aggregation whole, as bpftrace does: the values of
// every CPU combined (added for count and sum, the least or greatest for
// min and max), with bpf_map_lookup_percpu_elem in a bounded loop.
func (g *gen) perCPURead(m *Map, key int16, rt *ast.Type) (*val, error) {
	g.regs.spillAll()
	acc, set, cpu := g.stack.alloc(8), g.stack.alloc(8), g.stack.alloc(8)
	g.emit(stImm(asm.RFP, acc, 0), stImm(asm.RFP, set, 0), stImm(asm.RFP, cpu, 0))
	loop, next := g.newLabel("cpuloop"), g.newLabel("cpunext")
	g.place(loop)
	g.emit(
		asm.LoadMapPtr(asm.R1, 0).WithReference(m.BPFName),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(key)),
		asm.LoadMem(asm.R3, asm.RFP, cpu, asm.DWord),
		asm.FnMapLookupPercpuElem.Call(),
		asm.JEq.Imm(asm.R0, 0, next),
		asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
	)
	switch m.Value.Kind {
	case ast.KindMin, ast.KindMax:
		// Only CPUs that saw a value; the first one seeds the result.
		better := g.newLabel("better")
		g.emit(
			asm.LoadMem(asm.R2, asm.R0, 8, asm.DWord),
			asm.JEq.Imm(asm.R2, 0, next),
			asm.LoadMem(asm.R2, asm.RFP, set, asm.DWord),
			asm.JEq.Imm(asm.R2, 0, better),
			asm.LoadMem(asm.R2, asm.RFP, acc, asm.DWord),
		)
		var keep asm.JumpOp
		switch {
		case m.Value.Kind == ast.KindMin && m.Value.Signed:
			keep = asm.JSGE
		case m.Value.Kind == ast.KindMin:
			keep = asm.JGE
		case m.Value.Signed:
			keep = asm.JSLE
		default:
			keep = asm.JLE
		}
		g.emit(keep.Reg(asm.R1, asm.R2, next))
		g.place(better)
		g.emit(asm.StoreMem(asm.RFP, acc, asm.R1, asm.DWord), stImm(asm.RFP, set, 1))
	default:
		g.emit(
			asm.LoadMem(asm.R2, asm.RFP, acc, asm.DWord),
			asm.Add.Reg(asm.R2, asm.R1),
			asm.StoreMem(asm.RFP, acc, asm.R2, asm.DWord),
		)
	}
	g.place(next)
	g.emit(
		asm.LoadMem(asm.R1, asm.RFP, cpu, asm.DWord),
		asm.Add.Imm(asm.R1, 1),
		asm.StoreMem(asm.RFP, cpu, asm.R1, asm.DWord),
		asm.JLT.Imm(asm.R1, int32(max(g.opts.NCPUs, 1)), loop),
	)
	return g.loadInt(acc, rt), nil
}

func (g *gen) assign(s *ast.AssignStmt) error {
	switch target := s.Target.(type) {
	case *ast.VarExpr:
		if s.Op == "=" {
			if tern, ok := s.Value.(*ast.Ternary); ok && tern.Then != nil {
				return g.ternaryToVar(target.Name, target.Type(), tern)
			}
			v, err := g.expr(s.Value)
			if err != nil {
				return err
			}
			return g.storeVar(target.Name, target.Type(), v)
		}
		slot, err := g.slot(target.Name, target.Type())
		if err != nil {
			return err
		}
		cur := g.loadInt(slot.off, slot.t)
		v, err := g.expr(s.Value)
		if err != nil {
			return err
		}
		res := g.arith(s.Op[:len(s.Op)-1], cur, v, !slot.t.IsUnsigned64() && !s.Value.Type().IsUnsigned64())
		return g.storeVar(target.Name, target.Type(), res)
	case *ast.MapExpr:
		m := g.mapOf(target.Name)
		if call, ok := s.Value.(*ast.Call); ok && call.Type() != nil && call.Type().IsAggregation() {
			return g.aggregate(m, target, call)
		}
		if s.Op != "=" {
			v, err := g.expr(s.Value)
			if err != nil {
				return err
			}
			if s.Op == "+=" {
				return g.mapAdd(m, target, v)
			}
			cur, err := g.mapRead(target)
			if err != nil {
				return err
			}
			res := g.arith(s.Op[:len(s.Op)-1], cur, v, !m.Value.IsUnsigned64())
			return g.mapStore(m, target, res)
		}
		if sideEffectFree(s.Value) && allSideEffectFree(target.Keys) && !readsFields(s.Value) {
			// Nothing to keep in order: the key first, then the value
			// straight into its slot (mapStore parks the value first, as
			// building the key may use every register). A value that
			// reads the probe's arguments still goes first: reads of the
			// context before any helper call let the context stay in R1.
			key, err := g.mapKey(m, target.Keys)
			if err != nil {
				return err
			}
			valOff := g.stack.alloc(layout.Size(m.Value))
			if err := g.exprTo(s.Value, valOff, m.Value); err != nil {
				return err
			}
			g.update(m, key, valOff, bpfAny)
			return nil
		}
		v, err := g.expr(s.Value)
		if err != nil {
			return err
		}
		return g.mapStore(m, target, v)
	}
	return g.errorf(s, "cannot assign to this")
}

// sideEffectFree reports whether evaluating e changes nothing another
// expression could see, so that it may be evaluated earlier or later: no
// calls, no ++ or --, no macro bodies.
func sideEffectFree(e ast.Expr) bool {
	ok := true
	ast.Inspect(e, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.Call, *ast.BlockExpr:
			ok = false
		case *ast.Unary:
			if n.Op == "++" || n.Op == "--" {
				ok = false
			}
		}
		return ok
	})
	return ok
}

// readsFields reports whether e reads fields of something (the probe's
// arguments, a struct).
func readsFields(e ast.Expr) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if _, ok := n.(*ast.FieldExpr); ok {
			found = true
		}
		return !found
	})
	return found
}

func allSideEffectFree(es []ast.Expr) bool {
	for _, e := range es {
		if !sideEffectFree(e) {
			return false
		}
	}
	return true
}

// arith computes x op y into x's register.
func (g *gen) arith(op string, x, y *val, signed bool) *val {
	if op == "/" || op == "%" {
		return g.divide(&ast.Binary{Op: op}, x, y, signed)
	}
	alu := aluOps[op]
	if signed && op == ">>" {
		alu = asm.ArSh
	}
	rx := g.regs.use(x.i)
	ry := g.regs.use(y.i)
	g.emit(alu.Reg(rx, ry))
	g.regs.free(y.i)
	g.regs.unpin(x.i)
	return x
}

// mapStore writes @m[k] = v.
func (g *gen) mapStore(m *Map, target *ast.MapExpr, v *val) error {
	// The value is parked before the key is built: building the key may
	// call helpers and use registers.
	valOff := g.stack.alloc(layout.Size(m.Value))
	g.storeAt(valOff, m.Value, v)
	if !v.isBuf() {
		g.regs.free(v.i)
	}
	key, err := g.mapKey(m, target.Keys)
	if err != nil {
		return err
	}
	g.update(m, key, valOff, bpfAny)
	return nil
}

// mapAdd adds v to @m[k], inserting it when the key is absent.
func (g *gen) mapAdd(m *Map, target *ast.MapExpr, v *val) error {
	valOff := g.stack.alloc(8)
	g.storeAt(valOff, ast.Int64, v)
	g.regs.free(v.i)
	key, err := g.mapKey(m, target.Keys)
	if err != nil {
		return err
	}
	g.lookup(m, key)
	miss, done := g.newLabel("addmiss"), g.newLabel("adddone")
	g.emit(
		asm.JEq.Imm(asm.R0, 0, miss),
		asm.LoadMem(asm.R1, asm.RFP, valOff, asm.DWord),
	)
	if m.PerCPU {
		g.emit(asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord), asm.Add.Reg(asm.R2, asm.R1), asm.StoreMem(asm.R0, 0, asm.R2, asm.DWord))
	} else {
		g.emit(asm.StoreXAdd(asm.R0, asm.R1, asm.DWord))
	}
	g.emit(asm.Ja.Label(done))
	g.place(miss)
	g.update(m, key, valOff, bpfAny)
	g.place(done)
	return nil
}

func (g *gen) incdec(e *ast.Unary) (*val, error) {
	delta := int64(1)
	if e.Op == "--" {
		delta = -1
	}
	switch x := e.X.(type) {
	case *ast.VarExpr:
		slot, err := g.slot(x.Name, x.Type())
		if err != nil {
			return nil, err
		}
		v := g.loadInt(slot.off, slot.t)
		r := g.regs.use(v.i)
		old := g.regs.newVal()
		g.emit(asm.Mov.Reg(old.reg, r), asm.Add.Imm(r, int32(delta)), asm.StoreMem(asm.RFP, slot.off, r, asm.DWord))
		g.regs.unpin(v.i)
		if e.Postfix {
			g.regs.free(v.i)
			return intVal(e.Type(), old), nil
		}
		g.regs.free(old)
		return v, nil
	case *ast.MapExpr:
		m := g.mapOf(x.Name)
		if err := g.mapAdd(m, x, intVal(ast.Int64, imm(delta))); err != nil {
			return nil, err
		}
		// The expression's value is the map's value now.
		return g.mapRead(x)
	}
	return nil, g.errorf(e, "%s applies to variables and maps", e.Op)
}

// aggregate generates @m[k] = count()/sum(x)/... on a per-CPU map.
func (g *gen) aggregate(m *Map, target *ast.MapExpr, call *ast.Call) error {
	t := call.Type()
	// count, hist and lhist add one to their slot; the others add or
	// compare their argument, parked on the stack while the key is built.
	countsOne := t.Kind == ast.KindCount || t.Kind == ast.KindHist || t.Kind == ast.KindLHist
	isHist := t.Kind == ast.KindHist || t.Kind == ast.KindLHist
	var arg int16
	// Without keys to build, the argument stays in a callee-saved
	// register (argv) across the lookup instead of going to the stack.
	var argv *ival
	if len(call.Args) > 0 {
		if len(target.Keys) == 0 {
			v, err := g.expr(call.Args[0])
			if err != nil {
				return err
			}
			argv = v.i
			g.regs.use(argv)
		} else {
			arg = g.stack.alloc(8)
			if err := g.exprTo(call.Args[0], arg, ast.Int64); err != nil {
				return err
			}
		}
	}
	// loadArg gives a register holding the argument, loading it into r
	// when it is on the stack.
	loadArg := func(r asm.Register) asm.Register {
		if argv != nil {
			return argv.reg
		}
		g.emit(asm.LoadMem(r, asm.RFP, arg, asm.DWord))
		return r
	}
	key, err := g.mapKeyFor(m, target.Keys, isHist)
	if err != nil {
		return err
	}
	if isHist {
		// The bucket is computed in the argument's register, which
		// nothing reads afterwards.
		g.bucket(t, loadArg(asm.R1), key+int16(keyBase(m)))
	}
	g.lookup(m, key)
	if m.Cell {
		// A one-entry array looked up at key 0 never misses, so there is
		// no first value to insert; the kernel still wants the NULL test.
		done := g.newLabel("aggdone")
		g.emit(
			asm.JEq.Imm(asm.R0, 0, done),
			asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord), asm.Add.Imm(asm.R2, 1), asm.StoreMem(asm.R0, 0, asm.R2, asm.DWord),
		)
		g.place(done)
		return nil
	}
	miss, done := g.newLabel("aggmiss"), g.newLabel("aggdone")
	g.emit(asm.JEq.Imm(asm.R0, 0, miss))
	src := asm.R1
	if !countsOne {
		src = loadArg(asm.R1)
	}
	// Per-CPU values: no other CPU writes them, plain updates suffice.
	switch t.Kind {
	case ast.KindCount, ast.KindHist, ast.KindLHist:
		// Always one more.
		g.emit(asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord), asm.Add.Imm(asm.R2, 1), asm.StoreMem(asm.R0, 0, asm.R2, asm.DWord))
	case ast.KindSum:
		g.emit(asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord), asm.Add.Reg(asm.R2, src), asm.StoreMem(asm.R0, 0, asm.R2, asm.DWord))
	case ast.KindAvg, ast.KindStats:
		g.emit(
			asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord), asm.Add.Reg(asm.R2, src), asm.StoreMem(asm.R0, 0, asm.R2, asm.DWord),
			asm.LoadMem(asm.R2, asm.R0, 8, asm.DWord), asm.Add.Imm(asm.R2, 1), asm.StoreMem(asm.R0, 8, asm.R2, asm.DWord),
		)
	case ast.KindMin, ast.KindMax:
		// Replace when unset or when the new value wins.
		keep := g.newLabel("keep")
		set := g.newLabel("set")
		g.emit(
			asm.LoadMem(asm.R3, asm.R0, 8, asm.DWord),
			asm.JEq.Imm(asm.R3, 0, set),
			asm.LoadMem(asm.R2, asm.R0, 0, asm.DWord),
		)
		var jop asm.JumpOp
		switch {
		case t.Kind == ast.KindMin && t.Signed:
			jop = asm.JSGE
		case t.Kind == ast.KindMin:
			jop = asm.JGE
		case t.Signed:
			jop = asm.JSLE
		default:
			jop = asm.JLE
		}
		// keep when new >= cur (min) or new <= cur (max)
		g.emit(jop.Reg(src, asm.R2, keep))
		g.place(set)
		g.emit(asm.StoreMem(asm.R0, 0, src, asm.DWord), stImm(asm.R0, 8, 1))
		g.place(keep)
	}
	g.emit(asm.Ja.Label(done))
	g.place(miss)
	// First value on this CPU: insert the initial record.
	// The record is the map's value size: 8 bytes for count, sum and
	// the hist buckets, 16 for the others.
	size := layout.Size(m.Value)
	init := g.stack.alloc(size)
	if countsOne {
		g.emit(stImm(asm.RFP, init, 1))
	} else {
		g.emit(asm.StoreMem(asm.RFP, init, loadArg(asm.R1), asm.DWord))
	}
	switch {
	case size <= 8:
	case t.Kind == ast.KindAvg || t.Kind == ast.KindStats || t.Kind == ast.KindMin || t.Kind == ast.KindMax:
		g.emit(stImm(asm.RFP, init+8, 1))
	default:
		g.emit(stImm(asm.RFP, init+8, 0))
	}
	g.update(m, key, init, bpfAny)
	g.place(done)
	return nil
}

// bucket computes the hist or lhist bucket of the value in v (R1 or a
// pool register, which it overwrites) into R10+dst, with bpftrace's
// numbering (see layout).
func (g *gen) bucket(t *ast.Type, v asm.Register, dst int16) {
	done := g.newLabel("bucket")
	if t.Kind == ast.KindLHist {
		// 0: below min; 1..n: [min + (i-1)*step, ...); n+1: max and above.
		n := (t.Max - t.Min + t.Step - 1) / t.Step
		g.emit(asm.Mov.Imm(asm.R2, 0))
		g.jumpConst(asm.JSLT, v, t.Min, done)
		g.movConst(asm.R2, n+1)
		g.jumpConst(asm.JSGE, v, t.Max, done)
		g.emit(asm.Mov.Reg(asm.R2, v))
		g.aluConst(asm.Sub, asm.R2, t.Min)
		g.aluConst(asm.Div, asm.R2, t.Step) // v - min >= 0 here
		g.emit(asm.Add.Imm(asm.R2, 1))
		g.place(done)
		g.emit(asm.StoreMem(asm.RFP, dst, asm.R2, asm.DWord))
		return
	}
	// Log2: 0 for negatives, 1 for zero, 2 + floor(log2(v)) otherwise,
	// by binary search on v (positive here): v >= 1<<k adds k and shifts
	// v right by k, for k = 32, 16, ..., 1.
	g.emit(
		asm.Mov.Imm(asm.R2, 0),
		asm.JSLT.Imm(v, 0, done),
		asm.Mov.Imm(asm.R2, 1),
		asm.JEq.Imm(v, 0, done),
		asm.Mov.Imm(asm.R2, 2),
	)
	for _, shift := range []int32{32, 16, 8, 4, 2, 1} {
		skip := g.newLabel("log2")
		if shift == 32 {
			// 1<<32 does not fit in an immediate: test the high half.
			g.emit(
				asm.Mov.Reg(asm.R3, v),
				asm.RSh.Imm(asm.R3, 32),
				asm.JEq.Imm(asm.R3, 0, skip),
				asm.Mov.Reg(v, asm.R3),
			)
		} else {
			g.emit(asm.JLT.Imm(v, 1<<shift, skip))
			if shift > 1 {
				g.emit(asm.RSh.Imm(v, shift)) // the last shift is not needed
			}
		}
		g.emit(asm.Add.Imm(asm.R2, shift))
		g.place(skip)
	}
	g.place(done)
	g.emit(asm.StoreMem(asm.RFP, dst, asm.R2, asm.DWord))
}

// fitsImm reports whether k is an instruction's 32-bit immediate, which
// the CPU sign-extends to 64 bits.
func fitsImm(k int64) bool { return k >= -1<<31 && k < 1<<31 }

// movConst sets r to k, in one slot when k fits an immediate.
func (g *gen) movConst(r asm.Register, k int64) {
	if fitsImm(k) {
		g.emit(asm.Mov.Imm(r, int32(k)))
		return
	}
	g.emit(asm.LoadImm(r, k, asm.DWord))
}

// jumpConst jumps to label when v op k, through R3 when k does not fit
// an immediate.
func (g *gen) jumpConst(op asm.JumpOp, v asm.Register, k int64, label string) {
	if fitsImm(k) {
		g.emit(op.Imm(v, int32(k), label))
		return
	}
	g.emit(asm.LoadImm(asm.R3, k, asm.DWord), op.Reg(v, asm.R3, label))
}

// aluConst computes r op= k, through R3 when k does not fit an
// immediate.
func (g *gen) aluConst(op asm.ALUOp, r asm.Register, k int64) {
	// The verifier refuses a division by the immediate 0; by a register
	// holding 0 it gives 0.
	if fitsImm(k) && !(k == 0 && (op == asm.Div || op == asm.Mod)) {
		g.emit(op.Imm(r, int32(k)))
		return
	}
	g.emit(asm.LoadImm(asm.R3, k, asm.DWord), op.Reg(r, asm.R3))
}
