package attach

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/wagglebpf/waggle/internal/kerneltest"
	"github.com/wagglebpf/waggle/internal/procmaps"
)

// The fixtures are built by testdata/usdt/build.sh from the C sources next
// to them: usdt_target (x86-64, run by the tests), usdt_arm64 and
// usdt_i386 (only parsed).
const usdtDir = "testdata/usdt/"

func usdtFixture(t *testing.T, name string) []USDTProbe {
	t.Helper()
	probes, err := USDTProbes(usdtDir + name)
	if err != nil {
		t.Fatal(err)
	}
	return probes
}

// usdtSummary is what the fixture tests compare: everything but Path and
// the decoded arguments, which have tests of their own.
type usdtSummary struct {
	Provider, Name             string
	PC, Offset, Base           uint64
	Semaphore, SemaphoreOffset uint64
	Arch, ArgSpec              string
	Kinds                      string // of the args, or the error
}

func summarize(probes []USDTProbe) []usdtSummary {
	var out []usdtSummary
	for _, p := range probes {
		s := usdtSummary{p.Provider, p.Name, p.PC, p.Offset, p.Base, p.Semaphore, p.SemaphoreOffset, p.Arch, p.ArgSpec, ""}
		var kinds []string
		for _, a := range p.Args {
			kinds = append(kinds, a.Kind.String())
		}
		s.Kinds = strings.Join(kinds, " ")
		if p.ArgsErr != nil {
			s.Kinds = "error: " + p.ArgsErr.Error()
		}
		out = append(out, s)
	}
	return out
}

func TestUSDTProbesFixtures(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []usdtSummary
	}{
		{"usdt_target", []usdtSummary{
			{"waggle", "kinds", 0x1240, 0x1240, 0x2026, 0, 0, "amd64", "-8@8(%rdi) -1@%sil -2@%dx -4@global_counter(%rip) -4@$42", "mem reg reg mem const"},
			{"waggle", "start", 0x1079, 0x1079, 0x2026, 0, 0, "amd64", "", ""},
			{"waggle", "tick", 0x1250, 0x1250, 0x2026, 0x4044, 0x3044, "amd64", "-4@%edi -8@%rsi 8@%rdx", "reg reg reg"},
		}},
		{"usdt_arm64", []usdtSummary{
			{"waggle", "arm", 0x2101d8, 0x1d8, 0x2001a8, 0x220224, 0x224, "arm64", "-4@[x12] -8@[x11] 8@[x10] -8@[x9] -4@42", "mem mem mem mem const"},
		}},
		{"usdt_i386", []usdtSummary{
			{"waggle", "arm", 0x401143, 0x143, 0x40010c, 0x402190, 0x190, "386", "-4@12(%esp) -4@8(%esp) 4@4(%esp) -4@(%esp) -4@$42",
				"error: usdt arguments of 386 binaries are not supported (amd64 and arm64 are)"},
		}},
	} {
		got := summarize(usdtFixture(t, tc.file))
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.file, got, tc.want)
		}
	}

	// The symbol an argument is addressed through is looked up.
	kinds := usdtFixture(t, "usdt_target")[0]
	if a := kinds.Args[3]; a.Symbol != "global_counter" || a.Reg != "rip" || a.SymbolAddr != 0x4040 {
		t.Errorf("kinds arg3 = %+v, want global_counter(%%rip) at 0x4040", a)
	}
	if got := kinds.String(); got != "usdt:testdata/usdt/usdt_target:waggle:kinds" {
		t.Errorf("String() = %q", got)
	}
}

// TestUSDTProbesPrelinked moves .stapsdt.base away from where the notes
// say it was, as prelink does: probe and semaphore addresses move with it.
func TestUSDTProbesPrelinked(t *testing.T) {
	data, err := os.ReadFile(usdtDir + "usdt_target")
	if err != nil {
		t.Fatal(err)
	}
	// Each note's description starts with pc, base, semaphore; the base is
	// 0x2026 in all of them. Record it as 0x2036: the section is now 0x10
	// below what the notes expect.
	var old, new [8]byte
	binary.LittleEndian.PutUint64(old[:], 0x2026)
	binary.LittleEndian.PutUint64(new[:], 0x2036)
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	sec := f.Section(".note.stapsdt")
	notes := data[sec.Offset : sec.Offset+sec.Size]
	if n := bytes.Count(notes, old[:]); n != 3 {
		t.Fatalf("found the base %d times, want once per note", n)
	}
	copy(notes, bytes.ReplaceAll(notes, old[:], new[:]))
	probes, err := readUSDTProbes(bytes.NewReader(data), "prelinked")
	if err != nil {
		t.Fatal(err)
	}
	tick := probes[2]
	if tick.Base != 0x2036 || tick.PC != 0x1240 || tick.Offset != 0x1240 || tick.Semaphore != 0x4034 || tick.SemaphoreOffset != 0x3034 {
		t.Errorf("prelinked tick: %+v", summarize(probes)[2])
	}
}

func TestUSDTProbesNone(t *testing.T) {
	probes, err := USDTProbes(usdtDir + "../../../testdata/uprobe.bpf.o")
	if err != nil || len(probes) != 0 {
		t.Errorf("a file without notes: %v, %v", probes, err)
	}
	if _, err := USDTProbes(usdtDir + "usdt_target.c"); err == nil {
		t.Error("a C source parsed as ELF")
	}
	if _, err := USDTProbes(usdtDir + "missing"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestParseUSDTArgs(t *testing.T) {
	for _, tc := range []struct {
		spec, arch string
		want       []USDTArg
	}{
		{"", "amd64", nil},
		{"-4@%edi", "amd64", []USDTArg{{Spec: "-4@%edi", Size: -4, Kind: USDTArgReg, Reg: "edi", RegOffset: 112}}},
		{"8@-16(%rbp)", "amd64", []USDTArg{{Spec: "8@-16(%rbp)", Size: 8, Kind: USDTArgMem, Reg: "rbp", RegOffset: 32, Offset: -16}}},
		{"4@$5 -8@%rax", "amd64", []USDTArg{
			{Spec: "4@$5", Size: 4, Kind: USDTArgConst, Value: 5},
			{Spec: "-8@%rax", Size: -8, Kind: USDTArgReg, Reg: "rax", RegOffset: 80}}},
		{"  1@%ah\t2@%r9w  ", "amd64", []USDTArg{
			{Spec: "1@%ah", Size: 1, Kind: USDTArgReg, Reg: "ah", RegOffset: 80, RegShift: 8},
			{Spec: "2@%r9w", Size: 2, Kind: USDTArgReg, Reg: "r9w", RegOffset: 64}}},
		{"-4@$-0x10 8@$0xffffffffffffffff", "amd64", []USDTArg{
			{Spec: "-4@$-0x10", Size: -4, Kind: USDTArgConst, Value: -16},
			{Spec: "8@$0xffffffffffffffff", Size: 8, Kind: USDTArgConst, Value: -1}}},
		{"8@0x10(%rax,%rbx,8) 4@(,%r12,4) 8@(%r15)", "amd64", []USDTArg{
			{Spec: "8@0x10(%rax,%rbx,8)", Size: 8, Kind: USDTArgMem, Reg: "rax", RegOffset: 80, Index: "rbx", IndexOffset: 40, Scale: 8, Offset: 16},
			{Spec: "4@(,%r12,4)", Size: 4, Kind: USDTArgMem, Index: "r12", IndexOffset: 24, Scale: 4},
			{Spec: "8@(%r15)", Size: 8, Kind: USDTArgMem, Reg: "r15", RegOffset: 0}}},
		{"-4@counter+8(%rip) 8@sym", "amd64", []USDTArg{
			{Spec: "-4@counter+8(%rip)", Size: -4, Kind: USDTArgMem, Reg: "rip", RegOffset: 128, Symbol: "counter", Offset: 8},
			{Spec: "8@sym", Size: 8, Kind: USDTArgMem, Symbol: "sym"}}},
		{"%esi", "amd64", []USDTArg{{Spec: "%esi", Size: 4, Kind: USDTArgReg, Reg: "esi", RegOffset: 104}}},
		{"8@x0 -4@w1 8@sp", "arm64", []USDTArg{
			{Spec: "8@x0", Size: 8, Kind: USDTArgReg, Reg: "x0", RegOffset: 0},
			{Spec: "-4@w1", Size: -4, Kind: USDTArgReg, Reg: "w1", RegOffset: 8},
			{Spec: "8@sp", Size: 8, Kind: USDTArgReg, Reg: "sp", RegOffset: 248}}},
		{"4@[sp, 16] -4@[x1] 8@[x29, -8] -4@5 8@#0x20", "arm64", []USDTArg{
			{Spec: "4@[sp, 16]", Size: 4, Kind: USDTArgMem, Reg: "sp", RegOffset: 248, Offset: 16},
			{Spec: "-4@[x1]", Size: -4, Kind: USDTArgMem, Reg: "x1", RegOffset: 8},
			{Spec: "8@[x29, -8]", Size: 8, Kind: USDTArgMem, Reg: "x29", RegOffset: 232, Offset: -8},
			{Spec: "-4@5", Size: -4, Kind: USDTArgConst, Value: 5},
			{Spec: "8@#0x20", Size: 8, Kind: USDTArgConst, Value: 32}}},
	} {
		got, err := ParseUSDTArgs(tc.spec, tc.arch)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseUSDTArgs(%q, %s) =\n %+v, %v\nwant %+v", tc.spec, tc.arch, got, err, tc.want)
		}
	}
}

func TestParseUSDTArgsErrors(t *testing.T) {
	for _, tc := range []struct{ spec, arch, want string }{
		{"4@%edi", "riscv64", "usdt arguments of riscv64 binaries are not supported"},
		{"3@%edi", "amd64", `usdt argument 0 "3@%edi": size 3 is not 1, 2, 4 or 8`},
		{"x@%edi", "amd64", `bad size "x"`},
		{"8@%xyz", "amd64", "unknown register %xyz"},
		{"8@", "amd64", "no operand after '@'"},
		{"4@$", "amd64", "constant: bad number"},
		{"4@$1x", "amd64", "constant: bad number"},
		{"8@%fs:0x28", "amd64", "segment-relative operand"},
		{"8@8(%rbp", "amd64", "does not end with ')'"},
		{"8@8(%al)", "amd64", "%al cannot address memory"},
		{"8@(%rax,%rip)", "amd64", "%rip cannot be an index"},
		{"8@(%rax,%rbx,3)", "amd64", `scale "3" is not 1, 2, 4 or 8`},
		{"8@(%rax,%rbx,2,1)", "amd64", "more than base, index and scale"},
		{"8@sym(%rbp)", "amd64", `symbol "sym" relative to %rbp`},
		{"4@$5 8@()", "amd64", `usdt argument 1 "8@()": memory operand "()" has no registers`},
		{"8@%rax)", "amd64", "unknown register"},
		{"8@x31", "arm64", `unknown register "x31"`},
		{"8@[x1, y]", "arm64", "offset: bad number"},
		{"8@[x1", "arm64", "does not end with ']'"},
		{"8@x01", "arm64", "unknown register"},
		{"8@%rax", "arm64", "unknown register"},
	} {
		_, err := ParseUSDTArgs(tc.spec, tc.arch)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseUSDTArgs(%q, %s): %v, want %q", tc.spec, tc.arch, err, tc.want)
		}
	}
	if off, ok := PtRegsOffset("amd64", "r12d"); !ok || off != 24 {
		t.Errorf("PtRegsOffset(amd64, r12d) = %d, %v", off, ok)
	}
	if off, ok := PtRegsOffset("arm64", "x30"); !ok || off != 240 {
		t.Errorf("PtRegsOffset(arm64, x30) = %d, %v", off, ok)
	}
}

func TestMatchAndFindUSDT(t *testing.T) {
	probes := usdtFixture(t, "usdt_target")
	names := func(ps []USDTProbe) string {
		var s []string
		for _, p := range ps {
			s = append(s, p.Provider+":"+p.Name)
		}
		return strings.Join(s, ",")
	}
	for spec, want := range map[string]string{
		"tick": "waggle:tick", "waggle:tick": "waggle:tick", "*:tick": "waggle:tick",
		"waggle:*": "waggle:kinds,waggle:start,waggle:tick", "t*": "waggle:tick", "*": "waggle:kinds,waggle:start,waggle:tick",
		"other:tick": "", "waggle:": "waggle:kinds,waggle:start,waggle:tick",
	} {
		if got := names(MatchUSDT(probes, spec)); got != want {
			t.Errorf("MatchUSDT(%q) = %s, want %s", spec, got, want)
		}
	}
	abs, _ := filepath.Abs(usdtDir + "usdt_target")
	found, err := FindUSDT(abs, 0, "waggle:tick")
	if err != nil || len(found) != 1 || found[0].Path != abs {
		t.Errorf("FindUSDT = %v, %v", found, err)
	}
	if _, err := FindUSDT(abs, 0, "nope"); err == nil || !strings.Contains(err.Error(), `no probe "nope" in `) ||
		!strings.Contains(err.Error(), "(it has waggle:kinds, waggle:start, waggle:tick)") {
		t.Errorf("FindUSDT(nope): %v", err)
	}
	if _, err := FindUSDT("*", 0, "tick"); err == nil || !strings.Contains(err.Error(), "needs a process") {
		t.Errorf("FindUSDT(*, 0): %v", err)
	}
}

// TestUSDTSystemLibraries reads the probes of the system's C and C++
// libraries. Debian builds libstdc++ with SDT probes (libstdcxx:throw,
// catch, rethrow); glibc has its own (libc:setjmp, libc:memory_*) where it
// was built with systemtap headers, which Debian 12's libc6 was not.
func TestUSDTSystemLibraries(t *testing.T) {
	for _, lib := range []struct{ name, probe string }{
		{"libc.so.6", "libc:setjmp"},
		{"libstdc++.so.6", "libstdcxx:throw"},
	} {
		path, err := ResolveBinary(lib.name, 0)
		if err != nil {
			t.Logf("%s: %v", lib.name, err)
			continue
		}
		probes, err := USDTProbes(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if len(probes) == 0 {
			t.Logf("%s has no USDT probes", path)
			continue
		}
		for _, p := range probes {
			if p.ArgsErr != nil {
				t.Errorf("%s: %v", p, p.ArgsErr)
			}
			if p.Offset == 0 || p.Arch != runtime.GOARCH {
				t.Errorf("%s: offset %#x, arch %s", p, p.Offset, p.Arch)
			}
		}
		found := MatchUSDT(probes, lib.probe)
		if len(found) == 0 {
			t.Errorf("%s: no %s among %s", path, lib.probe, usdtNames(probes))
			continue
		}
		t.Logf("%s: %d probes; %s at %#x: %q", path, len(probes), lib.probe, found[0].Offset, found[0].ArgSpec)
	}
}

// startUSDTTarget runs the x86-64 fixture and waits until it is running.
func startUSDTTarget(t *testing.T, args ...string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("the USDT target is an x86-64 binary")
	}
	cmd := exec.Command(usdtDir+"usdt_target", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Mapped once the loader has mapped the data segment.
	for range 500 {
		if ms, err := procmaps.Read(cmd.Process.Pid); err == nil && len(ms) > 5 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	return cmd, bufio.NewReader(out)
}

func usdtProbe(t *testing.T, name string) USDTProbe {
	t.Helper()
	abs, err := filepath.Abs(usdtDir + "usdt_target")
	if err != nil {
		t.Fatal(err)
	}
	found, err := FindUSDT(abs, 0, name)
	if err != nil {
		t.Fatal(err)
	}
	return found[0]
}

// TestUSDTSemaphoreManual sets a semaphore through /proc/PID/mem, as is
// done where the kernel cannot: the target sees it and reports it.
func TestUSDTSemaphoreManual(t *testing.T) {
	tick := usdtProbe(t, "tick")
	cmd, out := startUSDTTarget(t, "wait")
	pid := cmd.Process.Pid
	if v, err := ReadUSDTSemaphore(pid, tick); err != nil || v != 0 {
		t.Fatalf("semaphore before: %d, %v", v, err)
	}
	if v, err := AddUSDTSemaphore(pid, tick, 1); err != nil || v != 1 {
		t.Fatalf("AddUSDTSemaphore: %d, %v", v, err)
	}
	line, err := out.ReadString('\n')
	if err != nil || line != "semaphore 1\n" {
		t.Errorf("target printed %q, %v", line, err)
	}
	if _, err := AddUSDTSemaphore(pid, usdtProbe(t, "start"), 1); err == nil || !strings.Contains(err.Error(), "has no semaphore") {
		t.Errorf("probe without a semaphore: %v", err)
	}
	if _, err := USDTSemaphoreAddress(os.Getpid(), tick); err == nil || !strings.Contains(err.Error(), "does not map") {
		t.Errorf("process without the file: %v", err)
	}
}

// usdtCounter loads a program that counts its runs in slot 0 of an array
// and stores the register at pt_regs offset regOff in slot 1.
func usdtCounter(t *testing.T, regOff int16) (*ebpf.Program, *ebpf.Map) {
	t.Helper()
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	lookup := func(key int32) asm.Instructions {
		return asm.Instructions{
			asm.StoreImm(asm.RFP, -4, int64(key), asm.Word),
			asm.LoadMapPtr(asm.R1, m.FD()),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -4),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, "out"),
		}
	}
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R7, asm.R6, regOff, asm.DWord),
	}
	insns = append(insns, lookup(0)...)
	insns = append(insns, asm.Mov.Imm(asm.R1, 1), asm.StoreXAdd(asm.R0, asm.R1, asm.DWord))
	insns = append(insns, lookup(1)...)
	insns = append(insns,
		asm.StoreMem(asm.R0, 0, asm.R7, asm.DWord),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	)
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.Kprobe, Instructions: insns, License: "GPL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prog.Close() })
	return prog, m
}

func mapSlot(t *testing.T, m *ebpf.Map, key uint32) uint64 {
	t.Helper()
	var v uint64
	if err := m.Lookup(key, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestAttachUSDTKernel attaches to waggle:tick, whose semaphore the kernel
// sets (ref_ctr_offset), runs the target, which fires the probe five times
// once it sees the semaphore, and reads arg0 (-4@%edi, the fire count)
// from pt_regs at the offset the argument specification gives. Then the
// same with the semaphore set by hand in a running target.
func TestAttachUSDTKernel(t *testing.T) {
	kerneltest.Require(t)
	tick := usdtProbe(t, "tick")
	arg0 := tick.Args[0]
	if arg0.Kind != USDTArgReg || arg0.Reg != "edi" {
		t.Fatalf("tick arg0 = %+v", arg0)
	}

	t.Run("kernel semaphore", func(t *testing.T) {
		if !UprobeRefCtrAvailable() {
			kerneltest.Skip(t, "the kernel has no uprobe ref_ctr_offset (Linux 4.20+)")
		}
		prog, m := usdtCounter(t, int16(arg0.RegOffset))
		l, err := AttachUSDT(prog, tick, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		cmd, out := startUSDTTarget(t)
		line, _ := out.ReadString('\n')
		cmd.Wait()
		if line != "fired 5\n" {
			t.Errorf("target printed %q: the kernel did not set the semaphore", line)
		}
		if n, last := mapSlot(t, m, 0), int32(mapSlot(t, m, 1)); n != 5 || last != 4 {
			t.Errorf("probe ran %d times with last arg0 %d, want 5 and 4", n, last)
		}
	})

	t.Run("manual semaphore", func(t *testing.T) {
		prog, m := usdtCounter(t, int16(arg0.RegOffset))
		cmd, out := startUSDTTarget(t)
		l, err := attachUSDT(prog, tick, cmd.Process.Pid, false)
		if err != nil {
			t.Fatal(err)
		}
		line, _ := out.ReadString('\n')
		cmd.Wait()
		if err := l.Close(); err != nil {
			t.Errorf("Close after the process exited: %v", err)
		}
		if line != "fired 5\n" || mapSlot(t, m, 0) != 5 {
			t.Errorf("target printed %q, probe ran %d times", line, mapSlot(t, m, 0))
		}
		if _, err := attachUSDT(prog, tick, 0, false); err == nil || !strings.Contains(err.Error(), "give a process") {
			t.Errorf("manual semaphore without a pid: %v", err)
		}
	})
}

// FuzzParseStapsdtNotes feeds arbitrary note sections to the note parser.
func FuzzParseStapsdtNotes(f *testing.F) {
	data, err := os.ReadFile(usdtDir + "usdt_target")
	if err != nil {
		f.Fatal(err)
	}
	// The fixture's .note.stapsdt section.
	if i := bytes.Index(data, []byte("stapsdt\x00")); i >= 12 {
		f.Add(data[i-12:min(len(data), i+0x100)], true)
	}
	f.Add([]byte("\x08\x00\x00\x00\x0f\x00\x00\x00\x03\x00\x00\x00stapsdt\x00\x01\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00p\x00n\x00\x00"), false)
	f.Fuzz(func(t *testing.T, data []byte, addr8 bool) {
		size := 4
		if addr8 {
			size = 8
		}
		notes, err := parseStapsdtNotes(data, binary.LittleEndian, size)
		if err != nil {
			return
		}
		for _, n := range notes {
			if n.provider == "" || n.name == "" || strings.ContainsRune(n.provider+n.name+n.args, 0) {
				t.Fatalf("bad note %+v", n)
			}
		}
	})
}

// FuzzParseUSDTArgs checks that the argument parser never panics, and
// that what it accepts is well formed.
func FuzzParseUSDTArgs(f *testing.F) {
	for _, s := range []string{"-4@%edi 8@-16(%rbp)", "4@$5", "8@0x10(%rax,%rbx,8)", "-4@counter+8(%rip)", "%esi",
		"8@x0 -4@w1", "4@[sp, 16] -4@[x1]", "-4@5"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, spec string, arm bool) {
		arch := "amd64"
		if arm {
			arch = "arm64"
		}
		args, err := ParseUSDTArgs(spec, arch)
		if err != nil {
			return
		}
		for _, a := range args {
			switch a.Bytes() {
			case 1, 2, 4, 8:
			default:
				t.Fatalf("%q: size %d", spec, a.Size)
			}
			if a.Kind == USDTArgReg && a.Reg == "" {
				t.Fatalf("%q: register argument without a register", spec)
			}
			if off, ok := PtRegsOffset(arch, a.Reg); a.Reg != "" && (!ok || off != a.RegOffset) {
				t.Fatalf("%q: register %s at %d", spec, a.Reg, a.RegOffset)
			}
		}
	})
}

func TestListUSDTProbes(t *testing.T) {
	bin, err := filepath.Abs(usdtDir + "usdt_target")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ListProbes("usdt:" + bin)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"usdt:" + bin + ":waggle:kinds", "usdt:" + bin + ":waggle:start", "usdt:" + bin + ":waggle:tick"}
	if !slices.Equal(got, want) {
		t.Errorf("ListProbes = %q, want %q", got, want)
	}
	got, err = ListProbes("usdt:" + bin + ":waggle:t*")
	if err != nil || !slices.Equal(got, want[2:]) {
		t.Errorf("ListProbes with a pattern = %q, %v; want %q", got, err, want[2:])
	}
	if _, err := ListProbes("usdt:*"); err == nil || !strings.Contains(err.Error(), "needs a binary") {
		t.Errorf("usdt:* without a binary: %v", err)
	}
	if _, err := ListProbes("usdt:" + bin + ":nosuch"); err == nil || !strings.Contains(err.Error(), "it has") {
		t.Errorf("unknown probe: %v", err)
	}
}
