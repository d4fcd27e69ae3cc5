// One autoloaded program and one "?"-prefixed (not autoloaded) program, for autoload tests.
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

COUNTER(always_count);
COUNTER(maybe_count);

static __always_inline void bump(void *map)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(map, &zero);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("tracepoint/syscalls/sys_enter_close")
int always(void *ctx) { bump(&always_count); return 0; }

SEC("?tracepoint/syscalls/sys_enter_openat")
int maybe(void *ctx) { bump(&maybe_count); return 0; }
