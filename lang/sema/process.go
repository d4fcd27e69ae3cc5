package sema

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/output"
)

// This file checks the builtins that reach out of the probe into the
// system: func, argN of usdt probes, cgroup_path(), cat(), system(),
// signal() and getopt().

// processBuiltin checks the builtins of this file; handled is false for
// the others.
func (c *checker) processBuiltin(e *ast.Ident) (t *ast.Type, handled bool) {
	k := c.inst.Kind
	if e.Name == "func" {
		switch k {
		case ProbeUprobe, ProbeUretprobe:
			return &ast.Type{Kind: ast.KindString, Size: len(c.inst.Symbol) + 1}, true
		case ProbeKprobe, ProbeKretprobe, ProbeFentry, ProbeFexit:
			return &ast.Type{Kind: ast.KindString, Size: len(c.inst.Func) + 1}, true
		}
		c.errorf(e, "The func builtin can not be used with '%s' probes", k)
		return nil, true
	}
	if k == ProbeUsdt {
		if n, ok := usdtArgIndex(e.Name); ok {
			return c.usdtArg(e, n), true
		}
	}
	return nil, false
}

// Getopt is one named program argument as the script's getopt() calls
// declare it: its type comes from the default value.
type Getopt struct {
	Name string
	// Type is bool, int64 or a string.
	Type *ast.Type
	// Default is the default value as written, for messages.
	Default string
	// Set is true when the command line gave the argument; Bool, Int or
	// Str is its value (the default's when it is not set).
	Set  bool
	Bool bool
	Int  int64
	Str  string
	// At is the first getopt() call of the name.
	At ast.Node
}

// processCall checks the calls of this file; handled is false for the
// others.
func (c *checker) processCall(e *ast.Call) (t *ast.Type, handled bool) {
	switch e.Func {
	case "cgroup_path":
		return c.cgroupPath(e), true
	case "cat", "system":
		if e.Func == "system" && !c.info.Unsafe {
			c.errorf(e, "system() is an unsafe function being used in safe mode")
			return nil, true
		}
		if !c.formatCall(e) {
			return nil, true
		}
		return ast.None, true
	case "signal":
		return c.signal(e), true
	case "getopt":
		return c.getopt(e), true
	}
	return nil, false
}

// formatCall checks a call whose arguments are a format string literal
// and the values it formats, as printf's.
func (c *checker) formatCall(e *ast.Call) bool {
	if len(e.Args) == 0 {
		c.errorf(e, "%s() needs a format string", e.Func)
		return false
	}
	lit, ok := e.Args[0].(*ast.StrLit)
	if !ok {
		c.errorf(e.Args[0], "%s()'s format must be a string literal", e.Func)
		return false
	}
	c.expr(lit)
	var types []*ast.Type
	for _, a := range e.Args[1:] {
		t := c.expr(a)
		if t == nil {
			return false
		}
		if t.Kind == ast.KindNone || t.IsAggregation() || t.Kind == ast.KindRecord || t.Kind == ast.KindArray {
			c.errorf(a, "%s cannot be formatted by %s()", t, e.Func)
			return false
		}
		types = append(types, t)
	}
	if err := output.CheckFormat(lit.Value, types); err != nil {
		c.errorf(e, "%s(): %v", e.Func, err)
		return false
	}
	return true
}

// CgroupPathType is the type of cgroup_path(id, filter).
func CgroupPathType(filter string) *ast.Type {
	return &ast.Type{Kind: ast.KindCgroupPath, Size: 8, Name: filter}
}

func (c *checker) cgroupPath(e *ast.Call) *ast.Type {
	if len(e.Args) < 1 || len(e.Args) > 2 {
		c.errorf(e, "cgroup_path() takes 1 or 2 arguments")
		return nil
	}
	if t := c.expr(e.Args[0]); t == nil {
		return nil
	} else if !isInt(t) {
		c.errorf(e.Args[0], "cgroup_path() expects an integer cgroup id, not %s", t)
		return nil
	}
	filter := ""
	if len(e.Args) == 2 {
		lit, ok := e.Args[1].(*ast.StrLit)
		if !ok {
			c.errorf(e.Args[1], "cgroup_path()'s hierarchy filter must be a string literal")
			return nil
		}
		c.expr(lit)
		filter = lit.Value
	}
	return CgroupPathType(filter)
}

// signalProbe reports whether signal() may be used in probes of kind k:
// there is a current task to signal (bpftrace's list).
func signalProbe(k ProbeKind) bool {
	switch k {
	case ProbeKprobe, ProbeKretprobe, ProbeUprobe, ProbeUretprobe, ProbeUsdt, ProbeTracepoint,
		ProbeProfile, ProbeFentry, ProbeFexit, ProbeRawTracepoint:
		return true
	}
	return false
}

// SignalNumber reads a signal name ("SIGKILL", "KILL", case as written)
// or number; ok is false for neither.
func SignalNumber(s string) (int, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, n >= 1 && n <= 64
	}
	name := s
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if n := unix.SignalNum(name); n != 0 {
		return int(n), true
	}
	return 0, false
}

func (c *checker) signal(e *ast.Call) *ast.Type {
	if !c.info.Unsafe {
		c.errorf(e, "signal() is an unsafe function being used in safe mode")
		return nil
	}
	if !signalProbe(c.inst.Kind) {
		c.errorf(e, "signal can not be used with \"%s\" probes", c.inst.Kind)
		return nil
	}
	if len(e.Args) != 1 {
		c.errorf(e, "signal() takes 1 argument")
		return nil
	}
	t := c.expr(e.Args[0])
	if t == nil {
		return nil
	}
	switch a := e.Args[0].(type) {
	case *ast.StrLit:
		if _, ok := SignalNumber(a.Value); !ok || isDigits(a.Value) {
			c.errorf(e, "%s is not a valid signal", a.Value)
			return nil
		}
		return ast.None
	case *ast.IntLit:
		if a.Value < 1 || a.Value > 64 {
			c.errorf(e, "%d is not a valid signal, allowed range: [1,64]", a.Value)
			return nil
		}
		return ast.None
	case *ast.Unary:
		if _, neg := a.X.(*ast.IntLit); neg && a.Op == "-" {
			c.errorf(e, "signal only accepts literal strings and positive integers")
			return nil
		}
	}
	if !isInt(t) {
		c.errorf(e, "signal only accepts literal strings and positive integers")
		return nil
	}
	return ast.None
}

func isDigits(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// getopt checks getopt("name"[, default]): the default's type is the
// argument's, a bool without one. The value comes from the command line
// now, and the call is a constant.
func (c *checker) getopt(e *ast.Call) *ast.Type {
	if len(e.Args) < 1 || len(e.Args) > 3 {
		c.errorf(e, "getopt() takes 1 to 3 arguments: a name, a default value and a description")
		return nil
	}
	name, ok := e.Args[0].(*ast.StrLit)
	if !ok {
		c.errorf(e.Args[0], "First argument to 'getopt' must be a string literal.")
		return nil
	}
	c.expr(name)
	if name.Value == "" || strings.ContainsAny(name.Value, "= \t\n") || strings.HasPrefix(name.Value, "-") {
		c.errorf(e.Args[0], "getopt(%q): a named argument's name cannot be empty, start with '-' or hold '=' or spaces", name.Value)
		return nil
	}
	g := &Getopt{Name: name.Value, Type: ast.Bool, Default: "false", At: e}
	if len(e.Args) >= 2 {
		switch d := e.Args[1].(type) {
		case *ast.BoolLit:
			g.Bool, g.Default = d.Value, strconv.FormatBool(d.Value)
		case *ast.IntLit:
			if d.Value > 1<<63-1 {
				c.errorf(d, "getopt(%q)'s default does not fit in an int64", name.Value)
				return nil
			}
			g.Type, g.Int, g.Default = ast.Int64, int64(d.Value), strconv.FormatUint(d.Value, 10)
		case *ast.Unary:
			lit, isLit := d.X.(*ast.IntLit)
			if !isLit || d.Op != "-" || lit.Value > 1<<63 {
				c.errorf(e.Args[1], "Second argument to 'getopt' must be a string literal, integer literal, or a boolean literal.")
				return nil
			}
			g.Type, g.Int = ast.Int64, -int64(lit.Value)
			g.Default = strconv.FormatInt(g.Int, 10)
		case *ast.StrLit:
			g.Type, g.Str, g.Default = &ast.Type{Kind: ast.KindString}, d.Value, d.Value
		default:
			c.errorf(e.Args[1], "Second argument to 'getopt' must be a string literal, integer literal, or a boolean literal.")
			return nil
		}
		c.expr(e.Args[1])
	}
	if len(e.Args) == 3 {
		if _, ok := e.Args[2].(*ast.StrLit); !ok {
			c.errorf(e.Args[2], "getopt()'s description must be a string literal")
			return nil
		}
		c.expr(e.Args[2])
	}
	if prev := c.info.Getopts[g.Name]; prev != nil && prev.At != ast.Node(e) {
		if prev.Default != g.Default || prev.Type.Kind != g.Type.Kind {
			c.errorf(e, "Command line option '%s' needs to have the same default value in all places it is used. Previous default value: %s", g.Name, prev.Default)
			return nil
		}
		return prev.Type
	}
	if v, set := c.info.NamedArgs[g.Name]; set {
		g.Set = true
		switch g.Type.Kind {
		case ast.KindBool:
			switch v {
			case "", "true", "1":
				g.Bool = true
			case "false", "0":
				g.Bool = false
			default:
				c.errorf(e, "named argument --%s=%s: expected a boolean (true, false, 1 or 0)", g.Name, v)
				return nil
			}
		case ast.KindInt:
			n, err := strconv.ParseInt(v, 0, 64)
			if err != nil {
				c.errorf(e, "named argument --%s=%s: expected an integer", g.Name, v)
				return nil
			}
			g.Int = n
		default:
			g.Str = v
		}
	}
	if g.Type.Kind == ast.KindString {
		// Strings live on the BPF stack: a longer value is cut, as
		// str() cuts at max_strlen.
		if max := c.info.Config.MaxStrlen; len(g.Str) >= max {
			g.Str = g.Str[:max-1]
		}
		g.Type = &ast.Type{Kind: ast.KindString, Size: len(g.Str) + 1}
	}
	if c.info.Getopts == nil {
		c.info.Getopts = map[string]*Getopt{}
	}
	if prev := c.info.Getopts[g.Name]; prev == nil || prev.At == ast.Node(e) {
		c.info.Getopts[g.Name] = g
	}
	return g.Type
}
