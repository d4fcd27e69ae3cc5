package parser

import (
	"errors"
	"testing"

	"github.com/wagglebpf/waggle/lang/ast"
)

func TestErrorRendering(t *testing.T) {
	pos := func(line, col int) ast.Pos { return ast.Pos{Line: line, Col: col} }
	tests := []struct {
		e    Error
		want string
	}{
		{
			Error{File: "script.bt", Pos: pos(3, 16), End: pos(3, 17), Msg: "unexpected ';', expected an expression", Line: "    @x = count(;"},
			"script.bt:3:16: error: unexpected ';', expected an expression\n    @x = count(;\n               ^",
		},
		{ // tabs are kept so that the caret lines up
			Error{File: "-e", Pos: pos(2, 7), End: pos(2, 12), Msg: "m", Line: "\t\t@x = 12abc;"},
			"-e:2:7: error: m\n\t\t@x = 12abc;\n\t\t    ^~~~~",
		},
		{ // a span running onto later lines is marked to the end of its first
			Error{File: "f", Pos: pos(1, 5), End: pos(3, 1), Msg: "m", Line: "abc def"},
			"f:1:5: error: m\nabc def\n    ^~~",
		},
		{ // the end of file, past the last character
			Error{File: "f", Pos: pos(1, 8), End: pos(1, 8), Msg: "m", Line: "BEGIN {"},
			"f:1:8: error: m\nBEGIN {\n       ^",
		},
		{ // multi-byte characters count once in the caret line
			Error{File: "f", Pos: pos(1, 6), End: pos(1, 13), Msg: "m", Line: "é = \"héé\""},
			"f:1:6: error: m\né = \"héé\"\n    ^~~~~",
		},
		{ // nonsense positions do not panic
			Error{File: "f", Pos: pos(1, 0), End: pos(0, 99), Msg: "m", Line: ""},
			"f:1:0: error: m\n\n^",
		},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got\n%s\nwant\n%s", got, tt.want)
		}
	}
}

func TestErrorList(t *testing.T) {
	var empty ErrorList
	if empty.Err() != nil {
		t.Error("empty list is a non-nil error")
	}
	_, err := Parse("x.bt", []byte("BEGIN { @a = ; @b = ; }"))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("got %v", err)
	}
	want := "x.bt:1:14: error: unexpected ';', expected an expression\n" +
		"BEGIN { @a = ; @b = ; }\n" +
		"             ^\n" +
		"x.bt:1:21: error: unexpected ';', expected an expression\n" +
		"BEGIN { @a = ; @b = ; }\n" +
		"                    ^"
	if err.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", err, want)
	}
}
