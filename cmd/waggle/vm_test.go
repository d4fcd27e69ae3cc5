package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"
)

// bytecode marshals instructions as raw little-endian bytecode.
func bytecode(t *testing.T, insns asm.Instructions) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := insns.Marshal(&b, binary.LittleEndian); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestVMRun(t *testing.T) {
	dir := t.TempDir()
	// r0 = mem[0] + mem[1] * 2, and mem[0] = 0xff.
	code := bytecode(t, asm.Instructions{
		asm.LoadMem(asm.R0, asm.R1, 0, asm.Byte),
		asm.LoadMem(asm.R3, asm.R1, 1, asm.Byte),
		asm.Mul.Imm(asm.R3, 2),
		asm.Add.Reg(asm.R0, asm.R3),
		asm.Mov.Imm(asm.R4, 0xff),
		asm.StoreMem(asm.R1, 0, asm.R4, asm.Byte),
		asm.Return(),
	})
	bin := filepath.Join(dir, "prog.bin")
	os.WriteFile(bin, code, 0o644)
	hexFile := filepath.Join(dir, "prog.hex")
	var hexText strings.Builder
	for i, b := range code {
		if i%8 == 0 && i > 0 {
			hexText.WriteString("\n")
		}
		fmt.Fprintf(&hexText, "%02x ", b)
	}
	os.WriteFile(hexFile, []byte(hexText.String()), 0o644)
	ctx := filepath.Join(dir, "ctx.bin")
	os.WriteFile(ctx, []byte{5, 7}, 0o644)

	for _, prog := range []string{bin, hexFile} {
		// The program writes r1 as plain memory, as the conformance suite's
		// do: it is no kernel program type's, so there is nothing to verify
		// it as.
		r := waggle(t, "vm", "run", prog, "--ctx", ctx, "--repeat", "10", "--no-verify")
		if r.code != 0 {
			t.Fatalf("vm run %s failed\n%s", prog, r)
		}
		for _, want := range []string{"r0: 0x13 (19)\n", "instructions: 7 per run\n", "(10 runs)\n", "memory: changed\n"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s: output lacks %q\n%s", prog, want, r)
			}
		}
	}
}

func TestVMRunObject(t *testing.T) {
	// bad_section's section names no program type: the verifier refuses
	// it (as the kernel would) unless --type gives one.
	r := waggle(t, "vm", "run", fixture("bad_section.bpf.o"))
	if r.code != 1 || !strings.Contains(r.stderr, "mystery (unspec): rejected") {
		t.Errorf("ELF program of no type\n%s", r)
	}
	for _, flag := range []string{"--no-verify", "--type=tracepoint"} {
		r = waggle(t, "vm", "run", fixture("bad_section.bpf.o"), flag)
		if r.code != 0 || !strings.Contains(r.stdout, "r0: 0x0 (0)") {
			t.Errorf("ELF program without maps, %s\n%s", flag, r)
		}
	}
	r = waggle(t, "vm", "run", fixture("three.bpf.o"))
	if r.code != 1 || !strings.Contains(r.stderr, "3 programs (tp_close, tp_exec, tp_openat): choose one with --prog") {
		t.Errorf("several programs without --prog\n%s", r)
	}
	r = waggle(t, "vm", "run", fixture("three.bpf.o"), "--prog", "nope")
	if r.code != 1 || !strings.Contains(r.stderr, `no program "nope"`) {
		t.Errorf("unknown --prog\n%s", r)
	}
}

func TestVMRunBadInput(t *testing.T) {
	dir := t.TempDir()
	odd := filepath.Join(dir, "odd.bin")
	os.WriteFile(odd, []byte{1, 2, 3}, 0o644)
	oob := filepath.Join(dir, "oob.bin")
	// r0 = *(u64 *)(r1 + 64): out of bounds of an empty memory.
	code := bytecode(t, asm.Instructions{asm.LoadMem(asm.R0, asm.R10, 8, asm.DWord), asm.Return()})
	os.WriteFile(oob, code, 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"vm", "run", filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"vm", "run", odd}, "not a whole number of 8-byte instructions"},
		// The interpreter's own check, without the verifier.
		{[]string{"vm", "run", oob, "--no-verify"}, "vm: pc 0: out-of-bounds 8-byte load"},
		{[]string{"vm", "run", oob, "--repeat", "0"}, "--repeat 0: must be at least 1"},
	} {
		r := waggle(t, c.args...)
		if r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: want exit 1 and %q\n%s", c.args, c.want, r)
		}
	}
}

// vmUDPFrame writes an Ethernet/IPv4/UDP frame to dport and returns its path.
func vmUDPFrame(t *testing.T, dport uint16) string {
	t.Helper()
	f := make([]byte, 14+20+8+4)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(len(f)-14))
	ip[8] = 64
	ip[9] = 17 // UDP
	copy(ip[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	binary.BigEndian.PutUint16(ip[20:], 5555)
	binary.BigEndian.PutUint16(ip[22:], dport)
	binary.BigEndian.PutUint16(ip[24:], 12)
	copy(ip[28:], "ping")
	path := filepath.Join(t.TempDir(), fmt.Sprintf("udp%d.bin", dport))
	if err := os.WriteFile(path, f, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVMRunPacket(t *testing.T) {
	match, other := vmUDPFrame(t, 4242), vmUDPFrame(t, 53)
	for _, c := range []struct {
		args []string
		want []string
		not  []string
	}{
		{[]string{"--prog", "xdp_count", "--packet", match}, []string{"r0: 0x2 (2)\n", "verdict: XDP_PASS\n", "@xdp_packets: 1\n", "(1 runs)\n"}, []string{"tc_packets"}},
		{[]string{"--prog", "xdp_count", "--packet", match, "--repeat", "5"}, []string{"verdict: XDP_PASS\n", "@xdp_packets: 5\n", "(5 runs)\n"}, nil},
		{[]string{"--prog", "xdp_count", "--packet", other}, []string{"verdict: XDP_PASS\n"}, []string{"@xdp_packets"}},
		{[]string{"--prog", "tc_count", "--packet", match}, []string{"verdict: TC_ACT_OK\n", "@tc_packets: 1\n"}, []string{"xdp_packets"}},
		{[]string{"--prog", "sock_count", "--packet", match, "--repeat", "3"}, []string{"verdict: keep 46 of 46 bytes\n", "@sock_packets: 3\n"}, nil},
	} {
		r := waggle(t, append([]string{"vm", "run", fixture("net.bpf.o")}, c.args...)...)
		if r.code != 0 {
			t.Fatalf("%v failed\n%s", c.args, r)
		}
		for _, w := range c.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%v: output lacks %q\n%s", c.args, w, r)
			}
		}
		for _, w := range c.not {
			if strings.Contains(r.stdout, w) {
				t.Errorf("%v: output has %q\n%s", c.args, w, r)
			}
		}
	}
}

func TestVMRunPacketRefused(t *testing.T) {
	pkt := vmUDPFrame(t, 4242)
	r := waggle(t, "vm", "run", fixture("openat.bpf.o"), "--packet", pkt)
	if r.code != 1 || !strings.Contains(r.stderr, `section "tracepoint/syscalls/sys_enter_openat" takes no packet`) ||
		!strings.Contains(r.stderr, "xdp, socket") {
		t.Errorf("--packet on a tracepoint program\n%s", r)
	}
	r = waggle(t, "vm", "run", fixture("net.bpf.o"), "--prog", "xdp_count", "--packet", pkt, "--ctx", pkt)
	if r.code != 1 || !strings.Contains(r.stderr, "--ctx and --packet") {
		t.Errorf("--ctx with --packet\n%s", r)
	}
}

func TestVMRunTracepointMaps(t *testing.T) {
	// A zeroed sys_enter record: the filename pointer is NULL, which
	// probe_read_user_str reports and the program tolerates.
	rec := filepath.Join(t.TempDir(), "rec.bin")
	os.WriteFile(rec, make([]byte, 64), 0o644)
	r := waggle(t, "vm", "run", fixture("openat.bpf.o"), "--ctx", rec, "--repeat", "2")
	if r.code != 0 {
		t.Fatalf("openat.bpf.o failed\n%s", r)
	}
	// The command runs in a child process named waggle, the current task.
	for _, want := range []string{"r0: 0x0 (0)\n", "@counts[", ", waggle]: 2\n", "@events: records\n", "PID ", "FILENAME\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q\n%s", want, r)
		}
	}
	if n := strings.Count(r.stdout, " waggle "); n != 2 {
		t.Errorf("%d event rows, want 2\n%s", n, r)
	}
}
