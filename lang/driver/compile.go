// Package driver runs a tracing script end to end: parse, check, compile,
// load, attach, stream output, tear down. It is `waggle trace` without the
// command line.
package driver

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/codegen"
	"github.com/wagglebpf/waggle/lang/parser"
	"github.com/wagglebpf/waggle/lang/sema"
	"github.com/wagglebpf/waggle/session"
)

// Compile parses, checks and compiles a script. Errors in the script come
// back as a parser.ErrorList, rendered with the source line and a caret.
// Records go through a ring buffer where the kernel has them (5.8+), else
// through perf buffers.
func Compile(file string, src []byte, params []string, pid int) (*codegen.Program, error) {
	return CompileWith(file, src, Args{Params: params, PID: pid})
}

// Args are what the command line gives a script besides its text.
type Args struct {
	// Params are the positional parameters: $1 is Params[0].
	Params []string
	// PID is -p: probes fire for this process only, and usdt:*:NAME
	// probes are looked up in it.
	PID int
	// Unsafe allows system() and signal() (--unsafe).
	Unsafe bool
	// NamedArgs are the named program arguments after "--", for getopt():
	// --name=value, or --name alone (value ""). A name no getopt() call
	// asks for is an error.
	NamedArgs map[string]string
	// HelperErrors reports failed probe reads at run time (-k).
	HelperErrors bool
}

// CompileWith is Compile with every command-line argument.
func CompileWith(file string, src []byte, a Args) (*codegen.Program, error) {
	return compile(file, src, a, codegen.Options{PID: a.PID, PerfEvents: features.HaveMapType(ebpf.RingBuf) != nil, HelperErrors: a.HelperErrors})
}

// Check parses and checks a script without compiling it: what -l -e needs.
func Check(file string, src []byte, params []string) (*sema.Info, error) {
	return CheckWith(file, src, Args{Params: params})
}

// CheckWith is Check with every command-line argument.
func CheckWith(file string, src []byte, a Args) (*sema.Info, error) {
	prog, err := parser.Parse(file, src)
	if err != nil {
		return nil, err
	}
	return check(file, src, prog, a, runtime.NumCPU())
}

func check(file string, src []byte, prog *ast.Program, a Args, ncpus int) (*sema.Info, error) {
	info, err := sema.Check(prog, sema.Options{Params: a.Params, NCPUs: ncpus, PID: a.PID, Unsafe: a.Unsafe, NamedArgs: a.NamedArgs})
	if err != nil {
		return nil, sema.Render(file, src, err)
	}
	if err := unknownNamedArgs(info, a.NamedArgs); err != nil {
		return nil, err
	}
	return info, nil
}

// unknownNamedArgs refuses named arguments that no getopt() call of the
// script reads: a misspelt option would otherwise be ignored silently.
func unknownNamedArgs(info *sema.Info, named map[string]string) error {
	var unknown []string
	for name := range named {
		if info.Getopts[name] == nil {
			unknown = append(unknown, "--"+name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	var known []string
	for name := range info.Getopts {
		known = append(known, "--"+name)
	}
	sort.Strings(known)
	what := "the script reads none (getopt)"
	if len(known) > 0 {
		what = "the script reads " + strings.Join(known, ", ")
	}
	return fmt.Errorf("unexpected named argument %s: %s", strings.Join(unknown, ", "), what)
}

func compile(file string, src []byte, a Args, opts codegen.Options) (*codegen.Program, error) {
	prog, err := parser.Parse(file, src)
	if err != nil {
		return nil, err
	}
	ncpus, err := ebpf.PossibleCPU()
	if err != nil {
		ncpus = runtime.NumCPU()
	}
	info, err := check(file, src, prog, a, ncpus)
	if err != nil {
		return nil, err
	}
	opts.NCPUs = ncpus
	opts.KernelAddress = sysSymbols.kernelAddress
	opts.UserAddress = func(spec string) (uint64, error) {
		return sysSymbols.userAddress(spec, opts.PID)
	}
	p, err := codegen.Compile(info, opts)
	if err != nil {
		return nil, sema.Render(file, src, err)
	}
	return p, nil
}

// explainLoadError names the probe and source position a verifier
// rejection is about.
func explainLoadError(p *codegen.Program, file string, src []byte, err error) error {
	var le *session.LoadError
	if !errors.As(err, &le) {
		return err
	}
	var probe *codegen.Probe
	for _, pr := range p.Probes {
		if pr.Program == le.Program {
			probe = pr
		}
	}
	if probe == nil {
		return err
	}
	// The verifier log's last numbered line is the instruction it stopped at.
	insn := -1
	for _, l := range le.Log {
		if i := strings.IndexByte(l, ':'); i > 0 {
			if n, convErr := strconv.Atoi(l[:i]); convErr == nil {
				insn = n
			}
		}
	}
	if len(le.Log) == 0 {
		// Refused before verification: not about any one line.
		return fmt.Errorf("probe %s cannot be loaded: %s", probe.Instance.Name, le.Reason())
	}
	reason := "the kernel refused it"
	if len(le.Log) > 0 {
		reason = strings.TrimSpace(le.Log[len(le.Log)-1])
		for i := len(le.Log) - 1; i >= 0; i-- {
			l := strings.TrimSpace(le.Log[i])
			if l != "" && !strings.HasPrefix(l, "processed ") && !strings.HasPrefix(l, "verification time") && !strings.HasPrefix(l, "stack depth") {
				reason = l
				break
			}
		}
	} else {
		reason = le.Error()
	}
	span := probe.Instance.Probe.Pos()
	if insn >= 0 {
		offs := make([]int, 0, len(probe.Sources))
		for o := range probe.Sources {
			offs = append(offs, o)
		}
		sort.Ints(offs)
		for _, o := range offs {
			if o <= insn {
				span = probe.Sources[o]
			}
		}
	}
	msg := fmt.Sprintf("the kernel verifier rejected probe %s: %s", probe.Instance.Name, reason)
	perr := sema.Render(file, src, &sema.Error{Span: span, Msg: msg})
	if le.FullLog {
		return fmt.Errorf("%w\nverifier log:\n  %s", perr, strings.Join(le.Log, "\n  "))
	}
	return perr
}

// attachError places a failure to attach at the probe's attach point in
// the script, as bpftrace does.
func attachError(pr *codegen.Probe, file string, src []byte, err error) error {
	span := pr.Instance.Point.Pos()
	msg := fmt.Sprintf("cannot attach probe %s: %v", pr.Instance.Name, err)
	return sema.Render(file, src, &sema.Error{Span: span, Msg: msg})
}
