package vm

import (
	"fmt"
	"syscall"
)

// MaxTailCalls is the number of tail calls one run may make; the next one
// fails and the program goes on after it (the kernel's MAX_TAIL_CALL_CNT).
const MaxTailCalls = 33

// MapHelpers returns the map helpers under the kernel's ids, in a new map
// that the caller may extend or override before passing it as
// RunOptions.Helpers:
//
//	1   map_lookup_elem          87  map_push_elem       131 ringbuf_reserve
//	2   map_update_elem          88  map_pop_elem        132 ringbuf_submit
//	3   map_delete_elem          89  map_peek_elem       133 ringbuf_discard
//	12  tail_call                130 ringbuf_output      134 ringbuf_query
//	25  perf_event_output        164 for_each_map_elem   195 map_lookup_percpu_elem
//
// They behave as the kernel's do for a verified program, returning the
// same negated errno values; what the kernel's verifier would have
// rejected (a map argument that is not a map of the program, a key that
// is not readable memory, submitting a record that was not reserved)
// stops the program with an error instead.
func MapHelpers() map[int32]HelperFunc {
	return map[int32]HelperFunc{
		1:   helperMapLookup,
		2:   helperMapUpdate,
		3:   helperMapDelete,
		12:  helperTailCall,
		25:  helperPerfEventOutput,
		87:  helperMapPush,
		88:  helperMapPop,
		89:  helperMapPeek,
		130: helperRingbufOutput,
		131: helperRingbufReserve,
		132: helperRingbufSubmit,
		133: helperRingbufDiscard,
		134: helperRingbufQuery,
		164: helperForEachMapElem,
		195: helperMapLookupPercpu,
	}
}

func mapErrno(e syscall.Errno) uint64 { return -uint64(e) }

// valueMapArg resolves a map argument that must have addressable values.
func (e *Env) valueMapArg(h uint64, helper string) (valueMap, error) {
	m, err := e.Map(h)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", helper, err)
	}
	vm, ok := m.(valueMap)
	if !ok {
		return nil, fmt.Errorf("%s: %s is a %s: %w", helper, m.core().name(), m.Spec().Type, ErrNotSupported)
	}
	return vm, nil
}

// cpuOf returns the CPU whose values vm gives the running program.
func (e *Env) cpuOf(vm valueMap) (int, error) {
	n := vm.cpus()
	if n == 1 {
		return 0, nil
	}
	cpu := e.m.opts.CPU
	if cpu < 0 || cpu >= n {
		return 0, fmt.Errorf("RunOptions.CPU %d, but %s has %d CPUs", cpu, vm.core().name(), n)
	}
	return cpu, nil
}

func (e *Env) keyArg(c *mapCore, addr uint64) ([]byte, error) {
	return e.Bytes(addr, uint64(c.spec.KeySize), false)
}

func helperMapLookup(env *Env, a [5]uint64) (uint64, error) {
	vm, err := env.valueMapArg(a[0], "map_lookup_elem")
	if err != nil {
		return 0, err
	}
	c := vm.core()
	key, err := env.keyArg(c, a[1])
	if err != nil {
		return 0, err
	}
	cpu, err := env.cpuOf(vm)
	if err != nil {
		return 0, err
	}
	off, ok := vm.lookupOff(key, cpu)
	if !ok {
		return 0, nil
	}
	return c.valueAddr() + uint64(off), nil
}

func helperMapLookupPercpu(env *Env, a [5]uint64) (uint64, error) {
	vm, err := env.valueMapArg(a[0], "map_lookup_percpu_elem")
	if err != nil {
		return 0, err
	}
	c := vm.core()
	if t := c.spec.Type; t != PerCPUArray && t != PerCPUHash {
		return 0, fmt.Errorf("map_lookup_percpu_elem: %s is not per-CPU: %w", c.name(), ErrNotSupported)
	}
	key, err := env.keyArg(c, a[1])
	if err != nil {
		return 0, err
	}
	if a[2] >= uint64(vm.cpus()) {
		return 0, nil
	}
	off, ok := vm.lookupOff(key, int(a[2]))
	if !ok {
		return 0, nil
	}
	return c.valueAddr() + uint64(off), nil
}

func helperMapUpdate(env *Env, a [5]uint64) (uint64, error) {
	m, err := env.Map(a[0])
	if err != nil {
		return 0, fmt.Errorf("map_update_elem: %w", err)
	}
	c := m.core()
	if q, ok := m.(*QueueMap); ok { // the kernel treats this as a push
		return helperPushTo(env, q, a[2], a[3])
	}
	vm, ok := m.(valueMap)
	if !ok {
		return mapErrno(syscall.EINVAL), nil
	}
	key, err := env.keyArg(c, a[1])
	if err != nil {
		return 0, err
	}
	val, err := env.Bytes(a[2], uint64(c.spec.ValueSize), false)
	if err != nil {
		return 0, err
	}
	cpu, err := env.cpuOf(vm)
	if err != nil {
		return 0, err
	}
	if err := vm.updateCPU(key, val, a[3], cpu); err != nil {
		return errnoOf(err), nil
	}
	return 0, nil
}

func helperMapDelete(env *Env, a [5]uint64) (uint64, error) {
	m, err := env.Map(a[0])
	if err != nil {
		return 0, fmt.Errorf("map_delete_elem: %w", err)
	}
	c := m.core()
	key, err := env.keyArg(c, a[1])
	if err != nil {
		return 0, err
	}
	if err := m.Delete(key); err != nil {
		return errnoOf(err), nil
	}
	return 0, nil
}

func (e *Env) queueArg(h uint64, helper string) (*QueueMap, error) {
	m, err := e.Map(h)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", helper, err)
	}
	q, ok := m.(*QueueMap)
	if !ok {
		return nil, fmt.Errorf("%s: %s is not a queue or stack: %w", helper, m.core().name(), ErrNotSupported)
	}
	return q, nil
}

func helperPushTo(env *Env, q *QueueMap, valAddr, flags uint64) (uint64, error) {
	val, err := env.Bytes(valAddr, uint64(q.spec.ValueSize), false)
	if err != nil {
		return 0, err
	}
	if err := q.Push(val, flags); err != nil {
		return errnoOf(err), nil
	}
	return 0, nil
}

func helperMapPush(env *Env, a [5]uint64) (uint64, error) {
	q, err := env.queueArg(a[0], "map_push_elem")
	if err != nil {
		return 0, err
	}
	return helperPushTo(env, q, a[1], a[2])
}

func helperMapPop(env *Env, a [5]uint64) (uint64, error)  { return helperTake(env, a, true) }
func helperMapPeek(env *Env, a [5]uint64) (uint64, error) { return helperTake(env, a, false) }

func helperTake(env *Env, a [5]uint64, pop bool) (uint64, error) {
	name := "map_peek_elem"
	if pop {
		name = "map_pop_elem"
	}
	q, err := env.queueArg(a[0], name)
	if err != nil {
		return 0, err
	}
	dst, err := env.Bytes(a[1], uint64(q.spec.ValueSize), true)
	if err != nil {
		return 0, err
	}
	v, err := q.take(pop)
	if err != nil {
		return errnoOf(err), nil
	}
	copy(dst, v)
	return 0, nil
}

func (e *Env) ringArg(h uint64, helper string) (*RingBufMap, error) {
	m, err := e.Map(h)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", helper, err)
	}
	r, ok := m.(*RingBufMap)
	if !ok {
		return nil, fmt.Errorf("%s: %s is not a ring buffer: %w", helper, m.core().name(), ErrNotSupported)
	}
	return r, nil
}

// Wakeup flags of ringbuf_output and ringbuf_submit (BPF_RB_NO_WAKEUP,
// BPF_RB_FORCE_WAKEUP): accepted, and meaningless here since Read polls.
const ringWakeupFlags = 1 | 2

func helperRingbufOutput(env *Env, a [5]uint64) (uint64, error) {
	r, err := env.ringArg(a[0], "ringbuf_output")
	if err != nil {
		return 0, err
	}
	if a[3]&^ringWakeupFlags != 0 {
		return mapErrno(syscall.EINVAL), nil
	}
	b, err := env.Bytes(a[1], a[2], false)
	if err != nil {
		return 0, err
	}
	if !r.output(b) {
		return mapErrno(syscall.EAGAIN), nil
	}
	return 0, nil
}

func helperRingbufReserve(env *Env, a [5]uint64) (uint64, error) {
	r, err := env.ringArg(a[0], "ringbuf_reserve")
	if err != nil {
		return 0, err
	}
	if a[2] != 0 {
		return 0, nil
	}
	r.mu.Lock()
	off, ok := r.reserve(a[1])
	r.mu.Unlock()
	if !ok {
		return 0, nil
	}
	return r.valueAddr() + off, nil
}

func helperRingbufFinish(env *Env, a [5]uint64, discard bool) (uint64, error) {
	name := "ringbuf_submit"
	if discard {
		name = "ringbuf_discard"
	}
	c := env.mapByAddr(a[0])
	r, ok := (*RingBufMap)(nil), false
	if c != nil {
		r, ok = env.ringOf(c)
	}
	if !ok {
		return 0, fmt.Errorf("%s: %#x is not a record of a ring buffer of this program: %w", name, a[0], syscall.EINVAL)
	}
	if err := r.finish(a[0]-r.valueAddr(), discard); err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return 0, nil
}

// ringOf returns the ring buffer map whose core is c.
func (e *Env) ringOf(c *mapCore) (*RingBufMap, bool) {
	for _, mp := range e.m.prog.maps {
		if r, ok := mp.(*RingBufMap); ok && &r.mapCore == c {
			return r, true
		}
	}
	return nil, false
}

func helperRingbufSubmit(env *Env, a [5]uint64) (uint64, error) {
	return helperRingbufFinish(env, a, false)
}

func helperRingbufDiscard(env *Env, a [5]uint64) (uint64, error) {
	return helperRingbufFinish(env, a, true)
}

func helperRingbufQuery(env *Env, a [5]uint64) (uint64, error) {
	r, err := env.ringArg(a[0], "ringbuf_query")
	if err != nil {
		return 0, err
	}
	return r.query(a[1]), nil
}

// perf_event_output's flags: the low 32 bits are the buffer index, or
// BPF_F_CURRENT_CPU; the context-length bits are not supported.
const (
	perfIndexMask  = 0xffffffff
	perfCurrentCPU = 0xffffffff
)

func helperPerfEventOutput(env *Env, a [5]uint64) (uint64, error) {
	m, err := env.Map(a[1])
	if err != nil {
		return 0, fmt.Errorf("perf_event_output: %w", err)
	}
	p, ok := m.(*PerfEventArrayMap)
	if !ok {
		return 0, fmt.Errorf("perf_event_output: %s is not a perf event array: %w", m.core().name(), ErrNotSupported)
	}
	flags := a[2]
	if flags&^perfIndexMask != 0 {
		return mapErrno(syscall.EINVAL), nil
	}
	i := flags & perfIndexMask
	if i == perfCurrentCPU {
		i = uint64(env.m.opts.CPU)
	}
	if i >= uint64(len(p.bufs)) {
		return mapErrno(syscall.E2BIG), nil
	}
	b, err := env.Bytes(a[3], a[4], false)
	if err != nil {
		return 0, err
	}
	if !p.output(int(i), b) {
		return mapErrno(syscall.ENOSPC), nil
	}
	return 0, nil
}

// helperTailCall does not jump itself: it records the target and stops
// the program, and Execute starts the target in its place. On failure
// (empty slot, index out of range, too many tail calls) it returns and the
// program goes on, as in the kernel.
func helperTailCall(env *Env, a [5]uint64) (uint64, error) {
	m, err := env.Map(a[1])
	if err != nil {
		return 0, fmt.Errorf("tail_call: %w", err)
	}
	pa, ok := m.(*ProgramArrayMap)
	if !ok {
		return 0, fmt.Errorf("tail_call: %s is not a program array: %w", m.core().name(), ErrNotSupported)
	}
	if a[2] > 0xffffffff {
		return mapErrno(syscall.E2BIG), nil
	}
	next := pa.Get(uint32(a[2]))
	if next == nil {
		return mapErrno(syscall.ENOENT), nil
	}
	mc := env.m
	if mc.tailCalls >= MaxTailCalls {
		return mapErrno(syscall.E2BIG), nil
	}
	mc.tailCalls++
	mc.tail, mc.tailCtx = next, a[0]
	env.Stop()
	return 0, nil
}

// helperForEachMapElem calls the callback for each entry, with r1 = the
// map, r2 = a pointer to the key, r3 = a pointer to the value and r4 = the
// context, until it returns nonzero; it returns how many entries it
// visited. The entries are those present when it starts, so the callback
// may update or delete without upsetting the walk.
func helperForEachMapElem(env *Env, a [5]uint64) (uint64, error) {
	vm, err := env.valueMapArg(a[0], "for_each_map_elem")
	if err != nil {
		return 0, err
	}
	if a[3] != 0 {
		return mapErrno(syscall.EINVAL), nil
	}
	cpu, err := env.cpuOf(vm)
	if err != nil {
		return 0, err
	}
	c := vm.core()
	env.m.ensureKeyRegion(c)
	keys, vals := vm.entries(cpu)
	n := uint64(0)
	for i := range keys {
		r, err := env.CallLocal(a[1], a[0], c.keyAddr()+uint64(keys[i]), c.valueAddr()+uint64(vals[i]), a[2])
		if err != nil {
			return 0, fmt.Errorf("for_each_map_elem callback: %w", err)
		}
		n++
		if r != 0 || env.stopped {
			break
		}
	}
	return n, nil
}
