package vm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
)

func loadFixture(t *testing.T, name string) *ebpf.CollectionSpec {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// udpFrame is an Ethernet/IPv4/UDP frame to dport with a few bytes of
// payload.
func udpFrame(dport uint16) []byte {
	f := make([]byte, 14+20+8+4)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(len(f)-14))
	ip[8] = 64
	ip[9] = 17 // UDP
	copy(ip[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[0:], 5555)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], 12)
	copy(udp[8:], "ping")
	return f
}

func counterValue(t *testing.T, m Map) uint64 {
	t.Helper()
	v, err := m.Lookup(make([]byte, 4))
	if err != nil {
		t.Fatal(err)
	}
	return binary.LittleEndian.Uint64(v)
}

func TestCollectionNetXDP(t *testing.T) {
	for _, c := range []struct {
		dport uint16
		want  uint64
	}{{4242, 1}, {53, 0}} {
		coll, err := LoadCollection(loadFixture(t, "net.bpf.o"), CollectionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, err := NewXDPContext(XDPMD{Packet: udpFrame(c.dport)})
		if err != nil {
			t.Fatal(err)
		}
		r0, err := ctx.Run(coll.Programs["xdp_count"], RunOptions{Helpers: coll.Helpers(HelperConfig{})})
		if err != nil {
			t.Fatal(err)
		}
		if XDPVerdict(r0) != XDPPass {
			t.Errorf("port %d: verdict %v, want XDP_PASS", c.dport, XDPVerdict(r0))
		}
		if got := counterValue(t, coll.Maps["xdp_packets"]); got != c.want {
			t.Errorf("port %d: xdp_packets = %d, want %d", c.dport, got, c.want)
		}
		if got := counterValue(t, coll.Maps["tc_packets"]); got != 0 {
			t.Errorf("tc_packets = %d after an XDP run", got)
		}
	}
}

func TestCollectionNetTCAndSocket(t *testing.T) {
	coll, err := LoadCollection(loadFixture(t, "net.bpf.o"), CollectionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, prog := range []string{"tc_count", "sock_count"} {
		for i := 0; i < 2; i++ {
			ctx, err := NewSkBuffContext(SkBuff{Packet: udpFrame(4242), Protocol: 0x0800})
			if err != nil {
				t.Fatal(err)
			}
			h := coll.Helpers(HelperConfig{})
			for id, f := range ctx.Helpers() {
				h[id] = f
			}
			r0, err := ctx.Run(coll.Programs[prog], RunOptions{Helpers: h})
			if err != nil {
				t.Fatalf("%s: %v", prog, err)
			}
			if prog == "tc_count" && r0 != TCActOK {
				t.Errorf("tc_count: r0 = %d, want TC_ACT_OK", r0)
			}
			if prog == "sock_count" && SocketFilterVerdict(r0, len(udpFrame(0))) != len(udpFrame(0)) {
				t.Errorf("sock_count: r0 = %d, want the packet length", r0)
			}
		}
	}
	if got := counterValue(t, coll.Maps["tc_packets"]); got != 2 {
		t.Errorf("tc_packets = %d, want 2", got)
	}
	if got := counterValue(t, coll.Maps["sock_packets"]); got != 2 {
		t.Errorf("sock_packets = %d, want 2", got)
	}
}

func TestCollectionOpenat(t *testing.T) {
	spec := loadFixture(t, "openat.bpf.o")
	if err := spec.Variables["tag"].Set([]byte("set\x00\x00\x00\x00\x00")); err != nil {
		t.Fatal(err)
	}
	coll, err := LoadCollection(spec, CollectionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"events", "counts", ".rodata"} {
		if coll.Maps[name] == nil {
			t.Fatalf("no map %s; have %v", name, sortedNames(coll.Maps))
		}
	}
	ro, err := coll.Maps[".rodata"].Lookup(make([]byte, 4))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(ro, []byte("set\x00")) || bytes.Contains(ro, []byte("none")) {
		t.Errorf(".rodata does not carry the variable set before loading: %q", ro)
	}
	if coll.Maps[".rodata"].Spec().Flags&FlagRdonlyProg == 0 {
		t.Error(".rodata is writable by programs")
	}

	// A sys_enter record: args[1] is a filename pointer the program
	// reads with probe_read_user_str; 0 makes that fail, which the
	// program tolerates.
	rec := make([]byte, 64)
	task := Task{PID: 7, TGID: 42, UID: 1000, Comm: "cat"}
	h := coll.Helpers(HelperConfig{Task: &task})
	for i := 0; i < 3; i++ {
		if _, err := coll.Programs["trace_openat"].Run(rec, RunOptions{Helpers: h}); err != nil {
			t.Fatal(err)
		}
	}
	key := make([]byte, 20)
	binary.LittleEndian.PutUint32(key, 42)
	copy(key[4:], "cat")
	v, err := coll.Maps["counts"].Lookup(key)
	if err != nil {
		t.Fatalf("counts[{42, cat}]: %v", err)
	}
	if n := binary.LittleEndian.Uint64(v); n != 3 {
		t.Errorf("counts = %d, want 3", n)
	}
	rb := coll.Maps["events"].(*RingBufMap)
	n := 0
	for {
		r, ok := rb.Read()
		if !ok {
			break
		}
		n++
		if binary.LittleEndian.Uint32(r) != 42 || !bytes.HasPrefix(r[12:], []byte("cat\x00")) {
			t.Errorf("event %x", r)
		}
	}
	if n != 3 {
		t.Errorf("%d events, want 3", n)
	}
}

func TestCollectionThree(t *testing.T) {
	coll, err := LoadCollection(loadFixture(t, "three.bpf.o"), CollectionOptions{CPUs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(coll.Programs) != 3 {
		t.Errorf("%d programs, want 3", len(coll.Programs))
	}
}

func TestCollectionUnsupportedMap(t *testing.T) {
	spec := &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{
		"inner_of": {Name: "inner_of", Type: ebpf.ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 1},
	}}
	_, err := LoadCollection(spec, CollectionOptions{})
	if err == nil || !strings.Contains(err.Error(), "map inner_of") || !errors.Is(err, ErrNotSupported) {
		t.Errorf("err = %v, want an unsupported-map error naming inner_of", err)
	}
}

func TestCollectionProgramArray(t *testing.T) {
	spec := loadFixture(t, "net.bpf.o")
	spec.Maps["jmp"] = &ebpf.MapSpec{Name: "jmp", Type: ebpf.ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 2,
		Contents: []ebpf.MapKV{{Key: uint32(1), Value: "xdp_count"}}}
	coll, err := LoadCollection(spec, CollectionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pa := coll.Maps["jmp"].(*ProgramArrayMap)
	if pa.Get(1) != coll.Programs["xdp_count"] || pa.Get(0) != nil {
		t.Error("program array not filled from its contents")
	}
	spec.Maps["jmp"].Contents[0].Value = "nope"
	if _, err := LoadCollection(spec, CollectionOptions{}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("err = %v, want one naming the missing program", err)
	}
}

func TestCollectionSomePrograms(t *testing.T) {
	coll, err := LoadCollection(loadFixture(t, "net.bpf.o"), CollectionOptions{Programs: []string{"tc_count"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(coll.Programs) != 1 || coll.Programs["tc_count"] == nil {
		t.Errorf("programs %v, want only tc_count", sortedNames(coll.Programs))
	}
	if _, err := LoadCollection(loadFixture(t, "net.bpf.o"), CollectionOptions{Programs: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("err = %v, want one naming the missing program", err)
	}
}
