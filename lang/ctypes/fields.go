package ctypes

import (
	"fmt"
	"sort"
	"strings"

	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/lang/ast"
)

// Field is a member found in a struct or union.
type Field struct {
	Type btf.Type
	// BitOffset is from the start of the record, through any anonymous
	// members on the way.
	BitOffset int
	// Bits is the width of a bitfield; 0 for an ordinary member.
	Bits int
}

// ByteOffset is the offset of an ordinary (not bitfield) member.
func (f *Field) ByteOffset() int { return f.BitOffset / 8 }

// Record resolves t, which must be a struct or union (through typedefs,
// qualifiers and forward declarations).
func (d *Defs) Record(t btf.Type) (btf.Type, error) {
	t, err := d.Complete(btf.UnderlyingType(t))
	if err != nil {
		return nil, err
	}
	switch t := t.(type) {
	case *btf.Struct:
		return t, nil
	case *btf.Union:
		return t, nil
	}
	return nil, fmt.Errorf("%s is not a struct or union", typeName(t))
}

// FieldOf finds member name of a struct or union, looking inside its
// anonymous structs and unions as C does.
func (d *Defs) FieldOf(t btf.Type, name string) (*Field, error) {
	rec, err := d.Record(t)
	if err != nil {
		return nil, err
	}
	if f := findMember(rec, name, 0, 0); f != nil {
		return f, nil
	}
	return nil, fmt.Errorf("%s has no field %q%s", typeName(rec), name, suggest(rec, name))
}

func findMember(rec btf.Type, name string, base, depth int) *Field {
	if depth > 16 {
		return nil
	}
	for _, m := range members(rec) {
		if m.Name == name {
			return &Field{Type: m.Type, BitOffset: base + int(m.Offset), Bits: int(m.BitfieldSize)}
		}
		if m.Name == "" {
			if inner := btf.UnderlyingType(m.Type); members(inner) != nil {
				if f := findMember(inner, name, base+int(m.Offset), depth+1); f != nil {
					return f
				}
			}
		}
	}
	return nil
}

// suggest lists a few field names for an error message.
func suggest(rec btf.Type, name string) string {
	var names []string
	var walk func(c btf.Type, depth int)
	walk = func(c btf.Type, depth int) {
		for _, m := range members(c) {
			if m.Name == "" && depth < 8 {
				walk(btf.UnderlyingType(m.Type), depth+1)
				continue
			}
			names = append(names, m.Name)
		}
	}
	walk(rec, 0)
	var close []string
	for _, n := range names {
		if strings.Contains(n, name) || strings.Contains(name, n) && len(n) > 2 {
			close = append(close, n)
		}
	}
	if len(close) == 0 {
		return ""
	}
	sort.Strings(close)
	if len(close) > 5 {
		close = close[:5]
	}
	return "; did you mean " + strings.Join(close, ", ") + "?"
}

// typeName writes a C type the way a script would: "struct sock *".
func typeName(t btf.Type) string {
	switch t := t.(type) {
	case *btf.Pointer:
		return typeName(t.Target) + " *"
	case *btf.Void:
		return "void"
	case *btf.Const:
		return typeName(t.Type)
	case *btf.Volatile:
		return typeName(t.Type)
	case *btf.Array:
		return fmt.Sprintf("%s[%d]", typeName(t.Type), t.Nelems)
	case *btf.FuncProto:
		return "function"
	case nil:
		return "void"
	}
	return key(t)
}

// TypeName is the C name of a type, as messages show it.
func TypeName(t btf.Type) string { return typeName(t) }

// LangType converts a C type to the language's: integers and enums,
// pointers (user tells which address space they point into), char arrays
// as strings of at most maxStr bytes, other arrays, and structs and unions
// as records.
func (d *Defs) LangType(t btf.Type, user bool, maxStr int) (*ast.Type, error) {
	return d.langType(t, user, maxStr, 0)
}

func (d *Defs) langType(t btf.Type, user bool, maxStr, depth int) (*ast.Type, error) {
	if depth > 32 {
		return nil, fmt.Errorf("type %s is nested too deeply", typeName(t))
	}
	switch u := btf.UnderlyingType(t).(type) {
	case *btf.Int:
		if u.Encoding&btf.Bool != 0 {
			return ast.Bool, nil
		}
		switch u.Size {
		case 1, 2, 4, 8:
			return &ast.Type{Kind: ast.KindInt, Size: int(u.Size), Signed: u.Encoding&btf.Signed != 0 || u.Name == "char"}, nil
		}
		return &ast.Type{Kind: ast.KindArray, Size: int(u.Size), Len: int(u.Size), Elem: ast.Uint8}, nil
	case *btf.Enum:
		return &ast.Type{Kind: ast.KindInt, Size: int(u.Size), Signed: u.Signed, BTF: u}, nil
	case *btf.Pointer:
		target := btf.UnderlyingType(u.Target)
		var elem *ast.Type
		switch target.(type) {
		case *btf.Void, *btf.FuncProto:
			elem = ast.Void
		default:
			var err error
			if elem, err = d.langType(u.Target, user, maxStr, depth+1); err != nil {
				// A pointer to something the language cannot hold (a float)
				// is still an address.
				elem = ast.Void
			}
		}
		return &ast.Type{Kind: ast.KindPtr, Size: 8, Elem: elem, User: user}, nil
	case *btf.Fwd:
		// A forward declaration names a type defined elsewhere: the
		// script's own, or the kernel's. An opaque one stays a name.
		if full, err := d.Complete(u); err == nil {
			return &ast.Type{Kind: ast.KindRecord, Name: key(full), Size: sizeOf(full), BTF: full}, nil
		}
		return &ast.Type{Kind: ast.KindRecord, Name: key(u), BTF: u}, nil
	case *btf.Struct, *btf.Union:
		return &ast.Type{Kind: ast.KindRecord, Name: key(u), Size: sizeOf(u), BTF: u}, nil
	case *btf.Array:
		if isChar(u.Type) {
			if u.Nelems == 0 {
				return nil, fmt.Errorf("%s has no length (a flexible array): index it or use str()", typeName(u))
			}
			return &ast.Type{Kind: ast.KindString, Size: min(int(u.Nelems), maxStr)}, nil
		}
		elem, err := d.langType(u.Type, user, maxStr, depth+1)
		if err != nil {
			return nil, err
		}
		return &ast.Type{Kind: ast.KindArray, Size: sizeOf(u), Len: int(u.Nelems), Elem: elem}, nil
	case *btf.Void:
		return ast.Void, nil
	}
	return nil, fmt.Errorf("values of type %s are not supported", typeName(t))
}

// isChar reports whether t is C's char, whose arrays are strings.
func isChar(t btf.Type) bool {
	i, ok := btf.UnderlyingType(t).(*btf.Int)
	return ok && i.Size == 1 && (i.Name == "char" || i.Name == "signed char")
}

// ElemSize is the size of what a pointer or array points to, for pointer
// arithmetic and indexing; 1 for void.
func ElemSize(t *ast.Type) int {
	e := t.Elem
	if e == nil || e.Kind == ast.KindNone {
		return 1
	}
	if e.BTF != nil && e.Kind == ast.KindRecord {
		if n := sizeOf(e.BTF); n > 0 {
			return n
		}
	}
	if e.Kind == ast.KindString {
		return 1
	}
	return max(e.Size, 1)
}

// members lists a struct's or union's members; nil for other types.
func members(t btf.Type) []btf.Member {
	switch t := t.(type) {
	case *btf.Struct:
		return t.Members
	case *btf.Union:
		return t.Members
	}
	return nil
}
