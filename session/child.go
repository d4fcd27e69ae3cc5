package session

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// childEnv marks a process started by StartChild: it waits on fd 3 for the
// go-ahead and then executes the user's command in place of itself. This is
// how `-c CMD` gets a process ID before the command runs, so probes are
// attached before its first instruction (Go cannot fork without exec).
const childEnv = "WAGGLE_EXEC_CHILD"

// ExecChildIfRequested turns this process into the user's command when it
// was started by StartChild. main must call it before anything else.
func ExecChildIfRequested() {
	if os.Getenv(childEnv) != "1" {
		return
	}
	sync := os.NewFile(3, "waggle-sync")
	// Tell the parent that start-up is over: what the Go runtime does
	// while starting (it opens files) must not be seen by the probes.
	ready := os.NewFile(4, "waggle-ready")
	ready.Write([]byte{1})
	ready.Close()
	var b [1]byte
	if n, _ := sync.Read(b[:]); n != 1 {
		// The parent gave up (attach failed or it died): never run the command.
		os.Exit(127)
	}
	sync.Close()
	args := os.Args[1:]
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "waggle: -c: %v\n", err)
		os.Exit(127)
	}
	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, childEnv+"=") {
			env = append(env, kv)
		}
	}
	err = syscall.Exec(path, args, env)
	fmt.Fprintf(os.Stderr, "waggle: -c: exec %s: %v\n", path, err)
	os.Exit(127)
}

// Child is a command started paused: it has a PID but runs nothing until
// Release.
type Child struct {
	cmd  *exec.Cmd
	sync *os.File
	done chan struct{}
	err  error
}

// StartChild starts argv paused. The executable must call
// ExecChildIfRequested first thing in main.
func StartChild(argv []string) (*Child, error) {
	if len(argv) == 0 {
		return nil, errors.New("-c: empty command")
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		return nil, fmt.Errorf("-c: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("-c: find own executable: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	cmd := exec.Command(self, argv...)
	cmd.Args[0] = argv[0]
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{r, readyW}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		readyR.Close()
		readyW.Close()
		return nil, fmt.Errorf("-c: start %s: %w", argv[0], err)
	}
	r.Close()
	readyW.Close()
	// Wait until the child is parked (or gone: then the read fails).
	var b [1]byte
	readyR.Read(b[:])
	readyR.Close()
	c := &Child{cmd: cmd, sync: w, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// PID is the process ID the command will run as.
func (c *Child) PID() int { return c.cmd.Process.Pid }

// Release lets the command run.
func (c *Child) Release() error {
	if c.sync == nil {
		return nil
	}
	_, err := c.sync.Write([]byte{1})
	c.sync.Close()
	c.sync = nil
	return err
}

// Abandon makes a child that was never released exit without running the
// command, and kills one that was.
func (c *Child) Abandon() {
	if c.sync != nil {
		c.sync.Close()
		c.sync = nil
	} else {
		c.cmd.Process.Kill()
	}
	<-c.done
}

// Done is closed when the command has exited.
func (c *Child) Done() <-chan struct{} { return c.done }

// Err is the command's exit error, valid after Done is closed.
func (c *Child) Err() error { return c.err }

// SplitCommand splits a -c command line into words the way a shell would
// for the simple cases: whitespace separates, single and double quotes group,
// backslash escapes the next character outside single quotes.
func SplitCommand(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		inW   bool
		quote byte
	)
	// Bytes, not runes: every special character is ASCII, and arguments
	// that are not valid UTF-8 (file names can be any bytes) pass unchanged.
	rs := []byte(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\\':
			if i+1 >= len(rs) {
				return nil, fmt.Errorf("command %q ends with a backslash", s)
			}
			i++
			cur.WriteByte(rs[i])
			inW = true
		case quote == '"':
			if c == '"' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inW = c, true
		case c == ' ' || c == '\t' || c == '\n':
			if inW {
				words = append(words, cur.String())
				cur.Reset()
				inW = false
			}
		default:
			cur.WriteByte(c)
			inW = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("command %q has an unterminated %c quote", s, quote)
	}
	if inW {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, errors.New("-c: empty command")
	}
	return words, nil
}
