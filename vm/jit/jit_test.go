package jit_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/internal/conformance"
	"github.com/wagglebpf/waggle/vm"
	"github.com/wagglebpf/waggle/vm/jit"
)

func requireJIT(t testing.TB) {
	t.Helper()
	if !jit.Supported() {
		t.Skip("no JIT on this architecture and system: the interpreter runs instead")
	}
}

// outcome is everything a run produces that the engines must agree on.
type outcome struct {
	r0    uint64
	steps uint64
	mem   []byte
	err   string
}

func (o outcome) String() string {
	if o.err != "" {
		return fmt.Sprintf("error %q (steps %d)", o.err, o.steps)
	}
	return fmt.Sprintf("r0 %#x steps %d mem % x", o.r0, o.steps, o.mem)
}

func run(p *vm.Program, mem []byte, opts vm.RunOptions, e vm.Engine) outcome {
	mem = bytes.Clone(mem)
	opts.Engine = e
	res, err := p.Execute(mem, opts)
	o := outcome{r0: res.R0, steps: res.Steps, mem: mem}
	if err != nil {
		o.err = err.Error()
		o.r0 = 0
	}
	return o
}

// compare runs p in both engines and returns "" when they agree exactly:
// r0, memory, instruction count and error text.
func compare(p *vm.Program, mem []byte, opts vm.RunOptions) string {
	i := run(p, mem, opts, vm.Interpreter)
	j := run(p, mem, opts, vm.JIT)
	if i.r0 == j.r0 && i.steps == j.steps && bytes.Equal(i.mem, j.mem) && i.err == j.err {
		return ""
	}
	return fmt.Sprintf("interpreter: %v\njit:         %v", i, j)
}

// TestConformance runs the bpf_conformance suite through the JIT, with
// the interpreter's expectations, and checks the two engines agree.
func TestConformance(t *testing.T) {
	requireJIT(t)
	dir, err := conformance.SuiteDir()
	if err != nil {
		t.Fatalf("the conformance suite is missing: %v", err)
	}
	files, err := conformance.SuiteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	helpers := conformance.Helpers[*vm.Env, vm.HelperFunc]()
	var passed int
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".data")
		ok := t.Run(name, func(t *testing.T) {
			tc, err := conformance.ParseFile(path)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			p, err := vm.Load(tc.Code)
			if err != nil {
				if tc.ErrorText != "" {
					return
				}
				t.Fatalf("load: %v", err)
			}
			opts := vm.RunOptions{Helpers: helpers, MaxSteps: 1 << 20}
			j := run(p, tc.Mem, opts, vm.JIT)
			switch {
			case tc.ErrorText != "" && j.err != "":
			case tc.ErrorText != "":
				t.Errorf("r0 = %#x, want an error (%q)", j.r0, tc.ErrorText)
			case j.err != "":
				t.Errorf("%s\n%s", j.err, tc.Asm)
			case j.r0 != tc.Result:
				t.Errorf("r0 = %#x, want %#x\n%s", j.r0, tc.Result, tc.Asm)
			}
			if d := compare(p, tc.Mem, opts); d != "" {
				t.Errorf("engines disagree:\n%s\n%s", d, tc.Asm)
			}
			// Constant blinding changes the code, never the results.
			c, err := jit.Compile(p, jit.Options{ConstantBlinding: true})
			if err != nil {
				t.Fatal(err)
			}
			if d := compare(p, tc.Mem, opts); d != "" {
				t.Errorf("engines disagree with constant blinding:\n%s\n%s", d, tc.Asm)
			}
			c.Close()
		})
		if ok {
			passed++
		}
	}
	t.Logf("conformance through the JIT: %d of %d passed", passed, len(files))
}

func jitSupported() bool { return jit.Supported() }

// readCorpus reads a "go test fuzz v1" file of two []byte values.
func readCorpus(path string) (code, mem []byte, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var vals [][]byte
	for _, line := range strings.Split(string(b), "\n")[1:] {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "[]byte(") {
			continue
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(line, "[]byte("), ")"))
		if err != nil {
			return nil, nil, err
		}
		vals = append(vals, []byte(s))
	}
	if len(vals) != 2 {
		return nil, nil, fmt.Errorf("want 2 values, found %d", len(vals))
	}
	return vals[0], vals[1], nil
}
