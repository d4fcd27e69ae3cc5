package sema

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/ctypes"
	"github.com/wagglebpf/waggle/lang/parser"
)

// Config holds the settings a script may change with `config = { ... }`.
type Config struct {
	MaxStrlen        int
	MaxMapKeys       int
	PrintMapsOnExit  bool
	MissingProbesErr bool // missing_probes = "error" (default) or "warn"/"ignore"
}

// DefaultConfig is bpftrace's defaults where waggle's layout allows them:
// strings are built on the 512-byte BPF stack, so max_strlen stays small.
var DefaultConfig = Config{MaxStrlen: 64, MaxMapKeys: 4096, PrintMapsOnExit: true, MissingProbesErr: true}

// MapInfo is what all probes together say about one map.
type MapInfo struct {
	Name  string    // "@name"
	Key   *ast.Type // nil for a map without keys
	Value *ast.Type
	// PerCPU maps hold aggregations (count, sum, ...), one value per CPU.
	PerCPU bool
	// Kind from an explicit declaration ("hash", "lruhash", ...), else "".
	Kind       string
	MaxEntries int
	// First is where the map's type was first fixed, for messages.
	First ast.Node
}

// Info is the result of checking a program.
type Info struct {
	// kernelBTF is Options.KernelBTF, never nil.
	kernelBTF func() (*btf.Spec, error)
	Prog      *ast.Program
	Instances []*Instance
	Maps      map[string]*MapInfo
	Config    Config
	// Params are the positional parameters ($1...).
	Params []string
	// Types holds the script's C definitions and finds the kernel's.
	Types *ctypes.Defs
	// Consts are the values of identifiers that name a #define or an enum
	// constant, and ConstExprs those of sizeof and offsetof.
	Consts     map[*ast.Ident]ctypes.Const
	ConstExprs map[ast.Expr]int64
	// Unsafe allows system() and signal() (--unsafe).
	Unsafe bool
	// NamedArgs are the named program arguments (-- --name=value), and
	// Getopts what the script's getopt() calls make of them, by name.
	NamedArgs map[string]string
	Getopts   map[string]*Getopt
}

// MapNames lists the maps in a stable order (by name).
func (in *Info) MapNames() []string {
	names := make([]string, 0, len(in.Maps))
	for n := range in.Maps {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Error is a problem at a place in the script. lang/parser renders the same
// shape with the source line and a caret.
type Error struct {
	Span ast.Span
	Msg  string
}

func (e *Error) Error() string { return e.Span.Start.String() + ": " + e.Msg }

// ErrorList is every problem found.
type ErrorList []*Error

func (l ErrorList) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Options for Check.
type Options struct {
	// Params are positional parameters: $1 is Params[0].
	Params []string
	// NCPUs is the value of the ncpus builtin.
	NCPUs int
	// PID is -p: usdt:*:NAME probes are looked up in this process.
	PID int
	// Unsafe allows system() and signal() (--unsafe).
	Unsafe bool
	// NamedArgs are the named program arguments after "--": --name=value,
	// or --name alone (value ""), for getopt().
	NamedArgs map[string]string
	// KernelBTF returns the type information of the kernel the program is
	// for; nil means the running kernel's.
	KernelBTF func() (*btf.Spec, error)
}

type checker struct {
	info *Info
	errs ErrorList
	opts Options
	// Per instance state.
	inst   *Instance
	scopes []map[string]*ast.Type
	// collect is true in the first pass, which only gathers map types and
	// does not report uses of maps that are assigned later.
	collect bool
	loops   int
}

func (c *checker) errorf(n ast.Node, format string, args ...any) {
	if c.collect {
		return
	}
	for _, e := range c.errs {
		if e.Span == n.Pos() {
			return // one message per place
		}
	}
	c.errs = append(c.errs, &Error{Span: n.Pos(), Msg: displayNames(fmt.Sprintf(format, args...))})
}

// Check resolves the probes of prog and type-checks every probe body.
func Check(prog *ast.Program, opts Options) (*Info, error) {
	if opts.KernelBTF == nil {
		opts.KernelBTF = btf.LoadKernelSpec
	}
	c := &checker{info: &Info{Prog: prog, Maps: map[string]*MapInfo{}, Config: DefaultConfig, Params: opts.Params,
		Unsafe: opts.Unsafe, NamedArgs: opts.NamedArgs, Getopts: map[string]*Getopt{}, kernelBTF: opts.KernelBTF}, opts: opts}
	c.config(prog.Config)
	c.cdefs(prog)
	c.expandMacros(prog)
	for _, d := range prog.Maps {
		c.declareMap(d)
	}
	for _, p := range prog.Probes {
		for _, ap := range p.Attach {
			c.info.Instances = append(c.info.Instances, c.resolve(p, ap)...)
		}
	}
	if len(c.errs) > 0 {
		sort.SliceStable(c.errs, func(i, j int) bool { return c.errs[i].Span.Start.Offset < c.errs[j].Span.Start.Offset })
		return nil, c.errs
	}
	// Pass 1 fixes map types from every assignment; pass 2 checks all.
	c.collect = true
	for _, inst := range c.info.Instances {
		c.checkInstance(inst)
	}
	c.collect = false
	for _, inst := range c.info.Instances {
		c.checkInstance(inst)
	}
	// A declared map that nothing assigns has no value type to build it with.
	for _, d := range prog.Maps {
		if mi := c.info.Maps[d.Name]; mi != nil && mi.Value == nil {
			c.errorf(d, "%s is declared but never assigned a value", d.Name)
		}
	}
	if len(c.errs) > 0 {
		sort.SliceStable(c.errs, func(i, j int) bool { return c.errs[i].Span.Start.Offset < c.errs[j].Span.Start.Offset })
		return nil, c.errs
	}
	return c.info, nil
}

// Retype checks one instance again, so that the types on the shared AST are
// the ones of this instance (wildcard instances differ in args). The code
// generator calls it before generating each instance.
func (in *Info) Retype(inst *Instance, opts Options) error {
	c := &checker{info: in, opts: opts}
	c.checkInstance(inst)
	if len(c.errs) > 0 {
		return c.errs
	}
	return nil
}

func (c *checker) config(items []*ast.ConfigItem) {
	cfg := &c.info.Config
	for _, it := range items {
		switch strings.ToLower(strings.TrimPrefix(strings.ToLower(it.Name), "bpftrace_")) {
		case "max_strlen":
			if v, ok := constInt(it.Value); ok && v > 0 && v <= 200 {
				cfg.MaxStrlen = int(v)
			} else {
				c.errorf(it, "max_strlen must be an integer from 1 to 200 (strings live on the 512-byte BPF stack)")
			}
		case "max_map_keys":
			if v, ok := constInt(it.Value); ok && v > 0 && v <= math.MaxUint32 {
				cfg.MaxMapKeys = int(v)
			} else {
				c.errorf(it, "max_map_keys must be an integer from 1 to %d", uint32(math.MaxUint32))
			}
		case "print_maps_on_exit":
			switch v := it.Value.(type) {
			case *ast.BoolLit:
				cfg.PrintMapsOnExit = v.Value
			case *ast.IntLit:
				cfg.PrintMapsOnExit = v.Value != 0
			default:
				c.errorf(it, "print_maps_on_exit must be true or false")
			}
		case "missing_probes":
			s, ok := it.Value.(*ast.StrLit)
			if !ok {
				if id, isIdent := it.Value.(*ast.Ident); isIdent {
					s, ok = &ast.StrLit{Value: id.Name}, true
				}
			}
			if !ok || (s.Value != "error" && s.Value != "warn" && s.Value != "ignore") {
				c.errorf(it, `missing_probes must be "error", "warn" or "ignore"`)
				continue
			}
			cfg.MissingProbesErr = s.Value == "error"
		default:
			c.errorf(it, "unknown config setting %q", it.Name)
		}
	}
}

func (c *checker) declareMap(d *ast.MapDecl) {
	kinds := map[string]bool{"hash": false, "lruhash": false, "percpuhash": true, "percpulruhash": true, "percpuarray": true}
	perCPU, ok := kinds[d.Kind]
	if !ok {
		c.errorf(d, "unknown map kind %q (hash, lruhash, percpuhash, percpulruhash, percpuarray)", d.Kind)
		return
	}
	size := 0
	if len(d.Args) == 1 {
		// The kernel counts entries in 32 bits.
		if v, ok := constInt(d.Args[0]); ok && v > 0 && v <= math.MaxUint32 {
			size = int(v)
		}
	}
	if size == 0 {
		c.errorf(d, "%s(N) needs a positive number of entries", d.Kind)
		return
	}
	c.info.Maps[d.Name] = &MapInfo{Name: d.Name, Kind: d.Kind, MaxEntries: size, PerCPU: perCPU, First: d}
}

func constInt(e ast.Expr) (int64, bool) {
	if l, ok := e.(*ast.IntLit); ok {
		return int64(l.Value), true
	}
	return 0, false
}

func (c *checker) checkInstance(inst *Instance) {
	c.inst = inst
	c.scopes = []map[string]*ast.Type{{}}
	c.loops = 0
	if inst.Probe.Pred != nil {
		t := c.expr(inst.Probe.Pred)
		if t != nil && !isScalar(t) {
			c.errorf(inst.Probe.Pred, "a predicate must be an integer or boolean, not %s", t)
		}
	}
	c.block(inst.Probe.Body)
}

// errType marks a variable whose assigned value had an error.
var errType = &ast.Type{Kind: ast.KindNone}

func (c *checker) push() { c.scopes = append(c.scopes, map[string]*ast.Type{}) }
func (c *checker) pop()  { c.scopes = c.scopes[:len(c.scopes)-1] }

func (c *checker) lookupVar(name string) *ast.Type {
	for i := len(c.scopes) - 1; i >= 0; i-- {
		if t, ok := c.scopes[i][name]; ok {
			return t
		}
	}
	return nil
}

// setVar gives a variable its type, in the scope that already has it or
// else the probe's.
func (c *checker) setVar(name string, t *ast.Type) {
	for i := len(c.scopes) - 1; i >= 0; i-- {
		if _, ok := c.scopes[i][name]; ok {
			c.scopes[i][name] = t
			return
		}
	}
	// A variable first assigned in a block is the probe's, as in bpftrace's
	// tools, which assign in both branches of an if and use it after;
	// `let` declares one for its block only.
	c.scopes[0][name] = t
}

func (c *checker) block(b *ast.Block) {
	c.push()
	for _, s := range b.Stmts {
		c.stmt(s)
	}
	c.pop()
}

func (c *checker) stmt(s ast.Stmt) {
	switch s := s.(type) {
	case *ast.Block:
		c.block(s)
	case *ast.ExprStmt:
		c.exprStmt(s.X)
	case *ast.VarDecl:
		var t *ast.Type
		if s.Type != nil {
			t = c.typeExpr(s.Type)
		}
		if s.Value != nil {
			vt := c.expr(s.Value)
			if t == nil {
				t = vt
			} else if vt != nil && !assignable(t, vt) {
				c.errorf(s.Value, "cannot assign %s to %s of type %s", vt, s.Name, t)
			}
		}
		if t == nil {
			t = ast.Int64
		}
		c.scopes[len(c.scopes)-1][s.Name] = t
	case *ast.AssignStmt:
		c.assign(s)
	case *ast.IfStmt:
		c.cond(s.Cond)
		c.block(s.Then)
		if s.Else != nil {
			c.stmt(s.Else)
		}
	case *ast.WhileStmt:
		c.cond(s.Cond)
		c.loops++
		c.block(s.Body)
		c.loops--
	case *ast.UnrollStmt:
		c.expr(s.Count)
		if v, ok := constInt(s.Count); !ok || v < 1 || v > 100 {
			c.errorf(s.Count, "unroll needs a constant count from 1 to 100")
		}
		c.block(s.Body)
	case *ast.ForStmt:
		c.forStmt(s)
	case *ast.JumpStmt:
		if s.Kind != "return" && c.loops == 0 {
			c.errorf(s, "%s outside of a loop", s.Kind)
		}
		if s.Value != nil {
			c.expr(s.Value)
		}
	default:
		c.errorf(s, "unsupported statement")
	}
}

func (c *checker) cond(e ast.Expr) {
	t := c.expr(e)
	if t != nil && !isScalar(t) {
		c.errorf(e, "a condition must be an integer or boolean, not %s", t)
	}
}

func isScalar(t *ast.Type) bool {
	return t.Kind == ast.KindInt || t.Kind == ast.KindBool || t.Kind == ast.KindPtr
}

func isInt(t *ast.Type) bool { return t != nil && (t.Kind == ast.KindInt || t.Kind == ast.KindBool) }

// assignable reports whether a value of type v may be stored where type t
// is expected (integers of any width, strings of any length, tuples
// element-wise).
func assignable(t, v *ast.Type) bool {
	switch {
	case isInt(t) && isInt(v):
		return true
	case t.Kind == ast.KindPtr && (v.Kind == ast.KindPtr || v.Kind == ast.KindInt):
		return true
	case t.Kind == ast.KindInt && v.Kind == ast.KindPtr:
		return true
	case t.Kind == ast.KindString && v.Kind == ast.KindString:
		return true
	case t.Kind == ast.KindTuple && v.Kind == ast.KindTuple:
		if len(t.Elems) != len(v.Elems) {
			return false
		}
		for i := range t.Elems {
			if !assignable(t.Elems[i], v.Elems[i]) {
				return false
			}
		}
		return true
	}
	return t.Equal(v)
}

// widen merges two compatible types into one that holds both (the longer
// string, the signed integer).
func widen(t, v *ast.Type) *ast.Type {
	switch {
	case t.Kind == ast.KindString && v.Kind == ast.KindString:
		if v.Size > t.Size {
			return v
		}
		return t
	case t.Kind == ast.KindTuple && v.Kind == ast.KindTuple && len(t.Elems) == len(v.Elems):
		out := &ast.Type{Kind: ast.KindTuple, Elems: make([]*ast.Type, len(t.Elems))}
		for i := range t.Elems {
			out.Elems[i] = widen(t.Elems[i], v.Elems[i])
		}
		return out
	case isInt(t) && isInt(v):
		if t.Kind == ast.KindBool && v.Kind == ast.KindBool {
			return t
		}
		if t.Signed || v.Signed {
			return ast.Int64
		}
		return ast.Uint64
	}
	return t
}

func (c *checker) assign(s *ast.AssignStmt) {
	switch target := s.Target.(type) {
	case *ast.VarExpr:
		vt := c.expr(s.Value)
		if vt == nil {
			// The value's error is reported; later uses of the variable
			// are not reported again as undefined.
			if c.lookupVar(target.Name) == nil {
				c.setVar(target.Name, errType)
			}
			return
		}
		if vt.Kind == ast.KindNone || vt.IsAggregation() {
			c.errorf(s.Value, "%s cannot be assigned to a variable", describe(s.Value))
			return
		}
		if vt.Kind == ast.KindRecord && !c.recordValue(s.Value, vt) {
			c.setVar(target.Name, errType)
			return
		}
		old := c.lookupVar(target.Name)
		if s.Op != "=" {
			if old == nil {
				c.errorf(target, "undefined variable %s", target.Name)
				return
			}
			if !isInt(old) || !isInt(vt) {
				c.errorf(s, "%s needs integers, not %s and %s", s.Op, old, vt)
			}
			target.SetType(old)
			return
		}
		if old != nil && !assignable(old, vt) {
			c.errorf(s.Value, "type mismatch for %s: it holds %s, not %s", target.Name, old, vt)
			return
		}
		t := vt
		if old != nil {
			t = widen(old, vt)
		}
		c.setVar(target.Name, t)
		target.SetType(t)
	case *ast.MapExpr:
		key := c.mapKey(target)
		var vt *ast.Type
		if call, ok := s.Value.(*ast.Call); ok && isAggregation(call.Func) {
			if s.Op != "=" {
				c.errorf(s, "%s() cannot be combined with %s", call.Func, s.Op)
				return
			}
			vt = c.aggregation(call)
		} else {
			vt = c.expr(s.Value)
			if vt != nil && s.Op != "=" && !isInt(vt) {
				c.errorf(s.Value, "%s needs an integer, not %s", s.Op, vt)
				return
			}
			if vt != nil && s.Op != "=" {
				vt = ast.Int64
			}
		}
		if vt == nil {
			return
		}
		if vt.Kind == ast.KindRecord && !c.recordValue(s.Value, vt) {
			return
		}
		if vt.Kind == ast.KindNone {
			c.errorf(s.Value, "%s has no value to store", describe(s.Value))
			return
		}
		c.defineMap(target, key, vt, s.Value)
	default:
		c.errorf(s.Target, "only variables ($x) and maps (@x) can be assigned")
	}
}

func isAggregation(name string) bool {
	switch name {
	case "count", "sum", "avg", "min", "max", "stats", "hist", "lhist":
		return true
	}
	return false
}

// aggregation checks an aggregating call and returns its map value type.
func (c *checker) aggregation(call *ast.Call) *ast.Type {
	want := map[string]int{"count": 0, "sum": 1, "avg": 1, "min": 1, "max": 1, "stats": 1, "hist": 1, "lhist": 4}[call.Func]
	switch {
	case call.Func == "hist" && (len(call.Args) == 1 || len(call.Args) == 2):
	case call.Func == "hist":
		c.errorf(call, "hist() takes 1 or 2 arguments")
		return nil
	case len(call.Args) != want:
		c.errorf(call, "%s() takes %d argument%s", call.Func, want, plural(want))
		return nil
	}
	for i, a := range call.Args {
		t := c.expr(a)
		if t != nil && !isInt(t) {
			c.errorf(a, "%s() needs an integer, not %s", call.Func, t)
			return nil
		}
		if call.Func == "lhist" && i > 0 {
			// A literal past 2^63-1 would turn negative and overflow
			// the bucket arithmetic.
			if v, ok := constInt(a); !ok || v < 0 {
				c.errorf(a, "lhist() min, max and step must be integer literals")
				return nil
			}
		}
		if call.Func == "hist" && i == 1 {
			// bpftrace's k splits each power of two into 2^k buckets; the
			// code generator and the printer do plain log2 buckets only.
			switch k, ok := constInt(a); {
			case !ok || k < 0 || k > 5:
				c.errorf(a, "hist()'s second argument must be an integer literal from 0 to 5")
				return nil
			case k != 0:
				c.errorf(a, "hist() with more than one bucket per power of two (k > 0) is not supported yet")
				return nil
			}
		}
	}
	t := &ast.Type{}
	switch call.Func {
	case "count":
		t.Kind = ast.KindCount
	case "sum":
		t.Kind, t.Signed = ast.KindSum, signedArg(call)
	case "avg":
		t.Kind, t.Signed = ast.KindAvg, true
	case "min":
		t.Kind, t.Signed = ast.KindMin, signedArg(call)
	case "max":
		t.Kind, t.Signed = ast.KindMax, signedArg(call)
	case "stats":
		t.Kind, t.Signed = ast.KindStats, true
	case "hist":
		t.Kind = ast.KindHist
	case "lhist":
		t.Kind = ast.KindLHist
		t.Min, _ = constInt(call.Args[1])
		t.Max, _ = constInt(call.Args[2])
		t.Step, _ = constInt(call.Args[3])
		if t.Step <= 0 || t.Max <= t.Min {
			c.errorf(call, "lhist() needs min < max and a positive step")
			return nil
		}
		if (t.Max-t.Min)/t.Step > 1000 {
			c.errorf(call, "lhist() would have more than 1000 buckets")
			return nil
		}
	}
	call.SetType(t)
	return t
}

func signedArg(call *ast.Call) bool {
	t := call.Args[0].Type()
	return t == nil || t.Signed
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// mapKey checks a map's key expressions and returns the key type: nil
// for no key, the type of a single key, or a tuple of several.
func (c *checker) mapKey(m *ast.MapExpr) *ast.Type {
	if len(m.Keys) == 0 {
		return nil
	}
	var elems []*ast.Type
	for _, k := range m.Keys {
		t := c.expr(k)
		if t == nil {
			return nil
		}
		if !keyable(t) {
			c.errorf(k, "%s cannot be a map key", t)
			return nil
		}
		elems = append(elems, t.Widened())
	}
	if len(elems) == 1 {
		return elems[0]
	}
	return &ast.Type{Kind: ast.KindTuple, Elems: elems}
}

func keyable(t *ast.Type) bool {
	switch t.Kind {
	case ast.KindInt, ast.KindBool, ast.KindString, ast.KindPtr, ast.KindKsym, ast.KindUsym, ast.KindInet, ast.KindStack, ast.KindText, ast.KindMac:
		return true
	case ast.KindTuple:
		for _, e := range t.Elems {
			if !keyable(e) {
				return false
			}
		}
		return true
	}
	return false
}

// defineMap records or checks a map's key and value types; at is where
// the value comes from, for messages.
func (c *checker) defineMap(m *ast.MapExpr, key, value *ast.Type, at ast.Node) {
	mi := c.info.Maps[m.Name]
	if mi == nil {
		mi = &MapInfo{Name: m.Name, First: m}
		c.info.Maps[m.Name] = mi
	}
	if mi.Value == nil {
		mi.Key, mi.Value = key, value
		mi.PerCPU = mi.PerCPU || value.IsAggregation()
		m.SetType(value)
		return
	}
	switch {
	case (mi.Key == nil) != (key == nil) || (key != nil && !assignable(mi.Key, key)):
		c.errorf(m, "%s is used with different keys: %s here, %s at %s", m.Name, keyName(key), keyName(mi.Key), mi.First.Pos().Start)
		return
	case mi.Value.Kind == ast.KindLHist && value.Kind == ast.KindLHist && !mi.Value.Equal(value):
		c.errorf(at, "%s already holds lhist(..., %d, %d, %d) from %s: every lhist() stored in it needs the same min, max and step", m.Name, mi.Value.Min, mi.Value.Max, mi.Value.Step, mi.First.Pos().Start)
		return
	case mi.Value.IsAggregation() || value.IsAggregation():
		if !mi.Value.Equal(value) {
			c.errorf(at, "type mismatch for %s: it holds %s, not %s", m.Name, mi.Value, value)
			return
		}
	case !assignable(mi.Value, value):
		c.errorf(at, "type mismatch for %s: it holds %s, not %s", m.Name, mi.Value, value)
		return
	}
	if key != nil {
		mi.Key = widen(mi.Key, key)
	}
	if !mi.Value.IsAggregation() {
		mi.Value = widen(mi.Value, value)
	}
	m.SetType(mi.Value)
}

func keyName(t *ast.Type) string {
	if t == nil {
		return "no key"
	}
	return t.String()
}

// describe names an expression in messages.
func describe(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Call:
		return e.Func + "()"
	case *ast.MapExpr:
		return e.Name
	case *ast.VarExpr:
		return e.Name
	case *ast.Ident:
		return e.Name
	}
	return "this expression"
}

var errNotAMap = errors.New("not a map")

// tracepointField finds args.NAME of the current instance.
func (c *checker) tracepointField(name string) (*attach.TracepointField, error) {
	if c.inst.Format == nil {
		return nil, fmt.Errorf("args is only available in tracepoint probes")
	}
	for i := range c.inst.Format.Fields {
		f := &c.inst.Format.Fields[i]
		if f.Name == name && !f.Common {
			return f, nil
		}
	}
	var names []string
	for _, f := range c.inst.Format.Fields {
		if !f.Common {
			names = append(names, f.Name)
		}
	}
	return nil, fmt.Errorf("tracepoint %s:%s has no field %q; it has: %s", c.inst.Group, c.inst.Event, name, strings.Join(names, ", "))
}

// Render turns checker errors into the parser's error form, with the
// source line and a caret under each span; other errors pass unchanged.
func Render(file string, src []byte, err error) error {
	var list ErrorList
	var one *Error
	switch {
	case errors.As(err, &list):
	case errors.As(err, &one):
		list = ErrorList{one}
	default:
		return err
	}
	out := make(parser.ErrorList, 0, len(list))
	for _, e := range list {
		out = append(out, &parser.Error{File: file, Pos: e.Span.Start, End: e.Span.End, Msg: e.Msg, Line: parser.SourceLine(src, e.Span.Start)})
	}
	return out
}

// forStmt checks for ($kv : @map) and for ($i : lo..hi). The loop variable
// is a tuple (key, value) over a map, where a map with several keys gives
// ((k1, k2, ...), value); over a range it is an int64 from lo up to, not
// including, hi. The body may read and assign the probe's variables.
func (c *checker) forStmt(s *ast.ForStmt) {
	if c.lookupVar(s.Var) != nil {
		c.errorf(s.VarPos, "Loop declaration shadows existing variable: %s", s.Var)
	}
	var vt *ast.Type
	if s.Map != nil {
		vt = c.forMapType(s.Map)
	} else {
		lt, ht := c.expr(s.Lo), c.expr(s.Hi)
		switch {
		case lt != nil && !isInt(lt):
			c.errorf(s.Lo, "Loop range requires an integer for the start value")
		case ht != nil && !isInt(ht):
			c.errorf(s.Hi, "Loop range requires an integer for the end value")
		case lt != nil && ht != nil:
			vt = ast.Int64
		}
	}
	c.checkLoopJumps(s.Body)
	c.push()
	if vt == nil {
		vt = errType
	}
	c.scopes[len(c.scopes)-1][s.Var] = vt
	c.loops++
	c.block(s.Body)
	c.loops--
	c.pop()
}

// forMapType is the type of the loop variable of for ($kv : @m).
func (c *checker) forMapType(m *ast.MapExpr) *ast.Type {
	mi := c.info.Maps[m.Name]
	if mi == nil || mi.Value == nil {
		c.errorf(m, "undefined map %s", m.Name)
		return nil
	}
	val := mi.Value
	switch val.Kind {
	case ast.KindCount:
		val = ast.Uint64
	case ast.KindSum, ast.KindMin, ast.KindMax:
		val = ast.Int64
		if !mi.Value.Signed {
			val = ast.Uint64
		}
	case ast.KindAvg, ast.KindStats, ast.KindHist, ast.KindLHist:
		c.errorf(m, "Loop expression does not support type: %s", mi.Value)
		return nil
	}
	key := mi.Key
	if key == nil {
		key = ast.Int64
	}
	t := &ast.Type{Kind: ast.KindTuple, Elems: []*ast.Type{key, val}}
	m.SetType(t)
	return t
}

// checkLoopJumps reports `return` inside a for loop's body, which bpftrace
// does not allow (the body is a callback function of its own).
func (c *checker) checkLoopJumps(b *ast.Block) {
	ast.Inspect(b, func(n ast.Node) bool {
		if s, ok := n.(*ast.JumpStmt); ok && s.Kind == "return" {
			c.errorf(s, "'return' statement is not allowed in a for-loop")
		}
		return true
	})
}
