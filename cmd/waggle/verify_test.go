package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/internal/pcap"
	"github.com/wagglebpf/waggle/verifier"
)

// verifyJSON is what waggle verify -o json prints per program.
type verifyJSON struct {
	Program        string `json:"program"`
	Section        string `json:"section"`
	Type           string `json:"type"`
	Insns          int    `json:"insns"`
	Accepted       bool   `json:"accepted"`
	InsnsProcessed int    `json:"insns_processed"`
	MaxStackDepth  int    `json:"max_stack_depth"`
	ContextBytes   int    `json:"context_bytes"`
	Error          string `json:"error"`
	Rejection      *struct {
		Insn   int    `json:"insn"`
		Disasm string `json:"disasm"`
		Source string `json:"source"`
		Reason string `json:"reason"`
		Path   []int  `json:"path"`
		Regs   string `json:"regs"`
	} `json:"rejection"`
}

func parseVerifyJSON(t *testing.T, r result) []verifyJSON {
	t.Helper()
	var out []verifyJSON
	for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		var v verifyJSON
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %q is not a JSON object: %v\n%s", line, err, r)
		}
		out = append(out, v)
	}
	return out
}

// writeBytecode writes insns as raw bytecode and returns the file's path.
func writeBytecode(t *testing.T, name string, insns asm.Instructions) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, bytecode(t, insns), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerifyAccepted(t *testing.T) {
	r := waggle(t, "verify", fixture("openat_perf.bpf.o"))
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	re := regexp.MustCompile(`^trace_openat_perf \(tracepoint\): accepted, [1-9][0-9]* instructions processed, stack [0-9]+ bytes\n$`)
	if !re.MatchString(r.stdout) || r.stderr != "" {
		t.Errorf("want one line matching %s\n%s", re, r)
	}

	r = waggle(t, "verify", fixture("openat_perf.bpf.o"), "-o", "json")
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	res := parseVerifyJSON(t, r)
	if len(res) != 1 {
		t.Fatalf("%d objects, want 1\n%s", len(res), r)
	}
	v := res[0]
	if v.Program != "trace_openat_perf" || v.Type != "tracepoint" || v.Section != "tracepoint/syscalls/sys_enter_openat" ||
		!v.Accepted || v.InsnsProcessed == 0 || v.Insns == 0 || v.ContextBytes == 0 || v.Rejection != nil || v.Error != "" {
		t.Errorf("JSON %+v\n%s", v, r)
	}
}

func TestVerifyRejected(t *testing.T) {
	r := waggle(t, "verify", fixture("reject.bpf.o"))
	if r.code != 1 {
		t.Fatalf("want exit 1\n%s", r)
	}
	lines := strings.Split(r.stdout, "\n")
	if len(lines) < 5 || !regexp.MustCompile(`^bad_deref \(tracepoint\): rejected`).MatchString(lines[0]) ||
		!strings.HasPrefix(lines[1], "  insn 7: r1 = *(u64 *)(r0 +0)") ||
		lines[2] != "  ; *v += 1; /* no NULL check */" ||
		!strings.Contains(lines[3], "NULL") || !strings.Contains(lines[3], "bpf_map_lookup_elem") ||
		!strings.HasPrefix(lines[4], "  registers: r0=") {
		t.Errorf("rejection block\n%s", r)
	}
	if !strings.Contains(r.stderr, "1 of 1 program rejected by the verifier") {
		t.Errorf("stderr lacks the summary\n%s", r)
	}

	r = waggle(t, "verify", fixture("reject.bpf.o"), "-o", "json")
	if r.code != 1 {
		t.Fatalf("want exit 1\n%s", r)
	}
	res := parseVerifyJSON(t, r)
	if len(res) != 1 || res[0].Accepted || res[0].Rejection == nil {
		t.Fatalf("JSON %+v\n%s", res, r)
	}
	rej := res[0].Rejection
	if res[0].Program != "bad_deref" || rej.Insn != 7 || !strings.Contains(rej.Reason, "NULL") ||
		!strings.Contains(rej.Reason, "bpf_map_lookup_elem") || rej.Source == "" || rej.Disasm == "" || rej.Regs == "" {
		t.Errorf("JSON rejection %+v\n%s", rej, r)
	}
}

func TestVerifyProg(t *testing.T) {
	r := waggle(t, "verify", fixture("three.bpf.o"), "--prog", "tp_close")
	if r.code > 1 || !strings.HasPrefix(r.stdout, "tp_close (tracepoint): ") ||
		strings.Contains(r.stdout, "tp_exec") || strings.Contains(r.stdout, "tp_openat") {
		t.Errorf("--prog tp_close\n%s", r)
	}
	// Without --prog, every program, in name order.
	r = waggle(t, "verify", fixture("three.bpf.o"), "-o", "json")
	var names []string
	for _, v := range parseVerifyJSON(t, r) {
		names = append(names, v.Program)
	}
	if got := strings.Join(names, " "); got != "tp_close tp_exec tp_openat" {
		t.Errorf("programs %q\n%s", got, r)
	}
	r = waggle(t, "verify", fixture("three.bpf.o"), "--prog", "nope")
	if r.code != 1 || !strings.Contains(r.stderr, `no program "nope"; it has: tp_close, tp_exec, tp_openat`) {
		t.Errorf("unknown --prog\n%s", r)
	}
}

func TestVerifyType(t *testing.T) {
	r := waggle(t, "verify", fixture("reject.bpf.o"), "--type", "kprobe")
	if r.code != 1 || !strings.HasPrefix(r.stdout, "bad_deref (kprobe): rejected") {
		t.Errorf("--type kprobe\n%s", r)
	}
	r = waggle(t, "verify", fixture("reject.bpf.o"), "--type", "nonsense")
	if r.code != 1 || r.stdout != "" {
		t.Fatalf("--type nonsense\n%s", r)
	}
	for _, want := range []string{"--type nonsense: unknown program type", "xdp", "sched_cls (tc)", "socket_filter (socket)", "tracepoint", "raw_tracepoint", "cgroup_skb"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("--type nonsense: stderr lacks %q\n%s", want, r)
		}
	}
}

func TestParseProgType(t *testing.T) {
	for in, want := range map[string]ebpf.ProgramType{
		"xdp": ebpf.XDP, "XDP": ebpf.XDP, "socket": ebpf.SocketFilter, "socket_filter": ebpf.SocketFilter,
		"SocketFilter": ebpf.SocketFilter, "tc": ebpf.SchedCLS, "sched_cls": ebpf.SchedCLS, "SchedCLS": ebpf.SchedCLS,
		"classifier": ebpf.SchedCLS, "tcx/ingress": ebpf.SchedCLS, "kprobe": ebpf.Kprobe, "uretprobe": ebpf.Kprobe,
		"kprobe/do_sys_openat2": ebpf.Kprobe, "tracepoint": ebpf.TracePoint, "tp": ebpf.TracePoint,
		"tracepoint/syscalls/sys_enter_openat": ebpf.TracePoint, "raw_tp": ebpf.RawTracepoint,
		"raw_tracepoint": ebpf.RawTracepoint, "perf_event": ebpf.PerfEvent, "cgroup_skb": ebpf.CGroupSKB,
		"cgroup/skb": ebpf.CGroupSKB, "cgroup/connect4": ebpf.CGroupSockAddr, "fentry/do_unlinkat": ebpf.Tracing,
		"?xdp": ebpf.XDP, "lsm.s/file_open": ebpf.LSM,
	} {
		got, err := parseProgType(in)
		if err != nil || got != want {
			t.Errorf("parseProgType(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	// Every name progTypeName prints reads back.
	for _, n := range progTypeNames {
		if got, err := parseProgType(progTypeName(n.t)); err != nil || got != n.t {
			t.Errorf("%s: %v, %v", progTypeName(n.t), got, err)
		}
	}
	if _, err := parseProgType("tracepoints"); err == nil {
		t.Error("tracepoints: no error")
	}
}

// branchy is a tracepoint program rejected on one path only: it reads an
// uninitialised register after two branch decisions on a value from its
// context.
var branchy = asm.Instructions{
	asm.LoadMem(asm.R2, asm.R1, 8, asm.DWord),        // 0
	asm.JGT.Imm(asm.R2, 10, "big"),                   // 1
	asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),         // 2
	asm.Return(),                                     // 3
	asm.JNE.Imm(asm.R2, 20, "out").WithSymbol("big"), // 4
	asm.Mov.Reg(asm.R0, asm.R5),                      // 5: r5 was never set
	asm.Return(),                                     // 6
}

func TestVerifyRawBytecode(t *testing.T) {
	// A socket filter keeping skb->len bytes.
	sock := bytecode(t, asm.Instructions{asm.LoadMem(asm.R0, asm.R1, 0, asm.Word), asm.Return()})
	dir := t.TempDir()
	bin := filepath.Join(dir, "sock.bin")
	os.WriteFile(bin, sock, 0o644)
	hexFile := filepath.Join(dir, "sock.hex")
	os.WriteFile(hexFile, []byte(fmt.Sprintf("%x\n", sock)), 0o644)
	for _, prog := range []string{bin, hexFile} {
		r := waggle(t, "verify", prog, "--type", "socket")
		name := filepath.Base(prog)
		if r.code != 0 || !strings.HasPrefix(r.stdout, name+" (socket_filter): accepted, 2 instructions processed, stack 0 bytes\n") {
			t.Errorf("%s\n%s", prog, r)
		}
	}
	r := waggle(t, "verify", bin, "--type", "socket", "--unprivileged", "-o", "json")
	if res := parseVerifyJSON(t, r); r.code != 0 || !res[0].Accepted || res[0].ContextBytes != 4 || res[0].Insns != 2 {
		t.Errorf("--unprivileged -o json\n%s", r)
	}
	r = waggle(t, "verify", bin)
	if r.code != 1 || !strings.Contains(r.stderr, "raw bytecode, which does not say its program type: pass --type") {
		t.Errorf("raw bytecode without --type\n%s", r)
	}
	r = waggle(t, "verify", bin, "--type", "socket", "--prog", "x")
	if r.code != 1 || !strings.Contains(r.stderr, "--prog x:") {
		t.Errorf("raw bytecode with --prog\n%s", r)
	}

	// The path names the two decisions: 1 jumped to 4, 4 fell through.
	prog := writeBytecode(t, "branchy.bin", branchy)
	r = waggle(t, "verify", prog, "--type", "tracepoint")
	want := "branchy.bin (tracepoint): rejected, "
	if r.code != 1 || !strings.HasPrefix(r.stdout, want) || !strings.Contains(r.stdout, "\n  insn 5: r0 = r5\n") ||
		!strings.Contains(r.stdout, "\n  path: insn 1 -> 4, insn 4 -> 5\n") || !strings.Contains(r.stdout, "r5") {
		t.Errorf("branchy\n%s", r)
	}
	r = waggle(t, "verify", prog, "--type", "tracepoint", "-o", "json")
	if res := parseVerifyJSON(t, r); res[0].Rejection == nil || fmt.Sprint(res[0].Rejection.Path) != "[4 5]" {
		t.Errorf("branchy JSON path\n%s", r)
	}
}

func TestVerifyVerbose(t *testing.T) {
	r := waggle(t, "verify", fixture("reject.bpf.o"), "-v")
	if r.code != 1 {
		t.Fatalf("want exit 1\n%s", r)
	}
	insn := regexp.MustCompile(`(?m)^[0-9]+: `)
	if n := len(insn.FindAllString(r.stdout, -1)); n < 5 || !strings.HasPrefix(r.stdout, "bad_deref (tracepoint): 12 instructions\n") ||
		!strings.Contains(r.stdout, "\nbad_deref (tracepoint): rejected") {
		t.Errorf("-v: %d instruction lines\n%s", n, r)
	}
	// With -o json the analysis goes to stderr and stdout stays JSON.
	r = waggle(t, "verify", fixture("reject.bpf.o"), "-v", "-o", "json")
	if res := parseVerifyJSON(t, r); len(res) != 1 || len(insn.FindAllString(r.stderr, -1)) < 5 {
		t.Errorf("-v -o json\n%s", r)
	}
}

func TestVerifyBadInput(t *testing.T) {
	dir := t.TempDir()
	odd := filepath.Join(dir, "odd.bin")
	os.WriteFile(odd, []byte{1, 2, 3}, 0o644)
	elf := filepath.Join(dir, "bad.o")
	os.WriteFile(elf, []byte("\x7fELF not really an object"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{filepath.Join(dir, "missing.o")}, "no such file"},
		{[]string{odd, "--type", "xdp"}, "not a whole number of 8-byte instructions"},
		{[]string{elf}, "not a usable BPF object"},
		{[]string{fixture("reject.bpf.o"), "-o", "yaml"}, "-o yaml: expected text or json"},
	} {
		r := waggle(t, append([]string{"verify"}, c.args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: want exit 1 and one line with %q\n%s", c.args, c.want, r)
		}
	}
}

// The VM refuses what the verifier rejects, unless --no-verify.
func TestVMRunVerifierGate(t *testing.T) {
	r := waggle(t, "vm", "run", fixture("reject.bpf.o"))
	if r.code != 1 || !strings.Contains(r.stderr, "not run: waggle's verifier rejected the program (--no-verify") ||
		!strings.Contains(r.stderr, "\nbad_deref (tracepoint): rejected") || !strings.Contains(r.stderr, "bpf_map_lookup_elem") ||
		r.stdout != "" {
		t.Errorf("vm run of a rejected program\n%s", r)
	}
	// Unverified, it runs, and the interpreter stops the NULL dereference
	// the verifier saw coming.
	r = waggle(t, "vm", "run", fixture("reject.bpf.o"), "--no-verify")
	if r.code != 1 || !strings.Contains(r.stderr, "vm: pc 7: out-of-bounds 8-byte load") || strings.Contains(r.stderr, "verifier") {
		t.Errorf("vm run --no-verify\n%s", r)
	}

	// Raw bytecode needs a type to be verified as.
	prog := writeBytecode(t, "branchy.bin", branchy)
	r = waggle(t, "vm", "run", prog)
	if r.code != 1 || !strings.Contains(r.stderr, "pass --type") || !strings.Contains(r.stderr, "--no-verify") {
		t.Errorf("raw bytecode without --type\n%s", r)
	}
	r = waggle(t, "vm", "run", prog, "--type", "tracepoint")
	if r.code != 1 || !strings.Contains(r.stderr, "\n  path: insn 1 -> 4, insn 4 -> 5") {
		t.Errorf("rejected raw bytecode\n%s", r)
	}
	r = waggle(t, "vm", "run", prog, "--type", "nope")
	if r.code != 1 || !strings.Contains(r.stderr, "--type nope: unknown program type") {
		t.Errorf("bad --type\n%s", r)
	}
}

// A verified program gets at least the context the verifier proved it may
// read: a tracepoint program reading bytes 104-111 of an 8-byte record reads a
// zero, where the unverified run faults.
func TestVMRunContextPadding(t *testing.T) {
	prog := writeBytecode(t, "ctx100.bin", asm.Instructions{
		asm.LoadMem(asm.R0, asm.R1, 104, asm.DWord),
		asm.Return(),
	})
	rec := filepath.Join(t.TempDir(), "rec.bin")
	os.WriteFile(rec, []byte{1, 2, 3, 4, 5, 6, 7, 8}, 0o644)
	r := waggle(t, "vm", "run", prog, "--type", "tracepoint", "--ctx", rec)
	if r.code != 0 || !strings.Contains(r.stdout, "r0: 0x0 (0)\n") {
		t.Errorf("verified run\n%s", r)
	}
	r = waggle(t, "vm", "run", prog, "--no-verify", "--ctx", rec)
	if r.code != 1 || !strings.Contains(r.stderr, "out-of-bounds 8-byte load") {
		t.Errorf("unverified run\n%s", r)
	}
}

func TestVMTestVerifierGate(t *testing.T) {
	capture := writeCapture(t, pcap.LinkTypeEthernet, testFrames()...)
	// Reads the packet without checking data_end.
	prog := writeBytecode(t, "nocheck.bin", asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.LoadMem(asm.R0, asm.R2, 45, asm.Byte),
		asm.Mov.Imm(asm.R0, 2),
		asm.Return(),
	})
	r := waggle(t, "vm", "test", prog, "--type", "xdp", "--pcap", capture)
	if r.code != 1 || !strings.Contains(r.stderr, "nocheck.bin (xdp): rejected") || r.stdout != "" {
		t.Errorf("vm test of a rejected program\n%s", r)
	}
	r = waggle(t, "vm", "test", prog, "--type", "xdp", "--pcap", capture, "--no-verify")
	if r.code != 0 || !strings.Contains(r.stdout, "errors: 2\n") {
		t.Errorf("vm test --no-verify\n%s", r)
	}
}

// FuzzVerifyBytecode feeds raw bytecode (or hex text) through what waggle
// verify does with it: decoding, the verifier as a socket filter and as an
// XDP program, and the rejection block with its path.
func FuzzVerifyBytecode(f *testing.F) {
	f.Add(bytecodeOf(f, branchy))
	f.Add(bytecodeOf(f, asm.Instructions{asm.LoadMem(asm.R0, asm.R1, 0, asm.Word), asm.Return()}))
	f.Add(bytecodeOf(f, asm.Instructions{asm.JEq.Imm(asm.R1, 0, "x"), asm.Ja.Label("x"), asm.Return().WithSymbol("x")}))
	f.Add([]byte("b7 00 00 00 00 00 00 00 95 00 00 00 00 00 00 00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := parseBPFFile("fuzz.bin", data)
		if err != nil {
			return
		}
		insns, err := file.instructions()
		if err != nil {
			return
		}
		for _, typ := range []ebpf.ProgramType{ebpf.SocketFilter, ebpf.XDP} {
			rep, err := verifyOne(verifyTarget{name: "fuzz", typ: typ, insns: insns}, verifier.Options{MaxInsnsProcessed: 10_000})
			if err != nil {
				continue
			}
			if !rep.Accepted {
				var b strings.Builder
				writeRejection(&b, "fuzz", typ, rep, insns)
				if !strings.Contains(b.String(), "fuzz ("+progTypeName(typ)+"): rejected") {
					t.Fatalf("rejection block:\n%s", b.String())
				}
			}
		}
	})
}

func bytecodeOf(f *testing.F, insns asm.Instructions) []byte {
	var b bytes.Buffer
	if err := insns.Marshal(&b, binary.LittleEndian); err != nil {
		f.Fatal(err)
	}
	return b.Bytes()
}
