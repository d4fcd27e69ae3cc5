package symtab

import (
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/internal/golden"
)

// TestFormatStackGolden prints a kernel and a user stack in bpftrace's
// three modes, with frames that resolve and frames that do not, and one
// zero address that ends the stack as in a BPF stack map.
func TestFormatStackGolden(t *testing.T) {
	k, err := ParseKallsyms(strings.NewReader(`ffffffff81001000 T do_sys_openat2
ffffffff81002000 T __x64_sys_openat
ffffffff81003000 T do_syscall_64
ffffffff81004000 T entry_SYSCALL_64_after_hwframe
ffffffffc0100000 t ext4_file_open	[ext4]
`))
	if err != nil {
		t.Fatal(err)
	}
	kframes := []uint64{0xffffffffc0100010, 0xffffffff810010a0, 0xffffffff81002055, 0xffffffff81003040, 0xffffffff81004076, 0x1234, 0, 0xffffffff81001000}

	user := &elfTable{syms: []elfSym{
		{start: 0x1000, size: 0x40, name: "__libc_open64"},
		{start: 0x2000, size: 0x100, name: "main"},
		{start: 0x3000, size: 0x80, name: "__libc_start_call_main"},
	}}
	user.index()
	uresolve := func(addr uint64) (Symbol, uint64, bool) {
		module := "/usr/lib/x86_64-linux-gnu/libc.so.6"
		v := addr - 0x7f0000000000
		if addr < 0x7f0000000000 {
			module, v = "/usr/bin/cat", addr-0x560000000000
		}
		s, ok := user.lookup(v)
		if !ok {
			return Symbol{}, 0, false
		}
		return Symbol{Name: s.name, Module: module, Addr: addr - (v - s.start), Size: s.size}, v - s.start, true
	}
	uframes := []uint64{0x7f0000001012, 0x560000002089, 0x7f0000003007, 0x7ffd00000000}

	var b strings.Builder
	for _, mode := range []StackMode{ModeBpftrace, ModePerf, ModeRaw} {
		b.WriteString("== kstack(" + mode.String() + ") as a map key\n")
		b.WriteString("@[" + FormatStack(kframes, mode, k.Lookup, false) + "]: 3\n")
		b.WriteString("== ustack(" + mode.String() + ") in printf(\"%s\\n\")\n")
		b.WriteString(FormatStack(uframes, mode, uresolve, true) + "\n")
	}
	b.WriteString("== ksym, usym\n")
	for _, a := range kframes[:6] {
		b.WriteString(Name(k.Lookup, a) + "\n")
	}
	for _, a := range uframes {
		b.WriteString(Name(uresolve, a) + "\n")
	}
	b.WriteString("== empty kstack\n@[" + FormatStack(nil, ModeBpftrace, k.Lookup, false) + "]: 1\n")
	golden.Check(t, "testdata/stacks.golden", b.String())
}
