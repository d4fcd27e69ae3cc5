package btfprint

import (
	"math"
	"strconv"

	"github.com/cilium/ebpf/btf"
)

// Text renders one value of type t the way bpftrace prints values, so that
// output of `waggle run` reads like bpftrace's:
//
//   - integers in decimal, signed when the BTF encoding says so, bool as
//     true/false;
//   - arrays of one-byte integers (char, unsigned char, __u8) as the string
//     up to the first NUL, with bytes outside printable ASCII written \xNN;
//   - other arrays as [1,2,3] (bpftrace puts no spaces in arrays);
//   - structs and unions as { .a = 1, .b = abc }, members of anonymous
//     nested structs and unions shown as the parent's, an empty one as {};
//   - enums by enumerator name, a value without a name in decimal;
//   - pointers as 0x-prefixed hex, floats in the shortest %g form;
//   - bitfields by their own bits.
//
// Typedefs and qualifiers are looked through. data must hold at least the
// type's size; bytes past it are ignored. Short data and types without a
// printable form (functions, void) are errors.
func Text(t btf.Type, data []byte) (string, error) {
	v, err := decodeTop(t, data)
	if err != nil {
		return "", err
	}
	return string(v.appendText(nil)), nil
}

func (v value) appendText(b []byte) []byte {
	switch v.kind {
	case kindUint:
		return strconv.AppendUint(b, v.u, 10)
	case kindInt:
		return strconv.AppendInt(b, v.i, 10)
	case kindBig:
		return v.big.Append(b, 10)
	case kindBool:
		return strconv.AppendBool(b, v.u != 0)
	case kindFloat:
		return appendFloat(b, v.f, v.fbits)
	case kindString:
		return appendEscaped(b, v.s)
	case kindEnum:
		return append(b, v.s...)
	case kindPointer:
		b = append(b, "0x"...)
		return strconv.AppendUint(b, v.u, 16)
	case kindArray:
		b = append(b, '[')
		for i, e := range v.elems {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendText(b)
		}
		return append(b, ']')
	case kindRecord:
		if len(v.fields) == 0 {
			return append(b, "{}"...)
		}
		b = append(b, "{ "...)
		for i, f := range v.fields {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, '.')
			b = append(b, f.name...)
			b = append(b, " = "...)
			b = f.v.appendText(b)
		}
		return append(b, " }"...)
	}
	return b
}

// appendTuple renders a record's members bare and comma-separated: bpftrace
// prints a multi-part map key @m[1, bash] without braces or names, and a
// struct key is how C programs build multi-part keys.
func (v value) appendTuple(b []byte, sep string) []byte {
	if v.kind != kindRecord {
		return v.appendText(b)
	}
	for i, f := range v.fields {
		if i > 0 {
			b = append(b, sep...)
		}
		b = f.v.appendText(b)
	}
	return b
}

func appendFloat(b []byte, f float64, bits int) []byte {
	if bits != 32 {
		bits = 64
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

// appendEscaped keeps a string on one line and free of terminal control
// sequences: task names and paths are chosen by whoever runs the process.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			b = append(b, c)
			continue
		}
		b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
	}
	return b
}
