package session

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/internal/kerneltest"
	"golang.org/x/sys/unix"
)

func numberedLines(n int) []string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf("line %03d", i)
	}
	return lines
}

func TestLoadErrorLogLines(t *testing.T) {
	ve := &ebpf.VerifierError{Cause: unix.EACCES, Log: numberedLines(30)}
	le := &LoadError{Program: "p", Section: "tracepoint/a/b", Type: ebpf.TracePoint, Log: ve.Log, Err: fmt.Errorf("program p: %w", ve)}

	msg := le.Error()
	head, rest, _ := strings.Cut(msg, "\n")
	if want := "program p (section tracepoint/a/b) was rejected by the kernel verifier: " + unix.EACCES.Error(); head != want {
		t.Errorf("first line %q, want %q", head, want)
	}
	lines := strings.Split(rest, "\n")
	if want := fmt.Sprintf("last %d of 30 lines of the verifier log (-v shows all):", DefaultLogLines); lines[0] != want {
		t.Errorf("log header %q, want %q", lines[0], want)
	}
	if got := lines[1:]; len(got) != DefaultLogLines || got[0] != "  line 010" || got[len(got)-1] != "  line 029" {
		t.Errorf("shown lines %q", got)
	}
	if strings.Contains(msg, "line 009") {
		t.Error("an early line is shown")
	}

	le.FullLog = true
	msg = le.Error()
	if !strings.Contains(msg, "\nverifier log:\n  line 000\n") || !strings.HasSuffix(msg, "\n  line 029") || strings.Count(msg, "\n  line ") != 30 {
		t.Errorf("full log:\n%s", msg)
	}

	// Exactly DefaultLogLines lines are shown whole.
	le.FullLog = false
	le.Log = numberedLines(DefaultLogLines)
	if msg := le.Error(); !strings.Contains(msg, "\nverifier log:\n") || strings.Count(msg, "\n  line ") != DefaultLogLines {
		t.Errorf("%d lines:\n%s", DefaultLogLines, msg)
	}

	if !errors.Is(le, unix.EACCES) {
		t.Error("LoadError does not unwrap to its cause")
	}
	var got *ebpf.VerifierError
	if !errors.As(le, &got) || got != ve {
		t.Error("LoadError does not unwrap to the VerifierError")
	}
}

func TestLoadErrorWithoutLog(t *testing.T) {
	le := &LoadError{Program: "p", Section: "xdp", Type: ebpf.XDP, Err: errors.New("boom")}
	if got, want := le.Error(), "program p (section xdp): boom"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestFailedProgram(t *testing.T) {
	spec := &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{
		"prog_a":  {Name: "prog_a"},
		"prog_ab": {Name: "prog_ab"},
		"b":       {Name: "b"},
	}}
	for msg, want := range map[string]string{
		"program prog_ab: load: invalid argument": "prog_ab",
		"program prog_a: load: invalid argument":  "prog_a",
		"program b: map m: bad":                   "b",
		"map m: create: operation not permitted":  "",
		"program prog_abc: x":                     "",
		"cannot load program b: program type":     "",
	} {
		if got := failedProgram(spec, errors.New(msg)); got != want {
			t.Errorf("failedProgram(%q) = %q, want %q", msg, got, want)
		}
	}
}

func TestLoadRejected(t *testing.T) {
	kerneltest.Require(t)
	for _, full := range []bool{false, true} {
		coll, err := Load(loadSpec(t, "reject.bpf.o"), full)
		if err == nil {
			coll.Close()
			t.Fatal("reject.bpf.o loaded")
		}
		var le *LoadError
		if !errors.As(err, &le) {
			t.Fatalf("error %T %v, want *LoadError", err, err)
		}
		if le.Program != "bad_deref" || le.Section != "tracepoint/syscalls/sys_enter_openat" || le.Type != ebpf.TracePoint || le.FullLog != full {
			t.Errorf("LoadError = %+v", le)
		}
		if len(le.Log) == 0 {
			t.Fatal("no verifier log")
		}
		if strings.TrimSpace(le.Log[len(le.Log)-1]) == "" {
			t.Error("log ends with a blank line")
		}
		log := strings.Join(le.Log, "\n")
		if !strings.Contains(log, "invalid mem access") {
			t.Errorf("log does not show the verifier's reason:\n%s", log)
		}
		var ve *ebpf.VerifierError
		if !errors.As(err, &ve) {
			t.Error("the VerifierError is not wrapped")
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "program bad_deref (section tracepoint/syscalls/sys_enter_openat) was rejected by the kernel verifier") {
			t.Errorf("message:\n%s", msg)
		}
		if !strings.Contains(msg, le.Log[len(le.Log)-1]) {
			t.Errorf("message lacks the last log line:\n%s", msg)
		}
		shown := len(le.Log)
		if !full && shown > DefaultLogLines {
			shown = DefaultLogLines
		}
		if got := strings.Count(msg, "\n  "); got != shown {
			t.Errorf("message shows %d log lines, want %d (of %d)", got, shown, len(le.Log))
		}
	}
}

func TestLoadFixture(t *testing.T) {
	kerneltest.Require(t)
	coll, err := Load(loadSpec(t, "openat.bpf.o"), false)
	if err != nil {
		t.Fatal(err)
	}
	if coll.Programs["trace_openat"] == nil || coll.Maps["counts"] == nil {
		t.Errorf("collection = %v", coll)
	}
	coll.Close()
	// cilium/ebpf memory-maps .rodata and .bss for Collection.Variables and
	// unmaps them only when the garbage collector finds them unreachable;
	// until then the kernel keeps those maps.
	coll = nil
	runtime.GC()
}

// ProbeTracing must agree with loading a real program of the same kind.
func TestProbeTracing(t *testing.T) {
	kerneltest.Require(t)
	for _, tc := range []struct {
		kind   attach.Kind
		target string
		prog   string
	}{
		{attach.KindTpBTF, "sched_process_exec", "exec_btf"},
		{attach.KindFentry, "do_unlinkat", "unlink_fentry"},
	} {
		probe := ProbeTracing(tc.kind, tc.target)
		if again := ProbeTracing(tc.kind, tc.target); (probe == nil) != (again == nil) {
			t.Errorf("%s: ProbeTracing answered %v, then %v", tc.kind, probe, again)
		}

		spec := loadSpec(t, "alt.bpf.o")
		for name := range spec.Programs {
			if name != tc.prog {
				delete(spec.Programs, name)
			}
		}
		coll, loadErr := ebpf.NewCollection(spec)
		if loadErr == nil {
			coll.Close()
		}
		if (probe == nil) != (loadErr == nil) {
			t.Errorf("%s %s: ProbeTracing says %v, but loading %s says %v", tc.kind, tc.target, probe, tc.prog, loadErr)
		}
		t.Logf("%s %s: %v", tc.kind, tc.target, probe)
	}
	if ProbeTracing(attach.KindFentry, "waggle_no_such_function_xyz") == nil {
		t.Error("fentry on a missing function probed as supported")
	}
}

// A load error whose cause still carries cilium/ebpf's "program NAME:"
// prefix (a cause that wraps two errors cannot be unwrapped past it) names
// the program once.
func TestLoadErrorNamesProgramOnce(t *testing.T) {
	cause := fmt.Errorf("program exec_btf: attach Tracing/TraceRawTp: %w (%w)", errors.New("find target"), unix.EINVAL)
	le := &LoadError{Program: "exec_btf", Section: "tp_btf/sched_process_exec", Type: ebpf.Tracing, Err: cause}
	msg := le.Error()
	if n := strings.Count(msg, "exec_btf"); n != 1 {
		t.Errorf("the program is named %d times: %s", n, msg)
	}
	if !strings.HasPrefix(msg, "program exec_btf (section tp_btf/sched_process_exec): attach Tracing/TraceRawTp: ") {
		t.Errorf("message %q", msg)
	}
}
