package compiled

import (
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/codegen"
	"github.com/wagglebpf/waggle/lang/ctypes"
	"github.com/wagglebpf/waggle/lang/sema"
)

// Assumptions are the facts of the compiling machine that a compiled
// program depends on, beyond the field offsets that CO-RE relocates.
// [Program.Check] compares them with a target; an agent can compare them
// with what a target reports before sending a program there.
//
// Not listed, and so not checked: bitfield positions (compiled as the
// compiling kernel lays them out), the sizes by which pointer arithmetic
// and indexing of kernel types scale, the argument types of fentry and
// raw tracepoint probes, and #define values read from installed headers.
type Assumptions struct {
	// Arch is the GOARCH compiled for: argN, retval and usdt arguments
	// read its struct pt_regs, and values are printed in its byte order.
	Arch string
	// Kernel is the compiling machine's kernel release, for messages.
	Kernel string
	// NCPUs is the number of possible CPUs compiled in (the ncpus builtin,
	// and aggregations read whole in probes, which visit every CPU); 0
	// when nothing depends on it.
	NCPUs int
	// RingBuf says records go through a BPF ring buffer (Linux 5.8+);
	// false: through perf buffers.
	RingBuf bool
	// Tracepoints are the fields of tracepoint records that probes read
	// (args.NAME), as the compiling machine's tracefs described them.
	Tracepoints []Tracepoint
	// KernelSymbols are the addresses kaddr() resolved, which kernel
	// address space randomisation changes at every boot.
	KernelSymbols []Symbol
	// UserSymbols are the addresses uaddr() resolved (Name is
	// "BINARY:SYMBOL"), the file's own unless -p named a process.
	UserSymbols []Symbol
	// Enums are the kernel enum constants compiled in by name.
	Enums []Enum
	// Sizes are sizeof() and offsetof() of kernel types compiled in.
	Sizes []TypeSize
	// Records are kernel structs and unions printed whole (print(*p),
	// @m = *p): they are read and printed with the compiling kernel's
	// layout.
	Records []Record
	// USDT are the usdt probe sites attached to, as their files' notes
	// described them.
	USDT []USDTSite
}

// Tracepoint is what a program assumes of one tracepoint's record.
type Tracepoint struct {
	Group, Event string
	Fields       []TracepointField
}

// TracepointField is one field of a tracepoint record that a probe reads.
type TracepointField struct {
	Name            string
	Offset, Size    int
	Signed          bool
	DataLoc, RelLoc bool
}

// Symbol is a name and the address it resolved to.
type Symbol struct {
	Name string
	Addr uint64
}

// Enum is a kernel enum constant and its value.
type Enum struct {
	Name  string
	Value int64
}

// TypeSize is sizeof(Type) when Path is empty, else offsetof(Type, Path).
type TypeSize struct {
	Type  string // "struct task_struct"
	Path  []string
	Value int64
}

// Record is the layout of a kernel struct or union printed whole.
type Record struct {
	Type    string // "struct task_struct"
	Size    int
	Members []Member
}

// Member is one member of a Record, members of anonymous and nested
// structs and unions included, in order.
type Member struct {
	Path      string // "se.on_rq"; anonymous members add no name
	BitOffset int
	// BitSize is the width of a bitfield, 0 for other members.
	BitSize int
	// Size is the member's size in bytes (-1 when it has none).
	Size int
}

// USDTSite is one usdt probe site a program attaches to.
type USDTSite struct {
	Path, Provider, Name    string
	Offset, SemaphoreOffset uint64
	ArgSpec                 string
}

// Collect lists what code, freshly compiled on this machine for ncpus
// possible CPUs, assumes of it, except for the symbol addresses
// (KernelSymbols, UserSymbols): the compiler resolves those through
// callbacks and its caller records them. code.Info must be the checker's
// whole result, probe bodies included.
func Collect(code *codegen.Program, ncpus int) Assumptions {
	a := Assumptions{Arch: runtime.GOARCH, Kernel: kernelRelease()}
	if m := code.Spec.Maps[codegen.EventsMap]; m != nil {
		a.RingBuf = m.Type == ebpf.RingBuf
	}
	info := code.Info
	if usesNCPUs(code) {
		a.NCPUs = ncpus
	}
	a.Tracepoints = tracepointFields(info)
	a.Enums = kernelEnums(info)
	a.Sizes = kernelSizes(info)
	a.Records = printedRecords(code)
	for _, inst := range info.Instances {
		if inst.Kind == sema.ProbeUsdt && inst.USDT != nil {
			u := inst.USDT
			a.USDT = append(a.USDT, USDTSite{Path: u.Path, Provider: u.Provider, Name: u.Name, Offset: u.Offset, SemaphoreOffset: u.SemaphoreOffset, ArgSpec: u.ArgSpec})
		}
	}
	return a
}

func kernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// usesNCPUs reports whether the CPU count is compiled into code: the
// ncpus builtin, or a per-CPU aggregation read in a probe (a loop over
// every CPU with bpf_map_lookup_percpu_elem).
func usesNCPUs(code *codegen.Program) bool {
	for _, ps := range code.Spec.Programs {
		for _, ins := range ps.Instructions {
			if ins.IsBuiltinCall() && asm.BuiltinFunc(ins.Constant) == asm.FnMapLookupPercpuElem {
				return true
			}
		}
	}
	found := false
	for _, inst := range code.Info.Instances {
		ast.Inspect(inst.Probe, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok && id.Name == "ncpus" {
				found = true
			}
			return !found
		})
	}
	return found
}

// tracepointFields lists, per tracepoint, the fields its probe reads.
func tracepointFields(info *sema.Info) []Tracepoint {
	var out []Tracepoint
	for _, inst := range info.Instances {
		if inst.Kind != sema.ProbeTracepoint || inst.Format == nil {
			continue
		}
		var names []string
		ast.Inspect(inst.Probe, func(n ast.Node) bool {
			if f, ok := n.(*ast.FieldExpr); ok {
				if id, ok := f.X.(*ast.Ident); ok && id.Name == "args" && !slices.Contains(names, f.Field) {
					names = append(names, f.Field)
				}
			}
			return true
		})
		if len(names) == 0 {
			continue
		}
		sort.Strings(names)
		tp := Tracepoint{Group: inst.Group, Event: inst.Event}
		for _, name := range names {
			if f, ok := inst.Format.Field(name); ok {
				tp.Fields = append(tp.Fields, TracepointField{Name: f.Name, Offset: f.Offset, Size: f.Size, Signed: f.Signed, DataLoc: f.DataLoc, RelLoc: f.RelLoc})
			}
		}
		out = append(out, tp)
	}
	return out
}

// kernelEnums lists the constants of the script that came from the
// kernel's enums: those the script's own definitions and headers do not
// define.
func kernelEnums(info *sema.Info) []Enum {
	if len(info.Consts) == 0 || info.Prog == nil {
		return nil
	}
	local := ctypes.New(nil)
	for _, inc := range info.Prog.Includes {
		local.Include(inc)
	}
	for _, d := range info.Prog.CDefs {
		local.Add(d.Text) // errors were reported when the script was checked
	}
	seen := map[string]bool{}
	var out []Enum
	for id, c := range info.Consts {
		if c.IsStr || c.Err != nil || seen[id.Name] {
			continue
		}
		if _, ok, _ := local.Const(id.Name); ok {
			continue
		}
		seen[id.Name] = true
		out = append(out, Enum{Name: id.Name, Value: c.Int})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// kernelSizes lists sizeof and offsetof of kernel structs and unions.
func kernelSizes(info *sema.Info) []TypeSize {
	if info.Prog == nil {
		return nil
	}
	var out []TypeSize
	add := func(e ast.Expr, te *ast.TypeExpr, x ast.Expr, path []string) {
		v, ok := info.ConstExprs[e]
		if !ok {
			return
		}
		var t *ast.Type
		if x != nil {
			t = x.Type()
		} else if te != nil {
			t, _ = info.TypeOf(te)
		}
		if t == nil || t.Kind != ast.KindRecord || t.BTF == nil || info.Types == nil || info.Types.IsLocal(t.BTF) {
			return
		}
		ts := TypeSize{Type: ctypes.TypeName(t.BTF), Path: path, Value: v}
		if !slices.ContainsFunc(out, func(o TypeSize) bool { return o.Type == ts.Type && slices.Equal(o.Path, ts.Path) }) {
			out = append(out, ts)
		}
	}
	ast.Inspect(info.Prog, func(n ast.Node) bool {
		switch e := n.(type) {
		case *ast.SizeofExpr:
			add(e, e.OfType, e.OfExpr, nil)
		case *ast.OffsetofExpr:
			add(e, e.Of, e.OfExpr, e.Field)
		}
		return true
	})
	return out
}

// printedRecords lists the layouts of kernel records printed by value.
func printedRecords(code *codegen.Program) []Record {
	var out []Record
	seen := map[string]bool{}
	var visit func(t *ast.Type, depth int)
	visit = func(t *ast.Type, depth int) {
		if t == nil || depth > maxTypeDepth || t.Kind == ast.KindPtr {
			return
		}
		if t.Kind == ast.KindRecord && t.BTF != nil && (code.Info.Types == nil || !code.Info.Types.IsLocal(t.BTF)) {
			name := ctypes.TypeName(t.BTF)
			if !seen[name] {
				seen[name] = true
				out = append(out, recordLayout(t.BTF))
			}
		}
		for _, e := range t.Elems {
			visit(e, depth+1)
		}
		visit(t.Elem, depth+1)
	}
	for _, v := range code.Values {
		visit(v, 0)
	}
	for _, f := range code.Formats {
		for _, a := range f.Args {
			visit(a, 0)
		}
	}
	for _, m := range code.Maps {
		visit(m.Key, 0)
		visit(m.Value, 0)
	}
	return out
}

// recordLayout flattens a struct or union: every member, and the members
// of those held by value, with their offsets from the start.
func recordLayout(t btf.Type) Record {
	r := Record{Type: ctypes.TypeName(t), Size: sizeOf(t)}
	var walk func(t btf.Type, prefix string, base, depth int)
	walk = func(t btf.Type, prefix string, base, depth int) {
		if depth > maxTypeDepth {
			return
		}
		var members []btf.Member
		switch u := btf.UnderlyingType(t).(type) {
		case *btf.Struct:
			members = u.Members
		case *btf.Union:
			members = u.Members
		}
		for _, m := range members {
			path := prefix
			if m.Name != "" {
				path = strings.TrimPrefix(prefix+"."+m.Name, ".")
			}
			off := base + int(m.Offset)
			if m.Name != "" {
				r.Members = append(r.Members, Member{Path: path, BitOffset: off, BitSize: int(m.BitfieldSize), Size: sizeOf(m.Type)})
			}
			walk(m.Type, path, off, depth+1)
		}
	}
	walk(t, "", 0, 0)
	return r
}

func sizeOf(t btf.Type) int {
	n, err := btf.Sizeof(t)
	if err != nil {
		return -1
	}
	return n
}
