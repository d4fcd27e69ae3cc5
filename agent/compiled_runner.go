package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/wagglebpf/waggle/agent/metrics"
	"github.com/wagglebpf/waggle/btfprint"
	"github.com/wagglebpf/waggle/lang/codegen"
	"github.com/wagglebpf/waggle/lang/compiled"
	"github.com/wagglebpf/waggle/lang/driver"
	"github.com/wagglebpf/waggle/lang/output"
	"github.com/wagglebpf/waggle/lang/sema"
)

// CompiledRunner runs bpftrace programs compiled by waggle trace
// --compile (.wgl), as waggle trace runs them: the same checks against
// this kernel before load, the same output.
type CompiledRunner struct {
	// AllowUnsafe lets programs compiled with --unsafe run: they may call
	// system() and signal() as root on this machine.
	AllowUnsafe bool
}

// Accepts reports whether program starts as a compiled program does.
func (CompiledRunner) Accepts(program []byte) bool { return compiled.IsCompiled(program) }

// Run decodes the program and runs it until exit(), ctx's end, or the
// end of the process it traces (-p).
func (r CompiledRunner) Run(ctx context.Context, job *Job) (int, error) {
	lp, err := compiled.Decode(job.Program)
	if err != nil {
		return 1, fmt.Errorf("%s: %w", job.Name, err)
	}
	if lp.Unsafe && !r.AllowUnsafe {
		return 1, errors.New("the program was compiled with --unsafe (it may call system() or signal()), and this agent runs such programs only when started with --allow-unsafe")
	}
	ro := job.Options
	return driver.Run(ctx, lp, driver.Options{
		JSON:       ro.GetOutputFormat() == "json",
		Stdout:     job.Stdout,
		Stderr:     job.Stderr,
		PID:        int(ro.GetPid()),
		Unsafe:     lp.Unsafe,
		Verbose:    ro.GetVerbose(),
		Quiet:      ro.GetQuiet(),
		OnAttached: job.Attached,
		OnOpen: func(m *driver.Running) func() {
			withdraw := job.PublishMaps(func(_ context.Context, q MapQuery) ([]MapDump, error) {
				return readScriptMaps(m, q)
			})
			// The script's maps, and its probes' run counts and times.
			unexport := job.exportMetrics(func(name string) (metrics.Source, error) {
				loaded := m.Maps()
				maps, err := metrics.ScriptMaps(lp.Code, loaded)
				if err != nil {
					return nil, err
				}
				script, err := metrics.NewScriptSource(name, maps, symbols.Symbolizer(loaded[codegen.StacksMap]))
				if err != nil {
					return nil, err
				}
				var progs []metrics.Program
				for _, pr := range lp.Code.Probes {
					if k := pr.Instance.Kind; k != sema.ProbeBegin && k != sema.ProbeEnd {
						progs = append(progs, metrics.Program{Program: m.Programs()[pr.Program], Name: pr.Instance.Name, Object: job.Name})
					}
				}
				programs, err := metrics.NewProgramSource(name, progs)
				if err != nil {
					return nil, err
				}
				return metrics.Join(name, script, programs), nil
			})
			return func() { unexport(); withdraw() }
		},
	})
}

// readScriptMaps reads and renders the maps of a running script.
func readScriptMaps(m *driver.Running, q MapQuery) ([]MapDump, error) {
	texts, err := m.ReadMaps(q.Names, q.JSON)
	if err != nil {
		return nil, err
	}
	out := make([]MapDump, 0, len(texts))
	for _, t := range texts {
		out = append(out, MapDump{Name: t.Name, PerCPU: t.PerCPU, Text: t.Text, Entries: entries(t.Entries)})
	}
	return out, nil
}

func entries(es []output.Entry) []btfprint.Entry {
	out := make([]btfprint.Entry, len(es))
	for i, e := range es {
		out[i] = btfprint.Entry{Key: e.Key, Values: e.Values}
	}
	return out
}
