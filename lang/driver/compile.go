// Package driver runs a tracing script end to end: parse, check and
// compile (Build), then load, attach, stream output and tear down (Run).
// It is `waggle trace` without the command line.
//
// Run takes a compiled.Program, from Build or read back from a .wgl file
// (lang/compiled), and writes only to the writers it is given, until its
// context ends: a local run and a remote one (an agent's session) share
// one path.
package driver

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/codegen"
	"github.com/wagglebpf/waggle/lang/compiled"
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
	// Target, when set, is the machine the program is compiled for, as
	// far as it differs from this one: its kernel's types and its CPU
	// count. What is not given is this machine's.
	Target *Target
}

// Target is what a program compiled for another machine (an agent's)
// takes from that machine rather than from this one.
type Target struct {
	// KernelBTF returns the target kernel's type information.
	KernelBTF func() (*btf.Spec, error)
	// NCPUs is the target's number of possible CPUs; 0 means this
	// machine's.
	NCPUs int
}

func (a Args) kernelBTF() func() (*btf.Spec, error) {
	if a.Target == nil {
		return nil
	}
	return a.Target.KernelBTF
}

// CompileWith is Compile with every command-line argument.
func CompileWith(file string, src []byte, a Args) (*codegen.Program, error) {
	return compile(file, src, a, compileOptions(a), nil)
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
	info, err := sema.Check(prog, sema.Options{Params: a.Params, NCPUs: ncpus, PID: a.PID, Unsafe: a.Unsafe, NamedArgs: a.NamedArgs, KernelBTF: a.kernelBTF()})
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

// Build compiles a script into a program that Run runs and that
// compiled.Encode writes to a file: the compiled code with the arguments
// bound in it and what it assumes of this machine.
func Build(file string, src []byte, a Args) (*compiled.Program, error) {
	var r resolved
	code, err := compile(file, src, a, compileOptions(a), &r)
	if err != nil {
		return nil, err
	}
	p := &compiled.Program{
		Code: code, File: file, Source: src,
		Params: a.Params, NamedArgs: a.NamedArgs, PID: a.PID, Unsafe: a.Unsafe, HelperErrors: a.HelperErrors,
		Assumes: compiled.Collect(code, r.ncpus),
	}
	p.Assumes.KernelSymbols, p.Assumes.UserSymbols = r.kernel, r.user
	return p, nil
}

// compileOptions are the code generator's options for a, on this kernel:
// records go through a ring buffer where the kernel has them (5.8+), else
// through perf buffers.
func compileOptions(a Args) codegen.Options {
	return codegen.Options{PID: a.PID, PerfEvents: features.HaveMapType(ebpf.RingBuf) != nil, HelperErrors: a.HelperErrors}
}

// resolved records what compiling read from this machine besides the
// script: the CPU count, and the addresses of kaddr() and uaddr().
type resolved struct {
	ncpus        int
	kernel, user []compiled.Symbol
}

func (r *resolved) add(list *[]compiled.Symbol, name string, addr uint64) {
	for _, s := range *list {
		if s.Name == name {
			return
		}
	}
	*list = append(*list, compiled.Symbol{Name: name, Addr: addr})
}

// compile compiles a script; r, when not nil, records what was resolved.
func compile(file string, src []byte, a Args, opts codegen.Options, r *resolved) (*codegen.Program, error) {
	prog, err := parser.Parse(file, src)
	if err != nil {
		return nil, err
	}
	ncpus, err := ebpf.PossibleCPU()
	if err != nil {
		ncpus = runtime.NumCPU()
	}
	if a.Target != nil && a.Target.NCPUs > 0 {
		ncpus = a.Target.NCPUs
	}
	info, err := check(file, src, prog, a, ncpus)
	if err != nil {
		return nil, err
	}
	if r == nil {
		r = &resolved{}
	}
	r.ncpus = ncpus
	opts.NCPUs = ncpus
	opts.KernelAddress = func(name string) (uint64, error) {
		addr, err := sysSymbols.kernelAddress(name)
		if err == nil {
			r.add(&r.kernel, name, addr)
		}
		return addr, err
	}
	opts.UserAddress = func(spec string) (uint64, error) {
		addr, err := sysSymbols.userAddress(spec, opts.PID)
		if err == nil {
			r.add(&r.user, spec, addr)
		}
		return addr, err
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
