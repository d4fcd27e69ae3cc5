package vm

import (
	"encoding/binary"
	"fmt"
)

// valueMap is implemented by the maps whose values live in a slab that
// programs address: arrays and hashes, per-CPU or not.
type valueMap interface {
	Map
	// lookupOff returns the offset in the value slab of key's value on
	// cpu, touching it for LRU maps.
	lookupOff(key []byte, cpu int) (int, bool)
	// updateCPU is the program's update: it writes value (one CPU's) for
	// cpu; a new entry of a per-CPU map starts zeroed on the other CPUs.
	updateCPU(key, value []byte, flags uint64, cpu int) error
	// entries returns the key and value offsets of every entry on cpu,
	// in iteration order.
	entries(cpu int) (keyOffs, valOffs []int)
	cpus() int
}

// arrayMap is Array and PerCPUArray: every index always exists.
type arrayMap struct {
	mapCore
	stride, ncpu int
}

func newArray(c mapCore) (*arrayMap, error) {
	if c.spec.KeySize != 4 {
		return nil, errInvalid("array key size %d, want 4", c.spec.KeySize)
	}
	if c.spec.ValueSize == 0 || c.spec.MaxEntries == 0 {
		return nil, errInvalid("array needs a value size and max entries")
	}
	a := &arrayMap{mapCore: c, stride: round8(c.spec.ValueSize), ncpu: 1}
	if c.spec.Type == PerCPUArray {
		a.ncpu = c.spec.CPUs
	}
	n := uint64(a.stride) * uint64(a.ncpu) * uint64(c.spec.MaxEntries)
	if n > mapKeysOffset {
		return nil, fmt.Errorf("%d bytes of values is more than 4 GiB: %w", n, ErrMapFull)
	}
	a.values = make([]byte, n)
	// The keys of an array are its indices; for_each_map_elem hands the
	// callback a pointer to one, so they need memory of their own.
	a.keys = make([]byte, 4*int(c.spec.MaxEntries))
	for i := range int(c.spec.MaxEntries) {
		binary.LittleEndian.PutUint32(a.keys[4*i:], uint32(i))
	}
	return a, nil
}

func (a *arrayMap) cpus() int { return a.ncpu }

func (a *arrayMap) off(i uint32, cpu int) int { return (int(i)*a.ncpu + cpu) * a.stride }

func (a *arrayMap) index(key []byte) (uint32, error) {
	if err := a.checkKey(key); err != nil {
		return 0, err
	}
	i := le32(key)
	if i >= a.spec.MaxEntries {
		return 0, fmt.Errorf("%s: index %d of %d: %w", a.name(), i, a.spec.MaxEntries, ErrKeyNotExist)
	}
	return i, nil
}

func (a *arrayMap) Lookup(key []byte) ([]byte, error) {
	i, err := a.index(key)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.goValue(i), nil
}

// goValue copies index i's value as Go sees it.
func (a *arrayMap) goValue(i uint32) []byte {
	if a.ncpu == 1 && a.spec.Type == Array {
		o := a.off(i, 0)
		return append([]byte(nil), a.values[o:o+int(a.spec.ValueSize)]...)
	}
	o := a.off(i, 0)
	return append([]byte(nil), a.values[o:o+a.stride*a.ncpu]...)
}

func (a *arrayMap) Update(key, value []byte, flags uint64) error {
	if err := checkFlags(flags); err != nil {
		return err
	}
	if err := a.checkKey(key); err != nil {
		return err
	}
	if err := a.checkValue(value); err != nil {
		return err
	}
	i := le32(key)
	if i >= a.spec.MaxEntries {
		return fmt.Errorf("%s: index %d of %d: %w", a.name(), i, a.spec.MaxEntries, ErrMapFull)
	}
	if flags == UpdateNoExist {
		return fmt.Errorf("%s: index %d: %w", a.name(), i, ErrKeyExist)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	copy(a.values[a.off(i, 0):], value)
	return nil
}

func (a *arrayMap) updateCPU(key, value []byte, flags uint64, cpu int) error {
	if err := checkFlags(flags); err != nil {
		return err
	}
	i := le32(key)
	if i >= a.spec.MaxEntries {
		return fmt.Errorf("%s: index %d of %d: %w", a.name(), i, a.spec.MaxEntries, ErrMapFull)
	}
	if flags == UpdateNoExist {
		return fmt.Errorf("%s: index %d: %w", a.name(), i, ErrKeyExist)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	copy(a.values[a.off(i, cpu):], value[:a.spec.ValueSize])
	return nil
}

// Delete fails: array elements cannot be deleted (EINVAL, as in the kernel).
func (a *arrayMap) Delete(key []byte) error {
	return errInvalid("%s: array elements cannot be deleted", a.name())
}

func (a *arrayMap) NextKey(key []byte) ([]byte, error) {
	next := uint32(0)
	if key != nil {
		if err := a.checkKey(key); err != nil {
			return nil, err
		}
		if i := le32(key); i < a.spec.MaxEntries {
			next = i + 1
		}
	}
	if next >= a.spec.MaxEntries {
		return nil, ErrKeyNotExist
	}
	return binary.LittleEndian.AppendUint32(nil, next), nil
}

func (a *arrayMap) Iterate(fn func(key, value []byte) bool) error {
	for i := range a.spec.MaxEntries {
		a.mu.Lock()
		v := a.goValue(i)
		a.mu.Unlock()
		if !fn(binary.LittleEndian.AppendUint32(nil, i), v) {
			break
		}
	}
	return nil
}

func (a *arrayMap) lookupOff(key []byte, cpu int) (int, bool) {
	i := le32(key)
	if i >= a.spec.MaxEntries {
		return 0, false
	}
	return a.off(i, cpu), true
}

func (a *arrayMap) entries(cpu int) (keyOffs, valOffs []int) {
	n := int(a.spec.MaxEntries)
	keyOffs, valOffs = make([]int, n), make([]int, n)
	for i := range n {
		keyOffs[i], valOffs[i] = 4*i, a.off(uint32(i), cpu)
	}
	return keyOffs, valOffs
}

// hashMap is Hash, PerCPUHash and LRUHash. Entries live in slots that are
// allocated up front, like the kernel's preallocated hash maps: a slot's
// value memory is reused after a delete, and an insert into a full map
// fails (or, for LRU, evicts the least recently used entry).
type hashMap struct {
	mapCore
	stride, ncpu int
	index        map[string]int32 // key -> slot
	used         []bool
	free         []int32 // free slots, used from the end
	count        int
	lru          bool
	// Recency list for LRU maps, most recent at head; -1 ends it.
	prev, next []int32
	head, tail int32
}

func newHash(c mapCore) (*hashMap, error) {
	if c.spec.KeySize == 0 || c.spec.ValueSize == 0 || c.spec.MaxEntries == 0 {
		return nil, errInvalid("hash needs key size, value size and max entries")
	}
	h := &hashMap{mapCore: c, stride: round8(c.spec.ValueSize), ncpu: 1, lru: c.spec.Type == LRUHash, head: -1, tail: -1}
	if c.spec.Type == PerCPUHash {
		h.ncpu = c.spec.CPUs
	}
	n := int(c.spec.MaxEntries)
	vb := uint64(h.stride) * uint64(h.ncpu) * uint64(n)
	kb := uint64(c.spec.KeySize) * uint64(n)
	if vb > mapKeysOffset || kb > mapKeysOffset {
		return nil, fmt.Errorf("%d bytes of values is more than 4 GiB: %w", vb, ErrMapFull)
	}
	h.values = make([]byte, vb)
	h.keys = make([]byte, kb)
	h.index = make(map[string]int32)
	h.used = make([]bool, n)
	h.free = make([]int32, n)
	for i := range n {
		h.free[i] = int32(n - 1 - i) // slot 0 first
	}
	if h.lru {
		h.prev, h.next = make([]int32, n), make([]int32, n)
	}
	return h, nil
}

func (h *hashMap) cpus() int { return h.ncpu }

func (h *hashMap) off(slot int32, cpu int) int { return (int(slot)*h.ncpu + cpu) * h.stride }

func (h *hashMap) keyOf(slot int32) []byte {
	k := int(h.spec.KeySize)
	return h.keys[int(slot)*k : int(slot)*k+k]
}

// LRU list operations; callers hold mu.
func (h *hashMap) unlink(s int32) {
	p, n := h.prev[s], h.next[s]
	if p >= 0 {
		h.next[p] = n
	} else {
		h.head = n
	}
	if n >= 0 {
		h.prev[n] = p
	} else {
		h.tail = p
	}
}

func (h *hashMap) pushFront(s int32) {
	h.prev[s], h.next[s] = -1, h.head
	if h.head >= 0 {
		h.prev[h.head] = s
	}
	h.head = s
	if h.tail < 0 {
		h.tail = s
	}
}

func (h *hashMap) touch(s int32) {
	if h.lru && h.head != s {
		h.unlink(s)
		h.pushFront(s)
	}
}

// remove frees slot s; callers hold mu.
func (h *hashMap) remove(s int32) {
	delete(h.index, string(h.keyOf(s)))
	if h.lru {
		h.unlink(s)
	}
	h.used[s] = false
	h.free = append(h.free, s)
	h.count--
}

// upsert finds or creates key's slot under flags; callers hold mu. The
// returned bool is true for a new entry, whose value the caller must
// initialise fully.
func (h *hashMap) upsert(key []byte, flags uint64) (int32, bool, error) {
	if s, ok := h.index[string(key)]; ok {
		if flags == UpdateNoExist {
			return 0, false, fmt.Errorf("%s: %w", h.name(), ErrKeyExist)
		}
		h.touch(s)
		return s, false, nil
	}
	if flags == UpdateExist {
		return 0, false, fmt.Errorf("%s: %w", h.name(), ErrKeyNotExist)
	}
	if len(h.free) == 0 {
		if !h.lru {
			return 0, false, fmt.Errorf("%s: %d entries: %w", h.name(), h.spec.MaxEntries, ErrMapFull)
		}
		h.remove(h.tail)
	}
	s := h.free[len(h.free)-1]
	h.free = h.free[:len(h.free)-1]
	copy(h.keyOf(s), key)
	h.index[string(key)] = s
	h.used[s] = true
	h.count++
	if h.lru {
		h.pushFront(s)
	}
	return s, true, nil
}

func (h *hashMap) Lookup(key []byte) ([]byte, error) {
	if err := h.checkKey(key); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.index[string(key)]
	if !ok {
		return nil, fmt.Errorf("%s: %w", h.name(), ErrKeyNotExist)
	}
	// A lookup from user space does not count as a use for LRU, as in
	// the kernel, so that dumping a map does not reorder it.
	return h.goValue(s), nil
}

func (h *hashMap) goValue(s int32) []byte {
	o := h.off(s, 0)
	if h.ncpu == 1 && h.spec.Type != PerCPUHash {
		return append([]byte(nil), h.values[o:o+int(h.spec.ValueSize)]...)
	}
	return append([]byte(nil), h.values[o:o+h.stride*h.ncpu]...)
}

func (h *hashMap) Update(key, value []byte, flags uint64) error {
	if err := checkFlags(flags); err != nil {
		return err
	}
	if err := h.checkKey(key); err != nil {
		return err
	}
	if err := h.checkValue(value); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s, _, err := h.upsert(key, flags)
	if err != nil {
		return err
	}
	copy(h.values[h.off(s, 0):], value)
	return nil
}

func (h *hashMap) updateCPU(key, value []byte, flags uint64, cpu int) error {
	if err := checkFlags(flags); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s, fresh, err := h.upsert(key, flags)
	if err != nil {
		return err
	}
	if fresh {
		o := h.off(s, 0)
		clear(h.values[o : o+h.stride*h.ncpu])
	}
	copy(h.values[h.off(s, cpu):], value[:h.spec.ValueSize])
	return nil
}

func (h *hashMap) Delete(key []byte) error {
	if err := h.checkKey(key); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.index[string(key)]
	if !ok {
		return fmt.Errorf("%s: %w", h.name(), ErrKeyNotExist)
	}
	h.remove(s)
	return nil
}

// NextKey iterates in slot order, which, like the kernel's bucket order,
// has nothing to do with insertion order.
func (h *hashMap) NextKey(key []byte) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	from := int32(0)
	if key != nil {
		if err := h.checkKey(key); err != nil {
			return nil, err
		}
		if s, ok := h.index[string(key)]; ok {
			from = s + 1
		}
	}
	for s := from; s < int32(len(h.used)); s++ {
		if h.used[s] {
			return append([]byte(nil), h.keyOf(s)...), nil
		}
	}
	return nil, ErrKeyNotExist
}

func (h *hashMap) Iterate(fn func(key, value []byte) bool) error {
	type kv struct{ k, v []byte }
	h.mu.Lock()
	snap := make([]kv, 0, h.count)
	for s := range int32(len(h.used)) {
		if h.used[s] {
			snap = append(snap, kv{append([]byte(nil), h.keyOf(s)...), h.goValue(s)})
		}
	}
	h.mu.Unlock()
	for _, e := range snap {
		if !fn(e.k, e.v) {
			break
		}
	}
	return nil
}

func (h *hashMap) lookupOff(key []byte, cpu int) (int, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.index[string(key)]
	if !ok {
		return 0, false
	}
	h.touch(s)
	return h.off(s, cpu), true
}

func (h *hashMap) entries(cpu int) (keyOffs, valOffs []int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range int32(len(h.used)) {
		if h.used[s] {
			keyOffs = append(keyOffs, int(s)*int(h.spec.KeySize))
			valOffs = append(valOffs, h.off(s, cpu))
		}
	}
	return keyOffs, valOffs
}

// Len returns the number of entries.
func (h *hashMap) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count
}
