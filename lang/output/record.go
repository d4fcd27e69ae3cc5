package output

import (
	"fmt"
	"strconv"

	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/ctypes"
)

// A C struct or union read whole (print(*p), @m = *p) prints as bpftrace
// prints it: "{ .pid = 12, .comm = bash, .se = { .on_rq = 1 } }" in text
// and an object in JSON. Members of anonymous structs and unions print
// as the record's own, as C reads them.

// plainTypes converts member types without a kernel: a record read by
// value has every type it contains complete.
var plainTypes = ctypes.New(nil)

// maxPrintedString bounds a char array printed from a record.
const maxPrintedString = 1 << 16

func decodeRecord(t *ast.Type, b []byte, sym *Symbolizer, depth int) (prim, error) {
	p := prim{kind: pRecord}
	if t.BTF == nil {
		// A record without its C type prints as its bytes.
		return prim{kind: pBuffer, s: string(b)}, nil
	}
	err := addMembers(&p, t.BTF, b, 0, sym, depth)
	return p, err
}

func addMembers(p *prim, rec btf.Type, b []byte, base int, sym *Symbolizer, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("records nested too deeply")
	}
	var members []btf.Member
	switch r := btf.UnderlyingType(rec).(type) {
	case *btf.Struct:
		members = r.Members
	case *btf.Union:
		members = r.Members
	default:
		return fmt.Errorf("%s is not a struct or union", ctypes.TypeName(rec))
	}
	for _, m := range members {
		off := base + int(m.Offset)
		if m.Name == "" {
			if err := addMembers(p, m.Type, b, off, sym, depth+1); err != nil {
				return err
			}
			continue
		}
		v, err := decodeMember(m, off, b, sym, depth)
		if err != nil {
			return fmt.Errorf(".%s: %w", m.Name, err)
		}
		p.names = append(p.names, m.Name)
		p.elems = append(p.elems, v)
	}
	return nil
}

// decodeMember reads one member at bit offset off of b.
func decodeMember(m btf.Member, off int, b []byte, sym *Symbolizer, depth int) (prim, error) {
	t, err := plainTypes.LangType(m.Type, false, maxPrintedString)
	if err != nil {
		// What the language cannot hold (a float) prints as nothing.
		return prim{kind: pNone}, nil
	}
	if m.BitfieldSize > 0 {
		bits := int(m.BitfieldSize)
		start := off / 8
		var v uint64
		for i := 0; i < 8 && start+i < len(b); i++ {
			v |= uint64(b[start+i]) << (8 * i)
		}
		v >>= uint(off % 8)
		if bits < 64 {
			v &= 1<<bits - 1
		}
		if t.Signed && bits < 64 && v&(1<<(bits-1)) != 0 {
			return intPrim(int64(v) - 1<<bits), nil
		}
		return uintPrim(v), nil
	}
	start := off / 8
	size := t.Size
	if t.Kind == ast.KindBool {
		size = 1
	}
	if start+size > len(b) || size < 0 {
		return prim{}, shortErr(t, start+size, len(b))
	}
	field := b[start : start+size]
	switch t.Kind {
	case ast.KindInt:
		return intOf(readUintN(field, size), size, t.Signed), nil
	case ast.KindBool:
		return prim{kind: pBool, b: field[0] != 0}, nil
	case ast.KindPtr:
		n := hostOrder.Uint64(field)
		return prim{kind: pSym, s: "0x" + strconv.FormatUint(n, 16), u: n}, nil
	case ast.KindString:
		// A char array: up to its NUL, never marked as cut short.
		for i, c := range field {
			if c == 0 {
				return prim{kind: pString, s: string(field[:i])}, nil
			}
		}
		return prim{kind: pString, s: string(field)}, nil
	case ast.KindRecord:
		return decodeRecord(t, field, sym, depth+1)
	case ast.KindArray:
		return decodeArray(t, field, sym, depth+1)
	}
	return decodeDepth(t, field, sym, depth+1)
}
