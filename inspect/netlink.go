package inspect

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// A small rtnetlink client: enough to dump interfaces (for their XDP
// programs) and tc filters (for cls_bpf programs), which cilium/ebpf does
// not read.

type nlMsg struct {
	typ  uint16
	data []byte // after the header
}

type nlAttr struct {
	typ  uint16 // without the nested and byte-order flags
	data []byte
}

const nlaTypeMask = 0x3fff

func nlAlign(n int) int { return (n + 3) &^ 3 }

// parseNetlinkMessages splits a buffer of netlink messages.
func parseNetlinkMessages(b []byte) ([]nlMsg, error) {
	var out []nlMsg
	for len(b) > 0 {
		if len(b) < unix.NLMSG_HDRLEN {
			return nil, fmt.Errorf("netlink: %d bytes left, too few for a message header", len(b))
		}
		n := int(binary.NativeEndian.Uint32(b))
		if n < unix.NLMSG_HDRLEN || n > len(b) {
			return nil, fmt.Errorf("netlink: message length %d does not fit the %d bytes left", n, len(b))
		}
		out = append(out, nlMsg{typ: binary.NativeEndian.Uint16(b[4:]), data: b[unix.NLMSG_HDRLEN:n]})
		b = b[min(nlAlign(n), len(b)):]
	}
	return out, nil
}

// parseAttrs splits a buffer of netlink attributes.
func parseAttrs(b []byte) ([]nlAttr, error) {
	var out []nlAttr
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("netlink: %d bytes left, too few for an attribute header", len(b))
		}
		n := int(binary.NativeEndian.Uint16(b))
		if n < 4 || n > len(b) {
			return nil, fmt.Errorf("netlink: attribute length %d does not fit the %d bytes left", n, len(b))
		}
		out = append(out, nlAttr{typ: binary.NativeEndian.Uint16(b[2:]) & nlaTypeMask, data: b[4:n]})
		b = b[min(nlAlign(n), len(b)):]
	}
	return out, nil
}

func (a nlAttr) u32() (uint32, bool) {
	if len(a.data) < 4 {
		return 0, false
	}
	return binary.NativeEndian.Uint32(a.data), true
}

func (a nlAttr) str() string {
	return unix.ByteSliceToString(a.data)
}

type nlConn struct {
	fd  int
	seq uint32
	buf []byte
}

func dialRoute() (*nlConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open a netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind a netlink socket: %w", err)
	}
	return &nlConn{fd: fd, buf: make([]byte, 64<<10)}, nil
}

func (c *nlConn) Close() error { return unix.Close(c.fd) }

// dump sends a dump request of type typ with body and returns the
// payloads of the replies.
func (c *nlConn) dump(typ uint16, body []byte) ([]nlMsg, error) {
	c.seq++
	req := make([]byte, unix.NLMSG_HDRLEN+len(body))
	binary.NativeEndian.PutUint32(req, uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], typ)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], c.seq)
	copy(req[unix.NLMSG_HDRLEN:], body)
	if err := unix.Sendto(c.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("netlink request: %w", err)
	}
	var out []nlMsg
	for {
		n, _, err := unix.Recvfrom(c.fd, c.buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("netlink reply: %w", err)
		}
		msgs, err := parseNetlinkMessages(c.buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			switch m.typ {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.data) >= 4 {
					if code := int32(binary.NativeEndian.Uint32(m.data)); code != 0 {
						return nil, os.NewSyscallError("netlink", syscall.Errno(-code))
					}
				}
				return out, nil
			default:
				// Copy: the buffer is reused by the next read.
				out = append(out, nlMsg{typ: m.typ, data: append([]byte(nil), m.data...)})
			}
		}
	}
}

// iface is one network interface as RTM_GETLINK describes it.
type iface struct {
	index int
	name  string
	kind  string // IFLA_INFO_KIND: "veth", "netkit", ...
	xdp   []xdpProg
}

type xdpProg struct {
	mode   string // driver, generic, offload
	progID uint32
}

// Interface attributes (linux/if_link.h).
const (
	iflaIfname      = 3
	iflaLinkinfo    = 18
	iflaInfoKind    = 1
	iflaXDP         = 43
	iflaXDPAttached = 2
	iflaXDPProgID   = 4
	iflaXDPDrvProg  = 5
	iflaXDPSkbProg  = 6
	iflaXDPHwProg   = 7
	ifinfomsgLen    = 16
)

var xdpModes = map[uint8]string{1: "driver", 2: "generic", 3: "offload"}

func (c *nlConn) interfaces() ([]iface, error) {
	msgs, err := c.dump(unix.RTM_GETLINK, make([]byte, ifinfomsgLen))
	if err != nil {
		return nil, err
	}
	var out []iface
	for _, m := range msgs {
		if m.typ != unix.RTM_NEWLINK {
			continue
		}
		ifc, err := parseLinkMessage(m.data)
		if err != nil {
			return nil, err
		}
		out = append(out, ifc)
	}
	return out, nil
}

// parseLinkMessage reads an RTM_NEWLINK payload: ifinfomsg and attributes.
func parseLinkMessage(b []byte) (iface, error) {
	if len(b) < ifinfomsgLen {
		return iface{}, fmt.Errorf("netlink: interface message of %d bytes", len(b))
	}
	ifc := iface{index: int(int32(binary.NativeEndian.Uint32(b[4:])))}
	attrs, err := parseAttrs(b[ifinfomsgLen:])
	if err != nil {
		return iface{}, err
	}
	for _, a := range attrs {
		switch a.typ {
		case iflaIfname:
			ifc.name = a.str()
		case iflaLinkinfo:
			if info, err := parseAttrs(a.data); err == nil {
				for _, i := range info {
					if i.typ == iflaInfoKind {
						ifc.kind = i.str()
					}
				}
			}
		case iflaXDP:
			x, err := parseAttrs(a.data)
			if err != nil {
				return iface{}, err
			}
			ifc.xdp = parseXDP(x)
		}
	}
	return ifc, nil
}

func parseXDP(attrs []nlAttr) []xdpProg {
	var attached uint8
	var out []xdpProg
	var single uint32
	for _, a := range attrs {
		switch a.typ {
		case iflaXDPAttached:
			if len(a.data) > 0 {
				attached = a.data[0]
			}
		case iflaXDPProgID:
			single, _ = a.u32()
		case iflaXDPDrvProg, iflaXDPSkbProg, iflaXDPHwProg:
			if id, ok := a.u32(); ok && id != 0 {
				mode := map[uint16]string{iflaXDPDrvProg: "driver", iflaXDPSkbProg: "generic", iflaXDPHwProg: "offload"}[a.typ]
				out = append(out, xdpProg{mode, id})
			}
		}
	}
	// With one program attached the kernel gives its mode and ID; with
	// several (XDP_ATTACHED_MULTI) an ID per mode.
	if mode, ok := xdpModes[attached]; ok && single != 0 {
		return []xdpProg{{mode, single}}
	}
	return out
}

// tc filter dumps (linux/rtnetlink.h, linux/pkt_cls.h).
const (
	tcmsgLen        = 20
	tcaKind         = 1
	tcaOptions      = 2
	tcaBPFName      = 7
	tcaBPFFlags     = 8
	tcaBPFID        = 11
	tcaBPFActDirect = 1
	tcHClsact       = 0xfffffff1
	tcHMinIngress   = 0xfff2
	tcHMinEgress    = 0xfff3
)

// tcFilter is one cls_bpf filter.
type tcFilter struct {
	progID       uint32
	name         string // what the loader called it: "obj.o:[sec]"
	prio         uint16
	handle       uint32
	directAction bool
}

// tcFilters dumps the bpf filters on one clsact (or ingress) hook of an
// interface.
func (c *nlConn) tcFilters(ifindex int, egress bool) ([]tcFilter, error) {
	body := make([]byte, tcmsgLen)
	binary.NativeEndian.PutUint32(body[4:], uint32(ifindex))
	parent := uint32(tcHClsact&0xffff0000 | tcHMinIngress)
	if egress {
		parent = tcHClsact&0xffff0000 | tcHMinEgress
	}
	binary.NativeEndian.PutUint32(body[12:], parent)
	msgs, err := c.dump(unix.RTM_GETTFILTER, body)
	if err != nil {
		return nil, err
	}
	var out []tcFilter
	for _, m := range msgs {
		if m.typ != unix.RTM_NEWTFILTER {
			continue
		}
		f, ok, err := parseFilterMessage(m.data)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, f)
		}
	}
	return out, nil
}

// parseFilterMessage reads an RTM_NEWTFILTER payload; ok is false for
// filters that are not cls_bpf ones with a program.
func parseFilterMessage(b []byte) (f tcFilter, ok bool, err error) {
	if len(b) < tcmsgLen {
		return tcFilter{}, false, fmt.Errorf("netlink: filter message of %d bytes", len(b))
	}
	f.handle = binary.NativeEndian.Uint32(b[8:])
	f.prio = uint16(binary.NativeEndian.Uint32(b[16:]) >> 16)
	attrs, err := parseAttrs(b[tcmsgLen:])
	if err != nil {
		return tcFilter{}, false, err
	}
	var kind string
	var opts []nlAttr
	for _, a := range attrs {
		switch a.typ {
		case tcaKind:
			kind = a.str()
		case tcaOptions:
			if opts, err = parseAttrs(a.data); err != nil {
				return tcFilter{}, false, err
			}
		}
	}
	if kind != "bpf" {
		return tcFilter{}, false, nil
	}
	for _, a := range opts {
		switch a.typ {
		case tcaBPFID:
			f.progID, _ = a.u32()
		case tcaBPFName:
			f.name = a.str()
		case tcaBPFFlags:
			v, _ := a.u32()
			f.directAction = v&tcaBPFActDirect != 0
		}
	}
	return f, f.progID != 0, nil
}
