package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/wagglebpf/waggle/agent/agentpb"
	"github.com/wagglebpf/waggle/agent/metrics"
	"github.com/wagglebpf/waggle/btfprint"
	"github.com/wagglebpf/waggle/objectrun"
	"github.com/wagglebpf/waggle/session"
)

// ObjectRunner runs clang-built BPF objects as `waggle run` does.
type ObjectRunner struct{}

var elfMagic = []byte("\x7fELF")

// Accepts reports whether program starts as an ELF file does.
func (ObjectRunner) Accepts(program []byte) bool { return bytes.HasPrefix(program, elfMagic) }

// Run loads the object from memory and runs it until ctx ends or the run
// ends by itself (--duration, iterators only).
func (ObjectRunner) Run(ctx context.Context, job *Job) (int, error) {
	o := ObjectOptions(job.Options)
	o.OnAttached = job.Attached
	var mapMetrics []metrics.MetricConfig
	if y := job.Options.GetObject().GetMetricsYaml(); y != "" {
		var err error
		if mapMetrics, err = metrics.ParseObjectMetrics([]byte(y)); err != nil {
			return 1, fmt.Errorf("--metrics: %w", err)
		}
		if job.metrics == nil {
			fmt.Fprintf(job.Stderr, "waggle: this agent exports no metrics (it was started without --metrics ADDR): --metrics does nothing\n")
		}
	}
	o.OnOpen = func(s *session.Session) func() {
		withdraw := job.PublishMaps(func(_ context.Context, q MapQuery) ([]MapDump, error) {
			return readSessionMaps(s, q)
		})
		// The maps the client's configuration names (waggle run
		// --metrics), and the programs' run counts and times.
		unexport := job.exportMetrics(func(name string) (metrics.Source, error) {
			var progs []metrics.Program
			for _, pn := range slices.Sorted(maps.Keys(s.Collection.Programs)) {
				progs = append(progs, metrics.Program{Program: s.Collection.Programs[pn], Name: pn, Object: job.Name})
			}
			programs, err := metrics.NewProgramSource(name, progs)
			if err != nil || mapMetrics == nil {
				return programs, err
			}
			objectMaps, err := metrics.NewObjectSource(name, mapMetrics, s.Spec, s.Collection.Maps, symbols)
			if err != nil {
				return nil, err
			}
			return metrics.Join(name, objectMaps, programs), nil
		})
		return func() { unexport(); withdraw() }
	}
	// The object is read through a memory file, so nothing is written to
	// the target's disk; messages name it as the client did.
	fd, err := unix.MemfdCreate("waggle-object", unix.MFD_CLOEXEC)
	if err != nil {
		return 1, fmt.Errorf("hold the object in memory: %w", err)
	}
	f := os.NewFile(uintptr(fd), "waggle-object")
	defer f.Close()
	if _, err := f.Write(job.Program); err != nil {
		return 1, fmt.Errorf("hold the object in memory: %w", err)
	}
	path := fmt.Sprintf("/proc/self/fd/%d", fd)
	if err := objectrun.RunFile(ctx, path, o, job.Stdout, job.Stderr); err != nil {
		return 1, renamedError{strings.ReplaceAll(err.Error(), path, job.Name), err}
	}
	return 0, nil
}

// ObjectOptions turns validated run options into objectrun's.
func ObjectOptions(ro *agentpb.RunOptions) objectrun.Options {
	o := objectrun.Defaults()
	ob := ro.GetObject()
	if ro.GetOutputFormat() != "" {
		o.Output = ro.GetOutputFormat()
	}
	o.PID = int(ro.GetPid())
	o.Verbose = ro.GetVerbose()
	o.Sets, o.Attach = ob.GetSet(), ob.GetAttach()
	o.Only, o.Skip = ob.GetOnly(), ob.GetSkip()
	o.Iface, o.Cgroup = ob.GetIface(), ob.GetCgroup()
	if ob.Freq != nil {
		o.Freq = ob.GetFreq()
	}
	o.Period = ob.GetPeriod()
	o.Duration = ob.GetDuration().AsDuration()
	o.Interval = ob.GetInterval().AsDuration()
	o.EventType = ob.GetEventType()
	o.PerCPU = ob.GetPerCpu()
	if ob.PerfPages != nil {
		o.PerfPages = int(ob.GetPerfPages())
	}
	return o
}

// RunOptionsFor is what a client sends for `waggle run` flags: the
// inverse of ObjectOptions. -c and --list have no remote form.
func RunOptionsFor(o objectrun.Options) (*agentpb.RunOptions, error) {
	switch {
	case o.CommandSet:
		return nil, errors.New("-c is not available with --remote: the agent does not start commands; start the command on the target and pass --pid")
	case o.List:
		return nil, errors.New("--list is not available with --remote: list the object here, without --remote")
	case o.OnOpen != nil:
		return nil, errors.New("OnOpen cannot be sent to an agent")
	}
	if err := o.Check(); err != nil {
		return nil, err
	}
	ro := &agentpb.RunOptions{
		OutputFormat: o.Output,
		Pid:          int32(o.PID),
		Verbose:      o.Verbose,
		Object: &agentpb.ObjectOptions{
			Set: o.Sets, Attach: o.Attach, Only: o.Only, Skip: o.Skip,
			Iface: o.Iface, Cgroup: o.Cgroup,
			Freq: &o.Freq, Period: o.Period,
			EventType: o.EventType, PerCpu: o.PerCPU,
			PerfPages: proto.Int32(int32(o.PerfPages)),
		},
	}
	if o.Duration != 0 {
		ro.Object.Duration = durationpb.New(o.Duration)
	}
	if o.Interval != 0 {
		ro.Object.Interval = durationpb.New(o.Interval)
	}
	return ro, nil
}

// readSessionMaps reads and renders the maps of a running object.
func readSessionMaps(s *session.Session, q MapQuery) ([]MapDump, error) {
	ms, err := session.ReadMaps(s)
	if err != nil {
		return nil, err
	}
	var out []MapDump
	for _, m := range ms {
		if len(q.Names) > 0 && !slices.Contains(q.Names, m.Name) {
			continue
		}
		var text bytes.Buffer
		if err := btfprint.PrintMap(&text, m, btfprint.MapOptions{JSON: q.JSON, PerCPU: q.PerCPU}); err != nil {
			return nil, fmt.Errorf("print map %s: %w", m.Name, err)
		}
		out = append(out, MapDump{Name: m.Name, PerCPU: m.PerCPU, Text: text.Bytes(), Entries: m.Entries})
	}
	return out, nil
}

// renamedError is an error whose text names a file differently from the
// path the code that made it was given.
type renamedError struct {
	msg string
	err error
}

func (e renamedError) Error() string { return e.msg }
func (e renamedError) Unwrap() error { return e.err }
