package inspect

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/wagglebpf/waggle/internal/kerneltest"
)

func findNet(list []NetAttachment, ifname, kind, hook string, prog uint32) *NetAttachment {
	for i := range list {
		a := &list[i]
		if a.Interface == ifname && a.Kind == kind && a.Hook == hook && a.ProgID == prog {
			return a
		}
	}
	return nil
}

// In a network namespace of its own: XDP through a link on lo and through
// netlink (ip link) on a veth, tcx through a link, a tc cls_bpf filter
// (tc filter), and a flow dissector link on the namespace.
func TestNetAttachments(t *testing.T) {
	kerneltest.Require(t)
	needCommand(t, "ip")
	needCommand(t, "tc")
	xdpLink := loadProg(t, "wgl_xdp_link", ebpf.XDP, ebpf.AttachNone, 2)
	xdpNL := loadProg(t, "wgl_xdp_nl", ebpf.XDP, ebpf.AttachNone, 2)
	tcx := loadProg(t, "wgl_tcx", ebpf.SchedCLS, ebpf.AttachNone, 0)
	cls := loadProg(t, "wgl_cls", ebpf.SchedCLS, ebpf.AttachNone, 0)
	dissector := loadProg(t, "wgl_flow", ebpf.FlowDissector, ebpf.AttachNone, 0)

	// tc and ip take programs by pin.
	dir := filepath.Join(BPFFSPath, fmt.Sprintf("waggle-inspect-net-%d", os.Getpid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for name, p := range map[string]*ebpf.Program{"cls": cls, "xdp": xdpNL} {
		if err := p.Pin(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}

	inNetns(t, func() {
		lo, err := net.InterfaceByName("lo")
		if err != nil {
			t.Error(err)
			return
		}
		xl, err := link.AttachXDP(link.XDPOptions{Program: xdpLink, Interface: lo.Index, Flags: link.XDPGenericMode})
		if err != nil {
			t.Errorf("attach XDP: %v", err)
			return
		}
		defer xl.Close()
		tl, err := link.AttachTCX(link.TCXOptions{Program: tcx, Interface: lo.Index, Attach: ebpf.AttachTCXEgress})
		if err != nil {
			t.Errorf("attach tcx: %v", err)
			return
		}
		defer tl.Close()
		ns, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			t.Error(err)
			return
		}
		defer ns.Close()
		fl, err := link.AttachNetNs(int(ns.Fd()), dissector)
		if err != nil {
			t.Errorf("attach the flow dissector: %v", err)
			return
		}
		defer fl.Close()
		// The namespace goes when the thread does, but the kernel tears it
		// down in the background; removing what holds programs now keeps
		// the leak check exact.
		defer exec.Command("ip", "link", "del", "wgl0").Run()
		defer exec.Command("tc", "qdisc", "del", "dev", "lo", "clsact").Run()
		if !run(t, "ip", "link", "add", "wgl0", "type", "veth", "peer", "name", "wgl1") ||
			!run(t, "ip", "link", "set", "dev", "wgl0", "xdpgeneric", "pinned", filepath.Join(dir, "xdp")) ||
			!run(t, "tc", "qdisc", "add", "dev", "lo", "clsact") ||
			!run(t, "tc", "filter", "add", "dev", "lo", "ingress", "pref", "7", "handle", "3", "bpf", "direct-action", "object-pinned", filepath.Join(dir, "cls")) {
			return
		}
		xlID, tlID, flID := linkID(t, xl), linkID(t, tl), linkID(t, fl)

		list, err := NetAttachments()
		if err != nil {
			t.Error(err)
			return
		}
		show := func() string {
			var b strings.Builder
			for _, a := range list {
				fmt.Fprintf(&b, "%+v\n", a)
			}
			return b.String()
		}
		if a := findNet(list, "lo", "xdp", "generic", progID(t, xdpLink)); a == nil || a.LinkID != xlID || a.Ifindex != lo.Index || a.ProgName != "wgl_xdp_link" {
			t.Errorf("XDP link %d on lo not listed:\n%s", xlID, show())
		}
		if a := findNet(list, "wgl0", "xdp", "generic", progID(t, xdpNL)); a == nil || a.LinkID != 0 {
			t.Errorf("netlink XDP on wgl0 not listed:\n%s", show())
		}
		if a := findNet(list, "lo", "tcx", "egress", progID(t, tcx)); a == nil || a.LinkID != tlID {
			t.Errorf("tcx link %d not listed:\n%s", tlID, show())
		}
		if a := findNet(list, "lo", "tc", "ingress", progID(t, cls)); a == nil || !strings.HasPrefix(a.Detail, "pref 7 handle 0x3") || !strings.HasSuffix(a.Detail, "direct-action") {
			t.Errorf("tc filter not listed:\n%s", show())
		}
		if a := findNet(list, "", "netns", "flow_dissector", progID(t, dissector)); a == nil || a.LinkID != flID || !strings.HasPrefix(a.Detail, "net:[") {
			t.Errorf("flow dissector link %d not listed:\n%s", flID, show())
		}

		// The programs' own listing has the attach points without links too.
		progs, err := Programs(ProgSelector{})
		if err != nil {
			t.Error(err)
			return
		}
		if p := progByID(progs, progID(t, xdpNL)); p == nil || findAttach(p.Attach, "xdp", "wgl0") == nil {
			t.Errorf("netlink XDP program's attach points: %+v", p)
		}
		if p := progByID(progs, progID(t, cls)); p == nil || findAttach(p.Attach, "tc", "lo") == nil {
			t.Errorf("tc program's attach points: %+v", p)
		}
		if p := progByID(progs, progID(t, xdpLink)); p == nil || len(p.Attach) != 1 || p.Attach[0].String() != fmt.Sprintf("xdp lo (link %d)", xlID) {
			t.Errorf("XDP link program's attach points: %+v", p)
		}

		// Detaching the XDP link takes the program off lo.
		if err := DetachLink(xlID); err != nil {
			t.Error(err)
			return
		}
		list, err = NetAttachments()
		if err != nil {
			t.Error(err)
			return
		}
		if a := findNet(list, "lo", "xdp", "generic", progID(t, xdpLink)); a != nil {
			t.Errorf("XDP still on lo after its link was detached:\n%s", show())
		}
		if a := findNet(list, "wgl0", "xdp", "generic", progID(t, xdpNL)); a == nil {
			t.Errorf("detaching lo's XDP link took wgl0's program too:\n%s", show())
		}
	})
}

func TestParseNetlink(t *testing.T) {
	// An RTM_NEWLINK payload: ifinfomsg for ifindex 3, IFLA_IFNAME "eth0",
	// IFLA_XDP { ATTACHED=2 (generic), PROG_ID=42 }.
	msg := []byte{0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		9, 0, iflaIfname, 0, 'e', 't', 'h', '0', 0, 0, 0, 0,
		20, 0, iflaXDP, 0x80, 5, 0, iflaXDPAttached, 0, 2, 0, 0, 0, 8, 0, iflaXDPProgID, 0, 42, 0, 0, 0}
	ifc, err := parseLinkMessage(msg)
	if err != nil {
		t.Fatal(err)
	}
	if ifc.index != 3 || ifc.name != "eth0" || len(ifc.xdp) != 1 || ifc.xdp[0] != (xdpProg{"generic", 42}) {
		t.Errorf("%+v", ifc)
	}
	if _, err := parseLinkMessage(msg[:20]); err == nil {
		t.Error("a cut attribute is not an error")
	}
	if _, err := parseNetlinkMessages([]byte{200, 0, 0, 0, 0, 0, 0, 0}); err == nil {
		t.Error("a cut message header is not an error")
	}
	// A cls_bpf filter: tcmsg (handle 1, prio 49152), TCA_KIND "bpf",
	// TCA_OPTIONS { TCA_BPF_ID 9, TCA_BPF_FLAGS direct-action }.
	f := []byte{0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0xf2, 0xff, 0xff, 0xff, 0, 0, 0, 0xc0,
		8, 0, tcaKind, 0, 'b', 'p', 'f', 0,
		20, 0, tcaOptions, 0x80, 8, 0, tcaBPFID, 0, 9, 0, 0, 0, 8, 0, tcaBPFFlags, 0, 1, 0, 0, 0}
	tf, ok, err := parseFilterMessage(f)
	if err != nil || !ok || tf.progID != 9 || tf.prio != 0xc000 || tf.handle != 1 || !tf.directAction {
		t.Errorf("filter %+v %v %v", tf, ok, err)
	}
}

// With programs in several modes (XDP_ATTACHED_MULTI) the kernel gives an
// ID per mode.
func TestParseXDPMulti(t *testing.T) {
	got := parseXDP([]nlAttr{
		{typ: iflaXDPAttached, data: []byte{4}},
		{typ: iflaXDPDrvProg, data: []byte{7, 0, 0, 0}},
		{typ: iflaXDPSkbProg, data: []byte{8, 0, 0, 0}},
	})
	if fmt.Sprint(got) != "[{driver 7} {generic 8}]" {
		t.Errorf("%v", got)
	}
}

func FuzzParseNetlink(f *testing.F) {
	f.Add([]byte{16, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{28, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 43, 0x80, 4, 0, 2, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, err := parseNetlinkMessages(b)
		if err != nil {
			return
		}
		for _, m := range msgs {
			parseLinkMessage(m.data)
			parseFilterMessage(m.data)
		}
	})
}
