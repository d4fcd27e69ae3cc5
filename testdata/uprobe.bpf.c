// uprobe/uretprobe on uprobe_target.c's waggle_target: enum-typed events, log2 histogram, struct keys.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

enum event_kind { KIND_ENTER = 1, KIND_RETURN = 2 };

struct event {
	__u32 pid;
	enum event_kind kind;
	__s64 value;
	char comm[16];
};
struct event *unused_event __attribute__((unused));

struct hist {
	__u32 slots[32];
};

struct parity_key {
	__u32 odd;
	char tag[8];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hist);
} hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct parity_key);
	__type(value, __u64);
} by_parity SEC(".maps");

/* bcc's bpf_log2l: floor(log2(v)), 0 for 0 and 1. */
static __always_inline unsigned int log2l(__u64 v)
{
	unsigned int r, shift;

	r = (v > 0xFFFFFFFF) << 5; v >>= r;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline void emit(enum event_kind kind, __s64 value)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->kind = kind;
	e->value = value;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}

SEC("uprobe")
int BPF_KPROBE(on_enter, int x)
{
	__u32 zero = 0, slot;
	struct parity_key pk = {};
	struct hist *h;
	__u64 one = 1, *cnt;

	emit(KIND_ENTER, x);

	slot = log2l((__u64)(__u32)x);
	if (slot > 31)
		slot = 31;
	h = bpf_map_lookup_elem(&hist, &zero);
	if (h)
		__sync_fetch_and_add(&h->slots[slot], 1);

	pk.odd = x & 1;
	if (pk.odd)
		__builtin_memcpy(pk.tag, "odd", 4);
	else
		__builtin_memcpy(pk.tag, "even", 5);
	cnt = bpf_map_lookup_elem(&by_parity, &pk);
	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	else
		bpf_map_update_elem(&by_parity, &pk, &one, BPF_NOEXIST);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(on_return, int ret)
{
	emit(KIND_RETURN, ret);
	return 0;
}
