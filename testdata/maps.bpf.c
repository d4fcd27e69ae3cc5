// Maps of many shapes for `waggle map` tests, written by one program that
// the tests run with BPF_PROG_TEST_RUN (on a chosen CPU, for the per-CPU
// maps). Each run adds the same amounts, so the contents after N runs are
// known.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

enum task_state {
	TASK_IDLE = 0,
	TASK_RUNNING = 1,
	TASK_DONE = 2,
};

struct task_key {
	__u32 pid;
	char comm[16];
};

struct task_val {
	__u64 count;
	__s32 delta;
	enum task_state state;
	char tag[8];
};

// bcc and libbpf-tools' histogram: slot k counts values whose log2 is k.
struct hist {
	__u32 slots[8];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct task_key);
	__type(value, struct task_val);
} by_task SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} per_cpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct task_val);
} pc_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct hist);
} lat_hist SEC(".maps");

// Sizes only, no BTF types: dumped as hex.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__uint(key_size, 4);
	__uint(value_size, 8);
} raw_sizes SEC(".maps");

__u64 runs = 0;

SEC("raw_tp")
int fill(void *ctx)
{
	struct task_key k = { .pid = 42, .comm = "waggle" };
	struct task_key k2 = { .pid = 7, .comm = "init" };
	struct task_val *v, nv = { .state = TASK_RUNNING, .tag = "ok" };
	__u32 one = 1, zero = 0, slot;
	__u64 *c, n;
	struct hist *h;

	runs++;

	v = bpf_map_lookup_elem(&by_task, &k);
	if (!v) {
		bpf_map_update_elem(&by_task, &k, &nv, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&by_task, &k);
		if (!v)
			return 0;
	}
	v->count += 3;
	v->delta -= 5;
	nv.state = TASK_DONE;
	nv.count = 1;
	bpf_map_update_elem(&by_task, &k2, &nv, BPF_ANY);

	c = bpf_map_lookup_elem(&counts, &one);
	if (c) {
		*c += 10;
	} else {
		n = 10;
		bpf_map_update_elem(&counts, &one, &n, BPF_NOEXIST);
	}

	c = bpf_map_lookup_elem(&per_cpu, &one);
	if (c)
		*c += bpf_get_smp_processor_id() + 1;

	v = bpf_map_lookup_elem(&pc_hash, &zero);
	if (!v) {
		nv.count = 0;
		nv.state = TASK_IDLE;
		bpf_map_update_elem(&pc_hash, &zero, &nv, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&pc_hash, &zero);
		if (!v)
			return 0;
	}
	v->count += 2;

	h = bpf_map_lookup_elem(&lat_hist, &zero);
	if (h) {
		h->slots[1] += 2;
		h->slots[3] += 5;
	}

	n = 0x2a;
	bpf_map_update_elem(&raw_sizes, &one, &n, BPF_ANY);
	return 0;
}
