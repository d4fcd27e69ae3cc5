package vm_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/wagglebpf/waggle/internal/kerneltest"
	"github.com/wagglebpf/waggle/vm"
)

// TestContextOffsetsMatchKernelBTF checks the context layouts against the
// running kernel's own description of its structs.
func TestContextOffsetsMatchKernelBTF(t *testing.T) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		kerneltest.Skip(t, "no kernel BTF: "+err.Error())
	}
	for _, tc := range []struct {
		name    string
		size    int
		members map[string]int
	}{
		{"xdp_md", vm.XDPMDSize, map[string]int{
			"data": vm.XDPMDData, "data_end": vm.XDPMDDataEnd, "data_meta": vm.XDPMDDataMeta,
			"ingress_ifindex": vm.XDPMDIngressIfindex, "rx_queue_index": vm.XDPMDRxQueueIndex,
			"egress_ifindex": vm.XDPMDEgressIfindex,
		}},
		{"__sk_buff", vm.SkBuffSize, map[string]int{
			"len": vm.SkBuffLen, "pkt_type": vm.SkBuffPktType, "mark": vm.SkBuffMark,
			"queue_mapping": vm.SkBuffQueueMapping, "protocol": vm.SkBuffProtocol,
			"vlan_present": vm.SkBuffVlanPresent, "vlan_tci": vm.SkBuffVlanTCI,
			"vlan_proto": vm.SkBuffVlanProto, "priority": vm.SkBuffPriority,
			"ingress_ifindex": vm.SkBuffIngressIfindex, "ifindex": vm.SkBuffIfindex,
			"tc_index": vm.SkBuffTCIndex, "cb": vm.SkBuffCB, "hash": vm.SkBuffHash,
			"tc_classid": vm.SkBuffTCClassid, "data": vm.SkBuffData, "data_end": vm.SkBuffDataEnd,
			"napi_id": vm.SkBuffNapiID, "family": vm.SkBuffFamily, "remote_ip4": vm.SkBuffRemoteIP4,
			"local_ip4": vm.SkBuffLocalIP4, "remote_ip6": vm.SkBuffRemoteIP6,
			"local_ip6": vm.SkBuffLocalIP6, "remote_port": vm.SkBuffRemotePort,
			"local_port": vm.SkBuffLocalPort, "data_meta": vm.SkBuffDataMeta,
			"tstamp": vm.SkBuffTstamp, "wire_len": vm.SkBuffWireLen, "gso_segs": vm.SkBuffGSOSegs,
			"gso_size": vm.SkBuffGSOSize, "tstamp_type": vm.SkBuffTstampType,
			"hwtstamp": vm.SkBuffHwtstamp,
			// flow_keys and sk are in anonymous unions in the kernel's BTF.
		}},
	} {
		var st *btf.Struct
		if err := spec.TypeByName(tc.name, &st); err != nil {
			t.Errorf("struct %s: %v", tc.name, err)
			continue
		}
		if int(st.Size) != tc.size {
			t.Errorf("sizeof(struct %s) = %d in the kernel, %d here", tc.name, st.Size, tc.size)
		}
		seen := map[string]bool{}
		var walk func(members []btf.Member, base btf.Bits)
		walk = func(members []btf.Member, base btf.Bits) {
			for _, m := range members {
				off := int((base + m.Offset).Bytes())
				if m.Name == "" {
					switch u := m.Type.(type) {
					case *btf.Union:
						walk(u.Members, base+m.Offset)
					case *btf.Struct:
						walk(u.Members, base+m.Offset)
					}
					continue
				}
				want, ok := tc.members[m.Name]
				if !ok {
					continue
				}
				seen[m.Name] = true
				if off != want {
					t.Errorf("%s.%s is at %d in the kernel, %d here", tc.name, m.Name, off, want)
				}
			}
		}
		walk(st.Members, 0)
		for name := range tc.members {
			if !seen[name] {
				t.Errorf("%s.%s is not in the kernel's BTF", tc.name, name)
			}
		}
	}
}

// etherTypeProg is an XDP program that parses the Ethernet header the
// way a verified program must: load data and data_end from xdp_md,
// check that 14 bytes fit, then read the EtherType. IPv4 passes,
// everything else, and a runt frame, is dropped.
var etherTypeProg = asm.Instructions{
	asm.LoadMem(asm.R2, asm.R1, vm.XDPMDData, asm.Word),
	asm.LoadMem(asm.R3, asm.R1, vm.XDPMDDataEnd, asm.Word),
	asm.Mov.Reg(asm.R4, asm.R2),
	asm.Add.Imm(asm.R4, 14),
	asm.JGT.Reg(asm.R4, asm.R3, "drop"),
	asm.LoadMem(asm.R0, asm.R2, 12, asm.Half),
	// A little-endian load of the big-endian 0x0800.
	asm.JEq.Imm(asm.R0, 0x0008, "pass"),
	asm.Mov.Imm(asm.R0, int32(vm.XDPDrop)).WithSymbol("drop"),
	asm.Return(),
	asm.Mov.Imm(asm.R0, int32(vm.XDPPass)).WithSymbol("pass"),
	asm.Return(),
}

func ethFrame(etherType uint16, payload int) []byte {
	f := make([]byte, 14+payload)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(f[12:], etherType)
	return f
}

func TestXDPContextParsesEtherType(t *testing.T) {
	p, err := vm.LoadInstructions(etherTypeProg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		pkt  []byte
		want vm.XDPAction
	}{
		{"ipv4", ethFrame(0x0800, 20), vm.XDPPass},
		{"ipv4 header only", ethFrame(0x0800, 0), vm.XDPPass},
		{"ipv6", ethFrame(0x86dd, 40), vm.XDPDrop},
		{"arp", ethFrame(0x0806, 28), vm.XDPDrop},
		{"runt", ethFrame(0x0800, 0)[:13], vm.XDPDrop},
		{"empty", nil, vm.XDPDrop},
	} {
		for _, headroom := range []int{0, 1, 7} {
			ctx, err := vm.NewXDPContext(vm.XDPMD{Packet: tc.pkt, Headroom: headroom})
			if err != nil {
				t.Fatal(err)
			}
			r0, err := ctx.Run(p, vm.RunOptions{})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if got := vm.XDPVerdict(r0); got != tc.want {
				t.Errorf("%s (headroom %d): %v, want %v", tc.name, headroom, got, tc.want)
			}
		}
	}
}

func TestXDPContextFields(t *testing.T) {
	pkt := ethFrame(0x0800, 6)
	ctx, err := vm.NewXDPContext(vm.XDPMD{Packet: pkt, IngressIfindex: 7, RxQueueIndex: 3, EgressIfindex: 9})
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	data, end, meta := le.Uint32(ctx.Mem[vm.XDPMDData:]), le.Uint32(ctx.Mem[vm.XDPMDDataEnd:]), le.Uint32(ctx.Mem[vm.XDPMDDataMeta:])
	if end-data != uint32(len(pkt)) || meta != data || uint64(end) != vm.MemAddr+uint64(len(ctx.Mem)) {
		t.Errorf("data %#x data_end %#x data_meta %#x for a %d-byte packet in %d bytes", data, end, meta, len(pkt), len(ctx.Mem))
	}
	if uint64(data)-vm.MemAddr < vm.XDPMDSize+vm.XDPHeadroom {
		t.Errorf("default headroom: data at offset %d", uint64(data)-vm.MemAddr)
	}
	// A program reading the scalar fields, and writing the packet.
	p, err := vm.LoadInstructions(asm.Instructions{
		asm.LoadMem(asm.R0, asm.R1, vm.XDPMDIngressIfindex, asm.Word),
		asm.LoadMem(asm.R3, asm.R1, vm.XDPMDRxQueueIndex, asm.Word),
		asm.LSh.Imm(asm.R3, 8),
		asm.Or.Reg(asm.R0, asm.R3),
		asm.LoadMem(asm.R3, asm.R1, vm.XDPMDEgressIfindex, asm.Word),
		asm.LSh.Imm(asm.R3, 16),
		asm.Or.Reg(asm.R0, asm.R3),
		asm.LoadMem(asm.R2, asm.R1, vm.XDPMDData, asm.Word),
		asm.StoreImm(asm.R2, 0, 0x42, asm.Byte),
		asm.Return(),
	})
	if err != nil {
		t.Fatal(err)
	}
	r0, err := ctx.Run(p, vm.RunOptions{})
	if err != nil || r0 != 9<<16|3<<8|7 {
		t.Errorf("fields: r0 %#x, %v", r0, err)
	}
	if got := ctx.Packet(); got[0] != 0x42 || !bytes.Equal(got[1:], pkt[1:]) || pkt[0] != 0xff {
		t.Errorf("the program's write is not in Packet() only: % x", got)
	}

	// Reading one byte past data_end faults: the packet ends the region.
	p, err = vm.LoadInstructions(asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, vm.XDPMDDataEnd, asm.Word),
		asm.LoadMem(asm.R0, asm.R2, 0, asm.Byte),
		asm.Return(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ctx.Run(p, vm.RunOptions{}); !errors.Is(err, vm.ErrOutOfBounds) {
		t.Errorf("read at data_end: %v, want ErrOutOfBounds", err)
	}
	if _, err := vm.NewXDPContext(vm.XDPMD{Headroom: -1}); err == nil {
		t.Error("negative headroom accepted")
	}
}

func TestSkBuffContext(t *testing.T) {
	pkt := ethFrame(0x86dd, 40)
	ctx, err := vm.NewSkBuffContext(vm.SkBuff{
		Packet: pkt, Mark: 5, Protocol: 0x86dd, VlanProto: 0x8100, VlanTCI: 12,
		Ifindex: 2, CB: [5]uint32{1, 2, 3, 4, 5}, Hash: 0xabcd, Priority: 6,
	})
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	for _, f := range []struct {
		name string
		off  int
		want uint32
	}{
		{"len", vm.SkBuffLen, uint32(len(pkt))},
		{"mark", vm.SkBuffMark, 5},
		{"protocol", vm.SkBuffProtocol, 0xdd86}, // bpf_htons(ETH_P_IPV6) on little-endian
		{"vlan_present", vm.SkBuffVlanPresent, 1},
		{"vlan_tci", vm.SkBuffVlanTCI, 12},
		{"vlan_proto", vm.SkBuffVlanProto, 0x0081},
		{"priority", vm.SkBuffPriority, 6},
		{"ifindex", vm.SkBuffIfindex, 2},
		{"cb[4]", vm.SkBuffCB + 16, 5},
		{"hash", vm.SkBuffHash, 0xabcd},
		{"wire_len", vm.SkBuffWireLen, uint32(len(pkt))},
		{"data_end - data", -1, uint32(len(pkt))},
	} {
		var got uint32
		if f.off < 0 {
			got = le.Uint32(ctx.Mem[vm.SkBuffDataEnd:]) - le.Uint32(ctx.Mem[vm.SkBuffData:])
		} else {
			got = le.Uint32(ctx.Mem[f.off:])
		}
		if got != f.want {
			t.Errorf("__sk_buff.%s = %#x, want %#x", f.name, got, f.want)
		}
	}

	// bpf_skb_load_bytes(skb, 12, fp-8, 2) reads the EtherType; past the
	// end it zero-fills and returns -EFAULT.
	load := func(off, n int32) (uint64, uint64) {
		t.Helper()
		p, err := vm.LoadInstructions(asm.Instructions{
			asm.Mov.Imm(asm.R5, -1),
			asm.StoreMem(asm.R10, -8, asm.R5, asm.DWord),
			asm.Mov.Imm(asm.R2, off),
			asm.Mov.Reg(asm.R3, asm.R10),
			asm.Add.Imm(asm.R3, -8),
			asm.Mov.Imm(asm.R4, n),
			asm.FnSkbLoadBytes.Call(),
			asm.LoadMem(asm.R1, asm.R10, -8, asm.DWord),
			// The program returns the buffer; the wrapper below catches r0.
			asm.Mov.Reg(asm.R0, asm.R1),
			asm.Return(),
		})
		if err != nil {
			t.Fatal(err)
		}
		var ret uint64
		helpers := ctx.Helpers()
		inner := helpers[vm.HelperSkbLoadBytes]
		helpers[vm.HelperSkbLoadBytes] = func(env *vm.Env, a [5]uint64) (uint64, error) {
			r, err := inner(env, a)
			ret = r
			return r, err
		}
		buf, err := ctx.Run(p, vm.RunOptions{Helpers: helpers})
		if err != nil {
			t.Fatal(err)
		}
		return ret, buf
	}
	if ret, buf := load(12, 2); ret != 0 || buf != 0xffffffffffff_dd86 {
		t.Errorf("skb_load_bytes(12, 2) = %#x, buffer %#x", ret, buf)
	}
	if ret, buf := load(int32(len(pkt)-1), 2); ret != eFAULT || buf != 0xffffffffffff_0000 {
		t.Errorf("skb_load_bytes past the end = %#x, buffer %#x", ret, buf)
	}
	if ret, _ := load(-1, 2); ret != eFAULT {
		t.Errorf("skb_load_bytes at a negative offset = %#x", ret)
	}
	if n := len(vm.RawContext(nil).Helpers()); n != 0 {
		t.Errorf("a raw context has %d helpers", n)
	}
}

func TestRawContext(t *testing.T) {
	p, err := vm.LoadInstructions(asm.Instructions{
		asm.LoadMem(asm.R0, asm.R1, 1, asm.Byte),
		asm.Add.Reg(asm.R0, asm.R2),
		asm.Return(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := vm.RawContext([]byte{1, 40, 3})
	if r0, err := ctx.Run(p, vm.RunOptions{}); err != nil || r0 != 43 {
		t.Errorf("raw context: %d, %v", r0, err)
	}
	if len(ctx.Packet()) != 0 {
		t.Errorf("raw context has a packet")
	}
}

func TestVerdicts(t *testing.T) {
	for _, tc := range []struct {
		r0        uint64
		want      string
		effective vm.XDPAction
	}{
		{0, "XDP_ABORTED", vm.XDPAborted},
		{1, "XDP_DROP", vm.XDPDrop},
		{2, "XDP_PASS", vm.XDPPass},
		{3, "XDP_TX", vm.XDPTx},
		{4, "XDP_REDIRECT", vm.XDPRedirect},
		{1<<32 | 2, "XDP_PASS", vm.XDPPass}, // only the low 32 bits count
		{5, "XDP_UNKNOWN(5)", vm.XDPAborted},
	} {
		a := vm.XDPVerdict(tc.r0)
		if a.String() != tc.want || a.Effective() != tc.effective {
			t.Errorf("XDPVerdict(%#x) = %v (effective %v), want %s (%v)", tc.r0, a, a.Effective(), tc.want, tc.effective)
		}
	}
	for _, tc := range []struct {
		r0       uint64
		len, got int
	}{{0, 60, 0}, {0xffff_ffff, 60, 60}, {14, 60, 14}, {1 << 32, 60, 0}} {
		if got := vm.SocketFilterVerdict(tc.r0, tc.len); got != tc.got {
			t.Errorf("SocketFilterVerdict(%#x, %d) = %d, want %d", tc.r0, tc.len, got, tc.got)
		}
	}
}

// Through an __sk_buff context, LD_ABS reads the packet, not the struct.
func TestSkBuffLdAbsReadsPacket(t *testing.T) {
	pkt := make([]byte, 20)
	binary.BigEndian.PutUint16(pkt[12:], 0x86dd)
	ctx, err := vm.NewSkBuffContext(vm.SkBuff{Packet: pkt})
	if err != nil {
		t.Fatal(err)
	}
	p, err := vm.LoadInstructions(asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadAbs(12, asm.Half),
		asm.Return(),
	})
	if err != nil {
		t.Fatal(err)
	}
	r0, err := ctx.Run(p, vm.RunOptions{})
	if err != nil || r0 != 0x86dd {
		t.Errorf("LD_ABS through __sk_buff = %#x, %v; want the EtherType 0x86dd", r0, err)
	}
}
