// kprobe-only object (kprobe, ksyscall, kretprobe) for tests of kernels without kprobe support.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} opens SEC(".maps");

static __always_inline void bump(void)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&opens, &zero);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("kprobe/do_sys_openat2")
int BPF_KPROBE(open_kprobe)
{
	bump();
	return 0;
}

SEC("ksyscall/openat")
int BPF_KSYSCALL(openat_ksyscall, int dfd, const char *filename)
{
	bump();
	return 0;
}

SEC("kretprobe/do_sys_openat2")
int BPF_KRETPROBE(open_kretprobe, long ret)
{
	bump();
	return 0;
}
