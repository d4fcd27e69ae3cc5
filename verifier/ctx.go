package verifier

import "github.com/cilium/ebpf"

type ctxField struct {
	off, size int
	write     bool
	kind      regType // scalar, ptrPacket or ptrPacketEnd
	name      string
}

type ctxDesc struct {
	name   string
	fields []ctxField
	// raw contexts (kprobe, tracepoint) allow aligned reads of rawSizes
	// anywhere in [rawMin, rawMax).
	raw      bool
	rawMin   int
	rawMax   int
	rawSizes []int
	// narrowReads: scalar fields may also be read in 1- or 2-byte parts,
	// as the kernel allows for __sk_buff.
	narrowReads bool
	packet      bool // the program type has packet pointers
	// readOnlyPacket: packet data may be read but not written.
	readOnlyPacket bool
	// skb: the context is a socket buffer, which legacy packet loads
	// (LD_ABS/LD_IND) read from.
	skb    bool
	notYet map[int]string
}

func u32(off int, name string, write bool) ctxField {
	return ctxField{off: off, size: 4, write: write, kind: scalarT, name: name}
}

func skbFields(tc bool) []ctxField {
	f := []ctxField{
		u32(0, "len", false), u32(4, "pkt_type", false), u32(8, "mark", tc),
		u32(12, "queue_mapping", tc), u32(16, "protocol", false), u32(20, "vlan_present", false),
		u32(24, "vlan_tci", false), u32(28, "vlan_proto", false), u32(32, "priority", tc),
		u32(36, "ingress_ifindex", false), u32(40, "ifindex", false), u32(44, "tc_index", tc),
		u32(48, "cb[0]", true), u32(52, "cb[1]", true), u32(56, "cb[2]", true),
		u32(60, "cb[3]", true), u32(64, "cb[4]", true), u32(68, "hash", false),
	}
	if tc {
		f = append(f, u32(72, "tc_classid", true),
			ctxField{off: 76, size: 4, kind: ptrPacket, name: "data"},
			ctxField{off: 80, size: 4, kind: ptrPacketEnd, name: "data_end"},
			u32(84, "napi_id", false))
	}
	return f
}

func ctxFor(typ ebpf.ProgramType, attach ebpf.AttachType) *ctxDesc {
	switch typ {
	case ebpf.XDP:
		f := []ctxField{
			{off: 0, size: 4, kind: ptrPacket, name: "data"},
			{off: 4, size: 4, kind: ptrPacketEnd, name: "data_end"},
			u32(12, "ingress_ifindex", false), u32(16, "rx_queue_index", false),
		}
		if attach == ebpf.AttachXDPDevMap {
			// Only a program run from a devmap knows its egress device.
			f = append(f, u32(20, "egress_ifindex", false))
		}
		return &ctxDesc{name: "xdp_md", packet: true, fields: f, notYet: map[int]string{8: "xdp_md.data_meta"}}
	case ebpf.SocketFilter:
		return &ctxDesc{name: "__sk_buff", skb: true, narrowReads: true, fields: skbFields(false)}
	case ebpf.SchedCLS, ebpf.SchedACT:
		return &ctxDesc{name: "__sk_buff", skb: true, narrowReads: true, packet: true, fields: skbFields(true), notYet: map[int]string{140: "__sk_buff.data_meta"}}
	case ebpf.CGroupSKB:
		// Read-only direct packet access; a few fields are writable.
		f := skbFields(false)
		for i := range f {
			switch f[i].name {
			case "mark", "priority", "cb[0]", "cb[1]", "cb[2]", "cb[3]", "cb[4]":
				f[i].write = true
			}
		}
		f = append(f, ctxField{off: 76, size: 4, kind: ptrPacket, name: "data"},
			ctxField{off: 80, size: 4, kind: ptrPacketEnd, name: "data_end"})
		return &ctxDesc{name: "__sk_buff", narrowReads: true, packet: true, readOnlyPacket: true, fields: f}
	case ebpf.CGroupSock:
		// Only socket creation and release may change the socket; the
		// kernel takes an unset attach type as creation.
		w := attach == 0 || attach == ebpf.AttachCGroupInetSockCreate || attach == ebpf.AttachCgroupInetSockRelease
		return &ctxDesc{name: "bpf_sock", fields: []ctxField{
			u32(0, "bound_dev_if", w), u32(4, "family", false), u32(8, "type", false),
			u32(12, "protocol", false), u32(16, "mark", w), u32(20, "priority", w),
		}}
	case ebpf.CGroupSysctl:
		return &ctxDesc{name: "bpf_sysctl", fields: []ctxField{u32(0, "write", false), u32(4, "file_pos", true)}}
	case ebpf.Kprobe:
		// struct pt_regs is 168 bytes on x86-64; smaller than on the other
		// architectures, so this bound is safe everywhere.
		return &ctxDesc{name: "pt_regs", raw: true, rawMax: 168, rawSizes: []int{8}}
	case ebpf.PerfEvent:
		// struct bpf_perf_event_data: pt_regs, then sample_period and addr.
		return &ctxDesc{name: "bpf_perf_event_data", raw: true, rawMax: 184, rawSizes: []int{8}}
	case ebpf.TracePoint:
		// The first 8 bytes of a tracepoint record (common_type and
		// friends) are not readable; the record ends within
		// PERF_MAX_TRACE_SIZE (8 KiB).
		return &ctxDesc{name: "tracepoint context", raw: true, rawMin: 8, rawMax: 8192, rawSizes: []int{1, 2, 4, 8}}
	case ebpf.RawTracepoint, ebpf.RawTracepointWritable, ebpf.Tracing:
		// An array of up to 12 u64 arguments (MAX_BPF_FUNC_ARGS). The
		// kernel types tracing arguments through BTF; here they are plain
		// numbers, so pointers among them are read with helpers.
		return &ctxDesc{name: "argument array", raw: true, rawMax: 12 * 8, rawSizes: []int{8}}
	}
	return nil
}

func isTracing(typ ebpf.ProgramType) bool {
	switch typ {
	case ebpf.Kprobe, ebpf.TracePoint, ebpf.PerfEvent, ebpf.RawTracepoint, ebpf.RawTracepointWritable, ebpf.Tracing:
		return true
	}
	return false
}

// returnRange is the range of return values the kernel accepts for a
// program type, when it checks one.
func returnRange(typ ebpf.ProgramType, attach ebpf.AttachType) (lo, hi int64, ok bool) {
	switch typ {
	case ebpf.CGroupSKB:
		if attach == ebpf.AttachCGroupInetEgress {
			return 0, 3, true
		}
		return 0, 1, true
	case ebpf.CGroupSock, ebpf.CGroupSysctl, ebpf.CGroupSockAddr, ebpf.CGroupDevice, ebpf.CGroupSockopt:
		return 0, 1, true
	case ebpf.Tracing:
		switch attach {
		case ebpf.AttachTraceFEntry, ebpf.AttachTraceFExit:
			return 0, 0, true
		case ebpf.AttachTraceIter:
			return 0, 1, true
		}
	}
	return 0, 0, false
}
