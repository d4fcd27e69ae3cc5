package attach

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

type perfEventID struct {
	typ    uint32
	config uint64
}

// perfEvents are the events a perf_event program can sample, by perf's names.
var perfEvents = map[string]perfEventID{
	"cpu-clock":        {unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CPU_CLOCK},
	"task-clock":       {unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_TASK_CLOCK},
	"page-faults":      {unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_PAGE_FAULTS},
	"context-switches": {unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CONTEXT_SWITCHES},
	"cpu-migrations":   {unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CPU_MIGRATIONS},
	"cycles":           {unix.PERF_TYPE_HARDWARE, unix.PERF_COUNT_HW_CPU_CYCLES},
	"instructions":     {unix.PERF_TYPE_HARDWARE, unix.PERF_COUNT_HW_INSTRUCTIONS},
	"cache-misses":     {unix.PERF_TYPE_HARDWARE, unix.PERF_COUNT_HW_CACHE_MISSES},
	"branch-misses":    {unix.PERF_TYPE_HARDWARE, unix.PERF_COUNT_HW_BRANCH_MISSES},
}

func perfEventNames() []string {
	names := make([]string, 0, len(perfEvents))
	for n := range perfEvents {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// perfAttachment holds one perf event and one link per online CPU.
type perfAttachment struct {
	t     Target
	fds   []int
	links []link.Link
}

func (p *perfAttachment) Target() Target { return p.t }

func (p *perfAttachment) Close() error {
	var errs []error
	for _, l := range p.links {
		errs = append(errs, l.Close())
	}
	for _, fd := range p.fds {
		errs = append(errs, unix.Close(fd))
	}
	p.links, p.fds = nil, nil
	return errors.Join(errs...)
}

func attachPerfEvent(prog *ebpf.Program, t Target, opts Options) (_ Attachment, err error) {
	name := t.PerfEvent
	if name == "" {
		name = "cpu-clock"
	}
	ev, ok := perfEvents[name]
	if !ok {
		// bpftrace's names and aliases (faults, cs, cycles, ...).
		if typ, config, _, found := SoftwareEvent(name); found {
			ev, ok = perfEventID{typ, config}, true
		} else if typ, config, _, found := HardwareEvent(name); found {
			ev, ok = perfEventID{typ, config}, true
		}
	}
	if !ok {
		return nil, fmt.Errorf("unknown perf event %q", name)
	}
	cpus, err := OnlineCPUs()
	if err != nil {
		return nil, err
	}
	attr := unix.PerfEventAttr{
		Type:   ev.typ,
		Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Config: ev.config,
	}
	if t.Period != 0 || t.Frequency != 0 {
		opts.Period, opts.Frequency = t.Period, t.Frequency
	}
	if t.OneCPU {
		cpus = cpus[:1]
	}
	switch {
	case opts.Period != 0:
		attr.Sample = opts.Period
	default:
		freq := opts.Frequency
		if freq == 0 {
			freq = 99
		}
		attr.Sample = freq
		attr.Bits |= unix.PerfBitFreq
	}
	p := &perfAttachment{t: t}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	for _, cpu := range cpus {
		fd, err := unix.PerfEventOpen(&attr, -1, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) {
				return nil, fmt.Errorf("perf event %s is not supported here (hardware events are missing in most VMs; cpu-clock always works): %w", name, err)
			}
			if errors.Is(err, unix.EINVAL) && attr.Bits&unix.PerfBitFreq != 0 {
				return nil, fmt.Errorf("perf_event_open %s at %d Hz on CPU %d: %w%s", name, attr.Sample, cpu, err, maxSampleRateHint(attr.Sample))
			}
			return nil, fmt.Errorf("perf_event_open %s on CPU %d: %w", name, cpu, err)
		}
		p.fds = append(p.fds, fd)
		l, err := link.AttachRawLink(link.RawLinkOptions{Target: fd, Program: prog, Attach: ebpf.AttachPerfEvent})
		if err != nil {
			return nil, fmt.Errorf("attach to perf event on CPU %d: %w", cpu, err)
		}
		p.links = append(p.links, l)
	}
	return p, nil
}

// OnlineCPUs lists the CPUs that are online now.
func OnlineCPUs() ([]int, error) {
	data, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return nil, fmt.Errorf("list online CPUs: %w", err)
	}
	return parseCPUList(strings.TrimSpace(string(data)))
}

// parseCPUList parses the kernel's CPU list format, e.g. "0-3,5,7-8".
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("cpu list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("cpu list %q: bad range %q", s, part)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) == 0 {
		return nil, fmt.Errorf("cpu list %q is empty", s)
	}
	return cpus, nil
}

// MaxSampleRatePath is the kernel's limit on perf sampling frequencies.
const MaxSampleRatePath = "/proc/sys/kernel/perf_event_max_sample_rate"

// maxSampleRateHint explains an EINVAL for a sampling frequency: the
// kernel refuses frequencies above perf_event_max_sample_rate, which it
// also lowers by itself when sampling takes too long.
func maxSampleRateHint(freq uint64) string {
	data, err := os.ReadFile(MaxSampleRatePath)
	if err != nil {
		return fmt.Sprintf(" (frequencies above %s are refused)", MaxSampleRatePath)
	}
	limit := strings.TrimSpace(string(data))
	if n, err := strconv.ParseUint(limit, 10, 64); err == nil && freq <= n {
		return fmt.Sprintf(" (%s is %s)", MaxSampleRatePath, limit)
	}
	return fmt.Sprintf(": the frequency is above the kernel's limit, %s Hz (%s)", limit, MaxSampleRatePath)
}
