package output

import (
	"strings"
	"testing"
	"time"

	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
)

// bufValue lays out a buf() value of capacity size holding data.
func bufValue(size int, data string) Value {
	t := &ast.Type{Kind: ast.KindBuffer, Size: size}
	b := make([]byte, layout.Size(t))
	hostOrder.PutUint64(b, uint64(len(data)))
	copy(b[layout.BufferHeader:], data)
	return Value{Type: t, Data: b}
}

// inetValue lays out an ntop() value.
func inetValue(af uint64, addr ...byte) Value {
	b := make([]byte, layout.InetSize)
	hostOrder.PutUint64(b, af)
	copy(b[8:], addr)
	return Value{Type: &ast.Type{Kind: ast.KindInet, Size: layout.InetSize}, Data: b}
}

func TestBufferFormats(t *testing.T) {
	// bpftrace 0.17 prints these for buf(args->filename, 12) of
	// "/etc/ld.so.cache".
	b := bufValue(16, "/etc/ld.so.c")
	for format, want := range map[string]string{
		"%r":  "/etc/ld.so.c",
		"%rx": `\x2f\x65\x74\x63\x2f\x6c\x64\x2e\x73\x6f\x2e\x63`,
		"%rh": "2f 65 74 63 2f 6c 64 2e 73 6f 2e 63",
	} {
		if got, err := Sprintf(format, []Value{b}); err != nil || got != want {
			t.Errorf("Sprintf(%q) = %q, %v; want %q", format, got, err, want)
		}
	}
	// Only the bytes read print, however large the buffer.
	raw := bufValue(8, "a\x00\x01\x7f\xff")
	if got, _ := Sprintf("%r|%rh", []Value{raw, raw}); got != `a\x00\x01\x7f\xff|61 00 01 7f ff` {
		t.Errorf("binary buffer = %q", got)
	}
	// A length past the capacity (a corrupted record) stops at it.
	over := bufValue(4, "abcd")
	hostOrder.PutUint64(over.Data, 1000)
	if got, _ := Sprintf("%r", []Value{over}); got != "abcd" {
		t.Errorf("overlong length = %q", got)
	}
	p, out, _ := newPrinter(false, nil)
	if err := p.Value(b); err != nil || out.String() != "/etc/ld.so.c\n" {
		t.Errorf("print(buf) = %q, %v", out, err)
	}
	p, out, _ = newPrinter(true, nil)
	if err := p.Value(raw); err != nil || out.String() != `{"type": "value", "data": "a\\x00\\x01\\x7f\\xff"}`+"\n" {
		t.Errorf("print(buf) in JSON = %q, %v", out, err)
	}
}

func TestNtop(t *testing.T) {
	for _, c := range []struct {
		v    Value
		want string
	}{
		{inetValue(layout.AFInet, 127, 0, 0, 1), "127.0.0.1"},
		{inetValue(layout.AFInet6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), "::1"},
		{inetValue(layout.AFInet6), "::"},
		{inetValue(layout.AFInet6, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2), "fe80::1:2"},
		// glibc's dotted forms, which bpftrace 0.17 prints.
		{inetValue(layout.AFInet6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4), "::ffff:1.2.3.4"},
		{inetValue(layout.AFInet6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4), "::1.2.3.4"},
		{inetValue(layout.AFInet6, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1), "2001:db8::1:0:0:1"},
		{inetValue(layout.AFInet6, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1), "2001:db8:1:1:1:1:1:1"},
		{inetValue(layout.AFInet6, 0x20, 0x01, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0), "2001:0:0:1::"},
		// An unknown family prints nothing, as in bpftrace.
		{inetValue(3, 1, 2, 3, 4), ""},
	} {
		if got, err := Sprintf("%s", []Value{c.v}); err != nil || got != c.want {
			t.Errorf("ntop(%v) = %q, %v; want %q", c.v.Data, got, err, c.want)
		}
	}
	p, out, _ := newPrinter(true, nil)
	if err := p.Value(inetValue(layout.AFInet, 10, 0, 0, 1)); err != nil || out.String() != `{"type": "value", "data": "10.0.0.1"}`+"\n" {
		t.Errorf("JSON ntop = %q, %v", out, err)
	}
}

func TestMacaddr(t *testing.T) {
	v := Value{Type: &ast.Type{Kind: ast.KindMac, Size: 6}, Data: []byte{0x2f, 0x65, 0x74, 0xc0, 0x0a, 0xff, 0, 0}}
	if got, _ := Sprintf("%s", []Value{v}); got != "2F:65:74:C0:0A:FF" {
		t.Errorf("macaddr = %q", got)
	}
}

func TestStrerrorSyscallName(t *testing.T) {
	se := &ast.Type{Kind: ast.KindText, Size: 8, Name: "strerror"}
	for n, want := range map[int64]string{0: "Success", 1: "Operation not permitted", 2: "No such file or directory", 133: "Memory page has hardware error", 134: "Unknown error 134", -1: "Unknown error -1"} {
		if got, _ := Sprintf("%s", []Value{{Type: se, Data: slots(n)}}); got != want {
			t.Errorf("strerror(%d) = %q, want %q", n, got, want)
		}
	}
	for _, c := range []struct {
		arch string
		n    int64
		want string
	}{
		{"amd64", 0, "read"}, {"amd64", 1, "write"}, {"amd64", 59, "execve"}, {"amd64", 257, "openat"}, {"amd64", 435, "clone3"},
		{"arm64", 63, "read"}, {"arm64", 56, "openat"}, {"arm64", 221, "execve"}, {"arm64", 79, "newfstatat"},
		{"amd64", 100000, "100000"}, {"arm64", -1, "-1"}, {"riscv64", 1, "1"},
	} {
		if got := syscallNameOn(c.arch, c.n); got != c.want {
			t.Errorf("syscall_name(%d) on %s = %q, want %q", c.n, c.arch, got, c.want)
		}
	}
	sn := &ast.Type{Kind: ast.KindText, Size: 8, Name: "syscall_name"}
	p, out, _ := newPrinter(true, nil)
	if err := p.Value(Value{Type: sn, Data: slots(100000)}); err != nil || out.String() != `{"type": "value", "data": "100000"}`+"\n" {
		t.Errorf("JSON syscall_name = %q, %v", out, err)
	}
}

func TestStrftimeValue(t *testing.T) {
	boot := time.Date(2026, 3, 4, 5, 6, 7, 0, time.Local)
	// Only the offset matters here: set the boot time for the test.
	saved := bootTime
	bootTime = func() time.Time { return boot }
	defer func() { bootTime = saved }()
	ts := func(format string, ns uint64) Value {
		return Value{Type: &ast.Type{Kind: ast.KindTimestamp, Size: 8, Name: format}, Data: slots(int64(ns))}
	}
	for _, c := range []struct {
		v    Value
		want string
	}{
		{ts("%H:%M:%S", 0), "05:06:07"},
		{ts("%H:%M:%S.%f", 1_500_123_456), "05:06:08.500123"},
		{ts("%Y-%m-%d %f", 999), "2026-03-04 000000"},
		{ts("%%f %f", 2_000), "%f 000002"},
		{ts("", 0), "(?)"},
	} {
		if got, err := Sprintf("%s", []Value{c.v}); err != nil || got != c.want {
			t.Errorf("strftime(%q) = %q, %v; want %q", c.v.Type.Name, got, err, c.want)
		}
	}
	// time() keeps glibc's meaning: %f is no conversion there.
	if got := Strftime("%f", boot); got != "%f" {
		t.Errorf("Strftime(%%f) = %q", got)
	}
	p, out, _ := newPrinter(true, nil)
	if err := p.Value(ts("%Y", 0)); err != nil || out.String() != `{"type": "value", "data": "2026"}`+"\n" {
		t.Errorf("JSON strftime = %q, %v", out, err)
	}
	// Boot time of this machine: a time in the past.
	if b := saved(); b.IsZero() || b.After(time.Now()) {
		t.Errorf("boot time %v", b)
	}
}

func TestJoinRecord(t *testing.T) {
	prog := &Program{Formats: []Format{{Text: " "}, {Text: ", "}}}
	body := make([]byte, layout.JoinArgs*layout.JoinArgSize)
	for i, s := range []string{"ls", "-l", "/tmp"} {
		copy(body[i*layout.JoinArgSize:], s)
	}
	// Strings after the first empty one do not print.
	copy(body[4*layout.JoinArgSize:], "junk")
	rec := record(layout.RecordJoin, 0, body)
	p, out, _ := newPrinter(false, prog)
	if _, err := p.Record(rec); err != nil || out.String() != "ls -l /tmp\n" {
		t.Errorf("join = %q, %v", out, err)
	}
	p, out, _ = newPrinter(true, prog)
	if _, err := p.Record(record(layout.RecordJoin, 1, body)); err != nil || out.String() != `{"type": "join", "data": "ls, -l, /tmp"}`+"\n" {
		t.Errorf("JSON join = %q, %v", out, err)
	}
	// A full slot has no NUL and ends at its size.
	full := make([]byte, layout.JoinArgs*layout.JoinArgSize)
	copy(full, strings.Repeat("x", layout.JoinArgSize))
	p, out, _ = newPrinter(false, prog)
	if _, err := p.Record(record(layout.RecordJoin, 0, full)); err != nil || out.Len() != layout.JoinArgSize+1 {
		t.Errorf("full join: %d bytes, %v", out.Len(), err)
	}
	// Short records and bad indexes are errors, not panics.
	if _, err := p.Record(record(layout.RecordJoin, 0, body[:100])); err == nil {
		t.Error("short join record: no error")
	}
	if _, err := p.Record(record(layout.RecordJoin, 7, body)); err == nil {
		t.Error("join record with a bad separator index: no error")
	}
}
