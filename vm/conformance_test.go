package vm

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/internal/conformance"
)

// conformanceMaxSteps bounds each program; the suite's longest loops run a
// few hundred instructions, so hitting this means a runaway loop.
const conformanceMaxSteps = 1 << 20

// TestConformance runs every bpf_conformance file in ../shared/conformance
// (relative to the module root) through Load and Run, with the suite's
// helpers 0-5, and compares r0. A skip counts as a failure: all must pass.
func TestConformance(t *testing.T) {
	dir, err := conformance.SuiteDir()
	if err != nil {
		t.Fatalf("the conformance suite is data this test needs, and it is missing: %v", err)
	}
	files, err := conformance.SuiteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	helpers := conformance.Helpers[*Env, HelperFunc]()

	var passed, failed, skipped int
	var failures []string
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".data")
		var outcome string
		t.Run(name, func(t *testing.T) {
			defer func() {
				switch {
				case t.Skipped():
					outcome = "skipped"
				case t.Failed():
					outcome = "failed"
				default:
					outcome = "passed"
				}
			}()
			tc, err := conformance.ParseFile(path)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			r0, err := runConformance(tc, helpers)
			switch {
			case tc.ErrorText != "" && err != nil:
				t.Logf("failed as expected: %v (the suite expects %q)", err, tc.ErrorText)
			case tc.ErrorText != "":
				t.Errorf("r0 = %#x, want an error (%q)", r0, tc.ErrorText)
			case err != nil:
				t.Errorf("%v\n%s", err, listing(tc))
			case r0 != tc.Result:
				t.Errorf("r0 = %#x, want %#x\n%s", r0, tc.Result, listing(tc))
			}
		})
		switch outcome {
		case "passed":
			passed++
		case "skipped":
			skipped++
			failures = append(failures, name+" (skipped)")
		default:
			failed++
			failures = append(failures, name)
		}
	}
	t.Logf("conformance: %d passed, %d failed, %d skipped", passed, failed, skipped)
	if failed+skipped > 0 {
		t.Errorf("%d of %d conformance files did not pass (skips count as failures): %s",
			failed+skipped, len(files), strings.Join(failures, ", "))
	}
}

// runConformance loads and runs one test on a private copy of its memory.
func runConformance(tc *conformance.Test, helpers map[int32]HelperFunc) (uint64, error) {
	p, err := Load(tc.Code)
	if err != nil {
		return 0, fmt.Errorf("load: %w", err)
	}
	var mem []byte
	if tc.Mem != nil {
		mem = bytes.Clone(tc.Mem)
	}
	r0, err := p.Run(mem, RunOptions{Helpers: helpers, MaxSteps: conformanceMaxSteps})
	if err != nil {
		return r0, fmt.Errorf("run: %w", err)
	}
	return r0, nil
}

// listing shows the program a failure is about: the source with each
// instruction's index, and the raw bytes.
func listing(tc *conformance.Test) string {
	var b strings.Builder
	if tc.FromRaw {
		b.WriteString("program (-- raw):\n")
	} else {
		b.WriteString("program:\n")
		b.WriteString(tc.Asm)
	}
	for i := 0; i+8 <= len(tc.Code); i += 8 {
		fmt.Fprintf(&b, "  %3d: % x\n", i/8, tc.Code[i:i+8])
	}
	if tc.Mem != nil {
		fmt.Fprintf(&b, "mem: % x\n", tc.Mem)
	}
	return b.String()
}
