package output

import (
	"strconv"
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/lang/ast"
)

type convCase struct {
	format string
	arg    any // int (as int64), string, bool, or []any for a tuple
	want   string
}

func printfValue(t *testing.T, arg any) Value {
	t.Helper()
	switch v := arg.(type) {
	case int:
		return Value{Type: tI64, Data: enc(tI64, v)}
	case string:
		st := tStr(len(v) + 1)
		return Value{Type: st, Data: enc(st, v)}
	case bool:
		return Value{Type: tBool, Data: enc(tBool, v)}
	case []any:
		tt := tTuple(tI64, tStr(4))
		return Value{Type: tt, Data: enc(tt, v)}
	}
	t.Fatalf("no value for %T", arg)
	return Value{}
}

func runPrintf(t *testing.T, cases []convCase) {
	t.Helper()
	for _, c := range cases {
		var args []Value
		if c.arg != nil {
			args = []Value{printfValue(t, c.arg)}
		}
		got, err := Sprintf(c.format, args)
		if err != nil {
			t.Errorf("Sprintf(%q, %v): %v", c.format, c.arg, err)
			continue
		}
		if got != c.want {
			t.Errorf("Sprintf(%q, %v) = %q, want %q", c.format, c.arg, got, c.want)
		}
	}
}

// TestPrintfLikeC lists conversions where current bpftrace and C's printf
// agree. The expectations were checked against glibc's printf, compiled
// with gcc, with each argument converted to the conversion's C type as a
// 64-bit machine does (%d of 3000000000 is printf("%d", (int)3000000000)).
func TestPrintfLikeC(t *testing.T) {
	const big = 0x12345678abcdef
	runPrintf(t, []convCase{
		{"%d", 42, "42"},
		{"%d", -42, "-42"},
		{"%d", 3000000000, "-1294967296"},
		{"%i", -7, "-7"},
		{"%u", -1, "4294967295"},
		{"%u", 42, "42"},
		{"%x", -1, "ffffffff"},
		{"%X", 255, "FF"},
		{"%o", 8, "10"},
		{"%lx", -1, "ffffffffffffffff"},
		{"%lu", -1, "18446744073709551615"},
		{"%ld", -1, "-1"},
		{"%lld", 3000000000, "3000000000"},
		{"%llu", 3000000000, "3000000000"},
		{"%hd", 70000, "4464"},
		{"%hu", -1, "65535"},
		{"%hhd", 300, "44"},
		{"%hhu", -1, "255"},
		{"%hhx", big, "ef"},
		{"%hx", big, "cdef"},
		{"%x", big, "78abcdef"},
		{"%jx", big, "12345678abcdef"},
		{"%zu", -1, "18446744073709551615"},
		{"%5d", 42, "   42"},
		{"%-5d|", 42, "42   |"},
		{"%05d", 42, "00042"},
		{"%+d", 5, "+5"},
		{"%+d", -5, "-5"},
		{"%+d", 0, "+0"},
		{"%#x", 255, "0xff"},
		{"%#X", 255, "0XFF"},
		{"%#o", 8, "010"},
		{"%#x", 0, "0"},
		{"%#o", 0, "0"},
		{"%08x", 255, "000000ff"},
		{"%c", 65, "A"},
		{"%3c", 65, "  A"},
		{"%-3c|", 65, "A  |"},
		{"%s", "abc", "abc"},
		{"%10s", "abc", "       abc"},
		{"%-10s|", "abc", "abc       |"},
		{"[%%]", nil, "[%]"},
		{"%x", 0, "0"},
		{"%lu", 0, "0"},
		{"%+u", 5, "5"},
		{"%#5x", 255, " 0xff"},
		{"%-#8x|", 255, "0xff    |"},
		{"%+5d", 42, "  +42"},
		{"plain text", nil, "plain text"},
	})
	ptr := Value{Type: tPtr, Data: enc(tPtr, 4096)}
	for format, want := range map[string]string{"%p": "0x1000", "%10p": "    0x1000"} {
		if got, err := Sprintf(format, []Value{ptr}); err != nil || got != want {
			t.Errorf("Sprintf(%q, 4096 as a pointer) = %q, %v; want %q", format, got, err, want)
		}
	}
}

// TestPrintfBpftrace lists what current bpftrace prints where C would
// print something else (the C result in the comment), because bpftrace
// formats with C++ streams; and what C has no conversion for.
func TestPrintfBpftrace(t *testing.T) {
	runPrintf(t, []convCase{
		{"%05d", -42, "00-42"},       // C: -0042
		{"%+05d", 42, "00+42"},       // C: +0042
		{"%-05d|", 42, "42000|"},     // C: 42   |
		{"%#08x", 255, "00000xff"},   // C: 0x0000ff
		{"%.3d", 5, "5"},             // C: 005
		{"% d", 7, "7"},              // C:  7
		{"%.2s", "abcdef", "abcdef"}, // C: ab
		{"%5%|", nil, "%|"},          // one literal %
		{"%s", 42, "42"},             // C: undefined
		{"%s", -42, "-42"},           //
		{"%+s", 42, "+42"},           // the stream's showpos applies
		{"%s", true, "true"},         //
		{"%d", true, "1"},            //
		{"%x", false, "0"},           //
		{"%s", []any{1, "ab"}, "(1, ab)"},
		{"%10s|", []any{1, "ab"}, "         (1, ab)|"}, // the width pads the first write only
	})
	// Flags out of bpftrace's order do not make a conversion.
	if got, err := Sprintf("%+-d", nil); err != nil || got != "%+-d" {
		t.Errorf(`Sprintf("%%+-d") = %q, %v; want the text itself`, got, err)
	}
	// A null pointer is 0 (C: (nil)).
	null := Value{Type: tPtr, Data: enc(tPtr, 0)}
	if got, _ := Sprintf("%p", []Value{null}); got != "0" {
		t.Errorf("%%p of null = %q, want 0", got)
	}
	// A string that fills its buffer was cut short, and says so.
	full := Value{Type: tStr(4), Data: []byte("abcd")}
	if got, _ := Sprintf("%s", []Value{full}); got != "abcd"+TruncTrailer {
		t.Errorf("%%s of a full buffer = %q", got)
	}
	// A conversion that cannot take its value says why in its place.
	s := printfValue(t, "abc")
	if got, err := Sprintf("<%d>", []Value{s}); err != nil || got != "<!{invalid integer conversion: abc}>" {
		t.Errorf("%%d of a string = %q, %v", got, err)
	}
	// Buffers.
	b := bufValue(6, "Hi\x00\xff\n!")
	for format, want := range map[string]string{
		"%r":  `Hi\x00\xff\x0a!`,
		"%rx": `\x48\x69\x00\xff\x0a\x21`,
		"%rh": "48 69 00 ff 0a 21",
		"%s":  `Hi\x00\xff\x0a!`,
	} {
		if got, err := Sprintf(format, []Value{b}); err != nil || got != want {
			t.Errorf("Sprintf(%q, buffer) = %q, %v; want %q", format, got, err, want)
		}
	}
}

func TestPrintfIntWidths(t *testing.T) {
	// A checked int32 prints as an int32 whatever the upper bytes of its
	// 8-byte slot hold.
	v := Value{Type: tI32, Data: slots(0x1_ffff_fffe)}
	for format, want := range map[string]string{"%d": "-2", "%ld": "-2", "%lu": "18446744073709551614", "%s": "-2"} {
		if got, _ := Sprintf(format, []Value{v}); got != want {
			t.Errorf("Sprintf(%q, int32 -2) = %q, want %q", format, got, want)
		}
	}
	u8 := Value{Type: ast.Uint8, Data: slots(0x1ff)}
	if got, _ := Sprintf("%d %s", []Value{u8, u8}); got != "255 255" {
		t.Errorf("uint8 0xff = %q", got)
	}
}

func TestPrintfErrors(t *testing.T) {
	if _, err := Sprintf("%d %d", []Value{printfValue(t, 1)}); err == nil || !strings.Contains(err.Error(), "not enough arguments") {
		t.Errorf("too few arguments: %v", err)
	}
	short := Value{Type: tI64, Data: []byte{1, 2}}
	if _, err := Sprintf("%d", []Value{short}); err == nil {
		t.Error("short argument: no error")
	}
}

func TestCheckFormat(t *testing.T) {
	buf := &ast.Type{Kind: ast.KindBuffer, Size: 8}
	ksym := &ast.Type{Kind: ast.KindKsym}
	for _, c := range []struct {
		format string
		args   []*ast.Type
		want   string // "" for no error
	}{
		{"%d %s %u %x %c %p\n", []*ast.Type{tI64, tStr(16), tBool, tI32, ast.Uint8, tPtr}, ""},
		{"%s %s %s", []*ast.Type{tTuple(tI64), tBool, ksym}, ""},
		{"%r %rx %rh", []*ast.Type{buf, buf, buf}, ""},
		{"100%% done\n", nil, ""},
		{"%-10s|%5d|%05lu|%#llx", []*ast.Type{tStr(8), tI64, tU64, tU64}, ""},
		{"%d %d", []*ast.Type{tI64}, "not enough arguments for format string (1 supplied, 2 expected)"},
		{"%d", []*ast.Type{tI64, tI64}, "too many arguments for format string (2 supplied, 1 expected)"},
		{"%%", []*ast.Type{tI64}, "too many arguments for format string (1 supplied, 0 expected)"},
		{"%d", []*ast.Type{tStr(16)}, "unsupported format specifier for type 'string[16]': d"},
		{"%x", []*ast.Type{tTuple(tI64, tStr(4))}, "unsupported format specifier for type '(int64,string[4])': x"},
		{"%c", []*ast.Type{ksym}, "unsupported format specifier for type 'ksym_t': c"},
		{"%r", []*ast.Type{tI64}, "unsupported format specifier for type 'int64': r"},
		{"%f", []*ast.Type{tI64}, "unsupported format specifier: f"},
		{"%n", []*ast.Type{tI64}, "unsupported format specifier: n"},
		{"%d", []*ast.Type{ast.None}, "unable to print none type for specifier: d"},
		{"%99999999d", []*ast.Type{tI64}, "field width or precision of %d is larger than 65536"},
		// Not conversions, so no arguments: %y, a lone %, flags out of order.
		{"%y %+-d 5%", nil, ""},
	} {
		err := CheckFormat(c.format, c.args)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("CheckFormat(%q): %v", c.format, err)
		case c.want != "" && (err == nil || err.Error() != c.want):
			t.Errorf("CheckFormat(%q) = %v, want %q", c.format, err, c.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for format, want := range map[string]string{
		"a%db":           "a|d{}|b",
		"%-+ #05.3lld":   "|d{- + _ # 0 w5 p3 ll}|",
		"%*.*d":          "|d{}|",
		"%rhx %rx %r":    "|rh{}|x |rx{}| |r{}|",
		"%% %5%%d":       "% %|d{}|",
		"%.d %":          "%.d %",
		"%hhu%zu%jd%td":  "|u{hh}||u{z}||d{j}||d{t}|",
		"%Lf %lle":       "|f{L}| |e{ll}|",
		"x%":             "x%",
		"%-":             "%-",
		"%10":            "%10",
		"%ls%#-x":        "|s{l}|%#-x",
		"tab\there\n%c.": "tab\there\n|c{}|.",
	} {
		fs := parseFormat(format)
		var b strings.Builder
		for i, sp := range fs.specs {
			b.WriteString(fs.frags[i])
			b.WriteString("|" + sp.conv + "{")
			var parts []string
			for _, f := range []struct {
				on bool
				s  string
			}{{sp.left, "-"}, {sp.plus, "+"}, {sp.space, "_"}, {sp.alt, "#"}, {sp.zero, "0"}} {
				if f.on {
					parts = append(parts, f.s)
				}
			}
			if sp.width > 0 {
				parts = append(parts, "w"+strconv.Itoa(sp.width))
			}
			if sp.prec >= 0 {
				parts = append(parts, "p"+strconv.Itoa(sp.prec))
			}
			if sp.length != "" {
				parts = append(parts, sp.length)
			}
			b.WriteString(strings.Join(parts, " ") + "}|")
		}
		b.WriteString(fs.frags[len(fs.frags)-1])
		if got := b.String(); got != want {
			t.Errorf("parseFormat(%q) = %q, want %q", format, got, want)
		}
	}
}
