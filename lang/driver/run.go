package driver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/lang/codegen"
	"github.com/wagglebpf/waggle/lang/sema"
	"github.com/wagglebpf/waggle/session"
)

// Options say how to run a compiled script.
type Options struct {
	// File and Source are the script, for messages.
	File   string
	Source []byte
	JSON   bool
	Stdout io.Writer
	Stderr io.Writer
	// Command is the -c command, started once probes are attached.
	Command []string
	// PID restricts uprobes to one process (-p).
	PID int
	// DryRun loads every program into the verifier and attaches nothing.
	DryRun bool
	// Verbose shows whole verifier logs.
	Verbose bool
	// Quiet suppresses the "Attaching N probes..." line (-q).
	Quiet bool
}

// Run loads and runs a compiled script until exit(), Ctrl-C, or the end of
// the -c command, and returns the exit code the script chose.
func Run(ctx context.Context, p *codegen.Program, o Options) (code int, err error) {
	if err := session.Prepare(o.Stderr); err != nil {
		return 1, err
	}
	var child *session.Child
	if len(o.Command) > 0 && o.PID != 0 {
		return 1, errors.New("-c and -p cannot be used together")
	}
	if len(o.Command) > 0 && !o.DryRun {
		if child, err = session.StartChildWith(o.Command, sysSymbols.childOptions(p)); err != nil {
			return 1, err
		}
		// However the run ends, the command does not outlive it (bpftrace
		// kills it too); a command that exited is only reaped.
		defer child.Abandon()
	}
	// Field offsets of kernel structs follow the kernel the programs are
	// loaded on (CO-RE).
	if err := p.Relocate(nil); err != nil {
		return 1, err
	}
	s, err := session.Open(p.Spec, o.Verbose, 0)
	if err != nil {
		return 1, explainLoadError(p, o.File, o.Source, err)
	}
	defer s.Close()
	sysSymbols.programsLoaded()
	if o.DryRun {
		return 0, nil
	}
	if err := setGlobals(s, child); err != nil {
		return 1, err
	}

	printer := newPrinter(p, o, s.Collection.Maps[codegen.StacksMap])
	var begin, end []*codegen.Probe
	for _, pr := range p.Probes {
		switch pr.Instance.Kind {
		case sema.ProbeBegin:
			begin = append(begin, pr)
		case sema.ProbeEnd:
			end = append(end, pr)
		case sema.ProbeUsdt:
			if err := attachUSDT(s, pr, o.PID); err != nil {
				return 1, attachError(pr, o.File, o.Source, err)
			}
		default:
			if err := s.Attach(pr.Program, pr.Target, attach.Options{PID: o.PID}); err != nil {
				return 1, attachError(pr, o.File, o.Source, unwrapProgram(err))
			}
		}
	}
	if o.PID != 0 && usesUserSymbols(p) {
		// The run ends when the process does, and the maps print after:
		// its mappings must be known by then. Best effort: a process that
		// is already gone prints its addresses in hex.
		sysSymbols.resolver().Snapshot(o.PID)
	}
	if !o.Quiet {
		printer.attached(len(p.Probes))
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.PID != 0 {
		// Like bpftrace, stop when the traced process is gone.
		stop, err := watchProcess(o.PID, cancel)
		if err != nil {
			return 1, err
		}
		defer stop()
	}
	exitCode := 0
	onEvent := func(ev session.Event) {
		exit, c, perr := printer.record(ev.Data, s)
		if perr != nil {
			fmt.Fprintf(o.Stderr, "waggle: %v\n", perr)
		}
		if exit {
			exitCode = c
			cancel()
		}
	}
	// BEGIN runs before anything else can print: its records wait in the
	// ring buffer until Run reads them.
	for _, pr := range begin {
		if err := runOnce(s, pr); err != nil {
			return 1, err
		}
	}
	_, err = s.Run(ctx, session.RunOptions{
		Child:   child,
		OnEvent: onEvent,
		BeforeDrain: func() {
			for _, pr := range end {
				if err := runOnce(s, pr); err != nil {
					fmt.Fprintf(o.Stderr, "waggle: %v\n", err)
				}
			}
		},
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return 1, err
	}
	if p.Info.Config.PrintMapsOnExit {
		if err := printer.maps(s); err != nil {
			return 1, err
		}
	}
	return exitCode, s.Close()
}

// unwrapProgram drops the session's "program pN_kind:" prefix, which
// names a generated program the user never wrote.
func unwrapProgram(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// runOnce runs a BEGIN or END program with BPF_PROG_TEST_RUN, in waggle's
// own context.
func runOnce(s *session.Session, pr *codegen.Probe) error {
	prog := s.Collection.Programs[pr.Program]
	if prog == nil {
		return fmt.Errorf("probe %s is not loaded", pr.Instance.Name)
	}
	// A raw tracepoint program's context is its argument array.
	if _, err := prog.Run(&ebpf.RunOptions{Context: make([]byte, 8)}); err != nil {
		return fmt.Errorf("run %s: %w", pr.Instance.Name, err)
	}
	return nil
}

// setGlobals stores the start time (for elapsed) and the -c command's pid
// (for cpid) where the programs read them.
func setGlobals(s *session.Session, child *session.Child) error {
	m := s.Collection.Maps[codegen.GlobalsMap]
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return err
	}
	put := func(slot uint32, v uint64) error {
		var b [8]byte
		binary.NativeEndian.PutUint64(b[:], v)
		return m.Put(slot, b[:])
	}
	if err := put(codegen.GlobalStart, uint64(ts.Nano())); err != nil {
		return fmt.Errorf("set start time: %w", err)
	}
	if child != nil {
		if err := put(codegen.GlobalCpid, uint64(child.PID())); err != nil {
			return fmt.Errorf("set cpid: %w", err)
		}
	}
	return nil
}

// watchProcess calls gone once the process exits.
func watchProcess(pid int, gone func()) (stop func(), err error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("-p %d: %w", pid, err)
	}
	done := make(chan struct{})
	go func() {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			select {
			case <-done:
				return
			default:
			}
			n, err := unix.Poll(fds, 200)
			if err == nil && n > 0 {
				gone()
				return
			}
		}
	}()
	return func() {
		close(done)
		unix.Close(fd)
	}, nil
}
