package bench

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

// toolCase is a script in the style of one of bpftrace's tools (written
// here, not copied) with a workload that fires its probes.
type toolCase struct {
	name, script string
	work         func(b *testing.B)
}

var toolCases = []toolCase{
	{"opensnoop", `tracepoint:syscalls:sys_enter_openat { @filename[tid] = args->filename; }
tracepoint:syscalls:sys_exit_openat /@filename[tid]/ { $ret = args->ret; $fd = $ret >= 0 ? $ret : -1; printf("%-6d %-16s %4d %s\n", pid, comm, $fd, str(@filename[tid])); delete(@filename[tid]); }`,
		func(b *testing.B) {
			for range 20000 {
				if f, err := os.Open("/etc/hostname"); err == nil {
					f.Close()
				}
			}
		}},
	{"syscount", `tracepoint:raw_syscalls:sys_enter { @syscall[args->id] = count(); @process[comm] = count(); }`,
		func(b *testing.B) {
			for range 50000 {
				syscall.Getpid()
			}
		}},
	{"killsnoop", `tracepoint:syscalls:sys_enter_kill { @tpid[tid] = args->pid; @tsig[tid] = args->sig; }
tracepoint:syscalls:sys_exit_kill /@tpid[tid]/ { printf("%-6d %-16s %-4d %-6d %d\n", pid, comm, @tsig[tid], @tpid[tid], args->ret); delete(@tpid[tid]); delete(@tsig[tid]); }`,
		func(b *testing.B) {
			for range 20000 {
				syscall.Kill(os.Getpid(), 0)
			}
		}},
	{"pidpersec", `tracepoint:sched:sched_process_fork { @ = count(); }`,
		func(b *testing.B) {
			for range 200 {
				exec.Command("/bin/true").Run()
			}
		}},
	{"runqlat", `tracepoint:sched:sched_wakeup, tracepoint:sched:sched_wakeup_new { @qtime[args->pid] = nsecs; }
tracepoint:sched:sched_switch { if (args->prev_state == 0) { @qtime[args->prev_pid] = nsecs; } $ns = @qtime[args->next_pid]; if ($ns) { @usecs = hist((nsecs - $ns) / 1000); } delete(@qtime[args->next_pid]); }`,
		func(b *testing.B) {
			for range 5000 {
				time.Sleep(10 * time.Microsecond)
			}
		}},
}

// BenchmarkTools loads each tool-style script with waggle and with
// bpftrace, runs the same workload under each, and reports the kernel's
// own figures for the programs: xlated instructions (8-byte slots) and
// run time per event (run_time_ns / run_cnt with BPF statistics enabled),
// summed over the tool's programs. b.N does not matter: it measures once.
func BenchmarkTools(b *testing.B) {
	requireRoot(b)
	stats, err := ebpf.EnableStats(0) // BPF_STATS_RUN_TIME
	if err != nil {
		b.Skipf("cannot enable BPF run-time statistics: %v", err)
	}
	defer stats.Close()
	measured := map[string][3]float64{}
	for _, tc := range toolCases {
		for _, t := range tracers(b) {
			b.Run(tc.name+"/"+t.name, func(b *testing.B) {
				key := tc.name + "/" + t.name
				m, ok := measured[key]
				if !ok {
					programsWhile(b, t, t.argv(tc.script), func(progs []loadedProg) {
						tc.work(b)
						var insns int
						var runs uint64
						var ns time.Duration
						for _, p := range progs {
							insns += p.insns
							prog, err := ebpf.NewProgramFromID(p.id)
							if err != nil {
								b.Fatalf("program %d: %v", p.id, err)
							}
							st, err := prog.Stats()
							prog.Close()
							if err != nil {
								b.Fatalf("program %d stats: %v", p.id, err)
							}
							runs += st.RunCount
							ns += st.Runtime
						}
						if runs == 0 {
							b.Fatalf("the workload ran none of %s's programs", t.name)
						}
						m = [3]float64{float64(insns), float64(ns.Nanoseconds()) / float64(runs), float64(runs)}
					})
					measured[key] = m
					b.Logf("%s: %d xlated insns, %.0f ns per event over %d events", key, int(m[0]), m[1], int(m[2]))
				}
				b.ReportMetric(m[0], "xlated-insns")
				b.ReportMetric(m[1], "ns/event")
				b.ReportMetric(m[2], "events")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
