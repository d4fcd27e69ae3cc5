package symtab

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/internal/kerneltest"
)

const kallsymsSample = `0000000000000000 A fixed_percpu_data
0000000000001000 A cpu_number
ffffffff81000000 T _stext
ffffffff81000000 t srso_alias_untrain_ret
ffffffff81000000 T _text
ffffffff81001000 t do_one_initcall
ffffffff81002000 W weak_alias
ffffffff81002000 T strong_name
ffffffff81003000 D some_data
ffffffffc0100000 t ext4_sync_fs	[ext4]
ffffffffc0100100 T ext4_file_open	[ext4]
ffffffffc0200000 t bpf_prog_6deef7357e7b4530_sd_devices	[bpf]
ffffffff81001000 t do_one_initcall
`

func TestParseKallsyms(t *testing.T) {
	k, err := ParseKallsyms(strings.NewReader(kallsymsSample))
	if err != nil {
		t.Fatal(err)
	}
	if k.Len() != 13 {
		t.Errorf("Len = %d, want 13", k.Len())
	}
	for _, tc := range []struct {
		addr uint64
		want string // "name+off [module]" or "" for none
	}{
		{0, ""},
		{0x1000, ""}, // absolute symbols name no kernel address
		{0xffffffff80ffffff, ""},
		{0xffffffff81000000, "_stext+0"}, // first global text symbol in file order
		{0xffffffff81000fff, "_stext+4095"},
		{0xffffffff81001010, "do_one_initcall+16"},
		{0xffffffff81002004, "strong_name+4"}, // global before weak
		{0xffffffff81003000, "some_data+0"},
		{0xffffffffc0100001, "ext4_sync_fs+1 [ext4]"},
		{0xffffffffc0100100, "ext4_file_open+0 [ext4]"},
		{0xffffffffc0200040, "bpf_prog_6deef7357e7b4530_sd_devices+64 [bpf]"},
		{0xffffffffffffffff, "bpf_prog_6deef7357e7b4530_sd_devices+1071644671 [bpf]"},
	} {
		sym, off, ok := k.Lookup(tc.addr)
		var got string
		if ok {
			got = sym.Name + "+" + itoa(off)
			if sym.Module != "" {
				got += " [" + sym.Module + "]"
			}
			if sym.Addr+off != tc.addr {
				t.Errorf("Lookup(%#x): Addr %#x + offset %d", tc.addr, sym.Addr, off)
			}
		}
		if got != tc.want {
			t.Errorf("Lookup(%#x) = %q, want %q", tc.addr, got, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		want uint64
	}{
		{"_text", 0xffffffff81000000},
		{"weak_alias", 0xffffffff81002000},
		{"ext4_file_open", 0xffffffffc0100100},
		{"ext4:ext4_file_open", 0xffffffffc0100100},
		{"cpu_number", 0x1000},
		{"do_one_initcall", 0xffffffff81001000},
	} {
		got, err := k.Address(tc.name)
		if err != nil || got != tc.want {
			t.Errorf("Address(%q) = %#x, %v; want %#x", tc.name, got, err, tc.want)
		}
	}
	if _, err := k.Address("nope"); err == nil || err.Error() != `no kernel symbol "nope" in /proc/kallsyms` {
		t.Errorf("Address(nope): %v", err)
	}
}

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

func TestParseKallsymsErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ffffffff81000000 T\n", `line 1: want "ADDRESS TYPE NAME [MODULE]"`},
		{"ffff T a\nxyz T b\n", `line 2: bad address "xyz"`},
		{"ffff  T a\n", `line 1: want`},
		{"11112222333344445 T a\n", `bad address`},
	} {
		_, err := ParseKallsyms(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseKallsyms(%q): %v, want %q", tc.in, err, tc.want)
		}
	}
	hidden := "0000000000000000 T _text\n0000000000000000 t foo [mod]\n"
	if _, err := ParseKallsyms(strings.NewReader(hidden)); !errors.Is(err, ErrKernelAddressesHidden) {
		t.Errorf("all-zero listing: %v, want ErrKernelAddressesHidden", err)
	}
	k, err := ParseKallsyms(strings.NewReader(""))
	if err != nil || k.Len() != 0 {
		t.Fatalf("empty listing: %v", err)
	}
	if _, _, ok := k.Lookup(0xffffffff81000000); ok {
		t.Error("empty table found a symbol")
	}
}

// loadKernel reads the running kernel's symbols, skipping (or failing under
// WAGGLE_REQUIRE_KERNEL) when they cannot be had.
func loadKernel(t testing.TB) *Kernel {
	t.Helper()
	k, err := LoadKernel()
	if errors.Is(err, ErrKernelAddressesHidden) || errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
		kerneltest.Skip(t, "kernel symbols unavailable: "+err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestKernelLookupKallsyms looks up a function of every kernel in the
// running kernel's /proc/kallsyms.
func TestKernelLookupKallsyms(t *testing.T) {
	k := loadKernel(t)
	addr, err := k.Address("vfs_read")
	if err != nil {
		t.Fatal(err)
	}
	sym, off, ok := k.Lookup(addr + 5)
	if !ok || sym.Name != "vfs_read" || off != 5 || sym.Module != "" || sym.Addr != addr {
		t.Errorf("Lookup(vfs_read+5 = %#x) = %+v, %d, %v", addr+5, sym, off, ok)
	}
	if got := FormatStack([]uint64{addr + 5}, ModeBpftrace, k.Lookup, false); got != "\n        vfs_read+5\n" {
		t.Errorf("FormatStack = %q", got)
	}
	t.Logf("%d kernel symbols; vfs_read at %#x", k.Len(), addr)
}

// FuzzParseKallsyms checks that the parser never panics and that what it
// accepts is consistent: every symbol Lookup names can be found by name,
// at or below the address looked up.
func FuzzParseKallsyms(f *testing.F) {
	f.Add(kallsymsSample)
	f.Add("ffffffff81000000 T _text\n")
	f.Add("0 T a\n")
	f.Add("ffffffffc0000000 t x\t[m]\nffffffffc0000010 t y [\n")
	f.Fuzz(func(t *testing.T, in string) {
		k, err := ParseKallsyms(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, s := range k.syms {
			for _, addr := range []uint64{s.addr, s.addr + 1, s.addr - 1} {
				sym, off, ok := k.Lookup(addr)
				if !ok {
					continue
				}
				if sym.Addr > addr || sym.Addr+off != addr {
					t.Fatalf("Lookup(%#x) = %+v, %d", addr, sym, off)
				}
				if _, err := k.Address(sym.Name); err != nil {
					t.Fatalf("Lookup named %q, which Address does not know: %v", sym.Name, err)
				}
			}
		}
	})
}

func BenchmarkKernelLookup(b *testing.B) {
	k := loadKernel(b)
	// Addresses spread over the whole table, as a stack's frames are.
	addrs := make([]uint64, 0, 1024)
	for i := 0; i < len(k.syms); i += max(1, len(k.syms)/1024) {
		addrs = append(addrs, k.syms[i].addr+7)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k.Lookup(addrs[i%len(addrs)])
	}
}

func BenchmarkLoadKernel(b *testing.B) {
	loadKernel(b)
	for i := 0; i < b.N; i++ {
		if _, err := LoadKernel(); err != nil {
			b.Fatal(err)
		}
	}
}
