package output

import (
	"fmt"
	"io"
	"strings"

	"github.com/wagglebpf/waggle/lang/ast"
)

// HelperError reports a helper call that failed at run time (-k), as
// bpftrace does. In text, on Err:
//
//	stdin:1:41-44: WARNING: Failed to probe_read_kernel: Bad address (-14)
//	BEGIN { printf("%d\n", *$p); }
//	                       ~~~
//
// and in JSON, on Out:
//
//	{"type": "helper_error", "helper": "probe_read_kernel", "retcode": -14, "line": 1, "col": 41}
//
// file names the script, span is the call's place in it and line the
// source line holding its start.
func (p *Printer) HelperError(helper string, code int, file string, span ast.Span, line string) error {
	if p.JSON {
		b := []byte(`{"type": "helper_error", "helper": `)
		b = appendJSONString(b, helper)
		b = fmt.Appendf(b, `, "retcode": %d, "line": %d, "col": %d}`+"\n", code, span.Start.Line, span.Start.Col)
		_, err := p.out().Write(b)
		return err
	}
	end := span.End.Col
	if span.End.Line != span.Start.Line || end <= span.Start.Col {
		end = len(line) + 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d-%d: WARNING: Failed to %s: %s (%d)\n", file, span.Start.Line, span.Start.Col, end, helper, Strerror(int64(-code)), code)
	b.WriteString(line)
	b.WriteByte('\n')
	for i, r := range line {
		if i >= end-1 {
			break
		}
		switch {
		case i >= span.Start.Col-1:
			b.WriteByte('~')
		case r == '\t':
			b.WriteByte('\t')
		default:
			b.WriteByte(' ')
		}
	}
	b.WriteByte('\n')
	_, err := io.WriteString(p.err(), b.String())
	return err
}
