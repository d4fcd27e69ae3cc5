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

// fuzzTypes are the argument types the fuzz targets pick from.
var fuzzTypes = []*ast.Type{
	tI64, tI32, ast.Uint8, ast.Int16, tU64, tBool, tStr(8), tStr(1),
	tTuple(tI64, tStr(4)), tPtr, {Kind: ast.KindBuffer, Size: 6},
	{Kind: ast.KindKsym}, {Kind: ast.KindArray, Size: 8, Len: 4, Elem: ast.Int16},
	{Kind: ast.KindInet, Size: 4}, {Kind: ast.KindMac, Size: 6},
}

// fuzzArgs picks argument types by the bytes of kinds and fills them from
// data, short if data runs out.
func fuzzArgs(kinds, data []byte) []Value {
	var vals []Value
	for _, k := range kinds {
		t := fuzzTypes[int(k)%len(fuzzTypes)]
		n := min(layout.Size(t), len(data))
		vals = append(vals, Value{Type: t, Data: data[:n]})
		data = data[n:]
	}
	return vals
}

// FuzzPrintf formats arbitrary format strings with arbitrary arguments: it
// must never panic, and when CheckFormat accepts the types and the bytes
// are all there, formatting must succeed.
func FuzzPrintf(f *testing.F) {
	f.Add("%d %s %u %x\n", []byte{0, 6, 1, 2}, bytes.Repeat([]byte{0xff}, 64))
	f.Add("[%-10s][%05d][%#x][%p][%c]", []byte{6, 0, 4, 9, 2}, []byte("abcdefgh\x01\x02\x03\x04\x05\x06\x07\x08abc"))
	f.Add("%r %rx %rh %s %s", []byte{10, 10, 10, 8, 11}, bytes.Repeat([]byte{'A', 0}, 40))
	f.Add("%hhd %hu %ld %lld %llu %jx %zu %td %%", []byte{0, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 80))
	f.Add("%*.*d %.3s %+ #0-5d % d %Lf %n %", []byte{0, 6, 0}, []byte{1, 2, 3})
	f.Add("%s %s %s %s", []byte{12, 13, 14, 7}, []byte("\x01\x00\x02\x00\x03\x00\xff\xff\x7f\x00\x00\x01\x00\x1b\x21\x00\x00\x01xy"))
	f.Add("%99999999999999999999d", []byte{0}, make([]byte, 8))
	f.Fuzz(func(t *testing.T, format string, kinds, data []byte) {
		if len(kinds) > 16 {
			kinds = kinds[:16]
		}
		args := fuzzArgs(kinds, data)
		types := make([]*ast.Type, len(args))
		complete := true
		for i, a := range args {
			types[i] = a.Type
			complete = complete && len(a.Data) == layout.Size(a.Type)
		}
		checkErr := CheckFormat(format, types)
		s, err := Sprintf(format, args)
		if checkErr == nil && complete && err != nil {
			t.Fatalf("CheckFormat accepted %q %v but Sprintf failed: %v", format, types, err)
		}
		if err == nil {
			s2, _ := Sprintf(format, args)
			if s != s2 {
				t.Fatalf("not deterministic: %q then %q", s, s2)
			}
			var out bytes.Buffer
			p := &Printer{Out: &out, JSON: true}
			if err := p.Printf(format, args); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(out.String(), `{"type": "printf", "data": "`) || !strings.HasSuffix(out.String(), "\"}\n") {
				t.Fatalf("JSON printf %q", out.String())
			}
		}
	})
}

// fuzzProgram is a program with one of everything a record can point at.
func fuzzProgram() *Program {
	return &Program{
		Formats: []Format{
			{Text: "%d %s|%x\n", Args: []*ast.Type{tI64, tStr(8), tI32}},
			{Text: "%H:%M:%S %Y %%\n"},
			{Text: "%c%c %-5s %p", Args: []*ast.Type{ast.Uint8, tI64, tTuple(tBool, tStr(3)), tPtr}},
			{Text: "no args\n"},
		},
		Maps: []MapInfo{
			{Name: "@c", Key: tStr(4), Value: tCount},
			{Name: "@h", Key: tI64, Value: tHist},
			{Name: "@l", Value: tLHist(-10, 100, 7)},
			{Name: "@s", Key: tTuple(tI32, tStr(2)), Value: tStatsS},
			{Name: "@m", Key: tI64, Value: tMinS},
			{Name: "@v", Key: tU64, Value: tTuple(tI64, tStr(3))},
			{Name: "@x", Value: tI32},
		},
		Values: []*ast.Type{tI64, tStr(5), tTuple(tI64, tBool), tPtr},
	}
}

// fuzzMap fills a map of the given types from data: each entry takes a key
// and as many per-CPU values as its first byte says (1 to 4).
func fuzzMap(info MapInfo, data []byte) Map {
	m := Map{Name: info.Name, Key: info.Key, Value: info.Value}
	keySize := 0
	if info.Key != nil {
		keySize = layout.Size(info.Key)
	}
	valSize := layout.Size(info.Value)
	if info.Value.Kind == ast.KindHist || info.Value.Kind == ast.KindLHist {
		keySize += layout.HistKey
		valSize = 8
	}
	for len(data) > 0 && len(m.Entries) < 64 {
		ncpu := int(data[0])%4 + 1
		data = data[1:]
		n := min(keySize, len(data))
		e := Entry{Key: data[:n]}
		data = data[n:]
		for range ncpu {
			n := min(valSize, len(data))
			e.Values = append(e.Values, data[:n])
			data = data[n:]
		}
		m.Entries = append(m.Entries, e)
	}
	return m
}

// FuzzRecord feeds arbitrary records, and for print(@m) arbitrary map
// contents, to the printer in both formats: malformed input must be an
// error, never a panic, and a record that fails prints nothing.
func FuzzRecord(f *testing.F) {
	prog := fuzzProgram()
	f.Add(record(layout.RecordPrintf, 0, args(prog.Formats[0].Args, -5, "abc", 7)), []byte(nil))
	f.Add(record(layout.RecordTime, 1), []byte(nil))
	f.Add(record(layout.RecordPrintf, 2, args(prog.Formats[2].Args, 65, 66, []any{true, "ab"}, 4096)), []byte(nil))
	f.Add(record(layout.RecordExit, 1), []byte(nil))
	f.Add(record(layout.RecordPrint, 0, slots(2, 3)), cat([]byte{1}, enc(tStr(4), "abc"), slots(5, 6), []byte{0}, enc(tStr(4), "xyz"), slots(9)))
	f.Add(record(layout.RecordPrint, 1), cat([]byte{0}, slots(1, 5), slots(3), []byte{1}, slots(2, 66), slots(1, 1)))
	f.Add(record(layout.RecordPrint, 2), cat([]byte{0}, slots(0), slots(3), []byte{0}, slots(17), slots(1), []byte{0}, slots(99), slots(2)))
	f.Add(record(layout.RecordPrint, 3, slots(0, 0)), cat([]byte{1}, enc(tTuple(tI32, tStr(2)), []any{-1, "a"}), slots(10, 2), slots(-4, 1)))
	f.Add(record(layout.RecordPrint, 4), cat([]byte{2}, slots(1), slots(-3, 1), slots(5, 1), slots(9, 0)))
	f.Add(record(layout.RecordPrint, 5, slots(1, 0)), cat([]byte{0}, slots(7), enc(tTuple(tI64, tStr(3)), []any{1, "ab"})))
	f.Add(record(layout.RecordPrint, 6, slots(0, 3)), cat([]byte{0}, slots(0x1_0000_0009)))
	f.Add(record(layout.RecordPrintValue, 2, enc(tTuple(tI64, tBool), []any{3, true})), []byte(nil))
	f.Add(record(layout.RecordCat, 3), []byte(nil))
	f.Add([]byte{1, 2, 3}, []byte{})
	f.Fuzz(runOne)
}

func runOne(t *testing.T, rec, mapData []byte) {
	prog := fuzzProgram()
	{
		for _, json := range []bool{false, true} {
			var out, errs bytes.Buffer
			p := &Printer{Out: &out, Err: &errs, JSON: json, Program: prog, Now: func() time.Time { return time.Unix(1e9, 0).UTC() }}
			a, err := p.Record(rec)
			if err != nil {
				if !errors.Is(err, ErrRecord) {
					t.Fatalf("error not ErrRecord: %v", err)
				}
				if out.Len() > 0 {
					t.Fatalf("failed record printed %q", out.String())
				}
				continue
			}
			if a.Kind == layout.RecordPrint {
				m := fuzzMap(prog.Maps[a.Map], mapData)
				before := out.Len()
				if err := p.PrintMap(m, a.Top, a.Div); err != nil && out.Len() != before {
					t.Fatalf("failed map printed %q", out.String()[before:])
				}
				_ = p.Exit([]Map{m, m})
			}
			if json {
				for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
					if line != "" && !strings.HasPrefix(line, `{"type": "`) {
						t.Fatalf("JSON line %q", line)
					}
				}
			}
		}
	}
}
