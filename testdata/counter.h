/* One-entry array counters shared by the fixtures: COUNTER(name) declares
 * the map, bump(&name) adds one to it. */
#ifndef WAGGLE_COUNTER_H
#define WAGGLE_COUNTER_H

#define COUNTER(name)                              \
	struct {                                   \
		__uint(type, BPF_MAP_TYPE_ARRAY);  \
		__uint(max_entries, 1);            \
		__type(key, __u32);                \
		__type(value, __u64);              \
	} name SEC(".maps")

static __always_inline void bump(void *map)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(map, &zero);

	if (v)
		__sync_fetch_and_add(v, 1);
}

#endif
