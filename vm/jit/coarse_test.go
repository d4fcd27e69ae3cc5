package jit_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/internal/conformance"
	"github.com/wagglebpf/waggle/vm"
	"github.com/wagglebpf/waggle/vm/jit"
)

func isBudget(err string) bool { return strings.Contains(err, "instruction budget") }

// compareCoarse runs p in the interpreter and as coarse code and returns
// "" when they agree as jit.Options.CoarseBudget promises: when neither
// stops for its budget, the same r0, memory and error, and for a run that
// succeeds, Steps between the interpreter's (exact) and the budget.
func compareCoarse(t *testing.T, p *vm.Program, mem []byte, opts vm.RunOptions) string {
	t.Helper()
	c, err := jit.Compile(p, jit.Options{CoarseBudget: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.CoarseBudget() {
		if runtime.GOARCH == "amd64" {
			t.Fatal("the amd64 back end ignored CoarseBudget")
		}
		// A back end without the capability accounts exactly.
		return compare(p, mem, opts)
	}
	i := run(p, mem, opts, vm.Interpreter)
	j := run(p, mem, opts, vm.JIT)
	budget := uint64(1 << 24)
	if opts.MaxSteps != 0 {
		budget = opts.MaxSteps
	}
	switch {
	case isBudget(i.err) || isBudget(j.err):
	case i.r0 != j.r0 || !bytes.Equal(i.mem, j.mem) || i.err != j.err:
		return "different outcomes"
	case j.err == "" && (j.steps < i.steps || j.steps > budget):
		return fmt.Sprintf("steps out of bounds: interpreter %d, coarse %d", i.steps, j.steps)
	}
	return ""
}

// TestCoarseBudgetGenerated checks coarse code against the interpreter on
// random programs, with large and small budgets.
func TestCoarseBudgetGenerated(t *testing.T) {
	requireJIT(t)
	if runtime.GOARCH != "amd64" {
		t.Skipf("the %s back end accounts exactly: TestDiffGenerated covers it", runtime.GOARCH)
	}
	n := diffEnv("WAGGLE_JIT_DIFF_N", 3000) / 3
	g := &gen{r: rand.New(rand.NewPCG(11, 7))}
	helpers := diffHelpers()
	var loaded int
	for i := 0; i < n; i++ {
		code, mem := g.program()
		p, err := vm.Load(code)
		if err != nil {
			continue
		}
		loaded++
		for _, steps := range []uint64{0, 1 << 16, 1 + uint64(g.r.IntN(60))} {
			opts := vm.RunOptions{Helpers: helpers, MaxSteps: steps}
			if d := compareCoarse(t, p, mem, opts); d != "" {
				t.Fatalf("program %d (max steps %d): %s\ncode: % x\nmem: % x", i, steps, d, code, mem)
			}
		}
	}
	t.Logf("%d programs loaded and agreed", loaded)
}

// TestCoarseBudgetConformance runs the conformance suite as coarse code.
func TestCoarseBudgetConformance(t *testing.T) {
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
	for _, path := range files {
		tc, err := conformance.ParseFile(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		p, err := vm.Load(tc.Code)
		if err != nil {
			continue
		}
		if d := compareCoarse(t, p, tc.Mem, vm.RunOptions{Helpers: helpers, MaxSteps: 1 << 20}); d != "" {
			t.Errorf("%s: %s", filepath.Base(path), d)
		}
	}
}

// TestCoarseBudgetLoop checks the budget of a loop in coarse code: the
// run stops, at the loop's entry, when the budget cannot cover another
// pass, and never executes more than its budget.
func TestCoarseBudgetLoop(t *testing.T) {
	requireJIT(t)
	p := mustLoad(t, asm.Instructions{
		asm.Mov.Imm(asm.R0, 0),
		asm.Add.Imm(asm.R0, 1).WithSymbol("loop"),
		asm.JLT.Imm(asm.R0, 1000, "loop"),
		asm.Return(),
	}, nil)
	c, err := jit.Compile(p, jit.Options{CoarseBudget: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.CoarseBudget() {
		t.Skipf("the %s back end accounts exactly", runtime.GOARCH)
	}
	// Exact: 1 + 2*1000 + 1 = 2002 instructions. Coarse: pc 0 weighs 1
	// (the mov, up to the loop's entry) and the loop's entry 3 (add, jlt
	// and the exit after it): 3001.
	res, err := c.Execute(nil, vm.RunOptions{MaxSteps: 1 << 20})
	if err != nil || res.R0 != 1000 {
		t.Fatalf("r0 = %d, %v", res.R0, err)
	}
	if res.Steps < 2002 || res.Steps > 3003 {
		t.Fatalf("steps = %d, want an upper bound of 2002 within a pass", res.Steps)
	}
	_, err = c.Execute(nil, vm.RunOptions{MaxSteps: 1000})
	var re *vm.RunError
	if !errors.As(err, &re) || re.PC != 1 {
		t.Fatalf("budget of 1000: %v, want a budget error at the loop (pc 1)", err)
	}
}
