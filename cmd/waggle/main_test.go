package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wagglebpf/waggle/internal/kerneltest"
)

// waggleBin is the waggle binary under test, built once by TestMain.
var waggleBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "waggle-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	waggleBin = filepath.Join(dir, "waggle")
	build := exec.Command("go", "build", "-o", waggleBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build waggle: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one waggle invocation did.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// waggle runs the binary to completion (at most a minute).
func waggle(t *testing.T, args ...string) result {
	t.Helper()
	return waggleIn(t, nil, args...)
}

// waggleIn runs the binary with prefix (e.g. ip netns exec NS) before it.
func waggleIn(t *testing.T, prefix []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	argv := append(append(append([]string{}, prefix...), waggleBin), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run waggle: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("waggle %v did not finish within a minute\n%s", args, r)
	}
	checkNoPanic(t, r)
	return r
}

func checkNoPanic(t *testing.T, r result) {
	t.Helper()
	if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") {
		t.Fatalf("waggle panicked\n%s", r)
	}
}

// background is a waggle started with its output captured, for tests that
// act while it runs and then stop it with a signal.
type background struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	attached       chan struct{}
}

type syncBuffer struct {
	buf bytes.Buffer
	mu  chan struct{}
}

func newSyncBuffer() *syncBuffer {
	b := &syncBuffer{mu: make(chan struct{}, 1)}
	return b
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

// startWaggle starts waggle and waits until it says it is attached.
func startWaggle(t *testing.T, args ...string) *background {
	t.Helper()
	return startWaggleIn(t, nil, args...)
}

// startWaggleIn is startWaggle with a prefix command (which must exec
// waggle, so that signals reach it), e.g. ip netns exec NS.
func startWaggleIn(t *testing.T, prefix []string, args ...string) *background {
	t.Helper()
	bg := &background{stdout: newSyncBuffer(), stderr: newSyncBuffer(), attached: make(chan struct{})}
	argv := append(append(append([]string{}, prefix...), waggleBin), args...)
	bg.cmd = exec.Command(argv[0], argv[1:]...)
	bg.cmd.Stdout = bg.stdout
	pr, pw := io.Pipe()
	bg.cmd.Stderr = pw
	if err := bg.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		once := false
		for sc.Scan() {
			bg.stderr.Write([]byte(sc.Text() + "\n"))
			if !once && strings.HasPrefix(sc.Text(), "Attached ") {
				once = true
				close(bg.attached)
			}
		}
	}()
	t.Cleanup(func() {
		if bg.cmd.ProcessState == nil {
			bg.cmd.Process.Kill()
			bg.cmd.Wait()
		}
		pw.Close()
	})
	select {
	case <-bg.attached:
	case <-time.After(30 * time.Second):
		bg.cmd.Process.Kill()
		t.Fatalf("waggle %v did not attach within 30s\nstderr:\n%s", args, bg.stderr)
	}
	return bg
}

// stop sends SIGINT and waits for waggle to print and exit.
func (bg *background) stop(t *testing.T) result {
	t.Helper()
	bg.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- bg.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		bg.cmd.Process.Kill()
		t.Fatalf("waggle did not exit within 30s of SIGINT\nstderr:\n%s", bg.stderr)
	}
	// Let the stderr scanner finish.
	time.Sleep(50 * time.Millisecond)
	r := result{stdout: bg.stdout.String(), stderr: bg.stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	}
	checkNoPanic(t, r)
	return r
}

// fixture is the path of a compiled object in the repository's testdata.
func fixture(name string) string {
	return filepath.Join("..", "..", "testdata", name)
}

func requireKernel(t *testing.T) {
	t.Helper()
	kerneltest.Require(t)
}
