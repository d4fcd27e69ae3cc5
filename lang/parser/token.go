package parser

import (
	"fmt"
	"strconv"
)

// kind is the lexical class of a token.
type kind int

const (
	tEOF     kind = iota
	tIllegal      // the scanner has already reported why

	tIdent      // pid, printf, uint32, args
	tInt        // 10, 0x1f, 1_000, 5ms, 2e3
	tString     // "..." with escapes resolved in lit
	tVar        // $name
	tMap        // @name or @
	tParam      // $1
	tParamCount // $#
	tDirective  // a whole preprocessor line: #include <...>, #define ...
	tCDef       // a whole top-level struct/union/enum definition
	tAttach     // a whole attach point: kprobe:do_sys_open, BEGIN

	// Operators and punctuation.
	tLParen    // (
	tRParen    // )
	tLBrace    // {
	tRBrace    // }
	tLBrack    // [
	tRBrack    // ]
	tComma     // ,
	tSemi      // ;
	tColon     // :
	tQuest     // ?
	tDot       // .
	tDotDot    // ..
	tArrow     // ->
	tAssign    // =
	tAddAssign // +=
	tSubAssign // -=
	tMulAssign // *=
	tDivAssign // /=
	tModAssign // %=
	tAndAssign // &=
	tOrAssign  // |=
	tXorAssign // ^=
	tShlAssign // <<=
	tShrAssign // >>=
	tEq        // ==
	tNe        // !=
	tLt        // <
	tLe        // <=
	tGt        // >
	tGe        // >=
	tShl       // <<
	tShr       // >>
	tLAnd      // &&
	tLOr       // ||
	tAdd       // +
	tSub       // -
	tMul       // *
	tDiv       // /
	tEndPred   // a '/' that cannot be a division: it closes a predicate
	tMod       // %
	tAnd       // &
	tOr        // |
	tXor       // ^
	tNot       // !
	tTilde     // ~
	tInc       // ++
	tDec       // --

	// Keywords.
	keywordBeg
	tIf
	tElse
	tWhile
	tFor
	tUnroll
	tReturn
	tBreak
	tContinue
	tLet
	tConfig
	tMacro
	tSizeof
	tOffsetof
	tStruct
	tUnion
	tEnum
	tTrue
	tFalse
	keywordEnd
)

var kindText = map[kind]string{
	tLParen: "(", tRParen: ")", tLBrace: "{", tRBrace: "}", tLBrack: "[", tRBrack: "]",
	tComma: ",", tSemi: ";", tColon: ":", tQuest: "?", tDot: ".", tDotDot: "..", tArrow: "->",
	tAssign: "=", tAddAssign: "+=", tSubAssign: "-=", tMulAssign: "*=", tDivAssign: "/=",
	tModAssign: "%=", tAndAssign: "&=", tOrAssign: "|=", tXorAssign: "^=", tShlAssign: "<<=",
	tShrAssign: ">>=", tEq: "==", tNe: "!=", tLt: "<", tLe: "<=", tGt: ">", tGe: ">=",
	tShl: "<<", tShr: ">>", tLAnd: "&&", tLOr: "||", tAdd: "+", tSub: "-", tMul: "*",
	tDiv: "/", tEndPred: "/", tMod: "%", tAnd: "&", tOr: "|", tXor: "^", tNot: "!",
	tTilde: "~", tInc: "++", tDec: "--",
	tIf: "if", tElse: "else", tWhile: "while", tFor: "for", tUnroll: "unroll",
	tReturn: "return", tBreak: "break", tContinue: "continue", tLet: "let",
	tConfig: "config", tMacro: "macro", tSizeof: "sizeof", tOffsetof: "offsetof", tStruct: "struct",
	tUnion: "union", tEnum: "enum", tTrue: "true", tFalse: "false",
}

var keywords = func() map[string]kind {
	m := make(map[string]kind)
	for k := keywordBeg + 1; k < keywordEnd; k++ {
		m[kindText[k]] = k
	}
	return m
}()

// token is one lexical token. Offsets are bytes into the source; the
// parser turns them into line:column positions only for nodes and errors.
type token struct {
	kind     kind
	off, end int
	// lit is the identifier or keyword, the literal as written for integers,
	// variables, maps, directives, C definitions and attach points, and the
	// decoded value for strings.
	lit string
	// val is an integer literal's value (durations applied) or a positional
	// parameter's number.
	val uint64
	// nlAfter is set on '/' when a newline separates it from the next
	// token: inside a predicate such a '/' closes it (see parsePredicate).
	nlAfter bool
	// provider and parts split a tAttach (quotes removed).
	provider string
	parts    []string
}

// describe names a token in an error message: "')'", "identifier 'foo'",
// "end of file".
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tIllegal:
		return "invalid input"
	case tIdent:
		return "identifier '" + t.lit + "'"
	case tInt:
		return "integer '" + t.lit + "'"
	case tString:
		s := t.lit
		if len(s) > 24 {
			s = s[:24] + "..."
		}
		return "string " + strconv.Quote(s)
	case tVar:
		return "variable '" + t.lit + "'"
	case tMap:
		return "map '" + t.lit + "'"
	case tParam, tParamCount:
		return "parameter '" + t.lit + "'"
	case tDirective:
		return "preprocessor directive"
	case tCDef:
		return "C definition"
	case tAttach:
		return "attach point '" + t.lit + "'"
	}
	if t.kind > keywordBeg && t.kind < keywordEnd {
		return "keyword '" + kindText[t.kind] + "'"
	}
	if s, ok := kindText[t.kind]; ok {
		return "'" + s + "'"
	}
	return fmt.Sprintf("token %d", t.kind)
}

// binaryPrec is the C precedence of a binary operator token; 0 for tokens
// that are not binary operators. The ternary operator sits below all of
// these and is parsed separately.
func binaryPrec(k kind) int {
	switch k {
	case tLOr:
		return 1
	case tLAnd:
		return 2
	case tOr:
		return 3
	case tXor:
		return 4
	case tAnd:
		return 5
	case tEq, tNe:
		return 6
	case tLt, tLe, tGt, tGe:
		return 7
	case tShl, tShr:
		return 8
	case tAdd, tSub:
		return 9
	case tMul, tDiv, tEndPred, tMod:
		return 10
	}
	return 0
}

// assignOps maps the assignment tokens to the operator AssignStmt records.
var assignOps = map[kind]string{
	tAssign: "=", tAddAssign: "+=", tSubAssign: "-=", tMulAssign: "*=", tDivAssign: "/=",
	tModAssign: "%=", tAndAssign: "&=", tOrAssign: "|=", tXorAssign: "^=",
	tShlAssign: "<<=", tShrAssign: ">>=",
}
