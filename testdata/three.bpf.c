// Three tracepoint programs, each with its own counter, for the start-up benchmark.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "counter.h"

char LICENSE[] SEC("license") = "GPL";

COUNTER(openat_count);
COUNTER(close_count);
COUNTER(exec_count);

SEC("tracepoint/syscalls/sys_enter_openat")
int tp_openat(void *ctx) { bump(&openat_count); return 0; }

SEC("tracepoint/syscalls/sys_enter_close")
int tp_close(void *ctx) { bump(&close_count); return 0; }

SEC("tracepoint/sched/sched_process_exec")
int tp_exec(void *ctx) { bump(&exec_count); return 0; }
