package maps

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/wagglebpf/waggle/btfprint"
	"github.com/wagglebpf/waggle/session"
)

// Parse reads a key or value of size bytes from command-line words. t is
// the map's BTF type for it, or nil when the map has none. The forms:
//
//	hex 01 00 00 00      bytes in hex, as bpftool takes them; a word may
//	hex 01000000         also hold several bytes (an even number of digits)
//	1 0 0 0              one number per byte, written as C writes numbers
//	                     (31, 0x1f, 037), as bpftool takes them
//	5   -1   0x10        one value of t: integers, enumerators by name or
//	TASK_RUNNING  true   number, booleans, floats, pointers as numbers,
//	waggle               strings for char arrays (\xNN for any byte)
//	42 waggle            a struct's members in order (the way map dump
//	                     prints struct keys), or an array's elements
//	'{"pid": 42, "comm": "waggle"}'
//	'[1, 2, 3]'          JSON: objects for structs, unions and data
//	                     sections, arrays for arrays (and for a struct's
//	                     members in order); members left out are zero
//
// With a type, the typed forms are tried first and bytes are the fallback
// when there are exactly size words. A string that is itself "hex" is
// given quoted, as JSON ('"hex"'). Errors say what the type expects.
func Parse(words []string, t btf.Type, size int) ([]byte, error) {
	if size < 0 || size > maxParseSize {
		return nil, fmt.Errorf("a size of %d bytes is beyond what waggle writes", size)
	}
	if len(words) == 0 {
		return nil, errors.New("nothing given")
	}
	if words[0] == "hex" {
		return parseHex(words[1:], size)
	}
	t = fitting(t, uint32(size))
	if t == nil {
		return parseBytes(words, size)
	}
	b, terr := parseTyped(words, t, size)
	if terr == nil {
		return b, nil
	}
	if len(words) == size && size > 1 {
		if b, err := parseBytes(words, size); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w (or give its %d bytes: hex %s)", terr, size, zeroHex(size))
}

// maxParseSize bounds what Parse allocates: map values may be large, but
// not larger than the kernel's KMALLOC_MAX_SIZE-based limits by much.
const maxParseSize = 1 << 26

// zeroHex is an example of size bytes in hex, cut short for big sizes.
func zeroHex(size int) string {
	if size > 8 {
		return strings.Repeat("00 ", 8) + "..."
	}
	return strings.TrimSpace(strings.Repeat("00 ", size))
}

// parseHex reads bytes written in hex, two digits a byte, one or more
// bytes a word, with an optional 0x before a word.
func parseHex(words []string, size int) ([]byte, error) {
	out := make([]byte, 0, size)
	for _, w := range words {
		digits := strings.TrimPrefix(strings.TrimPrefix(w, "0x"), "0X")
		if len(digits) == 1 {
			digits = "0" + digits
		}
		if digits == "" || len(digits)%2 != 0 {
			return nil, fmt.Errorf("%q is not hex bytes (two hex digits a byte)", shorten(w))
		}
		for i := 0; i < len(digits); i += 2 {
			n, err := strconv.ParseUint(digits[i:i+2], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("%q is not hex bytes (two hex digits a byte)", shorten(w))
			}
			if len(out) == size {
				return nil, fmt.Errorf("more than %d bytes given", size)
			}
			out = append(out, byte(n))
		}
	}
	if len(out) != size {
		return nil, fmt.Errorf("%d bytes given, %d needed", len(out), size)
	}
	return out, nil
}

// parseBytes reads one number per byte.
func parseBytes(words []string, size int) ([]byte, error) {
	if len(words) != size {
		return nil, fmt.Errorf("%d bytes given, %d needed (one number per byte, or hex 00 ...)", len(words), size)
	}
	out := make([]byte, size)
	for i, w := range words {
		n, err := strconv.ParseUint(w, 0, 8)
		if err != nil {
			return nil, fmt.Errorf("%q is not a byte (a number from 0 to 255)", shorten(w))
		}
		out[i] = byte(n)
	}
	return out, nil
}

// word is a bare command-line word, as opposed to a JSON string: bare
// words may carry \xNN escapes in strings.
type word string

// maxDepth bounds recursion through nested types and JSON values.
const maxDepth = 64

func parseTyped(words []string, t btf.Type, size int) ([]byte, error) {
	buf := make([]byte, size)
	e := encoder{buf: buf}
	if len(words) == 1 {
		v, err := wordValue(words[0])
		if err != nil {
			return nil, err
		}
		if err := e.encode(t, v, 0, 0); err != nil {
			return nil, err
		}
		return buf, nil
	}
	// Several words: a struct's members or an array's elements in order.
	vs := make([]any, len(words))
	for i, w := range words {
		v, err := wordValue(w)
		if err != nil {
			return nil, err
		}
		vs[i] = v
	}
	switch u := underlying(t).(type) {
	case *btf.Struct, *btf.Datasec:
		if err := e.encode(t, vs, 0, 0); err != nil {
			return nil, err
		}
		return buf, nil
	case *btf.Array:
		if !isCharArray(u) {
			if err := e.encode(t, vs, 0, 0); err != nil {
				return nil, err
			}
			return buf, nil
		}
	}
	return nil, fmt.Errorf("%d words given, but a %s is one value", len(words), session.TypeName(t))
}

// wordValue reads a word as JSON when it looks like JSON (an object, an
// array or a quoted string) and as a bare word otherwise.
func wordValue(w string) (any, error) {
	if w == "" || (w[0] != '{' && w[0] != '[' && w[0] != '"') {
		return word(w), nil
	}
	dec := json.NewDecoder(strings.NewReader(w))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if w[0] == '"' {
			return word(w), nil // a bare word that starts with a quote
		}
		return nil, fmt.Errorf("%q is not valid JSON: %w", shorten(w), err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%q has more after its JSON value", shorten(w))
	}
	return v, nil
}

func underlying(t btf.Type) btf.Type {
	for range maxDepth {
		switch v := btf.UnderlyingType(t).(type) {
		case *btf.Var:
			t = v.Type
		default:
			return v
		}
	}
	return nil
}

func isCharArray(a *btf.Array) bool {
	i, ok := btf.UnderlyingType(a.Type).(*btf.Int)
	return ok && i.Size == 1 && i.Encoding&btf.Bool == 0
}

// encoder writes values into buf at byte offsets.
type encoder struct {
	buf []byte
}

var order = binary.NativeEndian

// littleEndian decides how bitfield offsets map onto bytes, as in btfprint.
var littleEndian = order.Uint16([]byte{1, 0}) == 1

func (e *encoder) span(off, n int) ([]byte, error) {
	if off < 0 || n < 0 || off > len(e.buf) || n > len(e.buf)-off {
		return nil, fmt.Errorf("the type reaches past the %d bytes of the value", len(e.buf))
	}
	return e.buf[off : off+n], nil
}

// encode writes v, a JSON value (json.Number, string, bool, nil, []any,
// map[string]any) or a bare word, as type t at byte offset off.
func (e *encoder) encode(t btf.Type, v any, off, depth int) error {
	if depth > maxDepth {
		return errors.New("types nested too deeply")
	}
	if v == nil {
		return nil // null: leave zero
	}
	name := session.TypeName(t)
	switch u := underlying(t).(type) {
	case *btf.Int:
		if u.Encoding&btf.Bool != 0 {
			b, err := boolValue(v)
			if err != nil {
				return err
			}
			dst, err := e.span(off, int(u.Size))
			if err != nil {
				return err
			}
			if b {
				return putUint(dst, 1)
			}
			return nil
		}
		dst, err := e.span(off, int(u.Size))
		if err != nil {
			return err
		}
		return putIntText(dst, v, u.Encoding&btf.Signed != 0, u.Size == 1, name)
	case *btf.Enum:
		dst, err := e.span(off, int(u.Size))
		if err != nil {
			return err
		}
		if s, ok := stringOf(v); ok {
			for _, ev := range u.Values {
				if ev.Name == s {
					return putUint(dst, ev.Value)
				}
			}
		}
		if err := putIntText(dst, v, u.Signed, false, name); err != nil {
			names := make([]string, 0, len(u.Values))
			for _, ev := range u.Values {
				names = append(names, ev.Name)
			}
			if len(names) > 8 {
				names = append(names[:8], "...")
			}
			return fmt.Errorf("%q is neither a number nor an enumerator of %s (%s)", shorten(textOf(v)), name, strings.Join(names, ", "))
		}
		return nil
	case *btf.Float:
		dst, err := e.span(off, int(u.Size))
		if err != nil {
			return err
		}
		s, ok := numberText(v)
		if !ok {
			return fmt.Errorf("%s is not a number, as %s needs", describe1(v), name)
		}
		switch u.Size {
		case 4:
			f, err := strconv.ParseFloat(s, 32)
			if err != nil {
				return fmt.Errorf("%q is not a %s", shorten(s), name)
			}
			order.PutUint32(dst, math.Float32bits(float32(f)))
		case 8:
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("%q is not a %s", shorten(s), name)
			}
			order.PutUint64(dst, math.Float64bits(f))
		default:
			return fmt.Errorf("waggle cannot write %d-byte floats", u.Size)
		}
		return nil
	case *btf.Pointer:
		dst, err := e.span(off, 8)
		if err != nil {
			return err
		}
		return putIntText(dst, v, false, false, "pointer")
	case *btf.Array:
		return e.encodeArray(u, v, off, depth, name)
	case *btf.Struct:
		return e.encodeMembers(u.Members, false, v, off, depth, name)
	case *btf.Union:
		return e.encodeMembers(u.Members, true, v, off, depth, name)
	case *btf.Datasec:
		return e.encodeDatasec(u, v, off, depth)
	case nil:
		return errors.New("the type is missing")
	default:
		return fmt.Errorf("waggle cannot write values of type %s", name)
	}
}

func (e *encoder) encodeArray(a *btf.Array, v any, off, depth int, name string) error {
	if isCharArray(a) {
		s, ok := v.(string)
		if w, isWord := v.(word); isWord {
			var err error
			if s, err = unescape(string(w)); err != nil {
				return err
			}
			ok = true
		}
		if !ok {
			return fmt.Errorf("%s is not a string, as %s needs", describe1(v), name)
		}
		if uint64(len(s)) > uint64(a.Nelems) {
			return fmt.Errorf("%q is %d bytes, but %s holds %d", shorten(s), len(s), name, a.Nelems)
		}
		dst, err := e.span(off, int(a.Nelems))
		if err != nil {
			return err
		}
		copy(dst, s)
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		return fmt.Errorf("%s is not a list, as %s needs (JSON: [1, 2, 3])", describe1(v), name)
	}
	if uint64(len(list)) > uint64(a.Nelems) {
		return fmt.Errorf("%d elements given, but %s holds %d", len(list), name, a.Nelems)
	}
	esize, err := btf.Sizeof(a.Type)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for i, ev := range list {
		if err := e.encode(a.Type, ev, off+i*esize, depth+1); err != nil {
			return fmt.Errorf("[%d]: %w", i, err)
		}
	}
	return nil
}

func memberNames(ms []btfprint.Member) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name
	}
	if len(names) > 12 {
		names = append(names[:12], "...")
	}
	return strings.Join(names, ", ")
}

func (e *encoder) encodeMembers(ms []btf.Member, union bool, v any, off, depth int, name string) error {
	flat, err := btfprint.FlatMembers(ms, depth)
	if err != nil {
		return err
	}
	set := func(m btfprint.Member, mv any) error {
		if err := e.encodeMember(m, mv, off, depth); err != nil {
			return fmt.Errorf(".%s: %w", m.Name, err)
		}
		return nil
	}
	switch v := v.(type) {
	case map[string]any:
		// A union takes any of its members; several are written in
		// declaration order, so that what btfprint prints (every member)
		// reads back as the bytes it came from.
		byName := make(map[string]btfprint.Member, len(flat))
		for _, m := range flat {
			byName[m.Name] = m
		}
		// Members in declaration order, so errors come in a stable order.
		for _, m := range flat {
			if mv, ok := v[m.Name]; ok {
				if err := set(m, mv); err != nil {
					return err
				}
			}
		}
		for k := range v {
			if _, ok := byName[k]; !ok {
				return fmt.Errorf("%s has no member %q (it has %s)", name, shorten(k), memberNames(flat))
			}
		}
		return nil
	case []any:
		if union {
			return fmt.Errorf("%s is a union: give one of its members by name, as JSON: {\"%s\": ...}", name, firstName(flat))
		}
		if len(v) != len(flat) {
			return fmt.Errorf("%s has %d members (%s), but %d values were given", name, len(flat), memberNames(flat), len(v))
		}
		for i, m := range flat {
			if err := set(m, v[i]); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%s is not an object, as %s needs (JSON: {\"%s\": ...}, or its members as separate words)", describe1(v), name, firstName(flat))
}

func firstName(ms []btfprint.Member) string {
	if len(ms) == 0 {
		return "member"
	}
	return ms[0].Name
}

func (e *encoder) encodeMember(m btfprint.Member, v any, base, depth int) error {
	off, bits := m.BitOffset(), m.BitfieldSize()
	if bits == 0 {
		if off%8 != 0 {
			return fmt.Errorf("member at bit offset %d is not byte aligned", off)
		}
		if off/8 > uint64(len(e.buf)) {
			return fmt.Errorf("the type reaches past the %d bytes of the value", len(e.buf))
		}
		return e.encode(m.Type, v, base+int(off/8), depth+1)
	}
	if v == nil {
		return nil
	}
	if bits > 64 {
		return fmt.Errorf("bitfield of %d bits", bits)
	}
	var (
		u      uint64
		signed bool
	)
	scratch := make([]byte, 8)
	switch t := btf.UnderlyingType(m.Type).(type) {
	case *btf.Int:
		if t.Encoding&btf.Bool != 0 {
			b, err := boolValue(v)
			if err != nil {
				return err
			}
			if b {
				u = 1
			}
			break
		}
		signed = t.Encoding&btf.Signed != 0
		if err := putIntText(scratch, v, signed, false, session.TypeName(m.Type)); err != nil {
			return err
		}
		u = order.Uint64(scratch)
	case *btf.Enum:
		signed = t.Signed
		found := false
		if s, ok := stringOf(v); ok {
			for _, ev := range t.Values {
				if ev.Name == s {
					u, found = ev.Value, true
				}
			}
		}
		if !found {
			if err := putIntText(scratch, v, signed, false, session.TypeName(m.Type)); err != nil {
				return err
			}
			u = order.Uint64(scratch)
		}
	default:
		return fmt.Errorf("bitfield of type %s", session.TypeName(m.Type))
	}
	if bits < 64 {
		lo, hi := uint64(0), uint64(1)<<bits-1
		if signed {
			if s := int64(u); s < -(1<<(bits-1)) || s > 1<<(bits-1)-1 {
				return fmt.Errorf("%d does not fit in a signed bitfield of %d bits", s, bits)
			}
			u &= hi
		} else if u < lo || u > hi {
			return fmt.Errorf("%d does not fit in a bitfield of %d bits", u, bits)
		}
	}
	return e.writeBits(uint64(base)*8+off, bits, u)
}

// writeBits stores the low n bits of u at bit off, numbered in memory
// order (as btfprint reads them).
func (e *encoder) writeBits(off, n, u uint64) error {
	if (off+n+7)/8 > uint64(len(e.buf)) {
		return fmt.Errorf("the type reaches past the %d bytes of the value", len(e.buf))
	}
	for j := range n {
		b := off + j
		var bit uint64
		if littleEndian {
			bit = u >> j & 1
			mask := byte(1) << (b % 8)
			e.buf[b/8] = e.buf[b/8]&^mask | byte(bit)<<(b%8)
		} else {
			bit = u >> (n - 1 - j) & 1
			mask := byte(1) << (7 - b%8)
			e.buf[b/8] = e.buf[b/8]&^mask | byte(bit)<<(7-b%8)
		}
	}
	return nil
}

func (e *encoder) encodeDatasec(d *btf.Datasec, v any, off, depth int) error {
	obj, ok := v.(map[string]any)
	vars := make([]*btf.Var, 0, len(d.Vars))
	offs := make([]int, 0, len(d.Vars))
	for _, vs := range d.Vars {
		if vv, isVar := vs.Type.(*btf.Var); isVar {
			vars = append(vars, vv)
			offs = append(offs, int(vs.Offset))
		}
	}
	names := make([]string, len(vars))
	for i, vv := range vars {
		names[i] = vv.Name
	}
	if list, isList := v.([]any); isList {
		if len(list) != len(vars) {
			return fmt.Errorf("section %s has %d variables (%s), but %d values were given", d.Name, len(vars), strings.Join(names, ", "), len(list))
		}
		obj, ok = map[string]any{}, true
		for i, vv := range vars {
			obj[vv.Name] = list[i]
		}
	}
	if !ok {
		return fmt.Errorf("%s is not an object, as section %s needs (JSON: {\"variable\": ...})", describe1(v), d.Name)
	}
	for k := range obj {
		found := false
		for _, vv := range vars {
			found = found || vv.Name == k
		}
		if !found {
			return fmt.Errorf("section %s has no variable %q (it has %s)", d.Name, shorten(k), strings.Join(names, ", "))
		}
	}
	for i, vv := range vars {
		if mv, ok := obj[vv.Name]; ok {
			if err := e.encode(vv.Type, mv, off+offs[i], depth+1); err != nil {
				return fmt.Errorf("%s: %w", vv.Name, err)
			}
		}
	}
	return nil
}

// describe1 names a value in an error.
func describe1(v any) string {
	switch v := v.(type) {
	case word:
		return strconv.Quote(shorten(string(v)))
	case string:
		return strconv.Quote(shorten(v))
	case json.Number:
		return string(v)
	case bool:
		return strconv.FormatBool(v)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return "null"
}

// stringOf returns the text of a word or JSON string.
func stringOf(v any) (string, bool) {
	switch v := v.(type) {
	case word:
		return string(v), true
	case string:
		return v, true
	}
	return "", false
}

// textOf is a value's text for errors.
func textOf(v any) string {
	switch v := v.(type) {
	case word:
		return string(v)
	case string:
		return v
	case json.Number:
		return string(v)
	}
	return describe1(v)
}

// numberText returns the text of a number given as a word, a JSON number
// or a JSON string.
func numberText(v any) (string, bool) {
	switch v := v.(type) {
	case word:
		return string(v), true
	case string:
		return v, true
	case json.Number:
		return string(v), true
	}
	return "", false
}

func boolValue(v any) (bool, error) {
	switch v := v.(type) {
	case bool:
		return v, nil
	case word, string, json.Number:
		s, _ := numberText(v)
		switch s {
		case "true", "1":
			return true, nil
		case "false", "0":
			return false, nil
		}
	}
	return false, fmt.Errorf("%s is not true or false", describe1(v))
}

// putUint writes u into dst, an integer of 1, 2, 4, 8 or 16 bytes.
func putUint(dst []byte, u uint64) error {
	switch len(dst) {
	case 1:
		dst[0] = byte(u)
	case 2:
		order.PutUint16(dst, uint16(u))
	case 4:
		order.PutUint32(dst, uint32(u))
	case 8:
		order.PutUint64(dst, u)
	case 16:
		clear(dst)
		if littleEndian {
			order.PutUint64(dst, u)
		} else {
			order.PutUint64(dst[8:], u)
		}
	default:
		return fmt.Errorf("waggle cannot write %d-byte integers", len(dst))
	}
	return nil
}

// putIntText parses an integer for an integer type of len(dst) bytes:
// decimal, 0x hex, 0o or leading-0 octal, 0b binary, a sign for signed
// types, and for one-byte types a character in single quotes ('a').
// Signed types also take hex, octal and binary bit patterns up to their
// width (0xffffffff for an s32 is -1).
func putIntText(dst []byte, v any, signed, char bool, name string) error {
	s, ok := numberText(v)
	if !ok {
		return fmt.Errorf("%s is not an integer, as %s needs", describe1(v), name)
	}
	if char && len(s) == 3 && s[0] == '\'' && s[2] == '\'' {
		dst[0] = s[1]
		return nil
	}
	bits := len(dst) * 8
	if bits == 128 {
		return put128(dst, s, signed, name)
	}
	if bits != 8 && bits != 16 && bits != 32 && bits != 64 {
		return fmt.Errorf("waggle cannot write %d-byte integers", len(dst))
	}
	if signed {
		n, err := strconv.ParseInt(s, 0, bits)
		if err == nil {
			return putUint(dst, uint64(n))
		}
		if !isDecimal(s) {
			if u, uerr := strconv.ParseUint(s, 0, bits); uerr == nil {
				return putUint(dst, u)
			}
		}
		if errors.Is(err, strconv.ErrRange) {
			return fmt.Errorf("%s is out of range for %s [%d, %d]", shorten(s), name, int64(-1)<<(bits-1), int64(uint64(1)<<(bits-1)-1))
		}
		return fmt.Errorf("%q is not an integer, as %s needs", shorten(s), name)
	}
	u, err := strconv.ParseUint(s, 0, bits)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) || strings.HasPrefix(s, "-") {
			if _, perr := strconv.ParseInt(s, 0, 64); perr == nil || errors.Is(perr, strconv.ErrRange) || errors.Is(err, strconv.ErrRange) {
				return fmt.Errorf("%s is out of range for %s [0, %d]", shorten(s), name, uint64(math.MaxUint64)>>(64-bits))
			}
		}
		return fmt.Errorf("%q is not an integer, as %s needs", shorten(s), name)
	}
	return putUint(dst, u)
}

// isDecimal reports whether an integer's text is in base 10, where a
// number past a signed type's range is an error rather than a bit pattern.
func isDecimal(s string) bool {
	s = strings.TrimLeft(s, "+-")
	return len(s) < 2 || s[0] != '0'
}

var (
	two127 = new(big.Int).Lsh(big.NewInt(1), 127)
	two128 = new(big.Int).Lsh(big.NewInt(1), 128)
)

// put128 writes a 128-bit integer (__int128, unsigned __int128).
func put128(dst []byte, s string, signed bool, name string) error {
	n, ok := new(big.Int).SetString(s, 0)
	if !ok {
		return fmt.Errorf("%q is not an integer, as %s needs", shorten(s), name)
	}
	if signed && !isDecimal(s) && n.Sign() >= 0 && n.Cmp(two128) < 0 && n.Cmp(two127) >= 0 {
		n.Sub(n, two128) // a bit pattern
	}
	lo, hi := new(big.Int), new(big.Int).Sub(two128, big.NewInt(1))
	if signed {
		lo.Neg(two127)
		hi.Sub(two127, big.NewInt(1))
	}
	if n.Cmp(lo) < 0 || n.Cmp(hi) > 0 {
		return fmt.Errorf("%s is out of range for %s [%s, %s]", shorten(s), name, lo, hi)
	}
	if n.Sign() < 0 {
		n.Add(n, two128)
	}
	low := new(big.Int).And(n, new(big.Int).SetUint64(math.MaxUint64)).Uint64()
	high := new(big.Int).Rsh(n, 64).Uint64()
	if littleEndian {
		order.PutUint64(dst, low)
		order.PutUint64(dst[8:], high)
	} else {
		order.PutUint64(dst, high)
		order.PutUint64(dst[8:], low)
	}
	return nil
}

// unescape decodes \xNN (any byte) and \\ in a bare word, the escapes
// btfprint writes for bytes outside printable ASCII.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '\\':
			b.WriteByte('\\')
			i++
		case 'x':
			if i+4 <= len(s) {
				if n, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
					b.WriteByte(byte(n))
					i += 3
					continue
				}
			}
			return "", fmt.Errorf("%q has a \\x that is not followed by two hex digits", shorten(s))
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
