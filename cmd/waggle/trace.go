package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/wagglebpf/waggle/agent/agentpb"
	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/compiled"
	"github.com/wagglebpf/waggle/lang/driver"
	"github.com/wagglebpf/waggle/lang/parser"
	"github.com/wagglebpf/waggle/session"
)

type traceFlags struct {
	program string
	format  string
	output  string
	quiet   bool
	command string
	pid     int
	list    bool
	verbose bool
	dump    string
	dryRun  bool
	unsafe  bool
	// compile writes the compiled program to output instead of running it.
	compile bool
	// Accepted for bpftrace compatibility.
	buffering  string
	kwarnings  int
	noWarnings bool
	// argsAtDash is where "--" was among the arguments (-1: nowhere).
	argsAtDash int
	// remote runs the program in an agent; detach leaves it running there.
	remote remoteFlags
	detach bool
}

func newTraceCommand() *cobra.Command {
	f := traceFlags{argsAtDash: -1}
	cmd := &cobra.Command{
		Use:   "trace [flags] {-e 'PROGRAM' | FILE.bt | -} [ARGS...]",
		Short: "Run a bpftrace program, compiled straight to eBPF",
		Long: `Compile a program in the bpftrace language straight to eBPF (no LLVM),
load it, attach its probes and print what it prints, exactly as bpftrace does.

Installed under the name bpftrace (a link), waggle behaves as bpftrace.

With --compile -o FILE, the program is compiled and written to FILE (a
.wgl file) instead of run; waggle trace FILE and waggle run FILE run it
later, here or on another machine of the same architecture, with the same
output. Positional parameters, named arguments, -p, -k and --unsafe are
compiled in; -f, -o, -q, -c, -v and --dry-run are chosen when it runs.`,
		Example: `  waggle trace -e 'tracepoint:syscalls:sys_enter_openat { printf("%s %s\n", comm, str(args.filename)); }'
  waggle trace -e 'tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }'
  waggle trace -l 'tracepoint:sched:*'
  waggle trace script.bt 1234
  waggle trace --compile -o prog.wgl script.bt 1234 && waggle trace prog.wgl`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.argsAtDash = cmd.ArgsLenAtDash()
			return runTrace(cmd.Context(), &f, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().SetInterspersed(false)
	traceFlagSet(cmd, &f)
	return cmd
}

func traceFlagSet(cmd *cobra.Command, f *traceFlags) {
	fl := cmd.Flags()
	fl.StringVarP(&f.program, "program", "e", "", "the program to run")
	fl.StringVarP(&f.format, "format", "f", "text", "output format: text or json")
	fl.StringVarP(&f.output, "output", "o", "", "write output to this file")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, `do not print "Attaching N probes..."`)
	fl.StringVarP(&f.command, "command", "c", "", "run this command with the probes attached; cpid is its pid")
	fl.IntVarP(&f.pid, "pid", "p", 0, "trace this process only (uprobes)")
	fl.BoolVarP(&f.list, "list", "l", false, "list probes matching the pattern given as the argument")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "show whole verifier logs")
	fl.StringVarP(&f.dump, "debug", "d", "", "dump: ast, asm or all, then run")
	fl.BoolVar(&f.dryRun, "dry-run", false, "compile and load into the verifier, attach nothing")
	fl.BoolVar(&f.unsafe, "unsafe", false, "allow unsafe builtins (system, signal)")
	fl.BoolVar(&f.compile, "compile", false, "compile only, and write the compiled program (.wgl) to the file -o names")
	fl.StringVarP(&f.buffering, "buffering", "B", "line", "output buffering: line, full or none (waggle writes whole lines as they come)")
	fl.CountVarP(&f.kwarnings, "warnings", "k", "warn when a probe read fails at run time, at its script line (-kk: the same)")
	fl.BoolVar(&f.noWarnings, "no-warnings", false, "suppress warnings")
	fl.BoolVar(&f.detach, "detach", false, "with --remote: leave the program running in the agent when this command ends")
	addRemoteFlags(cmd, &f.remote, "")
}

func runTrace(ctx context.Context, f *traceFlags, args []string, stdout, stderr io.Writer) error {
	if f.format != "text" && f.format != "json" {
		return fmt.Errorf("-f %s: expected text or json", f.format)
	}
	switch f.dump {
	case "", "ast", "asm", "all":
	default:
		return fmt.Errorf("-d %s: expected ast, asm or all", f.dump)
	}
	switch f.buffering {
	case "line", "full", "none":
	default:
		return fmt.Errorf("-B %s: expected line, full or none", f.buffering)
	}
	args, named, err := splitNamedArgs(args, f.argsAtDash)
	if err != nil {
		return err
	}
	if f.list && f.program != "" {
		// The probes the program would attach, as bpftrace -l -e lists them.
		info, err := driver.CheckWith("stdin", []byte(f.program), driver.Args{Params: args, PID: f.pid, Unsafe: f.unsafe, NamedArgs: named})
		if err != nil {
			return err
		}
		for _, inst := range info.Instances {
			fmt.Fprintln(stdout, inst.Name)
		}
		return nil
	}
	if f.list {
		pattern := "*"
		if len(args) > 0 {
			pattern = args[0]
		}
		if err := session.Prepare(io.Discard); err != nil && os.Geteuid() == 0 {
			return err
		}
		probes, err := attach.ListProbes(pattern)
		if err != nil {
			return err
		}
		for _, p := range probes {
			fmt.Fprintln(stdout, p)
		}
		return nil
	}

	file, src, params, err := traceSource(f, args)
	if err != nil {
		return err
	}
	if compiled.IsCompiled(src) {
		return traceCompiled(ctx, f, file, src, params, named, stdout, stderr)
	}
	if f.compile {
		return compileTrace(f, file, src, params, named, stdout)
	}
	stdout, closeOutput, err := outputFile(f, stdout)
	if err != nil {
		return err
	}
	defer closeOutput()
	p, err := buildTrace(f, file, src, params, named, stdout)
	if err != nil {
		return err
	}
	return runCompiled(ctx, p, f, stdout, stderr)
}

// outputFile is where the run's output goes: the file -o names, or
// stdout.
func outputFile(f *traceFlags, stdout io.Writer) (io.Writer, func(), error) {
	if f.output == "" {
		return stdout, func() {}, nil
	}
	out, err := os.Create(f.output)
	if err != nil {
		return nil, nil, err
	}
	return out, func() { out.Close() }, nil
}

// buildTrace compiles a script, first printing its syntax tree if -d asks.
func buildTrace(f *traceFlags, file string, src []byte, params []string, named map[string]string, stdout io.Writer) (*compiled.Program, error) {
	if f.dump == "ast" || f.dump == "all" {
		prog, err := parser.Parse(file, src)
		if err != nil {
			return nil, err
		}
		fmt.Fprint(stdout, ast.Dump(prog, 0))
	}
	a := driver.Args{Params: params, PID: f.pid, Unsafe: f.unsafe, NamedArgs: named, HelperErrors: f.kwarnings > 0}
	if f.remote.remote != "" {
		// Compiled for the agent's kernel and CPU count; probe names and
		// tracepoint formats come from this machine, and the agent checks
		// them against its own before it loads anything.
		var err error
		if a.Target, err = remoteTarget(context.Background(), &f.remote); err != nil {
			return nil, err
		}
	}
	return driver.Build(file, src, a)
}

// compileTrace compiles a script and writes it to the file -o names.
func compileTrace(f *traceFlags, file string, src []byte, params []string, named map[string]string, stdout io.Writer) error {
	switch {
	case f.output == "":
		return errors.New("--compile: name the file to write with -o FILE")
	case f.command != "" || f.dryRun || f.quiet || f.format != "text":
		return errors.New("--compile: -c, --dry-run, -q and -f are chosen when the compiled program runs, not when it is compiled")
	}
	p, err := buildTrace(f, file, src, params, named, stdout)
	if err != nil {
		return err
	}
	dumpAsm(f, p, stdout)
	var b bytes.Buffer
	if err := compiled.Encode(&b, p); err != nil {
		return err
	}
	return writeFileAtomic(f.output, b.Bytes())
}

// writeFileAtomic writes data to path through a temporary file in the
// same directory, so that a failed write leaves no half a program.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// traceCompiled runs a compiled program given where a script goes. What
// was compiled in may be repeated on the command line, not changed.
func traceCompiled(ctx context.Context, f *traceFlags, file string, data []byte, params []string, named map[string]string, stdout, stderr io.Writer) error {
	p, err := compiled.Decode(data)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	switch {
	case f.compile:
		return fmt.Errorf("--compile: %s is compiled already", file)
	case f.dump == "ast" || f.dump == "all":
		return fmt.Errorf("-d %s: a compiled program has no syntax tree; -d asm shows its instructions", f.dump)
	case len(params) > 0 && !slices.Equal(params, p.Params):
		return fmt.Errorf("%s: positional parameters are compiled in (%s): compile the script again to change them", file, describeParams(p.Params))
	case len(named) > 0 && !maps.Equal(named, p.NamedArgs):
		return fmt.Errorf("%s: named arguments are compiled in: compile the script again to change them", file)
	case f.kwarnings > 0 && !p.HelperErrors:
		return fmt.Errorf("-k: %s was compiled without -k, which is compiled in: compile the script with -k", file)
	}
	stdout, closeOutput, err := outputFile(f, stdout)
	if err != nil {
		return err
	}
	defer closeOutput()
	return runCompiled(ctx, p, f, stdout, stderr)
}

func describeParams(params []string) string {
	if len(params) == 0 {
		return "none"
	}
	quoted := make([]string, len(params))
	for i, p := range params {
		quoted[i] = strconv.Quote(p)
	}
	return strings.Join(quoted, " ")
}

func dumpAsm(f *traceFlags, p *compiled.Program, stdout io.Writer) {
	if f.dump == "asm" || f.dump == "all" {
		for _, pr := range p.Code.Probes {
			fmt.Fprintf(stdout, "%s (%s):\n%v\n", pr.Instance.Name, pr.Program, p.Code.Spec.Programs[pr.Program].Instructions)
		}
	}
}

// runCompiled runs a program, from a script or a file, as waggle trace
// does, until exit(), the -c command's end or Ctrl-C.
func runCompiled(ctx context.Context, p *compiled.Program, f *traceFlags, stdout, stderr io.Writer) error {
	dumpAsm(f, p, stdout)
	if f.remote.remote != "" {
		return runCompiledRemote(ctx, p, f, stdout, stderr)
	}
	if f.detach {
		return errors.New("--detach applies to runs in an agent: give --remote too")
	}
	var argv []string
	if f.command != "" {
		var err error
		if argv, err = session.SplitCommand(f.command); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := driver.Run(ctx, p, driver.Options{
		JSON:    f.format == "json",
		Stdout:  stdout,
		Stderr:  stderr,
		Command: argv,
		PID:     f.pid,
		Unsafe:  f.unsafe,
		DryRun:  f.dryRun,
		Verbose: f.verbose,
		Quiet:   f.quiet,
	})
	if err != nil {
		return err
	}
	if code != 0 {
		return &exitError{code: code, err: fmt.Errorf("exit(%d)", code), silent: true}
	}
	return nil
}

// traceSource finds the program: -e, a file, or "-" for stdin. What
// follows are positional parameters ($1 ...).
func traceSource(f *traceFlags, args []string) (file string, src []byte, params []string, err error) {
	if f.program != "" {
		// bpftrace names -e programs "stdin" in its messages.
		return "stdin", []byte(f.program), args, nil
	}
	if len(args) == 0 {
		return "", nil, nil, fmt.Errorf("no program: give one with -e 'PROGRAM', as a file, or as - for stdin")
	}
	file, params = args[0], args[1:]
	if file == "-" {
		src, err = io.ReadAll(os.Stdin)
		return "stdin", src, params, err
	}
	src, err = os.ReadFile(file)
	if err != nil {
		return "", nil, nil, err
	}
	// A #! line is for the shell.
	if strings.HasPrefix(string(src), "#!") {
		src = append([]byte("//"), src[2:]...)
	}
	return file, src, params, nil
}

// splitNamedArgs separates bpftrace's named program arguments from the
// positional ones: after "--" (at dash, or written among the arguments
// when flag parsing stopped before it), --name=value and --name (a
// boolean, value "") are named arguments for getopt(); the rest stay
// positional ($1 ...), in order.
func splitNamedArgs(args []string, dash int) (positional []string, named map[string]string, err error) {
	after := false
	for i, a := range args {
		if dash >= 0 && i >= dash {
			after = true
		}
		if a == "--" && !after {
			after = true
			continue
		}
		if !after || !strings.HasPrefix(a, "--") || a == "--" {
			positional = append(positional, a)
			continue
		}
		name, value, _ := strings.Cut(a[2:], "=")
		if name == "" {
			return nil, nil, fmt.Errorf("%s: a named argument needs a name, as in --name=value", a)
		}
		if named == nil {
			named = map[string]string{}
		}
		named[name] = value
	}
	return positional, named, nil
}

// invokedAsBpftrace reports whether argv[0] is bpftrace (a link to waggle).
func invokedAsBpftrace() bool {
	return filepath.Base(os.Args[0]) == "bpftrace"
}

// runCompiledRemote sends a compiled program to the agent at --remote and
// prints what it prints there. The agent checks, before it loads
// anything, that the program fits its kernel.
func runCompiledRemote(ctx context.Context, p *compiled.Program, f *traceFlags, stdout, stderr io.Writer) error {
	switch {
	case f.command != "":
		return errors.New("-c is not available with --remote: the agent does not start commands; start the command on the target and pass -p")
	case f.dryRun:
		return errors.New("--dry-run is not available with --remote")
	}
	var b bytes.Buffer
	if err := compiled.Encode(&b, p); err != nil {
		return err
	}
	name := p.File
	if name == "" {
		name = "stdin"
	}
	ro := &agentpb.RunOptions{OutputFormat: f.format, Pid: int32(f.pid), Verbose: f.verbose, Quiet: f.quiet}
	return runRemote(ctx, &f.remote, &agentpb.Start{Program: b.Bytes(), Name: name, Kind: agentpb.ProgramKind_PROGRAM_KIND_COMPILED, Options: ro, Detach: f.detach}, stdout, stderr)
}
