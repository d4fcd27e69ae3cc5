package driver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/internal/kerneltest"
	"github.com/wagglebpf/waggle/lang/compiled"
)

// throughFile writes p to a compiled program file and reads it back.
func throughFile(t *testing.T, p *compiled.Program) *compiled.Program {
	t.Helper()
	var b bytes.Buffer
	if err := compiled.Encode(&b, p); err != nil {
		t.Fatal(err)
	}
	q, err := compiled.Decode(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// A program read from a file runs as the script does: same output, same
// exit code, into the writers it is given.
func TestRunFromFile(t *testing.T) {
	kerneltest.Require(t)
	src := []byte(`BEGIN { printf("%s %d\n", "hello", 42); @c[comm, 1] = count(); @h = hist(1000); print(("t", 7)); exit(5); } END { printf("end\n"); }`)
	run := func(p *compiled.Program) (string, string, int) {
		var out, errOut bytes.Buffer
		code, err := Run(context.Background(), p, Options{Stdout: &out, Stderr: &errOut})
		if err != nil {
			t.Fatal(err)
		}
		return out.String(), errOut.String(), code
	}
	p, err := Build("t.bt", src, Args{})
	if err != nil {
		t.Fatal(err)
	}
	q := throughFile(t, p)
	wantOut, wantErr, wantCode := run(p)
	gotOut, gotErr, gotCode := run(q)
	if gotOut != wantOut || gotErr != wantErr || gotCode != wantCode {
		t.Errorf("from the file: exit %d\n%s%s\nfrom the script: exit %d\n%s%s", gotCode, gotOut, gotErr, wantCode, wantOut, wantErr)
	}
	if wantCode != 5 || !strings.Contains(wantOut, "hello 42\n") || !strings.Contains(wantOut, "@h:") {
		t.Errorf("exit %d, output:\n%s", wantCode, wantOut)
	}
}

// lockedBuffer is written by the run and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Cancelling the context stops a run as Ctrl-C does: probes detached,
// END run, maps printed, exit code 0. This is how an agent stops a
// session.
func TestRunStopsWhenCancelled(t *testing.T) {
	kerneltest.Require(t)
	p, err := Build("tick.bt", []byte(`interval:ms:10 { @ticks = count(); } END { printf("stopped\n"); }`), Args{})
	if err != nil {
		t.Fatal(err)
	}
	q := throughFile(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut lockedBuffer
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := Run(ctx, q, Options{Stdout: &out, Stderr: &errOut})
		done <- result{code, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(errOut.String(), "Attached 2 probes") {
		if time.Now().After(deadline) {
			t.Fatalf("not attached after 10s; stderr: %s", errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case r := <-done:
		if r.err != nil || r.code != 0 {
			t.Fatalf("exit %d, %v", r.code, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not stop within 10s of its context's end")
	}
	if s := out.String(); !strings.Contains(s, "stopped\n") || !strings.Contains(s, "@ticks: ") {
		t.Errorf("output:\n%s", s)
	}
}

// A program read from a file is checked against this machine before it
// loads; one compiled here passes.
func TestRunChecksWhatTheProgramAssumes(t *testing.T) {
	kerneltest.Require(t)
	if _, err := attach.EnsureTracefs(); err != nil {
		t.Fatal(err)
	}
	src := []byte(`tracepoint:syscalls:sys_enter_openat { printf("%s\n", str(args.filename)); }`)
	p, err := Build("open.bt", src, Args{})
	if err != nil {
		t.Fatal(err)
	}
	dry := Options{DryRun: true, Stdout: io.Discard, Stderr: io.Discard}
	if _, err := Run(context.Background(), throughFile(t, p), dry); err != nil {
		t.Fatalf("a program compiled here: %v", err)
	}
	field := &p.Assumes.Tracepoints[0].Fields[0]
	want := field.Offset
	field.Offset += 8
	_, err = Run(context.Background(), throughFile(t, p), dry)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("field filename is 8 bytes at offset %d on this kernel, 8 bytes at offset %d where it was compiled", want, want+8)) {
		t.Fatalf("a tracepoint field that moved: %v", err)
	}
	field.Offset = want
	p.Assumes.Arch = "s390x"
	_, err = Run(context.Background(), throughFile(t, p), dry)
	if err == nil || !strings.Contains(err.Error(), "the program was compiled for s390x") {
		t.Fatalf("another architecture: %v", err)
	}
}

// What is compiled in cannot be changed when the program runs.
func TestRunRefusesOtherArguments(t *testing.T) {
	p, err := Build("x.bt", []byte(`BEGIN { exit(); }`), Args{PID: 1})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		p    *compiled.Program
		o    Options
		want string
	}{
		{p, Options{PID: 2}, "-p 2: the program was compiled for -p 1"},
		{&compiled.Program{Code: p.Code}, Options{PID: 2}, "-p 2: the program was compiled without -p"},
		{&compiled.Program{Code: p.Code, Unsafe: true}, Options{}, "compiled with --unsafe"},
		{p, Options{Command: []string{"true"}}, "-c and -p cannot be used together"},
		{&compiled.Program{}, Options{}, "nothing to run"},
	}
	for _, c := range cases {
		c.o.Stdout, c.o.Stderr = io.Discard, io.Discard
		if _, err := Run(context.Background(), c.p, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
	}
}
