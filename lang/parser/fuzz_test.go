package parser

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/lang/ast"
)

// FuzzParse checks that no input makes the parser panic, that every
// syntax error points inside the source with the right line text, and
// that the tree's spans are well formed. Seeds are the test scripts and
// the golden inputs.
func FuzzParse(f *testing.F) {
	for _, src := range scriptInputs(f) {
		f.Add(src)
	}
	for _, dir := range []string{"ast", "errors"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.bt"))
		for _, file := range files {
			src, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		prog, err := Parse("fuzz.bt", src)
		if prog == nil {
			t.Fatal("nil program")
		}
		lines := bytes.Split(src, []byte("\n"))
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if len(list) == 0 || len(list) > maxErrors {
				t.Fatalf("%d errors", len(list))
			}
			for _, e := range list {
				if e.Pos.Offset < 0 || e.Pos.Offset > len(src) || e.End.Offset < e.Pos.Offset || e.End.Offset > len(src) {
					t.Fatalf("error outside the source (%d bytes): %d..%d: %s", len(src), e.Pos.Offset, e.End.Offset, e.Msg)
				}
				if l, c := lineCol(src, e.Pos.Offset); l != e.Pos.Line || c != e.Pos.Col {
					t.Fatalf("error at offset %d is %d:%d, not %d:%d", e.Pos.Offset, l, c, e.Pos.Line, e.Pos.Col)
				}
				if want := strings.TrimSuffix(string(lines[e.Pos.Line-1]), "\r"); e.Line != want {
					t.Fatalf("error line %q, want %q", e.Line, want)
				}
				if e.Msg == "" {
					t.Fatal("empty message")
				}
				_ = e.Error()
			}
		}
		// Partial trees after errors must be sane too; the tight checks
		// (no empty or blank-edged spans) hold for valid scripts.
		if problems := checkSpans(src, prog, err == nil); len(problems) > 0 {
			t.Fatalf("bad spans (err=%v):\n%s", err, strings.Join(problems, "\n"))
		}
		_ = ast.Dump(prog, ast.DumpPositions|ast.DumpTypes)
	})
}
