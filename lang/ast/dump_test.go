package ast

import (
	"strings"
	"testing"
)

func TestDump(t *testing.T) {
	at := func(l1, c1, l2, c2 int) Span {
		return Span{Start: Pos{Line: l1, Col: c1}, End: Pos{Line: l2, Col: c2}}
	}
	pid := &Ident{Span: at(1, 15, 1, 18), Name: "pid"}
	pid.SetType(Uint32)
	prog := &Program{
		Span:     at(1, 1, 2, 1),
		File:     "-e",
		Includes: []string{"#include <linux/sched.h>"},
		Config:   []*ConfigItem{{Span: at(1, 1, 1, 5), Name: "max_strlen", Value: &IntLit{Text: "0x40", Value: 64}}},
		Maps:     []*MapDecl{{Name: "@m", Kind: "lruhash", Args: []Expr{&IntLit{Text: "10", Value: 10}}}},
		Probes: []*Probe{{
			Span:   at(1, 1, 1, 30),
			Attach: []*AttachPoint{{Span: at(1, 1, 1, 9), Raw: "kprobe:f", Provider: "kprobe", Parts: []string{"f"}}},
			Pred:   &Binary{Span: at(1, 11, 1, 18), Op: ">", X: &IntLit{Text: "1", Value: 1}, Y: pid},
			Body: &Block{Stmts: []Stmt{
				&AssignStmt{Op: "=", Target: &MapExpr{Name: "@"}, Value: &Call{Func: "count"}},
				&IfStmt{Cond: &BoolLit{Value: true}, Then: &Block{}, Else: &Block{Stmts: []Stmt{&JumpStmt{Kind: "return"}}}},
				&ExprStmt{X: &Ternary{Cond: &VarExpr{Name: "$x"}, Else: &StrLit{Value: "a\n"}}},
				&VarDecl{Name: "$y", Type: &TypeExpr{Name: "uint8", Array: ArrayUnsized}},
				&ExprStmt{X: &CastExpr{To: &TypeExpr{Name: "struct sock", Ptr: 2}, X: &PosParam{Count: true}}},
				&ForStmt{Var: "$i", Lo: &IntLit{Value: 0, Text: "0"}, Hi: &PosParam{Index: 1}, Body: &Block{}},
				&ExprStmt{X: nil},
			}},
		}},
	}
	want := `Program "-e" @1:1-2:1
  Include "#include <linux/sched.h>"
  Config max_strlen @1:1-1:5
    Int 64 (0x40) @0:0-0:0
  MapDecl @m lruhash @0:0-0:0
    Int 10 @0:0-0:0
  Probe @1:1-1:30
    AttachPoint "kprobe:f" provider=kprobe parts=["f"] @1:1-1:9
    pred: Binary > @1:11-1:18
      Int 1 @0:0-0:0
      Ident pid @1:15-1:18 :: uint32
    body: Block @0:0-0:0
      Assign = @0:0-0:0
        Map @ @0:0-0:0
        Call count @0:0-0:0
      If @0:0-0:0
        cond: Bool true @0:0-0:0
        then: Block @0:0-0:0
        else: Block @0:0-0:0
          Jump return @0:0-0:0
      ExprStmt @0:0-0:0
        Ternary @0:0-0:0
          cond: Var $x @0:0-0:0
          else: String "a\n" @0:0-0:0
      VarDecl $y @0:0-0:0
        type: Type uint8[] @0:0-0:0
      ExprStmt @0:0-0:0
        Cast @0:0-0:0
          type: Type struct sock ** @0:0-0:0
          Param $# @0:0-0:0
      For $i @0:0-0:0
        lo: Int 0 @0:0-0:0
        hi: Param $1 @0:0-0:0
        body: Block @0:0-0:0
      ExprStmt @0:0-0:0
        <nil>
`
	if got := Dump(prog, DumpPositions|DumpTypes); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// Without flags, only the shape.
	var b strings.Builder
	if err := Fprint(&b, prog.Probes[0].Pred, 0); err != nil {
		t.Fatal(err)
	}
	if want := "Binary >\n  Int 1\n  Ident pid\n"; b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
