// Alternatives for one hook (fentry vs kprobe, tp_btf vs raw_tp) for fallback-selection tests.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "counter.h"

char LICENSE[] SEC("license") = "GPL";

COUNTER(unlinks);
COUNTER(execs);

SEC("fentry/do_unlinkat")
int BPF_PROG(unlink_fentry)
{
	bump(&unlinks);
	return 0;
}

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(unlink_kprobe)
{
	bump(&unlinks);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_btf)
{
	bump(&execs);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int exec_raw(struct bpf_raw_tracepoint_args *ctx)
{
	bump(&execs);
	return 0;
}
