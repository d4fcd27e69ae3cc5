package output

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/lang/ast"
)

// A struct with every kind of member: ints of both signs, a bitfield, a
// char array, an int array, a pointer, a nested struct and an anonymous
// union whose members print as the struct's own.
func TestRecordValue(t *testing.T) {
	i32 := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	u8 := &btf.Int{Name: "unsigned char", Size: 1}
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	inner := &btf.Struct{Name: "in", Size: 4, Members: []btf.Member{{Name: "a", Type: &btf.Int{Name: "short", Size: 2, Encoding: btf.Signed}}, {Name: "b", Type: u8, Offset: 16}}}
	anon := &btf.Union{Size: 4, Members: []btf.Member{{Name: "u", Type: i32}, {Name: "c", Type: u8}}}
	rec := &btf.Struct{Name: "pt", Size: 40, Members: []btf.Member{
		{Name: "x", Type: i32},
		{Name: "name", Type: &btf.Array{Type: char, Nelems: 4}, Offset: 32},
		{Name: "f", Type: &btf.Int{Name: "unsigned int", Size: 4}, Offset: 64, BitfieldSize: 3},
		{Name: "g", Type: i32, Offset: 67, BitfieldSize: 5},
		{Name: "arr", Type: &btf.Array{Type: i32, Nelems: 2}, Offset: 96},
		{Name: "in", Type: inner, Offset: 160},
		{Name: "p", Type: &btf.Pointer{Target: &btf.Void{}}, Offset: 192},
		{Type: anon, Offset: 256},
	}}
	b := make([]byte, 40)
	binary.NativeEndian.PutUint32(b[0:], uint32(0xfffffffe)) // x = -2
	copy(b[4:], "ab\x00z")
	b[8] = 5 | 0x1f<<3 // f = 5, g = -1
	binary.NativeEndian.PutUint32(b[12:], 7)
	binary.NativeEndian.PutUint32(b[16:], 8)
	binary.NativeEndian.PutUint16(b[20:], 300)
	b[22] = 9
	binary.NativeEndian.PutUint64(b[24:], 0xffff8880deadbeef)
	binary.NativeEndian.PutUint32(b[32:], 0x41)
	typ := &ast.Type{Kind: ast.KindRecord, Name: "struct pt", Size: 40, BTF: rec}

	var out strings.Builder
	p := &Printer{Out: &out}
	if err := p.Value(Value{Type: typ, Data: b}); err != nil {
		t.Fatal(err)
	}
	want := "{ .x = -2, .name = ab, .f = 5, .g = -1, .arr = [7,8], .in = { .a = 300, .b = 9 }, .p = 0xffff8880deadbeef, .u = 65, .c = 65 }\n"
	if out.String() != want {
		t.Errorf("text:\n%q\nwant\n%q", out.String(), want)
	}
	out.Reset()
	p.JSON = true
	if err := p.Value(Value{Type: typ, Data: b}); err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"type": "value", "data": { "x": -2, "name": "ab", "f": 5, "g": -1, "arr": [7,8], "in": { "a": 300, "b": 9 }, "p": "18446612685805960943", "u": 65, "c": 65 }}` + "\n"
	if out.String() != wantJSON {
		t.Errorf("json:\n%s\nwant\n%s", out.String(), wantJSON)
	}
	// Too short a buffer is an error, not a panic.
	if err := p.Value(Value{Type: typ, Data: b[:10]}); err == nil {
		t.Error("a 10-byte record printed")
	}
}
