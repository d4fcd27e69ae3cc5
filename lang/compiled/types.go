package compiled

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/lang/ast"
)

// kindNames name ast's type kinds in the file, so that the file does not
// depend on the order of ast's constants. A kind missing here cannot be
// written: add it when ast gains one.
var kindNames = map[ast.Kind]string{
	ast.KindNone: "none", ast.KindInt: "int", ast.KindBool: "bool", ast.KindString: "string",
	ast.KindTuple: "tuple", ast.KindPtr: "ptr", ast.KindRecord: "record", ast.KindArray: "array",
	ast.KindCount: "count", ast.KindSum: "sum", ast.KindAvg: "avg", ast.KindMin: "min", ast.KindMax: "max",
	ast.KindStats: "stats", ast.KindHist: "hist", ast.KindLHist: "lhist", ast.KindStack: "stack",
	ast.KindKsym: "ksym", ast.KindUsym: "usym", ast.KindTimestamp: "timestamp", ast.KindBuffer: "buffer",
	ast.KindInet: "inet", ast.KindMac: "mac", ast.KindText: "text", ast.KindCgroupPath: "cgroup_path",
}

var kindByName = func() map[string]ast.Kind {
	m := make(map[string]ast.Kind, len(kindNames))
	for k, n := range kindNames {
		m[n] = k
	}
	return m
}()

// Bounds on what a decoded type may say, so that a hostile file cannot
// make the printer slice beyond a buffer or recurse without end.
const (
	maxTypeDepth = 64
	maxTypeSize  = 1 << 24
)

// typeWriter collects the ast.Types a program refers to into the
// document's table, children first, and their C types into one BTF blob.
type typeWriter struct {
	table []wireType
	index map[typeKey]int
	btf   *btf.Builder
	// printable caches the copies of C types made for printing.
	printable map[btf.Type]btf.Type
}

// typeKey tells a type reached through a pointer from the same type
// reached otherwise: only the latter keeps its C layout.
type typeKey struct {
	t        *ast.Type
	underPtr bool
}

func newTypeWriter() *typeWriter {
	return &typeWriter{index: map[typeKey]int{}, btf: &btf.Builder{}, printable: map[btf.Type]btf.Type{}}
}

// ref returns t's 1-based index in the table, adding it; 0 for nil.
func (w *typeWriter) ref(t *ast.Type) (int, error) { return w.add(t, false, 0) }

func (w *typeWriter) add(t *ast.Type, underPtr bool, depth int) (int, error) {
	if t == nil {
		return 0, nil
	}
	if depth > maxTypeDepth {
		return 0, fmt.Errorf("type %s is nested more than %d deep", t, maxTypeDepth)
	}
	key := typeKey{t, underPtr}
	if i, ok := w.index[key]; ok {
		return i, nil
	}
	name, ok := kindNames[t.Kind]
	if !ok {
		return 0, fmt.Errorf("type kind %d has no name in the compiled format (lang/compiled kindNames)", t.Kind)
	}
	wt := wireType{Kind: name, Size: t.Size, Signed: t.Signed, Len: t.Len, User: t.User, Name: text(t.Name), Min: t.Min, Max: t.Max, Step: t.Step, Cast: t.Cast}
	for _, e := range t.Elems {
		i, err := w.add(e, underPtr, depth+1)
		if err != nil {
			return 0, err
		}
		wt.Elems = append(wt.Elems, i)
	}
	elem, err := w.add(t.Elem, underPtr || t.Kind == ast.KindPtr, depth+1)
	if err != nil {
		return 0, err
	}
	wt.Elem = elem
	// What a pointer points to prints as an address: it keeps its name
	// but not its C type, which could pull in much of the kernel's.
	if t.BTF != nil && !underPtr {
		id, err := w.btf.Add(w.copyPrintable(t.BTF))
		if err != nil {
			return 0, fmt.Errorf("type %s: %w", t, err)
		}
		wt.BTF = uint32(id)
	}
	w.table = append(w.table, wt)
	w.index[key] = len(w.table)
	return len(w.table), nil
}

// addFunc adds a function's BTF (of a program with subprograms).
func (w *typeWriter) addFunc(fn *btf.Func) (uint32, error) {
	id, err := w.btf.Add(fn)
	return uint32(id), err
}

// marshalBTF returns the blob, nil when no C type was added.
func (w *typeWriter) marshalBTF() ([]byte, error) {
	if w.btf.Empty() {
		return nil, nil
	}
	return w.btf.Marshal(nil, &btf.MarshalOptions{Order: binary.LittleEndian})
}

// copyPrintable copies a C type for printing values of it: everything it
// holds by value, with pointers pointing to void, so that a struct does
// not bring the kernel's whole type graph into the file.
func (w *typeWriter) copyPrintable(t btf.Type) btf.Type {
	if c, ok := w.printable[t]; ok {
		return c
	}
	switch v := t.(type) {
	case *btf.Pointer:
		c := &btf.Pointer{Target: &btf.Void{}}
		w.printable[t] = c
		return c
	case *btf.Struct:
		c := &btf.Struct{Name: v.Name, Size: v.Size}
		w.printable[t] = c
		c.Members = w.copyMembers(v.Members)
		return c
	case *btf.Union:
		c := &btf.Union{Name: v.Name, Size: v.Size}
		w.printable[t] = c
		c.Members = w.copyMembers(v.Members)
		return c
	case *btf.Array:
		c := &btf.Array{Nelems: v.Nelems}
		w.printable[t] = c
		c.Type, c.Index = w.copyPrintable(v.Type), w.copyPrintable(v.Index)
		return c
	case *btf.Typedef:
		c := &btf.Typedef{Name: v.Name}
		w.printable[t] = c
		c.Type = w.copyPrintable(v.Type)
		return c
	case *btf.Const:
		c := &btf.Const{}
		w.printable[t] = c
		c.Type = w.copyPrintable(v.Type)
		return c
	case *btf.Volatile:
		c := &btf.Volatile{}
		w.printable[t] = c
		c.Type = w.copyPrintable(v.Type)
		return c
	case *btf.Restrict:
		c := &btf.Restrict{}
		w.printable[t] = c
		c.Type = w.copyPrintable(v.Type)
		return c
	case *btf.TypeTag:
		c := &btf.TypeTag{Value: v.Value}
		w.printable[t] = c
		c.Type = w.copyPrintable(v.Type)
		return c
	case *btf.Int, *btf.Enum, *btf.Fwd, *btf.Float, *btf.Void:
		// Leaves: the builder only reads them.
		return t
	}
	// Nothing else is held by value in a struct.
	return &btf.Void{}
}

func (w *typeWriter) copyMembers(ms []btf.Member) []btf.Member {
	out := make([]btf.Member, len(ms))
	for i, m := range ms {
		out[i] = btf.Member{Name: m.Name, Type: w.copyPrintable(m.Type), Offset: m.Offset, BitfieldSize: m.BitfieldSize}
	}
	return out
}

// typeReader rebuilds the table of a document.
type typeReader struct {
	types []*ast.Type
	spec  *btf.Spec
}

func newTypeReader(table []wireType, blob []byte) (*typeReader, error) {
	r := &typeReader{}
	if len(blob) > 0 {
		if bytes.HasPrefix(blob, []byte("\x7fELF")) {
			return nil, fmt.Errorf("btf: an ELF file, not raw BTF")
		}
		spec, err := btf.LoadSpecFromReader(bytes.NewReader(blob))
		if err != nil {
			return nil, fmt.Errorf("btf: %w", err)
		}
		r.spec = spec
	}
	depth := make([]int, len(table))
	for i, wt := range table {
		kind, ok := kindByName[wt.Kind]
		if !ok {
			return nil, fmt.Errorf("types[%d]: unknown kind %q", i, wt.Kind)
		}
		if wt.Size < 0 || wt.Size > maxTypeSize || wt.Len < 0 || wt.Len > maxTypeSize {
			return nil, fmt.Errorf("types[%d]: size %d, length %d out of range", i, wt.Size, wt.Len)
		}
		t := &ast.Type{Kind: kind, Size: wt.Size, Signed: wt.Signed, Len: wt.Len, User: wt.User, Name: string(wt.Name), Min: wt.Min, Max: wt.Max, Step: wt.Step, Cast: wt.Cast}
		child := func(ref int) (*ast.Type, error) {
			// Only earlier types: no cycles.
			if ref < 1 || ref > i {
				return nil, fmt.Errorf("types[%d] refers to type %d, which is not before it", i, ref)
			}
			depth[i] = max(depth[i], depth[ref-1]+1)
			if depth[i] > maxTypeDepth {
				return nil, fmt.Errorf("types[%d] is nested more than %d deep", i, maxTypeDepth)
			}
			return r.types[ref-1], nil
		}
		for _, ref := range wt.Elems {
			e, err := child(ref)
			if err != nil {
				return nil, err
			}
			t.Elems = append(t.Elems, e)
		}
		if wt.Elem != 0 {
			e, err := child(wt.Elem)
			if err != nil {
				return nil, err
			}
			t.Elem = e
		}
		if err := checkShape(t); err != nil {
			return nil, fmt.Errorf("types[%d]: %w", i, err)
		}
		if wt.BTF != 0 {
			bt, err := r.btfType(wt.BTF)
			if err != nil {
				return nil, fmt.Errorf("types[%d]: %w", i, err)
			}
			t.BTF = bt
		}
		r.types = append(r.types, t)
	}
	return r, nil
}

// checkShape refuses types the printer could not walk.
func checkShape(t *ast.Type) error {
	switch t.Kind {
	case ast.KindPtr, ast.KindArray:
		if t.Elem == nil {
			return fmt.Errorf("a %s type without an element type", kindNames[t.Kind])
		}
	case ast.KindLHist:
		if t.Step <= 0 || t.Max < t.Min {
			return fmt.Errorf("lhist bounds %d..%d step %d", t.Min, t.Max, t.Step)
		}
	}
	return nil
}

func (r *typeReader) btfType(id uint32) (btf.Type, error) {
	if r.spec == nil {
		return nil, fmt.Errorf("BTF type %d, but the file has no BTF", id)
	}
	t, err := r.spec.TypeByID(btf.TypeID(id))
	if err != nil {
		return nil, fmt.Errorf("BTF type %d: %w", id, err)
	}
	return t, nil
}

// ref resolves a 1-based type reference; 0 is nil.
func (r *typeReader) ref(i int, what string) (*ast.Type, error) {
	if i == 0 {
		return nil, nil
	}
	if i < 0 || i > len(r.types) {
		return nil, fmt.Errorf("%s: type %d of %d", what, i, len(r.types))
	}
	return r.types[i-1], nil
}
