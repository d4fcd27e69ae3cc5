package attach

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

// LDCacheEntry is one library listed in glibc's /etc/ld.so.cache, the index
// ldconfig builds so that the dynamic loader need not scan directories.
type LDCacheEntry struct {
	// Name is the key the loader looks up: the library's soname or file
	// name, e.g. "libc.so.6".
	Name string
	// Path is the file the name resolves to.
	Path string
	// Flags holds the library type in the low byte (3 for glibc ELF
	// libraries) and the ABI in the next byte (0x0300 for x86-64, 0x0a00 for
	// AArch64, ...), so one cache can describe several architectures.
	Flags int32
	// Hwcap is nonzero for libraries that need CPU features, such as the
	// glibc-hwcaps/x86-64-v3 builds; it is always zero in the old format.
	Hwcap uint64
}

// Layout of the two cache formats, from glibc's dl-cache.h.
const (
	ldCacheOldMagic      = "ld.so-1.7.0"
	ldCacheOldHeaderSize = 16 // magic[11], padding to 4, uint32 nlibs
	ldCacheOldEntrySize  = 12 // int32 flags, uint32 key, uint32 value

	ldCacheNewMagic      = "glibc-ld.so.cache"
	ldCacheNewVersion    = "1.1"
	ldCacheNewHeaderSize = 48 // magic, version, nlibs, len_strings, flags, ...
	ldCacheNewEntrySize  = 24 // flags, key, value, osversion, uint64 hwcap

	// ldCacheMaxString bounds the scan for a string's terminating NUL, so
	// that a hostile cache whose entries all point into one huge
	// unterminated region costs linear, not quadratic, time. Paths longer
	// than PATH_MAX cannot be opened anyway.
	ldCacheMaxString = 4096

	// ldCacheMaxFile bounds how much of /etc/ld.so.cache is read. Real
	// caches are tens of kilobytes.
	ldCacheMaxFile = 64 << 20

	ldCachePath = "/etc/ld.so.cache"
)

// Values of the endianness bits in the new header's flags byte (glibc 2.33+).
const (
	ldCacheEndianUnset   = 0 // written by an older ldconfig: host order
	ldCacheEndianInvalid = 1 // ldconfig marked the cache as unusable
	ldCacheEndianLittle  = 2
	ldCacheEndianBig     = 3
)

// ParseLDCache decodes the contents of glibc's ld.so.cache. It accepts the
// new format ("glibc-ld.so.cache" version 1.1, written by glibc 2.32 and
// later on its own) and the old "ld.so-1.7.0" format, which older glibc
// versions wrote followed by a copy in the new format; when both are
// present only the new part is read, as the loader does.
//
// The input is untrusted: every offset is checked against the data, counts
// are bounded by the data's length, and malformed input yields an error,
// never a panic. The returned strings share one copy of data.
func ParseLDCache(data []byte) ([]LDCacheEntry, error) {
	switch {
	case bytes.HasPrefix(data, []byte(ldCacheNewMagic)):
		return parseLDCacheNew(data, 0)
	case bytes.HasPrefix(data, []byte(ldCacheOldMagic)):
		return parseLDCacheOld(data)
	default:
		return nil, errors.New("not an ld.so.cache file: unknown magic")
	}
}

func parseLDCacheOld(data []byte) ([]LDCacheEntry, error) {
	if len(data) < ldCacheOldHeaderSize {
		return nil, fmt.Errorf("old-format header truncated: %d bytes", len(data))
	}
	// The old format has no endianness marker; it is written in the host's
	// order. Try the other order as well so that a foreign cache is still
	// recognised by its new-format part.
	orders := []binary.ByteOrder{binary.NativeEndian, otherByteOrder()}
	for _, bo := range orders {
		end, ok := ldCacheOldTableEnd(data, bo)
		if !ok {
			continue
		}
		// The new header follows the old table, aligned to the alignment
		// of struct cache_file_new: 8 on 64-bit hosts, but 4 on i386,
		// where the old table's end needs no padding.
		for _, off := range []uint64{alignUp(end, 8), end} {
			if off+uint64(len(ldCacheNewMagic)) <= uint64(len(data)) &&
				bytes.HasPrefix(data[off:], []byte(ldCacheNewMagic)) {
				return parseLDCacheNew(data, off)
			}
		}
	}

	bo := orders[0]
	end, ok := ldCacheOldTableEnd(data, bo)
	if !ok {
		return nil, fmt.Errorf("old-format table of %d entries runs past the end of the %d-byte cache",
			bo.Uint32(data[12:16]), len(data))
	}
	n := int(bo.Uint32(data[12:16]))
	s := string(data)
	entries := make([]LDCacheEntry, 0, n)
	for i := 0; i < n; i++ {
		off := ldCacheOldHeaderSize + i*ldCacheOldEntrySize
		e, err := ldCacheEntryAt(s, bo, off, end)
		if err != nil {
			return nil, fmt.Errorf("old-format entry %d: %w", i, err)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// ldCacheOldTableEnd returns where the old format's entry table ends (which
// is where its string table begins), or false if the table does not fit.
func ldCacheOldTableEnd(data []byte, bo binary.ByteOrder) (uint64, bool) {
	n := uint64(bo.Uint32(data[12:16]))
	end := ldCacheOldHeaderSize + n*ldCacheOldEntrySize
	return end, end <= uint64(len(data))
}

// parseLDCacheNew decodes the new-format cache whose header starts at base.
// Its string offsets are relative to that header.
func parseLDCacheNew(data []byte, base uint64) ([]LDCacheEntry, error) {
	if uint64(len(data))-base < ldCacheNewHeaderSize {
		return nil, fmt.Errorf("new-format header truncated: %d bytes", uint64(len(data))-base)
	}
	hdr := data[base : base+ldCacheNewHeaderSize]
	if v := string(hdr[len(ldCacheNewMagic) : len(ldCacheNewMagic)+len(ldCacheNewVersion)]); v != ldCacheNewVersion {
		return nil, fmt.Errorf("unsupported cache version %q (want %s)", v, ldCacheNewVersion)
	}
	var bo binary.ByteOrder
	switch hdr[28] & 3 {
	case ldCacheEndianUnset:
		bo = binary.NativeEndian
	case ldCacheEndianInvalid:
		return nil, errors.New("cache is marked invalid by ldconfig")
	case ldCacheEndianLittle:
		bo = binary.LittleEndian
	case ldCacheEndianBig:
		bo = binary.BigEndian
	}

	n := uint64(bo.Uint32(hdr[20:24]))
	tableEnd := base + ldCacheNewHeaderSize + n*ldCacheNewEntrySize
	if tableEnd > uint64(len(data)) {
		return nil, fmt.Errorf("table of %d entries runs past the end of the %d-byte cache", n, len(data))
	}
	s := string(data)
	entries := make([]LDCacheEntry, 0, n)
	for i := uint64(0); i < n; i++ {
		off := int(base + ldCacheNewHeaderSize + i*ldCacheNewEntrySize)
		e, err := ldCacheEntryAt(s, bo, off, base)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		e.Hwcap = bo.Uint64(data[off+16 : off+24])
		entries = append(entries, e)
	}
	return entries, nil
}

// ldCacheEntryAt decodes the flags/key/value triple at off, resolving the
// two string offsets against strBase.
func ldCacheEntryAt(s string, bo binary.ByteOrder, off int, strBase uint64) (LDCacheEntry, error) {
	var raw [12]byte
	copy(raw[:], s[off:off+12])
	name, err := ldCacheString(s, strBase, bo.Uint32(raw[4:8]))
	if err != nil {
		return LDCacheEntry{}, fmt.Errorf("name: %w", err)
	}
	path, err := ldCacheString(s, strBase, bo.Uint32(raw[8:12]))
	if err != nil {
		return LDCacheEntry{}, fmt.Errorf("path: %w", err)
	}
	return LDCacheEntry{Name: name, Path: path, Flags: int32(bo.Uint32(raw[0:4]))}, nil
}

// ldCacheString returns the NUL-terminated string at base+rel.
func ldCacheString(s string, base uint64, rel uint32) (string, error) {
	start := base + uint64(rel)
	if start >= uint64(len(s)) {
		return "", fmt.Errorf("string offset %#x is outside the %d-byte cache", rel, len(s))
	}
	window := s[start:min(start+ldCacheMaxString+1, uint64(len(s)))]
	n := strings.IndexByte(window, 0)
	if n < 0 {
		return "", fmt.Errorf("string at offset %#x is not terminated within %d bytes", rel, ldCacheMaxString)
	}
	return window[:n], nil
}

// loadLDCache reads and parses the host's /etc/ld.so.cache.
func loadLDCache() ([]LDCacheEntry, error) {
	return readLDCache(ldCachePath)
}

// readLDCache reads and parses the cache at path; ResolveBinary uses it with
// /proc/PID/root/etc/ld.so.cache for processes in another mount namespace.
func readLDCache(path string) ([]LDCacheEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, ldCacheMaxFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > ldCacheMaxFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, ldCacheMaxFile)
	}
	entries, err := ParseLDCache(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return entries, nil
}

// Entry flags from glibc's ldconfig.h: the library type in the low byte,
// the ABI ("required") in the next.
const (
	ldFlagTypeMask = 0x00ff
	ldFlagELF      = 0x0001 // ELF library, libc unknown: any architecture
	ldFlagELFLibc6 = 0x0003

	ldFlagX8664Lib64          = 0x0300
	ldFlagS390Lib64           = 0x0400
	ldFlagPowerPCLib64        = 0x0500
	ldFlagMIPS64LibN64        = 0x0700
	ldFlagARMLibHF            = 0x0900
	ldFlagAArch64Lib64        = 0x0a00
	ldFlagARMLibSF            = 0x0b00
	ldFlagMIPSLib32NaN2008    = 0x0c00
	ldFlagMIPS64LibN64NaN2008 = 0x0e00
	ldFlagRISCVFloatABIDouble = 0x1000
	ldFlagLArchFloatABIDouble = 0x1200
)

// ldCacheArchFlags lists the entry flags the dynamic loader of goarch
// accepts (besides the generic ldFlagELF), or nil if waggle does not know
// the architecture.
func ldCacheArchFlags(goarch string) []int32 {
	switch goarch {
	case "amd64":
		return []int32{ldFlagELFLibc6 | ldFlagX8664Lib64}
	case "386":
		// 32-bit x86 libraries carry no ABI bits; on a 64-bit host they are
		// the /lib32 entries that amd64 must skip.
		return []int32{ldFlagELFLibc6}
	case "arm64":
		return []int32{ldFlagELFLibc6 | ldFlagAArch64Lib64}
	case "arm":
		// GOARCH=arm runs on hard- and soft-float systems alike; old
		// ldconfig versions wrote no ABI bits for either.
		return []int32{ldFlagELFLibc6 | ldFlagARMLibHF, ldFlagELFLibc6 | ldFlagARMLibSF, ldFlagELFLibc6}
	case "riscv64":
		// Go requires RV64GC, i.e. the lp64d ABI.
		return []int32{ldFlagELFLibc6 | ldFlagRISCVFloatABIDouble}
	case "s390x":
		return []int32{ldFlagELFLibc6 | ldFlagS390Lib64}
	case "ppc64", "ppc64le":
		return []int32{ldFlagELFLibc6 | ldFlagPowerPCLib64}
	case "mips64", "mips64le":
		return []int32{ldFlagELFLibc6 | ldFlagMIPS64LibN64, ldFlagELFLibc6 | ldFlagMIPS64LibN64NaN2008}
	case "mips", "mipsle":
		return []int32{ldFlagELFLibc6, ldFlagELFLibc6 | ldFlagMIPSLib32NaN2008}
	case "loong64":
		return []int32{ldFlagELFLibc6 | ldFlagLArchFloatABIDouble}
	}
	return nil
}

// ldCacheFlagsMatch reports whether a cache entry with flags is a library
// the running architecture's loader would use. One cache lists every ABI
// installed (e.g. /lib32/libc.so.6 next to the x86-64 one); picking the
// wrong one would put the uprobe on a file no native process maps.
func ldCacheFlagsMatch(flags int32) bool {
	return ldCacheFlagsMatchArch(flags, runtime.GOARCH)
}

func ldCacheFlagsMatchArch(flags int32, goarch string) bool {
	if flags == ldFlagELF {
		return true
	}
	want := ldCacheArchFlags(goarch)
	if want == nil {
		return flags&ldFlagTypeMask == ldFlagELFLibc6
	}
	for _, w := range want {
		if flags == w {
			return true
		}
	}
	return false
}

// otherByteOrder is the byte order the host does not use.
func otherByteOrder() binary.ByteOrder {
	var probe [2]byte
	binary.NativeEndian.PutUint16(probe[:], 1)
	if probe[0] == 1 {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

func alignUp(v, a uint64) uint64 {
	return (v + a - 1) &^ (a - 1)
}
