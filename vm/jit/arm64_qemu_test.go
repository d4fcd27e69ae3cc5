package jit_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// qemuSkip lists tests not run under qemu-aarch64. TestLongRunDoesNotBlock
// runs four billion instructions, which emulation (about ten times
// slower) would stretch far beyond the time CI gives this package; the
// exit-to-Go protocol it exercises is the same code on both back ends.
var qemuSkip = []string{"TestLongRunDoesNotBlock"}

// TestARM64UnderQEMU runs this package's tests as arm64 code on a host of
// another architecture: it cross-compiles the test binary with
// GOARCH=arm64 and runs it under qemu-aarch64 (Debian's qemu-user), so
// that `go test ./...` on an amd64 machine also runs the conformance
// suite, the differential tests and everything else here through the
// arm64 back end (tests that generate code without running it, which
// the host runs anyway, skip there: WAGGLE_UNDER_QEMU=1). It skips when qemu-aarch64 is missing, unless
// WAGGLE_REQUIRE_QEMU=1 (set by .ci/run), which makes that a failure.
func TestARM64UnderQEMU(t *testing.T) {
	if runtime.GOARCH == "arm64" {
		t.Skip("this is an arm64 machine: the arm64 tests run natively")
	}
	if testing.Short() {
		t.Skip("cross-compiles and emulates the package's tests; skipped in -short mode")
	}
	qemu, err := exec.LookPath("qemu-aarch64")
	if err != nil {
		if os.Getenv("WAGGLE_REQUIRE_QEMU") == "1" {
			t.Fatalf("qemu-aarch64 is not installed (apt-get install qemu-user) and WAGGLE_REQUIRE_QEMU=1: %v", err)
		}
		t.Skip("qemu-aarch64 is not installed (apt-get install qemu-user): the arm64 back end is not run here")
	}
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		if goTool, err = exec.LookPath("go"); err != nil {
			t.Fatalf("no go command to cross-compile with: %v", err)
		}
	}

	bin := filepath.Join(t.TempDir(), "jit-arm64.test")
	start := time.Now()
	build := exec.Command(goTool, "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOARCH=arm64", "GOOS=linux", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cross-compiling the tests for arm64: %v\n%s", err, out)
	}
	built := time.Since(start)

	// -test.v so that skips show: the arm64 tests must run, not skip.
	args := []string{bin, "-test.v", "-test.count=1"}
	if len(qemuSkip) > 0 {
		args = append(args, "-test.skip", "^("+strings.Join(qemuSkip, "|")+")$")
	}
	run := exec.Command(qemu, args...)
	run.Env = append(os.Environ(), "WAGGLE_UNDER_QEMU=1")
	out, err := run.CombinedOutput()
	t.Logf("built in %v, ran under qemu-aarch64 in %v", built.Round(time.Millisecond), (time.Since(start) - built).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("the arm64 tests failed under qemu-aarch64: %v\n%s", err, out)
	}
	// Tests that run arm64 code must have run, not skipped.
	mustRun := []string{"TestConformance", "TestDiffGenerated", "TestARM64Directed", "TestARM64Differential", "TestARM64Far"}
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "--- SKIP: "):
			name, _, _ := strings.Cut(strings.TrimPrefix(line, "--- SKIP: "), " ")
			for _, m := range mustRun {
				if name == m {
					t.Errorf("skipped under qemu-aarch64: %s", line)
				}
			}
			t.Log(strings.TrimSpace(line))
		case strings.HasPrefix(line, "--- "), strings.Contains(line, "conformance"), strings.Contains(line, "agree"):
			t.Log(strings.TrimSpace(line))
		}
	}
}
