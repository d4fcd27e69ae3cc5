package driver

import (
	"encoding/binary"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/codegen"
	"github.com/wagglebpf/waggle/lang/sema"
	"github.com/wagglebpf/waggle/session"

	"github.com/wagglebpf/waggle/internal/symtab"
	"github.com/wagglebpf/waggle/lang/output"
)

// symbols is what ksym, usym, kaddr, uaddr, kstack and ustack need from
// the system: the kernel's symbol table, read on first use (it costs tens
// of milliseconds, which a script without symbols must not pay), and a
// resolver of user-space addresses that keeps what it has read.
//
// One table serves the whole process: compiling and printing share it.
type symbols struct {
	kernelMu sync.Mutex
	kernel   *symtab.Kernel
	kerr     error
	loaded   bool
	userMu   sync.Mutex
	user     *symtab.Resolver
}

var sysSymbols = &symbols{}

func (s *symbols) loadKernel() (*symtab.Kernel, error) {
	s.kernelMu.Lock()
	defer s.kernelMu.Unlock()
	if !s.loaded {
		s.kernel, s.kerr = symtab.LoadKernel()
		s.loaded = true
	}
	return s.kernel, s.kerr
}

// programsLoaded drops a kernel table read before the script's programs
// were loaded (by kaddr while compiling): it lacks their bpf_prog_*
// symbols, which kstack prints. The next use reads it again.
func (s *symbols) programsLoaded() {
	s.kernelMu.Lock()
	defer s.kernelMu.Unlock()
	s.kernel, s.kerr, s.loaded = nil, nil, false
}

func (s *symbols) resolver() *symtab.Resolver {
	s.userMu.Lock()
	defer s.userMu.Unlock()
	if s.user == nil {
		s.user = symtab.NewResolver()
	}
	return s.user
}

// childOptions say how to start the -c command of p: when p prints user
// symbols, the command is held at its exit while its mappings are read,
// so that what it captured resolves after it is gone (the maps print at
// the end, when it has exited). Scripts without user symbols pay nothing.
func (s *symbols) childOptions(p *codegen.Program) session.ChildOptions {
	if !usesUserSymbols(p) {
		return session.ChildOptions{}
	}
	return session.ChildOptions{AtExit: func(pid int) {
		// Best effort: what cannot be read prints in hex.
		s.resolver().Keep(pid)
	}}
}

// kernelAddress resolves kaddr("name").
func (s *symbols) kernelAddress(name string) (uint64, error) {
	k, err := s.loadKernel()
	if err != nil {
		return 0, err
	}
	return k.Address(name)
}

// userAddress resolves uaddr("BINARY:SYMBOL"). A position-independent
// file's address is the file's own unless -p names a process that maps
// it.
func (s *symbols) userAddress(spec string, pid int) (uint64, error) {
	sym, _, err := s.resolver().UserAddress(spec, pid)
	if err != nil {
		return 0, err
	}
	return sym.Addr, nil
}

// kernelResolve is the kernel's symtab.Resolve, nil when the table
// cannot be read (addresses then print in hex).
func (s *symbols) kernelResolve() symtab.Resolve {
	k, err := s.loadKernel()
	if err != nil {
		return nil
	}
	return k.Lookup
}

// userResolve names addresses of process pid.
func (s *symbols) userResolve(pid uint32) symtab.Resolve {
	r := s.resolver()
	return func(addr uint64) (symtab.Symbol, uint64, bool) {
		return r.Lookup(int(pid), addr)
	}
}

// symbolizer is the printer's view of the tables.
func (s *symbols) symbolizer(stacks *ebpf.Map) *output.Symbolizer {
	return &output.Symbolizer{
		Stack: func(t *ast.Type, id int64, pid uint32) string {
			return s.stack(stacks, t, id, pid)
		},
		CgroupPath: cgroupPath,
		Kernel:     func(addr uint64) string { return symtab.Name(s.kernelResolve(), addr) },
		User: func(pid uint32, addr uint64) string {
			return symtab.Name(s.userResolve(pid), addr)
		},
	}
}

// stack formats a kstack or ustack value as bpftrace prints it: the frames
// from the stack map (none when the capture failed, its id negative),
// at most t.Len of them, in t.Name's mode.
func (s *symbols) stack(stacks *ebpf.Map, t *ast.Type, id int64, pid uint32) string {
	var frames []uint64
	if stacks != nil && id >= 0 {
		raw, err := stacks.LookupBytes(uint32(id))
		if err == nil && raw != nil {
			frames = make([]uint64, 0, sema.MaxStackDepth)
			for i := 0; i+8 <= len(raw) && len(frames) < t.Len; i += 8 {
				frames = append(frames, binary.NativeEndian.Uint64(raw[i:]))
			}
		}
	}
	mode, err := symtab.ParseStackMode(t.Name)
	if err != nil {
		mode = symtab.ModeBpftrace
	}
	var resolve symtab.Resolve
	if mode != symtab.ModeRaw {
		if t.User {
			resolve = s.userResolve(pid)
		} else {
			resolve = s.kernelResolve()
		}
	}
	return symtab.FormatStack(frames, mode, resolve, t.User)
}

// usesUserSymbols reports whether anything p prints holds a usym or a
// ustack value.
func usesUserSymbols(p *codegen.Program) bool {
	for _, m := range p.Maps {
		if userSymbolType(m.Key) || userSymbolType(m.Value) {
			return true
		}
	}
	for _, f := range p.Formats {
		for _, a := range f.Args {
			if userSymbolType(a) {
				return true
			}
		}
	}
	for _, v := range p.Values {
		if userSymbolType(v) {
			return true
		}
	}
	return false
}

func userSymbolType(t *ast.Type) bool {
	if t == nil {
		return false
	}
	if t.Kind == ast.KindUsym || t.Kind == ast.KindStack && t.User {
		return true
	}
	for _, e := range t.Elems {
		if userSymbolType(e) {
			return true
		}
	}
	return userSymbolType(t.Elem)
}
