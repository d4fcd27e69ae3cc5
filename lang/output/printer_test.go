package output

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
)

func newPrinter(json bool, prog *Program) (*Printer, *bytes.Buffer, *bytes.Buffer) {
	var out, errs bytes.Buffer
	return &Printer{Out: &out, Err: &errs, JSON: json, Program: prog}, &out, &errs
}

func TestRecordActions(t *testing.T) {
	s16 := tStr(16)
	prog := &Program{
		Formats: []Format{
			{Text: "/proc/%d/status", Args: []*ast.Type{tI64}},
			{Text: "echo %s", Args: []*ast.Type{s16}},
		},
		Maps: []MapInfo{{Name: "@a", Value: tCount}, {Name: "@b", Key: tI64, Value: tHist}},
	}
	for _, c := range []struct {
		rec  []byte
		want Action
	}{
		{record(layout.RecordExit, 3), Action{Kind: layout.RecordExit, Exit: true, Code: 3}},
		{record(layout.RecordExit, uint64(1<<64-1)), Action{Kind: layout.RecordExit, Exit: true, Code: -1}},
		{record(layout.RecordPrint, 1), Action{Kind: layout.RecordPrint, Map: 1}},
		{record(layout.RecordPrint, 1, slots(5, 100)), Action{Kind: layout.RecordPrint, Map: 1, Top: 5, Div: 100}},
		{record(layout.RecordClear, 0), Action{Kind: layout.RecordClear}},
		{record(layout.RecordZero, 1), Action{Kind: layout.RecordZero, Map: 1}},
		{record(layout.RecordCat, 0, enc(tI64, 42)), Action{Kind: layout.RecordCat, Text: "/proc/42/status"}},
		{record(layout.RecordSystem, 1, enc(s16, "hi there")), Action{Kind: layout.RecordSystem, Text: "echo hi there"}},
	} {
		p, out, errs := newPrinter(false, prog)
		got, err := p.Record(c.rec)
		if err != nil {
			t.Errorf("%v: %v", c.want, err)
			continue
		}
		if got != c.want {
			t.Errorf("Record = %+v, want %+v", got, c.want)
		}
		if out.Len()+errs.Len() > 0 {
			t.Errorf("%v printed %q %q", c.want.Kind, out, errs)
		}
	}
}

func TestRecordErrors(t *testing.T) {
	prog := &Program{
		Formats: []Format{{Text: "%d %s\n", Args: []*ast.Type{tI64, tStr(8)}}},
		Maps:    []MapInfo{{Name: "@a", Value: tCount}},
		Values:  []*ast.Type{tI64},
	}
	for name, rec := range map[string][]byte{
		"empty":          nil,
		"short kind":     {1, 2, 3},
		"short header":   slots(int64(layout.RecordPrintf)),
		"unknown kind":   record(99, 0),
		"kind zero":      record(0, 0),
		"format index":   record(layout.RecordPrintf, 1, args(prog.Formats[0].Args, 1, "x")),
		"short args":     record(layout.RecordPrintf, 0, enc(tI64, 1)),
		"map index":      record(layout.RecordPrint, 1),
		"clear index":    record(layout.RecordClear, 1<<40),
		"time index":     record(layout.RecordTime, 3),
		"value index":    record(layout.RecordPrintValue, 1, enc(tI64, 1)),
		"short value":    record(layout.RecordPrintValue, 0, []byte{1}),
		"cat index":      record(layout.RecordCat, 9),
		"system no args": record(layout.RecordSystem, 0),
	} {
		p, out, _ := newPrinter(false, prog)
		if _, err := p.Record(rec); !errors.Is(err, ErrRecord) {
			t.Errorf("%s: error %v, want ErrRecord", name, err)
		}
		if out.Len() > 0 {
			t.Errorf("%s: printed %q", name, out)
		}
	}
	// Without a program, records that need one are errors too.
	p, _, _ := newPrinter(false, nil)
	if _, err := p.Record(record(layout.RecordPrintf, 0)); !errors.Is(err, ErrRecord) {
		t.Errorf("no program: %v", err)
	}
	if a, err := p.Record(record(layout.RecordExit, 0)); err != nil || !a.Exit {
		t.Errorf("exit without a program: %+v, %v", a, err)
	}
}

func TestMessages(t *testing.T) {
	for _, c := range []struct {
		json      bool
		call      func(p *Printer) error
		out, errs string
	}{
		{false, func(p *Printer) error { return p.AttachedProbes(1) }, "", "Attached 1 probe\n"},
		{false, func(p *Printer) error { return p.AttachedProbes(3) }, "", "Attached 3 probes\n"},
		{true, func(p *Printer) error { return p.AttachedProbes(3) }, `{"type": "attached_probes", "count": 3, "data": {"probes": 3}}` + "\n", ""},
		{false, func(p *Printer) error { return p.LostEvents(12) }, "", "Lost 12 events\n"},
		{true, func(p *Printer) error { return p.LostEvents(12) }, `{"type": "lost_events", "count": 12, "data": {"events": 12}}` + "\n", ""},
		{false, func(p *Printer) error { return p.End() }, "\n\n", ""},
		{true, func(p *Printer) error { return p.End() }, "", ""},
		{false, func(p *Printer) error { return p.Cat("12.5 3.1\n") }, "12.5 3.1\n", ""},
		{true, func(p *Printer) error { return p.Cat("12.5 3.1\n") }, `{"type": "cat", "data": "12.5 3.1\n"}` + "\n", ""},
		{false, func(p *Printer) error { return p.System("a b c\n") }, "a b c\n\n", ""},
		{true, func(p *Printer) error { return p.System("a b c\n") }, `{"type": "syscall", "data": "a b c\n"}` + "\n", ""},
		{true, func(p *Printer) error { return p.Printf("test %d", []Value{printfValue(t, 5)}) }, `{"type": "printf", "data": "test 5"}` + "\n", ""},
		{true, func(p *Printer) error {
			return p.Printf("test \r \n \t \\ \" bar\x01", nil)
		}, `{"type": "printf", "data": "test \r \n \t \\ \" bar\u0001"}` + "\n", ""},
		{true, func(p *Printer) error { return p.Value(printfValue(t, []any{1, "ab"})) }, `{"type": "value", "data": [1,"ab"]}` + "\n", ""},
		{true, func(p *Printer) error { return p.Value(printfValue(t, true)) }, `{"type": "value", "data": true}` + "\n", ""},
		{false, func(p *Printer) error { return p.Value(printfValue(t, "héllo")) }, "héllo\n", ""},
		{true, func(p *Printer) error { return p.Value(printfValue(t, "héllo")) }, `{"type": "value", "data": "héllo"}` + "\n", ""},
	} {
		p, out, errs := newPrinter(c.json, nil)
		if err := c.call(p); err != nil {
			t.Error(err)
		}
		if out.String() != c.out || errs.String() != c.errs {
			t.Errorf("got %q / %q, want %q / %q", out, errs, c.out, c.errs)
		}
	}
	// Nil writers discard.
	p := &Printer{}
	if err := p.AttachedProbes(1); err != nil {
		t.Error(err)
	}
}

func TestTime(t *testing.T) {
	long := strings.Repeat("x", MaxTimeLen)
	prog := &Program{Formats: []Format{{Text: "%H:%M\n"}, {Text: long}, {Text: long[1:]}, {Text: ""}}}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p, out, errs := newPrinter(false, prog)
	p.Now = func() time.Time { return now }
	for i := range 4 {
		if _, err := p.Record(record(layout.RecordTime, uint64(i))); err != nil {
			t.Fatal(err)
		}
	}
	// strftime(3) into bpftrace's 64-byte buffer fails for 64 bytes and
	// more, and for an empty result.
	if want := "03:04\n" + long[1:]; out.String() != want {
		t.Errorf("out = %q, want %q", out, want)
	}
	if want := strings.Repeat("WARNING: strftime returned 0\n", 2); errs.String() != want {
		t.Errorf("err = %q, want %q", errs, want)
	}
}

func TestStrftime(t *testing.T) {
	// Expectations from glibc's strftime(3), through Python's time.strftime,
	// for the same instants in UTC (which glibc's gmtime calls GMT).
	gmt := time.FixedZone("GMT", 0)
	for _, c := range []struct {
		t      time.Time
		format string
		want   string
	}{
		{time.Date(2026, 3, 7, 15, 4, 5, 0, gmt), "%a %A %b %B %h", "Sat Saturday Mar March Mar"},
		{time.Date(2026, 3, 7, 15, 4, 5, 0, gmt), "%c", "Sat Mar  7 15:04:05 2026"},
		{time.Date(2026, 3, 7, 15, 4, 5, 0, gmt), "%C %d %D %e %F", "20 07 03/07/26  7 2026-03-07"},
		{time.Date(2026, 3, 7, 15, 4, 5, 0, gmt), "%g %G %V", "26 2026 10"},
		{time.Date(2026, 3, 7, 15, 4, 5, 0, gmt), "%H %I %j %k %l", "15 03 066 15  3"},
		{time.Date(2026, 3, 7, 15, 4, 5, 0, gmt), "%m %M %n %p %r %R", "03 04 \n PM 03:04:05 PM 15:04"},
		{time.Date(2026, 3, 7, 15, 4, 5, 0, gmt), "%s %S %t %T", "1772895845 05 \t 15:04:05"},
		{time.Date(2026, 3, 7, 15, 4, 5, 0, gmt), "%u %U %w %W", "6 09 6 09"},
		{time.Date(2026, 3, 7, 15, 4, 5, 0, gmt), "%x %X %y %Y %z %Z %%", "03/07/26 15:04:05 26 2026 +0000 GMT %"},
		{time.Date(2026, 3, 7, 15, 4, 5, 0, gmt), "%-d %-m %_H %03d %^a %#b %10Y %-e %Ey %Od", "7 3 15 007 SAT MAR 0000002026 7 26 07"},
		{time.Date(2026, 3, 7, 15, 4, 5, 0, gmt), "%q %", "%q %"},
		{time.Date(2026, 3, 7, 15, 4, 5, 0, gmt), "%5S", "00005"},
		{time.Date(2026, 3, 7, 15, 4, 5, 0, gmt), "%_5d|%-5d|", "    7|    7|"},
		{time.Date(2021, 1, 1, 0, 0, 9, 0, gmt), "%g %G %V", "20 2020 53"},
		{time.Date(2021, 1, 1, 0, 0, 9, 0, gmt), "%H %I %j %k %l", "00 12 001  0 12"},
		{time.Date(2021, 1, 1, 0, 0, 9, 0, gmt), "%m %M %n %p %r %R", "01 00 \n AM 12:00:09 AM 00:00"},
		{time.Date(2021, 1, 1, 0, 0, 9, 0, gmt), "%u %U %w %W", "5 00 5 00"},
		{time.Date(2021, 1, 1, 0, 0, 9, 0, gmt), "%-d %-m %_H %03d %^a %#b", "1 1  0 001 FRI JAN"},
		{time.Date(2021, 1, 1, 0, 0, 9, 0, time.FixedZone("X", -(5*3600+30*60))), "%z", "-0530"},
	} {
		if got := Strftime(c.format, c.t); got != c.want {
			t.Errorf("Strftime(%q) = %q, want %q", c.format, got, c.want)
		}
	}
}

func printText(t *testing.T, m Map, top, div uint64) string {
	t.Helper()
	p, out, _ := newPrinter(false, nil)
	if err := p.PrintMap(m, top, div); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func printJSON(t *testing.T, m Map, top, div uint64) string {
	t.Helper()
	p, out, _ := newPrinter(true, nil)
	if err := p.PrintMap(m, top, div); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestMapOrder(t *testing.T) {
	// min and max sort as unsigned numbers even when signed: bpftrace's
	// comparison puts -3 after 5.
	mn := Map{Name: "mn", Key: tI64, Value: tMinS, Entries: []Entry{
		entry(enc(tI64, 1), perCPU(slots(-3, 1))),
		entry(enc(tI64, 2), perCPU(slots(5, 1))),
	}}
	if got, want := printText(t, mn, 0, 0), "@mn[2]: 5\n@mn[1]: -3\n"; got != want {
		t.Errorf("min order:\n%s\nwant\n%s", got, want)
	}
	// Integer keys sort as signed numbers even when unsigned.
	sv := tStr(2)
	u := Map{Name: "@u", Key: tU64, Value: sv, Entries: []Entry{
		entry(enc(tU64, 5), perCPU(enc(sv, "a"))),
		entry(enc(tU64, uint64(1<<63)), perCPU(enc(sv, "b"))),
		entry(enc(tU64, 1), perCPU(enc(sv, "c"))),
	}}
	if got, want := printText(t, u, 0, 0), "@u[9223372036854775808]: b\n@u[1]: c\n@u[5]: a\n"; got != want {
		t.Errorf("key order:\n%s\nwant\n%s", got, want)
	}
	// Equal values keep the kernel's order; bools in tuple keys do not
	// take part in sorting.
	tk := tTuple(tBool, tI64)
	b := Map{Name: "@b", Key: tk, Value: sv, Entries: []Entry{
		entry(enc(tk, []any{true, 2}), perCPU(enc(sv, "x"))),
		entry(enc(tk, []any{false, 2}), perCPU(enc(sv, "y"))),
		entry(enc(tk, []any{true, 1}), perCPU(enc(sv, "z"))),
	}}
	if got, want := printText(t, b, 0, 0), "@b[true, 1]: z\n@b[true, 2]: x\n@b[false, 2]: y\n"; got != want {
		t.Errorf("tuple order:\n%s\nwant\n%s", got, want)
	}
}

func TestMapTopDiv(t *testing.T) {
	m := Map{Name: "@x", Key: tI64, Value: tI32, Entries: []Entry{
		entry(enc(tI64, 1), perCPU(slots(-7))),
		entry(enc(tI64, 2), perCPU(slots(30))),
		entry(enc(tI64, 3), perCPU(slots(0x1_0000_0010))), // an int32 16
	}}
	if got, want := printText(t, m, 2, 4), "@x[3]: 4\n@x[2]: 7\n"; got != want {
		t.Errorf("top 2 div 4:\n%s\nwant\n%s", got, want)
	}
	if got, want := printText(t, m, 5, 2), "@x[1]: -3\n@x[3]: 8\n@x[2]: 15\n"; got != want {
		t.Errorf("top 5 div 2:\n%s\nwant\n%s", got, want)
	}
	// div divides hist counts, not lhist ones.
	h := Map{Name: "@h", Value: tHist, Entries: histEntries(tHist, nil, 1, 1, 1, 1, 4, 4)}
	want := "@h:\n" +
		"[1]                    2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n" +
		"[2, 4)                 0 |                                                    |\n" +
		"[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n\n"
	if got := printText(t, h, 0, 2); got != want {
		t.Errorf("hist div 2:\n%s\nwant\n%s", got, want)
	}
	l := tLHist(0, 10, 1)
	lh := Map{Name: "@l", Value: l, Entries: histEntries(l, nil, 3, 3)}
	if got := printText(t, lh, 0, 2); !strings.Contains(got, "[3]                    2 |") {
		t.Errorf("lhist div 2:\n%s", got)
	}
	// Counts below div draw no bar at all rather than a broken one.
	if got := printText(t, h, 0, 10); !strings.Contains(got, "[1]                    0 |                                                    |") {
		t.Errorf("hist div 10:\n%s", got)
	}
}

func TestHistEdges(t *testing.T) {
	// The top buckets: [2^62, 2^63) holds the largest int64 values; the
	// last bucket's bounds pass uint64 and print as strings in JSON.
	h := Map{Name: "@h", Value: tHist, Entries: []Entry{
		entry(slots(64), counts(1)),
		entry(slots(65), counts(2)),
	}}
	wantText := "@h:\n" +
		"[4E, 8E)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n" +
		"[8E, 16E)              2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n"
	if got := printText(t, h, 0, 0); got != wantText {
		t.Errorf("text:\n%s\nwant\n%s", got, wantText)
	}
	wantJSON := `{"type": "hist", "data": {"@h": [` +
		`{"min": 4611686018427387904, "max": "9223372036854775807", "count": 1},` +
		`{"min": 9223372036854775808, "max": "18446744073709551615", "count": 2}]}}` + "\n"
	if got := printJSON(t, h, 0, 0); got != wantJSON {
		t.Errorf("json:\n%s\nwant\n%s", got, wantJSON)
	}
	// A bucket past the last is corrupt data: an error, nothing printed.
	bad := Map{Name: "@h", Value: tHist, Entries: []Entry{entry(slots(66), counts(1))}}
	p, out, _ := newPrinter(false, nil)
	if err := p.PrintMap(bad, 0, 0); err == nil || out.Len() > 0 {
		t.Errorf("bucket 66: %v, %q", err, out)
	}
	// lhist bounds in K with a negative minimum; JSON bounds of negative
	// suffixed labels come out as bpftrace's unsigned numbers.
	l := tLHist(-2048, 2048, 1024)
	lh := Map{Name: "@l", Value: l, Entries: histEntries(l, nil, -5000, -1500, 100, 2048, 9999)}
	half, full := barOf(26), barOf(52)
	wantText = "@l:\n" +
		"(..., -2K)             1 " + half +
		"[-2K, -1K)             1 " + half +
		"[-1K, 0)               0 " + barOf(0) +
		"[0, 1K)                1 " + half +
		"[1K, 2K)               0 " + barOf(0) +
		"[2K, ...)              2 " + full + "\n"
	if got := printText(t, lh, 0, 0); got != wantText {
		t.Errorf("lhist text:\n%s\nwant\n%s", got, wantText)
	}
	if got := printJSON(t, lh, 0, 0); !strings.Contains(got, `{"max": -2049, "count": 1},{"min": 18446744073709549568, "max": -1025, "count": 1}`) {
		t.Errorf("lhist json: %s", got)
	}
	// Keys with equal totals print in key byte order.
	var ties []Entry
	for _, k := range []int64{3, 1, 2} {
		ties = append(ties, histEntries(tHist, enc(tI64, k), 7)...)
	}
	hk := Map{Name: "@k", Key: tI64, Value: tHist, Entries: ties}
	got := printText(t, hk, 0, 0)
	if i1, i2, i3 := strings.Index(got, "@k[1]"), strings.Index(got, "@k[2]"), strings.Index(got, "@k[3]"); !(i1 < i2 && i2 < i3) {
		t.Errorf("tied hists out of key order:\n%s", got)
	}
	if got, want := printText(t, hk, 1, 0), "@k[3]:\n"; !strings.HasPrefix(got, want) {
		t.Errorf("top 1 = %q", got)
	}
}

// barOf is a histogram bar of n '@' in its 52 columns, and the newline.
func barOf(n int) string {
	return "|" + strings.Repeat("@", n) + strings.Repeat(" ", 52-n) + "|\n"
}

func TestMapValues(t *testing.T) {
	// Unsigned avg and stats divide as unsigned numbers.
	avgU := &ast.Type{Kind: ast.KindAvg, Size: 8}
	m := Map{Name: "@a", Value: avgU, Entries: []Entry{entry(nil, perCPU(slots(-1, 1)))}}
	if got, want := printText(t, m, 0, 0), "@a: 18446744073709551615\n"; got != want {
		t.Errorf("unsigned avg = %q, want %q", got, want)
	}
	// A stats map with no count prints averages of 0.
	st := Map{Name: "@s", Key: tI64, Value: tStatsS, Entries: []Entry{entry(enc(tI64, 1), perCPU(slots(0, 0)))}}
	if got, want := printText(t, st, 0, 0), "@s[1]: count 0, average 0, total 0\n"; got != want {
		t.Errorf("empty stats = %q, want %q", got, want)
	}
	// An emptied avg or stats map still prints {} in JSON; others nothing.
	if got, want := printJSON(t, Map{Name: "@s", Key: tI64, Value: tStatsS}, 0, 0), `{"type": "stats", "data": {"@s": {}}}`+"\n"; got != want {
		t.Errorf("empty stats JSON = %q, want %q", got, want)
	}
	if got := printJSON(t, Map{Name: "@c", Key: tI64, Value: tCount}, 0, 0); got != "" {
		t.Errorf("empty count JSON = %q", got)
	}
	// Numbers past float64's exact range are strings in JSON.
	big := Map{Name: "@b", Key: tI64, Value: tU64, Entries: []Entry{
		entry(enc(tI64, 1), perCPU(enc(tU64, uint64(1<<53+1)))),
		entry(enc(tI64, 2), perCPU(enc(tU64, uint64(1<<53)))),
		entry(enc(tI64, -3), perCPU(enc(tU64, uint64(1<<64-1)))),
	}}
	if got, want := printJSON(t, big, 0, 0), `{"type": "map", "data": {"@b": {"2": 9007199254740992, "1": "9007199254740993", "-3": "18446744073709551615"}}}`+"\n"; got != want {
		t.Errorf("big JSON:\n%s\nwant\n%s", got, want)
	}
	// Pointers print in hex, bools as words, symbols through the
	// symbolizer or in hex, keys' parentheses and JSON keys' spaces go;
	// bpftrace's JSON writes a symbol as its name, a string.
	ksym := &ast.Type{Kind: ast.KindKsym}
	tk := tTuple(tPtr, tBool, ksym)
	v := Map{Name: "@v", Key: tk, Value: ksym, Entries: []Entry{
		entry(enc(tk, []any{0xff, true, 0x10}), perCPU(enc(ksym, 0x20))),
	}}
	var out bytes.Buffer
	p := &Printer{Out: &out, Symbols: &Symbolizer{Kernel: func(a uint64) string {
		if a == 0x20 {
			return "do_sys_open"
		}
		return ""
	}}}
	if err := p.PrintMap(v, 0, 0); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "@v[0xff, true, 0x10]: do_sys_open\n"; got != want {
		t.Errorf("symbols = %q, want %q", got, want)
	}
	out.Reset()
	p.JSON = true
	if err := p.PrintMap(v, 0, 0); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), `{"type": "map", "data": {"@v": {"0xff,true,0x10": "do_sys_open"}}}`+"\n"; got != want {
		t.Errorf("symbols JSON = %q, want %q", got, want)
	}
}

func TestMapErrors(t *testing.T) {
	for name, m := range map[string]Map{
		"no value type":  {Name: "@x", Entries: []Entry{entry(nil, counts(1))}},
		"no values":      {Name: "@x", Value: tCount, Entries: []Entry{entry(nil, nil)}},
		"short value":    {Name: "@x", Value: tMinS, Entries: []Entry{entry(nil, perCPU(slots(1)))}},
		"short key":      {Name: "@x", Key: tI64, Value: tCount, Entries: []Entry{entry([]byte{1}, counts(1))}},
		"short hist key": {Name: "@x", Key: tI64, Value: tHist, Entries: []Entry{entry(slots(1), counts(1))}},
		"short bucket":   {Name: "@x", Value: tHist, Entries: []Entry{entry(slots(1), perCPU([]byte{1}))}},
		"bad lhist":      {Name: "@x", Value: tLHist(0, 10, 0), Entries: []Entry{entry(slots(1), counts(1))}},
	} {
		for _, json := range []bool{false, true} {
			p, out, _ := newPrinter(json, nil)
			if err := p.PrintMap(m, 0, 0); err == nil {
				t.Errorf("%s: no error", name)
			}
			if out.Len() > 0 {
				t.Errorf("%s: printed %q", name, out)
			}
		}
	}
}
