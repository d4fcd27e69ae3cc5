package sema

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/wagglebpf/waggle/lang/ast"
)

// Macros are expanded before anything is checked: every call of a macro
// becomes a block expression holding a copy of the macro's body, in which
// the parameters are replaced by the arguments ($x by the caller's
// variable, @m by the caller's map, x by the argument expression) and the body's own
// variables are renamed so that they cannot meet the caller's (the macros
// are hygienic, as bpftrace's). A body may use only the maps it is given.

// macroSuffix separates a macro variable's name from the number of its
// expansion; messages drop what follows it.
const macroSuffix = "\x00"

var macroSuffixRE = regexp.MustCompile("\x00[0-9]+")

// displayNames removes expansion numbers from a message.
func displayNames(msg string) string {
	if !strings.Contains(msg, macroSuffix) {
		return msg
	}
	return macroSuffixRE.ReplaceAllString(msg, "")
}

// maxMacroDepth bounds nested expansions (and so recursion).
const maxMacroDepth = 32

type expander struct {
	c      *checker
	macros map[string]*ast.Macro
	n      int // expansions so far, for unique names
	active []string
}

// expandMacros checks the macro definitions and expands every call.
func (c *checker) expandMacros(prog *ast.Program) {
	x := &expander{c: c, macros: map[string]*ast.Macro{}}
	for _, m := range prog.Macros {
		if _, dup := x.macros[m.Name]; dup {
			c.errorf(m.NamePos, "Redefinition of macro: %s", m.Name)
			continue
		}
		if isBuiltinFunc(m.Name) {
			c.errorf(m.NamePos, "macro %s has the name of a builtin function", m.Name)
			continue
		}
		seen := map[string]bool{}
		for _, p := range m.Params {
			if seen[p.Name] {
				c.errorf(p, "Variable %s is already declared as a macro parameter", p.Name)
			}
			seen[p.Name] = true
		}
		x.macros[m.Name] = m
	}
	if len(x.macros) == 0 {
		return
	}
	for _, p := range prog.Probes {
		s := &subst{}
		if p.Pred != nil {
			p.Pred = x.expr(p.Pred, s)
		}
		p.Body = x.stmt(p.Body, s).(*ast.Block)
	}
}

// subst is what a copy of a macro body replaces; nil maps replace nothing
// (a probe's own body, walked to expand the calls in it).
type subst struct {
	macro  *ast.Macro
	vars   map[string]ast.Expr // $param -> the caller's variable
	maps   map[string]string   // @param -> the caller's map
	idents map[string]ast.Expr // param -> argument expression
	suffix string              // appended to the body's own variables
}

func (s *subst) varName(name string) string {
	if s.macro == nil {
		return name
	}
	return name + s.suffix
}

func (x *expander) stmts(list []ast.Stmt, s *subst) []ast.Stmt {
	out := make([]ast.Stmt, len(list))
	for i, st := range list {
		out[i] = x.stmt(st, s)
	}
	return out
}

func (x *expander) block(b *ast.Block, s *subst) *ast.Block {
	if b == nil {
		return nil
	}
	return &ast.Block{Span: b.Span, Stmts: x.stmts(b.Stmts, s)}
}

func (x *expander) stmt(st ast.Stmt, s *subst) ast.Stmt {
	switch st := st.(type) {
	case *ast.Block:
		return x.block(st, s)
	case *ast.ExprStmt:
		return &ast.ExprStmt{Span: st.Span, X: x.expr(st.X, s)}
	case *ast.AssignStmt:
		return &ast.AssignStmt{Span: st.Span, Target: x.expr(st.Target, s), Op: st.Op, Value: x.expr(st.Value, s)}
	case *ast.VarDecl:
		d := &ast.VarDecl{Span: st.Span, Name: s.varName(st.Name), Type: st.Type}
		if v, ok := s.vars[st.Name]; ok && s.macro != nil {
			x.c.errorf(st, "macro %s: parameter %s cannot be declared again", s.macro.Name, st.Name)
			if ve, isVar := v.(*ast.VarExpr); isVar {
				d.Name = ve.Name
			}
		}
		if st.Value != nil {
			d.Value = x.expr(st.Value, s)
		}
		return d
	case *ast.IfStmt:
		n := &ast.IfStmt{Span: st.Span, Cond: x.expr(st.Cond, s), Then: x.block(st.Then, s)}
		if st.Else != nil {
			n.Else = x.stmt(st.Else, s)
		}
		return n
	case *ast.WhileStmt:
		return &ast.WhileStmt{Span: st.Span, Cond: x.expr(st.Cond, s), Body: x.block(st.Body, s)}
	case *ast.UnrollStmt:
		return &ast.UnrollStmt{Span: st.Span, Count: x.expr(st.Count, s), Body: x.block(st.Body, s)}
	case *ast.ForStmt:
		n := &ast.ForStmt{Span: st.Span, Var: s.varName(st.Var), VarPos: st.VarPos, Body: x.block(st.Body, s)}
		if st.Map != nil {
			n.Map = x.expr(st.Map, s).(*ast.MapExpr)
		} else {
			n.Lo, n.Hi = x.expr(st.Lo, s), x.expr(st.Hi, s)
		}
		return n
	case *ast.JumpStmt:
		n := &ast.JumpStmt{Span: st.Span, Kind: st.Kind}
		if st.Value != nil {
			n.Value = x.expr(st.Value, s)
		}
		return n
	}
	return st
}

func (x *expander) exprs(list []ast.Expr, s *subst) []ast.Expr {
	if list == nil {
		return nil
	}
	out := make([]ast.Expr, len(list))
	for i, e := range list {
		out[i] = x.expr(e, s)
	}
	return out
}

func (x *expander) expr(e ast.Expr, s *subst) ast.Expr {
	switch e := e.(type) {
	case nil:
		return nil
	case *ast.IntLit:
		n := *e
		return &n
	case *ast.StrLit:
		n := *e
		return &n
	case *ast.BoolLit:
		n := *e
		return &n
	case *ast.PosParam:
		n := *e
		return &n
	case *ast.VarExpr:
		if v, ok := s.vars[e.Name]; ok {
			return x.expr(v, &subst{})
		}
		return &ast.VarExpr{Span: e.Span, Name: s.varName(e.Name)}
	case *ast.MapExpr:
		name := e.Name
		if s.macro != nil {
			mapped, ok := s.maps[e.Name]
			if !ok {
				x.c.errorf(e, "macro %s: the map %s must be passed in as a parameter: macro %s(..., %s)", s.macro.Name, e.Name, s.macro.Name, e.Name)
			} else {
				name = mapped
			}
		}
		return &ast.MapExpr{Span: e.Span, Name: name, Keys: x.exprs(e.Keys, s)}
	case *ast.Ident:
		if v, ok := s.idents[e.Name]; ok {
			return x.expr(v, &subst{})
		}
		if m, ok := x.macros[e.Name]; ok && len(m.Params) == 0 {
			return x.expand(m, &ast.Call{Span: e.Span, Func: e.Name}, s)
		}
		n := *e
		return &n
	case *ast.Call:
		call := &ast.Call{Span: e.Span, Func: e.Func, Args: x.exprs(e.Args, s)}
		if m, ok := x.macros[e.Func]; ok {
			return x.expand(m, call, s)
		}
		return call
	case *ast.Unary:
		return &ast.Unary{Span: e.Span, Op: e.Op, X: x.expr(e.X, s), Postfix: e.Postfix}
	case *ast.Binary:
		return &ast.Binary{Span: e.Span, Op: e.Op, X: x.expr(e.X, s), Y: x.expr(e.Y, s)}
	case *ast.Ternary:
		return &ast.Ternary{Span: e.Span, Cond: x.expr(e.Cond, s), Then: x.expr(e.Then, s), Else: x.expr(e.Else, s)}
	case *ast.FieldExpr:
		return &ast.FieldExpr{Span: e.Span, X: x.expr(e.X, s), Field: e.Field, Arrow: e.Arrow}
	case *ast.IndexExpr:
		return &ast.IndexExpr{Span: e.Span, X: x.expr(e.X, s), Index: x.expr(e.Index, s)}
	case *ast.TupleIndex:
		return &ast.TupleIndex{Span: e.Span, X: x.expr(e.X, s), Index: e.Index}
	case *ast.TupleExpr:
		return &ast.TupleExpr{Span: e.Span, Elems: x.exprs(e.Elems, s)}
	case *ast.CastExpr:
		return &ast.CastExpr{Span: e.Span, To: e.To, X: x.expr(e.X, s)}
	case *ast.SizeofExpr:
		return &ast.SizeofExpr{Span: e.Span, OfType: e.OfType, OfExpr: x.expr(e.OfExpr, s)}
	case *ast.OffsetofExpr:
		return &ast.OffsetofExpr{Span: e.Span, Of: e.Of, OfExpr: x.expr(e.OfExpr, s), Field: e.Field}
	case *ast.BlockExpr:
		return &ast.BlockExpr{Span: e.Span, Stmts: x.stmts(e.Stmts, s), Value: x.expr(e.Value, s)}
	}
	return e
}

// expand replaces a call of m (its arguments already expanded) by a copy
// of m's body.
func (x *expander) expand(m *ast.Macro, call *ast.Call, outer *subst) ast.Expr {
	bad := &ast.IntLit{Span: call.Span}
	if len(call.Args) != len(m.Params) {
		x.c.errorf(call, "Call to %s() has the wrong number of arguments: %d, the macro takes %d", m.Name, len(call.Args), len(m.Params))
		return bad
	}
	for _, a := range x.active {
		if a == m.Name {
			x.c.errorf(call, "Recursive macro call detected: %s", strings.Join(append(x.active, m.Name), " -> "))
			return bad
		}
	}
	if len(x.active) >= maxMacroDepth {
		x.c.errorf(call, "macros nested more than %d deep", maxMacroDepth)
		return bad
	}
	x.n++
	s := &subst{macro: m, vars: map[string]ast.Expr{}, maps: map[string]string{}, idents: map[string]ast.Expr{}, suffix: fmt.Sprintf("%s%d", macroSuffix, x.n)}
	for i, p := range m.Params {
		arg := call.Args[i]
		switch {
		case strings.HasPrefix(p.Name, "@"):
			am, ok := arg.(*ast.MapExpr)
			if !ok || len(am.Keys) > 0 {
				x.c.errorf(arg, "Mismatched arg. Macro %s expects a map arg for %s, not %s", m.Name, p.Name, argKind(arg))
				return bad
			}
			s.maps[p.Name] = am.Name
		case strings.HasPrefix(p.Name, "$"):
			// The caller's variable itself, which the body may change; a
			// value goes to a bare-name parameter (x) instead.
			v, ok := arg.(*ast.VarExpr)
			if !ok {
				x.c.errorf(arg, "Mismatched arg. Macro %s expects a variable arg for %s, not %s", m.Name, p.Name, argKind(arg))
				return bad
			}
			s.vars[p.Name] = v
		default:
			s.idents[p.Name] = arg
		}
	}
	x.active = append(x.active, m.Name)
	body := x.stmts(m.Body.Stmts, s)
	var value ast.Expr
	if m.Value != nil {
		value = x.expr(m.Value, s)
	}
	x.active = x.active[:len(x.active)-1]
	_ = outer
	return &ast.BlockExpr{Span: call.Span, Stmts: body, Value: value}
}

// argKind names what a macro argument is, for messages.
func argKind(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.MapExpr:
		if len(e.Keys) > 0 {
			return "a map element"
		}
		return "a map"
	case *ast.VarExpr:
		return "a variable"
	}
	return "an expression"
}

// isBuiltinFunc reports names a macro may not take.
func isBuiltinFunc(name string) bool {
	switch name {
	case "printf", "print", "exit", "time", "clear", "zero", "delete", "has_key", "len", "str",
		"count", "sum", "avg", "min", "max", "stats", "hist", "lhist":
		return true
	}
	return false
}
