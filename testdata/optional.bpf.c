// One autoloaded program and one "?"-prefixed (not autoloaded) program, for autoload tests.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "counter.h"

char LICENSE[] SEC("license") = "GPL";

COUNTER(always_count);
COUNTER(maybe_count);

SEC("tracepoint/syscalls/sys_enter_close")
int always(void *ctx) { bump(&always_count); return 0; }

SEC("?tracepoint/syscalls/sys_enter_openat")
int maybe(void *ctx) { bump(&maybe_count); return 0; }
