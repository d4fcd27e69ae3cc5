package output

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/wagglebpf/waggle/lang/ast"
)

// A conversion of a format string, as bpftrace reads one:
//
//	%[-][+][ ][#][0][width|*][.precision|.*][hh|h|l|ll|j|z|t|L...]conversion
//
// The flags are recognised only in that order, as in bpftrace's pattern; a
// '%' followed by anything else is literal text. Conversions are
// d i o u x X e E f F g G a A c s p n %, and bpftrace's r, rx and rh for
// buffers. "%%" is a literal '%'.
type spec struct {
	left, plus, space, alt, zero bool
	width                        int // 0 when absent or '*'
	prec                         int // -1 when absent or '*'
	length                       string
	conv                         string
}

// formatString is a parsed format: text fragments around the conversions,
// one more fragment than conversions.
type formatString struct {
	frags []string
	specs []spec
}

// maxWidth bounds field widths and precisions. bpftrace takes any int and
// would print gigabytes for %999999999d; a script that means that is a
// mistake, and the printer must not be made to allocate it.
const maxWidth = 1 << 16

// parseFormat splits a format into fragments and conversions. It never
// fails: what is not a conversion is text.
func parseFormat(f string) *formatString {
	var (
		fs   formatString
		frag strings.Builder
	)
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			frag.WriteByte(f[i])
			continue
		}
		sp, end, ok := parseSpec(f, i)
		if !ok {
			frag.WriteByte('%')
			continue
		}
		i = end - 1
		if sp.conv == "%" {
			// Whatever flags it carries, %% is one literal '%'.
			frag.WriteByte('%')
			continue
		}
		fs.frags = append(fs.frags, frag.String())
		frag.Reset()
		fs.specs = append(fs.specs, sp)
	}
	fs.frags = append(fs.frags, frag.String())
	return &fs
}

// parseSpec reads the conversion starting at f[i] == '%' and returns where
// it ends. Each part is optional and taken greedily; when no conversion
// character follows, there is no conversion here at all (taking fewer flag
// or width characters could not help, since none of them is a conversion).
func parseSpec(f string, i int) (sp spec, end int, ok bool) {
	j := i + 1
	flag := func(c byte) bool {
		if j < len(f) && f[j] == c {
			j++
			return true
		}
		return false
	}
	sp.left = flag('-')
	sp.plus = flag('+')
	sp.space = flag(' ')
	sp.alt = flag('#')
	sp.zero = flag('0')
	sp.prec = -1
	if j < len(f) && f[j] == '*' {
		j++
	} else {
		sp.width, j = digits(f, j)
	}
	if j+1 < len(f) && f[j] == '.' {
		if f[j+1] == '*' {
			j += 2
		} else if isDigit(f[j+1]) {
			sp.prec, j = digits(f, j+1)
		}
	}
	k := j
	for j < len(f) && strings.IndexByte("hlLjzt", f[j]) >= 0 {
		j++
	}
	sp.length = f[k:j]
	if j >= len(f) {
		return spec{}, 0, false
	}
	switch c := f[j]; {
	case strings.IndexByte("diouxXeEfFgGaAcspn%", c) >= 0:
		sp.conv = f[j : j+1]
		return sp, j + 1, true
	case c == 'r':
		if j+1 < len(f) && (f[j+1] == 'h' || f[j+1] == 'x') {
			sp.conv = f[j : j+2]
			return sp, j + 2, true
		}
		sp.conv = "r"
		return sp, j + 1, true
	}
	return spec{}, 0, false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// digits reads a decimal number at f[j:], 0 if there is none; values past
// maxWidth stick at maxWidth+1 so that the check can refuse them.
func digits(f string, j int) (int, int) {
	if j >= len(f) || !isDigit(f[j]) {
		return 0, j
	}
	n := 0
	for ; j < len(f) && isDigit(f[j]); j++ {
		if n <= maxWidth {
			n = n*10 + int(f[j]-'0')
		}
	}
	return min(n, maxWidth+1), j
}

// argClass is what a conversion accepts.
type argClass int

const (
	anyValue argClass = iota // %s prints anything
	integer                  // integers, booleans and pointers
	buffer                   // buf() values
)

// convClass lists the conversions bpftrace accepts; the floating-point
// ones and %n are recognised but refused, since the language has no floats
// and nothing to store a count in.
var convClass = map[string]argClass{
	"d": integer, "i": integer, "u": integer, "o": integer, "x": integer, "X": integer,
	"c": integer, "p": integer,
	"r": buffer, "rx": buffer, "rh": buffer,
	"s": anyValue,
}

// CheckFormat reports whether format can print arguments of the given
// types, with bpftrace's messages, so that a mismatch is an error at
// compile time instead of garbage at run time: the number of arguments must
// match the number of conversions, %d %i %u %o %x %X %c %p take integers,
// booleans and pointers, %r %rx %rh take buffers, and %s takes anything.
func CheckFormat(format string, args []*ast.Type) error {
	return parseFormat(format).check(args)
}

func (fs *formatString) check(args []*ast.Type) error {
	if len(args) < len(fs.specs) {
		return fmt.Errorf("not enough arguments for format string (%d supplied, %d expected)", len(args), len(fs.specs))
	}
	if len(args) > len(fs.specs) {
		return fmt.Errorf("too many arguments for format string (%d supplied, %d expected)", len(args), len(fs.specs))
	}
	for i, sp := range fs.specs {
		t := args[i]
		if t == nil || t.Kind == ast.KindNone {
			return fmt.Errorf("unable to print none type for specifier: %s", sp.conv)
		}
		class, ok := convClass[sp.conv]
		if !ok {
			return fmt.Errorf("unsupported format specifier: %s", sp.conv)
		}
		if sp.width > maxWidth || sp.prec > maxWidth {
			return fmt.Errorf("field width or precision of %%%s is larger than %d", sp.conv, maxWidth)
		}
		switch class {
		case integer:
			switch t.Kind {
			case ast.KindInt, ast.KindBool, ast.KindPtr:
				continue
			}
		case buffer:
			if t.Kind == ast.KindBuffer {
				continue
			}
		default:
			continue
		}
		return fmt.Errorf("unsupported format specifier for type '%s': %s", t, sp.conv)
	}
	return nil
}

// Sprintf formats args as bpftrace's printf does. Its conversions follow
// current bpftrace, which formats through C++ streams rather than C's
// printf, and differ from C in a few corners:
//
//   - integers take the C length modifiers, with C's meaning on a 64-bit
//     machine: %d and %u convert to 32 bits (%d of 3000000000 is
//     -1294967296, %u of -1 is 4294967295), %hd %hu to 16, %hhd %hhu to 8,
//     and %ld %lld %lu %llu %jd %zd %td to 64;
//   - the field width pads the whole conversion, sign and 0x prefix
//     included, on the left (on the right with '-'), with spaces or with
//     zeros under '0': %05d of -42 is "00-42" and %-05d of 42 "42000",
//     where C would print "-0042" and "42   ";
//   - a precision is ignored (bpftrace applies it to floating point only,
//     which the language lacks), and so is the ' ' flag;
//   - '+' signs signed conversions, '#' prefixes 0 or 0x (0X for %X) to a
//     nonzero %o, %x or %X;
//   - %c writes the low byte of its argument, %p the argument in hex with
//     0x, or 0 for a null pointer (C writes "(nil)");
//   - %s writes any value in its text form: strings up to their NUL (with
//     ".." when they fill their buffer), integers in decimal, booleans as
//     true and false, tuples as (1, abc);
//   - %r writes a buffer with non-printable bytes as \xNN, %rx every byte
//     as \xNN, %rh as space-separated hex pairs;
//   - a value the conversion cannot take prints as !{reason}.
//
// Arguments are laid out as package layout describes. Only a mismatch
// between the number of conversions and arguments, or arguments shorter
// than their types, is an error; CheckFormat rules out both at compile time.
func Sprintf(format string, args []Value) (string, error) {
	return parseFormat(format).format(args, nil)
}

// Printf writes Sprintf's result to w.
func Printf(w io.Writer, format string, args []Value) error {
	s, err := Sprintf(format, args)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, s)
	return err
}

func (fs *formatString) format(args []Value, sym *Symbolizer) (string, error) {
	if len(args) != len(fs.specs) {
		types := make([]*ast.Type, len(args))
		for i, a := range args {
			types[i] = a.Type
		}
		if err := fs.check(types); err != nil {
			return "", err
		}
	}
	var b strings.Builder
	for i, sp := range fs.specs {
		b.WriteString(fs.frags[i])
		p, err := decode(args[i].Type, args[i].Data, sym)
		if err != nil {
			return "", fmt.Errorf("argument %d: %w", i+1, err)
		}
		s, err := sp.apply(p)
		if err != nil {
			// bpftrace writes the problem where the value would be, as Go's
			// fmt does, rather than dropping the line.
			b.WriteString("!{" + err.Error() + "}")
			continue
		}
		b.WriteString(s)
	}
	b.WriteString(fs.frags[len(fs.frags)-1])
	return b.String(), nil
}

// apply formats one argument.
func (sp spec) apply(p prim) (string, error) {
	s := stream{width: min(sp.width, maxWidth), left: sp.left, showpos: sp.plus, showbase: sp.alt}
	if sp.zero {
		s.fill = '0'
	}
	switch sp.conv {
	case "o":
		s.base = 8
	case "x":
		s.base = 16
	case "X":
		s.base, s.upper = 16, true
	}
	switch sp.conv {
	case "d", "i":
		u, err := intBits(p)
		if err != nil {
			return "", err
		}
		s.putSigned(signedCast(u, sp.length))
	case "u", "o", "x", "X":
		u, err := intBits(p)
		if err != nil {
			return "", err
		}
		s.putUnsigned(unsignedCast(u, sp.length))
	case "c":
		u, err := intBits(p)
		if err != nil {
			return "", err
		}
		s.put(string([]byte{byte(u)}))
	case "p":
		u, err := intBits(p)
		if err != nil {
			return "", err
		}
		// A pointer is always hex with 0x, in lowercase, whatever the flags.
		s.base, s.showbase, s.upper = 16, true, false
		s.putUnsigned(u)
	case "r", "rx", "rh":
		if p.kind != pBuffer && p.kind != pBytes {
			s.prim(p)
			break
		}
		s.put(bufferText(p.s, sp.conv))
	case "s":
		s.prim(p)
	default:
		return "", fmt.Errorf("unsupported format specifier: %s", sp.conv)
	}
	return string(s.b), nil
}

// intBits is the 64 bits of an integer-like value, before any length
// modifier narrows them.
func intBits(p prim) (uint64, error) {
	switch p.kind {
	case pInt:
		return uint64(p.i), nil
	case pUint, pSym:
		return p.u, nil
	case pBool:
		if p.b {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("invalid integer conversion: %s", p.text())
}

// signedCast narrows to the conversion's C type and widens back with its
// sign: no modifier is int, h short, hh char.
func signedCast(u uint64, length string) int64 {
	switch length {
	case "hh":
		return int64(int8(u))
	case "h":
		return int64(int16(u))
	case "l", "ll", "j", "z", "t":
		return int64(u)
	}
	return int64(int32(u))
}

// unsignedCast is signedCast for the unsigned conversions.
func unsignedCast(u uint64, length string) uint64 {
	switch length {
	case "hh":
		return uint64(uint8(u))
	case "h":
		return uint64(uint16(u))
	case "l", "ll", "j", "z", "t":
		return u
	}
	return uint64(uint32(u))
}

// bufferText renders buffer bytes for %r (printable bytes kept, others
// \xNN), %rx (all \xNN) and %rh (hex pairs separated by spaces).
func bufferText(s, conv string) string {
	switch conv {
	case "rx":
		var b strings.Builder
		for i := range len(s) {
			fmt.Fprintf(&b, "\\x%02x", s[i])
		}
		return b.String()
	case "rh":
		parts := make([]string, len(s))
		for i := range len(s) {
			parts[i] = strconv.FormatUint(uint64(s[i])|0x100, 16)[1:]
		}
		return strings.Join(parts, " ")
	}
	return hexBuffer(s)
}
