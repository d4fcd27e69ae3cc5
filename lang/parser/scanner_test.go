package parser

import (
	"strings"
	"testing"
)

// scanAll returns the tokens of src in expression mode, as "kind:lit"
// strings for literals and as their text for operators.
func scanAll(src string) []string {
	s := newScanner([]byte(src), nil)
	var out []string
	for {
		t := s.scan()
		if t.kind == tEOF {
			return out
		}
		switch t.kind {
		case tIdent, tInt, tVar, tMap, tParam, tParamCount, tDirective:
			out = append(out, t.describe())
		case tString:
			out = append(out, "string:"+t.lit)
		default:
			out = append(out, t.describe())
		}
	}
}

func TestScanOperators(t *testing.T) {
	src := "( ) { } [ ] , ; : ? . .. -> = += -= *= /= %= &= |= ^= <<= >>= == != < <= > >= << >> && || + - * % & | ^ ! ~ ++ -- / x"
	got := strings.Join(scanAll(src), " ")
	var want []string
	for _, op := range strings.Fields(src) {
		if op == "x" {
			want = append(want, "identifier 'x'")
			continue
		}
		want = append(want, "'"+op+"'")
	}
	if got != strings.Join(want, " ") {
		t.Errorf("got  %s\nwant %s", got, strings.Join(want, " "))
	}
}

func TestScanTokens(t *testing.T) {
	tests := []struct{ src, want string }{
		{"a+=b", "identifier 'a'|'+='|identifier 'b'"},
		{"a+++b", "identifier 'a'|'++'|'+'|identifier 'b'"},
		{"x->y", "identifier 'x'|'->'|identifier 'y'"},
		{"0..10", "integer '0'|'..'|integer '10'"},
		{"$t.0.1", "variable '$t'|'.'|integer '0'|'.'|integer '1'"},
		{"@ @x @_y1 $x $1 $#", "map '@'|map '@x'|map '@_y1'|variable '$x'|parameter '$1'|parameter '$#'"},
		{"if else while for unroll return break continue let config sizeof offsetof struct union enum true false",
			"keyword 'if'|keyword 'else'|keyword 'while'|keyword 'for'|keyword 'unroll'|keyword 'return'|keyword 'break'|keyword 'continue'|keyword 'let'|keyword 'config'|keyword 'sizeof'|keyword 'offsetof'|keyword 'struct'|keyword 'union'|keyword 'enum'|keyword 'true'|keyword 'false'"},
		{"iffy letter", "identifier 'iffy'|identifier 'letter'"},
		{"a // comment\nb /* block\n comment */ c", "identifier 'a'|identifier 'b'|identifier 'c'"},
		{`"a\"b"`, `string:a"b`},
		{"#include <x.h>\nfoo", "preprocessor directive|identifier 'foo'"},
		// A '/' that no operand can follow closes a predicate.
		{"a / b", "identifier 'a'|'/'|identifier 'b'"},
		{"a / {", "identifier 'a'|'/'|'{'"},
	}
	for _, tt := range tests {
		if got := strings.Join(scanAll(tt.src), "|"); got != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.src, got, tt.want)
		}
	}
}

func TestScanSlash(t *testing.T) {
	tests := []struct {
		src     string
		kind    kind
		nlAfter bool
	}{
		{"/ b", tDiv, false},
		{"/ -b", tDiv, false},
		{"/ (b)", tDiv, false},
		{"/\nb", tDiv, true},
		{"/ /* c\n */ b", tDiv, true},
		{"/ {", tEndPred, false},
		{"/\n\n{", tEndPred, false},
		{"/", tEndPred, false},
		{"/ }", tEndPred, false},
		{"/ ;", tEndPred, false},
	}
	for _, tt := range tests {
		s := newScanner([]byte(tt.src), nil)
		tok := s.scan()
		if tok.kind != tt.kind || tok.nlAfter != tt.nlAfter {
			t.Errorf("%q: got kind %d nlAfter %v, want %d %v", tt.src, tok.kind, tok.nlAfter, tt.kind, tt.nlAfter)
		}
	}
}

func TestParseInt(t *testing.T) {
	tests := []struct {
		text string
		v    uint64
		bad  bool
	}{
		{"0", 0, false}, {"42", 42, false}, {"1_000", 1000, false}, {"1__0", 10, false},
		{"0x0", 0, false}, {"0xdeadBEEF", 0xdeadbeef, false}, {"0777", 0o777, false},
		{"1e0", 1, false}, {"5e2", 500, false}, {"1_0e1_0", 100000000000, false},
		{"1ns", 1, false}, {"1us", 1000, false}, {"1ms", 1e6, false}, {"1s", 1e9, false},
		{"1m", 60e9, false}, {"1h", 3600e9, false}, {"1d", 86400e9, false}, {"2e3ms", 2e9, false},
		{"1u", 1, false}, {"1U", 1, false}, {"1l", 1, false}, {"1LL", 1, false}, {"1ull", 1, false}, {"1UL", 1, false},
		{"18446744073709551615", 1<<64 - 1, false},
		{"1lu", 0, true}, {"1lll", 0, true}, {"1_", 0, true}, {"1x", 0, true}, {"0x", 0, true},
		{"0b1", 0, true}, {"08", 0, true}, {"1e", 0, true}, {"18446744073709551616", 0, true},
		{"0x1_0", 0, true}, {"1sec", 0, true}, {"99999999999999999999e0", 0, true}, {"1e999", 0, true},
		{"0e999", 0, false},
	}
	for _, tt := range tests {
		v, msg := parseInt(tt.text)
		if (msg != "") != tt.bad || !tt.bad && v != tt.v {
			t.Errorf("parseInt(%q) = %d, %q; want %d, bad=%v", tt.text, v, msg, tt.v, tt.bad)
		}
	}
}
