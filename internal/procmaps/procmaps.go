// Package procmaps reads /proc/PID/maps: which file, at which offset, is
// mapped where in a process. Symbolisation (internal/symtab) and USDT
// semaphores (attach) both turn addresses of a running process into file
// offsets and back with it.
package procmaps

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Mapping is one line of /proc/PID/maps: the address range [Start, End)
// maps the file Path from byte Offset on.
type Mapping struct {
	Start, End uint64
	// Perms is the permission column as the kernel writes it, e.g. "r-xp".
	Perms string
	// Offset is the file offset mapped at Start.
	Offset uint64
	// Major and Minor are the device of the file, Inode its inode number;
	// all zero for anonymous memory.
	Major, Minor uint32
	Inode        uint64
	// Path is the file name, a pseudo name such as "[heap]", "[stack]" or
	// "[vdso]", or "" for anonymous memory. The kernel's " (deleted)" suffix
	// is removed and reported in Deleted.
	Path    string
	Deleted bool
}

// Executable reports whether the mapping may hold code that runs.
func (m Mapping) Executable() bool { return len(m.Perms) >= 3 && m.Perms[2] == 'x' }

// IsFile reports whether the mapping is backed by a file (not anonymous
// memory or a pseudo mapping such as [vdso]).
func (m Mapping) IsFile() bool { return m.Inode != 0 && strings.HasPrefix(m.Path, "/") }

// Contains reports whether addr lies in the mapping.
func (m Mapping) Contains(addr uint64) bool { return addr >= m.Start && addr < m.End }

// FileOffset returns the offset in the mapped file of addr, which must lie
// in the mapping.
func (m Mapping) FileOffset(addr uint64) uint64 { return addr - m.Start + m.Offset }

// String formats m as the kernel does (without its column padding), so
// that Parse reads it back.
func (m Mapping) String() string {
	s := fmt.Sprintf("%x-%x %s %08x %02x:%02x %d", m.Start, m.End, m.Perms, m.Offset, m.Major, m.Minor, m.Inode)
	if m.Path != "" {
		s += " " + m.Path
		if m.Deleted {
			s += " (deleted)"
		}
	}
	return s
}

// Read returns the mappings of process pid (0 for the calling process).
func Read(pid int) ([]Mapping, error) {
	name := "/proc/self/maps"
	if pid != 0 {
		name = fmt.Sprintf("/proc/%d/maps", pid)
	}
	f, err := os.Open(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && pid != 0 {
			return nil, fmt.Errorf("process %d does not exist", pid)
		}
		return nil, err
	}
	defer f.Close()
	ms, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return ms, nil
}

// maxLine bounds one line: a path is at most PATH_MAX (4096) bytes, and
// escaping can make it longer; the other columns are short.
const maxLine = 64 << 10

// Parse reads a /proc/PID/maps listing. Mappings are returned in the
// order listed, which the kernel sorts by address; Parse refuses a listing
// that is not sorted or has overlapping ranges, so that Find may search it.
func Parse(r io.Reader) ([]Mapping, error) {
	var out []Mapping
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, maxLine)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		m, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if len(out) > 0 && m.Start < out[len(out)-1].End {
			return nil, fmt.Errorf("line %d: mapping %x-%x overlaps or precedes the one before it", n, m.Start, m.End)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// parseLine reads "START-END PERMS OFFSET MAJOR:MINOR INODE [PATH]".
func parseLine(line []byte) (Mapping, error) {
	var m Mapping
	s := string(line)
	field := func(what string) (string, error) {
		s = strings.TrimLeft(s, " ")
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			i = len(s)
		}
		f := s[:i]
		s = s[i:]
		if f == "" {
			return "", fmt.Errorf("missing %s", what)
		}
		return f, nil
	}
	hex := func(what, f string) (uint64, error) {
		v, err := strconv.ParseUint(f, 16, 64)
		if err != nil || f[0] == '+' {
			return 0, fmt.Errorf("bad %s %q", what, f)
		}
		return v, nil
	}

	rng, err := field("address range")
	if err != nil {
		return m, err
	}
	lo, hi, ok := strings.Cut(rng, "-")
	if !ok {
		return m, fmt.Errorf("bad address range %q", rng)
	}
	if m.Start, err = hex("start address", lo); err != nil {
		return m, err
	}
	if m.End, err = hex("end address", hi); err != nil {
		return m, err
	}
	if m.End < m.Start {
		return m, fmt.Errorf("address range %q ends before it starts", rng)
	}
	if m.Perms, err = field("permissions"); err != nil {
		return m, err
	}
	if len(m.Perms) != 4 {
		return m, fmt.Errorf("bad permissions %q", m.Perms)
	}
	off, err := field("offset")
	if err != nil {
		return m, err
	}
	if m.Offset, err = hex("offset", off); err != nil {
		return m, err
	}
	dev, err := field("device")
	if err != nil {
		return m, err
	}
	maj, min, ok := strings.Cut(dev, ":")
	if !ok {
		return m, fmt.Errorf("bad device %q", dev)
	}
	v, err := hex("device", maj)
	if err != nil || v > 1<<32-1 {
		return m, fmt.Errorf("bad device %q", dev)
	}
	m.Major = uint32(v)
	if v, err = hex("device", min); err != nil || v > 1<<32-1 {
		return m, fmt.Errorf("bad device %q", dev)
	}
	m.Minor = uint32(v)
	ino, err := field("inode")
	if err != nil {
		return m, err
	}
	if m.Inode, err = strconv.ParseUint(ino, 10, 64); err != nil || ino[0] == '+' {
		return m, fmt.Errorf("bad inode %q", ino)
	}
	// The rest, after the padding, is the path; it may contain spaces.
	p := strings.TrimLeft(s, " ")
	if p != "" && !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "[") {
		// Anonymous mappings may carry a name set with prctl, always in
		// brackets; anything else is a listing we do not understand.
		return m, fmt.Errorf("bad path %q", p)
	}
	if d, ok := strings.CutSuffix(p, " (deleted)"); ok && strings.HasPrefix(p, "/") {
		p, m.Deleted = d, true
	}
	m.Path = p
	return m, nil
}

// Find returns the mapping of ms (sorted, as Parse returns them) that
// contains addr.
func Find(ms []Mapping, addr uint64) (Mapping, bool) {
	i := sort.Search(len(ms), func(i int) bool { return ms[i].End > addr })
	if i < len(ms) && ms[i].Contains(addr) {
		return ms[i], true
	}
	return Mapping{}, false
}
