package symtab

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/wagglebpf/waggle/attach"
)

// ErrKernelAddressesHidden means /proc/kallsyms lists every symbol at
// address 0: kernel.kptr_restrict (or a missing CAP_SYSLOG) hides kernel
// addresses, so kernel stacks and ksym cannot be symbolised.
var ErrKernelAddressesHidden = errors.New("kernel symbol addresses are hidden: /proc/kallsyms shows all addresses as 0")

// Kernel is the kernel's symbol table, sorted by address.
type Kernel struct {
	syms  []ksym // by address; no absolute symbols
	abs   []ksym // absolute symbols (types a, A): only for Address
	names string // the names of all symbols, back to back
	mods  []string

	byNameOnce sync.Once
	byName     map[string]uint64
}

type ksym struct {
	addr    uint64
	nameOff uint32
	nameLen uint32
	seq     uint32 // line number, for file order
	mod     uint16 // index into mods; 0 is the kernel image
	typ     byte
}

// LoadKernel reads /proc/kallsyms. When kernel addresses are hidden it
// returns an error that wraps ErrKernelAddressesHidden and says how to
// make them visible.
func LoadKernel() (*Kernel, error) {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return nil, fmt.Errorf("kernel symbols: %w", err)
	}
	defer f.Close()
	k, err := ParseKallsyms(f)
	if errors.Is(err, ErrKernelAddressesHidden) {
		return nil, fmt.Errorf("%w (%s)", err, kptrRestrictHint())
	}
	if err != nil {
		return nil, fmt.Errorf("/proc/kallsyms: %w", err)
	}
	return k, nil
}

// kptrRestrictHint says why addresses are hidden, for the error message.
func kptrRestrictHint() string {
	data, err := os.ReadFile("/proc/sys/kernel/kptr_restrict")
	v := strings.TrimSpace(string(data))
	switch {
	case err != nil:
		return "kernel.kptr_restrict is unreadable; run as root"
	case v == "2":
		return "kernel.kptr_restrict=2 hides them even from root; sysctl kernel.kptr_restrict=1 shows them to root"
	case os.Geteuid() != 0:
		return "kernel.kptr_restrict=" + v + "; run as root"
	default:
		return "kernel.kptr_restrict=" + v + ", and this process lacks CAP_SYSLOG"
	}
}

// maxKallsymsName bounds a symbol name; the kernel's limit (KSYM_NAME_LEN)
// is 512.
const maxKallsymsName = 4096

// ParseKallsyms reads a listing in the format of /proc/kallsyms:
// "ADDR TYPE NAME" or "ADDR TYPE NAME\t[MODULE]" per line. A listing whose
// addresses are all zero yields ErrKernelAddressesHidden.
func ParseKallsyms(r io.Reader) (*Kernel, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	k := &Kernel{mods: []string{""}}
	var names []byte
	modIndex := map[string]uint16{"": 0}
	var nonzero bool
	n := 0
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		n++
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		a, typ, name, mod, ok := attach.KallsymsFields(line)
		if !ok {
			return nil, fmt.Errorf("line %d: want \"ADDRESS TYPE NAME [MODULE]\", got %q", n, attach.Shorten(string(line)))
		}
		addr, err := strconv.ParseUint(string(a), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: bad address %q", n, attach.Shorten(string(a)))
		}
		if len(name) > maxKallsymsName {
			return nil, fmt.Errorf("line %d: symbol name longer than %d bytes", n, maxKallsymsName)
		}
		mi, ok := modIndex[string(mod)]
		if !ok {
			if len(k.mods) > 0xffff {
				return nil, fmt.Errorf("line %d: more than %d modules", n, 0xffff)
			}
			mi = uint16(len(k.mods))
			modIndex[string(mod)] = mi
			k.mods = append(k.mods, string(mod))
		}
		if uint64(len(names))+uint64(len(name)) > 1<<32-1 {
			return nil, fmt.Errorf("line %d: symbol names exceed 4 GiB", n)
		}
		s := ksym{addr: addr, nameOff: uint32(len(names)), nameLen: uint32(len(name)), seq: uint32(n), mod: mi, typ: typ}
		names = append(names, name...)
		nonzero = nonzero || addr != 0
		if typ == 'a' || typ == 'A' {
			k.abs = append(k.abs, s)
		} else {
			k.syms = append(k.syms, s)
		}
	}
	if len(k.syms)+len(k.abs) > 0 && !nonzero {
		return nil, ErrKernelAddressesHidden
	}
	// One string, so that the names Lookup returns share it.
	k.names = string(names)
	// By address; at one address the symbol Lookup should name comes
	// first, and the others are dropped.
	slices.SortFunc(k.syms, func(a, b ksym) int {
		switch {
		case a.addr != b.addr:
			if a.addr < b.addr {
				return -1
			}
			return 1
		case typeRank(a.typ) != typeRank(b.typ):
			return typeRank(a.typ) - typeRank(b.typ)
		default:
			return int(a.seq) - int(b.seq)
		}
	})
	// Keep the duplicates (for Address), but let Lookup skip them: the
	// first of a run of equal addresses is the one it reports.
	return k, nil
}

// typeRank orders symbol types for naming an address that several symbols
// share: global functions before weak ones before local ones, and code
// before data.
func typeRank(t byte) int {
	switch t {
	case 'T':
		return 0
	case 'W':
		return 1
	case 't':
		return 2
	case 'w':
		return 3
	}
	if t >= 'A' && t <= 'Z' {
		return 4
	}
	return 5
}

func (k *Kernel) symbol(s ksym) Symbol {
	return Symbol{Name: k.names[s.nameOff : s.nameOff+s.nameLen], Module: k.mods[s.mod], Addr: s.addr}
}

// Len returns the number of symbols in the table.
func (k *Kernel) Len() int { return len(k.syms) + len(k.abs) }

// Lookup returns the kernel symbol that addr falls in, the closest one at
// or below it (kallsyms gives no sizes, so an address past the end of the
// last function of a region still names it, as in BCC and bpftrace), and
// addr's offset from it. ok is false for an address below every symbol.
func (k *Kernel) Lookup(addr uint64) (sym Symbol, offset uint64, ok bool) {
	// The first symbol above addr, then back to the first of its address.
	lo, hi := 0, len(k.syms)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if k.syms[m].addr <= addr {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return Symbol{}, 0, false
	}
	i := lo - 1
	for i > 0 && k.syms[i-1].addr == k.syms[i].addr {
		i--
	}
	s := k.syms[i]
	return k.symbol(s), addr - s.addr, true
}

// Address returns the address of the kernel symbol name, as bpftrace's
// kaddr("name") does: the first symbol of that name in /proc/kallsyms
// order. A name may be qualified by its module, "module:name".
func (k *Kernel) Address(name string) (uint64, error) {
	k.byNameOnce.Do(func() {
		all := make([]ksym, 0, len(k.syms)+len(k.abs))
		all = append(append(all, k.syms...), k.abs...)
		slices.SortFunc(all, func(a, b ksym) int { return int(a.seq) - int(b.seq) })
		k.byName = make(map[string]uint64, len(all))
		for _, s := range all {
			n := k.names[s.nameOff : s.nameOff+s.nameLen]
			if _, dup := k.byName[n]; !dup {
				k.byName[n] = s.addr
			}
			if s.mod != 0 {
				q := k.mods[s.mod] + ":" + n
				if _, dup := k.byName[q]; !dup {
					k.byName[q] = s.addr
				}
			}
		}
	})
	if a, ok := k.byName[name]; ok {
		return a, nil
	}
	return 0, fmt.Errorf("no kernel symbol %q in /proc/kallsyms", attach.Shorten(name))
}
