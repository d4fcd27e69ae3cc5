package vm

import (
	"bytes"
	"errors"
	"fmt"
)

// The virtual address space. Regions sit far apart so that an access that
// runs off one region can never land in another, and no region starts at
// 0 so that a NULL pointer always faults.
const (
	// StackAddr is the lowest address of the stack; the main program's r10
	// is StackAddr + MaxCallDepth*StackSize, and each call frame lies
	// StackSize bytes below its caller's.
	StackAddr = 0x10000000
	// MemAddr is the address of the memory passed to Run (r1).
	MemAddr = 0x20000000
	// RegionAddr is the address of the first region added with
	// Env.AddRegion; each further region starts RegionSpacing higher.
	RegionAddr = 0x100000000
	// RegionSpacing is the distance between added regions, which is also
	// the largest region that can be added.
	RegionSpacing = 0x100000000
	// MaxMem is the largest mem Run accepts: it must end below RegionAddr.
	MaxMem = RegionAddr - MemAddr
	// maxRegions bounds Env.AddRegion so that a loop calling a helper
	// cannot grow the region table without end.
	maxRegions = 4096
)

const stackTop = StackAddr + MaxCallDepth*StackSize

// region is one contiguous range of the virtual address space.
type region struct {
	base     uint64
	data     []byte
	writable bool
	name     string
}

func (r *region) contains(addr, n uint64) bool {
	a := addr - r.base
	return a < uint64(len(r.data)) && uint64(len(r.data))-a >= n || n == 0 && a == uint64(len(r.data))
}

// cache remembers the last region used for loads (or stores) so that the
// common case, a run of accesses to the same region, costs one subtraction
// and two comparisons.
type cache struct {
	base uint64
	data []byte
}

// at returns the offset of [addr, addr+n) within the cached region and
// whether it lies entirely inside. Small enough to be inlined.
func (c *cache) at(addr, n uint64) (uint64, bool) {
	a := addr - c.base
	return a, a < uint64(len(c.data)) && uint64(len(c.data))-a >= n
}

// find returns the region holding [addr, addr+n), or nil. Regions are few
// (stack, mem, and whatever helpers add), so a linear scan is fine.
func (m *machine) find(addr, n uint64, write bool) *region {
	for i := range m.regions {
		r := &m.regions[i]
		if r.contains(addr, n) && (r.writable || !write) {
			return r
		}
	}
	return nil
}

// refill points c at the region holding [addr, addr+n) and returns the
// offset in it, or false when no such region exists.
func (m *machine) refill(c *cache, addr, n uint64, write bool) (uint64, bool) {
	r := m.find(addr, n, write)
	if r == nil {
		return 0, false
	}
	c.base, c.data = r.base, r.data
	return addr - r.base, true
}

// memFault builds the error for a failed access, naming the region the
// address is in or nearest to, which is what one needs to see the bug.
func (m *machine) memFault(pc int, addr uint64, n int, kind string) error {
	var near *region
	var best uint64
	for i := range m.regions {
		r := &m.regions[i]
		var d uint64
		switch end := r.base + uint64(len(r.data)); {
		case addr < r.base:
			d = r.base - addr
		case addr >= end:
			d = addr - end
		}
		if near == nil || d < best {
			near, best = r, d
		}
	}
	msg := fmt.Sprintf("out-of-bounds %d-byte %s at %#x", n, kind, addr)
	if near != nil {
		if kind != "load" && !near.writable && near.contains(addr, uint64(n)) {
			msg = fmt.Sprintf("%d-byte %s at %#x to read-only %s (%#x-%#x)", n, kind, addr, near.name, near.base, near.base+uint64(len(near.data)))
		} else {
			msg += fmt.Sprintf(" (%s is %#x-%#x)", near.name, near.base, near.base+uint64(len(near.data)))
		}
	}
	return &RunError{PC: pc, Addr: addr, Size: n, Err: ErrOutOfBounds, msg: msg}
}

// Env is what a helper sees of the running program: a safe view of its
// memory and a way to stop it. An Env is only valid during the helper call
// it was passed to.
type Env struct {
	m       *machine
	stopped bool
}

// Bytes returns a slice aliasing the region memory at [addr, addr+n), or an
// error if that range is not entirely inside one readable region (writable,
// when write is set). Writes through the slice are seen by the program.
func (e *Env) Bytes(addr, n uint64, write bool) ([]byte, error) {
	r := e.m.find(addr, n, write)
	if r == nil {
		kind := "read"
		if write {
			kind = "write"
		}
		return nil, fmt.Errorf("helper %s of %d bytes at %#x is outside the program's memory: %w", kind, n, addr, ErrOutOfBounds)
	}
	a := addr - r.base
	return r.data[a : a+n : a+n], nil
}

// CString returns the bytes from addr up to, not including, the first NUL,
// looking at no more than max bytes (max <= 0: up to the end of the
// region). It is an error if there is no NUL within that window, because a
// C string that runs off its region is a bug in the program.
func (e *Env) CString(addr uint64, max int) ([]byte, error) {
	r := e.m.find(addr, 1, false)
	if r == nil {
		return nil, fmt.Errorf("helper string at %#x is outside the program's memory: %w", addr, ErrOutOfBounds)
	}
	b := r.data[addr-r.base:]
	if max > 0 && max < len(b) {
		b = b[:max]
	}
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return nil, fmt.Errorf("helper string at %#x has no NUL within %d bytes: %w", addr, len(b), ErrOutOfBounds)
	}
	return b[:i:i], nil
}

// Stop ends the program when the helper returns, with r0 set to the
// helper's return value (the conformance suite's "unwind" helper, and how
// an embedder aborts a program from Go).
func (e *Env) Stop() { e.stopped = true }

// AddRegion makes b addressable by the program for the rest of this run
// and returns its address: this is how a helper hands the program a
// pointer to memory it owns (a map value, a buffer). The region is
// read-only unless writable is set; name appears in fault messages.
func (e *Env) AddRegion(name string, b []byte, writable bool) (uint64, error) {
	m := e.m
	added := len(m.regions) - fixedRegions
	if added >= maxRegions {
		return 0, errors.New("vm: too many regions in one run")
	}
	if uint64(len(b)) > RegionSpacing {
		return 0, fmt.Errorf("vm: region of %d bytes is larger than %d", len(b), uint64(RegionSpacing))
	}
	addr := RegionAddr + uint64(added)*RegionSpacing
	m.regions = append(m.regions, region{base: addr, data: b, writable: writable, name: name})
	return addr, nil
}
