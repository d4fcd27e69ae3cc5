// Package objectrun is `waggle run` as a library: it loads a clang-built
// BPF object, attaches every program by its section name, prints ring
// buffer and perf buffer events decoded through BTF and the object's maps
// at exit, and leaves nothing in the kernel when it returns. The command
// line and the agent both run objects through it.
package objectrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/btfprint"
	"github.com/wagglebpf/waggle/session"
)

// Options are `waggle run`'s flags.
type Options struct {
	// List prints the programs, maps and settable variables and loads
	// nothing.
	List bool
	// Verbose explains decisions and shows whole verifier logs.
	Verbose bool
	// Output is "text" or "json".
	Output string
	// Sets are NAME=VALUE assignments of global variables (--set).
	Sets []string
	// Attach are PROG=TARGET overrides (--attach).
	Attach     []string
	Only, Skip []string
	Iface      string
	Cgroup     string
	// PID restricts uprobes to one process.
	PID          int
	Freq, Period uint64
	// Duration stops the run after this long; Interval prints the maps
	// periodically. Zero means never.
	Duration, Interval time.Duration
	// Command is the -c command line, started once every program is
	// attached. CommandSet tells -c '' from no -c.
	Command    string
	CommandSet bool
	// EventType names the BTF type of ring and perf buffer records.
	EventType string
	// PerCPU prints per-CPU map values per CPU instead of summed.
	PerCPU bool
	// PerfPages sizes each per-CPU perf buffer, a power of two.
	PerfPages int
	// OnOpen, when set, is called once the object is loaded, before
	// anything is attached; the function it returns is called before the
	// session is closed. Callers use it to read the session's maps while
	// it runs.
	OnOpen func(*session.Session) (done func())
	// OnAttached, when set, is called once every program is attached.
	OnAttached func()
}

// Defaults are the values of the flags a user did not give.
func Defaults() Options {
	return Options{Output: "text", Freq: 99, PerfPages: 64}
}

// Check refuses option values that cannot work, before anything is loaded.
func (o *Options) Check() error {
	switch {
	case o.Output != "text" && o.Output != "json":
		return fmt.Errorf("-o %s: expected text or json", attach.Shorten(o.Output))
	case o.Freq == 0:
		return errors.New("--freq 0: the sampling frequency must be at least 1 Hz")
	case o.PerfPages < 1 || o.PerfPages&(o.PerfPages-1) != 0:
		return fmt.Errorf("--perf-pages %d: must be a power of two (1, 2, 4, 8, ...)", o.PerfPages)
	case o.Duration < 0:
		return fmt.Errorf("--duration %s: must not be negative", o.Duration)
	case o.Interval < 0:
		return fmt.Errorf("--interval %s: must not be negative", o.Interval)
	case o.PID < 0:
		return fmt.Errorf("--pid %d: must be a process ID", o.PID)
	}
	return nil
}

// RunFile runs the object at path until ctx is done (Ctrl-C), Duration
// passes or the command exits, writing events and maps to stdout and
// notes to stderr. It does not catch signals: callers cancel ctx.
func RunFile(ctx context.Context, path string, o Options, stdout, stderr io.Writer) (err error) {
	if err := o.Check(); err != nil {
		return err
	}
	overrides, err := parseOverrides(o.Attach)
	if err != nil {
		return err
	}
	var argv []string
	if o.CommandSet {
		if argv, err = session.SplitCommand(o.Command); err != nil {
			return err
		}
	}
	spec, err := session.LoadObject(path)
	if err != nil {
		return err
	}
	if o.List {
		return List(stdout, spec)
	}
	var eventType btf.Type
	if o.EventType != "" {
		// Checked now, not when the first record arrives: a typo must not
		// cost a whole run.
		if eventType, err = btfprint.TypeByName(spec.Types, o.EventType); err != nil {
			return fmt.Errorf("--event-type: %w", err)
		}
	}
	if err := session.SetVariables(spec, o.Sets); err != nil {
		return err
	}
	// Privileges first: MakePlan probes the kernel. tracefs only after it,
	// and only when a target or the object needs it.
	if err := session.PrepareNoTracefs(); err != nil {
		return err
	}
	plan, err := session.MakePlan(spec, session.PlanOptions{Only: o.Only, Skip: o.Skip, Attach: overrides})
	if err != nil {
		return err
	}
	if o.Verbose {
		for _, n := range plan.Notes {
			fmt.Fprintf(stderr, "waggle: %s\n", n)
		}
	}
	if o.PID != 0 && !hasUprobes(plan) {
		fmt.Fprintf(stderr, "waggle: --pid filters only uprobes, and this object attaches none\n")
	}
	if session.NeedsTracefs(spec, plan) {
		session.MountTracefs(stderr)
	}

	var child *session.Child
	stopChild := func() {}
	if argv != nil {
		if child, err = session.StartChild(argv); err != nil {
			return err
		}
		// However the run ends, the command does not outlive it, as with
		// bpftrace: a child that never ran exits without running, one that
		// is still running is killed, and either is reaped. Abandon does
		// nothing to a child that has exited already.
		stopChild = child.Abandon
		defer child.Abandon()
	}

	s, err := session.Open(spec, o.Verbose, o.PerfPages)
	if err != nil {
		return err
	}
	defer s.Close()
	withdraw := func() {}
	if o.OnOpen != nil {
		if done := o.OnOpen(s); done != nil {
			withdraw = sync.OnceFunc(done)
		}
	}
	// Whoever reads the maps stops before they are closed, on every path.
	defer withdraw()

	opts := attach.Options{Interface: o.Iface, Cgroup: o.Cgroup, PID: o.PID, Frequency: o.Freq, Period: o.Period}
	names := slices.Sorted(maps.Keys(plan.Targets))
	for _, name := range names {
		if err := s.Attach(name, plan.Targets[name], opts); err != nil {
			return err
		}
		if o.Verbose {
			fmt.Fprintf(stderr, "waggle: attached %s to %s\n", name, s.Attachments[len(s.Attachments)-1].Target())
		}
	}
	fmt.Fprintf(stderr, "Attached %d program%s. Ctrl-C to stop.\n", len(names), plural(len(names)))
	if o.OnAttached != nil {
		o.OnAttached()
	}

	printer := newEventPrinter(stdout, stderr, spec, o.Output == "json", eventType)
	dumps := 0
	printMaps := func() {
		if o.Interval > 0 {
			// Dumps follow one another: each says when it was taken, and
			// in text a blank line sets it off from the one before.
			if dumps > 0 && o.Output != "json" {
				fmt.Fprintln(stdout)
			}
			printTimeHeader(stdout, o.Output == "json", time.Now())
		}
		dumps++
		if err := PrintMaps(stdout, s, btfprint.MapOptions{JSON: o.Output == "json", PerCPU: o.PerCPU}); err != nil {
			fmt.Fprintf(stderr, "waggle: %v\n", err)
		}
	}
	stats, runErr := s.Run(ctx, session.RunOptions{
		Duration:   o.Duration,
		Interval:   o.Interval,
		OnInterval: printMaps,
		Child:      child,
		OnEvent:    printer.print,
		OnIter:     iterPrinter(stdout, o.Output == "json"),
	})
	stopChild()
	if runErr != nil {
		return runErr
	}
	printer.flush()
	printMaps()
	for _, src := range slices.Sorted(maps.Keys(stats.Lost)) {
		fmt.Fprintf(stderr, "waggle: %s: the kernel dropped %d records (perf buffer full)\n", src, stats.Lost[src])
	}
	if child != nil && child.Err() != nil && o.Verbose {
		fmt.Fprintf(stderr, "waggle: -c command: %v\n", child.Err())
	}
	withdraw()
	return s.Close()
}

func parseOverrides(attachFlags []string) (map[string]string, error) {
	overrides := map[string]string{}
	for _, a := range attachFlags {
		prog, target, ok := strings.Cut(a, "=")
		if !ok || prog == "" || target == "" {
			return nil, fmt.Errorf("--attach %q: expected PROG=TARGET", attach.Shorten(a))
		}
		overrides[prog] = target
	}
	return overrides, nil
}

func hasUprobes(plan *session.Plan) bool {
	for _, t := range plan.Targets {
		if t.Kind == attach.KindUprobe || t.Kind == attach.KindUretprobe {
			return true
		}
	}
	return false
}

// PrintMaps prints every map of s with BTF key and value types that holds
// anything, bpftrace-style.
func PrintMaps(w io.Writer, s *session.Session, o btfprint.MapOptions) error {
	ms, err := session.ReadMaps(s)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := btfprint.PrintMap(w, m, o); err != nil {
			return fmt.Errorf("print map %s: %w", m.Name, err)
		}
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
