package inspect

import (
	"fmt"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// NetAttachment is a program on a network hook of this network namespace:
// XDP, tcx, tc (cls_bpf), netkit on interfaces, and the namespace's
// flow dissector, sk_lookup and netfilter links.
type NetAttachment struct {
	// Interface and Ifindex are empty for namespace-wide hooks.
	Interface string `json:"interface,omitempty"`
	Ifindex   int    `json:"ifindex,omitempty"`
	// Kind is xdp, tcx, tc, netkit, netns or netfilter.
	Kind string `json:"kind"`
	// Hook is where on the kind: the XDP mode (driver, generic,
	// offload), ingress or egress for tcx and tc, primary or peer for
	// netkit, the attach type for netns links, family and hook for
	// netfilter.
	Hook     string `json:"hook"`
	ProgID   uint32 `json:"prog_id"`
	ProgName string `json:"prog_name,omitempty"`
	LinkID   uint32 `json:"link_id,omitempty"`
	// Detail is the rest: a tc filter's priority, handle, name and
	// direct-action flag; a netfilter priority.
	Detail string `json:"detail,omitempty"`
}

func (na NetAttachment) attachPoint() AttachPoint {
	a := AttachPoint{Kind: na.Kind, Target: na.Interface, Detail: strings.TrimSpace(na.Hook + " " + na.Detail)}
	if na.LinkID != 0 {
		a.LinkIDs = []uint32{na.LinkID}
	}
	return a
}

// NetAttachments lists the programs on the network hooks of this network
// namespace, by interface.
func NetAttachments() ([]NetAttachment, error) {
	if err := canInspect("listing network programs"); err != nil {
		return nil, err
	}
	infos, err := allLinkInfos()
	if err != nil {
		infos = nil // XDP and tc programs attached without links are still listed
	}
	out, err := netAttachments(infos)
	if err != nil {
		return nil, err
	}
	var r resolver
	for _, info := range infos {
		switch info.Type {
		case link.NetNsType, link.NetfilterType:
			a := r.linkAttachPoint(info)
			na := NetAttachment{Kind: a.Kind, Hook: a.AttachType, ProgID: uint32(info.Program), LinkID: uint32(info.ID), Detail: a.Detail}
			if info.Type == link.NetNsType {
				na.Detail = a.Target
			} else {
				na.Hook = a.Target
			}
			out = append(out, na)
		}
	}
	names := progNames{}
	for i := range out {
		out[i].ProgName = names.name(out[i].ProgID)
	}
	return out, nil
}

// netAttachments reads the interfaces' hooks. infos are the system's
// links, to tell which XDP programs are held by one.
func netAttachments(infos []*link.Info) ([]NetAttachment, error) {
	c, err := dialRoute()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ifaces, err := c.interfaces()
	if err != nil {
		return nil, errPermission("listing network interfaces", err)
	}
	sort.Slice(ifaces, func(i, j int) bool { return ifaces[i].index < ifaces[j].index })
	xdpLinks := map[[2]uint32]uint32{} // ifindex, prog -> link
	for _, info := range infos {
		if x := info.XDP(); info.Type == link.XDPType && x != nil {
			xdpLinks[[2]uint32{x.Ifindex, uint32(info.Program)}] = uint32(info.ID)
		}
	}
	var out []NetAttachment
	for _, ifc := range ifaces {
		for _, x := range ifc.xdp {
			out = append(out, NetAttachment{
				Interface: ifc.name, Ifindex: ifc.index, Kind: "xdp", Hook: x.mode, ProgID: x.progID,
				LinkID: xdpLinks[[2]uint32{uint32(ifc.index), x.progID}],
			})
		}
		for _, dir := range []struct {
			name string
			at   ebpf.AttachType
		}{{"ingress", ebpf.AttachTCXIngress}, {"egress", ebpf.AttachTCXEgress}} {
			res, err := progQuery(ifc.index, uint32(dir.at), 0)
			if err != nil {
				continue // kernels before 6.6 have no tcx
			}
			for _, q := range res.progs {
				out = append(out, NetAttachment{Interface: ifc.name, Ifindex: ifc.index, Kind: "tcx", Hook: dir.name, ProgID: q.progID, LinkID: q.linkID})
			}
		}
		for _, egress := range []bool{false, true} {
			filters, err := c.tcFilters(ifc.index, egress)
			if err != nil {
				continue // no clsact or ingress qdisc
			}
			hook := "ingress"
			if egress {
				hook = "egress"
			}
			for _, f := range filters {
				d := fmt.Sprintf("pref %d handle %#x", f.prio, f.handle)
				if f.name != "" {
					d += " " + f.name
				}
				if f.directAction {
					d += " direct-action"
				}
				out = append(out, NetAttachment{Interface: ifc.name, Ifindex: ifc.index, Kind: "tc", Hook: hook, ProgID: f.progID, Detail: d})
			}
		}
		if ifc.kind == "netkit" {
			for _, dir := range []struct {
				name string
				at   ebpf.AttachType
			}{{"primary", ebpf.AttachNetkitPrimary}, {"peer", ebpf.AttachNetkitPeer}} {
				res, err := progQuery(ifc.index, uint32(dir.at), 0)
				if err != nil {
					continue
				}
				for _, q := range res.progs {
					out = append(out, NetAttachment{Interface: ifc.name, Ifindex: ifc.index, Kind: "netkit", Hook: dir.name, ProgID: q.progID, LinkID: q.linkID})
				}
			}
		}
	}
	return out, nil
}
