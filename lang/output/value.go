package output

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
)

// Value is one value of the tracing language as its bytes arrive from the
// kernel, laid out as package layout describes, with its checked type.
type Value struct {
	Type *ast.Type
	Data []byte
}

// TruncTrailer is appended to a string that fills its whole buffer, which
// bpftrace takes as the sign that str() cut it short (its str_trunc_trailer
// default).
const TruncTrailer = ".."

// hostOrder is the byte order of everything the kernel hands us: it runs on
// this machine.
var hostOrder = binary.NativeEndian

type primKind uint8

// The kinds of decoded values, after bpftrace's output primitives: what a
// value is when it is printed, which is not always what its type was (an
// int32 prints as a 64-bit integer, a pointer as a symbol with a number).
const (
	pNone   primKind = iota
	pInt             // i
	pUint            // u
	pBool            // b
	pString          // s
	pSym             // s is the text, u the number behind it (pointers, hist labels)
	pTuple           // elems
	pArray           // elems
	pBuffer          // s holds the raw bytes (a record's), listed as chars in JSON
	pBytes           // s holds a buf() value's bytes, printed hex-escaped
	pStats           // elems: count, average, total
	pRecord          // elems, with the members' names in names
)

// prim is a decoded value ready to print.
type prim struct {
	kind  primKind
	i     int64
	u     uint64
	b     bool
	s     string
	elems []prim
	names []string
	// over marks a pSym label whose number is 2^64, one past uint64, the
	// upper bound of the last log2 bucket.
	over bool
}

func intPrim(v int64) prim   { return prim{kind: pInt, i: v} }
func uintPrim(v uint64) prim { return prim{kind: pUint, u: v} }

var errShort = errors.New("value shorter than its type")

func shortErr(t *ast.Type, need, have int) error {
	return fmt.Errorf("%s needs %d bytes, have %d: %w", t, need, have, errShort)
}

// readInt reads an integer of type t from an 8-byte slot: the low Size
// bytes count, sign- or zero-extended, so that whatever the code generator
// left in the upper bytes, an int32 prints as an int32.
func readInt(t *ast.Type, b []byte) prim {
	return intOf(hostOrder.Uint64(b), t.Size, t.Signed)
}

// intOf is the low size bytes of v as a signed or unsigned integer; sizes
// other than 1, 2 and 4 mean all 8.
func intOf(v uint64, size int, signed bool) prim {
	bits := 64
	switch size {
	case 1, 2, 4:
		bits = size * 8
		v &= 1<<bits - 1
	}
	if signed {
		return intPrim(int64(v<<(64-bits)) >> (64 - bits))
	}
	return uintPrim(v)
}

// decode turns the bytes of a plain (non-aggregation) value into a prim.
// sym resolves kernel and user addresses; nil prints them as hex.
func decode(t *ast.Type, b []byte, sym *Symbolizer) (prim, error) {
	if t == nil {
		return prim{}, errors.New("value without a type")
	}
	return decodeDepth(t, b, sym, 0)
}

// maxDepth bounds nested tuples and arrays; the checker never makes types
// this deep, but a corrupted table must not exhaust the stack.
const maxDepth = 64

func decodeDepth(t *ast.Type, b []byte, sym *Symbolizer, depth int) (prim, error) {
	if depth > maxDepth {
		return prim{}, errors.New("types nested too deeply")
	}
	size := layout.Size(t)
	if t.Kind == ast.KindString {
		// The padding after a string's buffer carries nothing.
		size = t.Size
	}
	if len(b) < size {
		return prim{}, shortErr(t, size, len(b))
	}
	switch t.Kind {
	case ast.KindNone:
		return prim{}, nil
	case ast.KindInt, ast.KindCount, ast.KindSum:
		return readInt(t, b), nil
	case ast.KindBool:
		return prim{kind: pBool, b: hostOrder.Uint64(b) != 0}, nil
	case ast.KindString:
		return stringPrim(b[:size]), nil
	case ast.KindPtr:
		n := hostOrder.Uint64(b)
		return prim{kind: pSym, s: "0x" + strconv.FormatUint(n, 16), u: n}, nil
	case ast.KindKsym, ast.KindUsym:
		n := hostOrder.Uint64(b)
		var name string
		if sym != nil && t.Kind == ast.KindKsym && sym.Kernel != nil {
			name = sym.Kernel(n)
		} else if sym != nil && t.Kind == ast.KindUsym && sym.User != nil {
			name = sym.User(uint32(hostOrder.Uint64(b[8:])), n)
		}
		if name == "" {
			// bpftrace prints an address it cannot resolve in hex.
			name = "0x" + strconv.FormatUint(n, 16)
		}
		// A string in JSON too, as bpftrace writes it.
		return prim{kind: pString, s: name, u: n}, nil
	case ast.KindText:
		n := hostOrder.Uint64(b)
		text, ok := tableText(t.Name)
		if !ok {
			return prim{}, fmt.Errorf("no table %q to print a value with", t.Name)
		}
		return prim{kind: pString, s: text(n), u: n}, nil
	case ast.KindCgroupPath:
		id := hostOrder.Uint64(b)
		if sym != nil && sym.CgroupPath != nil {
			return prim{kind: pString, s: sym.CgroupPath(id, t.Name), u: id}, nil
		}
		return uintPrim(id), nil
	case ast.KindStack:
		id, pid := int64(hostOrder.Uint64(b)), uint32(hostOrder.Uint64(b[8:]))
		if sym != nil && sym.Stack != nil {
			return prim{kind: pString, s: sym.Stack(t, id, pid)}, nil
		}
		// Without the stack map there are no frames to print.
		return prim{kind: pString, s: "\n"}, nil
	case ast.KindTimestamp:
		n := hostOrder.Uint64(b)
		return prim{kind: pString, s: timestampText(t.Name, n), u: n}, nil
	case ast.KindTuple:
		offs := layout.Offsets(t)
		p := prim{kind: pTuple, elems: make([]prim, len(t.Elems))}
		for i, e := range t.Elems {
			v, err := decodeDepth(e, b[offs[i]:], sym, depth+1)
			if err != nil {
				return prim{}, err
			}
			p.elems[i] = v
		}
		return p, nil
	case ast.KindArray:
		return decodeArray(t, b[:size], sym, depth)
	case ast.KindInet:
		return prim{kind: pString, s: inetText(b[:size])}, nil
	case ast.KindMac:
		return prim{kind: pString, s: macText(b[:size])}, nil
	case ast.KindBuffer:
		return bufferPrim(t, b[:size]), nil
	case ast.KindRecord:
		return decodeRecord(t, b[:min(t.Size, len(b))], sym, depth)
	}
	return prim{}, fmt.Errorf("cannot print a value of type %s", t)
}

// stringPrim reads a string buffer up to its NUL; a buffer without one was
// cut short by str(), and bpftrace marks that with a trailer.
func stringPrim(b []byte) prim {
	for i, c := range b {
		if c == 0 {
			return prim{kind: pString, s: string(b[:i])}
		}
	}
	return prim{kind: pString, s: string(b) + TruncTrailer}
}

// decodeArray reads a C array: unlike integers of the language, which take
// 8 bytes each, its elements are packed at their own width.
func decodeArray(t *ast.Type, b []byte, sym *Symbolizer, depth int) (prim, error) {
	p := prim{kind: pArray}
	if t.Len <= 0 || t.Elem == nil {
		return p, nil
	}
	esize := len(b) / t.Len
	for i := range t.Len {
		e := b[i*esize : (i+1)*esize]
		if t.Elem.Kind == ast.KindInt && (esize == 1 || esize == 2 || esize == 4 || esize == 8) {
			p.elems = append(p.elems, intOf(readUintN(e, esize), esize, t.Elem.Signed))
			continue
		}
		v, err := decodeDepth(t.Elem, e, sym, depth+1)
		if err != nil {
			return prim{}, err
		}
		p.elems = append(p.elems, v)
	}
	return p, nil
}

// readUintN reads an n-byte integer (1, 2, 4 or 8) in host order.
func readUintN(b []byte, n int) uint64 {
	switch n {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(hostOrder.Uint16(b))
	case 4:
		return uint64(hostOrder.Uint32(b))
	}
	return hostOrder.Uint64(b)
}

// text renders p as bpftrace's text output does.
func (p prim) text() string {
	var s stream
	s.prim(p)
	return string(s.b)
}

// keyText is p as a map key inside @name[...]: a tuple loses its
// parentheses, so that @x[1, bash] reads as two keys. bpftrace strips them
// from any key whose text is parenthesised, a string included.
func (p prim) keyText() string {
	s := p.text()
	if len(s) >= 2 && s[0] == '(' && s[len(s)-1] == ')' {
		s = s[1 : len(s)-1]
	}
	return s
}

// jsonKey is p as a key of a JSON object: its key text without any spaces,
// as bpftrace writes them ("1,bash"), spaces inside strings included.
func (p prim) jsonKey() string {
	return strings.ReplaceAll(p.keyText(), " ", "")
}

// appendJSON renders p as bpftrace's -f json does. Lists are unspaced and
// objects spaced, as there.
func (p prim) appendJSON(b []byte) []byte {
	switch p.kind {
	case pNone:
		return append(b, "null"...)
	case pInt:
		return appendJSONInt(b, p.i)
	case pUint:
		return appendJSONUint(b, p.u)
	case pBool:
		return strconv.AppendBool(b, p.b)
	case pString:
		return appendJSONString(b, p.s)
	case pBytes:
		// A buffer is a string in JSON, escaped as in text.
		return appendJSONString(b, hexBuffer(p.s))
	case pSym:
		// JSON readers get the number behind a symbol, not its text.
		if p.over {
			return append(b, `"18446744073709551616"`...)
		}
		return appendJSONUint(b, p.u)
	case pTuple, pArray:
		b = append(b, '[')
		for i, e := range p.elems {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendJSON(b)
		}
		return append(b, ']')
	case pBuffer:
		// bpftrace lists a buffer's bytes as (signed) chars.
		b = append(b, '[')
		for i := range len(p.s) {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(int8(p.s[i])), 10)
		}
		return append(b, ']')
	case pRecord:
		b = append(b, '{')
		for i, e := range p.elems {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, ' ')
			b = appendJSONString(b, p.names[i])
			b = append(b, ": "...)
			b = e.appendJSON(b)
		}
		return append(b, " }"...)
	case pStats:
		b = append(b, `{"count": `...)
		b = p.elems[0].appendJSON(b)
		b = append(b, `, "average": `...)
		b = p.elems[1].appendJSON(b)
		b = append(b, `, "total": `...)
		b = p.elems[2].appendJSON(b)
		return append(b, '}')
	}
	return append(b, "null"...)
}

// appendJSONInt writes v as a JSON number if a float64 holds it exactly,
// and as a string of digits otherwise: bpftrace does so because most JSON
// readers turn every number into a double and would silently round.
func appendJSONInt(b []byte, v int64) []byte {
	f := float64(v)
	if f >= -math.MaxInt64-1 && f < math.MaxInt64 && int64(f) == v {
		return strconv.AppendInt(b, v, 10)
	}
	b = append(b, '"')
	b = strconv.AppendInt(b, v, 10)
	return append(b, '"')
}

// appendJSONUint is appendJSONInt for unsigned values.
func appendJSONUint(b []byte, v uint64) []byte {
	f := float64(v)
	if f < math.MaxUint64 && uint64(f) == v {
		return strconv.AppendUint(b, v, 10)
	}
	b = append(b, '"')
	b = strconv.AppendUint(b, v, 10)
	return append(b, '"')
}

// appendJSONString quotes s as bpftrace does: ", \, newline, return and tab
// by their short escapes, other control bytes as \u00XX. Bytes from 0x80 up
// pass through unchanged, so UTF-8 text stays readable; bpftrace's own
// escaper mangles them (it tests a signed char), which we do not copy.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := range len(s) {
		c := s[i]
		switch c {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			if c < 0x20 {
				b = append(b, `\u00`...)
				b = append(b, hex[c>>4], hex[c&15])
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}

// hexBuffer is bpftrace's text form of a buffer: printable ASCII as is,
// every other byte as \xNN.
func hexBuffer(s string) string {
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "\\x%02x", c)
		}
	}
	return b.String()
}

// stream formats values the way a C++ output stream with bpftrace's
// manipulators does, which is how bpftrace renders both printf conversions
// and plain values: a field width that applies to the next single write and
// then resets, a fill character, left or right adjustment, showpos,
// showbase, the integer base and uppercase hex. Printing a value with the
// zero stream is bpftrace's plain text form.
type stream struct {
	b        []byte
	width    int
	fill     byte
	left     bool
	showpos  bool
	showbase bool
	upper    bool
	base     int // 8, 10 (also 0) or 16
}

// put writes s as one formatted write: padded to the pending width with the
// fill character (on the right when left-adjusted), after which the width
// is spent, as with setw.
func (s *stream) put(str string) {
	pad := s.width - len(str)
	s.width = 0
	fill := s.fill
	if fill == 0 {
		fill = ' '
	}
	if pad > 0 && !s.left {
		s.b = append(s.b, strings.Repeat(string(fill), pad)...)
	}
	s.b = append(s.b, str...)
	if pad > 0 && s.left {
		s.b = append(s.b, strings.Repeat(string(fill), pad)...)
	}
}

// putSigned writes a signed integer: decimal with its sign (and '+' under
// showpos), or in octal and hex as the unsigned number of the same bits,
// as libstdc++ does.
func (s *stream) putSigned(v int64) {
	if s.base == 8 || s.base == 16 {
		s.putDigits(uint64(v))
		return
	}
	switch {
	case v < 0:
		s.put("-" + strconv.FormatUint(-uint64(v), 10))
	case s.showpos:
		s.put("+" + strconv.FormatInt(v, 10))
	default:
		s.put(strconv.FormatInt(v, 10))
	}
}

// putUnsigned writes an unsigned integer; showpos never applies to one.
func (s *stream) putUnsigned(v uint64) {
	if s.base == 8 || s.base == 16 {
		s.putDigits(v)
		return
	}
	s.put(strconv.FormatUint(v, 10))
}

// putDigits writes v in octal or hex, with the 0 or 0x prefix under
// showbase for nonzero values only (a zero is just "0", as in C's %#x).
func (s *stream) putDigits(v uint64) {
	digits := strconv.FormatUint(v, s.base)
	if s.upper {
		digits = strings.ToUpper(digits)
	}
	if s.showbase && v != 0 {
		switch {
		case s.base == 8:
			digits = "0" + digits
		case s.upper:
			digits = "0X" + digits
		default:
			digits = "0x" + digits
		}
	}
	s.put(digits)
}

// prim writes a value in its text form. Only the first write of a compound
// value sees the width, as with bpftrace's stream: "%10s" pads a tuple's
// opening parenthesis.
func (s *stream) prim(p prim) {
	switch p.kind {
	case pNone:
		s.put("null")
	case pInt:
		s.putSigned(p.i)
	case pUint:
		s.putUnsigned(p.u)
	case pBool:
		if p.b {
			s.put("true")
		} else {
			s.put("false")
		}
	case pString, pSym:
		s.put(p.s)
	case pBuffer, pBytes:
		s.put(hexBuffer(p.s))
	case pTuple:
		s.put("(")
		for i, e := range p.elems {
			if i > 0 {
				s.put(", ")
			}
			s.prim(e)
		}
		s.put(")")
	case pArray:
		s.put("[")
		for i, e := range p.elems {
			if i > 0 {
				s.put(",")
			}
			s.prim(e)
		}
		s.put("]")
	case pRecord:
		s.put("{ ")
		for i, e := range p.elems {
			if i > 0 {
				s.put(", ")
			}
			s.put("." + p.names[i] + " = ")
			s.prim(e)
		}
		s.put(" }")
	case pStats:
		s.put("count ")
		s.prim(p.elems[0])
		s.put(", average ")
		s.prim(p.elems[1])
		s.put(", total ")
		s.prim(p.elems[2])
	}
}
