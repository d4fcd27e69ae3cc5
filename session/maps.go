package session

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/wagglebpf/waggle/btfprint"
)

// printable reports whether a map holds keyed data worth printing at exit.
func printable(t ebpf.MapType) bool {
	switch t {
	case ebpf.Hash, ebpf.Array, ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUHash, ebpf.LRUCPUHash:
		return true
	}
	return false
}

// ReadMaps reads every hash, array, per-CPU and LRU map of the session that
// has BTF key and value types, sorted by name. Internal maps (.rodata,
// .bss, ...) are left out.
func ReadMaps(s *Session) ([]btfprint.Map, error) {
	var out []btfprint.Map
	for _, name := range sortedMapNames(s.Collection.Maps) {
		m := s.Collection.Maps[name]
		ms := s.Spec.Maps[name]
		if strings.HasPrefix(name, ".") || ms == nil || ms.Key == nil || ms.Value == nil || !printable(m.Type()) {
			continue
		}
		bm, err := readMap(name, m)
		if err != nil {
			return nil, fmt.Errorf("read map %s: %w", name, err)
		}
		bm.Key, bm.Value = ms.Key, ms.Value
		out = append(out, bm)
	}
	return out, nil
}

func readMap(name string, m *ebpf.Map) (btfprint.Map, error) {
	bm := btfprint.Map{
		Name:   name,
		PerCPU: isPerCPU(m.Type()),
		Array:  m.Type() == ebpf.Array || m.Type() == ebpf.PerCPUArray,
	}
	var err error
	bm.Entries, err = ReadEntries(m)
	return bm, err
}

func isPerCPU(t ebpf.MapType) bool {
	return t == ebpf.PerCPUHash || t == ebpf.PerCPUArray || t == ebpf.LRUCPUHash
}

// ReadEntries reads every entry of a hash or array map as raw bytes; a
// per-CPU map gives one value per possible CPU.
func ReadEntries(m *ebpf.Map) ([]btfprint.Entry, error) {
	perCPU := isPerCPU(m.Type())
	ncpu := 1
	if perCPU {
		n, err := ebpf.PossibleCPU()
		if err != nil {
			return nil, err
		}
		ncpu = n
	}
	// Hash maps can change under iteration; the key list is taken first and
	// vanished keys are skipped.
	var keys [][]byte
	var prev []byte
	for {
		next := make([]byte, m.KeySize())
		var err error
		if prev == nil {
			err = m.NextKey(nil, &next)
		} else {
			err = m.NextKey(prev, &next)
		}
		if err != nil {
			if isNotExist(err) {
				break
			}
			return nil, err
		}
		keys = append(keys, next)
		prev = next
		if uint32(len(keys)) > m.MaxEntries()+1 {
			break
		}
	}
	var entries []btfprint.Entry
	for _, k := range keys {
		values := make([][]byte, ncpu)
		for i := range values {
			values[i] = make([]byte, m.ValueSize())
		}
		var err error
		if perCPU {
			err = m.Lookup(k, values)
		} else {
			err = m.Lookup(k, &values[0])
		}
		if err != nil {
			if isNotExist(err) {
				continue
			}
			return nil, err
		}
		entries = append(entries, btfprint.Entry{Key: k, Values: values})
	}
	return entries, nil
}

func isNotExist(err error) bool {
	return errors.Is(err, ebpf.ErrKeyNotExist)
}

func sortedMapNames(m map[string]*ebpf.Map) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
