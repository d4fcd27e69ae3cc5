package btfprint

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/cilium/ebpf/btf"
)

// JSON renders one value of type t as JSON, for machine consumers of
// `waggle run -f json`:
//
//   - integers as numbers, exact to the last digit even beyond 2^53 (JSON
//     numbers have no range limit; decoders that need exactness can have it);
//   - bool as true/false, floats as numbers (NaN and infinities as null);
//   - arrays of one-byte integers as strings up to the first NUL;
//   - enums as the enumerator's name in a string, a value without a name as
//     a number;
//   - structs and unions as objects with members in declaration order,
//     members of anonymous nested structs and unions merged into the parent;
//   - other arrays as lists, pointers as numbers.
//
// Spacing follows bpftrace's -f json: ", " between object members, "," in
// lists. The same data rules as [Text] apply.
func JSON(t btf.Type, data []byte) ([]byte, error) {
	v, err := decodeTop(t, data)
	if err != nil {
		return nil, err
	}
	return v.appendJSON(nil), nil
}

func (v value) appendJSON(b []byte) []byte {
	switch v.kind {
	case kindUint, kindInt, kindBig, kindBool:
		return v.appendText(b)
	case kindPointer:
		return strconv.AppendUint(b, v.u, 10)
	case kindFloat:
		if math.IsInf(v.f, 0) || math.IsNaN(v.f) {
			return append(b, "null"...)
		}
		return appendFloat(b, v.f, v.fbits)
	case kindString, kindEnum:
		return appendJSONString(b, v.s)
	case kindArray:
		b = append(b, '[')
		for i, e := range v.elems {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendJSON(b)
		}
		return append(b, ']')
	case kindRecord:
		b = append(b, '{')
		for i, f := range v.fields {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendJSONString(b, f.name)
			b = append(b, ": "...)
			b = f.v.appendJSON(b)
		}
		return append(b, '}')
	}
	return append(b, "null"...)
}

// appendJSONString quotes s. Bytes that are not UTF-8 become the code point
// of the same number, so that a task name with stray bytes still yields
// valid JSON and no byte is silently dropped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		i++
	}
	return append(b, '"')
}
