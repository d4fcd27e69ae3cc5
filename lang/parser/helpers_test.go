package parser

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/wagglebpf/waggle/lang/ast"
)

var nodeType = reflect.TypeFor[ast.Node]()

// lineIndex maps offsets to lines and columns independently of the
// parser, to check its positions.
type lineIndex []int // offsets of line starts

func newLineIndex(src []byte) lineIndex {
	idx := lineIndex{0}
	for i, c := range src {
		if c == '\n' {
			idx = append(idx, i+1)
		}
	}
	return idx
}

// lineCol returns the 1-based line and byte column of off.
func (idx lineIndex) lineCol(off int) (line, col int) {
	i := sort.SearchInts(idx, off+1) - 1
	return i + 1, off - idx[i] + 1
}

// lineCol computes the 1-based line and byte column of off in src.
func lineCol(src []byte, off int) (line, col int) {
	return newLineIndex(src).lineCol(off)
}

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// checkSpans walks every node under root and returns what is wrong with
// their spans: outside the source, reversed, line:col not matching the
// offset, or not inside the parent's span. With tight set, every node but
// the program must also be non-empty and start and end on non-blank text.
func checkSpans(src []byte, root ast.Node, tight bool) []string {
	var problems []string
	idx := newLineIndex(src)
	checkPos := func(what string, p ast.Pos) {
		if p.Offset < 0 || p.Offset > len(src) {
			problems = append(problems, fmt.Sprintf("%s: offset %d outside source of %d bytes", what, p.Offset, len(src)))
			return
		}
		if l, c := idx.lineCol(p.Offset); l != p.Line || c != p.Col {
			problems = append(problems, fmt.Sprintf("%s: offset %d is %d:%d, not %d:%d", what, p.Offset, l, c, p.Line, p.Col))
		}
	}
	var visit func(v reflect.Value, parent *ast.Span)
	visit = func(v reflect.Value, parent *ast.Span) {
		switch v.Kind() {
		case reflect.Interface:
			if !v.IsNil() {
				visit(v.Elem(), parent)
			}
		case reflect.Pointer:
			if v.IsNil() {
				return
			}
			if v.Type().Implements(nodeType) {
				n := v.Interface().(ast.Node)
				s := n.Pos()
				what := fmt.Sprintf("%T %s-%s", n, s.Start, s.End)
				checkPos(what+" start", s.Start)
				checkPos(what+" end", s.End)
				if s.Start.Offset > s.End.Offset {
					problems = append(problems, what+": start after end")
				}
				if parent != nil && (s.Start.Offset < parent.Start.Offset || s.End.Offset > parent.End.Offset) {
					problems = append(problems, fmt.Sprintf("%s: outside its parent %s-%s", what, parent.Start, parent.End))
				}
				if _, isProg := n.(*ast.Program); tight && !isProg && s.Start.Offset >= 0 && s.End.Offset <= len(src) {
					switch {
					case s.End.Offset <= s.Start.Offset:
						problems = append(problems, what+": empty")
					case isBlank(src[s.Start.Offset]) || isBlank(src[s.End.Offset-1]):
						problems = append(problems, fmt.Sprintf("%s: %q starts or ends with white space", what, src[s.Start.Offset:s.End.Offset]))
					}
				}
				parent = &s
			}
			visit(v.Elem(), parent)
		case reflect.Slice:
			if v.Type().Elem().Kind() == reflect.Uint8 {
				return // Program.Source
			}
			for i := range v.Len() {
				visit(v.Index(i), parent)
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if f := v.Type().Field(i); f.IsExported() && !f.Anonymous {
					visit(v.Field(i), parent)
				}
			}
		}
	}
	visit(reflect.ValueOf(root), nil)
	return problems
}

// sexpr renders expressions and statements compactly, to state expected
// trees in tables: (+ 1 (* 2 3)).
func sexpr(n any) string {
	if n == nil || reflect.ValueOf(n).Kind() == reflect.Pointer && reflect.ValueOf(n).IsNil() {
		return "nil"
	}
	list := func(head string, xs []ast.Expr) string {
		parts := []string{head}
		for _, x := range xs {
			parts = append(parts, sexpr(x))
		}
		return "(" + strings.Join(parts, " ") + ")"
	}
	switch n := n.(type) {
	case *ast.IntLit:
		return fmt.Sprint(n.Value)
	case *ast.StrLit:
		return fmt.Sprintf("%q", n.Value)
	case *ast.BoolLit:
		return fmt.Sprint(n.Value)
	case *ast.VarExpr:
		return n.Name
	case *ast.MapExpr:
		if n.Keys == nil {
			return n.Name
		}
		return list(n.Name, n.Keys)
	case *ast.PosParam:
		if n.Count {
			return "$#"
		}
		return fmt.Sprintf("$%d", n.Index)
	case *ast.Ident:
		return n.Name
	case *ast.Call:
		return list("call "+n.Func, n.Args)
	case *ast.Unary:
		if n.Postfix {
			return "(" + sexpr(n.X) + " " + n.Op + ")"
		}
		return "(" + n.Op + " " + sexpr(n.X) + ")"
	case *ast.Binary:
		return "(" + n.Op + " " + sexpr(n.X) + " " + sexpr(n.Y) + ")"
	case *ast.Ternary:
		if n.Then == nil {
			return "(?: " + sexpr(n.Cond) + " " + sexpr(n.Else) + ")"
		}
		return "(? " + sexpr(n.Cond) + " " + sexpr(n.Then) + " " + sexpr(n.Else) + ")"
	case *ast.FieldExpr:
		op := "."
		if n.Arrow {
			op = "->"
		}
		return "(" + op + " " + sexpr(n.X) + " " + n.Field + ")"
	case *ast.IndexExpr:
		return "([] " + sexpr(n.X) + " " + sexpr(n.Index) + ")"
	case *ast.TupleIndex:
		return fmt.Sprintf("(.%d %s)", n.Index, sexpr(n.X))
	case *ast.TupleExpr:
		return list("tuple", n.Elems)
	case *ast.CastExpr:
		return "(cast " + n.To.String() + " " + sexpr(n.X) + ")"
	case *ast.SizeofExpr:
		if n.OfType != nil {
			return "(sizeof type " + n.OfType.String() + ")"
		}
		return "(sizeof " + sexpr(n.OfExpr) + ")"
	case *ast.OffsetofExpr:
		of := ""
		if n.Of != nil {
			of = "type " + n.Of.String()
		} else {
			of = sexpr(n.OfExpr)
		}
		return "(offsetof " + of + " " + strings.Join(n.Field, ".") + ")"

	case *ast.Block:
		parts := make([]string, len(n.Stmts))
		for i, s := range n.Stmts {
			parts[i] = sexpr(s)
		}
		return "{" + strings.Join(parts, "; ") + "}"
	case *ast.ExprStmt:
		return sexpr(n.X)
	case *ast.AssignStmt:
		return "(" + n.Op + " " + sexpr(n.Target) + " " + sexpr(n.Value) + ")"
	case *ast.VarDecl:
		s := "(let " + n.Name
		if n.Type != nil {
			s += " : " + n.Type.String()
		}
		if n.Value != nil {
			s += " = " + sexpr(n.Value)
		}
		return s + ")"
	case *ast.IfStmt:
		s := "(if " + sexpr(n.Cond) + " " + sexpr(n.Then)
		if n.Else != nil {
			s += " else " + sexpr(n.Else)
		}
		return s + ")"
	case *ast.WhileStmt:
		return "(while " + sexpr(n.Cond) + " " + sexpr(n.Body) + ")"
	case *ast.UnrollStmt:
		return "(unroll " + sexpr(n.Count) + " " + sexpr(n.Body) + ")"
	case *ast.ForStmt:
		if n.Map != nil {
			return "(for " + n.Var + " : " + sexpr(n.Map) + " " + sexpr(n.Body) + ")"
		}
		return "(for " + n.Var + " : " + sexpr(n.Lo) + ".." + sexpr(n.Hi) + " " + sexpr(n.Body) + ")"
	case *ast.JumpStmt:
		if n.Value != nil {
			return "(" + n.Kind + " " + sexpr(n.Value) + ")"
		}
		return n.Kind
	}
	return fmt.Sprintf("<%T>", n)
}
