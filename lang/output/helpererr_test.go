package output

import (
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/lang/ast"
)

func TestHelperError(t *testing.T) {
	line := "BEGIN { printf(\"%d\\n\", *$p); }"
	start := strings.Index(line, "*$p")
	span := ast.Span{Start: ast.Pos{Line: 1, Col: start + 1}, End: ast.Pos{Line: 1, Col: start + 4}}
	var out, errw strings.Builder
	p := &Printer{Out: &out, Err: &errw}
	if err := p.HelperError("probe_read_kernel", -14, "stdin", span, line); err != nil {
		t.Fatal(err)
	}
	want := "stdin:1:24-27: WARNING: Failed to probe_read_kernel: Bad address (-14)\n" + line + "\n" + strings.Repeat(" ", start) + "~~~\n"
	if errw.String() != want || out.Len() != 0 {
		t.Errorf("text:\n%q\nwant\n%q (stdout %q)", errw.String(), want, out.String())
	}
	out.Reset()
	errw.Reset()
	p.JSON = true
	if err := p.HelperError("map_delete_elem", -2, "stdin", span, line); err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"type": "helper_error", "helper": "map_delete_elem", "retcode": -2, "line": 1, "col": 24}` + "\n"
	if out.String() != wantJSON || errw.Len() != 0 {
		t.Errorf("json: %q, want %q", out.String(), wantJSON)
	}
}
