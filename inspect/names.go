package inspect

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// progTypeNames are the kernel's bpf_prog_type names without their
// BPF_PROG_TYPE_ prefix, in lower case, as bpftool prints them.
var progTypeNames = [...]string{
	"unspec", "socket_filter", "kprobe", "sched_cls", "sched_act", "tracepoint", "xdp",
	"perf_event", "cgroup_skb", "cgroup_sock", "lwt_in", "lwt_out", "lwt_xmit", "sock_ops",
	"sk_skb", "cgroup_device", "sk_msg", "raw_tracepoint", "cgroup_sock_addr",
	"lwt_seg6local", "lirc_mode2", "sk_reuseport", "flow_dissector", "cgroup_sysctl",
	"raw_tracepoint_writable", "cgroup_sockopt", "tracing", "struct_ops", "ext", "lsm",
	"sk_lookup", "syscall", "netfilter",
}

// ProgramTypeName is a program type as bpftool spells it ("sched_cls").
func ProgramTypeName(t ebpf.ProgramType) string {
	if int(t) < len(progTypeNames) {
		return progTypeNames[t]
	}
	return fmt.Sprintf("type %d", uint32(t))
}

// linkTypeNames are the kernel's bpf_link_type names, as bpftool prints
// them.
var linkTypeNames = [...]string{
	"unspec", "raw_tracepoint", "tracing", "cgroup", "iter", "netns", "xdp", "perf_event",
	"kprobe_multi", "struct_ops", "netfilter", "tcx", "uprobe_multi", "netkit", "sockmap",
}

// LinkTypeName is a link type as bpftool spells it ("perf_event").
func LinkTypeName(t link.Type) string {
	if int(t) < len(linkTypeNames) {
		return linkTypeNames[t]
	}
	return fmt.Sprintf("type %d", uint32(t))
}

// AttachTypeName is an attach type as bpftool spells it
// ("cgroup_inet_ingress", "tcx_egress"): the kernel's enum name without
// BPF_, in lower case.
func AttachTypeName(t ebpf.AttachType) string {
	// cilium/ebpf keeps the kernel's names on an internal type; a link
	// info struct carries one.
	var probe link.TCXInfo
	setUint32(&probe.AttachType, uint32(t))
	s := probe.AttachType.String()
	if n, ok := strings.CutPrefix(s, "BPF_"); ok {
		return strings.ToLower(n)
	}
	return fmt.Sprintf("attach type %d", uint32(t))
}

func setUint32[T ~uint32](p *T, v uint32) { *p = T(v) }

// attachTypeOf converts the attach type a link info carries.
func attachTypeOf[T ~uint32](t T) ebpf.AttachType { return ebpf.AttachType(t) }
