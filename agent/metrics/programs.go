package metrics

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Program is a loaded program whose statistics are exported.
type Program struct {
	Program *ebpf.Program
	// Name is the program's name as its object or script knows it
	// (longer than the kernel's 15 characters).
	Name string
	// Object names the object or script the program comes from.
	Object string
}

// ProgramSource exports the kernel's statistics of programs: how many
// times each ran and for how long, which the kernel counts only while
// statistics are on (kernel.bpf_stats_enabled, or EnableStats).
type ProgramSource struct {
	name  string
	progs []programInfo
	// statsFile is kernel.bpf_stats_enabled (a variable for tests).
	statsFile string
}

type programInfo struct {
	p      *ebpf.Program
	labels []string // id, name, type, object
}

// NewProgramSource exports progs under the source name name.
func NewProgramSource(name string, progs []Program) (*ProgramSource, error) {
	s := &ProgramSource{name: name, statsFile: "/proc/sys/kernel/bpf_stats_enabled"}
	for _, p := range progs {
		info, err := p.Program.Info()
		if err != nil {
			return nil, fmt.Errorf("program %s: %w", p.Name, err)
		}
		id, _ := info.ID()
		pname := p.Name
		if pname == "" {
			pname = info.Name
		}
		s.progs = append(s.progs, programInfo{p: p.Program, labels: []string{
			strconv.FormatUint(uint64(id), 10), validUTF8(pname), info.Type.String(), validUTF8(p.Object),
		}})
	}
	return s, nil
}

// Name is the source's name.
func (s *ProgramSource) Name() string { return s.name }

// Families of ProgramSource, by index.
const (
	famStatsEnabled = iota
	famRuns
	famRunSeconds
	famRecursionMisses
)

func (s *ProgramSource) families() []family {
	labels := []string{"id", "name", "type", "object"}
	return []family{
		famStatsEnabled:    {name: "bpf_stats_enabled", kind: kindGauge, help: "Whether the kernel counts the run time of BPF programs (kernel.bpf_stats_enabled)."},
		famRuns:            {name: "program_runs_total", kind: kindCounter, labels: labels, help: "Times the program ran while BPF statistics were on."},
		famRunSeconds:      {name: "program_run_seconds_total", kind: kindCounter, labels: labels, help: "Time the program ran while BPF statistics were on."},
		famRecursionMisses: {name: "program_recursion_misses_total", kind: kindCounter, labels: labels, help: "Times the program did not run because another BPF program was running on the CPU."},
	}
}

func (s *ProgramSource) collect(em *emitter) {
	on, err := s.statsEnabled()
	if err != nil {
		em.fail(err)
		return
	}
	if !on {
		em.value(famStatsEnabled, 0, nil)
		return
	}
	em.value(famStatsEnabled, 1, nil)
	for _, p := range s.progs {
		st, err := p.p.Stats()
		if err != nil {
			em.fail(fmt.Errorf("program %s: %w", p.labels[1], err))
			continue
		}
		em.value(famRuns, float64(st.RunCount), p.labels)
		em.value(famRunSeconds, st.Runtime.Seconds(), p.labels)
		em.value(famRecursionMisses, float64(st.RecursionMisses), p.labels)
	}
}

// statsEnabled reports whether the kernel counts: the sysctl says so,
// or this process holds statistics on through EnableStats (which the
// sysctl does not show).
func (s *ProgramSource) statsEnabled() (bool, error) {
	if statsHeld.Load() > 0 {
		return true, nil
	}
	data, err := os.ReadFile(s.statsFile)
	if err != nil {
		return false, fmt.Errorf("read BPF statistics setting: %w", err)
	}
	return strings.TrimSpace(string(data)) != "0", nil
}

// EnableStats turns on the kernel's run-time statistics of BPF programs
// until the returned Closer is closed (or the process exits), as
// `sysctl kernel.bpf_stats_enabled=1` would, without leaving them on.
// They cost a little time on every program run.
func EnableStats() (io.Closer, error) {
	c, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return nil, fmt.Errorf("turn on BPF statistics (needs Linux 5.8 and CAP_SYS_ADMIN): %w", err)
	}
	statsHeld.Add(1)
	return &heldStats{c: c}, nil
}

// statsHeld counts the EnableStats closers not closed yet.
var statsHeld atomic.Int32

type heldStats struct {
	once sync.Once
	c    io.Closer
}

func (h *heldStats) Close() error {
	var err error
	h.once.Do(func() {
		err = h.c.Close()
		statsHeld.Add(-1)
	})
	return err
}
