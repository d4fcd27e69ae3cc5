package parser

import (
	"bytes"
	"fmt"
	"math/bits"
	"strings"
	"unicode/utf8"
)

// scanner turns source bytes into tokens. It has three entry points because
// the language is not lexically uniform: scan reads expression tokens,
// scanTop reads what may start a top-level item (where "kprobe:f" or
// "struct x { ... };" are single tokens), and scanAttachNext reads the
// attach point after a ',' in a probe's list. The parser picks the entry
// point from its grammatical state, which is how bpftrace's lexer states
// work too.
//
// A scanner is a small value: the parser peeks ahead by copying it with a
// nil error handler.
type scanner struct {
	src []byte
	off int
	// eof is where the EOF token sits: just after the last byte that is not
	// white space, so that "unexpected end of file" points at the end of the
	// text rather than at an empty last line.
	eof int
	// prev is the kind of the previous token; a number right after '.' is a
	// tuple index, never the start of a (rejected) floating-point literal.
	prev kind
	// swallowed is set when an unterminated comment or C definition ran to
	// the end of the file: the parser's complaints about that end are
	// echoes of the scanner's error.
	swallowed bool
	errh      func(off, end int, msg string)
}

func newScanner(src []byte, errh func(off, end int, msg string)) scanner {
	s := scanner{src: src, errh: errh}
	s.eof = len(src)
	for s.eof > 0 && isSpace(src[s.eof-1]) {
		s.eof--
	}
	// A "#!" interpreter line makes a script executable; it is not part of
	// the program.
	if len(src) >= 2 && src[0] == '#' && src[1] == '!' {
		for s.off < len(src) && src[s.off] != '\n' {
			s.off++
		}
	}
	return s
}

func (s *scanner) error(off, end int, msg string) {
	if s.errh != nil {
		s.errh(off, end, msg)
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isIdentChar(c byte) bool {
	return isLetter(c) || isDigit(c)
}
func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// isAttachChar reports whether c may appear unquoted in an attach point
// field. This is bpftrace's path character class plus '?' and the brackets
// it accepts as separate tokens: enough for paths, wildcards, offsets
// (func+0x10), hardware event names (cache-misses), positional parameters
// ($1) and usdt namespaces.
func isAttachChar(c byte) bool {
	if isIdentChar(c) {
		return true
	}
	switch c {
	case '-', '.', '/', '*', '?', '+', '$', '#', '[', ']':
		return true
	}
	return false
}

// skipSpace returns the offset of the first byte at or after off that is
// neither white space nor inside a comment, whether a newline was crossed,
// and the offset of an unterminated block comment (-1 if none).
func skipSpace(src []byte, off int) (next int, newline bool, badComment int) {
	badComment = -1
	for off < len(src) {
		c := src[off]
		switch {
		case isSpace(c):
			if c == '\n' {
				newline = true
			}
			off++
		case c == '/' && off+1 < len(src) && src[off+1] == '/':
			for off < len(src) && src[off] != '\n' {
				off++
			}
		case c == '/' && off+1 < len(src) && src[off+1] == '*':
			end := bytes.Index(src[off+2:], []byte("*/"))
			if end < 0 {
				return len(src), newline, off
			}
			if bytes.IndexByte(src[off:off+2+end], '\n') >= 0 {
				newline = true
			}
			off += 2 + end + 2
		default:
			return off, newline, badComment
		}
	}
	return off, newline, badComment
}

func (s *scanner) skip() {
	next, _, bad := skipSpace(s.src, s.off)
	if bad >= 0 {
		s.error(bad, bad+2, "unterminated comment")
		s.swallowed = true
	}
	s.off = next
}

func (s *scanner) tok(k kind, start int) token {
	s.prev = k
	return token{kind: k, off: start, end: s.off, lit: string(s.src[start:s.off])}
}

func (s *scanner) eofToken() token {
	s.prev = tEOF
	off := max(s.eof, 0)
	return token{kind: tEOF, off: off, end: off}
}

// scan returns the next expression-level token.
func (s *scanner) scan() token {
	s.skip()
	if s.off >= len(s.src) {
		return s.eofToken()
	}
	start := s.off
	c := s.src[s.off]
	switch {
	case isLetter(c):
		for s.off < len(s.src) && isIdentChar(s.src[s.off]) {
			s.off++
		}
		t := s.tok(tIdent, start)
		if k, ok := keywords[t.lit]; ok {
			t.kind = k
			s.prev = k
		}
		return t
	case isDigit(c):
		return s.scanNumber()
	}
	s.off++
	switch c {
	case '"':
		return s.scanString(start)
	case '$':
		return s.scanDollar(start)
	case '@':
		if s.off < len(s.src) && isLetter(s.src[s.off]) {
			for s.off < len(s.src) && isIdentChar(s.src[s.off]) {
				s.off++
			}
		}
		return s.tok(tMap, start)
	case '#':
		return s.scanDirective(start)
	case '(':
		return s.tok(tLParen, start)
	case ')':
		return s.tok(tRParen, start)
	case '{':
		return s.tok(tLBrace, start)
	case '}':
		return s.tok(tRBrace, start)
	case '[':
		return s.tok(tLBrack, start)
	case ']':
		return s.tok(tRBrack, start)
	case ',':
		return s.tok(tComma, start)
	case ';':
		return s.tok(tSemi, start)
	case ':':
		return s.tok(tColon, start)
	case '?':
		return s.tok(tQuest, start)
	case '~':
		return s.tok(tTilde, start)
	case '.':
		if s.next('.') {
			return s.tok(tDotDot, start)
		}
		return s.tok(tDot, start)
	case '=':
		return s.tok(s.pick('=', tEq, tAssign), start)
	case '!':
		return s.tok(s.pick('=', tNe, tNot), start)
	case '+':
		if s.next('+') {
			return s.tok(tInc, start)
		}
		return s.tok(s.pick('=', tAddAssign, tAdd), start)
	case '-':
		switch {
		case s.next('-'):
			return s.tok(tDec, start)
		case s.next('>'):
			return s.tok(tArrow, start)
		}
		return s.tok(s.pick('=', tSubAssign, tSub), start)
	case '*':
		return s.tok(s.pick('=', tMulAssign, tMul), start)
	case '%':
		return s.tok(s.pick('=', tModAssign, tMod), start)
	case '^':
		return s.tok(s.pick('=', tXorAssign, tXor), start)
	case '&':
		if s.next('&') {
			return s.tok(tLAnd, start)
		}
		return s.tok(s.pick('=', tAndAssign, tAnd), start)
	case '|':
		if s.next('|') {
			return s.tok(tLOr, start)
		}
		return s.tok(s.pick('=', tOrAssign, tOr), start)
	case '<':
		if s.next('<') {
			return s.tok(s.pick('=', tShlAssign, tShl), start)
		}
		return s.tok(s.pick('=', tLe, tLt), start)
	case '>':
		if s.next('>') {
			return s.tok(s.pick('=', tShrAssign, tShr), start)
		}
		return s.tok(s.pick('=', tGe, tGt), start)
	case '/':
		if s.next('=') {
			return s.tok(tDivAssign, start)
		}
		return s.scanSlash(start)
	}
	// A stray character is reported and skipped: the tokens around it are
	// still worth parsing.
	r, size := utf8.DecodeRune(s.src[start:])
	s.off = start + max(size, 1)
	s.error(start, s.off, fmt.Sprintf("invalid character %q", r))
	return s.scan()
}

// next consumes c if it is the next byte.
func (s *scanner) next(c byte) bool {
	if s.off < len(s.src) && s.src[s.off] == c {
		s.off++
		return true
	}
	return false
}

// pick consumes c and returns yes if c is next, else returns no.
func (s *scanner) pick(c byte, yes, no kind) kind {
	if s.next(c) {
		return yes
	}
	return no
}

// scanSlash classifies a '/' that is not "/=" or a comment. bpftrace
// decides between division and the end of a predicate by what follows: a
// '/' followed by '{' ends a predicate. We extend that to every '/' that
// no operand can follow (end of file, '}', ';', ')', ...), which changes
// nothing for valid programs and turns "predicate without a block" into a
// clear error.
func (s *scanner) scanSlash(start int) token {
	next, nl, _ := skipSpace(s.src, s.off)
	if next >= len(s.src) || !canStartOperand(s.src[next]) {
		return s.tok(tEndPred, start)
	}
	t := s.tok(tDiv, start)
	t.nlAfter = nl
	return t
}

// canStartOperand reports whether a token starting with c can begin a
// unary expression.
func canStartOperand(c byte) bool {
	if isIdentChar(c) {
		return true
	}
	switch c {
	case '$', '@', '"', '(', '!', '~', '-', '*', '&', '+':
		return true
	}
	return false
}

// scanNumber reads an integer literal. It takes the whole run of letters,
// digits and '_' so that "12abc" is one bad literal rather than a number
// followed by an identifier.
func (s *scanner) scanNumber() token {
	start := s.off
	for s.off < len(s.src) && isIdentChar(s.src[s.off]) {
		s.off++
	}
	prev := s.prev
	t := s.tok(tInt, start)
	if prev != tDot && s.off+1 < len(s.src) && s.src[s.off] == '.' && isDigit(s.src[s.off+1]) {
		for s.off++; s.off < len(s.src) && isIdentChar(s.src[s.off]); s.off++ {
		}
		t.end = s.off
		t.lit = string(s.src[start:s.off])
		s.error(start, s.off, fmt.Sprintf("floating-point literals are not supported: '%s'", t.lit))
		return t
	}
	v, msg := parseInt(t.lit)
	if msg != "" {
		s.error(start, s.off, msg)
	}
	t.val = v
	return t
}

// durations are the suffixes bpftrace accepts on decimal literals, as
// multipliers to nanoseconds.
var durations = map[string]uint64{
	"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9, "d": 86400e9,
}

// parseInt evaluates an integer literal the way bpftrace writes them:
// decimal with '_' separators between digits, 0x hex, leading-0 octal,
// <m>e<n> scientific, C suffixes (u, l, ul, ll, ull; accepted and
// ignored) and duration suffixes (ns us ms s m h d, scaled to nanoseconds).
// msg is empty when text is valid.
func parseInt(text string) (v uint64, msg string) {
	bad := func() (uint64, string) { return 0, fmt.Sprintf("invalid integer literal '%s'", text) }
	tooBig := func() (uint64, string) {
		return 0, fmt.Sprintf("integer literal '%s' does not fit in 64 bits", text)
	}
	if len(text) > 1 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X') {
		digits := text[2:]
		if digits == "" {
			return 0, fmt.Sprintf("invalid hexadecimal literal '%s'", text)
		}
		for i := 0; i < len(digits); i++ {
			if !isHex(digits[i]) {
				return 0, fmt.Sprintf("invalid hexadecimal literal '%s'", text)
			}
		}
		if len(strings.TrimLeft(digits, "0")) > 16 {
			return tooBig()
		}
		for i := 0; i < len(digits); i++ {
			v = v<<4 | uint64(hexVal(digits[i]))
		}
		return v, ""
	}
	if len(text) > 1 && text[0] == '0' && (text[1] == 'b' || text[1] == 'B') {
		return 0, fmt.Sprintf("invalid integer literal '%s': binary literals are not supported", text)
	}
	// digitRun reads [0-9]([0-9_]*[0-9])? at i and returns its digits
	// without separators and where it ends.
	digitRun := func(i int) (string, int) {
		j := i
		for j < len(text) && (isDigit(text[j]) || text[j] == '_') {
			j++
		}
		for j > i && text[j-1] == '_' { // a trailing '_' is not part of the number
			j--
		}
		return strings.ReplaceAll(text[i:j], "_", ""), j
	}
	mant, i := digitRun(0)
	var exp string
	if i+1 < len(text) && (text[i] == 'e' || text[i] == 'E') && isDigit(text[i+1]) {
		exp, i = digitRun(i + 1)
	}
	suffix := text[i:]
	mult := uint64(1)
	if d, ok := durations[suffix]; ok {
		mult = d
	} else if !isCSuffix(suffix) {
		return bad()
	}
	base := uint64(10)
	if len(mant) > 1 && mant[0] == '0' && exp == "" {
		base = 8
	}
	for k := 0; k < len(mant); k++ {
		d := uint64(mant[k] - '0')
		if d >= base {
			return 0, fmt.Sprintf("invalid digit '%c' in octal literal '%s'", mant[k], text)
		}
		hi, lo := bits.Mul64(v, base)
		sum, carry := bits.Add64(lo, d, 0)
		if hi != 0 || carry != 0 {
			return tooBig()
		}
		v = sum
	}
	if exp != "" {
		n := 0
		for k := 0; k < len(exp); k++ {
			n = n*10 + int(exp[k]-'0')
			if n > 100 {
				break
			}
		}
		for ; n > 0 && v != 0; n-- {
			hi, lo := bits.Mul64(v, 10)
			if hi != 0 {
				return tooBig()
			}
			v = lo
		}
	}
	hi, lo := bits.Mul64(v, mult)
	if hi != 0 {
		return tooBig()
	}
	return lo, ""
}

// isCSuffix reports whether s is a C integer suffix bpftrace tolerates:
// ([uU])|([uU]?[lL]?[lL]), or nothing.
func isCSuffix(s string) bool {
	if s == "" {
		return true
	}
	if s[0] == 'u' || s[0] == 'U' {
		s = s[1:]
		if s == "" {
			return true
		}
	}
	if len(s) > 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] != 'l' && s[i] != 'L' {
			return false
		}
	}
	return true
}

func hexVal(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// lineEnd is the offset of the newline ending the line that holds off (or
// the end of the source).
func (s *scanner) lineEnd(off int) int {
	for off < len(s.src) && s.src[off] != '\n' {
		off++
	}
	return off
}

// scanString reads a string literal whose opening quote is at start.
// Escapes: \n \t \r \" \\, octal \NNN (1 to 3 digits, at most 255) and hex
// \xNN (1 or 2 digits). An unterminated string yields tIllegal so that the
// parser does not pile further errors onto the rest of the line.
func (s *scanner) scanString(start int) token {
	var b strings.Builder
	for {
		if s.off >= len(s.src) || s.src[s.off] == '\n' {
			end := s.lineEnd(start)
			if end > start && s.src[end-1] == '\r' {
				end--
			}
			s.error(start, end, "unterminated string")
			return s.tok(tIllegal, start)
		}
		c := s.src[s.off]
		switch c {
		case '"':
			s.off++
			t := s.tok(tString, start)
			t.lit = b.String()
			return t
		case '\\':
			s.scanEscape(&b)
		default:
			b.WriteByte(c)
			s.off++
		}
	}
}

func (s *scanner) scanEscape(b *strings.Builder) {
	esc := s.off
	s.off++ // the backslash
	if s.off >= len(s.src) || s.src[s.off] == '\n' {
		return // reported as an unterminated string
	}
	c := s.src[s.off]
	switch c {
	case 'n':
		b.WriteByte('\n')
	case 't':
		b.WriteByte('\t')
	case 'r':
		b.WriteByte('\r')
	case '"', '\\':
		b.WriteByte(c)
	case 'x', 'X':
		n, v := 0, 0
		for n < 2 && s.off+1 < len(s.src) && isHex(s.src[s.off+1]) {
			s.off++
			v = v<<4 | int(hexVal(s.src[s.off]))
			n++
		}
		if n == 0 {
			s.error(esc, s.off+1, fmt.Sprintf("invalid escape sequence '%s'", s.src[esc:s.off+1]))
			break
		}
		b.WriteByte(byte(v))
	case '0', '1', '2', '3', '4', '5', '6', '7':
		v := int(c - '0')
		for n := 1; n < 3 && s.off+1 < len(s.src) && s.src[s.off+1] >= '0' && s.src[s.off+1] <= '7'; n++ {
			s.off++
			v = v<<3 | int(s.src[s.off]-'0')
		}
		if v > 255 {
			s.error(esc, s.off+1, fmt.Sprintf("octal escape sequence out of range '%s'", s.src[esc:s.off+1]))
			break
		}
		b.WriteByte(byte(v))
	default:
		_, size := utf8.DecodeRune(s.src[s.off:])
		s.off += max(size, 1) - 1
		s.error(esc, s.off+1, fmt.Sprintf("invalid escape sequence '%s'", s.src[esc:s.off+1]))
	}
	s.off++
}

// scanDollar reads $name, $N or $# after the '$' at start.
func (s *scanner) scanDollar(start int) token {
	switch {
	case s.off < len(s.src) && isLetter(s.src[s.off]):
		for s.off < len(s.src) && isIdentChar(s.src[s.off]) {
			s.off++
		}
		return s.tok(tVar, start)
	case s.off < len(s.src) && isDigit(s.src[s.off]):
		for s.off < len(s.src) && isDigit(s.src[s.off]) {
			s.off++
		}
		t := s.tok(tParam, start)
		n := uint64(0)
		for _, c := range t.lit[1:] {
			n = n*10 + uint64(c-'0')
			if n > 1<<31 {
				break
			}
		}
		switch {
		case n == 0:
			s.error(start, s.off, fmt.Sprintf("invalid positional parameter '%s': parameters are numbered from $1", t.lit))
		case n > 1<<31:
			s.error(start, s.off, fmt.Sprintf("positional parameter '%s' is out of range", t.lit))
			n = 0
		}
		t.val = n
		return t
	case s.next('#'):
		return s.tok(tParamCount, start)
	}
	s.error(start, s.off, "invalid character '$': expected a variable name, a parameter number or '#' after it")
	return s.scan()
}

// scanDirective reads a preprocessor line from the '#' at start, joining
// lines that end in a backslash as the C preprocessor does.
func (s *scanner) scanDirective(start int) token {
	for {
		s.off = s.lineEnd(s.off)
		line := strings.TrimRight(string(s.src[start:s.off]), " \t\r\f\v")
		if !strings.HasSuffix(line, "\\") || s.off >= len(s.src) {
			break
		}
		s.off++ // continue on the next line
	}
	t := s.tok(tDirective, start)
	t.lit = strings.TrimRight(t.lit, " \t\r\f\v")
	t.end = start + len(t.lit)
	return t
}

// scanTop returns the next token where a top-level item may start. Words
// other than the item keywords begin an attach point, which is read whole;
// "struct", "union" and "enum" begin a C definition, also read whole.
func (s *scanner) scanTop() token {
	s.skip()
	if s.off >= len(s.src) || !isLetter(s.src[s.off]) {
		return s.scan()
	}
	start := s.off
	end := start
	for end < len(s.src) && isIdentChar(s.src[end]) {
		end++
	}
	word := string(s.src[start:end])
	colon := end < len(s.src) && s.src[end] == ':'
	switch {
	case (word == "struct" || word == "union" || word == "enum") && !colon:
		return s.scanCDef(start)
	case (word == "config" || word == "let" || word == "macro") && !colon:
		return s.scan()
	}
	return s.scanAttach()
}

// scanAttachNext returns the next token where an attach point is expected.
func (s *scanner) scanAttachNext() token {
	s.skip()
	if s.off < len(s.src) && isLetter(s.src[s.off]) {
		return s.scanAttach()
	}
	return s.scan()
}

// scanAttach reads one attach point, starting at a letter: a provider name
// and ':'-separated fields, up to the first byte that cannot be part of it
// (white space, ',', '{', ...). As in bpftrace, a '/' inside a field is
// part of it (uprobe:/bin/bash:readline), so a predicate after a field
// needs white space before its '/'; after a bare name (BEGIN/pid/) it does
// not. A field may be quoted, keeping ':' and spaces
// (uprobe:"/opt/my app":"ns::f"); a backslash takes the next byte
// literally.
func (s *scanner) scanAttach() token {
	start := s.off
	for s.off < len(s.src) && isIdentChar(s.src[s.off]) {
		s.off++
	}
	provider := string(s.src[start:s.off])
	var parts []string
	if s.off < len(s.src) && s.src[s.off] == ':' {
		s.off++
		var part strings.Builder
	fields:
		for s.off < len(s.src) {
			c := s.src[s.off]
			switch {
			case c == ':':
				parts = append(parts, part.String())
				part.Reset()
				s.off++
			case c == '"':
				if !s.scanAttachQuote(&part) {
					return s.tok(tIllegal, start)
				}
			case c == '\\' && s.off+1 < len(s.src) && !isSpace(s.src[s.off+1]):
				part.WriteByte(s.src[s.off+1])
				s.off += 2
			case isAttachChar(c):
				part.WriteByte(c)
				s.off++
			default:
				break fields
			}
		}
		parts = append(parts, part.String())
	}
	t := s.tok(tAttach, start)
	t.provider = provider
	t.parts = parts
	return t
}

func (s *scanner) scanAttachQuote(part *strings.Builder) bool {
	quote := s.off
	s.off++
	for {
		if s.off >= len(s.src) || s.src[s.off] == '\n' {
			s.error(quote, s.lineEnd(quote), "unterminated string in attach point")
			s.off = s.lineEnd(quote)
			return false
		}
		c := s.src[s.off]
		switch {
		case c == '"':
			s.off++
			return true
		case c == '\\' && s.off+1 < len(s.src) && s.src[s.off+1] != '\n':
			part.WriteByte(s.src[s.off+1])
			s.off += 2
		default:
			part.WriteByte(c)
			s.off++
		}
	}
}

// scanCDef reads a C definition starting at the struct/union/enum keyword
// at start: up to the '}' that balances its first '{' (and a ';' after
// it), or up to a ';' outside braces for a forward declaration. The text
// is kept for the C parser; only comments, strings and character literals
// are understood, so that braces inside them do not count.
func (s *scanner) scanCDef(start int) token {
	depth := 0
	i := start
	for i < len(s.src) {
		c := s.src[i]
		switch {
		case c == '/' && i+1 < len(s.src) && (s.src[i+1] == '/' || s.src[i+1] == '*'):
			next, _, bad := skipSpace(s.src, i)
			if bad >= 0 {
				s.error(bad, bad+2, "unterminated comment")
				s.swallowed = true
			}
			i = next
			continue
		case c == '"' || c == '\'':
			i++
			for i < len(s.src) && s.src[i] != c && s.src[i] != '\n' {
				if s.src[i] == '\\' {
					i++
				}
				i++
			}
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth <= 0 {
				i++
				if next, _, _ := skipSpace(s.src, i); next < len(s.src) && s.src[next] == ';' {
					i = next + 1
				}
				s.off = i
				return s.tok(tCDef, start)
			}
		case c == ';' && depth == 0:
			s.off = i + 1
			return s.tok(tCDef, start)
		}
		i++
	}
	kw := start
	for kw < len(s.src) && isIdentChar(s.src[kw]) {
		kw++
	}
	s.error(start, kw, "unterminated C definition: missing '}'")
	s.swallowed = true
	s.off = len(s.src)
	return s.tok(tIllegal, start)
}
