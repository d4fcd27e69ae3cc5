package btfprint

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

var (
	tColor = &btf.Enum{Name: "color", Size: 4, Values: []btf.EnumValue{
		{Name: "RED", Value: 0}, {Name: "GREEN", Value: 1}, {Name: "BLUE", Value: 2},
	}}
	tErr = &btf.Enum{Name: "err", Size: 4, Signed: true, Values: []btf.EnumValue{
		{Name: "EFAIL", Value: uint64(math.MaxUint64)}, // -1, sign-extended as BTF stores it
		{Name: "OK", Value: 0},
	}}
	tBig = &btf.Enum{Name: "big", Size: 8, Values: []btf.EnumValue{{Name: "HUGE", Value: 1 << 40}}}

	// struct outer { u32 kind; union { u32 x; s16 y; }; struct inner in; struct { u8 z; }; }
	tInner = st("inner", 4, mem("p", tU16, 0), mem("q", tU16, 2))
	tOuter = st("outer", 16,
		mem("kind", tU32, 0),
		mem("", &btf.Union{Size: 4, Members: []btf.Member{mem("x", tU32, 0), mem("y", tS16, 0)}}, 4),
		mem("in", tInner, 8),
		mem("", st("", 1, mem("z", tU8, 0)), 12),
	)

	// struct bits { u32 a:3, b:5; s32 c:4; enum color e:2; bool f:1; u64 d:40 (at bit 32) }
	tBits = st("bits", 16,
		bitmem("a", tU32, 0, 3),
		bitmem("b", tU32, 3, 5),
		bitmem("c", tS32, 8, 4),
		bitmem("e", tColor, 12, 2),
		bitmem("f", tBool, 14, 1),
		bitmem("", tU32, 15, 2), // unnamed padding: not printed
		bitmem("d", tU64, 32, 40),
	)
	// A bitfield that straddles a byte boundary.
	tStraddle = st("straddle", 2, bitmem("pad", tU8, 0, 5), bitmem("x", tU16, 5, 10))
)

type valueCase struct {
	name     string
	typ      btf.Type
	data     []byte
	text     string
	json     string // compared by meaning
	jsonRaw  string // compared byte for byte, when set
	needsLE  bool
	skipJSON bool
}

func valueCases() []valueCase {
	return []valueCase{
		{name: "u8", typ: tU8, data: []byte{255}, text: "255", json: "255"},
		{name: "s8", typ: tS8, data: []byte{0xff}, text: "-1", json: "-1"},
		{name: "u16", typ: tU16, data: newBuf(2).u16(0, 65535), text: "65535", json: "65535"},
		{name: "s16", typ: tS16, data: newBuf(2).u16(0, 0x8000), text: "-32768", json: "-32768"},
		{name: "u32", typ: tU32, data: u32b(42), text: "42", json: "42"},
		{name: "s32", typ: tS32, data: u32b(uint32(0xfffffffb)), text: "-5", json: "-5"},
		{name: "u64 max exact", typ: tU64, data: u64b(math.MaxUint64),
			text: "18446744073709551615", jsonRaw: "18446744073709551615"},
		{name: "s64 min", typ: tS64, data: u64b(1 << 63), text: "-9223372036854775808", jsonRaw: "-9223372036854775808"},
		{name: "u128", typ: tU128, data: []byte{
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		}, text: "340282366920938463463374607431768211455", jsonRaw: "340282366920938463463374607431768211455"},
		{name: "s128", typ: tS128, data: []byte{
			0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		}, text: "-2", json: "-2"},
		{name: "bool true", typ: tBool, data: []byte{1}, text: "true", json: "true"},
		{name: "bool false", typ: tBool, data: []byte{0}, text: "false", json: "false"},
		{name: "typedef and qualifiers", typ: &btf.Const{Type: &btf.Volatile{Type: &btf.TypeTag{Value: "user", Type: tPid}}},
			data: u32b(uint32(0xfffffff9)), text: "-7", json: "-7"},
		{name: "trailing bytes ignored", typ: tU32, data: []byte{1, 0, 0, 0, 9, 9, 9}, text: "1", json: "1", needsLE: true},

		{name: "char array", typ: charArray(16), data: newBuf(16).str(0, "bash").str(5, "junk"), text: "bash", jsonRaw: `"bash"`},
		{name: "char array without NUL", typ: charArray(4), data: []byte("abcd"), text: "abcd", json: `"abcd"`},
		{name: "u8 array is a string", typ: array(tU8T(), 3), data: []byte("hi\x00"), text: "hi", json: `"hi"`},
		{name: "escapes", typ: charArray(8), data: []byte("a\x01b\xff\"\\\n\x00"),
			text: `a\x01b\xff"\` + `\x0a`, jsonRaw: `"a\u0001b\u00ff\"\\\n"`},
		{name: "utf-8 kept in JSON", typ: charArray(4), data: []byte("é\x00\x00"), text: `\xc3\xa9`, jsonRaw: `"é"`},
		{name: "int array", typ: array(tU32, 3), data: newBuf(12).u32(0, 1).u32(4, 2).u32(8, 3), text: "[1,2,3]", jsonRaw: "[1,2,3]"},
		{name: "bool array", typ: array(tBool, 2), data: []byte{1, 0}, text: "[true,false]", json: "[true,false]"},
		{name: "2d array", typ: array(array(tU16, 2), 2), data: newBuf(8).u16(0, 1).u16(2, 2).u16(4, 3).u16(6, 4),
			text: "[[1,2],[3,4]]", json: "[[1,2],[3,4]]"},
		{name: "empty array", typ: array(tU32, 0), data: nil, text: "[]", json: "[]"},

		{name: "struct", typ: st("event", 12, mem("pid", tPid, 0), mem("comm", charArray(8), 4)),
			data: newBuf(12).u32(0, 7).str(4, "cat"),
			text: "{ .pid = 7, .comm = cat }", jsonRaw: `{"pid": 7, "comm": "cat"}`},
		{name: "nested and anonymous", typ: tOuter,
			data:    newBuf(16).u32(0, 1).u32(4, 0xffffffff).u16(8, 2).u16(10, 3).u8(12, 9),
			text:    "{ .kind = 1, .x = 4294967295, .y = -1, .in = { .p = 2, .q = 3 }, .z = 9 }",
			jsonRaw: `{"kind": 1, "x": 4294967295, "y": -1, "in": {"p": 2, "q": 3}, "z": 9}`},
		{name: "empty struct", typ: st("empty", 0), data: nil, text: "{}", jsonRaw: "{}"},
		{name: "array of structs", typ: array(st("pt", 2, mem("v", tU16, 0)), 2), data: newBuf(4).u16(0, 1).u16(2, 2),
			text: "[{ .v = 1 },{ .v = 2 }]", json: `[{"v": 1}, {"v": 2}]`},
		{name: "union", typ: &btf.Union{Name: "u", Size: 4, Members: []btf.Member{mem("w", tU32, 0), mem("b", array(tU16, 2), 0)}},
			data: newBuf(4).u16(0, 1).u16(2, 2), text: "{ .w = 131073, .b = [1,2] }", json: `{"w": 131073, "b": [1,2]}`, needsLE: true},

		{name: "enum", typ: tColor, data: u32b(2), text: "BLUE", jsonRaw: `"BLUE"`},
		{name: "enum unknown", typ: tColor, data: u32b(7), text: "7", jsonRaw: "7"},
		{name: "signed enum", typ: tErr, data: u32b(0xffffffff), text: "EFAIL", json: `"EFAIL"`},
		{name: "signed enum unknown", typ: tErr, data: u32b(uint32(0xfffffff9)), text: "-7", json: "-7"},
		{name: "enum64", typ: tBig, data: u64b(1 << 40), text: "HUGE", json: `"HUGE"`},

		{name: "pointer", typ: &btf.Pointer{Target: &btf.Void{}}, data: u64b(0xffff8880deadbeef),
			text: "0xffff8880deadbeef", jsonRaw: "18446612685805960943"},
		{name: "null pointer", typ: &btf.Pointer{Target: tU32}, data: u64b(0), text: "0x0", json: "0"},
		{name: "float", typ: tF32, data: u32b(math.Float32bits(1.5)), text: "1.5", json: "1.5"},
		{name: "float shortest", typ: tF32, data: u32b(math.Float32bits(0.1)), text: "0.1", json: "0.1"},
		{name: "double", typ: tF64, data: u64b(math.Float64bits(-2.25e-7)), text: "-2.25e-07", json: "-2.25e-07"},
		{name: "double big", typ: tF64, data: u64b(math.Float64bits(1e21)), text: "1e+21", json: "1e+21"},
		{name: "NaN", typ: tF64, data: u64b(math.Float64bits(math.NaN())), text: "NaN", jsonRaw: "null"},
		{name: "Inf", typ: tF32, data: u32b(math.Float32bits(float32(math.Inf(-1)))), text: "-Inf", jsonRaw: "null"},

		{name: "bitfields", typ: tBits, needsLE: true,
			data: newBuf(16).u8(0, 5|17<<3).u8(1, 0xd|2<<4|1<<6).u64(4, 0x123456789a),
			text: "{ .a = 5, .b = 17, .c = -3, .e = BLUE, .f = true, .d = 78187493530 }",
			json: `{"a": 5, "b": 17, "c": -3, "e": "BLUE", "f": true, "d": 78187493530}`},
		{name: "bitfield across bytes", typ: tStraddle, needsLE: true, data: newBuf(2).u16(0, 683<<5|3),
			text: "{ .pad = 3, .x = 683 }", json: `{"pad": 3, "x": 683}`},

		{name: "datasec", typ: &btf.Datasec{Name: ".bss", Size: 8, Vars: []btf.VarSecinfo{
			{Type: &btf.Var{Name: "count", Type: tU32}, Offset: 0, Size: 4},
			{Type: &btf.Var{Name: "hits", Type: tU32}, Offset: 4, Size: 4},
		}}, data: newBuf(8).u32(0, 1).u32(4, 2), text: "{ .count = 1, .hits = 2 }", json: `{"count": 1, "hits": 2}`},
		{name: "var", typ: &btf.Var{Name: "x", Type: tU16}, data: newBuf(2).u16(0, 3), text: "3", json: "3"},
	}
}

func tU8T() btf.Type { return &btf.Typedef{Name: "__u8", Type: tU8} }

func TestValues(t *testing.T) {
	for _, c := range valueCases() {
		t.Run(c.name, func(t *testing.T) {
			if c.needsLE && !littleEndian {
				t.Skip("expected bytes are little-endian")
			}
			got, err := Text(c.typ, c.data)
			if err != nil {
				t.Fatalf("Text: %v", err)
			}
			if got != c.text {
				t.Errorf("Text = %q, want %q", got, c.text)
			}
			js, err := JSON(c.typ, c.data)
			if err != nil {
				t.Fatalf("JSON: %v", err)
			}
			if !json.Valid(js) {
				t.Fatalf("JSON output is invalid: %s", js)
			}
			if c.jsonRaw != "" && string(js) != c.jsonRaw {
				t.Errorf("JSON = %s, want %s", js, c.jsonRaw)
			}
			if c.json != "" {
				jsonEqual(t, string(js), c.json)
			}
		})
	}
}

func TestValueErrors(t *testing.T) {
	self := st("self", 4)
	self.Members = []btf.Member{mem("again", self, 0)}
	anonSelf := st("", 4)
	anonSelf.Members = []btf.Member{mem("", anonSelf, 0)}
	loopA := &btf.Typedef{Name: "a"}
	loopB := &btf.Typedef{Name: "b", Type: loopA}
	loopA.Type = loopB

	for _, c := range []struct {
		name  string
		typ   btf.Type
		data  []byte
		short bool
		msg   string
	}{
		{name: "nil type", typ: nil, msg: "no type"},
		{name: "short int", typ: tU32, data: []byte{1, 2, 3}, short: true, msg: "need 4 bytes, have 3"},
		{name: "short struct", typ: tOuter, data: make([]byte, 15), short: true},
		{name: "short array", typ: array(tU64, 2), data: make([]byte, 9), short: true},
		{name: "short char array", typ: charArray(16), data: []byte("abc"), short: true},
		{name: "void", typ: &btf.Void{}, msg: "void: no printable form"},
		{name: "func proto", typ: &btf.FuncProto{Return: tU32}, msg: "unsized"},
		{name: "fwd member", typ: st("s", 4, mem("f", &btf.Fwd{Name: "later"}, 0)), data: make([]byte, 4), msg: "forward declaration later: no printable form"},
		{name: "odd int size", typ: &btf.Int{Name: "odd", Size: 3}, data: make([]byte, 3), msg: "unsupported integer size 3"},
		{name: "zero int size", typ: st("s", 4, mem("z", &btf.Int{Name: "z"}, 0)), data: make([]byte, 4), msg: "no size"},
		{name: "odd enum size", typ: &btf.Enum{Name: "e", Size: 3}, data: make([]byte, 3), msg: "unsupported integer size"},
		{name: "half float", typ: &btf.Float{Name: "_Float16", Size: 2}, data: make([]byte, 2), msg: "unsupported float size"},
		{name: "struct in itself", typ: self, data: make([]byte, 4), msg: "nested too deeply"},
		{name: "anonymous struct in itself", typ: anonSelf, data: make([]byte, 4), msg: "nested too deeply"},
		{name: "typedef loop", typ: loopA, data: make([]byte, 4)},
		{name: "wide bitfield", typ: st("s", 16, bitmem("x", tU64, 0, 65)), data: make([]byte, 16), msg: "bitfield of 65 bits"},
		{name: "bitfield past the end", typ: st("s", 4, bitmem("x", tU32, 30, 8)), data: make([]byte, 4), short: true},
		{name: "bitfield of a struct", typ: st("s", 4, bitmem("x", tInner, 0, 8)), data: make([]byte, 4), msg: "bitfield of type struct inner"},
		{name: "unaligned member", typ: st("s", 8, btf.Member{Name: "x", Type: tU32, Offset: 3}), data: make([]byte, 8), msg: "not byte aligned"},
		{name: "member past the end", typ: st("s", 4, mem("x", tU32, 8)), data: make([]byte, 4), short: true, msg: ".x"},
		{name: "many zero-sized elements", typ: array(st("e", 0), 1<<30), data: nil, msg: "zero-sized"},
		{name: "datasec var past the end", typ: &btf.Datasec{Name: ".data", Size: 4, Vars: []btf.VarSecinfo{
			{Type: &btf.Var{Name: "v", Type: tU32}, Offset: 2, Size: 4},
		}}, data: make([]byte, 4), short: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, terr := Text(c.typ, c.data)
			_, jerr := JSON(c.typ, c.data)
			for _, err := range []error{terr, jerr} {
				if err == nil {
					t.Fatal("no error")
				}
				if c.short && !errors.Is(err, ErrShortData) {
					t.Errorf("error %q does not wrap ErrShortData", err)
				}
				if !strings.Contains(err.Error(), c.msg) {
					t.Errorf("error %q does not mention %q", err, c.msg)
				}
			}
		})
	}
}

func TestErrorNamesThePath(t *testing.T) {
	typ := st("event", 8, mem("pid", tU32, 0), mem("in", st("inner", 4, mem("bad", &btf.Int{Name: "odd", Size: 3}, 0)), 4))
	_, err := Text(typ, make([]byte, 8))
	if err == nil || !strings.Contains(err.Error(), "struct event: .in: .bad:") {
		t.Fatalf("error = %v, want it to name struct event: .in: .bad", err)
	}
}
