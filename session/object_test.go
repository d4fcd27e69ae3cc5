package session

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/wagglebpf/waggle/attach"
	"golang.org/x/sys/unix"
)

func TestLoadObject(t *testing.T) {
	spec, err := LoadObject(fixture("openat.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	if ps := spec.Programs["trace_openat"]; ps == nil || ps.SectionName != "tracepoint/syscalls/sys_enter_openat" {
		t.Errorf("programs = %v", programNames(spec))
	}
	if spec.Maps["counts"] == nil || spec.Maps["events"] == nil {
		t.Errorf("maps missing: %v", spec.Maps)
	}
	if spec.Variables["target_pid"] == nil {
		t.Error("variable target_pid missing")
	}
}

func TestLoadObjectErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadObject(filepath.Join(dir, "missing.o"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}

	for name, content := range map[string]string{
		"empty.o":  "",
		"text.o":   "int main(void) { return 0; }\n",
		"short.o":  "\x7fEL",
		"script.o": "#!/bin/sh\necho hi\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadObject(path)
		if err == nil || !strings.Contains(err.Error(), path+" is not an ELF object file") || !strings.Contains(err.Error(), "clang -target bpf") {
			t.Errorf("%s: error %v", name, err)
		}
	}
	if _, err := LoadObject(dir); err == nil {
		t.Error("a directory loaded as an object")
	}

	// A real ELF file that is not BPF.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadObject(self); err == nil || !strings.Contains(err.Error(), "not a usable BPF object") {
		t.Errorf("non-BPF ELF: %v", err)
	}
}

func TestLoadObjectTruncated(t *testing.T) {
	for _, name := range []string{"openat.bpf.o", "optional.bpf.o", "uprobe.bpf.o"} {
		data, err := os.ReadFile(fixture(name))
		if err != nil {
			t.Fatal(err)
		}
		n := len(data)
		for _, cut := range []int{4, 16, 52, 63, 64, 65, 200, n / 4, n / 3, n / 2, 2 * n / 3, n - 64, n - 1} {
			path := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(path, data[:cut], 0o644); err != nil {
				t.Fatal(err)
			}
			spec, err := LoadObject(path)
			if err == nil {
				t.Errorf("%s cut at %d of %d bytes: loaded %d programs", name, cut, n, len(spec.Programs))
				continue
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("%s cut at %d: error does not name the file: %v", name, cut, err)
			}
		}
	}
}

// A corrupt header can claim a huge .bss; cilium/ebpf would allocate all
// of it, so LoadObject refuses first.
func TestLoadObjectHugeBSS(t *testing.T) {
	data, err := os.ReadFile(fixture("openat.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	idx := -1
	for i, s := range ef.Sections {
		if s.Name == ".bss" && s.Type == elf.SHT_NOBITS {
			idx = i
		}
	}
	if idx < 0 || ef.Class != elf.ELFCLASS64 {
		t.Fatal("openat.bpf.o has no .bss section")
	}
	shoff := binary.LittleEndian.Uint64(data[0x28:])
	shentsize := uint64(binary.LittleEndian.Uint16(data[0x3a:]))
	sizeAt := shoff + uint64(idx)*shentsize + 32 // Elf64_Shdr.sh_size
	for _, size := range []uint64{0xffffffff, 1 << 40} {
		binary.LittleEndian.PutUint64(data[sizeAt:], size)
		path := filepath.Join(t.TempDir(), "huge.bpf.o")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadObject(path)
		if err == nil || !strings.Contains(err.Error(), "section .bss claims") || !strings.Contains(err.Error(), "malformed") {
			t.Errorf(".bss of %d bytes: %v", size, err)
		}
	}
	// Past what debug/elf accepts at all.
	binary.LittleEndian.PutUint64(data[sizeAt:], 1<<63+5)
	path := filepath.Join(t.TempDir(), "huge.bpf.o")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadObject(path); err == nil {
		t.Error("a .bss of 2^63 bytes loaded")
	}
}

// fakeProbe answers ProbeTracing's question without a kernel and records
// what it was asked.
type fakeProbe struct {
	unsupported map[attach.Kind]error
	calls       []string
}

func (f *fakeProbe) probe(kind attach.Kind, name string) error {
	f.calls = append(f.calls, kind.String()+":"+name)
	return f.unsupported[kind]
}

func noProbe(t *testing.T) func(attach.Kind, string) error {
	return func(kind attach.Kind, name string) error {
		t.Errorf("unexpected probe of %s %s", kind, name)
		return nil
	}
}

func targetNames(p *Plan) []string {
	var names []string
	for n := range p.Targets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func TestMakePlanTracepoint(t *testing.T) {
	spec := loadSpec(t, "openat.bpf.o")
	plan, err := MakePlan(spec, PlanOptions{Probe: noProbe(t)})
	if err != nil {
		t.Fatal(err)
	}
	want := attach.Target{Kind: attach.KindTracepoint, Section: "tracepoint/syscalls/sys_enter_openat", Group: "syscalls", Name: "sys_enter_openat"}
	if got := plan.Targets["trace_openat"]; !reflect.DeepEqual(got, want) {
		t.Errorf("target = %+v, want %+v", got, want)
	}
	if len(plan.Targets) != 1 || len(plan.Notes) != 0 {
		t.Errorf("plan = %+v", plan)
	}
}

func TestMakePlanOnlySkip(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       PlanOptions
		want       []string
		wantErr    string
		wantInNote string
	}{
		{name: "default", want: []string{"always"}, wantInNote: "maybe: section ?tracepoint/syscalls/sys_enter_openat is not loaded by default (name it with --only)"},
		{name: "only optional", opts: PlanOptions{Only: []string{"maybe"}}, want: []string{"maybe"}},
		{name: "only both", opts: PlanOptions{Only: []string{"always", "maybe"}}, want: []string{"always", "maybe"}},
		{name: "only always", opts: PlanOptions{Only: []string{"always"}}, want: []string{"always"}},
		{name: "skip optional", opts: PlanOptions{Skip: []string{"maybe"}}, want: []string{"always"}},
		{name: "only and skip", opts: PlanOptions{Only: []string{"always", "maybe"}, Skip: []string{"always"}}, want: []string{"maybe"}},
		{name: "skip all", opts: PlanOptions{Skip: []string{"always"}}, wantErr: "no programs left to load"},
		{name: "unknown only", opts: PlanOptions{Only: []string{"nope"}}, wantErr: `no program "nope" in the object; it has: always, maybe`},
		{name: "unknown skip", opts: PlanOptions{Skip: []string{"always", "nope"}}, wantErr: `no program "nope" in the object; it has: always, maybe`},
		{name: "unknown attach", opts: PlanOptions{Attach: map[string]string{"nope": "a:b"}}, wantErr: `--attach: no program "nope" in the object; it has: always, maybe`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := loadSpec(t, "optional.bpf.o")
			tc.opts.Probe = noProbe(t)
			plan, err := MakePlan(spec, tc.opts)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := targetNames(plan); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("targets %v, want %v", got, tc.want)
			}
			if got := programNames(spec); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("spec keeps %v, want %v", got, tc.want)
			}
			if tc.wantInNote != "" && !strings.Contains(strings.Join(plan.Notes, "\n"), tc.wantInNote) {
				t.Errorf("notes %q lack %q", plan.Notes, tc.wantInNote)
			}
			if tc.wantInNote == "" && len(plan.Notes) != 0 {
				t.Errorf("unexpected notes %q", plan.Notes)
			}
		})
	}
}

func TestMakePlanUnknownSection(t *testing.T) {
	spec := loadSpec(t, "bad_section.bpf.o")
	_, err := MakePlan(spec, PlanOptions{Probe: noProbe(t)})
	var us *attach.ErrUnknownSection
	if !errors.As(err, &us) || us.Section != "nonsense/thing" {
		t.Fatalf("error %v, want *attach.ErrUnknownSection", err)
	}
	for _, want := range []string{"program mystery:", `"nonsense/thing"`, "--skip mystery"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	_, err = MakePlan(loadSpec(t, "bad_section.bpf.o"), PlanOptions{Skip: []string{"mystery"}, Probe: noProbe(t)})
	if err == nil || err.Error() != "no programs left to load" {
		t.Errorf("skipping the only program: %v", err)
	}
}

func TestMakePlanAttachOverrides(t *testing.T) {
	t.Run("tracepoint", func(t *testing.T) {
		spec := loadSpec(t, "openat.bpf.o")
		plan, err := MakePlan(spec, PlanOptions{Attach: map[string]string{"trace_openat": "syscalls:sys_enter_close"}, Probe: noProbe(t)})
		if err != nil {
			t.Fatal(err)
		}
		got := plan.Targets["trace_openat"]
		if got.Kind != attach.KindTracepoint || got.Group != "syscalls" || got.Name != "sys_enter_close" {
			t.Errorf("target = %+v", got)
		}
		if spec.Programs["trace_openat"].AttachTo != "syscalls/sys_enter_openat" {
			t.Errorf("AttachTo of a tracepoint changed to %q", spec.Programs["trace_openat"].AttachTo)
		}
	})
	t.Run("bad tracepoint", func(t *testing.T) {
		_, err := MakePlan(loadSpec(t, "openat.bpf.o"), PlanOptions{Attach: map[string]string{"trace_openat": "nogroup"}, Probe: noProbe(t)})
		// The value is quoted once, by the part that parses it.
		if want := `--attach trace_openat: tracepoint target "nogroup": expected GROUP:NAME`; err == nil || err.Error() != want {
			t.Errorf("error %v", err)
		}
	})
	t.Run("uprobe", func(t *testing.T) {
		spec := loadSpec(t, "uprobe.bpf.o")
		plan, err := MakePlan(spec, PlanOptions{Attach: map[string]string{
			"on_enter":  "/bin/true:main+0x4",
			"on_return": "libc.so.6:malloc",
		}, Probe: noProbe(t)})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := plan.Targets["on_enter"], (attach.Target{Kind: attach.KindUprobe, Section: "uprobe", Uprobe: attach.UprobeTarget{Binary: "/bin/true", Symbol: "main", Offset: 4}}); !reflect.DeepEqual(got, want) {
			t.Errorf("on_enter = %+v, want %+v", got, want)
		}
		if got, want := plan.Targets["on_return"], (attach.Target{Kind: attach.KindUretprobe, Section: "uretprobe", Uprobe: attach.UprobeTarget{Binary: "libc.so.6", Symbol: "malloc"}}); !reflect.DeepEqual(got, want) {
			t.Errorf("on_return = %+v, want %+v", got, want)
		}
	})
	t.Run("uprobe without target", func(t *testing.T) {
		plan, err := MakePlan(loadSpec(t, "uprobe.bpf.o"), PlanOptions{Probe: noProbe(t)})
		if err != nil {
			t.Fatal(err)
		}
		if plan.Targets["on_enter"].HasTarget() {
			t.Errorf("bare uprobe section has a target: %+v", plan.Targets["on_enter"])
		}
		_, err = MakePlan(loadSpec(t, "uprobe.bpf.o"), PlanOptions{Attach: map[string]string{"on_enter": "nocolon"}, Probe: noProbe(t)})
		if err == nil || !strings.HasPrefix(err.Error(), `--attach on_enter: uprobe target "nocolon": `) || strings.Count(err.Error(), "nocolon") != 1 {
			t.Errorf("bad uprobe override: %v", err)
		}
	})
	t.Run("tracing AttachTo", func(t *testing.T) {
		spec := loadSpec(t, "alt.bpf.o")
		plan, err := MakePlan(spec, PlanOptions{Attach: map[string]string{
			"exec_btf":      "sched_process_fork",
			"unlink_fentry": "do_rmdir",
			"exec_raw":      "sched_process_exit",
		}, Probe: noProbe(t)})
		if err != nil {
			t.Fatal(err)
		}
		for prog, want := range map[string]string{"exec_btf": "sched_process_fork", "unlink_fentry": "do_rmdir"} {
			if got := spec.Programs[prog].AttachTo; got != want {
				t.Errorf("%s AttachTo = %q, want %q", prog, got, want)
			}
			if got := plan.Targets[prog].Name; got != want {
				t.Errorf("%s target name = %q, want %q", prog, got, want)
			}
		}
		// Only tracing programs bind their target at load.
		if got := spec.Programs["exec_raw"].AttachTo; got != "sched_process_exec" {
			t.Errorf("raw_tp AttachTo changed to %q", got)
		}
		if got := plan.Targets["exec_raw"].Name; got != "sched_process_exit" {
			t.Errorf("raw_tp target = %q", got)
		}
		// The overrides broke every pair, so all four stay and nothing was probed.
		if got := targetNames(plan); len(got) != 4 {
			t.Errorf("targets %v", got)
		}
	})
}

func TestMakePlanAlternatives(t *testing.T) {
	notSupported := errors.New("not supported (fake)")
	for _, tc := range []struct {
		name        string
		unsupported map[attach.Kind]error
		want        []string
		notes       []string
	}{
		{
			name: "all supported",
			want: []string{"exec_btf", "unlink_fentry"},
			notes: []string{
				"do_unlinkat has alternatives: using unlink_fentry (fentry), not unlink_kprobe; the kernel supports fentry",
				"sched_process_exec has alternatives: using exec_btf (tp_btf), not exec_raw; the kernel supports tp_btf",
			},
		},
		{
			name:        "none supported",
			unsupported: map[attach.Kind]error{attach.KindFentry: notSupported, attach.KindTpBTF: notSupported},
			want:        []string{"exec_raw", "unlink_kprobe"},
			notes: []string{
				"do_unlinkat has alternatives: using unlink_kprobe (kprobe), not unlink_fentry; fentry is not usable here: not supported (fake)",
				"sched_process_exec has alternatives: using exec_raw (raw_tracepoint), not exec_btf; tp_btf is not usable here: not supported (fake)",
			},
		},
		{
			name:        "like this machine",
			unsupported: map[attach.Kind]error{attach.KindFentry: notSupported},
			want:        []string{"exec_btf", "unlink_kprobe"},
			notes: []string{
				"do_unlinkat has alternatives: using unlink_kprobe (kprobe), not unlink_fentry; fentry is not usable here: not supported (fake)",
				"sched_process_exec has alternatives: using exec_btf (tp_btf), not exec_raw; the kernel supports tp_btf",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := loadSpec(t, "alt.bpf.o")
			fp := &fakeProbe{unsupported: tc.unsupported}
			plan, err := MakePlan(spec, PlanOptions{Probe: fp.probe})
			if err != nil {
				t.Fatal(err)
			}
			if got := targetNames(plan); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("targets %v, want %v", got, tc.want)
			}
			if got := programNames(spec); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("spec keeps %v, want %v", got, tc.want)
			}
			notes := append([]string(nil), plan.Notes...)
			sort.Strings(notes)
			if !reflect.DeepEqual(notes, tc.notes) {
				t.Errorf("notes:\n got %q\nwant %q", notes, tc.notes)
			}
			sort.Strings(fp.calls)
			if want := []string{"fentry:do_unlinkat", "tp_btf:sched_process_exec"}; !reflect.DeepEqual(fp.calls, want) {
				t.Errorf("probed %v, want %v", fp.calls, want)
			}
		})
	}
	t.Run("only keeps both", func(t *testing.T) {
		spec := loadSpec(t, "alt.bpf.o")
		plan, err := MakePlan(spec, PlanOptions{Only: []string{"unlink_fentry", "unlink_kprobe"}, Probe: noProbe(t)})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := targetNames(plan), []string{"unlink_fentry", "unlink_kprobe"}; !reflect.DeepEqual(got, want) {
			t.Errorf("targets %v, want %v", got, want)
		}
	})
	t.Run("skip one of a pair", func(t *testing.T) {
		spec := loadSpec(t, "alt.bpf.o")
		fp := &fakeProbe{}
		plan, err := MakePlan(spec, PlanOptions{Skip: []string{"unlink_fentry"}, Probe: fp.probe})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := targetNames(plan), []string{"exec_btf", "unlink_kprobe"}; !reflect.DeepEqual(got, want) {
			t.Errorf("targets %v, want %v", got, want)
		}
		if want := []string{"tp_btf:sched_process_exec"}; !reflect.DeepEqual(fp.calls, want) {
			t.Errorf("probed %v, want %v", fp.calls, want)
		}
	})
}

// A kprobe with an offset is not the same hook as fentry on the function.
func TestMakePlanKprobeOffsetIsNoAlternative(t *testing.T) {
	spec := loadSpec(t, "alt.bpf.o")
	spec.Programs["unlink_kprobe"].SectionName = "kprobe/do_unlinkat+0x10"
	fp := &fakeProbe{}
	plan, err := MakePlan(spec, PlanOptions{Skip: []string{"exec_btf"}, Probe: fp.probe})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := targetNames(plan), []string{"exec_raw", "unlink_fentry", "unlink_kprobe"}; !reflect.DeepEqual(got, want) {
		t.Errorf("targets %v, want %v", got, want)
	}
	if plan.Targets["unlink_kprobe"].Offset != 0x10 {
		t.Errorf("kprobe target %+v", plan.Targets["unlink_kprobe"])
	}
	if len(fp.calls) != 0 {
		t.Errorf("probed %v", fp.calls)
	}
}

func TestMakePlanEmptySpec(t *testing.T) {
	_, err := MakePlan(&ebpf.CollectionSpec{}, PlanOptions{Probe: noProbe(t)})
	if err == nil || err.Error() != "no programs left to load" {
		t.Errorf("empty spec: %v", err)
	}
}

func TestLoadObjectDirectoryAndTruncated(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadObject(dir); err == nil || err.Error() != dir+" is a directory, not a BPF object file" {
		t.Errorf("directory: %v", err)
	}
	data, err := os.ReadFile(fixture("openat.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{4, 64, 1000, len(data) / 3, len(data) - 1} {
		path := filepath.Join(dir, fmt.Sprintf("cut%d.o", cut))
		if err := os.WriteFile(path, data[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadObject(path)
		if err == nil {
			t.Errorf("cut at %d loaded", cut)
			continue
		}
		if want := path + ": not a usable BPF object: the file is truncated or corrupt (EOF)"; err.Error() != want {
			t.Errorf("cut at %d: %q, want %q", cut, err, want)
		}
	}
}

// The -v notes come out in the same order every time.
func TestMakePlanNotesSorted(t *testing.T) {
	refuse := func(attach.Kind, string) error { return unix.EPERM }
	var first []string
	for i := 0; i < 30; i++ {
		spec := loadSpec(t, "alt.bpf.o")
		plan, err := MakePlan(spec, PlanOptions{Probe: refuse})
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Notes) != 2 || !slices.IsSorted(plan.Notes) {
			t.Fatalf("notes %q: want two, sorted", plan.Notes)
		}
		if first == nil {
			first = plan.Notes
		} else if !reflect.DeepEqual(plan.Notes, first) {
			t.Fatalf("notes %q, earlier %q", plan.Notes, first)
		}
	}
}
