// Same events as openat.bpf.c but through a perf event array, for perf-buffer reader tests.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_pid = 0;

struct event {
	__u32 pid;
	__u32 uid;
	__s32 flags;
	char comm[16];
	char filename[128];
};
struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int trace_openat_perf(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct event e;

	if (target_pid != 0 && tgid != target_pid)
		return 0;

	__builtin_memset(&e, 0, sizeof(e));
	e.pid = tgid;
	e.uid = (__u32)bpf_get_current_uid_gid();
	e.flags = (__s32)ctx->args[2];
	bpf_get_current_comm(&e.comm, sizeof(e.comm));
	bpf_probe_read_user_str(&e.filename, sizeof(e.filename), (const char *)ctx->args[1]);
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &e, sizeof(e));
	return 0;
}
