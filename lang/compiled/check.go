package compiled

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/lang/ctypes"
)

// Target describes the machine a compiled program is to run on. A zero
// field leaves what it would tell unchecked: an
// agent fills what its target reports, lang/driver fills all of it for
// the machine it runs on.
type Target struct {
	// Arch is the target's GOARCH.
	Arch string
	// NCPUs is the number of possible CPUs; 0 leaves it unchecked.
	NCPUs int
	// NoRingBuf says the kernel lacks BPF ring buffers (before 5.8).
	NoRingBuf bool
	// BTF returns the kernel's type information.
	BTF func() (*btf.Spec, error)
	// TracepointFormat reads a tracepoint's format.
	TracepointFormat func(group, event string) (*attach.TracepointFormat, error)
	// KernelSymbol resolves a kernel symbol to its address.
	KernelSymbol func(name string) (uint64, error)
	// UserSymbol resolves uaddr's "BINARY:SYMBOL" as the compiler does
	// (the file's address, or process pid's when pid is not 0).
	UserSymbol func(spec string, pid int) (uint64, error)
	// USDTProbes lists the usdt probe sites of a file.
	USDTProbes func(path string) ([]attach.USDTProbe, error)
}

// Check compares what p assumes with the target and returns every
// difference, each a sentence that names the fact, what p was compiled
// with and what the target has. A program that passes is the one the
// compiler would have made on the target, up to what Assumptions leaves
// out; field offsets of kernel structs are relocated when the programs
// are loaded, not checked here.
func (p *Program) Check(t Target) error {
	a := &p.Assumes
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	on := "where it was compiled"
	if a.Kernel != "" {
		on = "where it was compiled (Linux " + a.Kernel + ")"
	}
	if t.Arch != "" && a.Arch != t.Arch {
		// Nothing else is worth saying about a program for another machine.
		return fmt.Errorf("the program was compiled for %s; this machine is %s: compile the script for %s", a.Arch, t.Arch, t.Arch)
	}
	if a.NCPUs != 0 && t.NCPUs != 0 && a.NCPUs != t.NCPUs {
		fail("the program was compiled for %d possible CPUs (ncpus, or an aggregation read whole in a probe), this machine has %d: compile the script for this machine", a.NCPUs, t.NCPUs)
	}
	if a.RingBuf && t.NoRingBuf {
		fail("the program sends records through a BPF ring buffer, which this kernel lacks (Linux 5.8+): compile the script for this kernel, which uses perf buffers")
	}
	if t.TracepointFormat != nil {
		for _, tp := range a.Tracepoints {
			if err := checkTracepoint(tp, t.TracepointFormat, on); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if t.KernelSymbol != nil {
		for _, s := range a.KernelSymbols {
			addr, err := t.KernelSymbol(s.Name)
			switch {
			case err != nil:
				fail("kaddr(%q) was compiled in as %#x, and this kernel's address cannot be read: %v", s.Name, s.Addr, err)
			case addr != s.Addr:
				fail("kaddr(%q) was compiled in as %#x, this kernel has it at %#x (kernel addresses change at every boot): compile the script again", s.Name, s.Addr, addr)
			}
		}
	}
	if t.UserSymbol != nil {
		for _, s := range a.UserSymbols {
			addr, err := t.UserSymbol(s.Name, p.PID)
			switch {
			case err != nil:
				fail("uaddr(%q) was compiled in as %#x, and it cannot be resolved here: %v", s.Name, s.Addr, err)
			case addr != s.Addr:
				fail("uaddr(%q) was compiled in as %#x, here it is %#x: compile the script again", s.Name, s.Addr, addr)
			}
		}
	}
	if t.USDTProbes != nil {
		for _, u := range a.USDT {
			if err := checkUSDT(u, t.USDTProbes); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if t.BTF != nil && (len(a.Enums) > 0 || len(a.Sizes) > 0 || len(a.Records) > 0) {
		spec, err := t.BTF()
		if err != nil {
			fail("the program depends on kernel types, and this kernel's BTF cannot be read: %v", err)
		} else {
			errs = append(errs, checkTypes(a, spec, on)...)
		}
	}
	return errors.Join(errs...)
}

func checkTracepoint(tp Tracepoint, read func(group, event string) (*attach.TracepointFormat, error), on string) error {
	name := tp.Group + ":" + tp.Event
	f, err := read(tp.Group, tp.Event)
	var nf *attach.TracepointNotFoundError
	switch {
	case errors.As(err, &nf):
		return fmt.Errorf("tracepoint %s, whose fields the program reads, does not exist on this kernel", name)
	case err != nil:
		return fmt.Errorf("the program reads fields of tracepoint %s, whose format cannot be read here: %w", name, err)
	}
	for _, want := range tp.Fields {
		got, ok := f.Field(want.Name)
		if !ok {
			return fmt.Errorf("tracepoint %s has no field %s on this kernel, which the program reads", name, want.Name)
		}
		here := TracepointField{Name: got.Name, Offset: got.Offset, Size: got.Size, Signed: got.Signed, DataLoc: got.DataLoc, RelLoc: got.RelLoc}
		if here != want {
			return fmt.Errorf("tracepoint %s: field %s is %s on this kernel, %s %s: compile the script for this kernel", name, want.Name, describeField(here), describeField(want), on)
		}
	}
	return nil
}

func describeField(f TracepointField) string {
	s := fmt.Sprintf("%d bytes at offset %d", f.Size, f.Offset)
	if f.Signed {
		s += ", signed"
	}
	if f.DataLoc {
		s += ", __data_loc"
	}
	if f.RelLoc {
		s += ", __rel_loc"
	}
	return s
}

func checkUSDT(u USDTSite, list func(path string) ([]attach.USDTProbe, error)) error {
	name := "usdt:" + u.Path + ":" + u.Provider + ":" + u.Name
	sites, err := list(u.Path)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for _, s := range sites {
		if s.Provider == u.Provider && s.Name == u.Name && s.Offset == u.Offset {
			if s.SemaphoreOffset != u.SemaphoreOffset || s.ArgSpec != u.ArgSpec {
				return fmt.Errorf("%s: the probe site at file offset %#x has other arguments or another semaphore in this machine's file than in the one compiled against: compile the script here", name, u.Offset)
			}
			return nil
		}
	}
	return fmt.Errorf("%s: this machine's file has no probe site at file offset %#x, where the file compiled against had one: compile the script here", name, u.Offset)
}

func checkTypes(a *Assumptions, spec *btf.Spec, on string) []error {
	var errs []error
	defs := ctypes.New(func() (*btf.Spec, error) { return spec, nil })
	if len(a.Enums) > 0 {
		values := map[string]int64{}
		for t, err := range spec.All() {
			if err != nil {
				return append(errs, fmt.Errorf("reading this kernel's BTF: %w", err))
			}
			if e, ok := t.(*btf.Enum); ok {
				for _, v := range e.Values {
					values[v.Name] = int64(v.Value)
				}
			}
		}
		for _, e := range a.Enums {
			v, ok := values[e.Name]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("enum constant %s (%d %s) is not in this kernel's BTF", e.Name, e.Value, on))
			case v != e.Value:
				errs = append(errs, fmt.Errorf("enum constant %s is %d on this kernel, %d %s: compile the script for this kernel", e.Name, v, e.Value, on))
			}
		}
	}
	for _, s := range a.Sizes {
		what := "sizeof(" + s.Type + ")"
		if len(s.Path) > 0 {
			what = "offsetof(" + s.Type + ", " + strings.Join(s.Path, ".") + ")"
		}
		v, err := typeSize(defs, s)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s (%d %s): %v on this kernel", what, s.Value, on, err))
		case v != s.Value:
			errs = append(errs, fmt.Errorf("%s is %d on this kernel, %d %s: compile the script for this kernel", what, v, s.Value, on))
		}
	}
	for _, r := range a.Records {
		t, err := defs.Lookup(r.Type)
		if err != nil {
			errs = append(errs, fmt.Errorf("the program prints %s whole, and this kernel has no %s", r.Type, r.Type))
			continue
		}
		if err := sameLayout(r, recordLayout(t), on); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func typeSize(defs *ctypes.Defs, s TypeSize) (int64, error) {
	t, err := defs.Lookup(s.Type)
	if err != nil {
		return 0, err
	}
	if len(s.Path) == 0 {
		n, err := btf.Sizeof(t)
		return int64(n), err
	}
	off := 0
	for _, name := range s.Path {
		f, err := defs.FieldOf(t, name)
		if err != nil {
			return 0, err
		}
		off += f.BitOffset / 8
		t = f.Type
	}
	return int64(off), nil
}

// sameLayout compares a record as compiled with the target's.
func sameLayout(want, got Record, on string) error {
	fail := func(what string) error {
		return fmt.Errorf("the program prints %s whole, and %s: compile the script for this kernel", want.Type, what)
	}
	if want.Size != got.Size {
		return fail(fmt.Sprintf("it is %d bytes on this kernel, %d %s", got.Size, want.Size, on))
	}
	here := map[string]Member{}
	for _, m := range got.Members {
		here[m.Path] = m
	}
	for _, m := range want.Members {
		h, ok := here[m.Path]
		switch {
		case !ok:
			return fail(fmt.Sprintf("this kernel's has no member %s", m.Path))
		case h != m:
			return fail(fmt.Sprintf("its member %s is at bit %d (%d bytes) on this kernel, at bit %d (%d bytes) %s", m.Path, h.BitOffset, h.Size, m.BitOffset, m.Size, on))
		}
	}
	if len(got.Members) != len(want.Members) {
		return fail(fmt.Sprintf("it has %d members on this kernel, %d %s", len(got.Members), len(want.Members), on))
	}
	return nil
}
