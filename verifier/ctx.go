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
	// anywhere below rawMax.
	raw      bool
	rawMax   int
	rawSizes []int
	packet   bool // the program type has packet pointers
	notYet   map[int]string
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

func ctxFor(typ ebpf.ProgramType) *ctxDesc {
	switch typ {
	case ebpf.XDP:
		return &ctxDesc{name: "xdp_md", packet: true, fields: []ctxField{
			{off: 0, size: 4, kind: ptrPacket, name: "data"},
			{off: 4, size: 4, kind: ptrPacketEnd, name: "data_end"},
			u32(12, "ingress_ifindex", false), u32(16, "rx_queue_index", false), u32(20, "egress_ifindex", false),
		}, notYet: map[int]string{8: "xdp_md.data_meta"}}
	case ebpf.SocketFilter:
		return &ctxDesc{name: "__sk_buff", fields: skbFields(false)}
	case ebpf.SchedCLS, ebpf.SchedACT:
		return &ctxDesc{name: "__sk_buff", packet: true, fields: skbFields(true), notYet: map[int]string{140: "__sk_buff.data_meta"}}
	case ebpf.Kprobe:
		// struct pt_regs is 168 bytes on x86-64; smaller than on the other
		// architectures, so this bound is safe everywhere.
		return &ctxDesc{name: "pt_regs", raw: true, rawMax: 168, rawSizes: []int{8}}
	case ebpf.TracePoint:
		return &ctxDesc{name: "tracepoint context", raw: true, rawMax: 2048, rawSizes: []int{1, 2, 4, 8}}
	}
	return nil
}

func isTracing(typ ebpf.ProgramType) bool {
	return typ == ebpf.Kprobe || typ == ebpf.TracePoint
}
