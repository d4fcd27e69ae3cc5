package vm

import (
	"encoding/binary"
	"fmt"
)

// ProgramArrayMap is a ProgramArray map: the programs tail_call jumps to.
// Go fills it with Set (the kernel's update with a program fd). Create it
// with NewMap and a type assertion.
type ProgramArrayMap struct {
	mapCore
	progs []*Program
}

func newProgramArray(c mapCore) (*ProgramArrayMap, error) {
	if c.spec.KeySize == 0 {
		c.spec.KeySize = 4
	}
	if c.spec.ValueSize == 0 {
		c.spec.ValueSize = 4
	}
	if c.spec.KeySize != 4 || c.spec.ValueSize != 4 || c.spec.MaxEntries == 0 {
		return nil, errInvalid("prog_array needs 4-byte keys and values and max entries")
	}
	return &ProgramArrayMap{mapCore: c, progs: make([]*Program, c.spec.MaxEntries)}, nil
}

// Set puts p at index i; a nil p clears it.
func (a *ProgramArrayMap) Set(i uint32, p *Program) error {
	if i >= a.spec.MaxEntries {
		return fmt.Errorf("%s: index %d of %d: %w", a.name(), i, a.spec.MaxEntries, ErrMapFull)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.progs[i] = p
	return nil
}

// Get returns the program at index i, or nil.
func (a *ProgramArrayMap) Get(i uint32) *Program {
	if i >= a.spec.MaxEntries {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.progs[i]
}

// Lookup and Update fail: a program array holds programs, not bytes; use
// Get and Set.
func (a *ProgramArrayMap) Lookup([]byte) ([]byte, error) {
	return nil, notForType(&a.mapCore, "lookup (use Get)")
}

// Update fails; use Set.
func (a *ProgramArrayMap) Update(_, _ []byte, _ uint64) error {
	return notForType(&a.mapCore, "update (use Set)")
}

// Delete clears an index.
func (a *ProgramArrayMap) Delete(key []byte) error {
	if err := a.checkKey(key); err != nil {
		return err
	}
	i := le32(key)
	if a.Get(i) == nil {
		return fmt.Errorf("%s: index %d: %w", a.name(), i, ErrKeyNotExist)
	}
	return a.Set(i, nil)
}

// NextKey walks the indices, as for an array.
func (a *ProgramArrayMap) NextKey(key []byte) ([]byte, error) {
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

// Iterate reports the indices that hold a program, with empty values.
func (a *ProgramArrayMap) Iterate(fn func(key, value []byte) bool) error {
	for i := range a.spec.MaxEntries {
		if a.Get(i) != nil && !fn(binary.LittleEndian.AppendUint32(nil, i), nil) {
			break
		}
	}
	return nil
}

// QueueMap is a Queue (first in, first out) or Stack (last in, first out)
// map of fixed-size values without keys. Create it with NewMap and a type
// assertion. As in the kernel, a push into a full map fails with
// ErrMapFull unless the flags are UpdateExist, which drops the oldest
// value to make room, for stacks as well as queues.
type QueueMap struct {
	mapCore
	vals  [][]byte // oldest first
	stack bool
}

func newQueue(c mapCore) (*QueueMap, error) {
	if c.spec.KeySize != 0 || c.spec.ValueSize == 0 || c.spec.MaxEntries == 0 {
		return nil, errInvalid("%s needs key size 0, a value size and max entries", c.spec.Type)
	}
	return &QueueMap{mapCore: c, stack: c.spec.Type == Stack}, nil
}

// Push adds a value.
func (q *QueueMap) Push(value []byte, flags uint64) error {
	if flags != UpdateAny && flags != UpdateExist {
		return fmt.Errorf("push flags %#x: %w", flags, ErrInvalidFlags)
	}
	if len(value) != int(q.spec.ValueSize) {
		return errInvalid("%s: value of %d bytes, want %d", q.name(), len(value), q.spec.ValueSize)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.vals) >= int(q.spec.MaxEntries) {
		if flags != UpdateExist {
			return fmt.Errorf("%s: %d entries: %w", q.name(), q.spec.MaxEntries, ErrMapFull)
		}
		q.vals[0] = nil
		q.vals = q.vals[1:]
	}
	q.vals = append(q.vals, append([]byte(nil), value...))
	return nil
}

// Pop removes and returns the next value: the oldest for a queue, the
// newest for a stack.
func (q *QueueMap) Pop() ([]byte, error) { return q.take(true) }

// Peek returns the value Pop would, without removing it.
func (q *QueueMap) Peek() ([]byte, error) { return q.take(false) }

func (q *QueueMap) take(remove bool) ([]byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.vals) == 0 {
		return nil, fmt.Errorf("%s is empty: %w", q.name(), ErrKeyNotExist)
	}
	i := 0
	if q.stack {
		i = len(q.vals) - 1
	}
	v := q.vals[i]
	if remove {
		if q.stack {
			q.vals = q.vals[:i]
		} else {
			q.vals[0] = nil
			q.vals = q.vals[1:]
		}
		return v, nil
	}
	return append([]byte(nil), v...), nil
}

// Lookup is Peek (key must be empty), as BPF_MAP_LOOKUP_ELEM is.
func (q *QueueMap) Lookup(key []byte) ([]byte, error) {
	if len(key) != 0 {
		return nil, errInvalid("%s has no keys", q.name())
	}
	return q.Peek()
}

// Update is Push (key must be empty), as BPF_MAP_UPDATE_ELEM is.
func (q *QueueMap) Update(key, value []byte, flags uint64) error {
	if len(key) != 0 {
		return errInvalid("%s has no keys", q.name())
	}
	return q.Push(value, flags)
}

// Delete and NextKey fail with EINVAL: a queue or stack has no keys.
func (q *QueueMap) Delete([]byte) error { return notForType(&q.mapCore, "delete") }
func (q *QueueMap) NextKey([]byte) ([]byte, error) {
	return nil, notForType(&q.mapCore, "next key")
}

// Iterate reports the values in the order Pop would return them, with nil
// keys, without removing them.
func (q *QueueMap) Iterate(fn func(key, value []byte) bool) error {
	q.mu.Lock()
	snap := make([][]byte, len(q.vals))
	for i, v := range q.vals {
		snap[i] = append([]byte(nil), v...)
	}
	q.mu.Unlock()
	for i := range snap {
		v := snap[i]
		if q.stack {
			v = snap[len(snap)-1-i]
		}
		if !fn(nil, v) {
			break
		}
	}
	return nil
}
