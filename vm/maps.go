package vm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/cilium/ebpf/asm"
)

// MapType is the kind of a map. The values are the kernel's enum
// bpf_map_type (and cilium/ebpf's ebpf.MapType), so that a map spec read
// from an ELF object converts with vm.MapType(spec.Type).
type MapType uint32

// The map types this runtime implements.
const (
	Hash           MapType = 1
	Array          MapType = 2
	ProgramArray   MapType = 3
	PerfEventArray MapType = 4
	PerCPUHash     MapType = 5
	PerCPUArray    MapType = 6
	LRUHash        MapType = 9
	Queue          MapType = 22
	Stack          MapType = 23
	RingBuf        MapType = 27
)

func (t MapType) String() string {
	switch t {
	case Hash:
		return "hash"
	case Array:
		return "array"
	case ProgramArray:
		return "prog_array"
	case PerfEventArray:
		return "perf_event_array"
	case PerCPUHash:
		return "percpu_hash"
	case PerCPUArray:
		return "percpu_array"
	case LRUHash:
		return "lru_hash"
	case Queue:
		return "queue"
	case Stack:
		return "stack"
	case RingBuf:
		return "ringbuf"
	}
	return fmt.Sprintf("map type %d", uint32(t))
}

// Flags for Map.Update and the update and push helpers (BPF_ANY,
// BPF_NOEXIST, BPF_EXIST).
const (
	UpdateAny     uint64 = 0 // create or replace
	UpdateNoExist uint64 = 1 // create only
	UpdateExist   uint64 = 2 // replace only; for stacks and queues, push over the oldest when full
)

// Map creation flags the runtime honours (MapSpec.Flags).
const (
	// FlagRdonlyProg (BPF_F_RDONLY_PROG) makes values read-only to
	// programs, as for .rodata: a store through a value pointer faults.
	FlagRdonlyProg uint32 = 1 << 7
)

// Errors of map operations. Each wraps the errno the kernel returns in the
// same case, so errors.Is(err, syscall.ENOENT) holds as well, and the map
// helpers return that errno, negated, to programs.
var (
	ErrKeyNotExist  = fmt.Errorf("key does not exist: %w", syscall.ENOENT)
	ErrKeyExist     = fmt.Errorf("key already exists: %w", syscall.EEXIST)
	ErrMapFull      = fmt.Errorf("map is full: %w", syscall.E2BIG)
	ErrInvalidFlags = fmt.Errorf("invalid flags: %w", syscall.EINVAL)
	// ErrNoMap means a map reference in a program names no map: an index
	// past the program's map table, or a name LoadInstructionsWithMaps
	// was not given.
	ErrNoMap = errors.New("no such map")
)

// errInvalid is the kernel's EINVAL for a malformed request.
func errInvalid(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, syscall.EINVAL)...)
}

// MapSpec describes a map to create.
type MapSpec struct {
	Name       string // for error messages
	Type       MapType
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32 // for RingBuf, the buffer size in bytes: a power of two and a multiple of 4096
	Flags      uint32
	// CPUs is the number of CPUs of per-CPU maps and perf event arrays
	// (default 1). Programs choose theirs with RunOptions.CPU.
	CPUs int
	// PerfBufferSize is the capacity in bytes of each CPU's buffer of a
	// perf event array (default 64 KiB); samples that do not fit are
	// counted as lost, as with the kernel's perf ring.
	PerfBufferSize int
}

// Map is a map: shared by programs through the map helpers, and by Go
// through these methods, which are safe to call while programs run.
//
// Keys and values are the raw bytes a program sees. Lookup and Iterate
// return copies. For per-CPU maps a value from Go holds every CPU's value,
// each padded to a multiple of 8 bytes, as with the bpf() system call.
// Operations a map type does not have return an error wrapping EINVAL.
//
// Programs read and write the values they look up in place, without the
// map's lock, as in the kernel: a Go Lookup of a value that a program is
// writing at the same moment sees a torn value (and is a data race to the
// race detector). Counters that Go reads while programs run should be
// updated with atomics and read once the programs are done, or kept per
// CPU.
//
// The interface is sealed: the helpers rely on the implementations' memory
// layout. Create maps with NewMap; the types with extra Go-side operations
// (*RingBufMap, *PerfEventArrayMap, *ProgramArrayMap, *QueueMap) are
// reached with a type assertion.
type Map interface {
	Spec() MapSpec
	Lookup(key []byte) ([]byte, error)
	Update(key, value []byte, flags uint64) error
	Delete(key []byte) error
	// NextKey returns the key after key in iteration order, or the first
	// key when key is nil or not in the map (the kernel's
	// BPF_MAP_GET_NEXT_KEY); ErrKeyNotExist after the last key.
	NextKey(key []byte) ([]byte, error)
	// Iterate calls fn with a snapshot of each entry until fn returns
	// false. fn may use the map.
	Iterate(fn func(key, value []byte) bool) error

	core() *mapCore
}

// The virtual addresses of map memory. Every map has an id, and with it
// a window of its own: its values (a "slab" that never moves, so that a
// pointer a program got from a lookup stays valid, as in the kernel) at
// the window's base, and for maps that have them its keys half-way up.
// The windows lie above those of Env.AddRegion so the two never meet.
// Handles, what lddw src 1 loads, are not addresses of any region: a
// program cannot read or write the map through one.
const (
	mapWindowBase  = 0x2000_0000_0000
	mapWindowShift = 33 // 8 GiB per map: values, then keys
	mapKeysOffset  = 1 << 32
	maxMapIDs      = 1 << 28
	mapHandleBase  = 0xffff_0000_0000_0000
	funcAddrBase   = 0xffff_8000_0000_0000 // lddw src 4: funcAddrBase + pc
)

var lastMapID atomic.Uint64

// mapCore is what every map has: its spec, identity and lock, and, for the
// maps whose values programs address directly, the value slab.
type mapCore struct {
	spec     MapSpec
	id       uint64
	mu       *sync.Mutex // a pointer so that constructors can take a mapCore by value
	values   []byte      // the value slab; nil for maps without one
	keys     []byte      // the key slab (for_each_map_elem's key pointers); may be nil
	writable bool        // whether programs may store to values
}

func (c *mapCore) core() *mapCore { return c }

// Spec returns the map's spec, with defaults filled in.
func (c *mapCore) Spec() MapSpec { return c.spec }

func (c *mapCore) handle() uint64    { return mapHandleBase + c.id }
func (c *mapCore) valueAddr() uint64 { return mapWindowBase + c.id<<mapWindowShift }
func (c *mapCore) keyAddr() uint64   { return c.valueAddr() + mapKeysOffset }

func (c *mapCore) name() string {
	if c.spec.Name != "" {
		return fmt.Sprintf("map %q", c.spec.Name)
	}
	return fmt.Sprintf("%s map %d", c.spec.Type, c.id)
}

// NewMap creates a map. Its memory is allocated up front, as the kernel's
// preallocated maps are, so that its size is known and values never move.
func NewMap(spec MapSpec) (Map, error) {
	if spec.CPUs <= 0 {
		spec.CPUs = 1
	}
	id := lastMapID.Add(1)
	if id >= maxMapIDs {
		return nil, fmt.Errorf("vm: more than %d maps created: %w", maxMapIDs, syscall.ENOSPC)
	}
	c := mapCore{spec: spec, id: id, mu: new(sync.Mutex), writable: spec.Flags&FlagRdonlyProg == 0}
	var (
		m   Map
		err error
	)
	switch spec.Type {
	case Array, PerCPUArray:
		m, err = newArray(c)
	case Hash, PerCPUHash, LRUHash:
		m, err = newHash(c)
	case RingBuf:
		m, err = newRingBuf(c)
	case PerfEventArray:
		m, err = newPerfEventArray(c)
	case ProgramArray:
		m, err = newProgramArray(c)
	case Queue, Stack:
		m, err = newQueue(c)
	default:
		return nil, fmt.Errorf("vm: %s is not supported: %w", spec.Type, ErrNotSupported)
	}
	if err != nil {
		return nil, fmt.Errorf("vm: create %s: %w", spec.Type, err)
	}
	if n := len(m.core().values); uint64(n) > mapKeysOffset || uint64(len(m.core().keys)) > mapKeysOffset {
		return nil, fmt.Errorf("vm: create %s: %d bytes of values is more than 4 GiB: %w", spec.Type, n, syscall.E2BIG)
	}
	return m, nil
}

// round8 is the kernel's round_up(value_size, 8): the stride of values in
// arrays and per-CPU maps.
func round8(n uint32) int { return (int(n) + 7) &^ 7 }

func checkFlags(flags uint64) error {
	if flags > UpdateExist {
		return fmt.Errorf("update flags %#x: %w", flags, ErrInvalidFlags)
	}
	return nil
}

// checkKey and checkValue reject Go-side buffers of the wrong size, which
// are bugs in the caller.
func (c *mapCore) checkKey(key []byte) error {
	if len(key) != int(c.spec.KeySize) {
		return errInvalid("%s: key of %d bytes, want %d", c.name(), len(key), c.spec.KeySize)
	}
	return nil
}

// goValueSize is the size of a value as Go passes it: every CPU's value,
// padded, for per-CPU maps.
func (c *mapCore) goValueSize() int {
	if c.spec.Type == PerCPUArray || c.spec.Type == PerCPUHash {
		return round8(c.spec.ValueSize) * c.spec.CPUs
	}
	return int(c.spec.ValueSize)
}

func (c *mapCore) checkValue(v []byte) error {
	if len(v) != c.goValueSize() {
		return errInvalid("%s: value of %d bytes, want %d", c.name(), len(v), c.goValueSize())
	}
	return nil
}

// errnoOf returns the negated errno a helper returns for err.
func errnoOf(err error) uint64 {
	var e syscall.Errno
	if errors.As(err, &e) {
		return -uint64(e)
	}
	return mapErrno(syscall.EINVAL)
}

// resolveMapReferences gives each map load in insns the index of its
// referenced map in the table it returns, in order of first use.
func resolveMapReferences(insns asm.Instructions, maps map[string]Map) ([]Map, error) {
	var table []Map
	index := map[string]int{}
	for i := range insns {
		ins := &insns[i]
		if !ins.IsLoadFromMap() {
			continue
		}
		name := ins.Reference()
		if name == "" {
			// A bare index, as in raw bytecode: Load checks it.
			continue
		}
		idx, ok := index[name]
		if !ok {
			m, found := maps[name]
			if !found || m == nil {
				return nil, &LoadError{PC: i, Msg: fmt.Sprintf("map %q is not among the maps given", name), Err: ErrNoMap}
			}
			idx = len(table)
			index[name] = idx
			table = append(table, m)
		}
		// The immediate's high half is the value offset of
		// LoadMapValue; keep it.
		ins.Constant = int64(uint64(ins.Constant)&^0xffffffff | uint64(idx))
	}
	return table, nil
}

// resolvePseudo turns the immediate of an lddw with a nonzero source into
// the constant it loads. lo and hi are the two slots' immediates.
func (p *Program) resolvePseudo(src uint8, lo, hi uint32, pc, n int) (uint64, error) {
	if src == 4 { // BPF_PSEUDO_FUNC: the address of a subprogram
		t := int64(pc) + 1 + int64(int32(lo))
		if t < 0 || t >= int64(n) {
			return 0, &LoadError{PC: pc, Msg: fmt.Sprintf("function reference target %d is outside the program (0-%d)", t, n-1)}
		}
		p.funcs = append(p.funcs, int32(t))
		return funcAddrBase + uint64(t), nil
	}
	if uint64(lo) >= uint64(len(p.maps)) || p.maps[lo] == nil {
		return 0, &LoadError{PC: pc, Msg: fmt.Sprintf("lddw src %d: map index %d, but the program has %d maps", src, lo, len(p.maps)), Err: ErrNoMap}
	}
	c := p.maps[lo].core()
	switch src {
	case 1, 5:
		return c.handle(), nil
	}
	// BPF_PSEUDO_MAP_VALUE: like the kernel, only for single-entry arrays,
	// whose one value is where globals live.
	if c.spec.Type != Array || c.spec.MaxEntries != 1 {
		return 0, &LoadError{PC: pc, Msg: fmt.Sprintf("lddw src %d: direct value access needs a single-entry array, %s is a %s with %d entries", src, c.name(), c.spec.Type, c.spec.MaxEntries), Err: ErrNotSupported}
	}
	if hi >= c.spec.ValueSize {
		return 0, &LoadError{PC: pc, Msg: fmt.Sprintf("lddw src %d: offset %d is past the %d-byte value of %s", src, hi, c.spec.ValueSize, c.name())}
	}
	return c.valueAddr() + uint64(hi), nil
}

// Maps returns the program's map table.
func (p *Program) Maps() []Map { return append([]Map(nil), p.maps...) }

// addMapRegions makes the value slabs of p's maps addressable. Each map
// is one region however many values it holds, so a program that uses a
// few maps scans a few regions, and the 4096-region cap of AddRegion is
// never approached through maps.
func (m *machine) addMapRegions(p *Program) {
outer:
	for _, mp := range p.maps {
		c := mp.core()
		if c.values == nil {
			continue
		}
		base := c.valueAddr()
		for i := fixedRegions; i < len(m.regions); i++ {
			if m.regions[i].base == base {
				continue outer
			}
		}
		m.regions = append(m.regions, region{base: base, data: c.values, writable: c.writable, name: c.name()})
	}
}

// ensureKeyRegion makes c's key slab addressable (read-only), for the key
// pointers that for_each_map_elem hands its callback.
func (m *machine) ensureKeyRegion(c *mapCore) {
	if c.keys == nil {
		return
	}
	base := c.keyAddr()
	for i := fixedRegions; i < len(m.regions); i++ {
		if m.regions[i].base == base {
			return
		}
	}
	m.regions = append(m.regions, region{base: base, data: c.keys, name: c.name() + " keys"})
}

// Map returns the map whose handle (what lddw src 1 loads) is h, if it is
// in the running program's map table. Helpers written by embedders use it
// to accept map arguments.
func (e *Env) Map(h uint64) (Map, error) {
	if p := e.m.prog; p != nil && h-mapHandleBase < maxMapIDs {
		for _, mp := range p.maps {
			if mp.core().handle() == h {
				return mp, nil
			}
		}
	}
	return nil, fmt.Errorf("%#x is not a map of this program: %w", h, ErrNoMap)
}

// mapByAddr returns the map of the running program whose value slab holds
// addr (ring buffer records are passed back to submit by address only).
func (e *Env) mapByAddr(addr uint64) *mapCore {
	if p := e.m.prog; p != nil {
		for _, mp := range p.maps {
			c := mp.core()
			if addr-c.valueAddr() < uint64(len(c.values)) {
				return c
			}
		}
	}
	return nil
}

// CallLocal calls the subprogram at fn, a function address that an lddw
// with src 4 loaded (the callback argument of bpf_loop or
// for_each_map_elem), with r1-r5 = args, and returns its r0. The callback
// runs in a new frame below the helper's caller, so the call depth limit
// bounds nested callbacks, and it draws on the run's instruction budget.
func (e *Env) CallLocal(fn uint64, args ...uint64) (uint64, error) {
	m := e.m
	p := m.prog
	if len(args) > 5 {
		return 0, errInvalid("callback with %d arguments, at most 5", len(args))
	}
	pc := fn - funcAddrBase
	if p == nil || pc >= uint64(len(p.code)) || !hasFunc(p.funcs, int32(pc)) {
		return 0, errInvalid("%#x is not the address of a function of this program", fn)
	}
	depth := m.depth
	if depth+1 >= MaxCallDepth {
		return 0, fmt.Errorf("callback: %w (at most %d frames)", ErrCallDepth, MaxCallDepth)
	}
	var a [5]uint64
	copy(a[:], args)
	r0, left, err := m.run(p, m.mem, m.left, int(pc), depth+1, a)
	// The callback may itself have called helpers: restore what the
	// caller's frame had.
	m.depth, m.left = depth, left
	m.setStack(depth)
	return r0, err
}

func hasFunc(funcs []int32, pc int32) bool {
	for _, f := range funcs {
		if f == pc {
			return true
		}
	}
	return false
}

// le32 reads a little-endian u32 key.
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
