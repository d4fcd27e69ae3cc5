package ast

import (
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// DumpFlags select what Fprint shows besides a tree's shape.
type DumpFlags uint

const (
	// DumpPositions adds each node's span, @line:col-line:col with the end
	// exclusive, so that golden files pin positions down.
	DumpPositions DumpFlags = 1 << iota
	// DumpTypes adds the checked type of each expression that has one,
	// as ":: type", for dumps taken after lang/sema.
	DumpTypes
)

// Fprint writes a readable dump of the tree rooted at n to w: one node per
// line, children indented two spaces under their parent, and the role of a
// child prefixed where its place does not say it ("cond: ", "body: ").
// The output depends only on the tree, so it serves golden tests and
// `waggle trace -d ast`.
func Fprint(w io.Writer, n Node, flags DumpFlags) error {
	_, err := io.WriteString(w, Dump(n, flags))
	return err
}

// Dump returns what Fprint writes.
func Dump(n Node, flags DumpFlags) string {
	d := &dumper{flags: flags}
	d.node("", n)
	return d.b.String()
}

type dumper struct {
	b     strings.Builder
	flags DumpFlags
	depth int
}

// line writes one node's line: indent, role, text, then span and type as
// the flags ask.
func (d *dumper) line(role string, n Node, text string) {
	d.b.WriteString(strings.Repeat("  ", d.depth))
	if role != "" {
		d.b.WriteString(role)
		d.b.WriteString(": ")
	}
	d.b.WriteString(text)
	if d.flags&DumpPositions != 0 && n != nil {
		s := n.Pos()
		fmt.Fprintf(&d.b, " @%d:%d-%d:%d", s.Start.Line, s.Start.Col, s.End.Line, s.End.Col)
	}
	if e, ok := n.(Expr); ok && d.flags&DumpTypes != 0 && e.Type() != nil {
		d.b.WriteString(" :: ")
		d.b.WriteString(e.Type().String())
	}
	d.b.WriteByte('\n')
}

// children writes nodes one level deeper, each with its role.
func (d *dumper) children(kids ...any) {
	d.depth++
	for i := 0; i < len(kids); i += 2 {
		d.node(kids[i].(string), kids[i+1])
	}
	d.depth--
}

func isNil(x any) bool {
	if x == nil {
		return true
	}
	v := reflect.ValueOf(x)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// node dumps x, which is a Node or a nil Node of some interface type.
func (d *dumper) node(role string, x any) {
	if isNil(x) {
		d.line(role, nil, "<nil>")
		return
	}
	switch n := x.(type) {
	case *Program:
		d.line(role, n, "Program "+strconv.Quote(n.File))
		d.depth++
		for _, inc := range n.Includes {
			d.line("", nil, "Include "+strconv.Quote(inc))
		}
		for _, c := range n.CDefs {
			d.line("", c, "CDef "+strconv.Quote(c.Text))
		}
		for _, c := range n.Config {
			d.line("", c, "Config "+c.Name)
			d.children("", c.Value)
		}
		for _, m := range n.Maps {
			d.line("", m, "MapDecl "+m.Name+" "+m.Kind)
			d.exprs(m.Args)
		}
		for _, m := range n.Macros {
			d.node("", m)
		}
		for _, p := range n.Probes {
			d.node("", p)
		}
		d.depth--
	case *Macro:
		params := make([]string, len(n.Params))
		for i, p := range n.Params {
			params[i] = p.Name
		}
		d.line(role, n, "Macro "+n.Name+"("+strings.Join(params, ", ")+")")
		d.depth++
		d.node("body", n.Body)
		if n.Value != nil {
			d.node("value", n.Value)
		}
		d.depth--
	case *BlockExpr:
		d.line(role, n, "BlockExpr")
		d.depth++
		for _, s := range n.Stmts {
			d.node("", s)
		}
		if n.Value != nil {
			d.node("value", n.Value)
		}
		d.depth--
	case *Probe:
		d.line(role, n, "Probe")
		d.depth++
		for _, a := range n.Attach {
			d.node("", a)
		}
		if n.Pred != nil {
			d.node("pred", n.Pred)
		}
		d.node("body", n.Body)
		d.depth--
	case *AttachPoint:
		d.line(role, n, fmt.Sprintf("AttachPoint %q provider=%s parts=%q", n.Raw, n.Provider, n.Parts))
	case *TypeExpr:
		d.line(role, n, "Type "+n.String())

	case *Block:
		d.line(role, n, "Block")
		d.depth++
		for _, s := range n.Stmts {
			d.node("", s)
		}
		d.depth--
	case *ExprStmt:
		d.line(role, n, "ExprStmt")
		d.children("", n.X)
	case *AssignStmt:
		d.line(role, n, "Assign "+n.Op)
		d.children("", n.Target, "", n.Value)
	case *VarDecl:
		d.line(role, n, "VarDecl "+n.Name)
		d.depth++
		if n.Type != nil {
			d.node("type", n.Type)
		}
		if n.Value != nil {
			d.node("value", n.Value)
		}
		d.depth--
	case *IfStmt:
		d.line(role, n, "If")
		d.children("cond", n.Cond, "then", n.Then)
		if n.Else != nil {
			d.children("else", n.Else)
		}
	case *WhileStmt:
		d.line(role, n, "While")
		d.children("cond", n.Cond, "body", n.Body)
	case *UnrollStmt:
		d.line(role, n, "Unroll")
		d.children("count", n.Count, "body", n.Body)
	case *ForStmt:
		d.line(role, n, "For "+n.Var)
		if n.Map != nil {
			d.children("map", n.Map, "body", n.Body)
		} else {
			d.children("lo", n.Lo, "hi", n.Hi, "body", n.Body)
		}
	case *JumpStmt:
		d.line(role, n, "Jump "+n.Kind)
		if n.Value != nil {
			d.children("value", n.Value)
		}

	case *IntLit:
		text := "Int " + strconv.FormatUint(n.Value, 10)
		if n.Text != strconv.FormatUint(n.Value, 10) {
			text += " (" + n.Text + ")"
		}
		d.line(role, n, text)
	case *StrLit:
		d.line(role, n, "String "+strconv.Quote(n.Value))
	case *BoolLit:
		d.line(role, n, "Bool "+strconv.FormatBool(n.Value))
	case *VarExpr:
		d.line(role, n, "Var "+n.Name)
	case *MapExpr:
		d.line(role, n, "Map "+n.Name)
		d.exprs(n.Keys)
	case *PosParam:
		if n.Count {
			d.line(role, n, "Param $#")
		} else {
			d.line(role, n, "Param $"+strconv.Itoa(n.Index))
		}
	case *Ident:
		d.line(role, n, "Ident "+n.Name)
	case *Call:
		d.line(role, n, "Call "+n.Func)
		d.exprs(n.Args)
	case *Unary:
		text := "Unary " + n.Op
		if n.Postfix {
			text += " postfix"
		}
		d.line(role, n, text)
		d.children("", n.X)
	case *Binary:
		d.line(role, n, "Binary "+n.Op)
		d.children("", n.X, "", n.Y)
	case *Ternary:
		d.line(role, n, "Ternary")
		if n.Then != nil {
			d.children("cond", n.Cond, "then", n.Then, "else", n.Else)
		} else {
			d.children("cond", n.Cond, "else", n.Else)
		}
	case *FieldExpr:
		sep := "."
		if n.Arrow {
			sep = "->"
		}
		d.line(role, n, "Field "+sep+n.Field)
		d.children("", n.X)
	case *IndexExpr:
		d.line(role, n, "Index")
		d.children("", n.X, "index", n.Index)
	case *TupleIndex:
		d.line(role, n, "TupleIndex ."+strconv.Itoa(n.Index))
		d.children("", n.X)
	case *TupleExpr:
		d.line(role, n, "Tuple")
		d.exprs(n.Elems)
	case *CastExpr:
		d.line(role, n, "Cast")
		d.children("type", n.To, "", n.X)
	case *SizeofExpr:
		d.line(role, n, "Sizeof")
		if n.OfType != nil {
			d.children("type", n.OfType)
		} else {
			d.children("", n.OfExpr)
		}
	case *OffsetofExpr:
		d.line(role, n, "Offsetof "+strings.Join(n.Field, "."))
		if n.Of != nil {
			d.children("type", n.Of)
		} else {
			d.children("of", n.OfExpr)
		}
	default:
		d.line(role, nil, fmt.Sprintf("<unknown %T>", x))
	}
}

func (d *dumper) exprs(list []Expr) {
	d.depth++
	for _, e := range list {
		d.node("", e)
	}
	d.depth--
}
