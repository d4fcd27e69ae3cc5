package sema

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/parser"
)

// hermetic reports whether checking prog touches nothing outside the
// process: tracepoints read tracefs, and wildcards read the kernel's or a
// binary's function list; every other attach point resolves from its text
// alone (BEGIN, END, interval, profile, software, and single kprobes or
// uprobes, whose targets are only looked up when attaching).
func hermetic(prog *ast.Program) bool {
	for _, p := range prog.Probes {
		for _, ap := range p.Attach {
			switch strings.ToLower(ap.Provider) {
			case "tracepoint", "t":
				return false
			}
			if strings.ContainsAny(ap.Raw, "*?") {
				return false
			}
		}
	}
	return true
}

// FuzzCheck checks that no script makes the checker panic, that its
// errors point inside the source in order, and that a script it accepts
// has a type on every expression and retypes cleanly instance by instance
// (what the code generator does). Seeds are realistic scripts written
// with BEGIN, END, interval and profile probes (testdata/fuzz/FuzzCheck)
// and the error goldens.
func FuzzCheck(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "errors", "*.bt"))
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		prog, err := parser.Parse("fuzz.bt", src)
		if err != nil || !hermetic(prog) {
			return // the driver never checks a script with syntax errors
		}
		params := []string{"7", "text"}
		info, err := Check(prog, Options{NCPUs: 2, Params: params})
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if info != nil {
				t.Fatal("Info returned with errors")
			}
			checkErrorSpans(t, src, list)
			_ = render("fuzz.bt", src, err).Error()
			return
		}
		if u := untyped(prog); len(u) > 0 {
			t.Fatalf("accepted, but expressions have no type: %v", u)
		}
		for _, mi := range info.Maps {
			if mi.Value == nil {
				t.Fatalf("accepted, but map %s has no value type", mi.Name)
			}
			if msg := badType(mi.Value); msg != "" {
				t.Fatalf("accepted, but map %s holds %s: %s", mi.Name, mi.Value, msg)
			}
			if msg := badType(mi.Key); mi.Key != nil && msg != "" {
				t.Fatalf("accepted, but map %s has key %s: %s", mi.Name, mi.Key, msg)
			}
		}
		for _, p := range prog.Probes {
			walk(p, func(n, _ ast.Node) {
				if e, ok := n.(ast.Expr); ok && e.Type() != nil {
					if msg := badType(e.Type()); msg != "" {
						t.Fatalf("accepted, but %s at %s has type %s: %s", reflectName(e), e.Pos().Start, e.Type(), msg)
					}
				}
			})
		}
		for _, inst := range info.Instances {
			if err := info.Retype(inst, Options{NCPUs: 2, Params: params}); err != nil {
				t.Fatalf("accepted, but instance %s does not retype: %v", inst.Name, err)
			}
		}
	})
}

// TestFuzzSeedsAccepted checks that the realistic seed scripts are valid,
// so that the fuzzer starts from programs that reach every checking pass.
func TestFuzzSeedsAccepted(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzCheck", "seed-*"))
	if err != nil || len(files) < 12 {
		t.Fatalf("%d seed scripts: %v", len(files), err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			body, ok := strings.CutPrefix(string(data), "go test fuzz v1\n[]byte(")
			body, ok2 := strings.CutSuffix(body, ")\n")
			if !ok || !ok2 {
				t.Fatalf("not a one-value corpus file:\n%s", data)
			}
			src, err := strconv.Unquote(body)
			if err != nil {
				t.Fatal(err)
			}
			info, prog := mustCheck(t, src, Options{NCPUs: 2, Params: []string{"7", "text"}})
			if !hermetic(prog) {
				t.Fatal("seed reads tracefs or binaries")
			}
			if u := untyped(prog); len(u) > 0 {
				t.Errorf("expressions without a type: %v", u)
			}
			if len(info.Instances) == 0 {
				t.Error("no instances")
			}
		})
	}
}

// badType says what is wrong with a type the code generator could not lay
// out: a string without room for its NUL, an integer of odd width, an
// lhist without buckets.
func badType(t *ast.Type) string {
	if t == nil {
		return ""
	}
	switch t.Kind {
	case ast.KindString:
		if t.Size < 1 || t.Size > 1<<20 {
			return "string size out of range"
		}
	case ast.KindInt:
		if t.Size != 1 && t.Size != 2 && t.Size != 4 && t.Size != 8 {
			return "integer width out of range"
		}
	case ast.KindLHist:
		if t.Min < 0 || t.Max <= t.Min || t.Step <= 0 || (t.Max-t.Min)/t.Step > 1000 {
			return "lhist parameters out of range"
		}
	case ast.KindTuple:
		for _, e := range t.Elems {
			if msg := badType(e); msg != "" {
				return msg
			}
		}
	}
	if t.Elem != nil {
		return badType(t.Elem)
	}
	return ""
}

func reflectName(e ast.Expr) string {
	return strings.TrimPrefix(fmt.Sprintf("%T", e), "*ast.")
}
