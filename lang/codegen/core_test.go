package codegen

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// needKernelBTF skips a test that types fields from the running kernel.
func needKernelBTF(t *testing.T) {
	t.Helper()
	if _, err := btf.LoadKernelSpec(); err != nil {
		t.Skipf("no kernel BTF: %v", err)
	}
}

// relocConstants lists the offsets of the relocated instructions.
func relocConstants(p *Program) []int64 {
	var out []int64
	for i := range p.Probes {
		for _, ins := range insns(p, i) {
			if RelocOf(&ins) != nil {
				out = append(out, ins.Constant)
			}
		}
	}
	return out
}

// targetSpec builds a "kernel" whose task_struct has other offsets: pid
// at 100, and se (a sched_entity with on_rq at 12) at 200, tgid missing.
func targetSpec(t *testing.T, withTgid bool) *btf.Spec {
	t.Helper()
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	i32 := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	se := &btf.Struct{Name: "sched_entity", Size: 64, Members: []btf.Member{{Name: "on_rq", Type: u32, Offset: 12 * 8}}}
	members := []btf.Member{{Name: "pid", Type: i32, Offset: 100 * 8}, {Name: "se", Type: se, Offset: 200 * 8}}
	if withTgid {
		members = append(members, btf.Member{Name: "tgid", Type: i32, Offset: 104 * 8})
	}
	task := &btf.Struct{Name: "task_struct", Size: 512, Members: members}
	b, err := btf.NewBuilder([]btf.Type{task}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// TestRelocateFieldOffsets compiles kernel struct accesses against this
// machine's BTF and relocates them for a kernel laid out differently.
func TestRelocateFieldOffsets(t *testing.T) {
	needKernelBTF(t)
	p := compile(t, `BEGIN { printf("%d %d\n", curtask->pid, curtask->se.on_rq); exit(); }`)
	local := relocConstants(p)
	if len(local) != 3 {
		t.Fatalf("%d relocated instructions (%v), want 3: pid, se, se.on_rq", len(local), local)
	}
	// Against the compiling kernel nothing changes.
	kernel, _ := btf.LoadKernelSpec()
	if err := p.Relocate(kernel); err != nil {
		t.Fatal(err)
	}
	if got := relocConstants(p); !slices.Equal(got, local) {
		t.Fatalf("relocating for the same kernel changed %v to %v", local, got)
	}
	if err := p.Relocate(targetSpec(t, false)); err != nil {
		t.Fatal(err)
	}
	if got := relocConstants(p); !slices.Equal(got, []int64{100, 200, 12}) {
		t.Errorf("relocated offsets %v, want [100 200 12]", got)
	}
}

func TestRelocateMissingField(t *testing.T) {
	needKernelBTF(t)
	p := compile(t, `BEGIN { printf("%d\n", curtask->tgid); exit(); }`)
	err := p.Relocate(targetSpec(t, false))
	if err == nil || !strings.Contains(err.Error(), `task_struct has no field "tgid"`) {
		t.Fatalf("relocating a missing field: %v", err)
	}
	p = compile(t, `BEGIN { printf("%d\n", curtask->tgid); exit(); }`)
	if err := p.Relocate(targetSpec(t, true)); err != nil {
		t.Fatal(err)
	}
	if got := relocConstants(p); !slices.Equal(got, []int64{104}) {
		t.Errorf("relocated offsets %v, want [104]", got)
	}
}

// The script's own structs are laid out by the script: no relocation.
func TestScriptStructsNotRelocated(t *testing.T) {
	// next points to the struct being defined: a forward reference to
	// the script's own type.
	p := compile(t, `struct pair { int a; long b; struct pair *next; union { int u; char c[4]; }; };
BEGIN { $p = (struct pair *)0; printf("%d %d %d\n", $p->b, $p->next->next->a, $p->next->c[1]); exit(); }`)
	if got := relocConstants(p); len(got) != 0 {
		t.Errorf("script struct relocated: %v", got)
	}
}
