package agent

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/wagglebpf/waggle/agent/agentpb"
	"github.com/wagglebpf/waggle/agent/metrics"
	"github.com/wagglebpf/waggle/attach"
)

// Bounds on what a client may send besides the program itself: generous
// for any real command line, small enough that a hostile client cannot
// make the agent hold much.
const (
	maxNameLen   = 255
	maxListLen   = 1024
	maxStringLen = 4096
	// maxMetricsYAML bounds an object's metrics configuration.
	maxMetricsYAML = 1 << 20
)

// errTooLarge marks a program over the size limit.
var errTooLarge = errors.New("program too large")

// defaultName names a program whose client gave no name.
const defaultName = "program"

// checkStart validates the first message of a run and fills in what the
// client left out: after it, Options and Options.Object are not nil and
// Name is not empty. Every error is one sentence for the user.
func checkStart(st *agentpb.Start, maxSize int64) error {
	if st == nil {
		return errors.New("a run must begin with a Start message")
	}
	switch n := int64(len(st.Program)); {
	case n == 0:
		return errors.New("the program is empty")
	case n > maxSize:
		return fmt.Errorf("%w: the program is %d bytes, over the agent's limit of %d (--max-program-size)", errTooLarge, n, maxSize)
	}
	if _, ok := agentpb.ProgramKind_name[int32(st.Kind)]; !ok {
		return fmt.Errorf("unknown program kind %d", st.Kind)
	}
	if st.Name == "" {
		st.Name = defaultName
	}
	if err := checkText("program name", st.Name, maxNameLen); err != nil {
		return err
	}
	if st.Options == nil {
		st.Options = &agentpb.RunOptions{}
	}
	return checkOptions(st.Options)
}

func checkOptions(o *agentpb.RunOptions) error {
	switch o.OutputFormat {
	case "", "text", "json":
	default:
		return fmt.Errorf("output format %q: expected text or json", attach.Shorten(o.OutputFormat))
	}
	if o.Pid < 0 {
		return fmt.Errorf("pid %d: must be a process ID", o.Pid)
	}
	if o.Object == nil {
		o.Object = &agentpb.ObjectOptions{}
	}
	ob := o.Object
	for _, l := range []struct {
		flag string
		vals []string
	}{{"--set", ob.Set}, {"--attach", ob.Attach}, {"--only", ob.Only}, {"--skip", ob.Skip}} {
		if len(l.vals) > maxListLen {
			return fmt.Errorf("%s is given %d times, more than %d", l.flag, len(l.vals), maxListLen)
		}
		for _, v := range l.vals {
			if err := checkText(l.flag, v, maxStringLen); err != nil {
				return err
			}
		}
	}
	for _, s := range []struct{ flag, val string }{{"--iface", ob.Iface}, {"--cgroup", ob.Cgroup}, {"--event-type", ob.EventType}} {
		if err := checkText(s.flag, s.val, maxStringLen); err != nil {
			return err
		}
	}
	if n := len(ob.MetricsYaml); n > maxMetricsYAML {
		return fmt.Errorf("the metrics configuration is %d bytes, more than %d", n, maxMetricsYAML)
	}
	if ob.MetricsYaml != "" {
		if _, err := metrics.ParseObjectMetrics([]byte(ob.MetricsYaml)); err != nil {
			return fmt.Errorf("--metrics: %w", err)
		}
	}
	if ob.Freq != nil && *ob.Freq == 0 {
		return errors.New("--freq 0: the sampling frequency must be at least 1 Hz")
	}
	if ob.PerfPages != nil {
		if n := *ob.PerfPages; n < 1 || n&(n-1) != 0 {
			return fmt.Errorf("--perf-pages %d: must be a power of two (1, 2, 4, 8, ...)", n)
		}
	}
	for _, d := range []struct {
		flag string
		val  *durationpb.Duration
	}{{"--duration", ob.Duration}, {"--interval", ob.Interval}} {
		if d.val == nil {
			continue
		}
		if err := d.val.CheckValid(); err != nil {
			return fmt.Errorf("%s: not a valid duration", d.flag)
		}
		if d.val.AsDuration() < 0 {
			return fmt.Errorf("%s %s: must not be negative", d.flag, d.val.AsDuration())
		}
	}
	return nil
}

// checkText refuses strings that are too long, not UTF-8, or hold control
// characters: they end up in messages and logs.
func checkText(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s is %d bytes, longer than %d", what, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8", what, attach.Shorten(s))
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return fmt.Errorf("%s %q holds a control character", what, attach.Shorten(s))
	}
	return nil
}
