package session

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"ls", []string{"ls"}},
		{"  ls   -l\t/tmp\n", []string{"ls", "-l", "/tmp"}},
		{`echo 'a b'  "c d"`, []string{"echo", "a b", "c d"}},
		{`echo a'b c'd`, []string{"echo", "ab cd"}},
		{`echo '' ""`, []string{"echo", "", ""}},
		{`echo 'it''s'`, []string{"echo", "its"}},
		{`echo "it's"`, []string{"echo", "it's"}},
		{`echo 'say "hi"'`, []string{"echo", `say "hi"`}},
		{`echo a\ b`, []string{"echo", "a b"}},
		{`echo \'x\'`, []string{"echo", "'x'"}},
		{`echo "a\"b"`, []string{"echo", `a"b`}},
		{`echo "a\\b"`, []string{"echo", `a\b`}},
		{`echo 'a\b'`, []string{"echo", `a\b`}}, // no escapes in single quotes
		{`echo \\`, []string{"echo", `\`}},
		{`echo \ `, []string{"echo", " "}},
		{"echo 'tab\there'", []string{"echo", "tab\there"}},
		{"echo héllo 'wörld'", []string{"echo", "héllo", "wörld"}},
		{"cat \xff\xfe", []string{"cat", "\xff\xfe"}}, // not UTF-8: bytes pass unchanged
	} {
		got, err := SplitCommand(tc.in)
		if err != nil {
			t.Errorf("SplitCommand(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitCommand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplitCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{`echo 'abc`, "unterminated ' quote"},
		{`echo "abc`, `unterminated " quote`},
		{`echo "abc'`, `unterminated " quote`},
		{`echo abc\`, "ends with a backslash"},
		{`echo "abc\`, "ends with a backslash"},
		{"", "empty command"},
		{"   \t\n ", "empty command"},
	} {
		got, err := SplitCommand(tc.in)
		if err == nil {
			t.Errorf("SplitCommand(%q) = %q, want an error", tc.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SplitCommand(%q) error %q does not say %q", tc.in, err, tc.want)
		}
	}
}

func TestStartChildErrors(t *testing.T) {
	if _, err := StartChild(nil); err == nil || !strings.Contains(err.Error(), "empty command") {
		t.Errorf("StartChild(nil) error = %v, want empty command", err)
	}
	_, err := StartChild([]string{"waggle-no-such-command-xyz"})
	if err == nil || !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("StartChild(missing) error = %v, want exec.ErrNotFound", err)
	}
}

// waitDone fails the test if the child does not exit in time.
func waitDone(t *testing.T, c *Child) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		c.Abandon()
		t.Fatal("child did not exit")
	}
}

func TestChildWaitsForRelease(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	c, err := StartChild([]string{"touch", marker})
	if err != nil {
		t.Fatal(err)
	}
	if c.PID() <= 0 {
		t.Errorf("PID() = %d", c.PID())
	}
	// Paused: the command must not have run yet.
	time.Sleep(100 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("command ran before Release")
	}
	select {
	case <-c.Done():
		t.Fatalf("child exited before Release: %v", c.Err())
	default:
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	if err := c.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	waitDone(t, c)
	if c.Err() != nil {
		t.Errorf("command failed: %v", c.Err())
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("command did not run: %v", err)
	}
}

func TestChildAbandonBeforeRelease(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	c, err := StartChild([]string{"touch", marker})
	if err != nil {
		t.Fatal(err)
	}
	c.Abandon()
	// The parked shell gives up with status 127.
	var ee *exec.ExitError
	if !errors.As(c.Err(), &ee) || ee.ExitCode() != 127 {
		t.Errorf("abandoned child exit = %v, want status 127", c.Err())
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("an abandoned command ran")
	}
}

func TestChildAbandonAfterRelease(t *testing.T) {
	c, err := StartChild([]string{"sleep", "30"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c.Abandon() // kills it
	if time.Since(start) > 10*time.Second {
		t.Error("Abandon did not kill the running command")
	}
	if c.Err() == nil {
		t.Error("killed command reports success")
	}
}

func TestChildArgumentsAndEnvironment(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	// $0 is the command name, the rest are its arguments; the environment
	// is waggle's.
	script := `printf '%s|' "$0" "$@" > "$OUT"; printf '%s' "${WAGGLE_TEST_ENV-unset}" >> "$OUT"`
	t.Setenv("WAGGLE_TEST_ENV", "set")
	t.Setenv("OUT", out)
	c, err := StartChild([]string{"sh", "-c", script, "zero", "a b", ""})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, c)
	if c.Err() != nil {
		t.Fatalf("command failed: %v", c.Err())
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "zero|a b||set"; string(got) != want {
		t.Errorf("command saw %q, want %q", got, want)
	}
}

// Without a shell the command is parked under ptrace, right after execve.
func TestChildTracedWithoutShell(t *testing.T) {
	path, err := exec.LookPath("touch")
	if err != nil {
		t.Skip("no touch")
	}
	marker := filepath.Join(t.TempDir(), "ran")
	c, err := startTraced(path, []string{"touch", marker}, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("command ran before Release")
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, c)
	if _, err := os.Stat(marker); err != nil || c.Err() != nil {
		t.Errorf("command did not run: %v %v", err, c.Err())
	}

	other := filepath.Join(t.TempDir(), "never")
	c, err = startTraced(path, []string{"touch", other}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Abandon()
	if _, err := os.Stat(other); err == nil {
		t.Error("an abandoned command ran")
	}
}

// atExitRecorder records what AtExit saw: the pid, and whether the
// process's mappings could still be read then.
type atExitRecorder struct {
	calls chan int
	maps  chan string
}

func newAtExitRecorder() *atExitRecorder {
	return &atExitRecorder{calls: make(chan int, 4), maps: make(chan string, 4)}
}

func (r *atExitRecorder) atExit(pid int) {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	r.calls <- pid
	r.maps <- string(data)
}

// exitCode is the status the child exited with, -1 if killed.
func exitCode(t *testing.T, c *Child) int {
	t.Helper()
	var ee *exec.ExitError
	if c.Err() == nil {
		return 0
	}
	if !errors.As(c.Err(), &ee) {
		t.Fatalf("child: %v", c.Err())
	}
	return ee.ExitCode()
}

func requirePtrace(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("WAGGLE_REQUIRE_KERNEL") == "1" {
			t.Fatal("AtExit needs ptrace over the command: run as root")
		}
		t.Skip("AtExit needs ptrace over the command: run as root")
	}
}

// AtExit sees the command (not the parking shell) at its exit with its
// mappings readable, once; the exit status is the command's.
func TestChildAtExit(t *testing.T) {
	requirePtrace(t)
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, mode := range []string{"parked", "traced"} {
		t.Run(mode, func(t *testing.T) {
			r := newAtExitRecorder()
			argv := []string{"sh", "-c", "exit 3"}
			var c *Child
			if mode == "parked" {
				c, err = StartChildWith(argv, ChildOptions{AtExit: r.atExit})
			} else {
				c, err = startTraced(sh, argv, r.atExit)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Release(); err != nil {
				t.Fatal(err)
			}
			waitDone(t, c)
			if got := exitCode(t, c); got != 3 {
				t.Errorf("exit status %d, want 3", got)
			}
			if len(r.calls) != 1 {
				t.Fatalf("AtExit called %d times, want 1", len(r.calls))
			}
			if pid := <-r.calls; pid != c.PID() {
				t.Errorf("AtExit(%d), want the command's pid %d", pid, c.PID())
			}
			if m := <-r.maps; !strings.Contains(m, "[stack]") || !strings.Contains(m, "r-xp") {
				t.Errorf("AtExit could not read the mappings:\n%s", m)
			}
		})
	}
}

// Signals reach a traced command as they would an untraced one: a
// handled one runs its handler, a stop signal stops it until SIGCONT.
func TestChildAtExitSignals(t *testing.T) {
	requirePtrace(t)
	r := newAtExitRecorder()
	c, err := StartChildWith([]string{"sh", "-c", `trap 'exit 5' USR1; kill -USR1 $$; sleep 5; exit 1`}, ChildOptions{AtExit: r.atExit})
	if err != nil {
		t.Fatal(err)
	}
	c.Release()
	waitDone(t, c)
	if got := exitCode(t, c); got != 5 {
		t.Errorf("trapped signal: exit status %d, want 5", got)
	}
	if len(r.calls) != 1 {
		t.Errorf("AtExit called %d times, want 1", len(r.calls))
	}

	c, err = StartChildWith([]string{"sh", "-c", `kill -STOP $$; exit 4`}, ChildOptions{AtExit: r.atExit})
	if err != nil {
		t.Fatal(err)
	}
	c.Release()
	// Stopped, it stays so.
	deadline := time.Now().Add(5 * time.Second)
	for !processStopped(c.PID()) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if !processStopped(c.PID()) {
		t.Fatal("SIGSTOP did not stop the command")
	}
	syscall.Kill(c.PID(), syscall.SIGCONT)
	waitDone(t, c)
	if got := exitCode(t, c); got != 4 {
		t.Errorf("continued: exit status %d, want 4", got)
	}
}

// processStopped reads the state of pid from /proc/PID/stat.
func processStopped(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'T' || s[i+2] == 't')
}

// Abandoned before Release, the parking shell exits without AtExit;
// after Release, a killed command ends the trace.
func TestChildAtExitAbandon(t *testing.T) {
	requirePtrace(t)
	r := newAtExitRecorder()
	c, err := StartChildWith([]string{"true"}, ChildOptions{AtExit: r.atExit})
	if err != nil {
		t.Fatal(err)
	}
	c.Abandon()
	if got := exitCode(t, c); got != 127 {
		t.Errorf("abandoned: exit status %d, want 127", got)
	}
	if len(r.calls) != 0 {
		t.Errorf("AtExit called for the parking shell")
	}

	c, err = StartChildWith([]string{"sleep", "30"}, ChildOptions{AtExit: r.atExit})
	if err != nil {
		t.Fatal(err)
	}
	c.Release()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	c.Abandon()
	if time.Since(start) > 10*time.Second {
		t.Error("Abandon did not kill the running command")
	}
	if c.Err() == nil {
		t.Error("killed command reports success")
	}
}
