// Maps of the shapes agent/metrics exports, for its tests. The tests fill
// most of them from Go, where the bytes are chosen exactly; count_syscalls
// fills `syscalls` for the end-to-end test with a real Prometheus.
//
// Rebuild: clang -g -O2 -target bpf -I/usr/include/$(uname -m)-linux-gnu \
//          -c metrics.bpf.c -o metrics.bpf.o
// (needs libbpf-dev for bpf_helpers.h; no vmlinux.h).
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

// Only this process's system calls are counted (0: every process's).
const volatile __u32 targ_tgid = 0;

struct syscall_key {
	__u32 tgid;
	__u32 id;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct syscall_key);
	__type(value, __u64);
} syscalls SEC(".maps");

enum op {
	OP_READ = 0,
	OP_WRITE = 1,
};

struct op_key {
	enum op op;
	char comm[16];
};

// bcc and libbpf-tools' histogram: slot 0 counts 0 and 1, slot k
// [2^k, 2^(k+1)).
struct hist {
	__u32 slots[27];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct op_key);
	__type(value, struct hist);
} latency SEC(".maps");

// ebpf_exporter's histograms: one entry per bucket, its index in the key.
struct size_key {
	__u32 op;
	__u32 bucket;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct size_key);
	__type(value, __u64);
} sizes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, __s32);
	__type(value, __u64);
} errors SEC(".maps");

struct flow {
	__be32 saddr;
	__u8 daddr[16];
	__u16 port;
	__u16 pad;
};

struct flow_stats {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct flow);
	__type(value, struct flow_stats);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u64);
} funcs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u64);
} cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} totals SEC(".maps");

struct sys_enter_ctx {
	__u64 common;
	long id;
};

SEC("tracepoint/raw_syscalls/sys_enter")
int count_syscalls(struct sys_enter_ctx *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct syscall_key k = {};
	__u64 one = 1, *v;

	if (targ_tgid && tgid != targ_tgid)
		return 0;
	k.tgid = tgid;
	k.id = ctx->id;
	v = bpf_map_lookup_elem(&syscalls, &k);
	if (v)
		*v += 1;
	else
		bpf_map_update_elem(&syscalls, &k, &one, BPF_NOEXIST);
	return 0;
}
