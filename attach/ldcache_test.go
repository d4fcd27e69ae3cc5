package attach

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// testLDEntry is one library for the hand-built caches below.
type testLDEntry struct {
	name, path string
	flags      int32
	hwcap      uint64
}

var testLDEntries = []testLDEntry{
	{"libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6", 0x0303, 0},
	{"libc.so.6", "/lib32/libc.so.6", 0x0003, 0},
	{"libz.so.1", "/usr/lib/aarch64-linux-gnu/libz.so.1", 0x0a03, 0},
}

// buildLDCacheNew lays out a new-format cache the way ldconfig does: header,
// entry table, then the strings, with offsets relative to the header.
func buildLDCacheNew(bo binary.ByteOrder, endianFlag byte, entries []testLDEntry) []byte {
	hdr := make([]byte, ldCacheNewHeaderSize)
	copy(hdr, ldCacheNewMagic+ldCacheNewVersion)
	table := make([]byte, ldCacheNewEntrySize*len(entries))
	var strs []byte
	strBase := len(hdr) + len(table)
	addString := func(s string) uint32 {
		off := strBase + len(strs)
		strs = append(append(strs, s...), 0)
		return uint32(off)
	}
	for i, e := range entries {
		rec := table[i*ldCacheNewEntrySize:]
		bo.PutUint32(rec[0:], uint32(e.flags))
		bo.PutUint32(rec[4:], addString(e.name))
		bo.PutUint32(rec[8:], addString(e.path))
		bo.PutUint64(rec[16:], e.hwcap)
	}
	bo.PutUint32(hdr[20:], uint32(len(entries)))
	bo.PutUint32(hdr[24:], uint32(len(strs)))
	hdr[28] = endianFlag
	return append(append(hdr, table...), strs...)
}

// buildLDCacheOld lays out an old-format cache. If newPart is not nil it is
// placed where glibc 2.2 to 2.31 put it: after the old entry table, padded
// to align (8 on 64-bit hosts, 4 on i386). The old entries' strings follow.
func buildLDCacheOld(bo binary.ByteOrder, entries []testLDEntry, newPart []byte, align int) []byte {
	hdr := make([]byte, ldCacheOldHeaderSize)
	copy(hdr, ldCacheOldMagic)
	bo.PutUint32(hdr[12:], uint32(len(entries)))
	table := make([]byte, ldCacheOldEntrySize*len(entries))

	var middle []byte // padding and the new part: string[0] of the old format
	if newPart != nil {
		end := len(hdr) + len(table)
		pad := (align - end%align) % align
		middle = append(make([]byte, pad), newPart...)
	}
	var strs []byte
	addString := func(s string) uint32 {
		off := len(middle) + len(strs) // relative to the end of the old table
		strs = append(append(strs, s...), 0)
		return uint32(off)
	}
	for i, e := range entries {
		rec := table[i*ldCacheOldEntrySize:]
		bo.PutUint32(rec[0:], uint32(e.flags))
		bo.PutUint32(rec[4:], addString(e.name))
		bo.PutUint32(rec[8:], addString(e.path))
	}
	out := append(hdr, table...)
	out = append(out, middle...)
	return append(out, strs...)
}

func wantLDEntries(t *testing.T, got []LDCacheEntry, want []testLDEntry, withHwcap bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.name || g.Path != w.path || g.Flags != w.flags {
			t.Errorf("entry %d = %+v, want %+v", i, g, w)
		}
		if withHwcap && g.Hwcap != w.hwcap {
			t.Errorf("entry %d hwcap = %#x, want %#x", i, g.Hwcap, w.hwcap)
		}
		if !withHwcap && g.Hwcap != 0 {
			t.Errorf("entry %d: old format gave hwcap %#x", i, g.Hwcap)
		}
	}
}

func TestParseLDCacheNewFormat(t *testing.T) {
	entries := append([]testLDEntry{}, testLDEntries...)
	entries = append(entries, testLDEntry{"libm.so.6", "/usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libm.so.6", 0x0303, 1 << 62})
	for _, tc := range []struct {
		name string
		bo   binary.ByteOrder
		flag byte
	}{
		{"little", binary.LittleEndian, ldCacheEndianLittle},
		{"big", binary.BigEndian, ldCacheEndianBig},
		{"unset", binary.NativeEndian, ldCacheEndianUnset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseLDCache(buildLDCacheNew(tc.bo, tc.flag, entries))
			if err != nil {
				t.Fatal(err)
			}
			wantLDEntries(t, got, entries, true)
		})
	}
}

func TestParseLDCacheOldFormat(t *testing.T) {
	got, err := ParseLDCache(buildLDCacheOld(binary.NativeEndian, testLDEntries, nil, 8))
	if err != nil {
		t.Fatal(err)
	}
	wantLDEntries(t, got, testLDEntries, false)
}

// TestParseLDCacheCombined checks that the old part is skipped, whatever
// padding the writer's alignment put before the new part, and that the new
// part wins.
func TestParseLDCacheCombined(t *testing.T) {
	newEntries := []testLDEntry{{"libnew.so.1", "/usr/lib/libnew.so.1", 0x0303, 0}}
	for _, n := range []int{0, 1, 2, 3} { // odd counts need padding when aligning to 8
		for _, align := range []int{8, 4} {
			t.Run(fmt.Sprintf("old%d-align%d", n, align), func(t *testing.T) {
				newPart := buildLDCacheNew(binary.NativeEndian, 0, newEntries)
				data := buildLDCacheOld(binary.NativeEndian, testLDEntries[:n], newPart, align)
				got, err := ParseLDCache(data)
				if err != nil {
					t.Fatal(err)
				}
				wantLDEntries(t, got, newEntries, true)
			})
		}
	}
}

func TestParseLDCacheForeignOldHeader(t *testing.T) {
	// A big-endian machine's combined cache read on a little-endian one (or
	// the reverse) is still found through its new part.
	other := otherByteOrder()
	newEntries := []testLDEntry{{"libx.so", "/lib/libx.so", 0x0003, 0}}
	flag := byte(ldCacheEndianLittle)
	if other == binary.BigEndian {
		flag = ldCacheEndianBig
	}
	data := buildLDCacheOld(other, testLDEntries, buildLDCacheNew(other, flag, newEntries), 8)
	got, err := ParseLDCache(data)
	if err != nil {
		t.Fatal(err)
	}
	wantLDEntries(t, got, newEntries, true)
}

func TestParseLDCacheTruncated(t *testing.T) {
	newPart := buildLDCacheNew(binary.NativeEndian, 0, testLDEntries)
	combined := buildLDCacheOld(binary.NativeEndian, testLDEntries[:1], newPart, 8)
	for name, tc := range map[string]struct {
		data []byte
		need int // bytes the parse needs: prefixes shorter than this must fail
	}{
		"new": {newPart, len(newPart)},
		"old": {buildLDCacheOld(binary.NativeEndian, testLDEntries, nil, 8), -1},
		// The old part's strings come after the new part and are not read.
		"combined": {combined, bytes.Index(combined, []byte(ldCacheNewMagic)) + len(newPart)},
	} {
		data := tc.data
		if tc.need < 0 {
			tc.need = len(data)
		}
		if _, err := ParseLDCache(data); err != nil {
			t.Fatalf("%s: full cache: %v", name, err)
		}
		// Every shorter prefix cuts at least the last string's NUL.
		for n := 0; n < tc.need; n++ {
			if got, err := ParseLDCache(data[:n]); err == nil {
				t.Errorf("%s truncated to %d of %d bytes: no error, got %+v", name, n, len(data), got)
			}
		}
	}
}

func TestParseLDCacheCorrupt(t *testing.T) {
	valid := func() []byte { return buildLDCacheNew(binary.LittleEndian, ldCacheEndianLittle, testLDEntries) }
	tests := []struct {
		name    string
		mutate  func([]byte) []byte
		wantErr string
	}{
		{"bad magic", func(b []byte) []byte { b[0] = 'x'; return b }, "unknown magic"},
		{"empty", func([]byte) []byte { return nil }, "unknown magic"},
		{"bad version", func(b []byte) []byte { copy(b[17:], "1.0"); return b }, "unsupported cache version"},
		{"marked invalid", func(b []byte) []byte { b[28] = ldCacheEndianInvalid; return b }, "marked invalid"},
		{"huge count", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[20:], 0xffffffff); return b }, "runs past the end"},
		{"count one too many", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[20:], uint32(len(testLDEntries)+1))
			return b[:ldCacheNewHeaderSize+ldCacheNewEntrySize*len(testLDEntries)+10]
		}, "runs past the end"},
		{"key out of range", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[ldCacheNewHeaderSize+4:], 0xfffffff0)
			return b
		}, "outside"},
		{"value at end", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[ldCacheNewHeaderSize+8:], uint32(len(b)))
			return b
		}, "outside"},
		{"unterminated", func(b []byte) []byte {
			long := bytes.Repeat([]byte{'a'}, ldCacheMaxString+10)
			binary.LittleEndian.PutUint32(b[ldCacheNewHeaderSize+8:], uint32(len(b)))
			return append(b, long...)
		}, "not terminated"},
		{"old huge count", func([]byte) []byte {
			b := buildLDCacheOld(binary.NativeEndian, testLDEntries, nil, 8)
			binary.NativeEndian.PutUint32(b[12:], 0x7fffffff)
			return b
		}, "runs past the end"},
		{"old short header", func([]byte) []byte { return []byte(ldCacheOldMagic) }, "truncated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseLDCache(tc.mutate(valid()))
			if err == nil {
				t.Fatalf("no error, got %+v", got)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not mention %q", err, tc.wantErr)
			}
		})
	}
}

// TestParseLDCacheSystem reads the machine's own cache and finds the C
// library for this architecture in it.
func TestParseLDCacheSystem(t *testing.T) {
	entries, err := loadLDCache()
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s does not exist (not a glibc system?)", ldCachePath)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatalf("%s has no entries", ldCachePath)
	}
	var libc *LDCacheEntry
	for i, e := range entries {
		if e.Name == "libc.so.6" && ldCacheFlagsMatch(e.Flags) {
			libc = &entries[i]
			break
		}
	}
	if libc == nil {
		t.Fatalf("no libc.so.6 for %s among %d entries", runtime.GOARCH, len(entries))
	}
	if err := checkRegularFile(libc.Path); err != nil {
		t.Errorf("libc.so.6 entry %+v: %v", *libc, err)
	}
	if !elfMatchesArch(libc.Path, runtime.GOARCH) {
		t.Errorf("libc.so.6 entry %s is not an ELF object for %s", libc.Path, runtime.GOARCH)
	}
	// Other ABIs' copies, when installed, must be told apart by the flags.
	for _, e := range entries {
		if e.Name == "libc.so.6" && e.Path != libc.Path && ldCacheFlagsMatch(e.Flags) && !elfMatchesArch(e.Path, runtime.GOARCH) {
			t.Errorf("entry %+v matches %s by flags but is another architecture", e, runtime.GOARCH)
		}
	}
}

func TestLDCacheFlagsMatchArch(t *testing.T) {
	tests := []struct {
		flags  int32
		goarch string
		want   bool
	}{
		{0x0303, "amd64", true},
		{0x0003, "amd64", false}, // /lib32
		{0x0803, "amd64", false}, // x32
		{0x0001, "amd64", true},  // generic ELF
		{0x0003, "386", true},
		{0x0303, "386", false},
		{0x0a03, "arm64", true},
		{0x0303, "arm64", false},
		{0x0903, "arm", true},
		{0x0b03, "arm", true},
		{0x0a03, "arm", false},
		{0x1003, "riscv64", true},
		{0x0f03, "riscv64", false},
		{0x0403, "s390x", true},
		{0x0503, "ppc64le", true},
		{0x0703, "mips64le", true},
		{0x1203, "loong64", true},
		{0x0003, "wasm", true}, // unknown: any glibc library
		{0x0002, "wasm", false},
	}
	for _, tc := range tests {
		if got := ldCacheFlagsMatchArch(tc.flags, tc.goarch); got != tc.want {
			t.Errorf("ldCacheFlagsMatchArch(%#04x, %s) = %v, want %v", tc.flags, tc.goarch, got, tc.want)
		}
	}
}

// ldCacheFuzzSeeds are the inputs committed under
// testdata/fuzz/FuzzParseLDCache; TestLDCacheFuzzSeedsCurrent keeps the
// files in step with the builders above.
func ldCacheFuzzSeeds() map[string][]byte {
	le := binary.LittleEndian
	small := testLDEntries[:2]
	return map[string][]byte{
		"new-format": buildLDCacheNew(le, ldCacheEndianLittle, small),
		"old-format": buildLDCacheOld(le, small, nil, 8),
		"combined":   buildLDCacheOld(le, small[:1], buildLDCacheNew(le, ldCacheEndianUnset, small), 8),
	}
}

// fuzzSeedFile renders one []byte argument in Go's fuzz corpus format.
func fuzzSeedFile(arg any) []byte {
	var v string
	switch a := arg.(type) {
	case []byte:
		v = "[]byte(" + strconv.Quote(string(a)) + ")"
	case string:
		v = "string(" + strconv.Quote(a) + ")"
	default:
		panic(fmt.Sprintf("unsupported fuzz argument %T", arg))
	}
	return []byte("go test fuzz v1\n" + v + "\n")
}

// checkFuzzSeeds compares the committed seed files with seeds, or rewrites
// them when WAGGLE_UPDATE_FUZZ_SEEDS=1.
func checkFuzzSeeds[T []byte | string](t *testing.T, target string, seeds map[string]T) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	update := os.Getenv("WAGGLE_UPDATE_FUZZ_SEEDS") == "1"
	if update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, seed := range seeds {
		want := fuzzSeedFile(any(seed))
		path := filepath.Join(dir, name)
		if update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (regenerate with WAGGLE_UPDATE_FUZZ_SEEDS=1)", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date (regenerate with WAGGLE_UPDATE_FUZZ_SEEDS=1)", path)
		}
	}
}

func TestLDCacheFuzzSeedsCurrent(t *testing.T) {
	seeds := ldCacheFuzzSeeds()
	for name, data := range seeds {
		if _, err := ParseLDCache(data); err != nil {
			t.Errorf("seed %s does not parse: %v", name, err)
		}
	}
	checkFuzzSeeds(t, "FuzzParseLDCache", seeds)
}

func FuzzParseLDCache(f *testing.F) {
	for _, seed := range ldCacheFuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseLDCache(data)
		if err != nil {
			return
		}
		// Each entry takes at least 12 bytes of table, so a parse can never
		// return more entries than the data could describe.
		if len(entries)*ldCacheOldEntrySize > len(data) {
			t.Fatalf("%d entries from %d bytes", len(entries), len(data))
		}
		for _, e := range entries {
			if len(e.Name) > ldCacheMaxString || len(e.Path) > ldCacheMaxString {
				t.Fatalf("string longer than %d bytes", ldCacheMaxString)
			}
			if strings.IndexByte(e.Name, 0) >= 0 || strings.IndexByte(e.Path, 0) >= 0 {
				t.Fatalf("string with NUL: %+v", e)
			}
		}
	})
}
