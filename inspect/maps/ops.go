package maps

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/btfprint"
	"github.com/wagglebpf/waggle/inspect"
)

// ElemArgs is what a command line says about one element:
// "key WORDS... [value WORDS... [any|exist|noexist]]".
type ElemArgs struct {
	Key, Value       []string
	HasKey, HasValue bool
	// Flag is the update's condition: any (the default), exist (only
	// replace) or noexist (only create).
	Flag ebpf.MapUpdateFlags
}

// ParseElemArgs splits "key WORDS... value WORDS... [FLAG]". The key's
// words end at the word "value"; a string key or value that is literally
// "value" or a flag's name is given quoted as JSON ('"value"'). A flag is
// read only after at least one value word.
func ParseElemArgs(words []string) (ElemArgs, error) {
	var a ElemArgs
	if len(words) == 0 {
		return a, nil
	}
	if words[0] != "key" {
		if words[0] == "value" {
			return a, errors.New(`"value" comes after the key: key WORDS... value WORDS...`)
		}
		return a, fmt.Errorf("expected \"key\", found %q", shorten(words[0]))
	}
	a.HasKey = true
	rest := words[1:]
	i := 0
	for i < len(rest) && rest[i] != "value" {
		i++
	}
	a.Key = rest[:i]
	if len(a.Key) == 0 {
		return a, errors.New(`"key" needs a key after it (e.g. key 5, or key hex 05 00 00 00)`)
	}
	if i == len(rest) {
		return a, nil
	}
	a.HasValue = true
	a.Value = rest[i+1:]
	if n := len(a.Value); n > 1 {
		switch a.Value[n-1] {
		case "any":
			a.Flag, a.Value = ebpf.UpdateAny, a.Value[:n-1]
		case "exist":
			a.Flag, a.Value = ebpf.UpdateExist, a.Value[:n-1]
		case "noexist":
			a.Flag, a.Value = ebpf.UpdateNoExist, a.Value[:n-1]
		}
	}
	if len(a.Value) == 0 {
		return a, errors.New(`"value" needs a value after it`)
	}
	return a, nil
}

// ParseKey reads a key for this map (see [Parse]).
func (h *Handle) ParseKey(words []string) ([]byte, error) {
	b, err := Parse(words, h.Key, int(h.Map.KeySize()))
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	return b, nil
}

// ParseValue reads a value for this map (see [Parse]). For a per-CPU map
// it is one CPU's value.
func (h *Handle) ParseValue(words []string) ([]byte, error) {
	b, err := Parse(words, h.Value, int(h.Map.ValueSize()))
	if err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	return b, nil
}

// keyText renders a key for messages: typed when the map has BTF.
func (h *Handle) keyText(key []byte) string {
	if key == nil {
		return "none"
	}
	if h.Key != nil {
		if s, err := btfprint.Text(h.Key, key); err == nil {
			return s
		}
	}
	return btfprint.HexRecord(key)
}

// Lookup reads one entry. A map without keys (queue, stack) takes a nil
// key and is peeked at.
func (h *Handle) Lookup(key []byte) (*Contents, error) {
	switch h.Type {
	case ebpf.RingBuf, ebpf.UserRingbuf, ebpf.PerfEventArray, ebpf.StructOpsMap, ebpf.Arena:
		return nil, h.checkReadable()
	}
	var (
		values [][]byte
		err    error
	)
	if perCPU(h.Type) {
		n, perr := ebpf.PossibleCPU()
		if perr != nil {
			return nil, fmt.Errorf("counting the possible CPUs: %w", perr)
		}
		values = make([][]byte, n)
		for i := range values {
			values[i] = make([]byte, h.Map.ValueSize())
		}
		err = h.Map.Lookup(keyArg(key), values)
	} else {
		values = [][]byte{make([]byte, h.Map.ValueSize())}
		err = h.Map.Lookup(keyArg(key), &values[0])
	}
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		if key == nil {
			return nil, &missing{h.what() + " is empty", ErrNoKey}
		}
		return nil, h.noKey(key, "")
	}
	if err != nil {
		return nil, h.explainRead(err)
	}
	return h.contents([]btfprint.Entry{{Key: key, Values: values}}), nil
}

func (h *Handle) noKey(key []byte, note string) error {
	return &missing{fmt.Sprintf("%s has no key %s%s", h.what(), h.keyText(key), note), ErrNoKey}
}

// keyArg passes a nil key as no key at all (queues and stacks).
func keyArg(key []byte) any {
	if key == nil {
		return nil
	}
	return key
}

// Update writes one entry; a per-CPU map gets the same value on every CPU.
func (h *Handle) Update(key, value []byte, flag ebpf.MapUpdateFlags) error {
	if err := h.checkWritable(); err != nil {
		return err
	}
	var v any = value
	if perCPU(h.Type) {
		n, err := ebpf.PossibleCPU()
		if err != nil {
			return fmt.Errorf("counting the possible CPUs: %w", err)
		}
		vs := make([][]byte, n)
		for i := range vs {
			vs[i] = value
		}
		v = vs
	}
	err := h.Map.Update(keyArg(key), v, flag)
	switch {
	case err == nil:
		return nil
	case flag == ebpf.UpdateNoExist && errors.Is(err, ebpf.ErrKeyExist):
		return fmt.Errorf("%s already has key %s (noexist only creates)", h.what(), h.keyText(key))
	case flag == ebpf.UpdateExist && errors.Is(err, ebpf.ErrKeyNotExist):
		return h.noKey(key, " (exist only replaces)")
	case errors.Is(err, unix.E2BIG) && isArray(h.Type):
		return fmt.Errorf("%s holds keys 0 to %d only: %s is past its end", h.what(), h.Map.MaxEntries()-1, h.keyText(key))
	case errors.Is(err, unix.E2BIG):
		return fmt.Errorf("%s is full (%d entries): delete some first", h.what(), h.Map.MaxEntries())
	case errors.Is(err, unix.EPERM) && h.frozen():
		return fmt.Errorf("%s is frozen: user space may no longer write it", h.what())
	case errors.Is(err, unix.EINVAL) && isArray(h.Type):
		return fmt.Errorf("updating %s: array maps hold keys 0 to %d and cannot be created or deleted (use any or exist): %w", h.what(), h.Map.MaxEntries()-1, err)
	}
	return explain(err, "updating "+h.what())
}

func (h *Handle) frozen() bool {
	info, err := h.Map.Info()
	return err == nil && info.Frozen()
}

func isArray(t ebpf.MapType) bool {
	return t == ebpf.Array || t == ebpf.PerCPUArray
}

// checkWritable refuses maps whose values are kernel objects: they take
// file descriptors from user space, which a command line cannot give.
func (h *Handle) checkWritable() error {
	switch h.Type {
	case ebpf.ProgramArray, ebpf.PerfEventArray, ebpf.ArrayOfMaps, ebpf.HashOfMaps, ebpf.CGroupArray,
		ebpf.SockMap, ebpf.SockHash, ebpf.XSKMap, ebpf.ReusePortSockArray, ebpf.DevMap, ebpf.DevMapHash, ebpf.CPUMap:
		return fmt.Errorf("%s is a %s: its values are file descriptors or kernel objects, which waggle map update cannot give", h.what(), TypeName(h.Type))
	case ebpf.RingBuf, ebpf.UserRingbuf, ebpf.StructOpsMap, ebpf.Arena:
		return h.checkReadable()
	}
	return nil
}

// Delete removes one entry.
func (h *Handle) Delete(key []byte) error {
	err := h.Map.Delete(keyArg(key))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ebpf.ErrKeyNotExist):
		return h.noKey(key, "")
	case errors.Is(err, unix.EINVAL) && isArray(h.Type):
		return fmt.Errorf("deleting from %s: entries of array maps cannot be deleted, only set to zero (update ... value 0): %w", h.what(), err)
	}
	return explain(err, "deleting from "+h.what())
}

// NextKey returns the key after key, or the first key for a nil key; ok
// is false after the last key.
func (h *Handle) NextKey(key []byte) (next []byte, ok bool, err error) {
	next = make([]byte, h.Map.KeySize())
	err = h.Map.NextKey(keyArg(key), &next)
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, h.explainRead(err)
	}
	return next, true, nil
}

// WriteNextKey prints a getnext answer: "key: K" and "next key: N" lines
// (N is "none" after the last key), or in JSON {"key": K, "next_key": N}
// with null for none.
func (h *Handle) WriteNextKey(w io.Writer, key, next []byte, asJSON bool) error {
	if !asJSON {
		nextText := "none"
		if next != nil {
			nextText = h.keyText(next)
		}
		_, err := fmt.Fprintf(w, "key: %s\nnext key: %s\n", h.keyText(key), nextText)
		return err
	}
	b := []byte(`{"key": `)
	var err error
	if key == nil {
		b = append(b, "null"...)
	} else if b, err = appendJSONValue(b, h.Key, key); err != nil {
		return err
	}
	b = append(b, `, "next_key": `...)
	if next == nil {
		b = append(b, "null"...)
	} else if b, err = appendJSONValue(b, h.Key, next); err != nil {
		return err
	}
	b = append(b, "}\n"...)
	_, err = w.Write(b)
	return err
}

// Pin pins the map at path, which must be in a BPF file system; under
// /sys/fs/bpf, one is mounted if none is (as root).
func (h *Handle) Pin(path string) error {
	if abs, err := filepath.Abs(path); err == nil && strings.HasPrefix(abs, inspect.BPFFSPath+"/") {
		if _, err := inspect.EnsureBPFFS(); err != nil {
			return err
		}
	}
	dir := filepath.Dir(path)
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cannot pin at %s: directory %s does not exist", shorten(path), shorten(dir))
		}
		return fmt.Errorf("cannot pin at %s: %w", shorten(path), err)
	}
	if st.Type != unix.BPF_FS_MAGIC {
		return fmt.Errorf("cannot pin at %s: %s is not in a BPF file system (mount one with: mount -t bpf bpf /sys/fs/bpf)", shorten(path), shorten(dir))
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("cannot pin at %s: something is pinned there already", shorten(path))
	}
	// cilium/ebpf's Pin would move an existing pin; a fresh handle pins
	// anew without touching other pins of the same map.
	m, err := h.Map.Clone()
	if err != nil {
		return fmt.Errorf("pinning %s: %w", h.what(), err)
	}
	defer m.Close()
	if err := m.Pin(path); err != nil {
		return explain(err, fmt.Sprintf("pinning %s at %s", h.what(), shorten(path)))
	}
	return nil
}
