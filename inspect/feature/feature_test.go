package feature

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/rlimit"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/internal/kerneltest"
)

func find(t *testing.T, answers []Answer, name string) Answer {
	t.Helper()
	for _, a := range answers {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no answer for %s in %+v", name, answers)
	return Answer{}
}

// load is an independent probe: it loads a program the test writes
// itself and reports whether the kernel took it.
func load(spec ebpf.ProgramSpec) error {
	spec.License = "GPL"
	if spec.Instructions == nil {
		spec.Instructions = asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}
	}
	p, err := ebpf.NewProgram(&spec)
	if err == nil {
		p.Close()
	}
	return err
}

// TestProbeAgreesWithThisMachine checks answers against facts of this
// machine found another way: programs and maps the test creates itself,
// files the kernel exposes, sysctls.
func TestProbeAgreesWithThisMachine(t *testing.T) {
	kerneltest.Require(t)
	if err := rlimit.RemoveMemlock(); err != nil {
		t.Fatal(err)
	}
	r, err := Probe(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Kernel == "" || r.Machine == "" {
		t.Errorf("kernel %q machine %q", r.Kernel, r.Machine)
	}

	// Program and map types against loads and creations of our own.
	for _, c := range []struct {
		name string
		spec ebpf.ProgramSpec
	}{
		{"xdp", ebpf.ProgramSpec{Type: ebpf.XDP}},
		{"socket_filter", ebpf.ProgramSpec{Type: ebpf.SocketFilter}},
		{"sched_cls", ebpf.ProgramSpec{Type: ebpf.SchedCLS}},
		{"tracepoint", ebpf.ProgramSpec{Type: ebpf.TracePoint}},
	} {
		a := find(t, r.ProgramTypes, c.name)
		if err := load(c.spec); (err == nil) != (a.Status == Yes) {
			t.Errorf("program type %s: answered %+v, but loading one gave %v", c.name, a, err)
		}
	}
	if a := find(t, r.ProgramTypes, "xdp"); a.Status != Yes {
		t.Errorf("xdp programs load on every kernel waggle tests on: %+v", a)
	}
	rb, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.RingBuf, MaxEntries: 4096})
	if err == nil {
		rb.Close()
	}
	if a := find(t, r.MapTypes, "ringbuf"); (err == nil) != (a.Status == Yes) {
		t.Errorf("ringbuf: answered %+v, creating one gave %v", a, err)
	}
	if len(r.MapTypes) < 30 || len(r.ProgramTypes) < 30 {
		t.Errorf("%d map types and %d program types answered", len(r.MapTypes), len(r.ProgramTypes))
	}

	// kprobes: the probe attaches for real; the files say whether the
	// kernel can create kprobes at all.
	kp := find(t, r.Attach, "kprobe")
	_, pmu := os.Stat("/sys/bus/event_source/devices/kprobe/type")
	_, events := os.Stat(filepath.Join(attach.TracefsPath, "kprobe_events"))
	haveKprobes := pmu == nil || events == nil
	switch {
	case haveKprobes && kp.Status != Yes:
		t.Errorf("the kernel has kprobes, but the answer is %+v", kp)
	case !haveKprobes && (kp.Status != No || !strings.Contains(kp.Reason, "CONFIG_KPROBES")):
		t.Errorf("the kernel has no kprobes (as on waggle's test machine); the answer is %+v", kp)
	}

	// fentry: a load of our own decides.
	fe := find(t, r.Attach, "fentry")
	ferr := load(ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceFEntry, AttachTo: "bpf_fentry_test1"})
	if (ferr == nil) != (fe.Status == Yes) {
		t.Errorf("fentry: answered %+v, loading one gave %v", fe, ferr)
	}
	if ferr != nil && fe.Reason == "" {
		t.Errorf("fentry: no reason for %+v", fe)
	}

	// The JIT: bpf_jit_enable says whether programs are compiled.
	jit := find(t, r.System, "jit")
	if v, _ := sysctl("net/core/bpf_jit_enable"); (v == "1" || v == "2") != (jit.Status == Yes) {
		t.Errorf("bpf_jit_enable=%s, but jit is %+v", v, jit)
	}
	un := find(t, r.System, "unprivileged_bpf")
	if v, _ := sysctl("kernel/unprivileged_bpf_disabled"); (v == "0") != (un.Status == Yes) {
		t.Errorf("unprivileged_bpf_disabled=%s, but unprivileged_bpf is %+v", v, un)
	}
	if a := find(t, r.BTF, "vmlinux"); a.Status != Yes {
		if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err == nil {
			t.Errorf("vmlinux BTF is there, but the answer is %+v", a)
		}
	}

	// The ISA level against a v4 instruction (a 32-bit jump offset) of
	// our own.
	v4 := load(ebpf.ProgramSpec{Type: ebpf.SocketFilter, Instructions: asm.Instructions{
		asm.Mov.Imm(asm.R0, 0),
		asm.JEq.Imm(asm.R0, 1, "one"),
		asm.LongJump("exit"),
		asm.Mov.Imm(asm.R0, 1).WithSymbol("one"),
		asm.Return().WithSymbol("exit"),
	}})
	if isa := find(t, r.Instructions, "isa"); (v4 == nil) != (isa.Value == "v4") {
		t.Errorf("isa %+v, but a gotol program loads: %v", isa, v4)
	}

	// The probes cleaned up after themselves: no cgroup left behind.
	if root, err := attach.CgroupV2Root(); err == nil {
		if left, _ := filepath.Glob(filepath.Join(root, "waggle-feature-*")); len(left) > 0 {
			t.Errorf("cgroups left behind: %v", left)
		}
	}

	// Every answer that is not yes says why.
	for _, s := range [][]Answer{r.System, r.BTF, r.ProgramTypes, r.MapTypes, r.Attach, r.Instructions} {
		for _, a := range s {
			if a.Status != Yes && a.Reason == "" {
				t.Errorf("%s is %s without a reason", a.Name, a.Status)
			}
			if a.Status != Yes && a.Status != No && a.Status != Unknown {
				t.Errorf("%s: answer %q", a.Name, a.Status)
			}
		}
	}
	if _, err := json.Marshal(r); err != nil {
		t.Error(err)
	}
}

// TestHelpersAgreeWithCilium compares every helper of a few program types
// with cilium/ebpf's own probe, which is written independently: both must
// say yes for the same helpers.
func TestHelpersAgreeWithCilium(t *testing.T) {
	kerneltest.Require(t)
	types := []string{"xdp", "kprobe", "sched_cls", "cgroup_sock_addr", "syscall"}
	r, err := Probe(Options{Sections: []string{"helpers"}, ProgramTypes: types})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Helpers) != len(types) || r.System != nil || r.Attach != nil {
		t.Fatalf("asked for the helpers of %d types, got %+v", len(types), r)
	}
	for _, l := range r.Helpers {
		pt, _ := programTypeByName(l.ProgramType)
		if l.Status != Yes {
			t.Errorf("%s: %s (%s)", l.ProgramType, l.Status, l.Reason)
			continue
		}
		for i, h := range l.Helpers {
			fn := asm.BuiltinFunc(i + 1)
			cerr := features.HaveProgramHelper(pt, fn)
			if errors.Is(cerr, ebpf.ErrNotSupported) || cerr == nil {
				if (cerr == nil) != (h.Status == Yes) {
					t.Errorf("%s %s: answered %+v, cilium/ebpf says %v", l.ProgramType, h.Name, h, cerr)
				}
			}
			if h.Status != Yes && h.Reason == "" {
				t.Errorf("%s %s: %s without a reason", l.ProgramType, h.Name, h.Status)
			}
		}
	}
	xdp := r.Helpers[0]
	if a := find(t, xdp.Helpers, "bpf_xdp_adjust_head"); a.Status != Yes {
		t.Errorf("xdp bpf_xdp_adjust_head: %+v", a)
	}
	if a := find(t, xdp.Helpers, "bpf_skb_load_bytes"); a.Status != No || a.Reason != "not allowed in this program type" {
		t.Errorf("xdp bpf_skb_load_bytes: %+v", a)
	}
}

func TestSectionNames(t *testing.T) {
	for in, want := range map[string]string{
		"system": "system", "prog-types": "program_types", "PROGRAM_TYPES": "program_types",
		"maps": "map_types", "isa": "instructions", "helpers": "helpers",
	} {
		if got, err := SectionName(in); err != nil || got != want {
			t.Errorf("SectionName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := SectionName("bogus"); err == nil || !strings.Contains(err.Error(), "the sections are system, btf") {
		t.Errorf("SectionName(bogus): %v", err)
	}
	if _, err := Probe(Options{ProgramTypes: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), `no program type "nope": the types are socket_filter`) {
		t.Errorf("Probe with an unknown program type: %v", err)
	}
	if pt, ok := programTypeByName("cgroup-skb"); !ok || pt != ebpf.CGroupSKB {
		t.Errorf("programTypeByName(cgroup-skb) = %v, %v", pt, ok)
	}
}

func TestParseVersionCode(t *testing.T) {
	for in, want := range map[string]uint32{
		"6.18.44-fc-v769":   6<<16 | 18<<8 | 44,
		"5.4.0-150-generic": 5<<16 | 4<<8,
		"4.19.300":          4<<16 | 19<<8 | 255,
		"6.1":               6<<16 | 1<<8,
		"garbage":           0,
	} {
		if got := versionCode(in); got != want {
			t.Errorf("versionCode(%q) = %#x, want %#x", in, got, want)
		}
	}
}
