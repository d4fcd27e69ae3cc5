package vm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/cilium/ebpf"
	"github.com/wagglebpf/waggle/verifier"
)

// CollectionOptions configures LoadCollection.
type CollectionOptions struct {
	// CPUs is the CPU count of per-CPU maps and perf event arrays
	// (default 1).
	CPUs int
	// PerfBufferSize is the per-CPU capacity of perf event arrays in
	// bytes (default 64 KiB).
	PerfBufferSize int
	// Programs names the programs to load; nil loads them all. The
	// programs that program arrays are initialised with are loaded too.
	// Loading only the programs one needs spares the errors of the others
	// (a kfunc call, say, which the VM cannot run).
	Programs []string
	// SkipVerify loads the programs without proving them correct with
	// waggle's verifier first. They still cannot harm the process: the
	// interpreter checks every memory access and bounds every run. Use it
	// for programs the verifier does not handle yet (it says so in its
	// rejection: "not supported by waggle's verifier yet: ...") and for
	// code that is not a program of any kernel program type.
	SkipVerify bool
	// Verifier configures the verifier (unprivileged rules, a log of the
	// analysis).
	Verifier verifier.Options
}

// Collection is an ELF object's programs and maps, loaded into the VM: the
// user-space counterpart of cilium/ebpf's ebpf.Collection. The programs
// share the maps, as they would in the kernel, and Go reads and writes the
// maps while or after the programs run.
type Collection struct {
	// Programs holds every program of the object, by its name.
	Programs map[string]*Program
	// Maps holds every map, by its name in the spec (".rodata", ".bss" and
	// the like for the sections of global variables).
	Maps map[string]Map
	// Spec is the spec the collection was loaded from; its BTF types
	// describe the maps' keys and values.
	Spec *ebpf.CollectionSpec
}

// LoadCollection creates the maps of spec, fills them with their initial
// contents, and loads its programs with their map references resolved, as
// the kernel's loader does for an ELF object (see ebpf.LoadCollectionSpec).
//
// Global variables live in single-entry array maps named after their
// sections; .rodata and the other constant sections are read-only to
// programs (FlagRdonlyProg). Values set with ebpf.VariableSpec.Set before
// the call are written into those maps. Program arrays that the object
// initialises with programs (libbpf's .values of a BPF_MAP_TYPE_PROG_ARRAY)
// are filled. CO-RE relocations are not applied: the programs keep the
// field offsets of the headers they were compiled against.
//
// Unless opts.SkipVerify is set, every program loaded is first verified
// with waggle's verifier (package verifier) as a program of its spec's
// type; a program it refuses is a [*VerifyError] and nothing is loaded.
// Each program's [Program.Verified] holds its report.
//
// A map type the VM does not implement is an error that names the map.
// spec is not modified.
func LoadCollection(spec *ebpf.CollectionSpec, opts CollectionOptions) (*Collection, error) {
	if spec == nil {
		return nil, errors.New("vm: nil collection spec")
	}
	c := &Collection{
		Programs: make(map[string]*Program, len(spec.Programs)),
		Maps:     make(map[string]Map, len(spec.Maps)),
		Spec:     spec,
	}
	for _, name := range sortedNames(spec.Maps) {
		ms := spec.Maps[name]
		m, err := newCollectionMap(name, ms, spec.Variables, opts)
		if err != nil {
			return nil, fmt.Errorf("vm: map %s: %w", name, err)
		}
		c.Maps[name] = m
	}
	for _, name := range programsToLoad(spec, opts.Programs) {
		ps := spec.Programs[name]
		if ps == nil {
			return nil, fmt.Errorf("vm: no program %q in the collection", name)
		}
		var rep *verifier.Report
		if !opts.SkipVerify {
			var err error
			if rep, err = verifySpec(spec, name, opts.Verifier); err != nil {
				return nil, err
			}
		}
		p, err := LoadInstructionsWithMaps(ps.Instructions, c.Maps)
		if err != nil {
			return nil, fmt.Errorf("vm: program %s (section %s): %w", name, ps.SectionName, err)
		}
		p.verified = rep
		c.Programs[name] = p
	}
	// Program arrays name their programs in Contents; fill them now that
	// the programs exist.
	for _, name := range sortedNames(spec.Maps) {
		ms := spec.Maps[name]
		if ms.Type != ebpf.ProgramArray {
			continue
		}
		pa := c.Maps[name].(*ProgramArrayMap)
		for _, kv := range ms.Contents {
			idx, err := contentIndex(kv.Key)
			if err != nil {
				return nil, fmt.Errorf("vm: map %s: %w", name, err)
			}
			var p *Program
			switch v := kv.Value.(type) {
			case string:
				if p = c.Programs[v]; p == nil {
					return nil, fmt.Errorf("vm: map %s: index %d names program %q, which the object does not have", name, idx, v)
				}
			case *Program:
				p = v
			default:
				return nil, fmt.Errorf("vm: map %s: index %d holds a %T, not a program name", name, idx, kv.Value)
			}
			if err := pa.Set(idx, p); err != nil {
				return nil, fmt.Errorf("vm: map %s: %w", name, err)
			}
		}
	}
	return c, nil
}

// Helpers returns the helpers a collection's programs usually need: the map
// helpers and the kernel helpers configured by cfg, in a new map that the
// caller may extend (with a Context's Helpers, for instance).
func (c *Collection) Helpers(cfg HelperConfig) map[int32]HelperFunc {
	h := MapHelpers()
	for id, f := range KernelHelpers(cfg) {
		h[id] = f
	}
	return h
}

func newCollectionMap(name string, ms *ebpf.MapSpec, vars map[string]*ebpf.VariableSpec, opts CollectionOptions) (Map, error) {
	switch t := MapType(ms.Type); t {
	case Hash, Array, ProgramArray, PerfEventArray, PerCPUHash, PerCPUArray, LRUHash, Queue, Stack, RingBuf:
	default:
		return nil, fmt.Errorf("type %s is not supported by the VM: %w", ms.Type, ErrNotSupported)
	}
	cpus := opts.CPUs
	if cpus <= 0 {
		cpus = 1
	}
	m, err := NewMap(MapSpec{
		Name:           name,
		Type:           MapType(ms.Type),
		KeySize:        ms.KeySize,
		ValueSize:      ms.ValueSize,
		MaxEntries:     ms.MaxEntries,
		Flags:          ms.Flags,
		CPUs:           cpus,
		PerfBufferSize: opts.PerfBufferSize,
	})
	if err != nil {
		return nil, err
	}
	if ms.Type == ebpf.ProgramArray {
		return m, nil // filled once the programs are loaded
	}
	isData := len(ms.Contents) == 1 && ms.Type == ebpf.Array && ms.MaxEntries == 1
	for i, kv := range ms.Contents {
		key, err := contentBytes(kv.Key, int(ms.KeySize))
		if err != nil {
			return nil, fmt.Errorf("contents[%d] key: %w", i, err)
		}
		value, err := contentBytes(kv.Value, int(ms.ValueSize))
		if err != nil {
			return nil, fmt.Errorf("contents[%d] value: %w", i, err)
		}
		if isData {
			value = applyVariables(name, value, vars)
		}
		if t := MapType(ms.Type); t == PerCPUArray || t == PerCPUHash {
			// The same initial value on every CPU.
			stride := round8(ms.ValueSize)
			all := make([]byte, stride*cpus)
			for c := 0; c < cpus; c++ {
				copy(all[c*stride:], value)
			}
			value = all
		}
		if err := m.Update(key, value, UpdateAny); err != nil {
			return nil, fmt.Errorf("contents[%d]: %w", i, err)
		}
	}
	return m, nil
}

// applyVariables returns data with the values of the variables declared in
// section written over it (cilium/ebpf keeps them apart until loading).
func applyVariables(section string, data []byte, vars map[string]*ebpf.VariableSpec) []byte {
	out := append([]byte(nil), data...)
	for _, vs := range vars {
		if vs.SectionName != section || vs.Value == nil {
			continue
		}
		if end := uint64(vs.Offset) + uint64(len(vs.Value)); end <= uint64(len(out)) {
			copy(out[vs.Offset:], vs.Value)
		}
	}
	return out
}

// contentBytes converts a key or value of MapSpec.Contents to the bytes a
// program sees: []byte as is, fixed-size Go values little-endian.
func contentBytes(v any, size int) ([]byte, error) {
	var b []byte
	switch x := v.(type) {
	case nil:
		b = nil
	case []byte:
		b = x
	default:
		var err error
		if b, err = binary.Append(nil, binary.LittleEndian, x); err != nil {
			return nil, fmt.Errorf("%T: %w", v, err)
		}
	}
	if len(b) > size {
		return nil, fmt.Errorf("%d bytes, want %d", len(b), size)
	}
	if len(b) < size {
		// Sections and structs may be shorter than the declared size
		// when their tail is implicit zeroes.
		b = append(append([]byte(nil), b...), make([]byte, size-len(b))...)
	}
	return b, nil
}

func contentIndex(k any) (uint32, error) {
	switch x := k.(type) {
	case uint32:
		return x, nil
	case int:
		return uint32(x), nil
	case int32:
		return uint32(x), nil
	case uint64:
		return uint32(x), nil
	}
	return 0, fmt.Errorf("key of type %T is not an index", k)
}

// programsToLoad returns the names of want and of the programs that
// program arrays name, sorted and without duplicates; all programs when
// want is nil.
func programsToLoad(spec *ebpf.CollectionSpec, want []string) []string {
	if want == nil {
		return sortedNames(spec.Programs)
	}
	set := map[string]bool{}
	for _, n := range want {
		set[n] = true
	}
	for _, ms := range spec.Maps {
		if ms.Type != ebpf.ProgramArray {
			continue
		}
		for _, kv := range ms.Contents {
			if n, ok := kv.Value.(string); ok && spec.Programs[n] != nil {
				set[n] = true
			}
		}
	}
	return sortedNames(set)
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
