package driver

import (
	"sync"

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
	once   sync.Once
	kernel *symtab.Kernel
	kerr   error
	userMu sync.Mutex
	user   *symtab.Resolver
}

var sysSymbols = &symbols{}

func (s *symbols) loadKernel() (*symtab.Kernel, error) {
	s.once.Do(func() { s.kernel, s.kerr = symtab.LoadKernel() })
	return s.kernel, s.kerr
}

func (s *symbols) resolver() *symtab.Resolver {
	s.userMu.Lock()
	defer s.userMu.Unlock()
	if s.user == nil {
		s.user = symtab.NewResolver()
	}
	return s.user
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
func (s *symbols) symbolizer() *output.Symbolizer {
	return &output.Symbolizer{
		Kernel: func(addr uint64) string { return symtab.Name(s.kernelResolve(), addr) },
		User: func(pid uint32, addr uint64) string {
			return symtab.Name(s.userResolve(pid), addr)
		},
	}
}
