package codegen

import (
	"fmt"
	"math"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/ctypes"
)

// Compile once, run on other kernels: every offset of a kernel struct's
// field is emitted as `rX += offset` carrying a Reloc, which says which
// field of which struct it is. Relocate recomputes the offsets against the
// BTF of the kernel the program is loaded on, matching structs and fields
// by name as libbpf's CO-RE does; a field that kernel lacks is an error
// that names it. Types the script defines itself are laid out by the
// script and are not relocated.

// Reloc is the field-offset relocation of one instruction: the byte offset
// of Path (field names, through anonymous members) inside Root, minus
// that of Path without its last name.
type Reloc struct {
	Root btf.Type // a named struct or union of the kernel
	Path []string
	// Local is the offset compiled in, from the compiling host's BTF.
	Local int
}

type relocKey struct{}

// RelocOf returns the relocation an instruction carries, or nil.
func RelocOf(ins *asm.Instruction) *Reloc {
	r, _ := ins.Metadata.Get(relocKey{}).(*Reloc)
	return r
}

// WithReloc returns ins carrying r, as the code generator emits a field
// offset: how a program read back from a file (lang/compiled) regains its
// relocations.
func WithReloc(ins asm.Instruction, r *Reloc) asm.Instruction {
	ins.Metadata.Set(relocKey{}, r)
	return ins
}

// reloc describes field access e into record type rec, or returns nil when
// the record is the script's own. An anonymous record is named by the
// path from the nearest named record that contains it (p->a.b where a's
// type has no name relocates as a.b in p's struct).
func (g *gen) reloc(e *ast.FieldExpr, rec *ast.Type) *Reloc {
	defs := g.prog.Info.Types
	path := []string{e.Field}
	cur := e
	for rec.BTF != nil && btfName(rec.BTF) == "" {
		x, ok := cur.X.(*ast.FieldExpr)
		if !ok || x.X.Type() == nil {
			return nil
		}
		path = append([]string{x.Field}, path...)
		rec = x.X.Type()
		if rec.Kind == ast.KindPtr {
			rec = rec.Elem
		}
		cur = x
	}
	if rec.BTF == nil || defs.IsLocal(rec.BTF) {
		return nil
	}
	return &Reloc{Root: rec.BTF, Path: path}
}

func btfName(t btf.Type) string {
	if t == nil {
		return ""
	}
	return t.TypeName()
}

// Relocations counts the relocated instructions of a program.
func Relocations(insns asm.Instructions) int {
	n := 0
	for i := range insns {
		if RelocOf(&insns[i]) != nil {
			n++
		}
	}
	return n
}

// Relocate rewrites the field offsets of insns for the kernel whose BTF is
// target. It changes nothing when the offsets already match.
func Relocate(insns asm.Instructions, target *btf.Spec) error {
	defs := ctypes.New(func() (*btf.Spec, error) { return target, nil })
	for i := range insns {
		r := RelocOf(&insns[i])
		if r == nil {
			continue
		}
		name := ctypes.TypeName(r.Root)
		root, err := defs.Lookup(name)
		if err != nil {
			return fmt.Errorf("relocating %s: the target kernel has no %s", pathString(r), name)
		}
		off, err := pathOffset(defs, root, r.Path)
		if err != nil {
			return fmt.Errorf("relocating %s: %w", pathString(r), err)
		}
		if len(r.Path) > 1 {
			prefix, err := pathOffset(defs, root, r.Path[:len(r.Path)-1])
			if err != nil {
				return fmt.Errorf("relocating %s: %w", pathString(r), err)
			}
			off -= prefix
		}
		if off > math.MaxInt32 {
			return fmt.Errorf("relocating %s: offset %d", pathString(r), off)
		}
		insns[i].Constant = int64(off)
	}
	return nil
}

func pathOffset(defs *ctypes.Defs, root btf.Type, path []string) (int, error) {
	off := 0
	t := root
	for _, name := range path {
		f, err := defs.FieldOf(t, name)
		if err != nil {
			return 0, err
		}
		off += f.BitOffset / 8
		t = f.Type
	}
	return off, nil
}

func pathString(r *Reloc) string {
	s := ctypes.TypeName(r.Root)
	for _, p := range r.Path {
		s += "." + p
	}
	return s
}

// Relocate rewrites the field offsets of every program of p for the kernel
// whose BTF is target, or for the running kernel when target is nil.
// Programs without relocations do not need the kernel's BTF.
func (p *Program) Relocate(target *btf.Spec) error {
	for _, ps := range p.Spec.Programs {
		if Relocations(ps.Instructions) == 0 {
			continue
		}
		if target == nil {
			var err error
			if target, err = btf.LoadKernelSpec(); err != nil {
				return fmt.Errorf("relocating for this kernel: %w", err)
			}
		}
		if err := Relocate(ps.Instructions, target); err != nil {
			return fmt.Errorf("probe %s: %w", ps.Name, err)
		}
	}
	return nil
}
