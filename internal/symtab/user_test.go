package symtab

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wagglebpf/waggle/internal/procmaps"
)

//go:noinline
func symbolisedFunction(x int) int { return x*3 + 1 }

// TestProcessLookupSelf symbolises a Go function of the test binary in its
// own process: Go binaries carry a .symtab with the functions' full names.
func TestProcessLookupSelf(t *testing.T) {
	if symbolisedFunction(1) != 4 {
		t.Fatal("symbolisedFunction")
	}
	pc := uint64(reflect.ValueOf(symbolisedFunction).Pointer())
	want := runtime.FuncForPC(uintptr(pc)).Name()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := NewResolver()
	p, err := r.Snapshot(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	sym, off, ok := p.Lookup(pc + 3)
	if !ok || sym.Name != want || off != 3 || sym.Addr != pc || sym.Module != exe {
		t.Fatalf("Lookup(%#x) = %+v, %d, %v; want %s+3 in %s", pc+3, sym, off, ok, want, exe)
	}
	if sym.Size == 0 {
		t.Error("Go function symbol without a size")
	}
	// Through the Resolver, and as bpftrace prints it.
	if s, off2, ok := r.Lookup(os.Getpid(), pc+3); !ok || s != sym || off2 != 3 {
		t.Errorf("Resolver.Lookup = %+v, %d, %v", s, off2, ok)
	}
	resolve := func(a uint64) (Symbol, uint64, bool) { return r.Lookup(os.Getpid(), a) }
	if got, w := FormatStack([]uint64{pc + 3, 8}, ModePerf, resolve, true),
		fmt.Sprintf("\n\t%x %s+3 (%s)\n\t8 0x8 ([unknown])\n", pc+3, want, exe); got != w {
		t.Errorf("FormatStack perf:\n%q\nwant\n%q", got, w)
	}
	if got := Name(resolve, pc+3); got != want {
		t.Errorf("Name = %q", got)
	}
	if _, _, ok := p.Lookup(8); ok {
		t.Error("address 8 resolved")
	}
}

// TestProcessLookupVDSO names a function of the vDSO, read from memory.
func TestProcessLookupVDSO(t *testing.T) {
	ms, err := procmaps.Read(0)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ms, func(m procmaps.Mapping) bool { return m.Path == "[vdso]" })
	if i < 0 {
		t.Skip("no vDSO mapped")
	}
	p, err := NewResolver().Snapshot(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for a := ms[i].Start; a < ms[i].End; a += 16 {
		if s, _, ok := p.Lookup(a); ok && (len(names) == 0 || names[len(names)-1] != s.Name) {
			if s.Module != "[vdso]" {
				t.Fatalf("vDSO symbol %s in module %q", s.Name, s.Module)
			}
			names = append(names, s.Name)
		}
	}
	if !slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, "clock_gettime") }) {
		t.Errorf("no clock_gettime among the vDSO's symbols %v", names)
	}
}

// startSleep runs a dynamically linked program that stays until killed.
func startSleep(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot run sleep: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Wait until the dynamic loader has mapped libc.
	for range 500 {
		if _, ok := libcMapping(t, cmd.Process.Pid); ok {
			return cmd
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Skip("sleep maps no libc (statically linked?)")
	return nil
}

func libcMapping(t *testing.T, pid int) (procmaps.Mapping, bool) {
	ms, err := procmaps.Read(pid)
	if err != nil {
		return procmaps.Mapping{}, false
	}
	for _, m := range ms {
		if m.Executable() && strings.HasPrefix(filepath.Base(m.Path), "libc") && strings.Contains(m.Path, ".so") {
			return m, true
		}
	}
	return procmaps.Mapping{}, false
}

// libcFunction reads from libc's ELF file the address of one of its
// functions, and every name that symbols at that address have.
func libcFunction(t *testing.T, path, name string) (value, fileOff uint64, names []string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == name && s.Section != elf.SHN_UNDEF {
			value = s.Value
		}
	}
	if value == 0 {
		t.Fatalf("%s has no %s", path, name)
	}
	all, _ := f.Symbols()
	for _, s := range append(all, syms...) {
		if s.Value == value && s.Section != elf.SHN_UNDEF {
			names = append(names, strings.SplitN(s.Name, "@", 2)[0])
		}
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && value >= p.Vaddr && value-p.Vaddr < p.Filesz {
			fileOff = value - p.Vaddr + p.Off
		}
	}
	return value, fileOff, names
}

// TestProcessLookupLibc symbolises an address in another process's libc,
// computed without dlsym: from the function's value in libc's ELF file and
// where the process maps libc. After the process exits, the address still
// resolves from the snapshot.
func TestProcessLookupLibc(t *testing.T) {
	cmd := startSleep(t)
	pid := cmd.Process.Pid
	lm, _ := libcMapping(t, pid)
	_, fileOff, names := libcFunction(t, lm.Path, "getpid")
	ms, _ := procmaps.Read(pid)
	var addr uint64
	for _, m := range ms {
		if m.Path == lm.Path && fileOff >= m.Offset && fileOff-m.Offset < m.End-m.Start {
			addr = m.Start + fileOff - m.Offset
		}
	}
	if addr == 0 {
		t.Fatalf("getpid (file offset %#x) is in no mapping of %s", fileOff, lm.Path)
	}

	r := NewResolver()
	check := func(when string) {
		t.Helper()
		sym, off, ok := r.Lookup(pid, addr+2)
		if !ok || !slices.Contains(names, sym.Name) || off != 2 || sym.Addr != addr || sym.Module != lm.Path {
			t.Errorf("%s: Lookup(%#x) = %+v, %d, %v; want one of %v +2 in %s", when, addr+2, sym, off, ok, names, lm.Path)
		}
	}
	check("running")
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		t.Fatal("process still there")
	}
	check("after exit")

	// uaddr: the file's address without a pid, the process's with one.
	r2 := NewResolver()
	sym, reloc, err := r2.UserAddress(lm.Path+":getpid", 0)
	v, _, _ := libcFunction(t, lm.Path, "getpid")
	if err != nil || sym.Addr != v || !reloc {
		t.Errorf("UserAddress(libc:getpid, 0) = %+v, %v, %v; want %#x relocatable", sym, reloc, err, v)
	}
	if _, _, err := r2.UserAddress(lm.Path+":waggle_no_such_symbol", 0); err == nil || !strings.Contains(err.Error(), "no such symbol") {
		t.Errorf("missing symbol: %v", err)
	}
	if _, _, err := r2.UserAddress(lm.Path+":0x1000", 0); err == nil || !strings.Contains(err.Error(), "want BINARY:SYMBOL") {
		t.Errorf("address: %v", err)
	}
}

func TestUserAddressInProcess(t *testing.T) {
	cmd := startSleep(t)
	pid := cmd.Process.Pid
	r := NewResolver()
	sym, reloc, err := r.UserAddress("libc.so.6:getpid", pid)
	if err != nil {
		t.Fatal(err)
	}
	got, off, ok := r.Lookup(pid, sym.Addr)
	if reloc || !ok || off != 0 || got.Addr != sym.Addr {
		t.Errorf("UserAddress(libc.so.6:getpid, %d) = %#x (reloc %v), which resolves to %+v+%d", pid, sym.Addr, reloc, got, off)
	}
}

func TestELFTableLookup(t *testing.T) {
	tab := &elfTable{syms: []elfSym{
		{start: 0x1000, size: 0x100, name: "outer"},
		{start: 0x1010, size: 0x10, name: "inner"},
		{start: 0x2000, size: 0, name: "label"},
		{start: 0x3000, size: 0x10, name: "weak", rank: 1},
		{start: 0x3000, size: 0x10, name: "global", rank: 0},
		{start: 0x3000, size: 0x8, name: "local", rank: 2},
		{start: 0xfffffffffffffff0, size: 0x100, name: "top"},
	}}
	tab.index()
	for _, tc := range []struct {
		v    uint64
		want string
	}{
		{0xfff, ""}, {0x1000, "outer"}, {0x100f, "outer"}, {0x1010, "inner"}, {0x101f, "inner"},
		{0x1020, "outer"}, {0x10ff, "outer"}, {0x1100, ""}, {0x2000, "label"}, {0x2001, ""},
		{0x3004, "global"}, {0x300c, "global"}, {0x3010, ""}, {0xfffffffffffffffe, "top"},
	} {
		s, ok := tab.lookup(tc.v)
		if got := map[bool]string{true: s.name}[ok]; got != tc.want {
			t.Errorf("lookup(%#x) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestParseStackMode(t *testing.T) {
	for _, m := range []StackMode{ModeBpftrace, ModePerf, ModeRaw} {
		if got, err := ParseStackMode(m.String()); err != nil || got != m {
			t.Errorf("ParseStackMode(%q) = %v, %v", m, got, err)
		}
	}
	if _, err := ParseStackMode("json"); err == nil || err.Error() != `invalid stack mode "json": valid modes are bpftrace, perf and raw` {
		t.Errorf("ParseStackMode(json): %v", err)
	}
}

func BenchmarkProcessLookup(b *testing.B) {
	p, err := NewResolver().Snapshot(os.Getpid())
	if err != nil {
		b.Fatal(err)
	}
	pcs := make([]uint64, 0, 64)
	for _, f := range []any{symbolisedFunction, BenchmarkProcessLookup, TestELFTableLookup, FormatStack, ParseKallsyms, os.Open, strings.Contains, reflect.ValueOf, runtime.Gosched} {
		pcs = append(pcs, uint64(reflect.ValueOf(f).Pointer())+4)
	}
	if _, _, ok := p.Lookup(pcs[0]); !ok {
		b.Fatal("no symbol")
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Lookup(pcs[i%len(pcs)])
	}
}

// TestELFTableSymtab reads a C program's .symtab (the USDT fixture of
// package attach, which is not stripped): functions and objects with their
// sizes, and file offsets turned into virtual addresses.
func TestELFTableSymtab(t *testing.T) {
	tab, err := openELFTable("../../attach/testdata/usdt/usdt_target")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		v    uint64
		want string
		off  uint64
	}{
		{0x1070, "main", 0}, {0x1070 + 223, "main", 223}, {0x1251, "waggle_fire", 1},
		{0x1240, "waggle_kinds", 0}, {0x4038, "origin", 8}, {0x1150 + 34, "", 0},
	} {
		s, ok := tab.lookup(tc.v)
		if got := map[bool]string{true: s.name}[ok]; got != tc.want || ok && tc.v-s.start != tc.off {
			t.Errorf("lookup(%#x) = %q+%d, want %q+%d", tc.v, got, tc.v-s.start, tc.want, tc.off)
		}
	}
	// PIE: code at file offset 0x1000 is at 0x1000; .data at 0x3020 is at 0x4020.
	if v, ok := tab.vaddr(0x1070); !ok || v != 0x1070 {
		t.Errorf("vaddr(0x1070) = %#x, %v", v, ok)
	}
	if v, ok := tab.vaddr(0x3030); !ok || v != 0x4030 {
		t.Errorf("vaddr(0x3030) = %#x, %v", v, ok)
	}
	if o, ok := tab.fileOffset(0x4030); !ok || o != 0x3030 {
		t.Errorf("fileOffset(0x4030) = %#x, %v", o, ok)
	}
	if _, err := readELFTable(strings.NewReader("not an ELF file")); err == nil {
		t.Error("read a text file as ELF")
	}
}
