package sema

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	goldenfile "github.com/wagglebpf/waggle/internal/golden"
)

// golden compares got with the golden file, or rewrites it with -update.
func golden(t *testing.T, path, got string) { goldenfile.Check(t, path, got) }

// TestErrorGolden renders the checker's errors for each
// testdata/errors/*.bt, one class of mistake per file, exactly as `waggle
// trace` prints them. Files named tracepoint_* read tracepoint formats and
// need tracefs.
func TestErrorGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "errors", "*.bt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no inputs in testdata/errors: %v", err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			if strings.HasPrefix(name, "tracepoint_") {
				needTracefs(t)
			}
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			prog := parse(t, string(src))
			_, err = Check(prog, defaultOpts)
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("no checker error: %v", err)
			}
			checkErrorSpans(t, src, list)
			golden(t, strings.TrimSuffix(file, ".bt")+".golden", render(name, src, err).Error()+"\n")
		})
	}
}

// checkErrorSpans checks what every rendered error relies on: a span
// inside the source, in order, a one-line message, and errors sorted by
// position with no two at the same place.
func checkErrorSpans(t testing.TB, src []byte, list ErrorList) {
	t.Helper()
	if len(list) == 0 {
		t.Fatal("empty error list")
	}
	for i, e := range list {
		s := e.Span
		if s.Start.Offset < 0 || s.End.Offset > len(src) || s.Start.Offset > s.End.Offset || !s.Start.IsValid() {
			t.Errorf("error %q has span %+v outside the %d-byte source", e.Msg, s, len(src))
		}
		if e.Msg == "" || strings.Contains(e.Msg, "\n") {
			t.Errorf("message %q is not one line", e.Msg)
		}
		if i > 0 {
			prev := list[i-1].Span.Start.Offset
			if prev > s.Start.Offset {
				t.Errorf("errors out of order: %q before %q", list[i-1].Msg, e.Msg)
			}
			if list[i-1].Span == s {
				t.Errorf("two errors at %s: %q and %q", s.Start, list[i-1].Msg, e.Msg)
			}
		}
	}
}

// TestErrorsType checks the error's shapes: Check returns an ErrorList
// whose Error joins "LINE:COL: message" lines, and no Info.
func TestErrorsType(t *testing.T) {
	prog := parse(t, "BEGIN {\n  $a = $b;\n  foo();\n}")
	info, err := Check(prog, defaultOpts)
	if info != nil {
		t.Error("Info returned with errors")
	}
	list, ok := err.(ErrorList)
	if !ok || len(list) != 2 {
		t.Fatalf("error %T %v, want an ErrorList of 2", err, err)
	}
	want := "2:8: undefined variable $b\n3:3: unknown function foo()"
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := list[0].Error(); got != "2:8: undefined variable $b" {
		t.Errorf("Error.Error() = %q", got)
	}
}

// TestSeveralErrors checks that independent mistakes are all reported,
// across probes, and once each.
func TestSeveralErrors(t *testing.T) {
	src := `BEGIN { $x = 1; $x = "s"; }
END { @m[1] = 1; @m["k"] = 2; }
interval:s:1 { foo(); print($u); }
kprobe:f { $r = retval; }`
	_, err := Check(parse(t, src), defaultOpts)
	list, ok := err.(ErrorList)
	if !ok {
		t.Fatalf("error %v", err)
	}
	var lines []int
	for _, e := range list {
		lines = append(lines, e.Span.Start.Line)
	}
	if len(list) != 5 || lines[0] != 1 || lines[1] != 2 || lines[2] != 3 || lines[3] != 3 || lines[4] != 4 {
		t.Errorf("errors on lines %v, want 1 2 3 3 4:\n%v", lines, err)
	}
	checkErrorSpans(t, []byte(src), list)
}

// TestErrorPerProbeNotPerInstance checks that a mistake in a probe with
// several attach points is reported once.
func TestErrorPerProbeNotPerInstance(t *testing.T) {
	src := `BEGIN, END, interval:s:1, kprobe:a, kprobe:b { $x = 1; $x = comm; foo(); }`
	_, err := Check(parse(t, src), defaultOpts)
	list, ok := err.(ErrorList)
	if !ok || len(list) != 2 {
		t.Fatalf("want 2 errors, got:\n%v", err)
	}
}

// TestWildcardErrorOnce is the same for a tracepoint wildcard, whose
// instances differ in their args.
func TestWildcardErrorOnce(t *testing.T) {
	needTracefs(t)
	src := `tracepoint:syscalls:sys_enter_* { @[args.nosuch_field] = count(); $x = 1; $x = comm; }`
	_, err := Check(parse(t, src), defaultOpts)
	list, ok := err.(ErrorList)
	if !ok || len(list) != 2 {
		t.Fatalf("want 2 errors, got:\n%v", err)
	}
	if !strings.Contains(list[0].Msg, `has no field "nosuch_field"`) || !strings.Contains(list[1].Msg, "type mismatch for $x") {
		t.Errorf("errors:\n%v", err)
	}
}

// TestErrorsStopBeforeBodies checks that when attach points do not
// resolve, probe bodies are not checked: their errors would mostly be
// echoes (no args without a tracepoint, ...).
func TestErrorsStopBeforeBodies(t *testing.T) {
	_, err := Check(parse(t, `nosuch:x { $a = $b; } BEGIN { foo(); }`), defaultOpts)
	list, ok := err.(ErrorList)
	if !ok || len(list) != 1 || !strings.Contains(list[0].Msg, "unknown probe type") {
		t.Fatalf("errors:\n%v", err)
	}
}
