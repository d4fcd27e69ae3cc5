package verifier

import "github.com/cilium/ebpf"

// ArgType is the kind of value a helper expects in an argument register.
type ArgType int

const (
	ArgAnything       ArgType = iota // any initialised value
	ArgMapPtr                        // a map loaded with lddw
	ArgMapKey                        // pointer to key_size initialised bytes
	ArgMapValue                      // pointer to value_size initialised bytes
	ArgMapValueOut                   // pointer to value_size writable bytes
	ArgCtx                           // the context pointer, unmodified
	ArgMem                           // pointer to initialised memory, size in the next argument
	ArgUninitMem                     // pointer to writable memory, size in the next argument
	ArgSize                          // a scalar size > 0 bounding the previous memory argument
	ArgSizeOrZero                    // a scalar size >= 0 bounding the previous memory argument
	ArgConstAllocSize                // a constant size of memory to allocate (RetMemOrNull)
	ArgReleaseMem                    // memory acquired by RetMemOrNull, released by the call
	ArgFunc                          // a function of the program, called back by the helper
	ArgStackOrNull                   // a stack pointer or NULL, handed to the callback
)

// CallbackKind says how a helper calls its ArgFunc argument back.
type CallbackKind int

const (
	NoCallback CallbackKind = iota
	// CallbackLoop: long fn(u64 index, void *ctx), any number of times.
	CallbackLoop
	// CallbackForEachMapElem: long fn(struct bpf_map *map, const void
	// *key, void *value, void *ctx), once per element of the map.
	CallbackForEachMapElem
)

// RetType is what a helper leaves in r0.
type RetType int

const (
	RetInteger RetType = iota
	RetMapValueOrNull
	RetMemOrNull // acquired memory of the ArgConstAllocSize size, or NULL
	RetVoid      // nothing: r0 is not initialised after the call
)

// HelperSig describes a helper function.
type HelperSig struct {
	Name string
	Args []ArgType
	Ret  RetType
	// MapTypes lists the map types accepted for an ArgMapPtr argument;
	// nil means the ordinary data maps (hash, array and their variants).
	MapTypes []ebpf.MapType
	// Types lists the program types that may call the helper; nil means
	// every type.
	Types []ebpf.ProgramType
	// Privileged restricts the helper to privileged loaders.
	Privileged bool
	// ChangesPacket: the helper may move or resize packet data, so every
	// packet pointer is invalid after the call.
	ChangesPacket bool
	// NoRefs: the call may not return (tail calls), so no reference may be
	// held across it.
	NoRefs bool
	// Callback is how the helper calls its ArgFunc argument.
	Callback CallbackKind
}

var dataMaps = []ebpf.MapType{ebpf.Hash, ebpf.Array, ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUHash, ebpf.LRUCPUHash, ebpf.LPMTrie}

// Program types by what their helpers may do.
var (
	tracingTypes = []ebpf.ProgramType{ebpf.Kprobe, ebpf.TracePoint, ebpf.PerfEvent, ebpf.RawTracepoint, ebpf.RawTracepointWritable, ebpf.Tracing}
	kprobeTypes  = []ebpf.ProgramType{ebpf.Kprobe}
	skbTypes     = []ebpf.ProgramType{ebpf.SocketFilter, ebpf.SchedCLS, ebpf.SchedACT, ebpf.CGroupSKB}
	tcTypes      = []ebpf.ProgramType{ebpf.SchedCLS, ebpf.SchedACT}
	xdpTypes     = []ebpf.ProgramType{ebpf.XDP}
	outputTypes  = append([]ebpf.ProgramType{ebpf.SocketFilter, ebpf.SchedCLS, ebpf.SchedACT, ebpf.XDP}, tracingTypes...)
	redirectors  = []ebpf.ProgramType{ebpf.SchedCLS, ebpf.SchedACT, ebpf.XDP}
)

func probeRead(name string) HelperSig {
	return HelperSig{Name: name, Args: []ArgType{ArgUninitMem, ArgSizeOrZero, ArgAnything}, Types: tracingTypes, Privileged: true}
}

func tracing(name string, args ...ArgType) HelperSig {
	return HelperSig{Name: name, Args: args, Types: tracingTypes, Privileged: true}
}

// BuiltinHelpers is the default helper table, indexed by helper id. Where
// the kernel's rules are wider than this table (more program types, more
// argument kinds), the table is narrower: it must never allow a call the
// kernel refuses.
var BuiltinHelpers = map[int32]HelperSig{
	1:   {Name: "bpf_map_lookup_elem", Args: []ArgType{ArgMapPtr, ArgMapKey}, Ret: RetMapValueOrNull},
	2:   {Name: "bpf_map_update_elem", Args: []ArgType{ArgMapPtr, ArgMapKey, ArgMapValue, ArgAnything}},
	3:   {Name: "bpf_map_delete_elem", Args: []ArgType{ArgMapPtr, ArgMapKey}},
	4:   probeRead("bpf_probe_read"),
	5:   {Name: "bpf_ktime_get_ns"},
	6:   {Name: "bpf_trace_printk", Args: []ArgType{ArgMem, ArgSize, ArgAnything, ArgAnything, ArgAnything}, Privileged: true},
	7:   {Name: "bpf_get_prandom_u32"},
	8:   {Name: "bpf_get_smp_processor_id"},
	9:   {Name: "bpf_skb_store_bytes", Args: []ArgType{ArgCtx, ArgAnything, ArgMem, ArgSize, ArgAnything}, Types: tcTypes, ChangesPacket: true},
	10:  {Name: "bpf_l3_csum_replace", Args: []ArgType{ArgCtx, ArgAnything, ArgAnything, ArgAnything, ArgAnything}, Types: tcTypes, ChangesPacket: true},
	11:  {Name: "bpf_l4_csum_replace", Args: []ArgType{ArgCtx, ArgAnything, ArgAnything, ArgAnything, ArgAnything}, Types: tcTypes, ChangesPacket: true},
	12:  {Name: "bpf_tail_call", Args: []ArgType{ArgCtx, ArgMapPtr, ArgAnything}, MapTypes: []ebpf.MapType{ebpf.ProgramArray}, NoRefs: true, Ret: RetVoid},
	14:  tracing("bpf_get_current_pid_tgid"),
	15:  tracing("bpf_get_current_uid_gid"),
	16:  tracing("bpf_get_current_comm", ArgUninitMem, ArgSize),
	17:  {Name: "bpf_get_cgroup_classid", Args: []ArgType{ArgCtx}, Types: tcTypes},
	23:  {Name: "bpf_redirect", Args: []ArgType{ArgAnything, ArgAnything}, Types: redirectors},
	25:  {Name: "bpf_perf_event_output", Args: []ArgType{ArgCtx, ArgMapPtr, ArgAnything, ArgMem, ArgSizeOrZero}, MapTypes: []ebpf.MapType{ebpf.PerfEventArray}, Types: outputTypes},
	26:  {Name: "bpf_skb_load_bytes", Args: []ArgType{ArgCtx, ArgAnything, ArgUninitMem, ArgSize}, Types: skbTypes},
	27:  {Name: "bpf_get_stackid", Args: []ArgType{ArgCtx, ArgMapPtr, ArgAnything}, MapTypes: []ebpf.MapType{ebpf.StackTrace}, Types: tracingTypes, Privileged: true},
	35:  tracing("bpf_get_current_task"),
	39:  {Name: "bpf_skb_pull_data", Args: []ArgType{ArgCtx, ArgAnything}, Types: tcTypes, ChangesPacket: true},
	42:  {Name: "bpf_get_numa_node_id"},
	44:  {Name: "bpf_xdp_adjust_head", Args: []ArgType{ArgCtx, ArgAnything}, Types: xdpTypes, ChangesPacket: true},
	45:  probeRead("bpf_probe_read_str"),
	51:  {Name: "bpf_redirect_map", Args: []ArgType{ArgMapPtr, ArgAnything, ArgAnything}, MapTypes: []ebpf.MapType{ebpf.DevMap, ebpf.DevMapHash, ebpf.CPUMap, ebpf.XSKMap}, Types: xdpTypes},
	58:  {Name: "bpf_override_return", Args: []ArgType{ArgCtx, ArgAnything}, Types: kprobeTypes, Privileged: true},
	65:  {Name: "bpf_xdp_adjust_tail", Args: []ArgType{ArgCtx, ArgAnything}, Types: xdpTypes, ChangesPacket: true},
	67:  {Name: "bpf_get_stack", Args: []ArgType{ArgCtx, ArgUninitMem, ArgSizeOrZero, ArgAnything}, Types: tracingTypes, Privileged: true},
	80:  tracing("bpf_get_current_cgroup_id"),
	87:  {Name: "bpf_map_push_elem", Args: []ArgType{ArgMapPtr, ArgMapValue, ArgAnything}, MapTypes: []ebpf.MapType{ebpf.Queue, ebpf.Stack}},
	88:  {Name: "bpf_map_pop_elem", Args: []ArgType{ArgMapPtr, ArgMapValueOut}, MapTypes: []ebpf.MapType{ebpf.Queue, ebpf.Stack}},
	89:  {Name: "bpf_map_peek_elem", Args: []ArgType{ArgMapPtr, ArgMapValueOut}, MapTypes: []ebpf.MapType{ebpf.Queue, ebpf.Stack}},
	109: tracing("bpf_send_signal", ArgAnything),
	112: probeRead("bpf_probe_read_user"),
	113: probeRead("bpf_probe_read_kernel"),
	114: probeRead("bpf_probe_read_user_str"),
	115: probeRead("bpf_probe_read_kernel_str"),
	117: tracing("bpf_send_signal_thread", ArgAnything),
	118: tracing("bpf_jiffies64"),
	120: tracing("bpf_get_ns_current_pid_tgid", ArgAnything, ArgAnything, ArgUninitMem, ArgSize),
	123: tracing("bpf_get_current_ancestor_cgroup_id", ArgAnything),
	125: {Name: "bpf_ktime_get_boot_ns"},
	// The kernel allows bpf_d_path in tracing programs attached to an
	// allow-list of functions, and takes a BTF pointer to a struct path;
	// the verifier checks the buffer, the attach point is the kernel's.
	147: {Name: "bpf_d_path", Args: []ArgType{ArgAnything, ArgUninitMem, ArgSize}, Types: []ebpf.ProgramType{ebpf.Tracing}, Privileged: true},
	130: {Name: "bpf_ringbuf_output", Args: []ArgType{ArgMapPtr, ArgMem, ArgSizeOrZero, ArgAnything}, MapTypes: []ebpf.MapType{ebpf.RingBuf}},
	131: {Name: "bpf_ringbuf_reserve", Args: []ArgType{ArgMapPtr, ArgConstAllocSize, ArgAnything}, Ret: RetMemOrNull, MapTypes: []ebpf.MapType{ebpf.RingBuf}},
	132: {Name: "bpf_ringbuf_submit", Args: []ArgType{ArgReleaseMem, ArgAnything}, Ret: RetVoid},
	133: {Name: "bpf_ringbuf_discard", Args: []ArgType{ArgReleaseMem, ArgAnything}, Ret: RetVoid},
	134: {Name: "bpf_ringbuf_query", Args: []ArgType{ArgMapPtr, ArgAnything}, MapTypes: []ebpf.MapType{ebpf.RingBuf}},
	160: tracing("bpf_ktime_get_coarse_ns"),
	164: {Name: "bpf_for_each_map_elem", Args: []ArgType{ArgMapPtr, ArgFunc, ArgStackOrNull, ArgAnything}, Callback: CallbackForEachMapElem,
		MapTypes: []ebpf.MapType{ebpf.Hash, ebpf.LRUHash, ebpf.Array, ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUCPUHash}},
	181: {Name: "bpf_loop", Args: []ArgType{ArgAnything, ArgFunc, ArgStackOrNull, ArgAnything}, Callback: CallbackLoop},
	195: {Name: "bpf_map_lookup_percpu_elem", Args: []ArgType{ArgMapPtr, ArgMapKey, ArgAnything}, Ret: RetMapValueOrNull, MapTypes: []ebpf.MapType{ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUCPUHash}},
}
