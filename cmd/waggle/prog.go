package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/inspect"
)

const progRefHelp = `PROG is "id N", "name NAME", "tag TAG", "pinned PATH", or just N or PATH.`

func newProgCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prog",
		Short: "List, describe, disassemble, pin and profile the BPF programs loaded in the kernel",
		Long: `List the BPF programs loaded in the kernel with the processes holding them and
where they are attached, disassemble what the kernel runs (the verifier's rewritten
instructions, or the JIT's native code), pin them, and measure how often and how
long they run, as bpftool prog does.

` + progRefHelp,
		Example: `  waggle prog list
  waggle prog show name trace_openat
  waggle prog dump id 42 --xlated --opcodes
  waggle prog dump 42 --jited -o json
  waggle prog pin id 42 /sys/fs/bpf/trace_openat
  waggle prog profile --duration 5s`,
	}
	cmd.AddCommand(newProgListCommand(), newProgShowCommand(), newProgDumpCommand(),
		newProgPinCommand(), newProgProfileCommand())
	return cmd
}

// progSelectorArgs reads an optional PROG (every program without one) and
// refuses anything after it.
func progSelectorArgs(args []string) (inspect.ProgSelector, error) {
	if len(args) == 0 {
		return inspect.ProgSelector{}, nil
	}
	sel, rest, err := inspect.ParseProgSelector(args)
	if err != nil {
		return sel, err
	}
	if len(rest) > 0 {
		return sel, fmt.Errorf("unexpected %q after the program", attach.Shorten(rest[0]))
	}
	return sel, nil
}

func newProgListCommand() *cobra.Command {
	return listingCommand(&cobra.Command{
		Use:     "list [PROG]",
		Aliases: []string{"ls"},
		Short:   "List the loaded programs",
		Long: `List the BPF programs loaded in the kernel (or those PROG names): ID, type, name,
tag, load time, instructions after the kernel's rewrites, instructions the verifier
processed, locked memory in bytes, map IDs, the processes holding the program
(found through /proc/PID/fd) and where it is attached (from links, perf event
descriptors, and XDP and tc hooks). When the kernel has counted runs
(kernel.bpf_stats_enabled, or waggle prog profile), also how many times each
program ran, for how long in total and on average.
-o json prints one JSON object per program and line.

` + progRefHelp,
	}, programs, func(w io.Writer, progs []inspect.ProgInfo) error {
		return writeProgTable(w, progs, showRunStats(progs))
	})
}

// programs gathers the programs an optional PROG argument picks.
func programs(args []string) ([]inspect.ProgInfo, error) {
	sel, err := progSelectorArgs(args)
	if err != nil {
		return nil, err
	}
	return inspect.Programs(sel)
}

// listingCommand completes a listing command: -o text prints what text
// writes, -o json one JSON object per item and line.
func listingCommand[T any](cmd *cobra.Command, gather func(args []string) ([]T, error), text func(io.Writer, []T) error) *cobra.Command {
	var output string
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(output); err != nil {
			return err
		}
		items, err := gather(args)
		if err != nil {
			return err
		}
		if output == "json" {
			return writeJSONLines(cmd.OutOrStdout(), items)
		}
		return text(cmd.OutOrStdout(), items)
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func newProgShowCommand() *cobra.Command {
	return listingCommand(&cobra.Command{
		Use:   "show [PROG]",
		Short: "Describe programs in full",
		Long: `Describe the programs PROG names (several may share a name or tag), one block
each, with every field list shows and the BTF ID, JITed size, creator's uid and
pinned paths. Without PROG, every program.

` + progRefHelp,
	}, programs, writeProgDetails)
}

// writeJSONLines prints one JSON object per element and line.
func writeJSONLines[T any](w io.Writer, items []T) error {
	enc := json.NewEncoder(w)
	for i := range items {
		if err := enc.Encode(&items[i]); err != nil {
			return err
		}
	}
	return nil
}

func loadedText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func joinUints(ids []uint32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatUint(uint64(id), 10)
	}
	return strings.Join(s, ",")
}

func attachText(as []inspect.AttachPoint) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, "; ")
}

// showRunStats decides whether a listing has run statistics columns:
// while the kernel counts, or when some program has counts from a time
// it did.
func showRunStats(progs []inspect.ProgInfo) bool {
	if inspect.StatsEnabled() {
		return true
	}
	for _, p := range progs {
		if p.RunCount > 0 {
			return true
		}
	}
	return false
}

// writeProgTable prints programs in aligned columns, with run statistics
// when they are being counted.
func writeProgTable(w io.Writer, progs []inspect.ProgInfo, stats bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "ID\tTYPE\tNAME\tTAG\tLOADED\tINSNS\tVERIFIED\tMEMLOCK\tMAPS"
	if stats {
		head += "\tRUNS\tRUN TIME\tMEAN"
	}
	fmt.Fprintln(tw, head+"\tPIDS\tATTACHED")
	for _, p := range progs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s", p.ID, p.Type, orDash(p.Name), p.Tag,
			loadedText(p.LoadedAt), p.Insns, p.VerifiedInsns, p.Memlock, orDash(joinUints(p.MapIDs)))
		if stats {
			fmt.Fprintf(tw, "\t%d\t%s\t%s", p.RunCount, time.Duration(p.RunTimeNs), p.MeanRunTime())
		}
		fmt.Fprintf(tw, "\t%s\t%s\n", orDash(pidsText(p.Pids)), orDash(attachText(p.Attach)))
	}
	return tw.Flush()
}

// writeProgDetails prints each program as a block of "key: value" lines.
func writeProgDetails(w io.Writer, progs []inspect.ProgInfo) error {
	for i, p := range progs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
		row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
		row("id", strconv.FormatUint(uint64(p.ID), 10))
		row("type", p.Type)
		row("name", orDash(p.Name))
		row("tag", p.Tag)
		row("loaded", loadedText(p.LoadedAt))
		row("uid", strconv.FormatUint(uint64(p.UID), 10))
		row("btf", orDash(idText(p.BTFID)))
		row("insns", fmt.Sprintf("%d (%d verified)", p.Insns, p.VerifiedInsns))
		row("jited", fmt.Sprintf("%d bytes", p.JitedBytes))
		row("memlock", fmt.Sprintf("%d bytes", p.Memlock))
		row("maps", orDash(joinUints(p.MapIDs)))
		row("pids", orDash(pidsText(p.Pids)))
		row("pinned", orDash(strings.Join(p.Pinned, ",")))
		if len(p.Attach) == 0 {
			row("attached", "-")
		}
		for _, a := range p.Attach {
			row("attached", a.String())
		}
		if p.RunCount > 0 || p.RunTimeNs > 0 {
			row("runs", fmt.Sprintf("%d in %s (mean %s, %d recursion misses)", p.RunCount, time.Duration(p.RunTimeNs), p.MeanRunTime(), p.RecursionMisses))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

type progDumpFlags struct {
	output  string
	xlated  bool
	jited   bool
	opcodes bool
}

func newProgDumpCommand() *cobra.Command {
	var f progDumpFlags
	cmd := &cobra.Command{
		Use:   "dump [xlated|jited] PROG",
		Short: "Disassemble what the kernel runs for a program",
		Long: `Disassemble the programs PROG names. --xlated (the default) prints the
instructions after the verifier's rewrites, as the kernel runs them, with the C
source lines of the program's BTF line info ("; line @ file:N") and its
functions' prototypes; helper calls are named through /proc/kallsyms. --jited
prints the native code the kernel's JIT made (amd64 and arm64), with the same
source lines. --opcodes adds each instruction's bytes. -o json prints one JSON
object per program and line. bpftool's spelling, dump xlated PROG, works too.

` + progRefHelp,
		Example: `  waggle prog dump id 42
  waggle prog dump xlated name trace_openat --opcodes
  waggle prog dump 42 --jited`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(f.output); err != nil {
				return err
			}
			if len(args) > 0 && (args[0] == "xlated" || args[0] == "jited") {
				f.xlated, f.jited = f.xlated || args[0] == "xlated", f.jited || args[0] == "jited"
				args = args[1:]
			}
			if f.xlated && f.jited {
				return errors.New("--xlated and --jited: choose one")
			}
			if len(args) == 0 {
				return errors.New("no program given: name one as id N, name NAME, tag TAG or pinned PATH")
			}
			sel, err := progSelectorArgs(args)
			if err != nil {
				return err
			}
			ids, err := inspect.ProgIDs(sel)
			if err != nil {
				return err
			}
			return dumpProgs(cmd.OutOrStdout(), ids, &f)
		},
	}
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	cmd.Flags().BoolVar(&f.xlated, "xlated", false, "print the instructions after the kernel's rewrites (the default)")
	cmd.Flags().BoolVar(&f.jited, "jited", false, "print the native code of the kernel's JIT")
	cmd.Flags().BoolVar(&f.opcodes, "opcodes", false, "print each instruction's bytes")
	return cmd
}

func dumpProgs[ID ~uint32](w io.Writer, ids []ID, f *progDumpFlags) error {
	for i, id := range ids {
		var (
			dump any
			err  error
		)
		if f.jited {
			dump, err = inspect.DumpJited(uint32(id))
		} else {
			dump, err = inspect.DumpXlated(uint32(id))
		}
		if err != nil {
			return err
		}
		if f.output == "json" {
			if err := json.NewEncoder(w).Encode(dump); err != nil {
				return err
			}
			continue
		}
		if len(ids) > 1 {
			if i > 0 {
				fmt.Fprintln(w)
			}
			var h inspect.ProgHeader
			switch d := dump.(type) {
			case *inspect.XlatedDump:
				h = d.ProgHeader
			case *inspect.JitedDump:
				h = d.ProgHeader
			}
			fmt.Fprintf(w, "# program %d %s (%s, tag %s)\n", h.ID, h.Name, h.Type, h.Tag)
		}
		switch d := dump.(type) {
		case *inspect.XlatedDump:
			err = writeXlated(w, d, f.opcodes)
		case *inspect.JitedDump:
			err = writeJited(w, d, f.opcodes)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// sourceLines prints a source line when it differs from the previous one.
type sourceLines struct{ last string }

func (s *sourceLines) write(w io.Writer, l *inspect.SourceLine) {
	if l == nil || l.Text == "" {
		return
	}
	if line := l.String(); line != s.last {
		fmt.Fprintln(w, line)
		s.last = line
	}
}

// writeXlated prints instructions as bpftool does: "  12: (85) call ...".
func writeXlated(w io.Writer, d *inspect.XlatedDump, opcodes bool) error {
	var src sourceLines
	for _, x := range d.Insns {
		if x.Func != "" {
			fmt.Fprintf(w, "%s:\n", x.Func)
		}
		src.write(w, x.Source)
		fmt.Fprintf(w, "%4d: (%02x) %s\n", x.PC, x.Opcode, x.Text)
		if opcodes {
			fmt.Fprintf(w, "      %s\n", hexBytes(x.Bytes))
		}
	}
	return nil
}

func hexBytes(b []byte) string {
	s := make([]string, len(b))
	for i, c := range b {
		s[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(s, " ")
}

// writeJited prints each function's native code, offsets from its start.
func writeJited(w io.Writer, d *inspect.JitedDump, opcodes bool) error {
	for i, f := range d.Funcs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if f.Addr != 0 {
			fmt.Fprintf(w, "%s (%#x):\n", f.Name, f.Addr)
		} else {
			fmt.Fprintf(w, "%s:\n", f.Name)
		}
		var src sourceLines
		for _, in := range f.Insns {
			src.write(w, in.Source)
			if opcodes {
				fmt.Fprintf(w, "%6x:  %-30s %s\n", in.Offset, hexBytes(in.Bytes), in.Text)
			} else {
				fmt.Fprintf(w, "%6x:  %s\n", in.Offset, in.Text)
			}
		}
	}
	return nil
}

func newProgPinCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "pin PROG PATH",
		Short: "Pin a program to a path on the BPF filesystem",
		Long: `Pin the program PROG names at PATH on a BPF filesystem, so that it stays loaded
after every process holding it exits (rm PATH unpins it). PATH's directories are
created, and /sys/fs/bpf is mounted when it is missing and waggle runs as root.

` + progRefHelp,
		Example: `  waggle prog pin id 42 /sys/fs/bpf/trace_openat`,
		RunE: func(cmd *cobra.Command, args []string) error {
			sel, rest, err := inspect.ParseProgSelector(args)
			if err != nil {
				return err
			}
			if len(rest) != 1 {
				return errors.New("give the program and then one path to pin it at, under /sys/fs/bpf")
			}
			if err := inspect.PinProgram(sel, rest[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pinned %s at %s\n", sel, rest[0])
			return nil
		},
	}
}

type progProfileFlags struct {
	output   string
	duration time.Duration
	enable   bool
	disable  bool
}

func newProgProfileCommand() *cobra.Command {
	var f progProfileFlags
	cmd := &cobra.Command{
		Use:   "profile [PROG]",
		Short: "Show how often and how long programs run",
		Long: `Show how many times each program (or those PROG names) ran, for how long in
total and on average, busiest first.

With --duration, waggle turns the kernel's run statistics on for that long
(BPF_ENABLE_STATS: nothing stays switched on after waggle exits) and reports what
ran in that interval; Ctrl-C ends it early. Without it, the counters since
kernel.bpf_stats_enabled was switched on are shown. --enable-stats switches the
sysctl on (the kernel then counts until it is switched off; counting costs a few
nanoseconds per run), --disable-stats switches it off again. -o json prints one
JSON object per program and line.

` + progRefHelp,
		Example: `  waggle prog profile --duration 5s
  waggle prog profile name trace_openat --duration 10s -o json
  waggle prog profile --enable-stats; waggle prog list; waggle prog profile --disable-stats`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(f.output); err != nil {
				return err
			}
			sel, err := progSelectorArgs(args)
			if err != nil {
				return err
			}
			return profileProgs(cmd, sel, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	fl.DurationVarP(&f.duration, "duration", "d", 0, "measure for this long with statistics switched on just for it")
	fl.BoolVar(&f.enable, "enable-stats", false, "switch kernel.bpf_stats_enabled on and leave it on")
	fl.BoolVar(&f.disable, "disable-stats", false, "switch kernel.bpf_stats_enabled off")
	return cmd
}

func profileProgs(cmd *cobra.Command, sel inspect.ProgSelector, f *progProfileFlags) error {
	out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	switch {
	case f.enable && f.disable:
		return errors.New("--enable-stats and --disable-stats: choose one")
	case (f.enable || f.disable) && f.duration > 0:
		return errors.New("--duration measures with statistics switched on just for it; leave out --enable-stats and --disable-stats")
	case f.duration < 0:
		return fmt.Errorf("--duration %s: must be positive", f.duration)
	case f.enable:
		if err := inspect.SetStatsEnabled(true); err != nil {
			return err
		}
		fmt.Fprintln(errw, "kernel.bpf_stats_enabled = 1: the kernel counts every program's runs until it is switched off")
		fmt.Fprintln(errw, "(waggle prog profile --disable-stats, or sysctl -w kernel.bpf_stats_enabled=0)")
		return nil
	case f.disable:
		if err := inspect.SetStatsEnabled(false); err != nil {
			return err
		}
		fmt.Fprintln(errw, "kernel.bpf_stats_enabled = 0")
		return nil
	}
	var stats []inspect.RunStats
	var err error
	if f.duration > 0 {
		ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		stats, err = inspect.Profile(ctx, sel, f.duration)
	} else {
		if !inspect.StatsEnabled() {
			return errors.New("run statistics are off (kernel.bpf_stats_enabled = 0): measure for a while with --duration 5s, or switch them on with --enable-stats")
		}
		stats, err = inspect.ReadRunStats(sel)
	}
	if err != nil {
		return err
	}
	sort.SliceStable(stats, func(i, j int) bool { return stats[i].RunTimeNs > stats[j].RunTimeNs })
	if f.output == "json" {
		return writeJSONLines(out, stats)
	}
	return writeProfile(out, stats)
}

func writeProfile(w io.Writer, stats []inspect.RunStats) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	interval := len(stats) > 0 && stats[0].Seconds > 0
	head := "ID\tTYPE\tNAME\tRUNS\tRUN TIME\tMEAN"
	if interval {
		head += "\tRUNS/S"
	}
	fmt.Fprintln(tw, head+"\tMISSES")
	for _, s := range stats {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s", s.ID, s.Type, orDash(s.Name), s.RunCount, time.Duration(s.RunTimeNs), time.Duration(s.MeanNs))
		if interval {
			fmt.Fprintf(tw, "\t%.1f", float64(s.RunCount)/s.Seconds)
		}
		fmt.Fprintf(tw, "\t%d\n", s.RecursionMisses)
	}
	return tw.Flush()
}
