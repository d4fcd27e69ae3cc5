package driver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/lang/codegen"
	"github.com/wagglebpf/waggle/lang/compiled"
	"github.com/wagglebpf/waggle/lang/sema"
	"github.com/wagglebpf/waggle/session"
)

// Options say how to run a compiled script: what the runner decides, as
// opposed to what was compiled in (see lang/compiled).
type Options struct {
	JSON bool
	// Stdout and Stderr receive everything the run prints: the script's
	// output, and warnings and messages. An agent streams them.
	Stdout io.Writer
	Stderr io.Writer
	// Command is the -c command, started once probes are attached.
	Command []string
	// PID is -p. The process filter is compiled into the programs: a PID
	// here must be the one they were compiled with (0 takes theirs).
	PID int
	// Unsafe allows system() and signal() (--unsafe). A program compiled
	// with --unsafe runs only when its runner allows them too.
	Unsafe bool
	// DryRun loads every program into the verifier and attaches nothing.
	DryRun bool
	// Verbose shows whole verifier logs.
	Verbose bool
	// Quiet suppresses the "Attaching N probes..." line (-q).
	Quiet bool
	// OnOpen, when set, is called once the programs are loaded, before
	// anything is attached; the function it returns is called before the
	// programs and maps are closed, on every path.
	OnOpen func(*Running) (done func())
	// OnAttached, when set, is called once every probe is attached and
	// BEGIN has run.
	OnAttached func()
}

// Run loads and runs a compiled script until exit(), the end of the -c
// command, or ctx's end (Ctrl-C), and returns the exit code the script
// chose. Field offsets of kernel structs are relocated for this kernel;
// a program read from a file (lp.Decoded) must also pass lp.Check against
// this machine. Everything it prints goes to o.Stdout and o.Stderr.
func Run(ctx context.Context, lp *compiled.Program, o Options) (code int, err error) {
	if err := runnable(lp, o); err != nil {
		return 1, err
	}
	p, file, src := lp.Code, lp.File, lp.Source
	pid := lp.PID
	if err := session.Prepare(o.Stderr); err != nil {
		return 1, err
	}
	if lp.Decoded() {
		if err := lp.Check(thisMachine(lp)); err != nil {
			return 1, fmt.Errorf("the compiled program does not fit this machine:\n%w", err)
		}
	}
	var child *session.Child
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
		return 1, explainLoadError(p, file, src, err)
	}
	defer s.Close()
	sysSymbols.programsLoaded()
	if o.DryRun {
		return 0, nil
	}
	if err := setGlobals(s, child); err != nil {
		return 1, err
	}

	printer := newPrinter(p, file, src, o, s.Collection.Maps[codegen.StacksMap])
	withdraw := func() {}
	if o.OnOpen != nil {
		if done := o.OnOpen(&Running{pr: printer, s: s}); done != nil {
			withdraw = sync.OnceFunc(done)
		}
	}
	// Whoever reads the maps stops before they are closed.
	defer withdraw()
	var begin, end []*codegen.Probe
	for _, pr := range p.Probes {
		switch pr.Instance.Kind {
		case sema.ProbeBegin:
			begin = append(begin, pr)
		case sema.ProbeEnd:
			end = append(end, pr)
		case sema.ProbeUsdt:
			if err := attachUSDT(s, pr, pid); err != nil {
				return 1, attachError(pr, file, src, err)
			}
		default:
			if err := s.Attach(pr.Program, pr.Target, attach.Options{PID: pid}); err != nil {
				return 1, attachError(pr, file, src, unwrapProgram(err))
			}
		}
	}
	if pid != 0 && usesUserSymbols(p) {
		// The run ends when the process does, and the maps print after:
		// its mappings must be known by then. Best effort: a process that
		// is already gone prints its addresses in hex.
		sysSymbols.resolver().Snapshot(pid)
	}
	if !o.Quiet {
		printer.attached(len(p.Probes))
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if pid != 0 {
		// Like bpftrace, stop when the traced process is gone.
		stop, err := watchProcess(pid, cancel)
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
	if o.OnAttached != nil {
		o.OnAttached()
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
	withdraw()
	return exitCode, s.Close()
}

// runnable refuses runs that the program and the options disagree on.
func runnable(lp *compiled.Program, o Options) error {
	switch {
	case lp == nil || lp.Code == nil || lp.Code.Spec == nil || lp.Code.Info == nil:
		return errors.New("nothing to run: the program is empty")
	case len(o.Command) > 0 && (o.PID != 0 || lp.PID != 0):
		return errors.New("-c and -p cannot be used together")
	case lp.Unsafe && !o.Unsafe:
		return errors.New("the program was compiled with --unsafe (it may call system() or signal()): run it with --unsafe to allow that")
	case o.PID != 0 && lp.PID == 0:
		return fmt.Errorf("-p %d: the program was compiled without -p, and the process filter is compiled in: compile the script with -p %d", o.PID, o.PID)
	case o.PID != 0 && o.PID != lp.PID:
		return fmt.Errorf("-p %d: the program was compiled for -p %d, and the process filter is compiled in: compile the script with -p %d", o.PID, lp.PID, o.PID)
	}
	return nil
}

// thisMachine describes the running machine, for checking a compiled
// program read from a file.
func thisMachine(lp *compiled.Program) compiled.Target {
	ncpus, err := ebpf.PossibleCPU()
	if err != nil {
		ncpus = runtime.NumCPU()
	}
	t := compiled.Target{
		Arch:             runtime.GOARCH,
		NCPUs:            ncpus,
		BTF:              btf.LoadKernelSpec,
		TracepointFormat: attach.ReadTracepointFormat,
		KernelSymbol:     sysSymbols.kernelAddress,
		UserSymbol:       sysSymbols.userAddress,
		USDTProbes:       attach.USDTProbes,
	}
	if lp.Assumes.RingBuf {
		t.NoRingBuf = features.HaveMapType(ebpf.RingBuf) != nil
	}
	return t
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
