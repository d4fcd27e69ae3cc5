package btfprint

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

var tEvent = st("event", 104,
	mem("pid", tPid, 0),
	mem("comm", charArray(16), 4),
	mem("color", tColor, 20),
	mem("ts", tU64T, 24),
	mem("filename", charArray(64), 32),
	mem("ret", tS64, 96),
)

func eventRecord(pid uint32, comm string, color uint32, ts uint64, file string, ret int64) []byte {
	return newBuf(104).u32(0, pid).str(4, comm).u32(20, color).u64(24, ts).str(32, file).u64(96, uint64(ret))
}

func TestEventTable(t *testing.T) {
	var out bytes.Buffer
	tab, err := NewEventTable(&out, tEvent)
	if err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatalf("header written before any record: %q", out.String())
	}
	for _, r := range [][]byte{
		eventRecord(1234, "bash", 2, 99, "/etc/passwd", -2),
		eventRecord(7, "a-very-long-comm", 1, 123456789012345, "x", 0),
	} {
		if err := tab.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	// PID: 7 (u32), COMM: 16, COLOR: "GREEN"/"COLOR" 5, TS: 12 (u64),
	// FILENAME: 32 (capped, not last), RET last and unpadded.
	row := "%-7s %-16s %-5s %-12s %-32s %s\n"
	want := fmt.Sprintf(row, "PID", "COMM", "COLOR", "TS", "FILENAME", "RET") +
		fmt.Sprintf(row, "1234", "bash", "BLUE", "99", "/etc/passwd", "-2") +
		fmt.Sprintf(row, "7", "a-very-long-comm", "GREEN", "123456789012345", "x", "0")
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestEventTableColumns(t *testing.T) {
	if !littleEndian {
		t.Skip("expected bytes are little-endian")
	}
	// Anonymous members become columns, bitfields are read by their bits,
	// a long string at the end keeps its full width (unpadded anyway).
	typ := st("ev", 80,
		bitmem("cpu", tU32, 0, 12),
		bitmem("flag", tBool, 12, 1),
		mem("", &btf.Union{Size: 4, Members: []btf.Member{mem("addr", tU32, 0)}}, 4),
		mem("p", &btf.Pointer{Target: tU32}, 8),
		mem("path", charArray(64), 16),
	)
	var out bytes.Buffer
	tab, err := NewEventTable(&out, typ)
	if err != nil {
		t.Fatal(err)
	}
	rec := newBuf(80).u16(0, 3|1<<12).u32(4, 0x0100007f).u64(8, 0xdead).str(16, "/tmp/x y")
	if err := tab.Write(rec); err != nil {
		t.Fatal(err)
	}
	row := "%-4s %-5s %-7s %-18s %s\n"
	want := fmt.Sprintf(row, "CPU", "FLAG", "ADDR", "P", "PATH") + fmt.Sprintf(row, "3", "true", "16777343", "0xdead", "/tmp/x y")
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestEventTableNotStruct(t *testing.T) {
	var out bytes.Buffer
	tab, err := NewEventTable(&out, tU64T)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []uint64{5, 6} {
		if err := tab.Write(u64b(v)); err != nil {
			t.Fatal(err)
		}
	}
	if want := "VALUE\n5\n6\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func TestEventTableShortRecord(t *testing.T) {
	var out bytes.Buffer
	tab, err := NewEventTable(&out, tEvent)
	if err != nil {
		t.Fatal(err)
	}
	err = tab.Write(make([]byte, 10))
	if !errors.Is(err, ErrShortData) {
		t.Fatalf("error = %v, want ErrShortData", err)
	}
	if out.Len() != 0 {
		t.Fatalf("wrote %q for a bad record", out.String())
	}
	// The header still comes before the first good record.
	if err := tab.Write(eventRecord(1, "a", 0, 0, "", 0)); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "PID ") || strings.Count(out.String(), "\n") != 2 {
		t.Errorf("got %q, want header and one line", out.String())
	}
	// Longer records (perf padding) are fine.
	if err := tab.Write(append(eventRecord(2, "b", 0, 0, "", 0), 0, 0, 0, 0)); err != nil {
		t.Fatal(err)
	}
}

func TestEventTableBadType(t *testing.T) {
	if _, err := NewEventTable(&bytes.Buffer{}, nil); err == nil {
		t.Error("nil type: no error")
	}
	if _, err := NewEventTable(&bytes.Buffer{}, &btf.FuncProto{}); err == nil {
		t.Error("function prototype: no error")
	}
	tab, err := NewEventTable(&bytes.Buffer{}, st("s", 4, mem("x", &btf.Int{Name: "odd", Size: 3}, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Write(make([]byte, 4)); err == nil || !strings.Contains(err.Error(), "struct s.x") {
		t.Errorf("error = %v, want one naming struct s.x", err)
	}
}

func TestEventJSON(t *testing.T) {
	var out bytes.Buffer
	rec := eventRecord(1234, "bash", 2, 99, "/etc/passwd", -2)
	if err := EventJSON(&out, "events", tEvent, rec); err != nil {
		t.Fatal(err)
	}
	want := `{"type": "event", "map": "events", "data": {"pid": 1234, "comm": "bash", "color": "BLUE", "ts": 99, "filename": "/etc/passwd", "ret": -2}}` + "\n"
	if out.String() != want {
		t.Errorf("got  %s\nwant %s", out.String(), want)
	}
	jsonEqual(t, out.String(), want)

	out.Reset()
	if err := EventJSON(&out, "events", tEvent, rec[:50]); !errors.Is(err, ErrShortData) || out.Len() != 0 {
		t.Errorf("short record: err %v, output %q", err, out.String())
	}
}

func TestHexRecord(t *testing.T) {
	for in, want := range map[string]string{
		"":              "",
		"\x01":          "01",
		"\x00\xab\x10Z": "00 ab 10 5a",
	} {
		if got := HexRecord([]byte(in)); got != want {
			t.Errorf("HexRecord(%q) = %q, want %q", in, got, want)
		}
	}
}

func specOf(t *testing.T, types ...btf.Type) *btf.Spec {
	t.Helper()
	b, err := btf.NewBuilder(types, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := b.Spec()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestEventType(t *testing.T) {
	s := func(name string, size uint32) *btf.Struct { return st(name, size, mem("x", array(tU8, size), 0)) }
	for _, c := range []struct {
		name   string
		types  []btf.Type
		size   int
		perf   bool
		want   string // struct name, or
		errMsg string // the whole error
	}{
		{name: "single match", types: []btf.Type{s("data_t", 24), s("other", 16)}, size: 24, want: "data_t"},
		{name: "none", types: []btf.Type{s("other", 16)}, size: 24,
			errMsg: "no struct of 24 bytes in the object's BTF; printing hex (use --event-type NAME)"},
		{name: "prefer event", types: []btf.Type{s("data_t", 24), s("My_Event", 24)}, size: 24, want: "My_Event"},
		{name: "ambiguous", types: []btf.Type{s("b", 24), s("a", 24), s("c", 8)}, size: 24,
			errMsg: "2 structs of 24 bytes in the object's BTF (a, b); printing hex (use --event-type NAME)"},
		{name: "ambiguous events", types: []btf.Type{s("event_b", 24), s("event_a", 24), s("data", 24)}, size: 24,
			errMsg: "2 structs of 24 bytes in the object's BTF (event_a, event_b); printing hex (use --event-type NAME)"},
		{name: "anonymous structs do not count", types: []btf.Type{s("", 24), s("ev", 24)}, size: 24, want: "ev"},
		{name: "same struct twice", types: []btf.Type{s("ev", 24), s("ev", 24)}, size: 24, want: "ev"},
		{name: "perf padding", types: []btf.Type{s("sample", 20)}, size: 24, perf: true, want: "sample"},
		{name: "padding only for perf", types: []btf.Type{s("sample", 20)}, size: 24,
			errMsg: "no struct of 24 bytes in the object's BTF; printing hex (use --event-type NAME)"},
		{name: "perf takes the largest", types: []btf.Type{s("small", 17), s("big", 24), s("too_big", 25)}, size: 24, perf: true, want: "big"},
		{name: "perf none", types: []btf.Type{s("small", 16)}, size: 28, perf: true,
			errMsg: "no struct of 21 to 28 bytes in the object's BTF; printing hex (use --event-type NAME)"},
		{name: "perf ambiguous", types: []btf.Type{s("x", 20), s("y", 20), s("z", 18)}, size: 24, perf: true,
			errMsg: "2 structs of 17 to 24 bytes in the object's BTF (x, y); printing hex (use --event-type NAME)"},
		{name: "empty record", types: []btf.Type{s("x", 4)}, size: 0,
			errMsg: "empty record (0 bytes); printing hex (use --event-type NAME)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := EventType(specOf(t, c.types...), c.size, c.perf)
			if c.errMsg != "" {
				if err == nil || err.Error() != c.errMsg {
					t.Fatalf("error = %v, want %q", err, c.errMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.TypeName() != c.want {
				t.Errorf("picked %s, want %s", got.TypeName(), c.want)
			}
		})
	}
	if _, err := EventType(nil, 8, false); err == nil {
		t.Error("nil spec: no error")
	}
}

func TestTypeByName(t *testing.T) {
	ev := st("event", 4, mem("pid", tU32, 0))
	dup1, dup2 := st("dup", 4, mem("a", tU32, 0)), st("dup", 8, mem("b", tU64, 0))
	spec := specOf(t,
		ev, &btf.Typedef{Name: "event", Type: ev},
		tColor, &btf.Typedef{Name: "u64_t", Type: tU64},
		&btf.Func{Name: "handler", Type: &btf.FuncProto{Return: tS32}, Linkage: btf.GlobalFunc},
		dup1, dup2,
	)
	for _, c := range []struct {
		name, want, errMsg string
	}{
		{name: "event", want: "*btf.Struct event"},
		{name: "struct event", want: "*btf.Struct event"},
		{name: "enum color", want: "*btf.Enum color"},
		{name: "color", want: "*btf.Enum color"},
		{name: "u64_t", want: "*btf.Typedef u64_t"},
		{name: "unsigned long long", want: "*btf.Int unsigned long long"},
		{name: "missing", errMsg: `no type named "missing" in the object's BTF`},
		{name: "union event", errMsg: "no union event in the object's BTF (found struct event, event)"},
		{name: "handler", errMsg: `"handler" in the object's BTF is not a struct, union, typedef, integer, enum or float (found function handler)`},
		{name: "dup", errMsg: `several structs named "dup" in the object's BTF; cannot tell which one is meant`},
		{name: "", errMsg: "empty type name"},
	} {
		got, err := TypeByName(spec, c.name)
		if c.errMsg != "" {
			if err == nil || err.Error() != c.errMsg {
				t.Errorf("%q: error = %v, want %q", c.name, err, c.errMsg)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.name, err)
			continue
		}
		if s := fmt.Sprintf("%T %s", got, got.TypeName()); s != c.want {
			t.Errorf("%q: got %s, want %s", c.name, s, c.want)
		}
	}
	if _, err := TypeByName(nil, "x"); err == nil {
		t.Error("nil spec: no error")
	}
}
