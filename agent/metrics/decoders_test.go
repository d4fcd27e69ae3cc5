package metrics

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"

	"github.com/wagglebpf/waggle/btfprint"
	"github.com/wagglebpf/waggle/internal/cgroupfs"
)

var (
	u32T  = &btf.Int{Name: "__u32", Size: 4}
	s32T  = &btf.Int{Name: "__s32", Size: 4, Encoding: btf.Signed}
	u64T  = &btf.Int{Name: "__u64", Size: 8}
	charT = &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	opT   = &btf.Enum{Name: "op", Size: 4, Values: []btf.EnumValue{{Name: "OP_READ", Value: 0}, {Name: "OP_WRITE", Value: 1}}}
)

func decodeWith(t *testing.T, cfg LabelConfig, typ btf.Type, data []byte) (string, error) {
	t.Helper()
	m := btfprint.Whole(typ)
	dec, err := newDecoder(cfg, m, &Symbols{CgroupRoot: t.TempDir()})
	if err != nil {
		return "", err
	}
	return dec(m, data)
}

func TestDecoders(t *testing.T) {
	comm := []byte("bash\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	for _, c := range []struct {
		decoder string
		values  map[string]string
		typ     btf.Type
		data    []byte
		want    string
	}{
		{"", nil, opT, u32(1), "OP_WRITE"},
		{"", nil, &btf.Array{Type: charT, Nelems: 16}, comm, "bash"},
		{"", nil, s32T, u32(0xffffffff), "-1"},
		{"number", nil, opT, u32(1), "1"},
		{"number", nil, u64T, u64(1 << 63), "9223372036854775808"},
		{"string", nil, &btf.Array{Type: charT, Nelems: 16}, comm, "bash"},
		{"hex", nil, u64T, u64(0xffffffff81000000), "0xffffffff81000000"},
		{"syscall", nil, u32T, u32(0), "read"},
		{"syscall", nil, u32T, u32(99999), "99999"},
		{"errno", nil, s32T, u32(uint32(0xfffffffe)), "ENOENT"}, // -2, as the kernel returns it
		{"errno", nil, u32T, u32(13), "EACCES"},
		{"errno", nil, u32T, u32(uint32(0xfffffff3)), "EACCES"}, // -13 in a u32
		{"errno", nil, s32T, u32(0), "0"},
		{"errno", nil, u32T, u32(60000), "60000"},
		{"ipv4", nil, u32T, []byte{192, 168, 1, 20}, "192.168.1.20"},
		{"ipv6", nil, &btf.Array{Type: u32T, Nelems: 4}, []byte{0xfe, 0x80, 15: 1}, "fe80::1"},
		{"ip", nil, &btf.Array{Type: charT, Nelems: 4}, []byte{127, 0, 0, 1}, "127.0.0.1"},
		{"static", map[string]string{"0": "read", "1": "write"}, u32T, u32(1), "write"},
		{"static", map[string]string{"0": "read"}, u32T, u32(7), "7"},
		{"static", map[string]string{"OP_WRITE": "w"}, opT, u32(1), "w"},
		{"static", map[string]string{"0": "r"}, opT, u32(0), "r"},
		{"cgroup", nil, u64T, u64(12345), "12345"}, // no such cgroup
	} {
		got, err := decodeWith(t, LabelConfig{Decoder: c.decoder, Values: c.values}, c.typ, c.data)
		if err != nil || got != c.want {
			t.Errorf("%s of %x as %s: %q, %v; want %q", c.decoder, c.data, c.typ, got, err, c.want)
		}
	}
}

func TestDecoderErrors(t *testing.T) {
	for _, c := range []struct {
		decoder string
		typ     btf.Type
		want    string
	}{
		{"ksym", &btf.Array{Type: charT, Nelems: 16}, "the ksym decoder needs an integer, and the key is char[16]"},
		{"ipv4", u64T, "the ipv4 decoder needs 4 bytes, and the key is 8 bytes"},
		{"ipv6", u32T, "needs 16 bytes"},
		{"ip", u64T, "needs 4 or 16 bytes"},
		{"string", u32T, "the string decoder needs a char array"},
	} {
		_, err := decodeWith(t, LabelConfig{Decoder: c.decoder}, c.typ, make([]byte, 16))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s on %s: %v, want %q", c.decoder, c.typ, err, c.want)
		}
	}
	// Short data is an error, not a panic.
	if _, err := decodeWith(t, LabelConfig{Decoder: "ipv6"}, &btf.Array{Type: charT, Nelems: 16}, []byte{1, 2}); err == nil {
		t.Error("ipv6 of 2 bytes: no error")
	}
}

func TestCgroupPaths(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"a", "a/b", "c"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := &Symbols{CgroupRoot: root}
	ids := cgroupfs.Paths(root)
	byPath := map[string]uint64{}
	for id, p := range ids {
		byPath[p] = id
	}
	for _, p := range []string{"/", "/a", "/a/b", "/c"} {
		id, ok := byPath[p]
		if !ok {
			t.Fatalf("walk missed %s: %v", p, ids)
		}
		if got := s.CgroupPath(id); got != p {
			t.Errorf("id %d: %q, want %q", id, got, p)
		}
	}
	const mountinfo = "30 23 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n41 30 0:38 / /sys/fs/cgroup/uni\\040fied rw,relatime - cgroup2 cgroup2 rw\n"
	if got := cgroup2Mount(mountinfo); got != "/sys/fs/cgroup/uni fied" {
		t.Errorf("cgroup2 mount %q", got)
	}
}

// The kernel's symbol table is read again once it is old: modules and
// BPF programs loaded since get their names.
func TestKernelTableIsReread(t *testing.T) {
	s := &Symbols{}
	first := s.kernelTable()
	if first == nil {
		t.Skip("/proc/kallsyms cannot be read here")
	}
	if s.kernelTable() != first {
		t.Error("a fresh table was read again")
	}
	s.kernelRead = time.Now().Add(-2 * kernelReread)
	if again := s.kernelTable(); again == first || again == nil {
		t.Error("an old table was not read again")
	}
}
