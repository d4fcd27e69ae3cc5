package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/internal/pcap"
)

// udpFrame is an Ethernet/IPv4/UDP frame to dport (46 bytes).
func udpFrame(dport uint16) []byte {
	f := make([]byte, 14+20+8+4)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(len(f)-14))
	ip[8] = 64
	ip[9] = 17
	copy(ip[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	binary.BigEndian.PutUint16(ip[20:], 5555)
	binary.BigEndian.PutUint16(ip[22:], dport)
	binary.BigEndian.PutUint16(ip[24:], 12)
	copy(ip[28:], "ping")
	return f
}

// writeCapture writes frames as a pcap file of the given link type.
func writeCapture(t *testing.T, linkType int, frames ...[]byte) string {
	t.Helper()
	var b bytes.Buffer
	w, err := pcap.NewWriter(&b, linkType)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		if err := w.WritePacket(pcap.Packet{Data: f, Time: time.Unix(1700000000+int64(i), 0)}); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "capture.pcap")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// testFrames: three UDP frames to 4242, two to 53, an ARP frame (42
// bytes) and an IPv4 frame cut after 10 bytes of its header (24 bytes).
func testFrames() [][]byte {
	arp := make([]byte, 42)
	binary.BigEndian.PutUint16(arp[12:], 0x0806)
	return [][]byte{udpFrame(4242), udpFrame(53), udpFrame(4242), arp, udpFrame(53), udpFrame(4242)[:24], udpFrame(4242)}
}

// dropXDP drops IPv4 UDP packets to port 4242 and passes the rest,
// checking bounds through xdp_md's data and data_end.
func dropXDP(t *testing.T) string {
	t.Helper()
	code := bytecode(t, asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word), // data
		asm.LoadMem(asm.R3, asm.R1, 4, asm.Word), // data_end
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.Add.Imm(asm.R4, 14+20+8),
		asm.JGT.Reg(asm.R4, asm.R3, "pass"),
		asm.LoadMem(asm.R5, asm.R2, 12, asm.Half),
		asm.JNE.Imm(asm.R5, 0x0008, "pass"), // htons(ETH_P_IP) read little-endian
		asm.LoadMem(asm.R5, asm.R2, 14+9, asm.Byte),
		asm.JNE.Imm(asm.R5, 17, "pass"),
		asm.LoadMem(asm.R5, asm.R2, 14+20+2, asm.Half),
		asm.JNE.Imm(asm.R5, 0x9210, "pass"), // htons(4242)
		asm.Mov.Imm(asm.R0, 1),              // XDP_DROP
		asm.Return(),
		asm.Mov.Imm(asm.R0, 2).WithSymbol("pass"), // XDP_PASS
		asm.Return(),
	})
	path := filepath.Join(t.TempDir(), "drop.bin")
	if err := os.WriteFile(path, code, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runVMTestText(t *testing.T, prog string, f vmTestFlags) string {
	t.Helper()
	if f.output == "" {
		f.output = "text"
	}
	var out bytes.Buffer
	if err := runVMTest(prog, &f, &out); err != nil {
		t.Fatalf("vm test %s: %v", prog, err)
	}
	return out.String()
}

func TestVMTestAsmXDP(t *testing.T) {
	capture := writeCapture(t, pcap.LinkTypeEthernet, testFrames()...)
	got := runVMTestText(t, dropXDP(t), vmTestFlags{pcap: capture, typ: "xdp"})
	want := "packets: 7\nXDP_DROP         3\nXDP_PASS         4\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	// Through cobra, as JSON.
	cmd := newVMTestCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{dropXDP(t), "--pcap", capture, "--type", "xdp", "-o", "json"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Type     string
		Packets  int
		Verdicts map[string]int
		Errors   int
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("not one JSON object: %v\n%s", err, out.String())
	}
	if res.Type != "xdp" || res.Packets != 7 || res.Verdicts["XDP_DROP"] != 3 || res.Verdicts["XDP_PASS"] != 4 || res.Errors != 0 {
		t.Errorf("JSON: %+v", res)
	}
}

// A fault on one packet is counted and the others still run.
func TestVMTestFaults(t *testing.T) {
	capture := writeCapture(t, pcap.LinkTypeEthernet, testFrames()...)
	// Reads byte 45 with no bounds check: the ARP and cut frames fault.
	code := bytecode(t, asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.LoadMem(asm.R0, asm.R2, 45, asm.Byte),
		asm.Mov.Imm(asm.R0, 2),
		asm.Return(),
	})
	prog := filepath.Join(t.TempDir(), "oob.bin")
	os.WriteFile(prog, code, 0o644)
	// The verifier rejects the unchecked read (TestVMTestVerifierGate);
	// this test is about the interpreter's checks.
	got := runVMTestText(t, prog, vmTestFlags{pcap: capture, typ: "xdp", noVerify: true})
	for _, want := range []string{"packets: 7\n", "XDP_PASS         5\n", "errors: 2\n", "  2 out-of-bounds memory access, first: packet 4: vm: pc 1:"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q\n%s", want, got)
		}
	}
	// Packets of a link type other than Ethernet are errors too.
	raw := writeCapture(t, pcap.LinkTypeRaw, udpFrame(1)[14:], udpFrame(2)[14:])
	got = runVMTestText(t, dropXDP(t), vmTestFlags{pcap: raw, typ: "xdp"})
	if want := "packets: 2\nerrors: 2\n  2 unsupported link type, first: packet 1: link type RAW: only Ethernet captures can be run\n"; got != want {
		t.Errorf("raw IP capture: got\n%s\nwant\n%s", got, want)
	}
}

func TestVMTestObject(t *testing.T) {
	capture := writeCapture(t, pcap.LinkTypeEthernet, testFrames()...)
	obj := fixture("net.bpf.o")
	for _, c := range []struct {
		prog string
		want string
	}{
		{"xdp_count", "packets: 7\nXDP_PASS         7\n@xdp_packets: 3\n"},
		{"tc_count", "packets: 7\nTC_ACT_OK        7\n@tc_packets: 3\n"},
		{"sock_count", "packets: 7\nkept             7\nbytes kept: 296 of 296\n@sock_packets: 3\n"},
	} {
		got := runVMTestText(t, obj, vmTestFlags{pcap: capture, prog: c.prog})
		if got != c.want {
			t.Errorf("%s: got\n%s\nwant\n%s", c.prog, got, c.want)
		}
	}
}

func TestVMTestSocketAndTC(t *testing.T) {
	capture := writeCapture(t, pcap.LinkTypeEthernet, testFrames()...)
	// A socket filter with LD_ABS: keep 20 bytes of IPv4, drop the rest.
	sock := bytecode(t, asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadAbs(12, asm.Half),
		asm.JNE.Imm(asm.R0, 0x0800, "drop"),
		asm.Mov.Imm(asm.R0, 20),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("drop"),
		asm.Return(),
	})
	prog := filepath.Join(t.TempDir(), "sock.bin")
	os.WriteFile(prog, sock, 0o644)
	got := runVMTestText(t, prog, vmTestFlags{pcap: capture, typ: "socket"})
	if want := "packets: 7\nkept             6\ndropped          1\nbytes kept: 120 of 296\n"; got != want {
		t.Errorf("socket: got\n%s\nwant\n%s", got, want)
	}
	// A tc program returning skb->len == 46 ? TC_ACT_SHOT : TC_ACT_OK.
	tc := bytecode(t, asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.Mov.Imm(asm.R0, 0),
		asm.JNE.Imm(asm.R2, 46, "out"),
		asm.Mov.Imm(asm.R0, 2),
		asm.Return().WithSymbol("out"),
	})
	prog = filepath.Join(t.TempDir(), "tc.bin")
	os.WriteFile(prog, tc, 0o644)
	got = runVMTestText(t, prog, vmTestFlags{pcap: capture, typ: "tc"})
	if want := "packets: 7\nTC_ACT_OK        2\nTC_ACT_SHOT      5\n"; got != want {
		t.Errorf("tc: got\n%s\nwant\n%s", got, want)
	}
}

func TestVMTestBadInput(t *testing.T) {
	capture := writeCapture(t, pcap.LinkTypeEthernet, testFrames()...)
	bad := filepath.Join(t.TempDir(), "bad.pcap")
	os.WriteFile(bad, []byte("not a capture at all, not at all"), 0o644)
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	data, _ := os.ReadFile(capture)
	os.WriteFile(cut, data[:len(data)-3], 0o644)
	prog := dropXDP(t)
	for _, c := range []struct {
		prog string
		f    vmTestFlags
		want string
	}{
		{prog, vmTestFlags{pcap: capture}, "raw bytecode has no section to tell its type: pass --type"},
		{prog, vmTestFlags{pcap: capture, typ: "kprobe"}, "--type kprobe: expected xdp, socket or tc"},
		{prog, vmTestFlags{typ: "xdp"}, "--pcap FILE is required"},
		{prog, vmTestFlags{pcap: capture, typ: "xdp", output: "yaml"}, "-o yaml"},
		{prog, vmTestFlags{pcap: bad, typ: "xdp"}, "bad magic"},
		{prog, vmTestFlags{pcap: cut, typ: "xdp"}, "packet 7"},
		{fixture("openat.bpf.o"), vmTestFlags{pcap: capture}, `section "tracepoint/syscalls/sys_enter_openat" is not an XDP, socket-filter or tc program`},
	} {
		if c.f.output == "" {
			c.f.output = "text"
		}
		err := runVMTest(c.prog, &c.f, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.f, err, c.want)
		}
	}
}
