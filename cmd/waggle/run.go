package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/wagglebpf/waggle/agent"
	"github.com/wagglebpf/waggle/agent/agentpb"
	"github.com/wagglebpf/waggle/agent/metrics"
	"github.com/wagglebpf/waggle/lang/compiled"
	"github.com/wagglebpf/waggle/objectrun"
	"github.com/wagglebpf/waggle/session"
)

type runFlags struct {
	objectrun.Options
	// unsafe allows system() and signal() in a compiled bpftrace program.
	unsafe bool
	// detach leaves a remote run running in the agent after the client
	// goes.
	detach bool
	// metricsFile names the object's maps to export as metrics from the
	// agent (--metrics, with --remote).
	metricsFile string
	remote      remoteFlags
	// changed tells which flags were given.
	changed func(name string) bool
}

func newRunCommand() *cobra.Command {
	f := runFlags{Options: objectrun.Defaults()}
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
			f.CommandSet = cmd.Flags().Changed("command")
			f.changed = cmd.Flags().Changed
			return runObject(cmd.Context(), args[0], &f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.List, "list", false, "list programs, maps and settable variables, then exit")
	fl.BoolVarP(&f.Verbose, "verbose", "v", false, "explain decisions and show whole verifier logs")
	fl.StringVarP(&f.Output, "output", "o", f.Output, "output format: text or json")
	fl.StringArrayVar(&f.Sets, "set", nil, "set a global variable before load: NAME=VALUE (repeatable)")
	fl.StringArrayVar(&f.Attach, "attach", nil, "override a program's target: PROG=TARGET (repeatable)")
	fl.StringSliceVar(&f.Only, "only", nil, "load only these programs: PROG,...")
	fl.StringSliceVar(&f.Skip, "skip", nil, "do not load these programs: PROG,...")
	fl.StringVar(&f.Iface, "iface", "", "network interface for xdp, tc and socket programs")
	fl.StringVar(&f.Cgroup, "cgroup", "", "cgroup v2 directory for cgroup programs (default: the root)")
	fl.IntVar(&f.PID, "pid", 0, "attach uprobes to this process only")
	fl.Uint64Var(&f.Freq, "freq", f.Freq, "perf_event sampling frequency in Hz")
	fl.Uint64Var(&f.Period, "period", 0, "perf_event sampling period in events (overrides --freq)")
	fl.DurationVar(&f.Duration, "duration", 0, "stop after this long (e.g. 10s)")
	fl.DurationVar(&f.Interval, "interval", 0, "print maps every interval (e.g. 1s)")
	fl.StringVarP(&f.Command, "command", "c", "", "run this command with the programs attached; stop when it exits")
	fl.StringVar(&f.EventType, "event-type", "", "BTF type of ring/perf buffer records, when waggle cannot tell")
	fl.BoolVar(&f.PerCPU, "per-cpu", false, "print per-CPU map values per CPU instead of summed")
	fl.IntVar(&f.PerfPages, "perf-pages", f.PerfPages, "size of each per-CPU perf buffer in pages (a power of two)")
	fl.BoolVar(&f.unsafe, "unsafe", false, "allow system() and signal() in a compiled bpftrace program (.wgl)")
	fl.BoolVar(&f.detach, "detach", false, "with --remote: leave the program running in the agent when this command ends")
	fl.StringVar(&f.metricsFile, "metrics", "", "with --remote: export these maps as Prometheus metrics from the agent (YAML: metrics: as an object of waggle export's configuration)")
	addRemoteFlags(cmd, &f.remote, "")
	return cmd
}

func runObject(ctx context.Context, path string, f *runFlags, stdout, stderr io.Writer) error {
	if err := f.Check(); err != nil {
		return err
	}
	if f.detach && f.remote.remote == "" {
		return errors.New("--detach applies to runs in an agent: give --remote too")
	}
	if f.metricsFile != "" && f.remote.remote == "" {
		return errors.New("--metrics applies to runs in an agent (with --remote); waggle export serves an object's maps as metrics without one")
	}
	if isCompiledFile(path) {
		return runCompiledFile(ctx, path, f, stdout, stderr)
	}
	if f.unsafe {
		return errors.New("--unsafe applies to compiled bpftrace programs (.wgl), not to BPF objects")
	}
	if f.remote.remote != "" {
		ro, err := agent.RunOptionsFor(f.Options)
		if err != nil {
			return err
		}
		data, err := readProgramFile(path)
		if err != nil {
			return err
		}
		if f.metricsFile != "" {
			if ro.Object.MetricsYaml, err = objectMetricsFor(path, f.metricsFile); err != nil {
				return err
			}
		}
		return runRemote(ctx, &f.remote, &agentpb.Start{Program: data, Name: path, Kind: agentpb.ProgramKind_PROGRAM_KIND_ELF, Options: ro, Detach: f.detach}, stdout, stderr)
	}
	// Catch SIGINT and SIGTERM from the start: a signal that arrives while
	// loading or attaching must still lead to a clean teardown.
	ctx, stopSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	return objectrun.RunFile(ctx, path, f.Options, stdout, stderr)
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

// maxProgramFileSize bounds what is read of a program file.
const maxProgramFileSize = 256 << 20

// runCompiledFile runs a compiled bpftrace program as waggle trace runs it.
func runCompiledFile(ctx context.Context, path string, f *runFlags, stdout, stderr io.Writer) error {
	for _, name := range []string{"list", "set", "attach", "only", "skip", "iface", "cgroup", "freq", "period", "interval", "event-type", "per-cpu", "perf-pages", "metrics"} {
		if f.changed != nil && f.changed(name) {
			return fmt.Errorf("--%s applies to BPF objects, not to compiled bpftrace programs (%s)", name, path)
		}
	}
	data, err := readProgramFile(path)
	if err != nil {
		return err
	}
	tf := &traceFlags{format: f.Output, pid: f.PID, verbose: f.Verbose, unsafe: f.unsafe, argsAtDash: -1, remote: f.remote, detach: f.detach}
	if f.CommandSet {
		if f.Command == "" {
			return errors.New("-c: empty command")
		}
		tf.command = f.Command
	}
	if f.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.Duration)
		defer cancel()
	}
	return traceCompiled(ctx, tf, path, data, nil, nil, stdout, stderr)
}

// objectMetricsFor reads the metrics configuration file for the object at
// path and checks it against the object's maps here, before anything is
// sent.
func objectMetricsFor(path, file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--metrics: %w", err)
	}
	cfgs, err := metrics.ParseObjectMetrics(data)
	if err != nil {
		return "", fmt.Errorf("--metrics %s: %w", file, err)
	}
	spec, err := session.LoadObject(path)
	if err != nil {
		return "", err
	}
	if err := metrics.CheckObject(filepath.Base(path), cfgs, spec); err != nil {
		return "", fmt.Errorf("--metrics %s: %w", file, err)
	}
	return string(data), nil
}

// readProgramFile reads a program to run, refusing files larger than any
// program is.
func readProgramFile(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxProgramFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxProgramFileSize {
		return nil, fmt.Errorf("%s: larger than %d MiB, which no program is", path, maxProgramFileSize>>20)
	}
	return data, nil
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
