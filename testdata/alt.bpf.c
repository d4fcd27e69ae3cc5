// Alternatives for one hook (fentry vs kprobe, tp_btf vs raw_tp) for fallback-selection tests.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

#define COUNTER(name)                              \
	struct {                                   \
		__uint(type, BPF_MAP_TYPE_ARRAY);  \
		__uint(max_entries, 1);            \
		__type(key, __u32);                \
		__type(value, __u64);              \
	} name SEC(".maps")

COUNTER(unlinks);
COUNTER(execs);

static __always_inline void bump(void *map)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(map, &zero);

	if (v)
		__sync_fetch_and_add(v, 1);
}

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
