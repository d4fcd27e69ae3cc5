package vm

import (
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/wagglebpf/waggle/internal/kerneltest"
)

// diffFrames are the inputs of the packet differential test: frames the
// fixture counts, frames it must not count, and frames its bounds checks
// must stop early on.
func diffFrames() map[string][]byte {
	tcp := udpFrame(4242)
	tcp[14+9] = 6 // IPPROTO_TCP
	ipv6 := udpFrame(4242)
	binary.BigEndian.PutUint16(ipv6[12:], 0x86dd)
	return map[string][]byte{
		"udp to 4242":   udpFrame(4242),
		"udp to 53":     udpFrame(53),
		"tcp to 4242":   tcp,
		"ipv6":          ipv6,
		"runt ethernet": udpFrame(4242)[:13],
		"runt ip":       udpFrame(4242)[:30],
		"runt udp":      udpFrame(4242)[:38],
	}
}

// TestDiffPacketPrograms runs net.bpf.o's XDP and tc programs in the VM
// and in the kernel (BPF_PROG_TEST_RUN) over the same frames: the verdict
// and the counter maps must agree after every frame.
func TestDiffPacketPrograms(t *testing.T) {
	kerneltest.Require(t)
	for _, c := range []struct {
		prog, counter string
		newCtx        func(pkt []byte) (*Context, error)
	}{
		{"xdp_count", "xdp_packets", func(pkt []byte) (*Context, error) { return NewXDPContext(XDPMD{Packet: pkt}) }},
		{"tc_count", "tc_packets", func(pkt []byte) (*Context, error) {
			proto := uint16(0)
			if len(pkt) >= 14 {
				proto = binary.BigEndian.Uint16(pkt[12:])
			}
			return NewSkBuffContext(SkBuff{Packet: pkt, Protocol: proto})
		}},
	} {
		t.Run(c.prog, func(t *testing.T) {
			spec := loadFixture(t, "net.bpf.o")
			kspec := spec.Copy()
			for name := range kspec.Programs {
				if name != c.prog {
					delete(kspec.Programs, name)
				}
			}
			kcoll, err := ebpf.NewCollection(kspec)
			if err != nil {
				t.Fatal(err)
			}
			defer kcoll.Close()
			vcoll, err := LoadCollection(spec, CollectionOptions{Programs: []string{c.prog}})
			if err != nil {
				t.Fatal(err)
			}
			for name, pkt := range diffFrames() {
				// Frames shorter than an Ethernet header are refused by the
				// kernel's test run for XDP and tc alike; the VM needs no such
				// rule, so they are only compared when the kernel runs them.
				kr0, kerr := kcoll.Programs[c.prog].Run(&ebpf.RunOptions{Data: pkt})
				ctx, err := c.newCtx(pkt)
				if err != nil {
					t.Fatal(err)
				}
				h := vcoll.Helpers(HelperConfig{})
				for id, f := range ctx.Helpers() {
					h[id] = f
				}
				vr0, verr := ctx.Run(vcoll.Programs[c.prog], RunOptions{Helpers: h})
				if kerr != nil {
					t.Logf("%s: the kernel refused the test run (%v); VM r0 %d, %v", name, kerr, vr0, verr)
					continue
				}
				if verr != nil {
					t.Fatalf("%s: VM: %v (kernel r0 %d)", name, verr, kr0)
				}
				if uint64(kr0) != vr0 {
					t.Errorf("%s: kernel r0 %d, VM r0 %d", name, kr0, vr0)
				}
				var kcount uint64
				if err := kcoll.Maps[c.counter].Lookup(uint32(0), &kcount); err != nil {
					t.Fatal(err)
				}
				if vcount := counterValue(t, vcoll.Maps[c.counter]); vcount != kcount {
					t.Errorf("%s: %s kernel %d, VM %d", name, c.counter, kcount, vcount)
				}
			}
			var final uint64
			kcoll.Maps[c.counter].Lookup(uint32(0), &final)
			if final != 1 {
				t.Errorf("%s counted %d frames in the kernel, want 1 (only udp to 4242)", c.counter, final)
			}
		})
	}
}
