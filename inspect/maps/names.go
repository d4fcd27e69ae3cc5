package maps

import (
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
)

// typeNames are the kernel's names of map types (enum bpf_map_type without
// its BPF_MAP_TYPE_ prefix, in lower case), the names bpftool prints and
// accepts, indexed by type number.
var typeNames = [...]string{
	"unspec", "hash", "array", "prog_array", "perf_event_array",
	"percpu_hash", "percpu_array", "stack_trace", "cgroup_array", "lru_hash",
	"lru_percpu_hash", "lpm_trie", "array_of_maps", "hash_of_maps", "devmap",
	"sockmap", "cpumap", "xskmap", "sockhash", "cgroup_storage",
	"reuseport_sockarray", "percpu_cgroup_storage", "queue", "stack", "sk_storage",
	"devmap_hash", "struct_ops", "ringbuf", "inode_storage", "task_storage",
	"bloom_filter", "user_ringbuf", "cgrp_storage", "arena",
}

// TypeName is the kernel's name of a map type ("percpu_hash"), or "type N"
// for a number this version of waggle does not know.
func TypeName(t ebpf.MapType) string {
	if uint32(t) < uint32(len(typeNames)) {
		return typeNames[t]
	}
	return "type " + strconv.FormatUint(uint64(t), 10)
}

// AllTypes lists the map types TypeName knows, in kernel order, without
// the unspecified type 0.
func AllTypes() []ebpf.MapType {
	out := make([]ebpf.MapType, 0, len(typeNames)-1)
	for i := 1; i < len(typeNames); i++ {
		out = append(out, ebpf.MapType(i))
	}
	return out
}

// flagNames are the BPF_F_* map creation flags by bit, lower case without
// the prefix.
var flagNames = [...]string{
	"no_prealloc", "no_common_lru", "numa_node", "rdonly", "wronly",
	"stack_build_id", "zero_seed", "rdonly_prog", "wronly_prog", "clone",
	"mmapable", "preserve_elems", "inner_map", "link", "path_fd",
	"vtype_btf_obj_fd", "token_fd", "segv_on_fault", "no_user_conv",
}

// FlagNames names the set bits of a map's creation flags; bits without a
// name show as hex.
func FlagNames(flags uint32) []string {
	var out []string
	for bit := range 32 {
		if flags&(1<<bit) == 0 {
			continue
		}
		if bit < len(flagNames) {
			out = append(out, flagNames[bit])
		} else {
			out = append(out, "0x"+strconv.FormatUint(1<<bit, 16))
		}
	}
	return out
}

// flagText is FlagNames joined for a table cell, "-" when none are set.
func flagText(flags uint32) string {
	names := FlagNames(flags)
	if len(names) == 0 {
		return "-"
	}
	return strings.Join(names, ",")
}

// perCPU reports whether each key holds one value per possible CPU.
func perCPU(t ebpf.MapType) bool {
	switch t {
	case ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUCPUHash, ebpf.PerCPUCGroupStorage:
		return true
	}
	return false
}
