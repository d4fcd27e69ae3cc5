package verifier

import "github.com/cilium/ebpf"

// ArgType is the kind of value a helper expects in an argument register.
type ArgType int

const (
	ArgAnything   ArgType = iota // any initialised value
	ArgMapPtr                    // a map loaded with lddw
	ArgMapKey                    // pointer to key_size initialised bytes
	ArgMapValue                  // pointer to value_size initialised bytes
	ArgCtx                       // the context pointer, unmodified
	ArgMem                       // pointer to initialised memory, size in the next argument
	ArgUninitMem                 // pointer to writable memory, size in the next argument
	ArgSize                      // a scalar size > 0 bounding the previous memory argument
	ArgSizeOrZero                // a scalar size >= 0 bounding the previous memory argument
)

// RetType is what a helper leaves in r0.
type RetType int

const (
	RetInteger RetType = iota
	RetMapValueOrNull
)

// HelperSig describes a helper function.
type HelperSig struct {
	Name string
	Args []ArgType
	Ret  RetType
	// MapTypes lists the map types accepted for an ArgMapPtr argument;
	// nil means the ordinary data maps (hash, array and their variants).
	MapTypes []ebpf.MapType
	// TracingOnly restricts the helper to kprobe and tracepoint programs.
	TracingOnly bool
	// Privileged restricts the helper to privileged loaders.
	Privileged bool
}

var dataMaps = []ebpf.MapType{ebpf.Hash, ebpf.Array, ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUHash, ebpf.LRUCPUHash, ebpf.LPMTrie}

// BuiltinHelpers is the default helper table, indexed by helper id.
var BuiltinHelpers = map[int32]HelperSig{
	1:   {Name: "bpf_map_lookup_elem", Args: []ArgType{ArgMapPtr, ArgMapKey}, Ret: RetMapValueOrNull},
	2:   {Name: "bpf_map_update_elem", Args: []ArgType{ArgMapPtr, ArgMapKey, ArgMapValue, ArgAnything}},
	3:   {Name: "bpf_map_delete_elem", Args: []ArgType{ArgMapPtr, ArgMapKey}},
	4:   {Name: "bpf_probe_read", Args: []ArgType{ArgUninitMem, ArgSizeOrZero, ArgAnything}, TracingOnly: true, Privileged: true},
	5:   {Name: "bpf_ktime_get_ns"},
	6:   {Name: "bpf_trace_printk", Args: []ArgType{ArgMem, ArgSize, ArgAnything, ArgAnything, ArgAnything}, Privileged: true},
	7:   {Name: "bpf_get_prandom_u32"},
	8:   {Name: "bpf_get_smp_processor_id"},
	14:  {Name: "bpf_get_current_pid_tgid", TracingOnly: true, Privileged: true},
	15:  {Name: "bpf_get_current_uid_gid", TracingOnly: true, Privileged: true},
	16:  {Name: "bpf_get_current_comm", Args: []ArgType{ArgUninitMem, ArgSize}, TracingOnly: true, Privileged: true},
	25:  {Name: "bpf_perf_event_output", Args: []ArgType{ArgCtx, ArgMapPtr, ArgAnything, ArgMem, ArgSizeOrZero}, MapTypes: []ebpf.MapType{ebpf.PerfEventArray}},
	112: {Name: "bpf_probe_read_user", Args: []ArgType{ArgUninitMem, ArgSizeOrZero, ArgAnything}, TracingOnly: true, Privileged: true},
	113: {Name: "bpf_probe_read_kernel", Args: []ArgType{ArgUninitMem, ArgSizeOrZero, ArgAnything}, TracingOnly: true, Privileged: true},
	114: {Name: "bpf_probe_read_user_str", Args: []ArgType{ArgUninitMem, ArgSizeOrZero, ArgAnything}, TracingOnly: true, Privileged: true},
	115: {Name: "bpf_probe_read_kernel_str", Args: []ArgType{ArgUninitMem, ArgSizeOrZero, ArgAnything}, TracingOnly: true, Privileged: true},
	130: {Name: "bpf_ringbuf_output", Args: []ArgType{ArgMapPtr, ArgMem, ArgSizeOrZero, ArgAnything}, MapTypes: []ebpf.MapType{ebpf.RingBuf}},
}
