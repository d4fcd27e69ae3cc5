package vm

import (
	"encoding/binary"
	"fmt"
)

// Program contexts.
//
// A program's r1 is its context: for packet programs a small struct whose
// data and data_end fields hold the addresses of the packet. The kernel's
// xdp_md stores them in 32-bit fields, so the packet must sit at a VM
// address below 4 GiB. Regions added with Env.AddRegion start at
// RegionAddr (4 GiB), but the memory passed to Run starts at MemAddr and
// may be up to MaxMem bytes, all below 4 GiB. So a context is one buffer:
// the context struct at offset 0 (r1 = MemAddr), then headroom, then the
// packet, ending exactly at the end of the buffer so that any access past
// data_end faults. The kernel's verifier would reject a program reading
// the context through a packet pointer; the VM does not stop it, but the
// program can only ever see its own context and packet.

// Context is a program context laid out in one buffer: pass Mem to
// [Program.Run] (or use [Context.Run]); the program sees the context
// struct through r1 and the packet through the struct's data fields.
type Context struct {
	// Mem is the whole buffer: the context struct, headroom, the packet.
	Mem []byte
	// pkt and end are the packet's offsets in Mem; 0, 0 when there is no
	// packet (a raw context).
	pkt, end int
	// skb is set for __sk_buff contexts, whose helpers read the packet.
	skb bool
}

// Packet returns the packet as the program left it (writes by the program
// are visible); it aliases Mem.
func (c *Context) Packet() []byte { return c.Mem[c.pkt:c.end:c.end] }

// Run runs p over the context: r1 is the context's address. For __sk_buff
// contexts, LD_ABS and LD_IND read the packet, as in the kernel.
func (c *Context) Run(p *Program, opts RunOptions) (uint64, error) {
	if c.skb && opts.Packet == nil {
		opts.Packet = c.Packet()
	}
	return p.Run(c.Mem, opts)
}

// Helpers returns the helpers that belong to this kind of context, by
// kernel id, to be merged into RunOptions.Helpers: for __sk_buff contexts,
// bpf_skb_load_bytes (26).
func (c *Context) Helpers() map[int32]HelperFunc {
	if !c.skb {
		return map[int32]HelperFunc{}
	}
	return map[int32]HelperFunc{
		HelperSkbLoadBytes: func(env *Env, a [5]uint64) (uint64, error) {
			// bpf_skb_load_bytes(skb, offset, to, len): copy or zero-fill
			// to and return -EFAULT, as skb_header_pointer fails.
			n := uint64(uint32(a[3]))
			if n == 0 {
				return negErrno(errnoEINVAL), nil // ARG_CONST_SIZE: the verifier rejects 0
			}
			to, err := env.Bytes(a[2], n, true)
			if err != nil {
				return 0, err
			}
			pkt := c.Packet()
			off := uint64(uint32(a[1]))
			if off > 1<<31-1 || off > uint64(len(pkt)) || uint64(len(pkt))-off < n {
				clear(to)
				return negErrno(errnoEFAULT), nil
			}
			copy(to, pkt[off:])
			return 0, nil
		},
	}
}

// RawContext is a context that is just bytes, for program types whose
// context is a buffer (and for tests): r1 points at b, r2 is its length.
func RawContext(b []byte) *Context { return &Context{Mem: b} }

// Sizes of the kernel's context structs and the room before the packet.
const (
	// XDPMDSize is sizeof(struct xdp_md).
	XDPMDSize = 24
	// SkBuffSize is sizeof(struct __sk_buff) in Linux 6.x.
	SkBuffSize = 192
	// XDPHeadroom is XDP_PACKET_HEADROOM, the room the kernel leaves before
	// an XDP packet so that programs can push headers.
	XDPHeadroom = 256
	// ctxArea is where headroom starts: past the largest context struct,
	// rounded so that the packet keeps the alignment of the headroom.
	ctxArea = 256
)

// Offsets of struct xdp_md's fields (include/uapi/linux/bpf.h).
const (
	XDPMDData           = 0
	XDPMDDataEnd        = 4
	XDPMDDataMeta       = 8
	XDPMDIngressIfindex = 12
	XDPMDRxQueueIndex   = 16
	XDPMDEgressIfindex  = 20
)

// XDPMD describes an XDP program's input: the packet and the fields of
// struct xdp_md that are not pointers.
type XDPMD struct {
	Packet         []byte // copied into the context
	IngressIfindex uint32
	RxQueueIndex   uint32
	EgressIfindex  uint32 // set only in devmap programs; 0 otherwise
	// Headroom is the number of bytes before the packet; 0 means
	// XDPHeadroom, as the kernel's drivers give.
	Headroom int
}

// layout builds the buffer: ctxArea bytes of context, headroom, packet.
func layout(pkt []byte, headroom int) (*Context, error) {
	if headroom < 0 {
		return nil, fmt.Errorf("vm: negative headroom %d", headroom)
	}
	total := uint64(ctxArea) + uint64(headroom) + uint64(len(pkt))
	if total > MaxMem {
		return nil, fmt.Errorf("vm: packet of %d bytes does not fit the VM's memory", len(pkt))
	}
	mem := make([]byte, total)
	start := ctxArea + headroom
	copy(mem[start:], pkt)
	return &Context{Mem: mem, pkt: start, end: len(mem)}, nil
}

// addr32 is the VM address of offset off in Mem, which layout keeps below
// 4 GiB so that it fits the contexts' 32-bit pointer fields.
func addr32(off int) uint32 { return uint32(MemAddr + off) }

// NewXDPContext lays out struct xdp_md over a copy of x.Packet. data_meta
// equals data: there is no metadata until a program adds some.
func NewXDPContext(x XDPMD) (*Context, error) {
	h := x.Headroom
	if h == 0 {
		h = XDPHeadroom
	}
	c, err := layout(x.Packet, h)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	m := c.Mem
	le.PutUint32(m[XDPMDData:], addr32(c.pkt))
	le.PutUint32(m[XDPMDDataEnd:], addr32(c.end))
	le.PutUint32(m[XDPMDDataMeta:], addr32(c.pkt))
	le.PutUint32(m[XDPMDIngressIfindex:], x.IngressIfindex)
	le.PutUint32(m[XDPMDRxQueueIndex:], x.RxQueueIndex)
	le.PutUint32(m[XDPMDEgressIfindex:], x.EgressIfindex)
	return c, nil
}

// Offsets of struct __sk_buff's fields (include/uapi/linux/bpf.h).
const (
	SkBuffLen            = 0
	SkBuffPktType        = 4
	SkBuffMark           = 8
	SkBuffQueueMapping   = 12
	SkBuffProtocol       = 16
	SkBuffVlanPresent    = 20
	SkBuffVlanTCI        = 24
	SkBuffVlanProto      = 28
	SkBuffPriority       = 32
	SkBuffIngressIfindex = 36
	SkBuffIfindex        = 40
	SkBuffTCIndex        = 44
	SkBuffCB             = 48 // __u32 cb[5]
	SkBuffHash           = 68
	SkBuffTCClassid      = 72
	SkBuffData           = 76
	SkBuffDataEnd        = 80
	SkBuffNapiID         = 84
	SkBuffFamily         = 88
	SkBuffRemoteIP4      = 92
	SkBuffLocalIP4       = 96
	SkBuffRemoteIP6      = 100
	SkBuffLocalIP6       = 116
	SkBuffRemotePort     = 132
	SkBuffLocalPort      = 136
	SkBuffDataMeta       = 140
	SkBuffFlowKeys       = 144
	SkBuffTstamp         = 152
	SkBuffWireLen        = 160
	SkBuffGSOSegs        = 164
	SkBuffSk             = 168
	SkBuffGSOSize        = 176
	SkBuffTstampType     = 180
	SkBuffHwtstamp       = 184
)

// SkBuff describes a socket filter's or tc program's input: the packet
// (from the MAC header, as tc and packet sockets see it) and the fields of
// struct __sk_buff that a user-space run can meaningfully set. Len and
// wire_len are the packet's length.
type SkBuff struct {
	Packet    []byte // copied into the context
	PktType   uint32 // PACKET_HOST (0), PACKET_BROADCAST (1), ...
	Mark      uint32
	Queue     uint32 // queue_mapping
	Protocol  uint16 // EtherType in host order (0x0800); the program sees it big-endian, as skb->protocol is
	VlanTCI   uint16 // with VlanProto: vlan_present is set when VlanProto != 0
	VlanProto uint16 // host order, like Protocol
	Priority  uint32
	// IngressIfindex and Ifindex are the receiving and current device.
	IngressIfindex uint32
	Ifindex        uint32
	TCIndex        uint32
	CB             [5]uint32
	Hash           uint32
	TCClassid      uint32
	NapiID         uint32
	Tstamp         uint64
	GSOSegs        uint32
	GSOSize        uint32
}

// NewSkBuffContext lays out struct __sk_buff over a copy of s.Packet, for
// socket filters and tc programs. data and data_end point at the packet
// (the kernel lets tc programs read them; socket filters may not, and use
// LD_ABS or bpf_skb_load_bytes, see [Context.Helpers]). [Context.Run]
// points LD_ABS and LD_IND at the packet.
func NewSkBuffContext(s SkBuff) (*Context, error) {
	c, err := layout(s.Packet, 0)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	m := c.Mem
	n := uint32(len(s.Packet))
	le.PutUint32(m[SkBuffLen:], n)
	le.PutUint32(m[SkBuffPktType:], s.PktType)
	le.PutUint32(m[SkBuffMark:], s.Mark)
	le.PutUint32(m[SkBuffQueueMapping:], s.Queue)
	// __be16 fields loaded into a register: their bytes in network order.
	binary.BigEndian.PutUint16(m[SkBuffProtocol:], s.Protocol)
	if s.VlanProto != 0 {
		le.PutUint32(m[SkBuffVlanPresent:], 1)
	}
	le.PutUint32(m[SkBuffVlanTCI:], uint32(s.VlanTCI))
	binary.BigEndian.PutUint16(m[SkBuffVlanProto:], s.VlanProto)
	le.PutUint32(m[SkBuffPriority:], s.Priority)
	le.PutUint32(m[SkBuffIngressIfindex:], s.IngressIfindex)
	le.PutUint32(m[SkBuffIfindex:], s.Ifindex)
	le.PutUint32(m[SkBuffTCIndex:], s.TCIndex)
	for i, v := range s.CB {
		le.PutUint32(m[SkBuffCB+4*i:], v)
	}
	le.PutUint32(m[SkBuffHash:], s.Hash)
	le.PutUint32(m[SkBuffTCClassid:], s.TCClassid)
	le.PutUint32(m[SkBuffData:], addr32(c.pkt))
	le.PutUint32(m[SkBuffDataEnd:], addr32(c.end))
	le.PutUint32(m[SkBuffNapiID:], s.NapiID)
	le.PutUint32(m[SkBuffDataMeta:], addr32(c.pkt))
	le.PutUint64(m[SkBuffTstamp:], s.Tstamp)
	le.PutUint32(m[SkBuffWireLen:], n)
	le.PutUint32(m[SkBuffGSOSegs:], s.GSOSegs)
	le.PutUint32(m[SkBuffGSOSize:], s.GSOSize)
	c.skb = true
	return c, nil
}

// XDPAction is an XDP program's verdict (enum xdp_action).
type XDPAction uint32

// The XDP verdicts.
const (
	XDPAborted  XDPAction = 0
	XDPDrop     XDPAction = 1
	XDPPass     XDPAction = 2
	XDPTx       XDPAction = 3
	XDPRedirect XDPAction = 4
)

// XDPVerdict decodes r0 of an XDP program. The kernel uses its low 32 bits;
// a value beyond XDPRedirect is not an action, and the kernel warns and
// treats it as XDPAborted (see [XDPAction.Valid]).
func XDPVerdict(r0 uint64) XDPAction { return XDPAction(uint32(r0)) }

// Valid reports whether a is one of the kernel's actions.
func (a XDPAction) Valid() bool { return a <= XDPRedirect }

// Effective is the action the kernel takes: a itself, or XDPAborted for
// an invalid action.
func (a XDPAction) Effective() XDPAction {
	if !a.Valid() {
		return XDPAborted
	}
	return a
}

func (a XDPAction) String() string {
	switch a {
	case XDPAborted:
		return "XDP_ABORTED"
	case XDPDrop:
		return "XDP_DROP"
	case XDPPass:
		return "XDP_PASS"
	case XDPTx:
		return "XDP_TX"
	case XDPRedirect:
		return "XDP_REDIRECT"
	}
	return fmt.Sprintf("XDP_UNKNOWN(%d)", uint32(a))
}

// TC verdicts (TC_ACT_* in include/uapi/linux/pkt_cls.h), as a tc
// program's r0 (a signed 32-bit value).
const (
	TCActUnspec     = -1
	TCActOK         = 0
	TCActReclassify = 1
	TCActShot       = 2
	TCActPipe       = 3
	TCActStolen     = 4
	TCActQueued     = 5
	TCActRepeat     = 6
	TCActRedirect   = 7
)

// SocketFilterVerdict decodes r0 of a socket filter over a packet of
// pktLen bytes: how many bytes the socket keeps, 0 meaning the packet is
// dropped. The kernel takes r0 as u32 and never grows the packet.
func SocketFilterVerdict(r0 uint64, pktLen int) int {
	return int(min(uint64(uint32(r0)), uint64(pktLen)))
}
