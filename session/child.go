package session

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Child is a command started parked: it has its PID but runs nothing of
// its own until Release, so that probes attached in between see all of it,
// its execve included (cpid and `tracepoint:sched:sched_process_exec /pid
// == cpid/` work as in bpftrace).
//
// Go cannot fork without exec, so the parking is done by a shell: `sh -c`
// signals that it is ready, blocks reading a pipe, and on Release execs the
// command in place of itself; between Release and the command only sh's
// read and the execve run. Without a shell, the command is started under
// ptrace instead, which stops it right after its execve.
type Child struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error

	// The shell way: writing to release lets sh exec the command.
	release *os.File
	// The ptrace way: the tracer goroutine takes orders here.
	ctl chan childOp

	released bool
}

type childOp int

const (
	opRelease childOp = iota
	opKill
)

// parkScript is run by sh with fd 3 the release pipe and fd 4 the ready
// pipe; "$0" "$@" is the command.
const parkScript = `printf . >&4 && exec 4>&- && read -r _ <&3 && exec 3<&- && exec "$0" "$@"; exit 127`

// ChildOptions say what StartChildWith does besides starting the command.
type ChildOptions struct {
	// AtExit, when set, is called with the command's pid as it exits,
	// while /proc/PID (its mappings, map_files, root) can still be read:
	// symbols of what it had mapped are only known then. The command is
	// traced for this (ptrace, which stops it only at its execs, at its
	// exit and for signals, which are passed on at once) and held at its
	// exit until AtExit returns. AtExit runs at most once, before Done is
	// closed, and only for the command, not for the shell that parks it.
	// Where the command cannot be traced (ptrace is not allowed) it runs
	// untraced and AtExit is not called; a command killed by SIGKILL
	// exits without it too. Only the command's first thread is traced: a
	// program whose first thread ends before the others is seen at that
	// thread's end.
	AtExit func(pid int)
}

// StartChild starts argv parked.
func StartChild(argv []string) (*Child, error) {
	return StartChildWith(argv, ChildOptions{})
}

// StartChildWith starts argv parked, with the options o.
func StartChildWith(argv []string, o ChildOptions) (*Child, error) {
	if len(argv) == 0 {
		return nil, errors.New("-c: empty command")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("-c: %w", err)
	}
	if sh, err := exec.LookPath("sh"); err == nil {
		return startParked(sh, argv, o.AtExit)
	}
	return startTraced(path, argv, o.AtExit)
}

func startParked(sh string, argv []string, atExit func(int)) (*Child, error) {
	releaseR, releaseW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		releaseR.Close()
		releaseW.Close()
		return nil, err
	}
	// sh looks the command up in PATH itself, and its argv[0] stays as
	// the user wrote it.
	cmd := exec.Command(sh, append([]string{"-c", parkScript}, argv...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{releaseR, readyW}
	// A waggle that dies takes the command with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	releaseR.Close()
	readyW.Close()
	if err != nil {
		releaseW.Close()
		readyR.Close()
		return nil, fmt.Errorf("-c: start %s: %w", argv[0], err)
	}
	// Wait until sh is parked (or gone: then the read fails).
	var b [1]byte
	readyR.Read(b[:])
	readyR.Close()
	c := &Child{cmd: cmd, done: make(chan struct{}), release: releaseW}
	if atExit != nil {
		// Traced from here on, so that the command's exit is seen
		// however soon after Release it comes. The wait for its end is
		// the tracer's: a ptrace stop would end cmd.Wait.
		seized := make(chan bool)
		go func() {
			runtime.LockOSThread()
			if err := seize(cmd.Process.Pid); err != nil {
				runtime.UnlockOSThread()
				seized <- false
				return
			}
			seized <- true
			traceToExit(cmd.Process.Pid, false, atExit)
			runtime.UnlockOSThread()
			c.err = cmd.Wait()
			close(c.done)
		}()
		if <-seized {
			return c, nil
		}
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func startTraced(path string, argv []string, atExit func(int)) (*Child, error) {
	c := &Child{ctl: make(chan childOp), done: make(chan struct{})}
	started := make(chan error, 1)
	// ptrace requests must come from the thread that traces: one locked
	// goroutine starts the command, waits for its stop and detaches it.
	go func() {
		runtime.LockOSThread()
		cmd := exec.Command(path, argv[1:]...)
		cmd.Args[0] = argv[0]
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			started <- fmt.Errorf("-c: start %s: %w", argv[0], err)
			return
		}
		c.cmd = cmd
		var ws unix.WaitStatus
		if _, err := unix.Wait4(cmd.Process.Pid, &ws, 0, nil); err != nil || !ws.Stopped() {
			cmd.Process.Kill()
			started <- fmt.Errorf("-c: %s did not stop after starting (%v)", argv[0], err)
			cmd.Wait()
			return
		}
		started <- nil
		op := <-c.ctl
		pid := cmd.Process.Pid
		if op == opRelease && atExit != nil && unix.PtraceSetOptions(pid, traceOptions) == nil {
			// Stay its tracer to see its exit; it has exec'd already.
			if err := unix.PtraceCont(pid, 0); err == nil {
				traceToExit(pid, true, atExit)
			}
		}
		if op == opKill {
			cmd.Process.Kill()
		}
		// Detaching resumes a live process; a killed one dies.
		unix.PtraceDetach(pid)
		runtime.UnlockOSThread()
		c.err = cmd.Wait()
		close(c.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return c, nil
}

// PID is the process ID of the command.
func (c *Child) PID() int { return c.cmd.Process.Pid }

// Release lets the command run. Releasing twice is harmless.
func (c *Child) Release() error {
	if c.released {
		return nil
	}
	c.released = true
	if c.release != nil {
		_, err := c.release.Write([]byte("\n"))
		c.release.Close()
		return err
	}
	c.ctl <- opRelease
	return nil
}

// Abandon stops the command, released or not, and waits for it: a parked
// command never runs, a running one is killed, one that exited is only
// waited for.
func (c *Child) Abandon() {
	if !c.released {
		c.released = true
		if c.release != nil {
			// sh's read sees end of file and exits without the command.
			c.release.Close()
		} else {
			c.ctl <- opKill
		}
	} else {
		select {
		case <-c.done:
		default:
			c.cmd.Process.Kill()
		}
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
