package inspect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// StatsSysctl is the file behind kernel.bpf_stats_enabled: while it is 1
// the kernel counts every program's runs and run time.
const StatsSysctl = "/proc/sys/kernel/bpf_stats_enabled"

// StatsEnabled reports whether kernel.bpf_stats_enabled is on. (A process
// holding BPF_ENABLE_STATS also makes the kernel count, without the
// sysctl showing it.)
func StatsEnabled() bool {
	b, err := os.ReadFile(StatsSysctl)
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// SetStatsEnabled writes kernel.bpf_stats_enabled. Counting costs a few
// nanoseconds per program run, so it is off by default.
func SetStatsEnabled(on bool) error {
	v := "0\n"
	if on {
		v = "1\n"
	}
	if err := os.WriteFile(StatsSysctl, []byte(v), 0o644); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("this kernel has no kernel.bpf_stats_enabled (run statistics need Linux 5.1 or later): %w", err)
		}
		return errPermission("setting kernel.bpf_stats_enabled", err)
	}
	return nil
}

// HoldStats makes the kernel count program runs until the returned
// closer is closed (BPF_ENABLE_STATS; Linux 5.8+), without touching the
// sysctl: counting stops by itself if the process dies.
func HoldStats() (io.Closer, error) {
	c, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		if errors.Is(err, ebpf.ErrNotSupported) {
			return nil, fmt.Errorf("this kernel cannot enable run statistics on demand (BPF_ENABLE_STATS needs Linux 5.8; use --enable-stats to set kernel.bpf_stats_enabled instead): %w", err)
		}
		return nil, errPermission("enabling BPF run statistics", err)
	}
	return c, nil
}

// RunStats are one program's run counters, over the whole time statistics
// were on or over one profile interval.
type RunStats struct {
	ID              uint32 `json:"id"`
	Type            string `json:"type"`
	Name            string `json:"name"`
	RunCount        uint64 `json:"run_cnt"`
	RunTimeNs       uint64 `json:"run_time_ns"`
	MeanNs          uint64 `json:"mean_ns"`
	RecursionMisses uint64 `json:"recursion_misses"`
	// Seconds is the length of the profile interval, 0 for counters
	// since statistics were turned on.
	Seconds float64 `json:"seconds,omitempty"`
}

type statProg struct {
	p      *ebpf.Program
	before *ebpf.ProgramStats
	rs     RunStats
}

func openStatProgs(sel ProgSelector) ([]*statProg, error) {
	ids, err := ProgIDs(sel)
	if err != nil {
		return nil, err
	}
	var out []*statProg
	for _, id := range ids {
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue
		}
		info, err := p.Info()
		if err != nil {
			p.Close()
			continue
		}
		out = append(out, &statProg{p: p, rs: RunStats{ID: uint32(id), Type: ProgramTypeName(info.Type), Name: info.Name}})
	}
	return out, nil
}

func closeStatProgs(ps []*statProg) {
	for _, sp := range ps {
		sp.p.Close()
	}
}

// ReadRunStats reads the run counters of the programs sel picks. They
// only count while statistics are on.
func ReadRunStats(sel ProgSelector) ([]RunStats, error) {
	ps, err := openStatProgs(sel)
	if err != nil {
		return nil, err
	}
	defer closeStatProgs(ps)
	var out []RunStats
	for _, sp := range ps {
		st, err := sp.p.Stats()
		if err != nil {
			return nil, fmt.Errorf("program %d: run statistics: %w", sp.rs.ID, err)
		}
		sp.rs.set(st, nil)
		out = append(out, sp.rs)
	}
	return out, nil
}

func (rs *RunStats) set(after, before *ebpf.ProgramStats) {
	rs.RunCount, rs.RunTimeNs, rs.RecursionMisses = after.RunCount, uint64(after.Runtime), after.RecursionMisses
	if before != nil {
		rs.RunCount -= before.RunCount
		rs.RunTimeNs -= uint64(before.Runtime)
		rs.RecursionMisses -= before.RecursionMisses
	}
	if rs.RunCount > 0 {
		rs.MeanNs = rs.RunTimeNs / rs.RunCount
	}
}

// Profile measures the programs sel picks for d (or until ctx ends):
// it keeps run statistics on for the interval (BPF_ENABLE_STATS, which the
// kernel drops when this process exits, so nothing is left switched on)
// and returns what each program ran in it.
func Profile(ctx context.Context, sel ProgSelector, d time.Duration) ([]RunStats, error) {
	hold, err := HoldStats()
	if err != nil {
		return nil, err
	}
	defer hold.Close()
	ps, err := openStatProgs(sel)
	if err != nil {
		return nil, err
	}
	defer closeStatProgs(ps)
	for _, sp := range ps {
		if sp.before, err = sp.p.Stats(); err != nil {
			return nil, fmt.Errorf("program %d: run statistics: %w", sp.rs.ID, err)
		}
	}
	start := time.Now()
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
	}
	secs := time.Since(start).Seconds()
	out := make([]RunStats, 0, len(ps))
	for _, sp := range ps {
		st, err := sp.p.Stats()
		if err != nil {
			return nil, fmt.Errorf("program %d: run statistics: %w", sp.rs.ID, err)
		}
		sp.rs.set(st, sp.before)
		sp.rs.Seconds = secs
		out = append(out, sp.rs)
	}
	return out, nil
}
