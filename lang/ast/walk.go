package ast

// Inspect visits n and everything under it in source order, as go/ast's
// Inspect does: f is called for each node, and the children of a node are
// visited only when f returns true for it. Nil nodes are skipped.
func Inspect(n Node, f func(Node) bool) {
	if isNil(n) || !f(n) {
		return
	}
	visit := func(c Node) { Inspect(c, f) }
	switch n := n.(type) {
	case *Program:
		for _, m := range n.Maps {
			visit(m)
		}
		for _, p := range n.Probes {
			visit(p)
		}
	case *MapDecl:
		for _, a := range n.Args {
			visit(a)
		}
	case *Probe:
		if n.Pred != nil {
			visit(n.Pred)
		}
		visit(n.Body)
	case *Block:
		for _, s := range n.Stmts {
			visit(s)
		}
	case *ExprStmt:
		visit(n.X)
	case *AssignStmt:
		visit(n.Target)
		visit(n.Value)
	case *VarDecl:
		if n.Value != nil {
			visit(n.Value)
		}
	case *IfStmt:
		visit(n.Cond)
		visit(n.Then)
		if n.Else != nil {
			visit(n.Else)
		}
	case *WhileStmt:
		visit(n.Cond)
		visit(n.Body)
	case *UnrollStmt:
		visit(n.Count)
		visit(n.Body)
	case *ForStmt:
		if n.Map != nil {
			visit(n.Map)
		} else {
			visit(n.Lo)
			visit(n.Hi)
		}
		visit(n.Body)
	case *BlockExpr:
		for _, s := range n.Stmts {
			visit(s)
		}
		if n.Value != nil {
			visit(n.Value)
		}
	case *Macro:
		visit(n.Body)
		if n.Value != nil {
			visit(n.Value)
		}
	case *JumpStmt:
		if n.Value != nil {
			visit(n.Value)
		}
	case *MapExpr:
		for _, k := range n.Keys {
			visit(k)
		}
	case *Call:
		for _, a := range n.Args {
			visit(a)
		}
	case *Unary:
		visit(n.X)
	case *Binary:
		visit(n.X)
		visit(n.Y)
	case *Ternary:
		visit(n.Cond)
		if n.Then != nil {
			visit(n.Then)
		}
		visit(n.Else)
	case *FieldExpr:
		visit(n.X)
	case *IndexExpr:
		visit(n.X)
		visit(n.Index)
	case *TupleIndex:
		visit(n.X)
	case *TupleExpr:
		for _, e := range n.Elems {
			visit(e)
		}
	case *CastExpr:
		visit(n.X)
	case *SizeofExpr:
		if n.OfExpr != nil {
			visit(n.OfExpr)
		}
	case *OffsetofExpr:
		if n.OfExpr != nil {
			visit(n.OfExpr)
		}
	}
}
