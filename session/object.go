package session

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/attach"
)

// LoadObject reads a clang-built BPF object file, turning the ELF reader's
// errors into ones a user can act on.
func LoadObject(path string) (_ *ebpf.CollectionSpec, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a BPF object file", path)
	}
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || string(magic[:]) != "\x7fELF" {
		return nil, fmt.Errorf("%s is not an ELF object file (build BPF objects with clang -target bpf -g -O2 -c)", path)
	}
	// An object file is user input: a reader that panics on a malformed
	// one must not take waggle down with it.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: not a usable BPF object: malformed ELF (%v)", path, r)
		}
	}()
	if err := checkSections(f, path); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	spec, err := ebpf.LoadCollectionSpecFromReader(f)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			// The ELF reader ran past the end of the file: what its
			// headers describe is not all there.
			return nil, fmt.Errorf("%s: not a usable BPF object: the file is truncated or corrupt (%w)", path, err)
		}
		return nil, fmt.Errorf("%s: not a usable BPF object: %w", path, err)
	}
	return spec, nil
}

// maxZeroSection bounds the size of SHT_NOBITS sections (.bss), which
// cilium/ebpf allocates in full while reading an object: a corrupt header
// must not make waggle allocate gigabytes. No BPF map value is this large.
const maxZeroSection = math.MaxInt32

func checkSections(r io.ReaderAt, path string) error {
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil // the ELF reader proper says what is wrong
	}
	for _, s := range ef.Sections {
		if s.Type == elf.SHT_NOBITS && s.Size > maxZeroSection {
			return fmt.Errorf("%s: not a usable BPF object: section %s claims %d bytes (the file is malformed)", path, s.Name, s.Size)
		}
	}
	return nil
}

// Plan is what a run will load and where each program attaches.
type Plan struct {
	// Targets by program name, for every program that stays in the spec.
	Targets map[string]attach.Target
	// Notes say what was decided and why (shown with -v).
	Notes []string
}

// PlanOptions choose programs and override targets.
type PlanOptions struct {
	// Only keeps just these programs (and loads "?" sections named here).
	Only []string
	// Skip drops these programs.
	Skip []string
	// Attach overrides targets: program name -> target text.
	Attach map[string]string
	// Probe decides alternatives; nil probes the running kernel.
	Probe func(kind attach.Kind, name string) error
}

// MakePlan chooses the programs of spec to load, removing the others from
// spec, and works out each one's attach target. Programs in "?" sections
// (libbpf's "not loaded by default") are kept only when named in Only.
// When one hook is present twice by different mechanisms, only the best
// one the kernel supports stays.
func MakePlan(spec *ebpf.CollectionSpec, opts PlanOptions) (*Plan, error) {
	for _, n := range append(append([]string{}, opts.Only...), opts.Skip...) {
		if spec.Programs[n] == nil {
			return nil, fmt.Errorf("no program %q in the object; it has: %s", attach.Shorten(n), strings.Join(programNames(spec), ", "))
		}
	}
	for _, n := range sortedKeys(opts.Attach) {
		if spec.Programs[n] == nil {
			return nil, fmt.Errorf("--attach: no program %q in the object; it has: %s", attach.Shorten(n), strings.Join(programNames(spec), ", "))
		}
	}
	only := set(opts.Only)
	skip := set(opts.Skip)
	plan := &Plan{Targets: map[string]attach.Target{}}
	for _, name := range programNames(spec) {
		ps := spec.Programs[name]
		switch {
		case skip[name]:
			delete(spec.Programs, name)
			continue
		case len(only) > 0 && !only[name]:
			delete(spec.Programs, name)
			continue
		case len(only) == 0 && strings.HasPrefix(ps.SectionName, "?"):
			plan.Notes = append(plan.Notes, fmt.Sprintf("%s: section %s is not loaded by default (name it with --only)", name, ps.SectionName))
			delete(spec.Programs, name)
			continue
		}
		t, err := attach.ParseSection(ps.SectionName, ps.Type, ps.AttachType)
		if err != nil {
			return nil, fmt.Errorf("program %s: %w (or leave it out with --skip %s)", name, err, name)
		}
		if v, ok := opts.Attach[name]; ok {
			// Override's errors quote the value: it is not repeated here.
			if t, err = t.Override(v); err != nil {
				return nil, fmt.Errorf("--attach %s: %w", name, err)
			}
			if ps.Type == ebpf.Tracing || ps.Type == ebpf.LSM {
				ps.AttachTo = t.Name
			}
		}
		plan.Targets[name] = t
	}
	if len(only) == 0 {
		probe := opts.Probe
		if probe == nil {
			probe = ProbeTracing
		}
		plan.chooseAlternatives(spec, probe)
	}
	sort.Strings(plan.Notes)
	if len(spec.Programs) == 0 {
		return nil, errors.New("no programs left to load")
	}
	return plan, nil
}

// Alternative mechanisms for one hook, best first.
var alternatives = map[attach.Kind]attach.Kind{
	attach.KindFentry: attach.KindKprobe,
	attach.KindFexit:  attach.KindKretprobe,
	attach.KindTpBTF:  attach.KindRawTracepoint,
}

// chooseAlternatives keeps one program per hook where an object carries
// the hook twice (fentry/X and kprobe/X, fexit/X and kretprobe/X, tp_btf/X
// and raw_tp/X), as libbpf-tools objects do.
func (p *Plan) chooseAlternatives(spec *ebpf.CollectionSpec, probe func(attach.Kind, string) error) {
	type hook struct {
		kind attach.Kind
		name string
	}
	byHook := map[hook][]string{}
	for _, name := range programNames(spec) {
		t := p.Targets[name]
		if t.Kind == attach.KindKprobe && t.Offset != 0 {
			continue
		}
		byHook[hook{t.Kind, t.Name}] = append(byHook[hook{t.Kind, t.Name}], name)
	}
	for best, fallback := range alternatives {
		for h, bestProgs := range byHook {
			if h.kind != best {
				continue
			}
			fallbackProgs := byHook[hook{fallback, h.name}]
			if len(fallbackProgs) == 0 {
				continue
			}
			drop, keep := fallbackProgs, bestProgs
			why := fmt.Sprintf("the kernel supports %s", best)
			if err := probe(best, h.name); err != nil {
				drop, keep = bestProgs, fallbackProgs
				why = fmt.Sprintf("%s is not usable here: %v", best, err)
			}
			for _, n := range drop {
				delete(spec.Programs, n)
				delete(p.Targets, n)
			}
			p.Notes = append(p.Notes, fmt.Sprintf("%s has alternatives: using %s (%s), not %s; %s",
				h.name, strings.Join(keep, ", "), p.Targets[keep[0]].Kind, strings.Join(drop, ", "), why))
		}
	}
}

// ProbeTracing checks whether the kernel loads a minimal program of a BPF
// trampoline kind (fentry, fexit, tp_btf) for the named target.
func ProbeTracing(kind attach.Kind, target string) error {
	at := map[attach.Kind]ebpf.AttachType{
		attach.KindFentry: ebpf.AttachTraceFEntry,
		attach.KindFexit:  ebpf.AttachTraceFExit,
		attach.KindTpBTF:  ebpf.AttachTraceRawTp,
	}[kind]
	prog, err := ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
		Name:         "waggle_probe",
		Type:         ebpf.Tracing,
		AttachType:   at,
		AttachTo:     target,
		License:      "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	}, ebpf.ProgramOptions{LogDisabled: true})
	if err != nil {
		return rootCause(err)
	}
	return prog.Close()
}

func programNames(spec *ebpf.CollectionSpec) []string {
	names := make([]string, 0, len(spec.Programs))
	for n := range spec.Programs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func set(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
