package symtab

import (
	"bytes"
	"debug/elf"
	"debug/gosym"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// elfTable is what symbolisation needs of one ELF file: its loadable
// segments, to turn file offsets into the file's virtual addresses, and
// its function and object symbols sorted by address.
type elfTable struct {
	typ    elf.Type
	loads  []elf.ProgHeader
	syms   []elfSym
	maxEnd []uint64 // maxEnd[i]: the highest end of syms[0..i]
}

type elfSym struct {
	start, size uint64
	name        string
	rank        uint8 // lower names an address better
}

// end is where s stops covering addresses; a symbol without a size covers
// only its first byte, so that it names exactly its own address.
func (s elfSym) end() uint64 {
	size := max(s.size, 1)
	if s.start > ^uint64(0)-size {
		return ^uint64(0)
	}
	return s.start + size
}

// openELFTable reads the symbols of the ELF file at path.
func openELFTable(path string) (*elfTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readELFTable(f)
}

// readELFTable reads the symbols of an ELF file. Both .symtab and .dynsym
// are read, so that stripped files still name their exported functions.
func readELFTable(r io.ReaderAt) (t *elfTable, err error) {
	// debug/elf is not hardened against every malformed file.
	defer func() {
		if p := recover(); p != nil {
			t, err = nil, fmt.Errorf("malformed ELF file: %v", p)
		}
	}()
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, err
	}
	t = &elfTable{typ: f.Type}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			t.loads = append(t.loads, p.ProgHeader)
		}
	}
	type key struct {
		start uint64
		name  string
	}
	seen := map[key]bool{}
	for _, read := range []func() ([]elf.Symbol, error){f.Symbols, f.DynamicSymbols} {
		syms, err := read()
		if errors.Is(err, elf.ErrNoSymbols) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, s := range syms {
			switch elf.ST_TYPE(s.Info) {
			case elf.STT_FUNC, elf.STT_GNU_IFUNC, elf.STT_OBJECT:
			default:
				continue
			}
			if s.Section == elf.SHN_UNDEF || s.Section == elf.SHN_ABS || s.Value == 0 || s.Name == "" {
				continue
			}
			// Versioned dynamic names ("memcpy@GLIBC_2.2.5") appear in
			// .symtab only; the plain name is what users know.
			name := s.Name
			if i := strings.IndexByte(name, '@'); i > 0 {
				name = name[:i]
			}
			k := key{s.Value, name}
			if seen[k] {
				continue
			}
			seen[k] = true
			t.syms = append(t.syms, elfSym{start: s.Value, size: s.Size, name: name, rank: symRank(s)})
		}
	}
	if !hasSymtab(f) {
		// A stripped Go binary (go build -ldflags=-s, and go test's own
		// binaries) still has the runtime's function table.
		t.syms = append(t.syms, goFunctions(f)...)
	}
	t.index()
	return t, nil
}

func hasSymtab(f *elf.File) bool {
	s := f.Section(".symtab")
	return s != nil && s.Type == elf.SHT_SYMTAB && s.Size > 0
}

// goFunctions reads the functions of a Go binary from its .gopclntab, or
// returns nil for other files. Malformed tables yield nil, not an error:
// the ELF symbols still stand.
func goFunctions(f *elf.File) []elfSym {
	pcln, text := f.Section(".gopclntab"), f.Section(".text")
	if pcln == nil || text == nil || pcln.Size > 1<<30 {
		return nil
	}
	data, err := pcln.Data()
	if err != nil {
		return nil
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		return nil
	}
	out := make([]elfSym, 0, len(tab.Funcs))
	for _, fn := range tab.Funcs {
		if fn.Sym == nil || fn.Name == "" || fn.End < fn.Entry || fn.Entry == 0 {
			continue
		}
		out = append(out, elfSym{start: fn.Entry, size: fn.End - fn.Entry, name: fn.Name})
	}
	return out
}

// index sorts the symbols and computes maxEnd. Symbols at one address
// keep their relative order among equal ranks (.symtab before .dynsym).
func (t *elfTable) index() {
	slices.SortStableFunc(t.syms, func(a, b elfSym) int {
		switch {
		case a.start != b.start:
			if a.start < b.start {
				return -1
			}
			return 1
		default:
			return int(a.rank) - int(b.rank)
		}
	})
	t.maxEnd = make([]uint64, len(t.syms))
	var m uint64
	for i, s := range t.syms {
		m = max(m, s.end())
		t.maxEnd[i] = m
	}
}

// symRank orders symbols that share an address: functions before
// objects, global before weak before local ones.
func symRank(s elf.Symbol) uint8 {
	var r uint8
	if elf.ST_TYPE(s.Info) == elf.STT_OBJECT {
		r = 4
	}
	switch elf.ST_BIND(s.Info) {
	case elf.STB_GLOBAL:
	case elf.STB_WEAK:
		r++
	default:
		r += 2
	}
	return r
}

// vaddr returns the virtual address, in the file's own terms (what its
// symbols use), of the byte at file offset off, and whether a loadable
// segment holds it.
func (t *elfTable) vaddr(off uint64) (uint64, bool) {
	for _, p := range t.loads {
		if off >= p.Off && off-p.Off < p.Filesz {
			return off - p.Off + p.Vaddr, true
		}
	}
	// Past the file's bytes of a segment: its zero-filled tail (.bss).
	for _, p := range t.loads {
		if off >= p.Off && off-p.Off < p.Memsz {
			return off - p.Off + p.Vaddr, true
		}
	}
	return 0, false
}

// fileOffset is the inverse of vaddr: the file offset of virtual address
// v, for segments that have file bytes there.
func (t *elfTable) fileOffset(v uint64) (uint64, bool) {
	for _, p := range t.loads {
		if v >= p.Vaddr && v-p.Vaddr < p.Filesz {
			return v - p.Vaddr + p.Off, true
		}
	}
	return 0, false
}

// lookup returns the symbol that covers virtual address v: the one with
// the highest start whose range holds v, and of those at one start the
// best ranked.
func (t *elfTable) lookup(v uint64) (elfSym, bool) {
	// The last symbol starting at or below v.
	lo, hi := 0, len(t.syms)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.syms[m].start <= v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	// Walk down while some symbol at or below could still reach v.
	for j := lo - 1; j >= 0 && t.maxEnd[j] > v; j-- {
		if v < t.syms[j].end() {
			for j > 0 && t.syms[j-1].start == t.syms[j].start && v < t.syms[j-1].end() {
				j--
			}
			return t.syms[j], true
		}
	}
	return elfSym{}, false
}

// byName returns the best-ranked symbol called name.
func (t *elfTable) byName(name string) (elfSym, bool) {
	var best elfSym
	found := false
	for _, s := range t.syms {
		if s.name == name && (!found || s.rank < best.rank) {
			best, found = s, true
		}
	}
	return best, found
}

// readVDSO reads the vDSO image of process pid from its memory; the
// kernel maps the same image into every process.
func readVDSO(pid int, start, end uint64) (*elfTable, error) {
	if end <= start || end-start > 1<<20 {
		return nil, fmt.Errorf("vdso mapping of %d bytes", end-start)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, end-start)
	if _, err := f.ReadAt(buf, int64(start)); err != nil {
		return nil, fmt.Errorf("read vdso: %w", err)
	}
	return readELFTable(bytes.NewReader(buf))
}
