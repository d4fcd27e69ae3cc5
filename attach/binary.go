package attach

import (
	"bufio"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

// UprobeTarget is the place in user space a uprobe names: a binary and
// either a symbol, optionally with an offset into it, or a bare address.
type UprobeTarget struct {
	// Binary is the file as the user wrote it: a path, or a bare name such
	// as "libc.so.6", "libc" or "bash" that ResolveBinary looks up.
	Binary string
	// Symbol is the function to probe; empty for an address-only target.
	Symbol string
	// Offset is added to Symbol's address; for an address-only target it
	// is the address itself, as written.
	Offset uint64
}

// String formats t the way ParseUprobeTarget reads it.
func (t UprobeTarget) String() string {
	switch {
	case t.Symbol == "":
		return fmt.Sprintf("%s:%#x", t.Binary, t.Offset)
	case t.Offset == 0 && !symbolLooksOffset(t.Symbol):
		return t.Binary + ":" + t.Symbol
	default:
		return fmt.Sprintf("%s:%s+%#x", t.Binary, t.Symbol, t.Offset)
	}
}

// symbolLooksOffset reports whether a symbol written alone would be read
// as having an offset (or a bad one), because of a '+' followed by a digit
// or '-'. String then writes an explicit "+0x0" so that the text parses
// back to the same target.
func symbolLooksOffset(sym string) bool {
	i := strings.LastIndexByte(sym, '+')
	return i >= 0 && i+1 < len(sym) && (sym[i+1] == '-' || sym[i+1] >= '0' && sym[i+1] <= '9')
}

// ParseUprobeTarget parses a uprobe target as written after "uprobe/" in a
// libbpf section name or as the value of --attach:
//
//	BINARY:SYMBOL
//	BINARY:SYMBOL+OFFSET   (OFFSET decimal or 0x hex)
//	BINARY:0xADDRESS
//
// Like libbpf, BINARY ends at the first ':' (so a symbol may contain "::")
// and an offset follows the last '+'. A '+' not followed by a digit is part
// of the symbol, as in libbpf, so names like "operator+" stay reachable;
// unlike libbpf, a '+' followed by something that is not a whole number is
// an error rather than silently part of the symbol, and a leading zero is
// refused because libbpf would read it as octal.
func ParseUprobeTarget(s string) (UprobeTarget, error) {
	fail := func(format string, args ...any) (UprobeTarget, error) {
		return UprobeTarget{}, fmt.Errorf("uprobe target %q: %s", Shorten(s), fmt.Sprintf(format, args...))
	}
	if s == "" {
		return fail("empty; want BINARY:SYMBOL[+OFFSET] or BINARY:0xADDRESS")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fail("contains a NUL byte")
	}
	bin, rest, ok := strings.Cut(s, ":")
	if !ok {
		return fail("missing \":SYMBOL\"; want BINARY:SYMBOL[+OFFSET] or BINARY:0xADDRESS")
	}
	if bin == "" {
		return fail("empty binary before ':'")
	}
	if rest == "" {
		return fail("empty symbol after ':'")
	}
	t := UprobeTarget{Binary: bin}

	if strings.HasPrefix(rest, "0x") || strings.HasPrefix(rest, "0X") {
		addr, err := parseUprobeNumber(rest)
		if err != nil {
			return fail("bad address %q: %v", Shorten(rest), err)
		}
		t.Offset = addr
		return t, nil
	}

	t.Symbol = rest
	if i := strings.LastIndexByte(rest, '+'); i >= 0 {
		off := rest[i+1:]
		switch {
		case off != "" && off[0] == '-':
			return fail("offset %q is negative", Shorten(off))
		case off != "" && off[0] >= '0' && off[0] <= '9':
			v, err := parseUprobeNumber(off)
			if err != nil {
				return fail("bad offset %q: %v", Shorten(off), err)
			}
			if i == 0 {
				return fail("empty symbol before '+'")
			}
			t.Symbol, t.Offset = rest[:i], v
		}
	}
	return t, nil
}

// parseUprobeNumber reads a decimal or 0x-prefixed hex number. It does not
// use strconv's base 0, which would also accept octal, binary and '_'.
func parseUprobeNumber(s string) (uint64, error) {
	if h, ok := strings.CutPrefix(s, "0x"); ok || strings.HasPrefix(s, "0X") {
		if !ok {
			h = s[2:]
		}
		if h == "" || strings.IndexFunc(h, func(r rune) bool { return !isHexDigit(r) }) >= 0 {
			return 0, errors.New("want hex digits after 0x")
		}
		v, err := strconv.ParseUint(h, 16, 64)
		if err != nil {
			return 0, errors.New("does not fit in 64 bits")
		}
		return v, nil
	}
	if strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return 0, errors.New("want a decimal number or 0x followed by hex digits")
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, errors.New("leading zero is ambiguous (libbpf reads it as octal); write it in decimal or with 0x")
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errors.New("does not fit in 64 bits")
	}
	return v, nil
}

func isHexDigit(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F'
}

// ResolveBinary returns the path of the file a uprobe on name should be
// placed on, found the way the dynamic loader and the shell would find it:
//
//   - A name containing '/' is used as is; it must be a regular file. When
//     pid is not 0 an absolute path is taken inside the process's root
//     (/proc/PID/root), which matters for processes in containers.
//   - When pid is not 0, a bare name is first matched against the files the
//     process has mapped (/proc/PID/maps), by base name: "libc.so.6" matches
//     libc.so.6, and "libc" or "libc.so" also match libc.so.6 and
//     libc-2.36.so. This finds the copy the process really uses.
//   - A library name ("libfoo.so", "libfoo.so.1") is searched in
//     LD_LIBRARY_PATH, then in /etc/ld.so.cache (entries for this
//     architecture only), then in the default directories (the multiarch
//     ones such as /lib/x86_64-linux-gnu, then /lib64 and /usr/lib64 on
//     64-bit systems, then /lib and /usr/lib). Files that are not ELF
//     objects for this architecture are skipped, as the loader skips them:
//     that passes over linker scripts such as libc.so and 32-bit copies.
//     An unversioned name ("libc.so") that finds only such a script falls
//     back to the versioned files (libc.so.6), which is what the user means.
//   - A bare name starting with "lib" but without ".so", such as "libc", is
//     taken as a library stem (libc.so, libc.so.*), as bpftrace and BCC
//     allow; if no such library exists it is looked up as a program.
//   - Any other bare name is a program, searched in $PATH and then in
//     /usr/bin and /usr/sbin (as libbpf does, for when sudo trims PATH).
//
// The error for a name not found lists the places searched.
func ResolveBinary(name string, pid int) (string, error) {
	if name == "" {
		return "", errors.New("uprobe target: empty binary name")
	}
	p, err := resolveBinary(name, pid)
	if err != nil {
		return "", fmt.Errorf("uprobe target %q: %w", Shorten(name), err)
	}
	return p, nil
}

// resolveBinary is ResolveBinary with errors that do not repeat name.
func resolveBinary(name string, pid int) (string, error) {
	if name == "" {
		return "", errors.New("empty binary name")
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", errors.New("contains a NUL byte")
	}
	if pid < 0 {
		return "", fmt.Errorf("invalid pid %d", pid)
	}
	root, err := processRoot(pid)
	if err != nil {
		return "", err
	}
	r := binaryResolver{name: name, pid: pid, root: root, goarch: runtime.GOARCH}

	if strings.ContainsRune(name, '/') {
		p := name
		if filepath.IsAbs(name) {
			p = root + name
		}
		if err := checkRegularFile(p); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) && pe.Path == p {
				// The caller names the file already.
				return "", pe.Err
			}
			return "", err
		}
		return p, nil
	}

	if pid != 0 {
		if p, ok := r.findMapped(); ok {
			return p, nil
		}
	}
	switch {
	case isLibraryName(name):
		if p, ok := r.findLibrary(newLibraryMatcher(name)); ok {
			return p, nil
		}
	case strings.HasPrefix(name, "lib") && len(name) > len("lib"):
		if p, ok := r.findLibrary(newLibraryMatcher(name)); ok {
			return p, nil
		}
		if p, ok := r.findProgram(); ok {
			return p, nil
		}
	default:
		if p, ok := r.findProgram(); ok {
			return p, nil
		}
	}
	return "", r.notFound()
}

// binaryResolver carries one ResolveBinary lookup and records where it
// looked, for the error message.
type binaryResolver struct {
	name     string
	pid      int
	root     string // "" or /proc/PID/root when the process has its own root
	goarch   string
	searched []string
}

func (r *binaryResolver) notFound() error {
	where := "not found in " + listAlternatives(r.searched)
	if r.root != "" {
		where += " (under " + r.root + ")"
	}
	return errors.New(where)
}

// ProcessRoot returns the prefix under which the paths of process pid (as
// its /proc/PID/maps lists them) can be opened from here: "" when pid is 0
// or the process shares our root directory, else /proc/PID/root, which is
// how the files of a process in a container are reached.
func ProcessRoot(pid int) (string, error) {
	return processRoot(pid)
}

// processRoot returns the prefix under which paths of process pid are
// visible to us: "" when pid is 0 or the process shares our root, else
// /proc/PID/root. Returning "" in the common case keeps paths readable in
// messages and valid after the process exits.
func processRoot(pid int) (string, error) {
	if pid == 0 {
		return "", nil
	}
	root := fmt.Sprintf("/proc/%d/root", pid)
	fi, err := os.Stat(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("process %d does not exist", pid)
		}
		return "", fmt.Errorf("process %d: %w", pid, err)
	}
	own, err := os.Stat("/")
	if err == nil && os.SameFile(fi, own) {
		return "", nil
	}
	return root, nil
}

// findMapped looks for name among the files process r.pid has mapped.
func (r *binaryResolver) findMapped() (string, bool) {
	r.searched = append(r.searched, fmt.Sprintf("the mappings of process %d", r.pid))
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", r.pid))
	if err != nil {
		return "", false
	}
	defer f.Close()
	paths := mappedPaths(f)
	for _, p := range matchMapped(paths, r.name) {
		if checkRegularFile(r.root+p) == nil {
			return r.root + p, true
		}
	}
	return "", false
}

// mappedPaths returns the distinct files in a /proc/PID/maps listing, in
// order of first appearance.
func mappedPaths(maps io.Reader) []string {
	var paths []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(maps)
	sc.Buffer(nil, 1<<20) // a path may be up to PATH_MAX, lines stay short
	for sc.Scan() {
		// ADDR PERMS OFFSET DEV INODE PATH; PATH may contain spaces.
		line := sc.Text()
		for i := 0; i < 5; i++ {
			line = strings.TrimLeft(line, " \t")
			j := strings.IndexAny(line, " \t")
			if j < 0 {
				line = ""
				break
			}
			line = line[j:]
		}
		p := strings.TrimLeft(line, " \t")
		if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, " (deleted)") || seen[p] {
			continue
		}
		seen[p] = true
		paths = append(paths, p)
	}
	return paths
}

// matchMapped returns the mapped paths that name refers to, best first:
// exact base-name matches, then, for unversioned library names ("libc",
// "libc.so"), files of that library with a version ("libc.so.6",
// "libc-2.36.so"). A versioned name such as "libssl.so.1.1" matches only
// exactly, so it never picks libssl.so.3.
func matchMapped(paths []string, name string) []string {
	var exact, stem []string
	s, unversioned := libraryStem(name)
	for _, p := range paths {
		base := filepath.Base(p)
		switch {
		case base == name:
			exact = append(exact, p)
		case unversioned && isVersionOfLibrary(base, s):
			stem = append(stem, p)
		}
	}
	return append(exact, stem...)
}

// libraryStem returns "libc" for "libc" and "libc.so", and false for names
// that carry a version or are not library names.
func libraryStem(name string) (string, bool) {
	if !strings.HasPrefix(name, "lib") || strings.Contains(name, ".so.") {
		return "", false
	}
	if s, ok := strings.CutSuffix(name, ".so"); ok {
		return s, true
	}
	if strings.Contains(name, ".so") {
		return "", false
	}
	return name, true
}

// isVersionOfLibrary reports whether base is a file of library stem:
// stem.so, stem.so.VERSION or stem-VERSION.so (the glibc < 2.34 naming).
func isVersionOfLibrary(base, stem string) bool {
	rest, ok := strings.CutPrefix(base, stem)
	if !ok {
		return false
	}
	if rest == ".so" || strings.HasPrefix(rest, ".so.") {
		return true
	}
	ver, ok := strings.CutPrefix(rest, "-")
	if !ok {
		return false
	}
	ver, ok = strings.CutSuffix(ver, ".so")
	if !ok || ver == "" || ver[0] < '0' || ver[0] > '9' {
		return false
	}
	return strings.Trim(ver, "0123456789.") == ""
}

// isLibraryName applies libbpf's test for a shared-library name.
func isLibraryName(name string) bool {
	return strings.HasSuffix(name, ".so") || strings.Contains(name, ".so.")
}

// libraryMatcher selects library files by exact name, by stem, or both;
// exact matches rank first. "libc.so" uses both: the exact file is often a
// linker script (skipped as not ELF), and then libc.so.6 is what the user
// means.
type libraryMatcher struct {
	name string // exact file or soname, e.g. "libc.so.6"
	stem string // a stem, e.g. "libc", matching libc.so and libc.so.*
}

// newLibraryMatcher returns the matcher for name, which is either a library
// name (isLibraryName) or a lib* stem.
func newLibraryMatcher(name string) libraryMatcher {
	m := libraryMatcher{}
	if isLibraryName(name) {
		m.name = name
	}
	if s, ok := libraryStem(name); ok {
		m.stem = s
	}
	return m
}

// rank returns 0 for an exact match of soname, 1 for a stem match and -1
// for none.
func (m libraryMatcher) rank(soname string) int {
	switch {
	case m.name != "" && soname == m.name:
		return 0
	case m.stem != "" && (soname == m.stem+".so" || strings.HasPrefix(soname, m.stem+".so.")):
		return 1
	}
	return -1
}

// candidates returns the files in dir that m may select, best first.
func (m libraryMatcher) candidates(dir string) []string {
	var out []string
	if m.name != "" {
		out = append(out, filepath.Join(dir, m.name))
	}
	if m.stem != "" {
		if m.name != m.stem+".so" {
			out = append(out, filepath.Join(dir, m.stem+".so"))
		}
		versioned, _ := filepath.Glob(filepath.Join(dir, globEscape(m.stem)+".so.*"))
		// Shortest first: the soname (libz.so.1) before the full version
		// (libz.so.1.3.1); both are normally the same file.
		sort.SliceStable(versioned, func(i, j int) bool { return len(versioned[i]) < len(versioned[j]) })
		out = append(out, versioned...)
	}
	return out
}

// findLibrary searches LD_LIBRARY_PATH, the ld.so cache and the default
// directories, in the dynamic loader's order.
func (r *binaryResolver) findLibrary(m libraryMatcher) (string, bool) {
	llp := os.Getenv("LD_LIBRARY_PATH")
	r.searched = append(r.searched, envDescription("LD_LIBRARY_PATH", llp))
	for _, dir := range splitSearchPath(llp, ":;") {
		if p, ok := r.findLibraryIn(r.rooted(dir), m); ok {
			return p, true
		}
	}

	cachePath := r.root + ldCachePath
	r.searched = append(r.searched, ldCachePath)
	if entries, err := readLDCache(cachePath); err == nil {
		if p, ok := r.findLibraryInCache(entries, m); ok {
			return p, true
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		r.searched[len(r.searched)-1] += " (unreadable: " + err.Error() + ")"
	}

	dirs := defaultLibraryDirs(r.goarch)
	r.searched = append(r.searched, strings.Join(dirs, ", "))
	for _, dir := range dirs {
		if p, ok := r.findLibraryIn(r.root+dir, m); ok {
			return p, true
		}
	}
	return "", false
}

func (r *binaryResolver) findLibraryIn(dir string, m libraryMatcher) (string, bool) {
	for _, p := range m.candidates(dir) {
		if checkRegularFile(p) == nil && elfMatchesArch(p, r.goarch) {
			return p, true
		}
	}
	return "", false
}

// findLibraryInCache picks a cache entry for this architecture: exact name
// matches before stem matches, and among those, entries without hwcap
// requirements first. Those are the baseline builds that run on every CPU,
// while glibc-hwcaps variants are used only on CPUs with the features they
// name.
func (r *binaryResolver) findLibraryInCache(entries []LDCacheEntry, m libraryMatcher) (string, bool) {
	best, bestScore := "", -1
	for _, e := range entries {
		rank := m.rank(e.Name)
		if rank < 0 || !ldCacheFlagsMatchArch(e.Flags, r.goarch) || !filepath.IsAbs(e.Path) {
			continue
		}
		score := 2 * (1 - rank) // exact beats stem...
		if e.Hwcap == 0 {
			score++ // ...and baseline beats hwcap-specific
		}
		if score <= bestScore {
			continue
		}
		p := r.root + e.Path
		// The cache can be stale; the ELF check also catches generic
		// (flags 1) entries that belong to another architecture.
		if checkRegularFile(p) != nil || !elfMatchesArch(p, r.goarch) {
			continue
		}
		best, bestScore = p, score
	}
	return best, bestScore >= 0
}

// findProgram searches $PATH like a shell, then /usr/bin and /usr/sbin.
func (r *binaryResolver) findProgram() (string, bool) {
	pathEnv := os.Getenv("PATH")
	r.searched = append(r.searched, envDescription("$PATH", pathEnv))
	dirs := splitSearchPath(pathEnv, ":")
	extra := []string{"/usr/bin", "/usr/sbin"}
	r.searched = append(r.searched, strings.Join(extra, ", "))
	for _, dir := range append(dirs, extra...) {
		p := filepath.Join(r.rooted(dir), r.name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// envDescription names a search-path variable for an error message, with
// its value when set, since the value is usually what the user must fix.
func envDescription(name, value string) string {
	if value == "" {
		return name
	}
	return name + " (" + value + ")"
}

// rooted puts an absolute directory inside the target process's root.
func (r *binaryResolver) rooted(dir string) string {
	if filepath.IsAbs(dir) {
		return r.root + dir
	}
	return dir
}

// splitSearchPath splits a search path. An empty element means the current
// directory, as in the shell and the dynamic loader.
func splitSearchPath(s, seps string) []string {
	if s == "" {
		return nil
	}
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || strings.IndexByte(seps, s[i]) >= 0 {
			dir := s[start:i]
			if dir == "" {
				dir = "."
			}
			out = append(out, dir)
			start = i + 1
		}
	}
	return out
}

func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// checkRegularFile reports why p cannot be probed if it is not an existing
// regular file (after following symlinks).
func checkRegularFile(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return &fs.PathError{Op: "probe", Path: p, Err: errors.New("not a regular file")}
	}
	return nil
}

// defaultLibraryDirs returns the directories the dynamic loader of goarch
// searches when LD_LIBRARY_PATH and the cache do not name a library: the
// Debian/Ubuntu multiarch directories, then the 64-bit directories of
// Fedora, SUSE and Arch's lib64 links, then the classic ones. The 64-bit
// directories come before /usr/lib because on Fedora /usr/lib holds 32-bit
// libraries.
func defaultLibraryDirs(goarch string) []string {
	var dirs []string
	for _, t := range multiarchTriplets(goarch) {
		dirs = append(dirs, "/lib/"+t, "/usr/lib/"+t)
	}
	if goarchIs64Bit(goarch) {
		dirs = append(dirs, "/lib64", "/usr/lib64")
	}
	return append(dirs, "/lib", "/usr/lib")
}

// multiarchTriplets returns Debian's multiarch tuples for goarch.
func multiarchTriplets(goarch string) []string {
	switch goarch {
	case "amd64":
		return []string{"x86_64-linux-gnu"}
	case "386":
		return []string{"i386-linux-gnu"}
	case "arm64":
		return []string{"aarch64-linux-gnu"}
	case "arm":
		return []string{"arm-linux-gnueabihf", "arm-linux-gnueabi"}
	case "riscv64":
		return []string{"riscv64-linux-gnu"}
	case "s390x":
		return []string{"s390x-linux-gnu"}
	case "ppc64le":
		return []string{"powerpc64le-linux-gnu"}
	case "ppc64":
		return []string{"powerpc64-linux-gnu"}
	case "mips64le":
		return []string{"mips64el-linux-gnuabi64"}
	case "mips64":
		return []string{"mips64-linux-gnuabi64"}
	case "mipsle":
		return []string{"mipsel-linux-gnu"}
	case "mips":
		return []string{"mips-linux-gnu"}
	case "loong64":
		return []string{"loongarch64-linux-gnu"}
	}
	return nil
}

func goarchIs64Bit(goarch string) bool {
	switch goarch {
	case "amd64", "arm64", "riscv64", "s390x", "ppc64", "ppc64le", "mips64", "mips64le", "loong64":
		return true
	}
	return false
}

// elfArch is what an ELF header says about the machine a file is for.
type elfArch struct {
	class   elf.Class
	data    elf.Data
	machine elf.Machine
}

// elfArchFor returns the ELF identity of goarch's native objects.
func elfArchFor(goarch string) (elfArch, bool) {
	le, be := elf.ELFDATA2LSB, elf.ELFDATA2MSB
	c32, c64 := elf.ELFCLASS32, elf.ELFCLASS64
	switch goarch {
	case "amd64":
		return elfArch{c64, le, elf.EM_X86_64}, true
	case "386":
		return elfArch{c32, le, elf.EM_386}, true
	case "arm64":
		return elfArch{c64, le, elf.EM_AARCH64}, true
	case "arm":
		return elfArch{c32, le, elf.EM_ARM}, true
	case "riscv64":
		return elfArch{c64, le, elf.EM_RISCV}, true
	case "s390x":
		return elfArch{c64, be, elf.EM_S390}, true
	case "ppc64":
		return elfArch{c64, be, elf.EM_PPC64}, true
	case "ppc64le":
		return elfArch{c64, le, elf.EM_PPC64}, true
	case "mips64":
		return elfArch{c64, be, elf.EM_MIPS}, true
	case "mips64le":
		return elfArch{c64, le, elf.EM_MIPS}, true
	case "mips":
		return elfArch{c32, be, elf.EM_MIPS}, true
	case "mipsle":
		return elfArch{c32, le, elf.EM_MIPS}, true
	case "loong64":
		return elfArch{c64, le, elf.EM_LOONGARCH}, true
	}
	return elfArch{}, false
}

// elfMatchesArch reports whether p is an ELF object for goarch. Only the
// 20-byte identification is read, so checking a large library is cheap.
func elfMatchesArch(p, goarch string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var hdr [20]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return false
	}
	return elfHeaderMatchesArch(hdr[:], goarch)
}

func elfHeaderMatchesArch(hdr []byte, goarch string) bool {
	if len(hdr) < 20 || string(hdr[:4]) != elf.ELFMAG {
		return false
	}
	want, ok := elfArchFor(goarch)
	if !ok {
		return true // an architecture we do not know: any ELF file will do
	}
	if elf.Class(hdr[elf.EI_CLASS]) != want.class || elf.Data(hdr[elf.EI_DATA]) != want.data {
		return false
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if want.data == elf.ELFDATA2MSB {
		bo = binary.BigEndian
	}
	return elf.Machine(bo.Uint16(hdr[18:20])) == want.machine
}
