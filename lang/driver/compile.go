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
	return compile(file, src, params, codegen.Options{PID: pid, PerfEvents: features.HaveMapType(ebpf.RingBuf) != nil})
}

// Check parses and checks a script without compiling it: what -l -e needs.
func Check(file string, src []byte, params []string) (*sema.Info, error) {
	prog, err := parser.Parse(file, src)
	if err != nil {
		return nil, err
	}
	info, err := sema.Check(prog, sema.Options{Params: params, NCPUs: runtime.NumCPU()})
	if err != nil {
		return nil, sema.Render(file, src, err)
	}
	return info, nil
}

func compile(file string, src []byte, params []string, opts codegen.Options) (*codegen.Program, error) {
	prog, err := parser.Parse(file, src)
	if err != nil {
		return nil, err
	}
	ncpus, err := ebpf.PossibleCPU()
	if err != nil {
		ncpus = runtime.NumCPU()
	}
	info, err := sema.Check(prog, sema.Options{Params: params, NCPUs: ncpus})
	if err != nil {
		return nil, sema.Render(file, src, err)
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
