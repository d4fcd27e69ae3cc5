package sema

import (
	"fmt"
	"os"
	"testing"

	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/parser"
)

func TestScratch(t *testing.T) {
	src, _ := os.ReadFile("/tmp/scr/in.bt")
	prog, err := parser.Parse("in.bt", src)
	if err != nil {
		fmt.Println("PARSE:", err)
		return
	}
	info, err := Check(prog, Options{NCPUs: 2})
	if err != nil {
		fmt.Println(renderT(src, err))
	}
	fmt.Print(ast.Dump(prog, ast.DumpTypes))
	if info != nil {
		for _, in := range info.Instances {
			fmt.Printf("INST %+v\n", *in)
		}
		for _, n := range info.MapNames() {
			m := info.Maps[n]
			fmt.Printf("MAP %s key=%v val=%v percpu=%v kind=%s\n", n, m.Key, m.Value, m.PerCPU, m.Kind)
		}
	}
}

func renderT(src []byte, err error) string {
	l, ok := err.(ErrorList)
	if !ok {
		return err.Error()
	}
	out := parser.ErrorList{}
	for _, e := range l {
		out = append(out, &parser.Error{File: "in.bt", Pos: e.Span.Start, End: e.Span.End, Msg: e.Msg, Line: lineOf(src, e.Span.Start)})
	}
	return out.Error()
}

func lineOf(src []byte, p ast.Pos) string {
	s := p.Offset
	for s > 0 && src[s-1] != '\n' {
		s--
	}
	e := p.Offset
	for e < len(src) && src[e] != '\n' {
		e++
	}
	return string(src[s:e])
}
