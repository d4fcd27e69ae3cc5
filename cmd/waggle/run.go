package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/spf13/cobra"
	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/btfprint"
	"github.com/wagglebpf/waggle/lang/compiled"
	"github.com/wagglebpf/waggle/session"
)

type runFlags struct {
	list     bool
	verbose  bool
	output   string
	sets     []string
	attach   []string
	only     []string
	skip     []string
	iface    string
	cgroup   string
	pid      int
	freq     uint64
	period   uint64
	duration time.Duration
	interval time.Duration
	command  string
	// commandSet is true when -c was given, even as -c ''.
	commandSet bool
	eventType  string
	perCPU     bool
	perfPages  int
	// unsafe allows system() and signal() in a compiled bpftrace program.
	unsafe bool
	// changed tells which flags were given.
	changed func(name string) bool
}

func newRunCommand() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run {OBJECT.o | PROGRAM.wgl}",
		Short: "Load a clang-built BPF object, attach its programs by section name, print its events and maps",
		Long: `Load a clang-built (CO-RE) BPF object, attach every program by its section
name following libbpf's conventions, print ring buffer and perf buffer events
decoded through BTF, and print the object's maps at exit.

Runs until Ctrl-C, --duration, or until the command given with -c exits.

A program compiled with waggle trace --compile (a .wgl file, recognised by
its first bytes) runs as waggle trace runs it, with the same output: -o
json is trace's -f json, -c, --pid, --duration, -v and --unsafe apply.`,
		Example: `  waggle run opensnoop.bpf.o --set targ_pid=1234
  waggle run uprobe.bpf.o --attach on_enter=/bin/bash:readline -c 'bash -c true'
  waggle run xdp.bpf.o --iface eth0 --duration 10s -o json
  waggle run tool.bpf.o --list
  waggle run prog.wgl -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.commandSet = cmd.Flags().Changed("command")
			f.changed = cmd.Flags().Changed
			return runObject(cmd.Context(), args[0], &f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.list, "list", false, "list programs, maps and settable variables, then exit")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "explain decisions and show whole verifier logs")
	fl.StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	fl.StringArrayVar(&f.sets, "set", nil, "set a global variable before load: NAME=VALUE (repeatable)")
	fl.StringArrayVar(&f.attach, "attach", nil, "override a program's target: PROG=TARGET (repeatable)")
	fl.StringSliceVar(&f.only, "only", nil, "load only these programs: PROG,...")
	fl.StringSliceVar(&f.skip, "skip", nil, "do not load these programs: PROG,...")
	fl.StringVar(&f.iface, "iface", "", "network interface for xdp, tc and socket programs")
	fl.StringVar(&f.cgroup, "cgroup", "", "cgroup v2 directory for cgroup programs (default: the root)")
	fl.IntVar(&f.pid, "pid", 0, "attach uprobes to this process only")
	fl.Uint64Var(&f.freq, "freq", 99, "perf_event sampling frequency in Hz")
	fl.Uint64Var(&f.period, "period", 0, "perf_event sampling period in events (overrides --freq)")
	fl.DurationVar(&f.duration, "duration", 0, "stop after this long (e.g. 10s)")
	fl.DurationVar(&f.interval, "interval", 0, "print maps every interval (e.g. 1s)")
	fl.StringVarP(&f.command, "command", "c", "", "run this command with the programs attached; stop when it exits")
	fl.StringVar(&f.eventType, "event-type", "", "BTF type of ring/perf buffer records, when waggle cannot tell")
	fl.BoolVar(&f.perCPU, "per-cpu", false, "print per-CPU map values per CPU instead of summed")
	fl.IntVar(&f.perfPages, "perf-pages", 64, "size of each per-CPU perf buffer in pages (a power of two)")
	fl.BoolVar(&f.unsafe, "unsafe", false, "allow system() and signal() in a compiled bpftrace program (.wgl)")
	return cmd
}

// check refuses flag values that cannot work, before anything is loaded.
func (f *runFlags) check() error {
	switch {
	case f.output != "text" && f.output != "json":
		return fmt.Errorf("-o %s: expected text or json", attach.Shorten(f.output))
	case f.freq == 0:
		return errors.New("--freq 0: the sampling frequency must be at least 1 Hz")
	case f.perfPages < 1 || f.perfPages&(f.perfPages-1) != 0:
		return fmt.Errorf("--perf-pages %d: must be a power of two (1, 2, 4, 8, ...)", f.perfPages)
	case f.duration < 0:
		return fmt.Errorf("--duration %s: must not be negative", f.duration)
	case f.interval < 0:
		return fmt.Errorf("--interval %s: must not be negative", f.interval)
	case f.pid < 0:
		return fmt.Errorf("--pid %d: must be a process ID", f.pid)
	}
	return nil
}

func runObject(ctx context.Context, path string, f *runFlags, stdout, stderr io.Writer) (err error) {
	if err := f.check(); err != nil {
		return err
	}
	if isCompiledFile(path) {
		return runCompiledFile(ctx, path, f, stdout, stderr)
	}
	if f.unsafe {
		return errors.New("--unsafe applies to compiled bpftrace programs (.wgl), not to BPF objects")
	}
	// Catch SIGINT and SIGTERM from the start: a signal that arrives while
	// loading or attaching must still lead to a clean teardown.
	ctx, stopSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	overrides := map[string]string{}
	for _, a := range f.attach {
		prog, target, ok := strings.Cut(a, "=")
		if !ok || prog == "" || target == "" {
			return fmt.Errorf("--attach %q: expected PROG=TARGET", attach.Shorten(a))
		}
		overrides[prog] = target
	}
	var argv []string
	if f.commandSet {
		if argv, err = session.SplitCommand(f.command); err != nil {
			return err
		}
	}

	spec, err := session.LoadObject(path)
	if err != nil {
		return err
	}
	if f.list {
		return listObject(stdout, spec)
	}
	var eventType btf.Type
	if f.eventType != "" {
		// Checked now, not when the first record arrives: a typo must not
		// cost a whole run.
		if eventType, err = btfprint.TypeByName(spec.Types, f.eventType); err != nil {
			return fmt.Errorf("--event-type: %w", err)
		}
	}
	if err := session.SetVariables(spec, f.sets); err != nil {
		return err
	}
	// Privileges first: MakePlan probes the kernel. tracefs only after it,
	// and only when a target or the object needs it.
	if err := session.PrepareNoTracefs(); err != nil {
		return err
	}
	plan, err := session.MakePlan(spec, session.PlanOptions{Only: f.only, Skip: f.skip, Attach: overrides})
	if err != nil {
		return err
	}
	if f.verbose {
		for _, n := range plan.Notes {
			fmt.Fprintf(stderr, "waggle: %s\n", n)
		}
	}
	if f.pid != 0 && !hasUprobes(plan) {
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

	s, err := session.Open(spec, f.verbose, f.perfPages)
	if err != nil {
		return err
	}
	defer s.Close()

	opts := attach.Options{Interface: f.iface, Cgroup: f.cgroup, PID: f.pid, Frequency: f.freq, Period: f.period}
	names := make([]string, 0, len(plan.Targets))
	for n := range plan.Targets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := s.Attach(name, plan.Targets[name], opts); err != nil {
			return err
		}
		if f.verbose {
			fmt.Fprintf(stderr, "waggle: attached %s to %s\n", name, s.Attachments[len(s.Attachments)-1].Target())
		}
	}
	fmt.Fprintf(stderr, "Attached %d program%s. Ctrl-C to stop.\n", len(names), plural(len(names)))

	printer := newEventPrinter(stdout, stderr, spec, f, eventType)
	dumps := 0
	printMaps := func() {
		if f.interval > 0 {
			// Dumps follow one another: each says when it was taken, and
			// in text a blank line sets it off from the one before.
			if dumps > 0 && f.output != "json" {
				fmt.Fprintln(stdout)
			}
			printTimeHeader(stdout, f.output == "json", time.Now())
		}
		dumps++
		if err := printAllMaps(stdout, s, f); err != nil {
			fmt.Fprintf(stderr, "waggle: %v\n", err)
		}
	}
	stats, runErr := s.Run(ctx, session.RunOptions{
		Duration:   f.duration,
		Interval:   f.interval,
		OnInterval: printMaps,
		Child:      child,
		OnEvent:    printer.print,
		OnIter:     iterPrinter(stdout, f.output == "json"),
	})
	stopChild()
	if runErr != nil {
		return runErr
	}
	printer.flush()
	printMaps()
	for _, src := range sortedKeys(stats.Lost) {
		fmt.Fprintf(stderr, "waggle: %s: the kernel dropped %d records (perf buffer full)\n", src, stats.Lost[src])
	}
	if child != nil && child.Err() != nil && f.verbose {
		fmt.Fprintf(stderr, "waggle: -c command: %v\n", child.Err())
	}
	return s.Close()
}

// isCompiledFile reports whether path holds a program compiled by waggle
// trace --compile, judged by its first bytes.
func isCompiledFile(path string) bool {
	fh, err := os.Open(path)
	if err != nil {
		return false
	}
	defer fh.Close()
	head := make([]byte, len(compiled.Magic))
	n, _ := io.ReadFull(fh, head)
	return compiled.IsCompiled(head[:n]) && n == len(head)
}

// maxCompiledSize bounds what is read of a compiled program.
const maxCompiledSize = 256 << 20

// runCompiledFile runs a compiled bpftrace program as waggle trace runs it.
func runCompiledFile(ctx context.Context, path string, f *runFlags, stdout, stderr io.Writer) error {
	for _, name := range []string{"list", "set", "attach", "only", "skip", "iface", "cgroup", "freq", "period", "interval", "event-type", "per-cpu", "perf-pages"} {
		if f.changed != nil && f.changed(name) {
			return fmt.Errorf("--%s applies to BPF objects, not to compiled bpftrace programs (%s)", name, path)
		}
	}
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxCompiledSize+1))
	fh.Close()
	if err != nil {
		return err
	}
	if len(data) > maxCompiledSize {
		return fmt.Errorf("%s: larger than %d MiB, which no compiled program is", path, maxCompiledSize>>20)
	}
	tf := &traceFlags{format: f.output, pid: f.pid, verbose: f.verbose, unsafe: f.unsafe, argsAtDash: -1}
	if f.commandSet {
		if f.command == "" {
			return errors.New("-c: empty command")
		}
		tf.command = f.command
	}
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	return traceCompiled(ctx, tf, path, data, nil, nil, stdout, stderr)
}

func hasUprobes(plan *session.Plan) bool {
	for _, t := range plan.Targets {
		if t.Kind == attach.KindUprobe || t.Kind == attach.KindUretprobe {
			return true
		}
	}
	return false
}

// printTimeHeader precedes a periodic map dump with the local time, as
// libbpf-tools do: "15:04:05", or {"type": "time", "data": "15:04:05"}.
func printTimeHeader(w io.Writer, json bool, now time.Time) {
	if json {
		fmt.Fprintf(w, "{\"type\": \"time\", \"data\": %q}\n", now.Format(time.TimeOnly))
		return
	}
	fmt.Fprintln(w, now.Format(time.TimeOnly))
}

// iterPrinter writes what an iterator produced: as it is in text, and in
// JSON as one line per run, {"type": "iter", "program": NAME, "data": TEXT}.
func iterPrinter(w io.Writer, asJSON bool) func(string, []byte) {
	return func(program string, out []byte) {
		if !asJSON {
			w.Write(out)
			return
		}
		fmt.Fprintf(w, "{\"type\": \"iter\", \"program\": %s, \"data\": %s}\n", jsonString(program), jsonString(string(out)))
	}
}

// jsonString encodes s as a JSON string, leaving <, > and & as they are.
func jsonString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// eventPrinter decodes records of each event source through BTF.
type eventPrinter struct {
	stdout, stderr io.Writer
	spec           *ebpf.CollectionSpec
	json           bool
	// eventType is --event-type's type, or nil.
	eventType btf.Type
	tables    map[string]*btfprint.EventTable
	types     map[string]btf.Type
	warned    map[string]bool
}

func newEventPrinter(stdout, stderr io.Writer, spec *ebpf.CollectionSpec, f *runFlags, eventType btf.Type) *eventPrinter {
	return &eventPrinter{
		stdout: stdout, stderr: stderr, spec: spec,
		json:      f.output == "json",
		eventType: eventType,
		tables:    map[string]*btfprint.EventTable{},
		types:     map[string]btf.Type{},
		warned:    map[string]bool{},
	}
}

// warnOnce writes a warning about a source the first time key comes up.
func (p *eventPrinter) warnOnce(src, key, format string, args ...any) {
	if p.warned[src+"/"+key] {
		return
	}
	p.warned[src+"/"+key] = true
	fmt.Fprintf(p.stderr, "waggle: %s: %s\n", src, fmt.Sprintf(format, args...))
}

// typeFor finds the BTF type of a source's records: the map's own value
// type, --event-type, or the one struct of the record's size.
func (p *eventPrinter) typeFor(ev session.Event) (btf.Type, error) {
	if t, ok := p.types[ev.Source.Name]; ok {
		return t, nil
	}
	var t btf.Type
	var err error
	switch {
	case ev.Source.Spec != nil && ev.Source.Spec.Value != nil && !isPlainInt(ev.Source.Spec.Value):
		t = ev.Source.Spec.Value
	case p.eventType != nil:
		t = p.eventType
	case p.spec.Types == nil:
		err = fmt.Errorf("the object has no BTF")
	default:
		t, err = btfprint.EventType(p.spec.Types, len(ev.Data), ev.Source.Perf)
	}
	if err != nil {
		return nil, err
	}
	p.types[ev.Source.Name] = t
	return t, nil
}

func isPlainInt(t btf.Type) bool {
	_, ok := btf.UnderlyingType(t).(*btf.Int)
	return ok
}

func (p *eventPrinter) hex(ev session.Event) {
	if p.json {
		fmt.Fprintf(p.stdout, "{\"type\": \"event\", \"map\": %q, \"hex\": %q}\n", ev.Source.Name, btfprint.HexRecord(ev.Data))
	} else {
		fmt.Fprintln(p.stdout, btfprint.HexRecord(ev.Data))
	}
}

// perfPadding is how many bytes the kernel may add to a perf sample so
// that it and its 4-byte size header end on 8 bytes.
const perfPadding = 7

func (p *eventPrinter) print(ev session.Event) {
	src := ev.Source.Name
	t, err := p.typeFor(ev)
	if err != nil {
		p.warnOnce(src, "type", "%v; printing records as hex", err)
		p.hex(ev)
		return
	}
	if size, err := btf.Sizeof(t); err == nil {
		n := len(ev.Data)
		switch {
		case n < size:
			p.warnOnce(src, "short", "%s is %d bytes, but a record is only %d; printing such records as hex", session.TypeName(t), size, n)
			p.hex(ev)
			return
		case n > size && !(ev.Source.Perf && n-size <= perfPadding):
			p.warnOnce(src, "long", "%s is %d bytes, but a record is %d; printing the first %d bytes of such records", session.TypeName(t), size, n, size)
		}
	}
	if p.json {
		err = btfprint.EventJSON(p.stdout, ev.Source.Name, t, ev.Data)
	} else {
		tab := p.tables[ev.Source.Name]
		if tab == nil {
			if tab, err = btfprint.NewEventTable(p.stdout, t); err != nil {
				fmt.Fprintf(p.stderr, "waggle: %s: %v\n", ev.Source.Name, err)
				return
			}
			p.tables[ev.Source.Name] = tab
		}
		err = tab.Write(ev.Data)
	}
	if err != nil {
		p.warnOnce(src, "decode", "%v", err)
	}
}

func (p *eventPrinter) flush() {
	if len(p.tables) > 0 && !p.json {
		fmt.Fprintln(p.stdout)
	}
}

// printAllMaps prints every map with BTF key and value types that holds
// anything, bpftrace-style.
func printAllMaps(w io.Writer, s *session.Session, f *runFlags) error {
	maps, err := session.ReadMaps(s)
	if err != nil {
		return err
	}
	for _, m := range maps {
		if err := btfprint.PrintMap(w, m, btfprint.MapOptions{JSON: f.output == "json", PerCPU: f.perCPU}); err != nil {
			return fmt.Errorf("print map %s: %w", m.Name, err)
		}
	}
	return nil
}

func listObject(w io.Writer, spec *ebpf.CollectionSpec) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROGRAM\tSECTION\tTYPE\tATTACH")
	for _, name := range sortedKeys(spec.Programs) {
		ps := spec.Programs[name]
		where := ""
		t, err := attach.ParseSection(ps.SectionName, ps.Type, ps.AttachType)
		switch {
		case err != nil:
			where = "(unknown section)"
		case !t.HasTarget():
			where = "(needs --attach)"
		case (t.Kind == attach.KindXDP || t.Kind == attach.KindTC || t.Kind == attach.KindSocket) && t.Interface == "":
			where = "(needs --iface)"
		default:
			where = t.String()
		}
		if strings.HasPrefix(ps.SectionName, "?") {
			where += " (not loaded by default)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, ps.SectionName, ps.Type, where)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "MAP\tTYPE\tKEY\tVALUE\tMAX ENTRIES")
	for _, name := range sortedKeys(spec.Maps) {
		ms := spec.Maps[name]
		if strings.HasPrefix(name, ".") {
			continue
		}
		entries := strconv.FormatUint(uint64(ms.MaxEntries), 10)
		if ms.Type == ebpf.PerfEventArray && ms.MaxEntries == 0 {
			// cilium/ebpf sizes it to the number of CPUs when loading.
			entries = "per CPU"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, ms.Type, session.TypeName(ms.Key), session.TypeName(ms.Value), entries)
	}
	vars := session.Variables(spec)
	if len(vars) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "VARIABLE\tTYPE\tVALUE\tSECTION")
		for _, v := range vars {
			val, err := btfprint.Text(v.Type, v.Spec.Value)
			if err != nil {
				val = "?"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Name, session.TypeName(v.Type), val, v.Section)
		}
	}
	return tw.Flush()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
