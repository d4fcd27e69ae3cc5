package parser

import (
	"bytes"
	"errors"
	"fmt"
	goldenfile "github.com/wagglebpf/waggle/internal/golden"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/lang/ast"
)

// golden compares got with the golden file, or rewrites it with -update.
func golden(t *testing.T, path, got string) { goldenfile.Check(t, path, got) }

func goldenInputs(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.bt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no inputs in testdata/%s: %v", dir, err)
	}
	return files
}

// TestASTGolden dumps the tree of each testdata/ast/*.bt, one construct
// family per file, with positions.
func TestASTGolden(t *testing.T) {
	for _, file := range goldenInputs(t, "ast") {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			prog, err := Parse(filepath.Base(file), src)
			if err != nil {
				t.Fatal(err)
			}
			if problems := checkSpans(src, prog, true); len(problems) > 0 {
				t.Errorf("bad spans:\n%s", strings.Join(problems, "\n"))
			}
			golden(t, strings.TrimSuffix(file, ".bt")+".golden", ast.Dump(prog, ast.DumpPositions))
		})
	}
}

// TestErrorGolden renders the errors of each testdata/errors/*.bt, one
// class of mistake per file.
func TestErrorGolden(t *testing.T) {
	for _, file := range goldenInputs(t, "errors") {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(filepath.Base(file), src)
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("no syntax error: %v", err)
			}
			golden(t, strings.TrimSuffix(file, ".bt")+".golden", err.Error()+"\n")
		})
	}
}

// scriptInputs returns the scripts under testdata/scripts: each .bt file,
// and each line of oneliners.txt (as bpftrace -e would get it).
func scriptInputs(t testing.TB) map[string][]byte {
	t.Helper()
	inputs := make(map[string][]byte)
	files, _ := filepath.Glob("testdata/scripts/*.bt")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[filepath.Base(f)] = src
	}
	lines, err := os.ReadFile("testdata/scripts/oneliners.txt")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range bytes.Split(bytes.TrimSpace(lines), []byte("\n")) {
		inputs[fmt.Sprintf("oneliners.txt:%02d", i+1)] = line
	}
	return inputs
}

// TestScripts parses realistic bpftrace tools and one-liners.
func TestScripts(t *testing.T) {
	inputs := scriptInputs(t)
	if len(inputs) < 60 {
		t.Errorf("only %d scripts", len(inputs))
	}
	for name, src := range inputs {
		t.Run(name, func(t *testing.T) {
			prog, err := Parse(name, src)
			if err != nil {
				t.Fatalf("%s\n%v", src, err)
			}
			if len(prog.Probes) == 0 {
				t.Error("no probes")
			}
			if problems := checkSpans(src, prog, true); len(problems) > 0 {
				t.Errorf("bad spans:\n%s", strings.Join(problems, "\n"))
			}
		})
	}
}
