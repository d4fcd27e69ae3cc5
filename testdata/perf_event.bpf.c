// perf_event program: per-CPU sample counts in an ARRAY plus a PERCPU_ARRAY total.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} samples SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} total SEC(".maps");

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	__u32 cpu = bpf_get_smp_processor_id(), zero = 0;
	__u64 *v;

	v = bpf_map_lookup_elem(&samples, &cpu);
	if (v)
		__sync_fetch_and_add(v, 1);
	v = bpf_map_lookup_elem(&total, &zero);
	if (v)
		*v += 1;
	return 0;
}
