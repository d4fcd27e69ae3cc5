package symtab

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/internal/procmaps"
	"golang.org/x/sys/unix"
)

// Resolver symbolises user-space addresses of any number of processes. It
// keeps each process's mappings from its first use (or Snapshot, or Keep)
// on, and shares parsed ELF files among processes. It is safe for
// concurrent use.
//
// What it keeps is bounded: at most MaxProcesses snapshots (the oldest
// of live processes go first, those Keep took at an exit last), and the
// files no kept snapshot maps are dropped once there are more than
// MaxFiles.
type Resolver struct {
	mu    sync.Mutex
	files map[fileKey]*fileEntry
	procs map[int]*Process
	// refresh is how long a snapshot is trusted before a lookup that finds
	// no mapping reads the process's mappings again (it may have mapped
	// more libraries since); also how long a process that could not be
	// read is not tried again.
	refresh time.Duration
	// maxProcs and maxFiles bound procs and files; files are pruned when
	// they reach pruneAt.
	maxProcs, maxFiles, pruneAt int
}

// Default bounds of a Resolver's cache. A snapshot is a few hundred
// mappings at most; a parsed file is its symbol names and addresses.
const (
	MaxProcesses = 1024
	MaxFiles     = 512
)

// NewResolver returns an empty Resolver.
func NewResolver() *Resolver {
	return &Resolver{
		files: map[fileKey]*fileEntry{}, procs: map[int]*Process{}, refresh: time.Second,
		maxProcs: MaxProcesses, maxFiles: MaxFiles, pruneAt: MaxFiles,
	}
}

// fileKey names one version of one file: a file replaced on disk (a new
// inode) or rewritten in place (a new mtime) is a different key.
type fileKey struct {
	dev, ino uint64
	mtime    int64
	size     int64
	vdso     bool
}

// fileEntry is a file whose symbols are read on first use. paths are the
// names it may be opened by, tried in order; a name whose file no longer
// has the key is skipped.
type fileEntry struct {
	key fileKey

	mu    sync.Mutex
	paths []string
	table *elfTable
	err   error
}

func (e *fileEntry) load() (*elfTable, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.table != nil || e.err != nil {
		return e.table, e.err
	}
	var errs []error
	for _, p := range e.paths {
		f, err := os.Open(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if k, err := keyOf(f); err != nil || k != e.key {
			f.Close()
			errs = append(errs, fmt.Errorf("%s: file changed since the process mapped it", p))
			continue
		}
		e.table, e.err = readELFTable(f)
		f.Close()
		if e.err != nil {
			e.err = fmt.Errorf("%s: %w", p, e.err)
		}
		return e.table, e.err
	}
	e.err = errors.Join(errs...)
	if e.err == nil {
		e.err = errors.New("no path to the file")
	}
	return nil, e.err
}

// addPaths adds names the file may be opened by. If it could not be read
// so far, the new names will be tried at the next load.
func (e *fileEntry) addPaths(paths ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := len(e.paths)
	for _, a := range paths {
		if !slices.Contains(e.paths, a) {
			e.paths = append(e.paths, a)
		}
	}
	if len(e.paths) > n && e.table == nil {
		e.err = nil
	}
}

// reachable reports whether the file can be opened by a path that does
// not go through /proc/PID, which disappears with the process.
func (e *fileEntry) reachable() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.table != nil || e.key.vdso {
		return true
	}
	for _, p := range e.paths {
		if strings.HasPrefix(p, "/proc/") {
			continue
		}
		if fi, err := os.Stat(p); err == nil && keyOfInfo(fi) == e.key {
			return true
		}
	}
	return false
}

func keyOf(f *os.File) (fileKey, error) {
	fi, err := f.Stat()
	if err != nil {
		return fileKey{}, err
	}
	return keyOfInfo(fi), nil
}

func keyOfInfo(fi os.FileInfo) fileKey {
	k := fileKey{mtime: fi.ModTime().UnixNano(), size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k.dev, k.ino = uint64(st.Dev), uint64(st.Ino)
	}
	return k
}

// Process is a snapshot of the mappings of one process, enough to
// symbolise its addresses after it has exited.
type Process struct {
	PID   int
	Taken time.Time
	// Final is set on a snapshot taken as the process exited (Keep): it
	// is never replaced by a later read of the pid, which would be another
	// process's.
	Final bool

	maps  []procmaps.Mapping // file-backed and [vdso] mappings, by address
	files []*fileEntry       // files[i] backs maps[i]; nil if unreadable
	// err is why the process could not be read, for a placeholder that
	// spares retrying for a while; maps is empty then.
	err error
}

// Snapshot reads the mappings of process pid now, replacing any snapshot
// the Resolver had, and returns it. Symbol tables are read on first use,
// except for files that are already deleted (reachable only through the
// live process) and the vDSO, which are read now.
func (r *Resolver) Snapshot(pid int) (*Process, error) {
	return r.snapshot(pid, false)
}

func (r *Resolver) snapshot(pid int, final bool) (*Process, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("invalid pid %d", pid)
	}
	ms, err := procmaps.Read(pid)
	if err != nil {
		return nil, r.failed(pid, err)
	}
	root, err := attach.ProcessRoot(pid)
	if err != nil {
		return nil, r.failed(pid, err)
	}
	p := &Process{PID: pid, Taken: time.Now(), Final: final}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range ms {
		var e *fileEntry
		switch {
		case m.Path == "[vdso]":
			e = r.vdsoEntry(pid, m)
		case m.IsFile():
			e = r.fileEntryFor(pid, root, m)
		default:
			continue
		}
		p.maps = append(p.maps, m)
		p.files = append(p.files, e)
	}
	r.procs[pid] = p
	r.trim()
	return p, nil
}

// failed notes that pid could not be read, so that lookups in it do not
// try again for a while, and returns err.
func (r *Resolver) failed(pid int, err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.procs[pid]; ok && (old.Final || old.err == nil) {
		// Keep what was read while it ran.
		return err
	}
	r.procs[pid] = &Process{PID: pid, Taken: time.Now(), err: err}
	r.trim()
	return err
}

// Keep takes the last snapshot of process pid, which is exiting (held at
// its exit, e.g. by a ptrace stop, while /proc/PID still shows its
// mappings), so that its addresses resolve after it is gone. The symbol
// tables of the files that will not be reachable then (deleted files,
// files of another mount namespace) are read now; the others on first
// use, as for any snapshot. The snapshot is Final: later lookups never
// read the pid again.
func (r *Resolver) Keep(pid int) (*Process, error) {
	p, err := r.snapshot(pid, true)
	if err != nil {
		return nil, err
	}
	var errs []error
	for i, e := range p.files {
		if e == nil || e.reachable() {
			continue
		}
		if _, err := e.load(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.maps[i].Path, err))
		}
	}
	return p, errors.Join(errs...)
}

// trim enforces the bounds. r.mu is held.
func (r *Resolver) trim() {
	for len(r.procs) > r.maxProcs {
		// The oldest placeholder or live snapshot goes first: it can be
		// read again while the process lives. Final ones only when there
		// is nothing else.
		var victim *Process
		for _, p := range r.procs {
			if victim == nil || victim.Final && !p.Final ||
				victim.Final == p.Final && p.Taken.Before(victim.Taken) {
				victim = p
			}
		}
		delete(r.procs, victim.PID)
	}
	if len(r.files) < r.pruneAt {
		return
	}
	used := map[*fileEntry]bool{}
	for _, p := range r.procs {
		for _, e := range p.files {
			used[e] = true
		}
	}
	for k, e := range r.files {
		if !used[e] {
			delete(r.files, k)
		}
	}
	// Files the kept snapshots map stay; prune again only once as many
	// more have come, so that each file added costs O(1) on average.
	r.pruneAt = max(r.maxFiles, 2*len(r.files))
}

// fileEntryFor finds or makes the entry of the file mapping m of process
// pid maps.
func (r *Resolver) fileEntryFor(pid int, root string, m procmaps.Mapping) *fileEntry {
	// map_files names exactly the mapped file, even when it was replaced
	// or deleted or lives in another mount namespace, but needs
	// CAP_SYS_ADMIN and disappears with the process; the paths work
	// without privileges and after the process exits.
	paths := []string{fmt.Sprintf("/proc/%d/map_files/%x-%x", pid, m.Start, m.End)}
	if !m.Deleted {
		if root != "" {
			paths = append(paths, root+m.Path)
		}
		paths = append(paths, m.Path)
	}
	for i, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		// The inode in the listing tells whether a path still names the
		// mapped file (map_files, the first, always does). Overlay file
		// systems list the inode of the layer below, on another device,
		// so a mismatch only disqualifies a path when the device agrees.
		if st, ok := fi.Sys().(*syscall.Stat_t); i > 0 && ok && uint64(st.Ino) != m.Inode &&
			unix.Major(uint64(st.Dev)) == m.Major && unix.Minor(uint64(st.Dev)) == m.Minor {
			continue
		}
		k := keyOfInfo(fi)
		if e, ok := r.files[k]; ok {
			e.addPaths(paths...)
			return e
		}
		e := &fileEntry{key: k, paths: paths}
		r.files[k] = e
		if m.Deleted {
			e.load() // gone once the process is
		}
		return e
	}
	return nil
}

// vdsoEntry returns the vDSO's table, read from the memory of pid once.
func (r *Resolver) vdsoEntry(pid int, m procmaps.Mapping) *fileEntry {
	k := fileKey{vdso: true}
	if e, ok := r.files[k]; ok && e.table != nil {
		return e
	}
	t, err := readVDSO(pid, m.Start, m.End)
	if err != nil {
		return nil
	}
	e := &fileEntry{key: k, table: t}
	r.files[k] = e
	return e
}

// Process returns the snapshot of pid, taking it now if there is none
// (or if the last attempt failed more than a second ago).
func (r *Resolver) Process(pid int) (*Process, error) {
	r.mu.Lock()
	p, ok := r.procs[pid]
	r.mu.Unlock()
	if ok && p.err == nil {
		return p, nil
	}
	if ok && time.Since(p.Taken) <= r.refresh {
		return nil, p.err
	}
	return r.Snapshot(pid)
}

// Forget drops the snapshot of pid (the files stay cached).
func (r *Resolver) Forget(pid int) {
	r.mu.Lock()
	delete(r.procs, pid)
	r.mu.Unlock()
}

// Lookup symbolises addr in process pid. Without a snapshot of pid it
// takes one; when addr is in none of the snapshot's mappings and the
// snapshot is older than a second, it takes a new one in case the
// process has mapped more since.
func (r *Resolver) Lookup(pid int, addr uint64) (Symbol, uint64, bool) {
	p, err := r.Process(pid)
	if err != nil {
		return Symbol{}, 0, false
	}
	if _, ok := procmaps.Find(p.maps, addr); !ok && !p.Final && time.Since(p.Taken) > r.refresh {
		if np, err := r.Snapshot(pid); err == nil {
			p = np
		}
	}
	return p.Lookup(addr)
}

// Lookup returns the symbol that addr, an address in the process, falls
// in, and addr's offset from its start. Symbol.Module is the mapped file's
// path ("[vdso]" for the vDSO). ok is false for addresses in no file
// mapping, or in a file without a symbol there.
func (p *Process) Lookup(addr uint64) (sym Symbol, offset uint64, ok bool) {
	i, ok := findIndex(p.maps, addr)
	if !ok || p.files[i] == nil {
		return Symbol{}, 0, false
	}
	m := p.maps[i]
	t, err := p.files[i].load()
	if err != nil {
		return Symbol{}, 0, false
	}
	v, ok := t.vaddr(m.FileOffset(addr))
	if !ok {
		return Symbol{}, 0, false
	}
	s, ok := t.lookup(v)
	if !ok {
		return Symbol{}, 0, false
	}
	off := v - s.start
	return Symbol{Name: s.name, Module: m.Path, Addr: addr - off, Size: s.size}, off, true
}

// Load reads now the symbol tables of every file the process has mapped,
// so that they resolve even if the files become unreachable (the process
// exits and its mount namespace with it). It returns the errors of the
// files that could not be read; the others are loaded regardless.
func (p *Process) Load() error {
	var errs []error
	for i, e := range p.files {
		if e == nil {
			continue
		}
		if _, err := e.load(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.maps[i].Path, err))
		}
	}
	return errors.Join(errs...)
}

func findIndex(ms []procmaps.Mapping, addr uint64) (int, bool) {
	lo, hi := 0, len(ms)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ms[m].End > addr {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo, lo < len(ms) && ms[lo].Contains(addr)
}

// UserAddress resolves spec, "BINARY:SYMBOL", as bpftrace's uaddr does: the
// binary is found as for a uprobe (attach.ResolveBinary) and the symbol
// (a function or an object) looked up in its symbol tables.
//
// With pid 0 the address is the one in the file. For a position
// independent file (a PIE executable or a shared library) that is not
// where any process has it, and relocatable is true: the caller must add
// the load bias of the process it traces. With a pid, the address is
// translated into that process's address space when the process maps the
// file.
func (r *Resolver) UserAddress(spec string, pid int) (sym Symbol, relocatable bool, err error) {
	t, err := attach.ParseUprobeTarget(spec)
	if err != nil {
		return Symbol{}, false, fmt.Errorf("uaddr: %w", err)
	}
	if t.Symbol == "" {
		return Symbol{}, false, fmt.Errorf("uaddr %q: want BINARY:SYMBOL, not an address", attach.Shorten(spec))
	}
	path, err := attach.ResolveBinary(t.Binary, pid)
	if err != nil {
		return Symbol{}, false, fmt.Errorf("uaddr: %w", err)
	}
	fail := func(err error) (Symbol, bool, error) {
		return Symbol{}, false, fmt.Errorf("uaddr %s:%s: %w", attach.Shorten(path), attach.Shorten(t.Symbol), err)
	}
	e, err := r.fileByPath(path)
	if err != nil {
		return fail(err)
	}
	table, err := e.load()
	if err != nil {
		return fail(err)
	}
	s, ok := table.byName(t.Symbol)
	if !ok {
		return fail(errors.New("no such symbol"))
	}
	sym = Symbol{Name: s.name, Module: path, Addr: s.start + t.Offset, Size: s.size}
	if table.typ != elf.ET_DYN {
		return sym, false, nil
	}
	if pid == 0 {
		return sym, true, nil
	}
	p, err := r.Process(pid)
	if err != nil {
		return fail(err)
	}
	off, ok := table.fileOffset(sym.Addr)
	if !ok {
		return fail(fmt.Errorf("symbol at %#x is in no loadable segment", sym.Addr))
	}
	for i, m := range p.maps {
		if p.files[i] == e && off >= m.Offset && off-m.Offset < m.End-m.Start {
			sym.Addr = m.Start + off - m.Offset
			return sym, false, nil
		}
	}
	return fail(fmt.Errorf("process %d does not map the file", pid))
}

// fileByPath returns the cache entry of the file at path.
func (r *Resolver) fileByPath(path string) (*fileEntry, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	k := keyOfInfo(fi)
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.files[k]; ok {
		return e, nil
	}
	e := &fileEntry{key: k, paths: []string{path}}
	r.files[k] = e
	return e, nil
}
