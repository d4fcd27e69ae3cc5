package ctypes

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// ctok is one token of a C definition: an identifier, a number, a string
// or character literal, or one punctuation character.
type ctok struct {
	text string
	kind byte // 'i' identifier, 'n' number, 's' string, 'c' char, 'p' punctuation
}

// lexC splits C text into tokens, dropping comments.
func lexC(src string) ([]ctok, error) {
	var out []ctok
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\\':
			i++
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("unterminated comment")
			}
			i += end + 4
		case isIdentStart(c):
			j := i
			for j < len(src) && (isIdentStart(src[j]) || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			out = append(out, ctok{src[i:j], 'i'})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && (isIdentStart(src[j]) || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			out = append(out, ctok{src[i:j], 'n'})
			i = j
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) {
				return nil, fmt.Errorf("unterminated %c literal", c)
			}
			kind := byte('s')
			if c == '\'' {
				kind = 'c'
			}
			out = append(out, ctok{src[i : j+1], kind})
			i = j + 1
		default:
			// Two-character operators that matter in constant expressions.
			if i+1 < len(src) {
				switch two := src[i : i+2]; two {
				case "<<", ">>", "==", "!=", "<=", ">=", "&&", "||":
					out = append(out, ctok{two, 'p'})
					i += 2
					continue
				}
			}
			out = append(out, ctok{string(c), 'p'})
			i++
		}
	}
	return out, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// cparser reads C declarations into BTF types, laid out as the x86-64 and
// arm64 ABIs lay them out (natural alignment, SysV bitfield packing).
type cparser struct {
	toks []ctok
	pos  int
	defs *Defs
}

func (p *cparser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].text
	}
	return ""
}

func (p *cparser) next() ctok {
	if p.pos < len(p.toks) {
		t := p.toks[p.pos]
		p.pos++
		return t
	}
	return ctok{}
}

func (p *cparser) accept(s string) bool {
	if p.peek() == s {
		p.pos++
		return true
	}
	return false
}

func (p *cparser) expect(s string) error {
	if !p.accept(s) {
		got := p.peek()
		if got == "" {
			got = "the end"
		}
		return fmt.Errorf("expected %q, found %s", s, quoteTok(got))
	}
	return nil
}

func quoteTok(s string) string {
	if s == "the end" {
		return s
	}
	return strconv.Quote(s)
}

func (p *cparser) ident() (string, error) {
	t := p.next()
	if t.kind != 'i' {
		if t.text == "" {
			return "", fmt.Errorf("expected a name, found the end")
		}
		return "", fmt.Errorf("expected a name, found %q", t.text)
	}
	return t.text, nil
}

// topLevel parses one definition: struct, union, enum or typedef, ending
// with ';'.
func (p *cparser) topLevel() error {
	switch p.peek() {
	case "struct", "union", "enum":
		t, err := p.aggregate()
		if err != nil {
			return err
		}
		// "struct x { ... } var;" declares no script variable; only the type
		// counts, but the declarator must still parse.
		if p.peek() != ";" && p.peek() != "" {
			if _, _, err := p.declarator(t); err != nil {
				return err
			}
		}
		p.accept(";")
		return nil
	case "typedef":
		p.next()
		base, err := p.typeSpec()
		if err != nil {
			return err
		}
		name, t, err := p.declarator(base)
		if err != nil {
			return err
		}
		p.defs.add(&btf.Typedef{Name: name, Type: t})
		p.accept(";")
		return nil
	}
	return fmt.Errorf("expected struct, union, enum or typedef, found %s", quoteTok(p.peek()))
}

// aggregate parses "struct NAME", "struct NAME { ... }" or "struct { ... }"
// (and union and enum alike), defining the type when a body follows.
func (p *cparser) aggregate() (btf.Type, error) {
	kw := p.next().text
	name := ""
	if p.toks != nil && p.pos < len(p.toks) && p.toks[p.pos].kind == 'i' {
		name = p.next().text
	}
	if p.peek() != "{" {
		if name == "" {
			return nil, fmt.Errorf("%s needs a name or a body", kw)
		}
		return p.defs.reference(kw, name), nil
	}
	p.next()
	if kw == "enum" {
		return p.enumBody(name)
	}
	var members []btf.Member
	for !p.accept("}") {
		if p.peek() == "" {
			return nil, fmt.Errorf("%s %s: missing '}'", kw, name)
		}
		ms, err := p.memberDecl()
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", kw, name, err)
		}
		members = append(members, ms...)
	}
	var t btf.Type
	if kw == "union" {
		t = layoutUnion(name, members)
	} else {
		t = layoutStruct(name, members)
	}
	if name != "" {
		p.defs.add(t)
	}
	return t, nil
}

func (p *cparser) enumBody(name string) (btf.Type, error) {
	e := &btf.Enum{Name: name, Size: 4}
	next := int64(0)
	for !p.accept("}") {
		id, err := p.ident()
		if err != nil {
			return nil, fmt.Errorf("enum %s: %w", name, err)
		}
		if p.accept("=") {
			v, err := p.constExpr()
			if err != nil {
				return nil, fmt.Errorf("enum %s: %s: %w", name, id, err)
			}
			next = v
		}
		e.Values = append(e.Values, btf.EnumValue{Name: id, Value: uint64(next)})
		p.defs.consts[id] = Const{Int: next}
		if next < 0 {
			e.Signed = true
		}
		if next > 1<<32-1 || next < -1<<31 {
			e.Size = 8
		}
		next++
		if !p.accept(",") {
			if err := p.expect("}"); err != nil {
				return nil, fmt.Errorf("enum %s: %w", name, err)
			}
			break
		}
	}
	if name != "" {
		p.defs.add(e)
	}
	return e, nil
}

// memberDecl parses one member line, which may declare several members
// ("int a, *b;") or an anonymous struct or union.
func (p *cparser) memberDecl() ([]btf.Member, error) {
	base, err := p.typeSpec()
	if err != nil {
		return nil, err
	}
	if p.accept(";") {
		// An anonymous struct or union: its members are reached through it.
		return []btf.Member{{Type: base}}, nil
	}
	var out []btf.Member
	for {
		name, t, err := p.declarator(base)
		if err != nil {
			return nil, err
		}
		m := btf.Member{Name: name, Type: t}
		if p.accept(":") {
			bits, err := p.constExpr()
			if err != nil {
				return nil, fmt.Errorf("bitfield %s: %w", name, err)
			}
			if bits < 0 || bits > 64 {
				return nil, fmt.Errorf("bitfield %s: width %d", name, bits)
			}
			// A zero width marks "start the next unit"; keep it as a
			// nameless marker the layout understands.
			m.BitfieldSize = btf.Bits(bits)
			if bits == 0 {
				m.Name = ""
				m.BitfieldSize = zeroWidth
			}
		}
		out = append(out, m)
		if p.accept(";") {
			return out, nil
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
	}
}

// zeroWidth marks a ":0" bitfield during layout; it never reaches a type.
const zeroWidth = btf.Bits(1 << 30)

// typeSpec parses the type before a declarator: qualifiers, then integer
// words, a struct/union/enum, or a typedef name.
func (p *cparser) typeSpec() (btf.Type, error) {
	var words []string
	for {
		switch w := p.peek(); w {
		case "const", "volatile", "restrict", "__restrict", "static", "extern", "register", "__volatile__":
			p.next()
			continue
		case "struct", "union", "enum":
			if len(words) > 0 {
				return nil, fmt.Errorf("unexpected %s after %s", w, strings.Join(words, " "))
			}
			return p.aggregate()
		case "unsigned", "signed", "char", "short", "int", "long", "_Bool", "bool", "void", "float", "double":
			words = append(words, p.next().text)
			continue
		}
		break
	}
	if len(words) > 0 {
		return intType(words)
	}
	name, err := p.ident()
	if err != nil {
		return nil, err
	}
	return p.defs.typedefRef(name)
}

// intType maps C's integer words ("unsigned long long") to a BTF integer.
func intType(words []string) (btf.Type, error) {
	unsigned, signed, long, short, char, boolean, void, float := false, false, 0, false, false, false, false, false
	for _, w := range words {
		switch w {
		case "unsigned":
			unsigned = true
		case "signed":
			signed = true
		case "long":
			long++
		case "short":
			short = true
		case "char":
			char = true
		case "_Bool", "bool":
			boolean = true
		case "void":
			void = true
		case "float", "double":
			float = true
		}
	}
	name := strings.Join(words, " ")
	switch {
	case void:
		return &btf.Void{}, nil
	case float:
		return nil, fmt.Errorf("floating-point types (%s) are not supported", name)
	case boolean:
		return &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}, nil
	}
	enc := btf.Signed
	if unsigned {
		enc = btf.Unsigned
	}
	switch {
	case char:
		if !unsigned && !signed {
			return &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}, nil
		}
		return &btf.Int{Name: name, Size: 1, Encoding: enc}, nil
	case short:
		return &btf.Int{Name: name, Size: 2, Encoding: enc}, nil
	case long > 0:
		return &btf.Int{Name: name, Size: 8, Encoding: enc}, nil
	}
	return &btf.Int{Name: name, Size: 4, Encoding: enc}, nil
}

// declarator parses "*name", "name[4][2]", "(*fn)(args)" after a type.
func (p *cparser) declarator(base btf.Type) (string, btf.Type, error) {
	t := base
	for p.accept("*") {
		for p.accept("const") || p.accept("volatile") || p.accept("restrict") {
		}
		t = &btf.Pointer{Target: t}
	}
	if p.accept("(") {
		// A function pointer: (*name)(parameters). Its parameters do not
		// matter to a script; it is a pointer.
		if err := p.expect("*"); err != nil {
			return "", nil, err
		}
		name, err := p.ident()
		if err != nil {
			return "", nil, err
		}
		if err := p.expect(")"); err != nil {
			return "", nil, err
		}
		if err := p.skipParens(); err != nil {
			return "", nil, err
		}
		return name, &btf.Pointer{Target: &btf.FuncProto{Return: t}}, nil
	}
	if p.peek() == ":" {
		return "", t, nil // an unnamed bitfield
	}
	name, err := p.ident()
	if err != nil {
		return "", nil, err
	}
	var dims []int64
	for p.accept("[") {
		n := int64(0)
		if !p.accept("]") {
			if n, err = p.constExpr(); err != nil {
				return "", nil, fmt.Errorf("%s: %w", name, err)
			}
			if n < 0 || n > 1<<24 {
				return "", nil, fmt.Errorf("%s: array length %d", name, n)
			}
			if err := p.expect("]"); err != nil {
				return "", nil, err
			}
		}
		dims = append(dims, n)
	}
	// int a[2][3] is an array of 2 arrays of 3.
	for i := len(dims) - 1; i >= 0; i-- {
		t = &btf.Array{Index: &btf.Int{Name: "int", Size: 4}, Type: t, Nelems: uint32(dims[i])}
	}
	return name, t, nil
}

func (p *cparser) skipParens() error {
	if err := p.expect("("); err != nil {
		return err
	}
	for depth := 1; depth > 0; {
		switch p.next().text {
		case "(":
			depth++
		case ")":
			depth--
		case "":
			return fmt.Errorf("missing ')'")
		}
	}
	return nil
}

// constExpr evaluates an integer constant expression: literals, enum
// constants and #defines seen so far, sizeof(type), and C's operators.
func (p *cparser) constExpr() (int64, error) { return p.binaryExpr(0) }

var cPrec = map[string]int{
	"||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6,
	"<": 7, ">": 7, "<=": 7, ">=": 7, "<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10,
}

func (p *cparser) binaryExpr(min int) (int64, error) {
	x, err := p.unaryExpr()
	if err != nil {
		return 0, err
	}
	for {
		op := p.peek()
		prec, ok := cPrec[op]
		if !ok || prec <= min {
			return x, nil
		}
		p.next()
		y, err := p.binaryExpr(prec)
		if err != nil {
			return 0, err
		}
		if x, err = applyOp(op, x, y); err != nil {
			return 0, err
		}
	}
}

func applyOp(op string, x, y int64) (int64, error) {
	b := func(c bool) int64 {
		if c {
			return 1
		}
		return 0
	}
	switch op {
	case "+":
		return x + y, nil
	case "-":
		return x - y, nil
	case "*":
		return x * y, nil
	case "/", "%":
		if y == 0 {
			return 0, fmt.Errorf("division by zero in a constant")
		}
		if op == "/" {
			return x / y, nil
		}
		return x % y, nil
	case "<<":
		return x << (uint64(y) & 63), nil
	case ">>":
		return x >> (uint64(y) & 63), nil
	case "&":
		return x & y, nil
	case "|":
		return x | y, nil
	case "^":
		return x ^ y, nil
	case "&&":
		return b(x != 0 && y != 0), nil
	case "||":
		return b(x != 0 || y != 0), nil
	case "==":
		return b(x == y), nil
	case "!=":
		return b(x != y), nil
	case "<":
		return b(x < y), nil
	case ">":
		return b(x > y), nil
	case "<=":
		return b(x <= y), nil
	case ">=":
		return b(x >= y), nil
	}
	return 0, fmt.Errorf("unknown operator %s", op)
}

func (p *cparser) unaryExpr() (int64, error) {
	t := p.next()
	switch {
	case t.text == "-" || t.text == "~" || t.text == "!" || t.text == "+":
		x, err := p.unaryExpr()
		if err != nil {
			return 0, err
		}
		switch t.text {
		case "-":
			return -x, nil
		case "~":
			return ^x, nil
		case "!":
			if x == 0 {
				return 1, nil
			}
			return 0, nil
		}
		return x, nil
	case t.text == "(":
		// A cast such as (u32)5 or a parenthesised expression.
		if p.pos < len(p.toks) && p.toks[p.pos].kind == 'i' && p.defs.isTypeName(p.peek()) {
			for p.peek() != ")" && p.peek() != "" {
				p.next()
			}
			p.next()
			return p.unaryExpr()
		}
		x, err := p.constExpr()
		if err != nil {
			return 0, err
		}
		return x, p.expect(")")
	case t.kind == 'n':
		return parseCInt(t.text)
	case t.kind == 'c':
		s, err := strconv.Unquote(t.text)
		if err != nil || len(s) != 1 {
			return 0, fmt.Errorf("bad character literal %s", t.text)
		}
		return int64(s[0]), nil
	case t.text == "sizeof":
		if err := p.expect("("); err != nil {
			return 0, err
		}
		ty, err := p.typeSpec()
		if err != nil {
			return 0, err
		}
		for p.accept("*") {
			ty = &btf.Pointer{Target: ty}
		}
		if err := p.expect(")"); err != nil {
			return 0, err
		}
		n, err := btf.Sizeof(ty)
		return int64(n), err
	case t.kind == 'i':
		c, ok := p.defs.consts[t.text]
		if !ok {
			if v, ok, err := p.defs.kernelEnum(t.text); ok || err != nil {
				return v, err
			}
			return 0, fmt.Errorf("%s is not a constant", t.text)
		}
		if c.Err != nil || c.IsStr {
			return 0, fmt.Errorf("%s is not an integer constant", t.text)
		}
		return c.Int, nil
	case t.text == "":
		return 0, fmt.Errorf("expected a constant, found the end")
	}
	return 0, fmt.Errorf("expected a constant, found %q", t.text)
}

// parseCInt reads a C integer literal with its suffixes (10, 0x1f, 017, 5UL).
func parseCInt(s string) (int64, error) {
	t := strings.TrimRight(s, "uUlL")
	u, err := strconv.ParseUint(t, 0, 64)
	if err != nil {
		if len(t) > 1 && t[0] == '0' && t[1] != 'x' && t[1] != 'X' && t[1] != 'b' && t[1] != 'B' {
			u, err = strconv.ParseUint(t[1:], 8, 64)
		}
		if err != nil {
			return 0, fmt.Errorf("bad number %s", s)
		}
	}
	return int64(u), nil
}

// align is the alignment in bytes of a laid-out type.
func align(t btf.Type) int {
	switch t := btf.UnderlyingType(t).(type) {
	case *btf.Int:
		return max(int(t.Size), 1)
	case *btf.Enum:
		return int(t.Size)
	case *btf.Pointer:
		return 8
	case *btf.Array:
		return align(t.Type)
	case *btf.Struct:
		return membersAlign(t.Members)
	case *btf.Union:
		return membersAlign(t.Members)
	}
	return 1
}

func membersAlign(ms []btf.Member) int {
	a := 1
	for _, m := range ms {
		a = max(a, align(m.Type))
	}
	return a
}

func sizeOf(t btf.Type) int {
	n, err := btf.Sizeof(t)
	if err != nil {
		return 0
	}
	return n
}

func roundUp(n, a int) int { return (n + a - 1) / a * a }

// layoutStruct places members in order, bitfields packed into units of
// their declared type as the SysV ABI does.
func layoutStruct(name string, members []btf.Member) *btf.Struct {
	bit, maxAlign := 0, 1
	out := members[:0]
	for _, m := range members {
		a := align(m.Type)
		unit := sizeOf(m.Type) * 8
		switch {
		case m.BitfieldSize == zeroWidth:
			if unit > 0 {
				bit = roundUp(bit, unit)
			}
			continue
		case m.BitfieldSize > 0:
			if unit > 0 && bit%unit+int(m.BitfieldSize) > unit {
				bit = roundUp(bit, unit)
			}
			m.Offset = btf.Bits(bit)
			bit += int(m.BitfieldSize)
		default:
			bit = roundUp(bit, a*8)
			m.Offset = btf.Bits(bit)
			bit += unit
		}
		maxAlign = max(maxAlign, a)
		out = append(out, m)
	}
	return &btf.Struct{Name: name, Size: uint32(roundUp(roundUp(bit, 8)/8, maxAlign)), Members: out}
}

func layoutUnion(name string, members []btf.Member) *btf.Union {
	size, maxAlign := 0, 1
	out := members[:0]
	for _, m := range members {
		if m.BitfieldSize == zeroWidth {
			continue
		}
		m.Offset = 0
		size = max(size, sizeOf(m.Type))
		maxAlign = max(maxAlign, align(m.Type))
		out = append(out, m)
	}
	return &btf.Union{Name: name, Size: uint32(roundUp(size, maxAlign)), Members: out}
}
