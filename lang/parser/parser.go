// Package parser reads scripts in waggle's tracing language, the bpftrace
// language, into syntax trees (lang/ast).
//
// The scanner and the recursive-descent parser are hand-written, after
// go/scanner and go/parser: every node carries its exact source span, and
// syntax errors are collected into an ErrorList rendered as bpftrace renders
// them (file:line:col, the source line, a caret under the offending text).
// After an error the parser resynchronises at the next statement (';' or
// '}') or the next top-level item, so one run reports several independent
// mistakes.
//
// The parser checks only the shape of a script. Names (builtins, functions,
// probe providers, config variables, map kinds) and types are the business
// of lang/sema.
package parser

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/wagglebpf/waggle/lang/ast"
)

// maxErrors is where Parse stops: beyond it, errors are mostly echoes of
// earlier ones.
const maxErrors = 10

// maxNest bounds the nesting of expressions and blocks, so that hostile
// input cannot exhaust the stack.
const maxNest = 1000

// Parse parses a script. file names it in messages ("-e", "stdin", a
// path). When the script has syntax errors, the error is an ErrorList and
// the returned program holds what could be parsed.
func Parse(file string, src []byte) (*ast.Program, error) {
	p := &parser{file: file, src: src, lastScan: -1}
	p.lines = []int{0}
	for i, c := range src {
		if c == '\n' {
			p.lines = append(p.lines, i+1)
		}
	}
	p.s = newScanner(src, p.scanError)
	p.prog = &ast.Program{Span: p.span(0, len(src)), File: file, Source: src}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(tooMany); !ok {
					panic(r)
				}
			}
		}()
		p.parseProgram()
	}()
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Pos.Offset < p.errs[j].Pos.Offset })
	return p.prog, p.errs.Err()
}

type parser struct {
	file  string
	src   []byte
	lines []int // offsets of line starts
	s     scanner
	tok   token
	// prevEnd is where the last consumed token ends: the End of the node
	// being finished.
	prevEnd int
	errs    ErrorList
	prog    *ast.Program
	// lastScan is the offset of the latest scanner error, -1 if none.
	lastScan int

	// inPred is set while parsing a predicate, where a '/' at exprLev 0
	// may close it; exprLev counts the brackets open inside it.
	inPred  bool
	exprLev int
	nest    int
}

// bailout unwinds the parser from a syntax error to the nearest point
// where it can resynchronise (a statement list or the top level).
type bailout struct{}

// tooMany unwinds the whole parse once maxErrors have been reported.
type tooMany struct{}

func (p *parser) pos(off int) ast.Pos {
	off = min(max(off, 0), len(p.src))
	i := sort.Search(len(p.lines), func(i int) bool { return p.lines[i] > off }) - 1
	return ast.Pos{Offset: off, Line: i + 1, Col: off - p.lines[i] + 1}
}

func (p *parser) span(start, end int) ast.Span {
	return ast.Span{Start: p.pos(start), End: p.pos(end)}
}

func startOf(n ast.Node) int { return n.Pos().Start.Offset }
func endOf(n ast.Node) int   { return n.Pos().End.Offset }

// lineText returns the source line numbered line (1-based) without its
// line ending.
func (p *parser) lineText(line int) string {
	start := p.lines[line-1]
	end := len(p.src)
	if line < len(p.lines) {
		end = p.lines[line] - 1
	}
	return strings.TrimSuffix(string(p.src[start:end]), "\r")
}

// scanError records a lexical error.
func (p *parser) scanError(off, end int, msg string) {
	p.lastScan = off
	p.record(off, end, msg)
}

// errorAt records a syntax error on the bytes off..end, unless it is most
// likely an echo of a lexical error: after a bad character or literal, the
// rest of its line rarely parses; after a comment that swallowed the end of
// the file, the end of the file is no news.
func (p *parser) errorAt(off, end int, msg string) {
	if p.lastScan >= 0 && off >= p.lastScan && p.pos(off).Line == p.pos(p.lastScan).Line {
		return
	}
	if p.s.swallowed && off >= p.s.eof {
		return
	}
	p.record(off, end, msg)
}

// record adds an error on the bytes off..end. A second error at the same
// place is dropped: it is the same mistake seen twice (a token rescanned,
// or a block closed by the same end of file as its parent).
func (p *parser) record(off, end int, msg string) {
	pos := p.pos(off)
	for _, e := range p.errs {
		if e.Pos.Offset == pos.Offset {
			return
		}
	}
	p.errs = append(p.errs, &Error{
		File: p.file,
		Pos:  pos,
		End:  p.pos(max(end, off)),
		Msg:  msg,
		Line: p.lineText(pos.Line),
	})
	if len(p.errs) >= maxErrors {
		panic(tooMany{})
	}
}

// errorNode records an error covering a node.
func (p *parser) errorNode(n ast.Node, msg string) {
	p.errorAt(startOf(n), endOf(n), msg)
}

// fail records an error at the current token and bails out. An illegal
// token has been reported by the scanner already.
func (p *parser) fail(msg string) {
	if p.tok.kind != tIllegal {
		p.errorAt(p.tok.off, p.tok.end, msg)
	}
	panic(bailout{})
}

// failExpected reports that the current token is not what was expected.
func (p *parser) failExpected(what string) {
	p.fail("unexpected " + p.tok.describe() + ", expected " + what)
}

// try runs f and reports whether it finished without a syntax error.
func (p *parser) try(f func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, isBailout := r.(bailout); !isBailout {
				panic(r)
			}
			ok = false
		}
	}()
	f()
	return true
}

func (p *parser) next() {
	p.prevEnd = p.tok.end
	p.tok = p.s.scan()
}

// nextTop advances to the next top-level item.
func (p *parser) nextTop() {
	p.prevEnd = p.tok.end
	p.tok = p.s.scanTop()
}

// rescanTop scans the current token again as the start of a top-level
// item: after a missing ';' the parser has read it as an expression token.
func (p *parser) rescanTop() {
	p.s.off = p.tok.off
	p.tok = p.s.scanTop()
}

// peek returns the n-th token after the current one without consuming
// anything.
func (p *parser) peek(n int) token {
	s := p.s
	s.errh = nil
	var t token
	for range n {
		t = s.scan()
	}
	return t
}

// expect consumes a token of kind k and returns it, or fails.
func (p *parser) expect(k kind) token {
	t := p.tok
	if t.kind != k {
		p.failExpected("'" + kindText[k] + "'")
	}
	p.next()
	return t
}

func (p *parser) enter() {
	p.nest++
	if p.nest > maxNest {
		p.fail("expression or block nested too deeply")
	}
}

func (p *parser) leave() { p.nest-- }

// ---- Top level

func (p *parser) parseProgram() {
	p.nextTop()
	for p.tok.kind != tEOF {
		nest := p.nest
		switch p.tok.kind {
		case tDirective:
			p.directive()
			p.nextTop()
		case tCDef:
			p.prog.CDefs = append(p.prog.CDefs, &ast.CDef{Span: p.span(p.tok.off, p.tok.end), Text: p.tok.lit})
			p.nextTop()
		case tConfig:
			p.topDecl(p.parseConfig)
		case tLet:
			p.topDecl(p.parseMapDecl)
		case tMacro:
			p.parseMacro()
		case tAttach:
			p.parseProbe()
		case tSemi, tIllegal:
			// A ';' after a top-level item is tolerated; an illegal token
			// has been reported by the scanner.
			p.nextTop()
		case tRBrace:
			p.errorAt(p.tok.off, p.tok.end, "unexpected '}': no block is open")
			p.skipJunk()
		default:
			p.errorAt(p.tok.off, p.tok.end, "unexpected "+p.tok.describe()+", expected a probe")
			p.skipJunk()
		}
		p.nest, p.inPred, p.exprLev = nest, false, 0
	}
}

// skipJunk skips top-level text that starts no item, after its error: up
// to the end of a block it opens, or to the next line, so that one stray
// word or brace yields one error.
func (p *parser) skipJunk() {
	depth := 0
	line := p.pos(p.tok.off).Line
	for p.tok.kind != tEOF {
		switch p.tok.kind {
		case tLBrace:
			depth++
		case tRBrace:
			depth--
			if depth <= 0 {
				p.nextTop()
				return
			}
		}
		p.next()
		if depth == 0 && p.pos(p.tok.off).Line != line {
			p.rescanTop()
			return
		}
	}
}

// directive files a preprocessor line: #include lines are kept apart (with
// BTF they are not needed), everything else (#define, #ifdef, ...) is C
// for the C parser.
func (p *parser) directive() {
	text := p.tok.lit
	word := strings.TrimLeft(strings.TrimPrefix(text, "#"), " \t")
	if strings.HasPrefix(word, "include") {
		p.prog.Includes = append(p.prog.Includes, text)
		return
	}
	p.prog.CDefs = append(p.prog.CDefs, &ast.CDef{Span: p.span(p.tok.off, p.tok.end), Text: text})
}

// topDecl parses a config block or map declaration, and on a syntax error
// skips to the end of it: a ';' or the '}' closing its braces.
func (p *parser) topDecl(parse func()) {
	if p.try(parse) {
		return
	}
	depth := 0
	for p.tok.kind != tEOF {
		k := p.tok.kind
		if k == tLBrace {
			depth++
		}
		if k == tRBrace {
			depth--
		}
		if k == tSemi && depth <= 0 || k == tRBrace && depth <= 0 {
			break
		}
		p.next()
	}
	p.nextTop()
}

// parseConfig parses `config = { name = value; ... }`. Values are
// expressions; lang/sema checks that they are literals or known words
// (stack_mode = perf).
func (p *parser) parseConfig() {
	kw := p.tok
	if len(p.prog.Probes) > 0 {
		p.errorAt(kw.off, kw.end, "the config block must come before the probes")
	}
	p.next()
	p.expect(tAssign)
	p.expect(tLBrace)
	for p.tok.kind != tRBrace {
		if p.tok.kind == tSemi {
			p.next()
			continue
		}
		name := p.tok
		if name.kind != tIdent {
			p.failExpected("a config variable name")
		}
		p.next()
		p.expect(tAssign)
		v := p.parseExpr()
		p.prog.Config = append(p.prog.Config, &ast.ConfigItem{
			Span: p.span(name.off, endOf(v)), Name: name.lit, Value: v,
		})
		if p.tok.kind != tSemi && p.tok.kind != tRBrace {
			p.failExpected("';' or '}'")
		}
	}
	p.nextTop()
}

// parseMapDecl parses `let @name = kind(args...);`.
func (p *parser) parseMapDecl() {
	kw := p.tok
	p.next()
	switch p.tok.kind {
	case tMap:
	case tVar:
		p.fail("scratch variables can only be declared inside a probe")
	default:
		p.failExpected("a map name")
	}
	if len(p.prog.Probes) > 0 {
		p.errorAt(kw.off, kw.end, "map declarations must come before the probes")
	}
	name := p.expect(tMap)
	p.expect(tAssign)
	if p.tok.kind != tIdent {
		p.failExpected("a map kind such as hash(1024)")
	}
	kindTok := p.tok
	p.next()
	p.expect(tLParen)
	args := p.parseArgs()
	d := &ast.MapDecl{Span: p.span(kw.off, p.prevEnd), Name: name.lit, Kind: kindTok.lit, Args: args}
	p.prog.Maps = append(p.prog.Maps, d)
	if p.tok.kind != tSemi {
		// Keep the declaration and go on with what follows as a new item.
		p.errorAt(p.tok.off, p.tok.end, "unexpected "+p.tok.describe()+", expected ';' after the map declaration")
		p.rescanTop()
		return
	}
	p.nextTop()
}

// parseMacro parses `macro name(params) { body }`. A parameter is a
// scratch variable ($x), a map (@m) or a bare name (x, an expression
// pasted where the body uses it). The body's value is its last statement
// when that is an expression without a ';' after it.
func (p *parser) parseMacro() {
	kw := p.tok
	m := &ast.Macro{}
	ok := p.try(func() {
		p.next()
		if p.tok.kind != tIdent {
			p.failExpected("a macro name")
		}
		m.Name, m.NamePos = p.tok.lit, p.span(p.tok.off, p.tok.end)
		p.next()
		p.expect(tLParen)
		for p.tok.kind != tRParen {
			switch p.tok.kind {
			case tVar, tMap, tIdent:
				m.Params = append(m.Params, &ast.MacroParam{Span: p.span(p.tok.off, p.tok.end), Name: p.tok.lit})
			default:
				p.failExpected("a macro parameter ($x, @m or a name)")
			}
			p.next()
			if p.tok.kind == tComma {
				p.next()
			} else if p.tok.kind != tRParen {
				p.failExpected("',' or ')'")
			}
		}
		p.next()
		if p.tok.kind != tLBrace {
			p.failExpected("'{' to start the macro's body")
		}
	})
	if !ok {
		for p.tok.kind != tLBrace && p.tok.kind != tEOF {
			p.next()
		}
		if p.tok.kind == tEOF {
			return
		}
	}
	m.Body = p.parseBlock(p.nextTop)
	m.Span = p.span(kw.off, endOf(m.Body))
	if n := len(m.Body.Stmts); n > 0 {
		if es, isExpr := m.Body.Stmts[n-1].(*ast.ExprStmt); isExpr {
			rest := strings.TrimLeft(string(p.src[endOf(es):endOf(m.Body)]), " \t\r\n")
			if !strings.HasPrefix(rest, ";") {
				m.Value = es.X
				m.Body.Stmts = m.Body.Stmts[:n-1]
			}
		}
	}
	if ok {
		p.prog.Macros = append(p.prog.Macros, m)
	}
}

// ---- Probes

// parseProbe parses attach points, an optional predicate and the block.
// After an error in the attach points or predicate it still parses the
// block, if one follows, so that errors inside it are reported too.
func (p *parser) parseProbe() {
	probe := &ast.Probe{}
	start := p.tok.off
	// newItem is set when the probe ends without a block and the text on
	// the next line is taken for the next top-level item.
	newItem := false
	ok := p.try(func() {
		for {
			ap := p.tok
			probe.Attach = append(probe.Attach, &ast.AttachPoint{
				Span: p.span(ap.off, ap.end), Raw: ap.lit, Provider: ap.provider, Parts: ap.parts,
			})
			p.next()
			p.checkAfterAttach(ap)
			if p.tok.kind != tComma {
				break
			}
			p.prevEnd = p.tok.end
			p.tok = p.s.scanAttachNext()
			if p.tok.kind != tAttach {
				p.failExpected("an attach point after ','")
			}
		}
		if p.tok.kind == tDiv || p.tok.kind == tEndPred {
			probe.Pred = p.parsePredicate()
		}
		if p.tok.kind != tLBrace {
			what := "',', a predicate or '{'"
			if probe.Pred != nil {
				what = "'{' after the predicate"
			}
			if p.tok.kind == tEOF || p.onLaterLine() {
				// Point where the block should have started, not at the
				// next line, which is probably fine.
				p.errorAt(p.prevEnd, p.prevEnd, "missing block: expected "+what)
				newItem = true
				return
			}
			p.failExpected(what)
		}
	})
	p.inPred, p.exprLev = false, 0
	if newItem {
		p.rescanTop()
		return
	}
	if !ok {
		for p.tok.kind != tLBrace && p.tok.kind != tEOF {
			p.next()
		}
		if p.tok.kind == tEOF {
			return
		}
	}
	probe.Body = p.parseBlock(p.nextTop)
	probe.Span = p.span(start, endOf(probe.Body))
	p.prog.Probes = append(p.prog.Probes, probe)
}

// checkAfterAttach rejects text glued to an attach point that cannot
// continue it ("kprobe:f(x)"), and explains the common bpftrace pitfall of
// a predicate written without a space after a field ("kprobe:f/pid/"),
// where the '/' became part of the attach point.
func (p *parser) checkAfterAttach(ap token) {
	switch p.tok.kind {
	case tComma, tLBrace, tDiv, tEndPred, tEOF, tIllegal:
		return
	}
	if p.onLaterLine() {
		return
	}
	if p.tok.off == ap.end {
		p.fail(fmt.Sprintf("unexpected %s in attach point '%s'", p.tok.describe(), ap.lit))
	}
	if len(ap.parts) > 0 && strings.Contains(ap.parts[len(ap.parts)-1], "/") {
		p.fail(fmt.Sprintf("unexpected %s after attach point '%s': a '/' right after a field is part of it, so put a space before the predicate", p.tok.describe(), ap.lit))
	}
}

// onLaterLine reports whether the current token starts on a later line
// than the previous one ends on.
func (p *parser) onLaterLine() bool {
	return p.pos(p.tok.off).Line > p.pos(p.prevEnd).Line
}

// parsePredicate parses /expr/. The closing '/' is the scanner's tEndPred
// (a '/' nothing can divide by), or a '/' ending its line: bpftrace would
// read such a '/' as a division by whatever starts the next line, which in
// practice is the next probe of a script whose predicate lacks a block.
func (p *parser) parsePredicate() ast.Expr {
	p.next()
	p.inPred, p.exprLev = true, 0
	x := p.parseExpr()
	p.inPred = false
	if p.tok.kind == tEndPred || p.tok.kind == tDiv && p.tok.nlAfter {
		p.next()
		return x
	}
	p.failExpected("'/' to close the predicate")
	return nil
}

// ---- Statements

// parseBlock parses { statements }. advance consumes the closing '}': the
// caller knows whether a statement or a top-level item follows.
func (p *parser) parseBlock(advance func()) *ast.Block {
	lbrace := p.expect(tLBrace)
	p.enter()
	defer p.leave()
	b := &ast.Block{}
	for p.tok.kind != tRBrace && p.tok.kind != tEOF {
		if p.tok.kind == tSemi {
			p.next()
			continue
		}
		nest := p.nest
		if !p.try(func() { b.Stmts = append(b.Stmts, p.parseStmtTerm()) }) {
			p.nest, p.inPred, p.exprLev = nest, false, 0
			p.syncStmt()
		}
	}
	if p.tok.kind == tEOF {
		lp := p.pos(lbrace.off)
		p.errorAt(p.tok.off, p.tok.end, fmt.Sprintf("unexpected end of file, expected '}' to close the block opened at %d:%d", lp.Line, lp.Col))
		b.Span = p.span(lbrace.off, p.tok.off)
		return b
	}
	b.Span = p.span(lbrace.off, p.tok.end)
	advance()
	return b
}

// syncStmt skips to the start of the next statement: past a ';', past a
// block skipped whole (the body of a broken if or loop), or to the '}'
// that closes the current block.
func (p *parser) syncStmt() {
	depth := 0
	for p.tok.kind != tEOF {
		switch p.tok.kind {
		case tSemi:
			if depth == 0 {
				p.next()
				return
			}
		case tLBrace:
			depth++
		case tRBrace:
			if depth == 0 {
				return
			}
			depth--
			if depth == 0 {
				p.next()
				return
			}
		}
		p.next()
	}
}

// parseStmtTerm parses a statement and the ';' that ends it. Compound
// statements (if, loops, blocks) need no ';', and the last statement of a
// block may omit it.
func (p *parser) parseStmtTerm() ast.Stmt {
	s := p.parseStmt()
	switch s.(type) {
	case *ast.IfStmt, *ast.WhileStmt, *ast.ForStmt, *ast.UnrollStmt, *ast.Block:
		return s
	}
	switch p.tok.kind {
	case tSemi:
		p.next()
	case tRBrace, tEOF:
	default:
		p.failExpected("';' or '}'")
	}
	return s
}

func (p *parser) parseStmt() ast.Stmt {
	switch p.tok.kind {
	case tIf:
		return p.parseIf()
	case tWhile:
		kw := p.tok
		p.next()
		cond := p.parseParenExpr()
		body := p.parseBlock(p.next)
		return &ast.WhileStmt{Span: p.span(kw.off, endOf(body)), Cond: cond, Body: body}
	case tUnroll:
		kw := p.tok
		p.next()
		n := p.parseParenExpr()
		body := p.parseBlock(p.next)
		return &ast.UnrollStmt{Span: p.span(kw.off, endOf(body)), Count: n, Body: body}
	case tFor:
		return p.parseFor()
	case tReturn, tBreak, tContinue:
		kw := p.tok
		p.next()
		j := &ast.JumpStmt{Span: p.span(kw.off, kw.end), Kind: kw.lit}
		if kw.kind == tReturn && p.tok.kind != tSemi && p.tok.kind != tRBrace && p.tok.kind != tEOF {
			j.Value = p.parseExpr()
			j.Span = p.span(kw.off, endOf(j.Value))
		}
		return j
	case tLet:
		return p.parseVarDecl()
	case tLBrace:
		return p.parseBlock(p.next)
	case tConfig:
		p.fail("the config block is only allowed at the top of the script")
	case tDirective:
		p.fail("preprocessor directives are only allowed at the top of the script")
	}
	x := p.parseExpr()
	op, ok := assignOps[p.tok.kind]
	if !ok {
		return &ast.ExprStmt{Span: x.Pos(), X: x}
	}
	p.checkAssignable(x)
	p.next()
	v := p.parseExpr()
	return &ast.AssignStmt{Span: p.span(startOf(x), endOf(v)), Target: x, Op: op, Value: v}
}

// checkAssignable reports assignment targets other than maps and scratch
// variables. It does not bail out: the statement's shape is clear, and the
// rest of the block is worth checking.
func (p *parser) checkAssignable(x ast.Expr) {
	switch x.(type) {
	case *ast.MapExpr, *ast.VarExpr:
	case *ast.TupleIndex:
		p.errorNode(x, "tuples are immutable once created; create a new tuple and assign it instead")
	default:
		p.errorNode(x, "cannot assign to this expression; only maps and scratch variables can be assigned")
	}
}

// parseParenExpr parses ( expr ) after if, while and unroll.
func (p *parser) parseParenExpr() ast.Expr {
	p.expect(tLParen)
	p.exprLev++
	x := p.parseExpr()
	p.exprLev--
	p.expect(tRParen)
	return x
}

func (p *parser) parseIf() *ast.IfStmt {
	kw := p.tok
	p.next()
	s := &ast.IfStmt{Cond: p.parseParenExpr()}
	s.Then = p.parseBlock(p.next)
	end := endOf(s.Then)
	if p.tok.kind == tElse {
		p.next()
		if p.tok.kind == tIf {
			s.Else = p.parseIf()
		} else {
			if p.tok.kind != tLBrace {
				p.failExpected("'{' or 'if' after 'else'")
			}
			s.Else = p.parseBlock(p.next)
		}
		end = endOf(s.Else)
	}
	s.Span = p.span(kw.off, end)
	return s
}

// parseFor parses for ($kv : @map) { } and for ($i : lo..hi) { }, whose
// bounds are unary expressions as in bpftrace.
func (p *parser) parseFor() *ast.ForStmt {
	kw := p.tok
	p.next()
	p.expect(tLParen)
	p.exprLev++
	if p.tok.kind != tVar {
		p.failExpected("a scratch variable")
	}
	s := &ast.ForStmt{Var: p.tok.lit, VarPos: p.span(p.tok.off, p.tok.end)}
	p.next()
	p.expect(tColon)
	x := p.parseUnary()
	if p.tok.kind == tDotDot {
		p.next()
		s.Lo, s.Hi = x, p.parseUnary()
	} else if m, ok := x.(*ast.MapExpr); ok && m.Keys == nil {
		s.Map = m
	} else if p.tok.kind == tRParen {
		p.errorNode(x, "a for loop iterates over a map (@m) or a range (lo..hi)")
		panic(bailout{})
	} else {
		p.failExpected("'..' or ')'")
	}
	p.exprLev--
	p.expect(tRParen)
	s.Body = p.parseBlock(p.next)
	s.Span = p.span(kw.off, endOf(s.Body))
	return s
}

// parseVarDecl parses let $x [: type] [= value].
func (p *parser) parseVarDecl() *ast.VarDecl {
	kw := p.tok
	p.next()
	switch p.tok.kind {
	case tVar:
	case tMap:
		p.fail("map declarations are only allowed at the top of the script")
	default:
		p.failExpected("a scratch variable")
	}
	d := &ast.VarDecl{Name: p.tok.lit}
	p.next()
	if p.tok.kind == tColon {
		p.next()
		d.Type = p.parseType()
	}
	if p.tok.kind == tAssign {
		p.next()
		d.Value = p.parseExpr()
	}
	d.Span = p.span(kw.off, p.prevEnd)
	return d
}

// ---- Expressions

// parseExpr parses an expression: a conditional (ternary) expression,
// the loosest-binding form. Assignment is a statement, not an expression.
func (p *parser) parseExpr() ast.Expr {
	cond := p.parseBinary(1)
	if p.tok.kind != tQuest {
		return cond
	}
	p.enter()
	defer p.leave()
	p.next()
	t := &ast.Ternary{Cond: cond}
	if p.tok.kind == tColon { // cond ?: else
		p.next()
	} else {
		t.Then = p.parseExpr()
		p.expect(tColon)
	}
	t.Else = p.parseExpr() // right-associative: a ? b : c ? d : e
	t.Span = p.span(startOf(cond), endOf(t.Else))
	return t
}

// parseBinary parses binary operators of precedence minPrec and above,
// left-associative, by precedence climbing.
func (p *parser) parseBinary(minPrec int) ast.Expr {
	x := p.parseUnary()
	for {
		k := p.tok.kind
		if p.inPred && p.exprLev == 0 && (k == tEndPred || k == tDiv && p.tok.nlAfter) {
			return x // the '/' closing a predicate
		}
		prec := binaryPrec(k)
		if prec == 0 || prec < minPrec {
			return x
		}
		op := kindText[k]
		p.next()
		y := p.parseBinary(prec + 1)
		x = &ast.Binary{Span: p.span(startOf(x), endOf(y)), Op: op, X: x, Y: y}
	}
}

// parseUnary parses prefix operators and casts, then a postfix
// expression.
func (p *parser) parseUnary() ast.Expr {
	p.enter()
	defer p.leave()
	switch k := p.tok.kind; k {
	case tNot, tTilde, tSub, tMul, tAnd:
		op := p.tok
		p.next()
		x := p.parseUnary()
		return &ast.Unary{Span: p.span(op.off, endOf(x)), Op: kindText[k], X: x}
	case tInc, tDec:
		op := p.tok
		p.next()
		x := p.parseUnary()
		u := &ast.Unary{Span: p.span(op.off, endOf(x)), Op: kindText[k], X: x}
		p.checkIncDec(u)
		return u
	case tLParen:
		return p.parseParenOrCast()
	}
	return p.parsePostfix(p.parsePrimary())
}

// checkIncDec reports ++ and -- on anything but a map or a scratch
// variable, in bpftrace's words.
func (p *parser) checkIncDec(u *ast.Unary) {
	switch u.X.(type) {
	case *ast.MapExpr, *ast.VarExpr:
		return
	}
	p.errorNode(u, "the "+u.Op+" operator must be applied to a map or variable")
}

// parseParenOrCast parses what starts with '(': a cast (type)x, a
// parenthesised expression, or a tuple (a, b), (a,), ().
func (p *parser) parseParenOrCast() ast.Expr {
	lp := p.tok
	if p.isCast() {
		p.next()
		t := p.parseType()
		p.expect(tRParen)
		x := p.parseUnary()
		return &ast.CastExpr{Span: p.span(lp.off, endOf(x)), To: t, X: x}
	}
	p.next()
	p.exprLev++
	var x ast.Expr
	if p.tok.kind == tRParen {
		x = &ast.TupleExpr{}
	} else {
		x = p.parseExpr()
		if p.tok.kind == tComma {
			elems := []ast.Expr{x}
			for p.tok.kind == tComma {
				p.next()
				if p.tok.kind == tRParen && len(elems) == 1 {
					break // (a,)
				}
				elems = append(elems, p.parseExpr())
			}
			x = &ast.TupleExpr{Elems: elems}
		}
	}
	if p.tok.kind != tRParen {
		if _, isTuple := x.(*ast.TupleExpr); isTuple {
			p.failExpected("',' or ')'")
		}
		p.failExpected("')'")
	}
	p.exprLev--
	// The parentheses belong to the expression's span, so that an enclosing
	// node starts at the '(' and an error under it covers them.
	setSpan(x, p.span(lp.off, p.tok.end))
	p.next()
	return p.parsePostfix(x)
}

// isCast decides whether the '(' at hand opens a cast. Type keywords and
// struct/union/enum make it one. A plain name is a typedef when '*'
// follows it ((pid_t *)x) or when, after the ')', comes something only an
// operand can be ((pid_t)arg0): "(name) $x" is no valid expression
// otherwise. Before a token that can also be a binary operator
// ("(x) - 1") a name is taken for a type only if it ends in "_t".
func (p *parser) isCast() bool {
	t1 := p.peek(1)
	switch t1.kind {
	case tStruct, tUnion, tEnum:
		return true
	case tIdent:
	default:
		return false
	}
	if isTypeWord(t1.lit) {
		return true
	}
	switch t2 := p.peek(2); t2.kind {
	case tMul:
		i := 3
		for p.peek(i).kind == tMul {
			i++
		}
		return p.peek(i).kind == tRParen
	case tRParen:
		switch p.peek(3).kind {
		case tIdent, tInt, tString, tVar, tMap, tParam, tParamCount, tNot, tTilde, tLParen,
			tTrue, tFalse, tSizeof, tOffsetof:
			return true
		case tSub, tMul, tAnd, tInc, tDec:
			return strings.HasSuffix(t1.lit, "_t")
		}
	}
	return false
}

// typeWords are names that can only start a type: bpftrace's integer,
// sized and builtin types, and the C base type words.
var typeWords = map[string]bool{
	"bool": true, "uint8": true, "uint16": true, "uint32": true, "uint64": true,
	"int8": true, "int16": true, "int32": true, "int64": true,
	"string": true, "inet": true, "buffer": true, "void": true,
	"min_t": true, "max_t": true, "sum_t": true, "count_t": true, "avg_t": true, "stats_t": true,
	"umin_t": true, "umax_t": true, "usum_t": true, "ucount_t": true, "uavg_t": true, "ustats_t": true,
	"hist_t": true, "lhist_t": true, "usym_t": true, "ksym_t": true, "timestamp": true,
	"macaddr_t": true, "cgroup_path_t": true, "strerror_t": true, "kstack_t": true,
	"ustack_t": true, "probe_t": true, "username_t": true,
	"char": true, "short": true, "int": true, "long": true, "unsigned": true, "signed": true,
	"const": true, "volatile": true,
}

// cWords combine into one C base type name: "unsigned long long".
var cWords = map[string]bool{
	"char": true, "short": true, "int": true, "long": true, "unsigned": true, "signed": true,
}

func isTypeWord(s string) bool { return typeWords[s] }

// parseType parses a type as written in casts, let declarations, sizeof
// and offsetof: a name (uint32, string, pid_t, unsigned long), struct X,
// union X or enum X; then '*'s; then an optional [N] or []. C qualifiers
// (const, volatile) are accepted and dropped: they do not change how a
// value is read.
func (p *parser) parseType() *ast.TypeExpr {
	start := p.tok.off
	for p.tok.kind == tIdent && (p.tok.lit == "const" || p.tok.lit == "volatile") {
		p.next()
	}
	t := &ast.TypeExpr{}
	switch p.tok.kind {
	case tStruct, tUnion, tEnum:
		kw := kindText[p.tok.kind]
		p.next()
		if p.tok.kind != tIdent {
			p.failExpected("a " + kw + " name")
		}
		t.Name = kw + " " + p.tok.lit
		p.next()
	case tIdent:
		if cWords[p.tok.lit] {
			var words []string
			for p.tok.kind == tIdent && (cWords[p.tok.lit] || p.tok.lit == "const" || p.tok.lit == "volatile") {
				if cWords[p.tok.lit] {
					words = append(words, p.tok.lit)
				}
				p.next()
			}
			t.Name = strings.Join(words, " ")
		} else {
			t.Name = p.tok.lit
			p.next()
		}
	default:
		p.failExpected("a type")
	}
	for p.tok.kind == tMul || p.tok.kind == tIdent && p.tok.lit == "const" {
		if p.tok.kind == tMul {
			t.Ptr++
		}
		p.next()
	}
	if p.tok.kind == tLBrack {
		p.next()
		if p.tok.kind == tRBrack {
			t.Array = ast.ArrayUnsized
		} else {
			n := p.tok
			if n.kind != tInt {
				p.failExpected("an array length")
			}
			if n.val == 0 || n.val > 1<<30 {
				p.errorAt(n.off, n.end, fmt.Sprintf("array length %s is out of range", n.lit))
			}
			t.Array = int(min(n.val, 1<<30))
			p.next()
		}
		p.expect(tRBrack)
	}
	t.Span = p.span(start, p.prevEnd)
	return t
}

// isTypeStart reports whether the current token begins a type rather than
// an expression (inside sizeof and offsetof).
func (p *parser) isTypeStart() bool {
	switch p.tok.kind {
	case tStruct, tUnion, tEnum:
		return true
	case tIdent:
		if isTypeWord(p.tok.lit) {
			return true
		}
		if p.peek(1).kind == tMul { // name * ... )
			i := 2
			for p.peek(i).kind == tMul {
				i++
			}
			return p.peek(i).kind == tRParen
		}
	}
	return false
}

func (p *parser) parsePrimary() ast.Expr {
	t := p.tok
	sp := p.span(t.off, t.end)
	switch t.kind {
	case tInt:
		p.next()
		return &ast.IntLit{Span: sp, Text: t.lit, Value: t.val}
	case tString:
		p.next()
		return &ast.StrLit{Span: sp, Value: t.lit}
	case tTrue, tFalse:
		p.next()
		return &ast.BoolLit{Span: sp, Value: t.kind == tTrue}
	case tVar:
		p.next()
		return &ast.VarExpr{Span: sp, Name: t.lit}
	case tParam:
		p.next()
		return &ast.PosParam{Span: sp, Index: int(t.val)}
	case tParamCount:
		p.next()
		return &ast.PosParam{Span: sp, Count: true}
	case tMap:
		p.next()
		m := &ast.MapExpr{Span: sp, Name: t.lit}
		if p.tok.kind == tLBrack {
			p.next()
			p.exprLev++
			for {
				m.Keys = append(m.Keys, p.parseExpr())
				if p.tok.kind != tComma {
					break
				}
				p.next()
			}
			p.exprLev--
			if p.tok.kind != tRBrack {
				p.failExpected("',' or ']'")
			}
			m.Span = p.span(t.off, p.tok.end)
			p.next()
		}
		return m
	case tIdent:
		p.next()
		if p.tok.kind != tLParen {
			return &ast.Ident{Span: sp, Name: t.lit}
		}
		p.next()
		args := p.parseArgs()
		return &ast.Call{Span: p.span(t.off, p.prevEnd), Func: t.lit, Args: args}
	case tSizeof:
		p.next()
		p.expect(tLParen)
		p.exprLev++
		s := &ast.SizeofExpr{}
		if p.isTypeStart() {
			s.OfType = p.parseType()
		} else {
			s.OfExpr = p.parseExpr()
		}
		p.exprLev--
		p.expect(tRParen)
		s.Span = p.span(t.off, p.prevEnd)
		return s
	case tOffsetof:
		return p.parseOffsetof()
	}
	p.failExpected("an expression")
	return nil
}

// parseArgs parses call arguments after the '(' up to and including the
// ')'.
func (p *parser) parseArgs() []ast.Expr {
	var args []ast.Expr
	p.exprLev++
	if p.tok.kind != tRParen {
		for {
			args = append(args, p.parseExpr())
			if p.tok.kind != tComma {
				break
			}
			p.next()
		}
	}
	p.exprLev--
	if p.tok.kind != tRParen {
		p.failExpected("',' or ')'")
	}
	p.next()
	return args
}

// parseOffsetof parses offsetof(struct T, f.g) and offsetof(expr, f.g).
func (p *parser) parseOffsetof() ast.Expr {
	kw := p.tok
	p.next()
	p.expect(tLParen)
	p.exprLev++
	o := &ast.OffsetofExpr{}
	if p.isTypeStart() {
		o.Of = p.parseType()
	} else {
		o.OfExpr = p.parseExpr()
	}
	p.expect(tComma)
	for {
		o.Field = append(o.Field, p.fieldName())
		if p.tok.kind != tDot {
			break
		}
		p.next()
	}
	p.exprLev--
	p.expect(tRParen)
	o.Span = p.span(kw.off, p.prevEnd)
	return o
}

// fieldName reads a field name after '.', '->' or in offsetof. Keywords
// are valid field names (a struct may have a member called "config").
func (p *parser) fieldName() string {
	t := p.tok
	if t.kind != tIdent && !(t.kind > keywordBeg && t.kind < keywordEnd) {
		p.failExpected("a field name")
	}
	p.next()
	return t.lit
}

func (p *parser) parsePostfix(x ast.Expr) ast.Expr {
	for {
		switch p.tok.kind {
		case tDot:
			p.next()
			if p.tok.kind == tInt {
				t := p.tok
				n, err := strconv.Atoi(t.lit)
				if err != nil || n < 0 {
					p.fail(fmt.Sprintf("invalid tuple index '%s'", t.lit))
				}
				p.next()
				x = &ast.TupleIndex{Span: p.span(startOf(x), t.end), X: x, Index: n}
				continue
			}
			name := p.fieldName()
			x = &ast.FieldExpr{Span: p.span(startOf(x), p.prevEnd), X: x, Field: name}
		case tArrow:
			p.next()
			name := p.fieldName()
			x = &ast.FieldExpr{Span: p.span(startOf(x), p.prevEnd), X: x, Field: name, Arrow: true}
		case tLBrack:
			p.next()
			p.exprLev++
			i := p.parseExpr()
			p.exprLev--
			rb := p.expect(tRBrack)
			x = &ast.IndexExpr{Span: p.span(startOf(x), rb.end), X: x, Index: i}
		case tInc, tDec:
			op := p.tok
			p.next()
			u := &ast.Unary{Span: p.span(startOf(x), op.end), Op: kindText[op.kind], X: x, Postfix: true}
			p.checkIncDec(u)
			x = u
		default:
			return x
		}
	}
}

// setSpan widens an expression's span to include the parentheses around
// it.
func setSpan(x ast.Expr, s ast.Span) {
	switch x := x.(type) {
	case *ast.IntLit:
		x.Span = s
	case *ast.StrLit:
		x.Span = s
	case *ast.BoolLit:
		x.Span = s
	case *ast.VarExpr:
		x.Span = s
	case *ast.MapExpr:
		x.Span = s
	case *ast.PosParam:
		x.Span = s
	case *ast.Ident:
		x.Span = s
	case *ast.Call:
		x.Span = s
	case *ast.Unary:
		x.Span = s
	case *ast.Binary:
		x.Span = s
	case *ast.Ternary:
		x.Span = s
	case *ast.FieldExpr:
		x.Span = s
	case *ast.IndexExpr:
		x.Span = s
	case *ast.TupleIndex:
		x.Span = s
	case *ast.TupleExpr:
		x.Span = s
	case *ast.CastExpr:
		x.Span = s
	case *ast.SizeofExpr:
		x.Span = s
	case *ast.OffsetofExpr:
		x.Span = s
	}
}
