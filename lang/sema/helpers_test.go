package sema

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/internal/kerneltest"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/parser"
)

// parse parses src, failing the test on a syntax error: checker tests
// start from valid syntax.
func parse(t testing.TB, src string) *ast.Program {
	t.Helper()
	prog, err := parser.Parse("test.bt", []byte(src))
	if err != nil {
		t.Fatalf("syntax error in test input:\n%v", err)
	}
	return prog
}

// mustCheck parses and checks src and fails the test on any error.
func mustCheck(t testing.TB, src string, opts Options) (*Info, *ast.Program) {
	t.Helper()
	prog := parse(t, src)
	info, err := Check(prog, opts)
	if err != nil {
		t.Fatalf("%s\n%v", src, render("test.bt", []byte(src), err))
	}
	return info, prog
}

var defaultOpts = Options{NCPUs: 2}

// render turns checker errors into the parser's rendered form, with the
// source line and a caret, as lang/driver's diagnostics does for `waggle
// trace` (copied here so that these tests do not depend on the driver,
// which pulls in code generation and the kernel session).
func render(file string, src []byte, err error) error { return Render(file, src, err) }

// needTracefs skips a test that reads tracepoint formats unless tracefs
// can be used: it is readable by root only, and EnsureTracefs mounts it
// when it is missing (as `waggle trace` does).
func needTracefs(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		kerneltest.Skip(t, "reading tracepoint formats from tracefs needs root")
	}
	if _, err := attach.EnsureTracefs(); err != nil {
		kerneltest.Skip(t, "tracefs: "+err.Error())
	}
}

var (
	exprType = reflect.TypeFor[ast.Expr]()
	nodeType = reflect.TypeFor[ast.Node]()
)

// walk calls fn for every node under n, parents first. parent is the
// nearest enclosing node (nil for n itself).
func walk(n ast.Node, fn func(n, parent ast.Node)) {
	var visit func(v reflect.Value, parent ast.Node)
	visit = func(v reflect.Value, parent ast.Node) {
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
				node := v.Interface().(ast.Node)
				fn(node, parent)
				parent = node
			}
			if v.Elem().Kind() == reflect.Struct {
				visit(v.Elem(), parent)
			}
		case reflect.Slice:
			for i := range v.Len() {
				visit(v.Index(i), parent)
			}
		case reflect.Struct:
			for i := range v.NumField() {
				f := v.Type().Field(i)
				// Types are not part of the tree: *ast.Type hangs off
				// every expression once it is checked.
				if !f.IsExported() || f.Type == reflect.TypeFor[*ast.Type]() {
					continue
				}
				visit(v.Field(i), parent)
			}
		}
	}
	visit(reflect.ValueOf(n), nil)
}

// exprsAt returns the expressions whose source text is exactly text, in
// source order.
func exprsAt(prog *ast.Program, text string) []ast.Expr {
	var out []ast.Expr
	walk(prog, func(n, _ ast.Node) {
		e, ok := n.(ast.Expr)
		if !ok {
			return
		}
		s := e.Pos()
		if s.Start.Offset < 0 || s.End.Offset > len(prog.Source) || s.Start.Offset > s.End.Offset {
			return
		}
		if string(prog.Source[s.Start.Offset:s.End.Offset]) == text {
			out = append(out, e)
		}
	})
	return out
}

// typeAt returns the checked type of the last expression written as text.
// Several nodes may share a span (a tuple index inside its tuple does not,
// but a parenthesised expression may); the last, innermost one wins.
func typeAt(t testing.TB, prog *ast.Program, text string) *ast.Type {
	t.Helper()
	es := exprsAt(prog, text)
	if len(es) == 0 {
		t.Fatalf("no expression %q in\n%s", text, prog.Source)
	}
	last := es[len(es)-1]
	if last.Type() == nil {
		t.Fatalf("expression %q has no type after checking", text)
	}
	return last.Type()
}

// untyped lists the expressions of the probes that have no type after a
// successful Check, leaving out the operands that name a map or a format
// rather than hold a value (print(@m), clear(@m), delete(@m, k), the
// map of has_key).
func untyped(prog *ast.Program) []string {
	var out []string
	for _, p := range prog.Probes {
		walk(p, func(n, parent ast.Node) {
			e, ok := n.(ast.Expr)
			if !ok || e.Type() != nil {
				return
			}
			if _, isMap := e.(*ast.MapExpr); isMap {
				if call, ok := parent.(*ast.Call); ok && len(call.Args) > 0 && call.Args[0] == e {
					switch call.Func {
					case "print", "clear", "zero", "delete", "has_key":
						return
					}
				}
			}
			s := e.Pos()
			out = append(out, s.Start.String()+" "+reflect.TypeOf(e).Elem().Name()+" "+strings.TrimSpace(string(prog.Source[s.Start.Offset:s.End.Offset])))
		})
	}
	return out
}
