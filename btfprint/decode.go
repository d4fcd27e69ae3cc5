package btfprint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"

	"github.com/cilium/ebpf/btf"
)

// byteOrder is the host's: records and map values are written by the kernel
// we run on, so there is no other order to honour.
var byteOrder binary.ByteOrder = binary.NativeEndian

// littleEndian decides how bitfield offsets map onto bytes. BTF counts bit
// offsets in memory order, which starts at the least significant bit on
// little-endian machines and at the most significant bit on big-endian ones.
var littleEndian = byteOrder.Uint16([]byte{1, 0}) == 1

// maxDepth bounds recursion through nested types. Real types nest a handful
// of levels; a malformed type can nest itself forever.
const maxDepth = 64

// maxZeroSizedElems bounds arrays whose elements take no space, which
// otherwise let a few bytes of BTF ask for billions of rendered elements.
const maxZeroSizedElems = 1 << 12

// ErrShortData is wrapped by errors about data that ends before the type
// does, so callers can tell truncated records from types we cannot render.
var ErrShortData = errors.New("short data")

// kind says which fields of a value are meaningful.
type kind uint8

const (
	kindUint kind = iota
	kindInt
	kindBig // 128-bit integers
	kindBool
	kindFloat
	kindString
	kindEnum // a known enumerator; s is its name
	kindPointer
	kindArray
	kindRecord
)

// value is a decoded datum. Decoding once into a tree lets the text, JSON,
// column and sorting code share one reading of the bytes and its checks.
type value struct {
	kind   kind
	signed bool // enums: compare as signed
	u      uint64
	i      int64
	f      float64
	fbits  int // float width, for the shortest round-trip formatting
	big    *big.Int
	s      string
	elems  []value
	fields []field
}

type field struct {
	name string
	v    value
}

// member is a named member with its bit offset made absolute, after
// anonymous structs and unions have been merged into their parent: C code
// names those members as if they belonged to the parent, and so do we.
type member struct {
	name string
	typ  btf.Type
	off  uint64 // bits from the start of the outermost record
	bits uint64 // bitfield width; 0 for ordinary members
}

func shortData(need, have int) error {
	return fmt.Errorf("%w: need %d bytes, have %d", ErrShortData, need, have)
}

// typeString names a type the way a C programmer would write it, for errors.
func typeString(t btf.Type) string {
	switch t := t.(type) {
	case nil:
		return "no type"
	case *btf.Void:
		return "void"
	case *btf.FuncProto:
		return "function prototype"
	case *btf.Func:
		return "function " + t.Name
	case *btf.Fwd:
		return "forward declaration " + t.Name
	case *btf.Struct:
		return "struct " + anon(t.Name)
	case *btf.Union:
		return "union " + anon(t.Name)
	case *btf.Enum:
		return "enum " + anon(t.Name)
	case *btf.Typedef:
		return t.Name
	case *btf.Int:
		return t.Name
	case *btf.Float:
		return t.Name
	case *btf.Pointer:
		return "pointer"
	case *btf.Array:
		return fmt.Sprintf("array[%d]", t.Nelems)
	default:
		if n := t.TypeName(); n != "" {
			return fmt.Sprintf("%T %s", t, n)
		}
		return fmt.Sprintf("%T", t)
	}
}

func anon(name string) string {
	if name == "" {
		return "(anon)"
	}
	return name
}

// decodeTop decodes a whole value: the data must cover the type's size,
// and bytes past it are ignored because perf buffers pad their records.
func decodeTop(t btf.Type, data []byte) (value, error) {
	if t == nil {
		return value{}, errors.New("btfprint: no type")
	}
	if v, ok := btf.UnderlyingType(t).(*btf.Var); ok {
		t = v.Type
	}
	size, err := btf.Sizeof(t)
	if err != nil {
		return value{}, fmt.Errorf("btfprint: %s: %w", typeString(t), err)
	}
	if len(data) < size {
		return value{}, fmt.Errorf("btfprint: %s: %w", typeString(t), shortData(size, len(data)))
	}
	v, err := decode(t, data[:size], 0)
	if err != nil {
		return value{}, fmt.Errorf("btfprint: %s: %w", typeString(t), err)
	}
	return v, nil
}

func decode(t btf.Type, data []byte, depth int) (value, error) {
	if depth > maxDepth {
		return value{}, errors.New("types nested too deeply")
	}
	switch t := btf.UnderlyingType(t).(type) {
	case *btf.Int:
		return decodeInt(t, data)
	case *btf.Enum:
		if len(data) < int(t.Size) {
			return value{}, shortData(int(t.Size), len(data))
		}
		u, err := readUint(data[:t.Size])
		if err != nil {
			return value{}, fmt.Errorf("enum %s: %w", anon(t.Name), err)
		}
		return enumValue(t, u, int(t.Size)*8), nil
	case *btf.Float:
		return decodeFloat(t, data)
	case *btf.Pointer:
		if len(data) < 8 {
			return value{}, shortData(8, len(data))
		}
		return value{kind: kindPointer, u: byteOrder.Uint64(data)}, nil
	case *btf.Array:
		return decodeArray(t, data, depth)
	case *btf.Struct:
		return decodeRecord(t.Members, int(t.Size), data, depth)
	case *btf.Union:
		return decodeRecord(t.Members, int(t.Size), data, depth)
	case *btf.Datasec:
		return decodeDatasec(t, data, depth)
	case *btf.Var:
		return decode(t.Type, data, depth+1)
	case nil:
		return value{}, errors.New("no type")
	default:
		return value{}, fmt.Errorf("%s: no printable form", typeString(t))
	}
}

// readUint reads an integer of BTF's sizes up to 8 bytes.
func readUint(b []byte) (uint64, error) {
	switch len(b) {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(byteOrder.Uint16(b)), nil
	case 4:
		return uint64(byteOrder.Uint32(b)), nil
	case 8:
		return byteOrder.Uint64(b), nil
	}
	return 0, fmt.Errorf("unsupported integer size %d", len(b))
}

func signExtend(u uint64, bits int) int64 {
	if bits <= 0 || bits >= 64 {
		return int64(u)
	}
	shift := 64 - bits
	return int64(u<<shift) >> shift
}

func decodeInt(t *btf.Int, data []byte) (value, error) {
	size := int(t.Size)
	if size == 0 {
		return value{}, fmt.Errorf("integer %s has no size", t.Name)
	}
	if len(data) < size {
		return value{}, shortData(size, len(data))
	}
	b := data[:size]
	if t.Encoding&btf.Bool != 0 {
		// Any set bit is true, as in C.
		for _, c := range b {
			if c != 0 {
				return value{kind: kindBool, u: 1}, nil
			}
		}
		return value{kind: kindBool}, nil
	}
	signed := t.Encoding&btf.Signed != 0
	if size == 16 {
		return value{kind: kindBig, big: readInt128(b, signed)}, nil
	}
	u, err := readUint(b)
	if err != nil {
		return value{}, fmt.Errorf("integer %s: %w", t.Name, err)
	}
	return intValue(u, size*8, signed), nil
}

func intValue(u uint64, bits int, signed bool) value {
	if signed {
		return value{kind: kindInt, i: signExtend(u, bits)}
	}
	return value{kind: kindUint, u: u}
}

func readInt128(b []byte, signed bool) *big.Int {
	lo, hi := byteOrder.Uint64(b[:8]), byteOrder.Uint64(b[8:])
	if !littleEndian {
		lo, hi = hi, lo
	}
	n := new(big.Int).SetUint64(hi)
	n.Lsh(n, 64)
	n.Or(n, new(big.Int).SetUint64(lo))
	if signed && hi>>63 == 1 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), 128))
	}
	return n
}

// enumValue names u if an enumerator has that value; otherwise the number
// stands, as C would print it.
func enumValue(t *btf.Enum, u uint64, bits int) value {
	if t.Signed {
		// BTF stores signed enumerators sign-extended to 64 bits.
		u = uint64(signExtend(u, bits))
	}
	for _, ev := range t.Values {
		if ev.Value == u {
			return value{kind: kindEnum, signed: t.Signed, u: u, i: int64(u), s: ev.Name}
		}
	}
	if t.Signed {
		return value{kind: kindInt, i: int64(u)}
	}
	return value{kind: kindUint, u: u}
}

func decodeFloat(t *btf.Float, data []byte) (value, error) {
	size := int(t.Size)
	if len(data) < size {
		return value{}, shortData(size, len(data))
	}
	switch size {
	case 4:
		return value{kind: kindFloat, fbits: 32, f: float64(math.Float32frombits(byteOrder.Uint32(data)))}, nil
	case 8:
		return value{kind: kindFloat, fbits: 64, f: math.Float64frombits(byteOrder.Uint64(data))}, nil
	}
	return value{}, fmt.Errorf("unsupported float size %d", size)
}

// isCharArray reports whether elements are bytes, which C programs use for
// strings (comm, filename); printing them as numbers would hide the text.
func isCharArray(arr *btf.Array) bool {
	i, ok := btf.UnderlyingType(arr.Type).(*btf.Int)
	return ok && i.Size == 1 && i.Encoding&btf.Bool == 0
}

func decodeArray(t *btf.Array, data []byte, depth int) (value, error) {
	n := int(t.Nelems)
	if isCharArray(t) {
		if len(data) < n {
			return value{}, shortData(n, len(data))
		}
		b := data[:n]
		for i, c := range b {
			if c == 0 {
				b = b[:i]
				break
			}
		}
		return value{kind: kindString, s: string(b)}, nil
	}
	esize, err := btf.Sizeof(t.Type)
	if err != nil {
		return value{}, fmt.Errorf("array element: %w", err)
	}
	if esize == 0 && n > maxZeroSizedElems {
		return value{}, fmt.Errorf("array of %d zero-sized elements", n)
	}
	total, err := btf.Sizeof(t)
	if err != nil {
		return value{}, err
	}
	if len(data) < total {
		return value{}, shortData(total, len(data))
	}
	elems := make([]value, n)
	for i := range elems {
		v, err := decode(t.Type, data[i*esize:], depth+1)
		if err != nil {
			return value{}, fmt.Errorf("[%d]: %w", i, err)
		}
		elems[i] = v
	}
	return value{kind: kindArray, elems: elems}, nil
}

func decodeRecord(ms []btf.Member, size int, data []byte, depth int) (value, error) {
	if len(data) < size {
		return value{}, shortData(size, len(data))
	}
	flat, err := flatten(ms, 0, depth, nil)
	if err != nil {
		return value{}, err
	}
	fields := make([]field, len(flat))
	for i, m := range flat {
		v, err := decodeMember(m, data, depth)
		if err != nil {
			return value{}, fmt.Errorf(".%s: %w", m.name, err)
		}
		fields[i] = field{m.name, v}
	}
	return value{kind: kindRecord, fields: fields}, nil
}

func decodeDatasec(t *btf.Datasec, data []byte, depth int) (value, error) {
	if len(data) < int(t.Size) {
		return value{}, shortData(int(t.Size), len(data))
	}
	var fields []field
	for _, vs := range t.Vars {
		v, ok := vs.Type.(*btf.Var)
		if !ok {
			continue // functions have no bytes in a data section
		}
		end := uint64(vs.Offset) + uint64(vs.Size)
		if end > uint64(len(data)) {
			return value{}, fmt.Errorf("%s: %w", v.Name, shortData(int(end), len(data)))
		}
		dv, err := decode(v.Type, data[vs.Offset:end], depth+1)
		if err != nil {
			return value{}, fmt.Errorf("%s: %w", v.Name, err)
		}
		fields = append(fields, field{v.Name, dv})
	}
	return value{kind: kindRecord, fields: fields}, nil
}

// flatten lists a record's named members, merging anonymous struct and union
// members into the parent and dropping unnamed padding bitfields.
func flatten(ms []btf.Member, base uint64, depth int, out []member) ([]member, error) {
	if depth > maxDepth {
		return nil, errors.New("types nested too deeply")
	}
	for _, m := range ms {
		off := base + uint64(m.Offset)
		if m.Name != "" {
			out = append(out, member{m.Name, m.Type, off, uint64(m.BitfieldSize)})
			continue
		}
		if m.BitfieldSize != 0 {
			continue
		}
		var err error
		switch inner := btf.UnderlyingType(m.Type).(type) {
		case *btf.Struct:
			out, err = flatten(inner.Members, off, depth+1, out)
		case *btf.Union:
			out, err = flatten(inner.Members, off, depth+1, out)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func decodeMember(m member, data []byte, depth int) (value, error) {
	if m.bits == 0 {
		if m.off%8 != 0 {
			return value{}, fmt.Errorf("member at bit offset %d is not byte aligned", m.off)
		}
		start := m.off / 8
		if start > uint64(len(data)) {
			return value{}, shortData(int(min(start, math.MaxInt32)), len(data))
		}
		return decode(m.typ, data[start:], depth+1)
	}
	return decodeBitfield(m, data)
}

func decodeBitfield(m member, data []byte) (value, error) {
	if m.bits > 64 {
		return value{}, fmt.Errorf("bitfield of %d bits", m.bits)
	}
	u, err := readBits(data, m.off, m.bits)
	if err != nil {
		return value{}, err
	}
	bits := int(m.bits)
	switch t := btf.UnderlyingType(m.typ).(type) {
	case *btf.Int:
		if t.Encoding&btf.Bool != 0 {
			return value{kind: kindBool, u: min(u, 1)}, nil
		}
		return intValue(u, bits, t.Encoding&btf.Signed != 0), nil
	case *btf.Enum:
		return enumValue(t, u, bits), nil
	default:
		return value{}, fmt.Errorf("bitfield of type %s", typeString(t))
	}
}

// readBits extracts n bits starting at bit off, numbered in memory order.
func readBits(data []byte, off, n uint64) (uint64, error) {
	end := (off + n + 7) / 8
	if end > uint64(len(data)) {
		return 0, shortData(int(min(end, math.MaxInt32)), len(data))
	}
	var u uint64
	for j := range n {
		b := off + j
		if littleEndian {
			bit := uint64(data[b/8]>>(b%8)) & 1
			u |= bit << j
		} else {
			bit := uint64(data[b/8]>>(7-b%8)) & 1
			u = u<<1 | bit
		}
	}
	return u, nil
}
