package session

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/attach"
)

// Variable is a global of the object (.rodata, .data, .bss) that can be set
// before load.
type Variable struct {
	Name    string
	Section string
	Type    btf.Type
	// Const is true for .rodata (const volatile) variables: the verifier
	// sees their value and prunes code with it.
	Const bool
	Spec  *ebpf.VariableSpec
}

// Variables lists the settable variables of spec by name: the globals of
// .rodata, .data and .bss whose type EncodeValue can write (integers,
// booleans, enums, char arrays). Variables without BTF, the ones libbpf
// reserves (.kconfig, .ksyms), and pointers, structs and other arrays are
// left out.
func Variables(spec *ebpf.CollectionSpec) []Variable {
	var out []Variable
	for name, vs := range spec.Variables {
		if vs.Type == nil || !settableSection(vs.SectionName) || !Settable(vs.Type.Type) {
			continue
		}
		out = append(out, Variable{
			Name:    name,
			Section: vs.SectionName,
			Type:    vs.Type.Type,
			Const:   strings.HasPrefix(vs.SectionName, ".rodata"),
			Spec:    vs,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Settable reports whether EncodeValue can write a value of type t from
// text: an integer or boolean of 1, 2, 4 or 8 bytes, such an enum, or a
// char array.
func Settable(t btf.Type) bool {
	switch t := btf.UnderlyingType(t).(type) {
	case *btf.Int:
		return intSize(t.Size)
	case *btf.Enum:
		return intSize(t.Size)
	case *btf.Array:
		elem, ok := btf.UnderlyingType(t.Type).(*btf.Int)
		return ok && elem.Size == 1 && t.Nelems > 0
	}
	return false
}

func settableSection(s string) bool {
	for _, p := range []string{".rodata", ".data", ".bss"} {
		if s == p || strings.HasPrefix(s, p+".") {
			return true
		}
	}
	return false
}

// SetVariables applies NAME=VALUE assignments to spec's variables, checking
// each value against the variable's BTF type.
func SetVariables(spec *ebpf.CollectionSpec, assignments []string) error {
	vars := map[string]Variable{}
	for _, v := range Variables(spec) {
		vars[v.Name] = v
	}
	// Each message quotes the user's text once, and at most
	// attach.MaxEcho bytes of it.
	for _, a := range assignments {
		name, value, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return fmt.Errorf("--set %q: expected NAME=VALUE", attach.Shorten(a))
		}
		v, ok := vars[name]
		if vs := spec.Variables[name]; !ok && vs != nil && vs.Type != nil && settableSection(vs.SectionName) {
			return fmt.Errorf("--set %s: it is %s, and waggle sets only integers, booleans, enums and char arrays", name, TypeName(vs.Type.Type))
		}
		if !ok {
			names := make([]string, 0, len(vars))
			for n := range vars {
				names = append(names, n)
			}
			sort.Strings(names)
			have := "it has none"
			if len(names) > 0 {
				have = "settable variables: " + strings.Join(names, ", ")
			}
			return fmt.Errorf("--set: no variable %q in the object; %s", attach.Shorten(name), have)
		}
		// Checked first so that a malformed object's BTF (a char[4294967295]
		// over 8 bytes) cannot make EncodeValue allocate its claimed size.
		if size, err := btf.Sizeof(v.Type); err != nil || size != len(v.Spec.Value) {
			return fmt.Errorf("--set %s: the object is malformed: the variable takes %d bytes, but its BTF type %s does not", name, len(v.Spec.Value), TypeName(v.Type))
		}
		raw, err := EncodeValue(v.Type, value, spec.ByteOrder)
		if err != nil {
			return fmt.Errorf("--set %s (%s): %w", name, TypeName(v.Type), err)
		}
		if err := v.Spec.Set(raw); err != nil {
			return fmt.Errorf("--set %s: %w", name, err)
		}
	}
	return nil
}

// EncodeValue turns a user's text into the bytes of a value of type t:
// integers (decimal, 0x hex, 0o/0 octal, 0b binary), booleans, characters,
// strings into char arrays (NUL-padded, must leave room for the NUL), and
// enums by enumerator name or number.
func EncodeValue(t btf.Type, text string, order binary.ByteOrder) ([]byte, error) {
	if order == nil {
		order = binary.NativeEndian
	}
	t = btf.UnderlyingType(t)
	switch t := t.(type) {
	case *btf.Int:
		if t.Encoding == btf.Bool {
			if !intSize(t.Size) {
				return nil, fmt.Errorf("integers of %d bytes are %w", t.Size, errIntSize)
			}
			b, err := strconv.ParseBool(text)
			if err != nil {
				return nil, fmt.Errorf("%q is not true or false", attach.Shorten(text))
			}
			out := make([]byte, t.Size)
			if b {
				putInt(out, 1, order)
			}
			return out, nil
		}
		// clang encodes plain char as a signed int named "char", not with
		// the Char flag, so the name is what marks it.
		if t.Size == 1 && (t.Encoding&btf.Char != 0 || t.Name == "char") && len(text) == 1 {
			return []byte{text[0]}, nil
		}
		return encodeInt(text, t.Size, t.Encoding&btf.Signed != 0, order)
	case *btf.Enum:
		for _, v := range t.Values {
			if v.Name == text {
				if !intSize(t.Size) {
					return nil, fmt.Errorf("integers of %d bytes are %w", t.Size, errIntSize)
				}
				out := make([]byte, t.Size)
				putInt(out, v.Value, order)
				return out, nil
			}
		}
		out, err := encodeInt(text, t.Size, t.Signed, order)
		if errors.Is(err, errRange) || errors.Is(err, errIntSize) {
			return nil, err
		}
		if err != nil {
			names := make([]string, len(t.Values))
			for i, v := range t.Values {
				names[i] = v.Name
			}
			return nil, fmt.Errorf("%q is neither a number nor one of %s", attach.Shorten(text), strings.Join(names, ", "))
		}
		return out, nil
	case *btf.Array:
		elem, ok := btf.UnderlyingType(t.Type).(*btf.Int)
		if !ok || elem.Size != 1 {
			return nil, fmt.Errorf("only char arrays can be set (from a string)")
		}
		if uint32(len(text)) >= t.Nelems {
			return nil, fmt.Errorf("%q is %d bytes; the array holds %d including the terminating NUL", attach.Shorten(text), len(text), t.Nelems)
		}
		out := make([]byte, t.Nelems)
		copy(out, text)
		return out, nil
	}
	return nil, fmt.Errorf("waggle cannot set values of this type")
}

// errRange and errIntSize let enum parsing tell a number it cannot hold
// from text that is no number at all.
var (
	errRange   = errors.New("out of range")
	errIntSize = errors.New("not supported")
)

// intSize reports whether putInt can write an integer of size bytes.
func intSize(size uint32) bool {
	return size == 1 || size == 2 || size == 4 || size == 8
}

func encodeInt(text string, size uint32, signed bool, order binary.ByteOrder) ([]byte, error) {
	if !intSize(size) {
		return nil, fmt.Errorf("integers of %d bytes are %w", size, errIntSize)
	}
	bits := int(size) * 8
	var u uint64
	if signed {
		v, err := strconv.ParseInt(text, 0, bits)
		if err != nil {
			return nil, intError(text, bits, true, isRange(err))
		}
		u = uint64(v)
	} else {
		v, err := strconv.ParseUint(text, 0, bits)
		if err != nil {
			// ParseUint calls "-1" a syntax error, but it is a number,
			// just not one this type holds.
			n, serr := strconv.ParseInt(text, 0, 64)
			negative := (serr == nil && n < 0) || (isRange(serr) && strings.HasPrefix(text, "-"))
			return nil, intError(text, bits, false, isRange(err) || negative)
		}
		u = v
	}
	out := make([]byte, size)
	putInt(out, u, order)
	return out, nil
}

func isRange(err error) bool {
	return errors.Is(err, strconv.ErrRange)
}

func intError(text string, bits int, signed, outOfRange bool) error {
	text = attach.Shorten(text)
	if outOfRange {
		if signed {
			return fmt.Errorf("%s is %w [%d, %d]", text, errRange, int64(-1)<<(bits-1), int64(uint64(1)<<(bits-1)-1))
		}
		return fmt.Errorf("%s is %w [0, %d]", text, errRange, uint64(math.MaxUint64)>>(64-bits))
	}
	return fmt.Errorf("%q is not an integer", text)
}

func putInt(b []byte, v uint64, order binary.ByteOrder) {
	switch len(b) {
	case 1:
		b[0] = byte(v)
	case 2:
		order.PutUint16(b, uint16(v))
	case 4:
		order.PutUint32(b, uint32(v))
	case 8:
		order.PutUint64(b, v)
	}
}

// TypeName describes a BTF type briefly, as C would name it where it can:
// "u32", "bool", "char[8]", "enum kind", "struct event".
func TypeName(t btf.Type) string {
	return typeName(t, 0)
}

// maxTypeNameDepth bounds typeName on the cyclic types a malformed object's
// BTF can hold (a pointer or qualifier that refers to itself).
const maxTypeNameDepth = 32

func typeName(t btf.Type, depth int) string {
	if depth > maxTypeNameDepth {
		return "..."
	}
	depth++
	switch t := t.(type) {
	case *btf.Typedef:
		return t.Name
	case *btf.Const:
		return typeName(t.Type, depth)
	case *btf.Volatile:
		return typeName(t.Type, depth)
	case *btf.Int:
		if t.Encoding == btf.Bool {
			return "bool"
		}
		if t.Name != "" {
			return t.Name
		}
		if t.Encoding&btf.Signed != 0 {
			return fmt.Sprintf("s%d", t.Size*8)
		}
		return fmt.Sprintf("u%d", t.Size*8)
	case *btf.Array:
		return fmt.Sprintf("%s[%d]", typeName(t.Type, depth), t.Nelems)
	case *btf.Enum:
		return "enum " + t.Name
	case *btf.Struct:
		return "struct " + t.Name
	case *btf.Union:
		return "union " + t.Name
	case *btf.Pointer:
		return typeName(t.Target, depth) + " *"
	case nil:
		return "-"
	}
	return t.TypeName()
}
