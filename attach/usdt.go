package attach

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/wagglebpf/waggle/internal/procmaps"
)

// This file reads USDT probes: the SystemTap SDT notes (".note.stapsdt")
// that <sys/sdt.h> and dtrace -G leave in a binary for each
// DTRACE_PROBE/STAP_PROBE site. A USDT probe is a uprobe on the note's
// address, whose arguments the note describes as assembler operands, and
// which may have a semaphore: a counter in the traced process that the
// program checks before preparing expensive arguments.

// USDTProbe is one probe site in an ELF file. A provider:name pair may
// have several sites (the macro was used more than once, or inlined);
// each is a USDTProbe of its own and all of them make up the probe.
type USDTProbe struct {
	// Path is the file the probe is in.
	Path     string
	Provider string
	Name     string
	// PC is the address of the probe site in the file's virtual addresses,
	// adjusted (as SystemTap and libbpf do) when the file was prelinked
	// after the note was written: by the difference between the address
	// of the .stapsdt.base section and the base the note records.
	PC uint64
	// Offset is the file offset of the probe site, which is what a uprobe
	// is placed on (link.UprobeOptions.Address).
	Offset uint64
	// Base is the address of .stapsdt.base as recorded in the note.
	Base uint64
	// Semaphore is the address of the probe's semaphore in the file's
	// virtual addresses (adjusted like PC), or 0 if it has none.
	Semaphore uint64
	// SemaphoreOffset is the semaphore's file offset, 0 if there is none.
	// The kernel manages the semaphore itself when it is given as
	// link.UprobeOptions.RefCtrOffset (Linux 4.20+).
	SemaphoreOffset uint64
	// Arch is the GOARCH the file is for ("amd64", "arm64", ...).
	Arch string
	// ArgSpec is the argument specification as the note has it, e.g.
	// "-4@%edi 8@-16(%rbp)".
	ArgSpec string
	// Args are the arguments decoded from ArgSpec, arg0 first. When they
	// cannot be decoded (unknown syntax, an architecture waggle does not
	// know), Args is nil and ArgsErr says why; the probe can still be
	// attached, just not read arguments from.
	Args    []USDTArg
	ArgsErr error
}

// String names the probe as bpftrace lists it: usdt:PATH:PROVIDER:NAME.
func (p USDTProbe) String() string {
	return "usdt:" + p.Path + ":" + p.Provider + ":" + p.Name
}

// usdtNote is one stapsdt note as written in the file.
type usdtNote struct {
	pc, base, semaphore uint64
	provider, name      string
	args                string
}

// stapsdt notes: owner "stapsdt", type 3 (SDT v3, the only one in use).
const (
	stapsdtOwner    = "stapsdt"
	stapsdtNoteType = 3
)

// parseStapsdtNotes reads the SDT notes in the contents of a note section
// of a file with addresses of addrSize (4 or 8) bytes. Notes of other
// owners or types are skipped.
func parseStapsdtNotes(data []byte, bo binary.ByteOrder, addrSize int) ([]usdtNote, error) {
	var out []usdtNote
	for off := 0; len(data)-off >= 12; {
		namesz, descsz, typ := bo.Uint32(data[off:]), bo.Uint32(data[off+4:]), bo.Uint32(data[off+8:])
		nameStart := uint64(off) + 12
		descStart := nameStart + align4(uint64(namesz))
		next := descStart + align4(uint64(descsz))
		if descStart+uint64(descsz) > uint64(len(data)) {
			return nil, fmt.Errorf("note at offset %d runs past the end of the section", off)
		}
		name := data[nameStart : nameStart+uint64(namesz)]
		desc := data[descStart : descStart+uint64(descsz)]
		if string(bytes.TrimRight(name, "\x00")) == stapsdtOwner && typ == stapsdtNoteType {
			n, err := parseStapsdtDesc(desc, bo, addrSize)
			if err != nil {
				return nil, fmt.Errorf("stapsdt note at offset %d: %w", off, err)
			}
			out = append(out, n)
		}
		if next > uint64(len(data)) {
			break // the last note's padding may be cut off
		}
		off = int(next)
	}
	return out, nil
}

func align4(v uint64) uint64 { return (v + 3) &^ 3 }

// parseStapsdtDesc reads a note's description: three addresses (probe,
// .stapsdt.base, semaphore), then the provider, name and argument
// strings, each NUL-terminated.
func parseStapsdtDesc(desc []byte, bo binary.ByteOrder, addrSize int) (usdtNote, error) {
	var n usdtNote
	if len(desc) < 3*addrSize {
		return n, fmt.Errorf("description of %d bytes is too short for three addresses", len(desc))
	}
	addr := func(i int) uint64 {
		b := desc[i*addrSize:]
		if addrSize == 4 {
			return uint64(bo.Uint32(b))
		}
		return bo.Uint64(b)
	}
	n.pc, n.base, n.semaphore = addr(0), addr(1), addr(2)
	rest := desc[3*addrSize:]
	var strs [3]string
	for i := range strs {
		s, r, ok := bytes.Cut(rest, []byte{0})
		if !ok {
			if i == 2 {
				// Some writers leave out the terminator of an empty
				// argument string at the very end.
				strs[i] = string(s)
				break
			}
			return n, fmt.Errorf("%s is not NUL-terminated", []string{"provider", "name", "argument string"}[i])
		}
		strs[i], rest = string(s), r
	}
	n.provider, n.name, n.args = strs[0], strs[1], strings.TrimSpace(strs[2])
	if n.provider == "" || n.name == "" {
		return n, errors.New("empty provider or probe name")
	}
	return n, nil
}

// elfGOARCH names the architecture of an ELF file as GOARCH does.
func elfGOARCH(f *elf.File) string {
	switch f.Machine {
	case elf.EM_X86_64:
		return "amd64"
	case elf.EM_386:
		return "386"
	case elf.EM_AARCH64:
		return "arm64"
	case elf.EM_ARM:
		return "arm"
	case elf.EM_RISCV:
		if f.Class == elf.ELFCLASS64 {
			return "riscv64"
		}
		return "riscv"
	case elf.EM_S390:
		return "s390x"
	case elf.EM_PPC64:
		if f.Data == elf.ELFDATA2LSB {
			return "ppc64le"
		}
		return "ppc64"
	case elf.EM_LOONGARCH:
		return "loong64"
	case elf.EM_MIPS:
		return "mips"
	}
	return strings.ToLower(strings.TrimPrefix(f.Machine.String(), "EM_"))
}

// USDTProbes returns the USDT probes of the ELF file at path, in the order
// of their notes; a file without probes yields none and no error.
func USDTProbes(path string) ([]USDTProbe, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("usdt: %w", err)
	}
	defer f.Close()
	probes, err := readUSDTProbes(f, path)
	if err != nil {
		return nil, fmt.Errorf("usdt probes of %s: %w", Shorten(path), err)
	}
	return probes, nil
}

// readUSDTProbes reads the probes of the ELF file r, naming it path.
func readUSDTProbes(r io.ReaderAt, path string) (probes []USDTProbe, err error) {
	// debug/elf is not hardened against every malformed file.
	defer func() {
		if p := recover(); p != nil {
			probes, err = nil, fmt.Errorf("malformed ELF file: %v", p)
		}
	}()
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, err
	}
	sec := f.Section(".note.stapsdt")
	if sec == nil || sec.Type != elf.SHT_NOTE {
		return nil, nil
	}
	if sec.Size > 64<<20 {
		return nil, fmt.Errorf(".note.stapsdt of %d bytes is implausibly large", sec.Size)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf(".note.stapsdt: %w", err)
	}
	addrSize := 8
	if f.Class == elf.ELFCLASS32 {
		addrSize = 4
	}
	notes, err := parseStapsdtNotes(data, f.ByteOrder, addrSize)
	if err != nil {
		return nil, err
	}
	var base uint64
	if b := f.Section(".stapsdt.base"); b != nil {
		base = b.Addr
	}
	arch := elfGOARCH(f)
	var symbols []elf.Symbol // read when an argument names one
	symbolsRead := false
	for _, n := range notes {
		p := USDTProbe{Path: path, Provider: n.provider, Name: n.name, PC: n.pc, Base: n.base,
			Semaphore: n.semaphore, Arch: arch, ArgSpec: n.args}
		if base != 0 && n.base != 0 {
			// Prelinking moved the file by base-n.base since the note was
			// written.
			p.PC += base - n.base
			if p.Semaphore != 0 {
				p.Semaphore += base - n.base
			}
		}
		var ok bool
		if p.Offset, ok = elfCodeOffset(f, p.PC); !ok {
			return nil, fmt.Errorf("probe %s:%s: address %#x is in no executable segment", n.provider, n.name, p.PC)
		}
		if p.Semaphore != 0 {
			if p.SemaphoreOffset, ok = elfDataOffset(f, p.Semaphore); !ok {
				return nil, fmt.Errorf("probe %s:%s: semaphore address %#x is in no section with file contents", n.provider, n.name, p.Semaphore)
			}
		}
		p.Args, p.ArgsErr = ParseUSDTArgs(n.args, arch)
		for i, a := range p.Args {
			if a.Symbol == "" {
				continue
			}
			if !symbolsRead {
				symbols, _ = f.Symbols()
				dyn, _ := f.DynamicSymbols()
				symbols, symbolsRead = append(symbols, dyn...), true
			}
			j := slices.IndexFunc(symbols, func(s elf.Symbol) bool {
				return s.Name == a.Symbol && s.Section != elf.SHN_UNDEF
			})
			if j < 0 {
				p.Args, p.ArgsErr = nil, fmt.Errorf("argument %d (%s): no symbol %q in the file", i, a.Spec, a.Symbol)
				break
			}
			p.Args[i].SymbolAddr = symbols[j].Value
		}
		probes = append(probes, p)
	}
	return probes, nil
}

// elfCodeOffset returns the file offset of code address v: through the
// executable PT_LOAD segment holding it, or for files without segments
// (relocatable objects), the executable section.
func elfCodeOffset(f *elf.File, v uint64) (uint64, bool) {
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && v >= p.Vaddr && v-p.Vaddr < p.Filesz {
			return v - p.Vaddr + p.Off, true
		}
	}
	if len(f.Progs) == 0 {
		for _, s := range f.Sections {
			if s.Flags&elf.SHF_EXECINSTR != 0 && s.Type != elf.SHT_NOBITS && v >= s.Addr && v-s.Addr < s.Size {
				return v - s.Addr + s.Offset, true
			}
		}
	}
	return 0, false
}

// elfDataOffset returns the file offset of data address v, through the
// section that holds it (normally .probes) or else a PT_LOAD segment.
func elfDataOffset(f *elf.File, v uint64) (uint64, bool) {
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_ALLOC != 0 && s.Type != elf.SHT_NOBITS && v >= s.Addr && v-s.Addr < s.Size {
			return v - s.Addr + s.Offset, true
		}
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && v >= p.Vaddr && v-p.Vaddr < p.Filesz {
			return v - p.Vaddr + p.Off, true
		}
	}
	return 0, false
}

// splitUSDTSpec reads "[PROVIDER:]NAME" as written after the binary in
// usdt:BINARY:[PROVIDER:]NAME. An empty provider matches every provider.
func splitUSDTSpec(spec string) (provider, name string) {
	if p, n, ok := strings.Cut(spec, ":"); ok {
		return p, n
	}
	return "", spec
}

// MatchUSDT returns the probes whose provider and name match spec,
// "[PROVIDER:]NAME" with bpftrace's wildcards (see Glob); without a
// provider, the name is matched in every provider.
func MatchUSDT(probes []USDTProbe, spec string) []USDTProbe {
	provider, name := splitUSDTSpec(spec)
	var out []USDTProbe
	for _, p := range probes {
		if (provider == "" || Glob(provider, p.Provider)) && Glob(orAll(name), p.Name) {
			out = append(out, p)
		}
	}
	return out
}

// FindUSDT returns the probe sites that usdt:BINARY:SPEC names. BINARY is
// found as for uprobes (ResolveBinary, in the process's mappings first
// when pid is not 0); with pid not 0, BINARY "*" means every file the
// process maps, as `bpftrace -p PID usdt:*:NAME` does. SPEC is
// "[PROVIDER:]NAME" (see MatchUSDT). No match is an error that says what
// the file has.
func FindUSDT(binary string, pid int, spec string) ([]USDTProbe, error) {
	var all []USDTProbe
	if binary == "*" {
		if pid == 0 {
			return nil, errors.New("usdt:*: a wildcard binary needs a process (-p PID)")
		}
		var err error
		if all, err = USDTProbesInProcess(pid); err != nil {
			return nil, err
		}
	} else {
		path, err := ResolveBinary(binary, pid)
		if err != nil {
			return nil, fmt.Errorf("usdt: %w", err)
		}
		if all, err = USDTProbes(path); err != nil {
			return nil, err
		}
		binary = path
	}
	found := MatchUSDT(all, spec)
	if len(found) == 0 {
		if len(all) == 0 {
			return nil, fmt.Errorf("usdt: %s has no USDT probes", Shorten(binary))
		}
		return nil, fmt.Errorf("usdt: no probe %q in %s (it has %s)", Shorten(spec), Shorten(binary), usdtNames(all))
	}
	return found, nil
}

// usdtNames lists a few provider:name pairs for an error message.
func usdtNames(probes []USDTProbe) string {
	var names []string
	for _, p := range probes {
		names = append(names, p.Provider+":"+p.Name)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) > 8 {
		return strings.Join(names[:8], ", ") + fmt.Sprintf(" and %d more", len(names)-8)
	}
	return strings.Join(names, ", ")
}

// USDTProbesInProcess returns the USDT probes of every ELF file process
// pid maps (executable mappings only), with paths reachable from here
// (inside /proc/PID/root for a process in another mount namespace).
func USDTProbesInProcess(pid int) ([]USDTProbe, error) {
	ms, err := procmaps.Read(pid)
	if err != nil {
		return nil, fmt.Errorf("usdt: %w", err)
	}
	root, err := processRoot(pid)
	if err != nil {
		return nil, fmt.Errorf("usdt: %w", err)
	}
	var out []USDTProbe
	seen := map[string]bool{}
	for _, m := range ms {
		if !m.Executable() || !m.IsFile() || m.Deleted || seen[m.Path] {
			continue
		}
		seen[m.Path] = true
		probes, err := USDTProbes(root + m.Path)
		if err != nil {
			continue // a file that is not ELF, or gone: it has no probes for us
		}
		out = append(out, probes...)
	}
	return out, nil
}
