// Three tracepoint programs, each with its own counter, for the start-up benchmark.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define COUNTER(name)                              \
	struct {                                   \
		__uint(type, BPF_MAP_TYPE_ARRAY);  \
		__uint(max_entries, 1);            \
		__type(key, __u32);                \
		__type(value, __u64);              \
	} name SEC(".maps")

COUNTER(openat_count);
COUNTER(close_count);
COUNTER(exec_count);

static __always_inline void bump(void *map)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(map, &zero);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tp_openat(void *ctx) { bump(&openat_count); return 0; }

SEC("tracepoint/syscalls/sys_enter_close")
int tp_close(void *ctx) { bump(&close_count); return 0; }

SEC("tracepoint/sched/sched_process_exec")
int tp_exec(void *ctx) { bump(&exec_count); return 0; }
