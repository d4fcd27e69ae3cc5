package parser

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/wagglebpf/waggle/lang/ast"
)

// Error is one syntax error: where it is, what is wrong, and the source
// line it is on, so that it can be shown without the source at hand.
type Error struct {
	File string
	// Pos is the first byte of the offending text, End the byte after it.
	Pos, End ast.Pos
	Msg      string
	// Line is the source line holding Pos, without its newline.
	Line string
}

// Error renders the error as bpftrace does: a "FILE:LINE:COL: error: MSG"
// line, the source line, and a caret line marking the offending span
// ("^~~~~"). Tabs in the source line are kept in the caret line so the
// caret stays under the right character in any terminal.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: error: %s\n", e.File, e.Pos.Line, e.Pos.Col, e.Msg)
	b.WriteString(e.Line)
	b.WriteByte('\n')
	b.WriteString(caretLine(e.Line, e.Pos, e.End))
	return b.String()
}

// caretLine builds the marker line for the span pos..end on line.
func caretLine(line string, pos, end ast.Pos) string {
	col := max(pos.Col-1, 0) // byte index of the caret in line
	var b strings.Builder
	lead := line[:min(col, len(line))]
	for _, r := range lead {
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	for range col - len(lead) { // past the end of the line (end of file)
		b.WriteByte(' ')
	}
	b.WriteByte('^')
	// The span continues to End on this line, or to the end of the line
	// when it runs onto the next ones.
	stop := col + 1
	switch {
	case end.Line == pos.Line && end.Col-1 > col:
		stop = end.Col - 1
	case end.Line > pos.Line:
		stop = len(line)
	}
	if stop > col+1 && col < len(line) {
		n := utf8.RuneCountInString(line[col:min(stop, len(line))])
		b.WriteString(strings.Repeat("~", max(n-1, 0)))
	}
	return b.String()
}

// ErrorList is the syntax errors of one script, in source order. Parse
// stops after maxErrors of them.
type ErrorList []*Error

// Error renders every error, separated by newlines.
func (l ErrorList) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Err returns l as an error, or nil when it is empty, so that an empty list
// never becomes a non-nil error interface.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// SourceLine returns the line of src that holds p, without its newline,
// for errors found after parsing (by the checker, the code generator or
// the kernel's verifier).
func SourceLine(src []byte, p ast.Pos) string {
	if p.Offset < 0 || p.Offset > len(src) {
		return ""
	}
	start := bytes.LastIndexByte(src[:p.Offset], '\n') + 1
	end := bytes.IndexByte(src[p.Offset:], '\n')
	if end < 0 {
		return string(src[start:])
	}
	return string(src[start : p.Offset+end])
}
