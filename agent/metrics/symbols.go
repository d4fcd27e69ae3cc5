package metrics

import (
	"encoding/binary"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/internal/cgroupfs"
	"github.com/wagglebpf/waggle/internal/symtab"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/output"
	"github.com/wagglebpf/waggle/lang/sema"
)

// Symbols names what labels carry as numbers: kernel addresses (from
// /proc/kallsyms, read on first use and again when the table is older
// than kernelReread, since modules and BPF programs come and go), user
// addresses, and cgroup ids (from the cgroup v2 hierarchy, walked again
// when an id is not known).
// One Symbols serves every source of an exporter; it is safe for
// concurrent use.
type Symbols struct {
	// CgroupRoot is where the cgroup v2 hierarchy is mounted (default
	// /sys/fs/cgroup).
	CgroupRoot string

	kernelMu   sync.Mutex
	kernel     *symtab.Kernel
	kernelRead time.Time

	userOnce sync.Once
	user     *symtab.Resolver

	cgMu     sync.Mutex
	cgroups  map[uint64]string
	cgWalked time.Time
}

// cgroupRewalk is how long a walk of the cgroup tree answers misses: an
// id that is not found is looked for again only after this long, so that
// scrapes full of vanished cgroups do not walk the tree each time.
const cgroupRewalk = 5 * time.Second

// kernelReread is the age at which the kernel's symbol table is read
// again: often enough for a module or BPF program loaded since to be
// named within a few scrapes, rarely enough that its cost (tens of
// milliseconds) does not weigh on every scrape.
const kernelReread = time.Minute

// KernelSymbol names a kernel address as bpftrace's ksym does: the
// symbol's name, or the address in hex.
func (s *Symbols) KernelSymbol(addr uint64) string {
	var resolve symtab.Resolve
	if k := s.kernelTable(); k != nil {
		resolve = k.Lookup
	}
	return symtab.Name(resolve, addr)
}

// kernelTable is the kernel's symbol table, read again once it is older
// than kernelReread; nil when it cannot be read (kptr_restrict), and
// addresses stay in hex.
func (s *Symbols) kernelTable() *symtab.Kernel {
	s.kernelMu.Lock()
	defer s.kernelMu.Unlock()
	if s.kernelRead.IsZero() || time.Since(s.kernelRead) > kernelReread {
		if k, err := symtab.LoadKernel(); err == nil || s.kernel == nil {
			s.kernel = k
		}
		s.kernelRead = time.Now()
	}
	return s.kernel
}

func (s *Symbols) userResolve(pid uint32) symtab.Resolve {
	s.userOnce.Do(func() { s.user = symtab.NewResolver() })
	return func(addr uint64) (symtab.Symbol, uint64, bool) {
		return s.user.Lookup(int(pid), addr)
	}
}

// CgroupPath names a cgroup v2 id by its directory under CgroupRoot ("/"
// for the root), or gives the id in decimal when no cgroup has it.
func (s *Symbols) CgroupPath(id uint64) string {
	s.cgMu.Lock()
	defer s.cgMu.Unlock()
	if p, ok := s.cgroups[id]; ok {
		return p
	}
	if time.Since(s.cgWalked) >= cgroupRewalk {
		s.cgroups = cgroupfs.Paths(s.cgroupRoot())
		s.cgWalked = time.Now()
		if p, ok := s.cgroups[id]; ok {
			return p
		}
	}
	return strconv.FormatUint(id, 10)
}

func (s *Symbols) cgroupRoot() string {
	if s.CgroupRoot != "" {
		return s.CgroupRoot
	}
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "/sys/fs/cgroup"
	}
	return cgroup2Mount(string(data))
}

// cgroup2Mount finds where the cgroup v2 hierarchy is mounted in a
// mountinfo listing: /sys/fs/cgroup on most systems, but
// /sys/fs/cgroup/unified on hybrid ones.
func cgroup2Mount(mountinfo string) string {
	for _, line := range strings.Split(mountinfo, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		fields := strings.Fields(pre)
		if ok && len(fields) >= 5 && strings.HasPrefix(post, "cgroup2 ") {
			// Spaces and the like are escaped in octal: \040.
			if dir, err := strconv.Unquote(`"` + fields[4] + `"`); err == nil {
				return dir
			}
			return fields[4]
		}
	}
	return "/sys/fs/cgroup"
}

// Symbolizer is what a script's keys and values need to print as
// bpftrace prints them: ksym, usym, kstack, ustack (whose frames are in
// the script's stack map, stacks; nil when it has none) and
// cgroup_path() values.
func (s *Symbols) Symbolizer(stacks *ebpf.Map) *output.Symbolizer {
	return &output.Symbolizer{
		Kernel: s.KernelSymbol,
		User: func(pid uint32, addr uint64) string {
			return symtab.Name(s.userResolve(pid), addr)
		},
		Stack: func(t *ast.Type, id int64, pid uint32) string {
			return s.stack(stacks, t, id, pid)
		},
		// Only the unified hierarchy: its name is what bpftrace prints.
		CgroupPath: func(id uint64, filter string) string {
			if filter != "" && !attach.Glob(filter, "unified") {
				return ""
			}
			return "unified:" + s.CgroupPath(id)
		},
	}
}

// stack formats a stack id's frames in the type's mode.
func (s *Symbols) stack(stacks *ebpf.Map, t *ast.Type, id int64, pid uint32) string {
	var frames []uint64
	if stacks != nil && id >= 0 {
		if raw, err := stacks.LookupBytes(uint32(id)); err == nil {
			for i := 0; i+8 <= len(raw) && len(frames) < min(t.Len, sema.MaxStackDepth); i += 8 {
				frames = append(frames, binary.NativeEndian.Uint64(raw[i:]))
			}
		}
	}
	mode, err := symtab.ParseStackMode(t.Name)
	if err != nil {
		mode = symtab.ModeBpftrace
	}
	var resolve symtab.Resolve
	switch {
	case mode == symtab.ModeRaw:
	case t.User:
		resolve = s.userResolve(pid)
	default:
		if k := s.kernelTable(); k != nil {
			resolve = k.Lookup
		}
	}
	return symtab.FormatStack(frames, mode, resolve, t.User)
}
