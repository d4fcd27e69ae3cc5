package maps

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/wagglebpf/waggle/btfprint"
)

var (
	u8    = &btf.Int{Name: "__u8", Size: 1}
	s8    = &btf.Int{Name: "__s8", Size: 1, Encoding: btf.Signed}
	char  = &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	u16   = &btf.Int{Name: "__u16", Size: 2}
	u32   = &btf.Int{Name: "__u32", Size: 4}
	s32   = &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	u64   = &btf.Int{Name: "__u64", Size: 8}
	s64   = &btf.Int{Name: "long", Size: 8, Encoding: btf.Signed}
	u128  = &btf.Int{Name: "unsigned __int128", Size: 16}
	s128  = &btf.Int{Name: "__int128", Size: 16, Encoding: btf.Signed}
	boolT = &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}
	f32   = &btf.Float{Name: "float", Size: 4}
	f64   = &btf.Float{Name: "double", Size: 8}
	state = &btf.Enum{Name: "task_state", Size: 4, Values: []btf.EnumValue{
		{Name: "TASK_IDLE", Value: 0}, {Name: "TASK_RUNNING", Value: 1}, {Name: "TASK_DONE", Value: 2},
	}}
	sdir = &btf.Enum{Name: "dir", Size: 4, Signed: true, Values: []btf.EnumValue{
		{Name: "DOWN", Value: ^uint64(0)}, {Name: "UP", Value: 1},
	}}
	comm    = &btf.Array{Type: char, Index: u32, Nelems: 16}
	u32x3   = &btf.Array{Type: u32, Index: u32, Nelems: 3}
	ptr     = &btf.Pointer{Target: &btf.Void{}}
	taskKey = &btf.Struct{Name: "task_key", Size: 20, Members: []btf.Member{
		{Name: "pid", Type: u32, Offset: 0},
		{Name: "comm", Type: comm, Offset: 32},
	}}
	taskVal = &btf.Struct{Name: "task_val", Size: 24, Members: []btf.Member{
		{Name: "count", Type: u64, Offset: 0},
		{Name: "delta", Type: s32, Offset: 64},
		{Name: "state", Type: state, Offset: 96},
		{Name: "tag", Type: &btf.Array{Type: char, Index: u32, Nelems: 8}, Offset: 128},
	}}
	// struct bits { unsigned a:3; int b:5; enum task_state c:2; _Bool d:1; };
	bits = &btf.Struct{Name: "bits", Size: 4, Members: []btf.Member{
		{Name: "a", Type: u32, Offset: 0, BitfieldSize: 3},
		{Name: "b", Type: s32, Offset: 3, BitfieldSize: 5},
		{Name: "c", Type: state, Offset: 8, BitfieldSize: 2},
		{Name: "d", Type: boolT, Offset: 10, BitfieldSize: 1},
	}}
	// struct outer { struct { __u16 x; __u16 y; }; union { __u32 i; float f; } u; };
	anonInner = &btf.Struct{Size: 4, Members: []btf.Member{
		{Name: "x", Type: u16, Offset: 0}, {Name: "y", Type: u16, Offset: 16},
	}}
	numUnion = &btf.Union{Name: "num", Size: 4, Members: []btf.Member{
		{Name: "i", Type: u32, Offset: 0}, {Name: "f", Type: f32, Offset: 0},
	}}
	outer = &btf.Struct{Name: "outer", Size: 8, Members: []btf.Member{
		{Name: "", Type: anonInner, Offset: 0},
		{Name: "u", Type: numUnion, Offset: 32},
	}}
	pid   = &btf.Typedef{Name: "pid_t", Type: s32}
	cpid  = &btf.Const{Type: pid}
	runs  = &btf.Var{Name: "runs", Type: u64}
	level = &btf.Var{Name: "level", Type: u32}
	bss   = &btf.Datasec{Name: ".bss", Size: 16, Vars: []btf.VarSecinfo{
		{Type: runs, Offset: 0, Size: 8}, {Type: level, Offset: 8, Size: 4},
	}}
)

// le writes little-endian test expectations in the host's order.
func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	if !littleEndian {
		t.Skip("the expected bytes are written for little-endian hosts")
	}
	for _, c := range []struct {
		name  string
		words []string
		typ   btf.Type
		size  int
		want  string
	}{
		{"bytes decimal", []string{"1", "0", "0", "0"}, nil, 4, "01000000"},
		{"bytes C forms", []string{"0x1f", "017", "255", "0"}, nil, 4, "1f0fff00"},
		{"hex", []string{"hex", "01", "00", "0a", "ff"}, nil, 4, "01000aff"},
		{"hex one word", []string{"hex", "0100aaff"}, nil, 4, "0100aaff"},
		{"hex 0x and one digit", []string{"hex", "0x1", "0", "0", "0"}, nil, 4, "01000000"},
		{"hex with a type", []string{"hex", "05", "00", "00", "00"}, u32, 4, "05000000"},
		{"bytes with a type", []string{"5", "0", "0", "0"}, u32, 4, "05000000"},
		{"u32", []string{"5"}, u32, 4, "05000000"},
		{"u32 hex", []string{"0x10"}, u32, 4, "10000000"},
		{"u32 max", []string{"4294967295"}, u32, 4, "ffffffff"},
		{"u32 json number", []string{`"7"`}, u32, 4, "07000000"},
		{"s32 negative", []string{"-2"}, s32, 4, "feffffff"},
		{"s32 bit pattern", []string{"0xffffffff"}, s32, 4, "ffffffff"},
		{"s8", []string{"-128"}, s8, 1, "80"},
		{"char number", []string{"65"}, char, 1, "41"},
		{"char quoted", []string{"'a'"}, char, 1, "61"},
		{"u64", []string{"18446744073709551615"}, u64, 8, "ffffffffffffffff"},
		{"s64 min", []string{"-9223372036854775808"}, s64, 8, "0000000000000080"},
		{"u128", []string{"0x0102030405060708090a0b0c0d0e0f10"}, u128, 16, "100f0e0d0c0b0a090807060504030201"},
		{"s128 -1", []string{"-1"}, s128, 16, "ffffffffffffffffffffffffffffffff"},
		{"bool", []string{"true"}, boolT, 1, "01"},
		{"bool 0", []string{"0"}, boolT, 1, "00"},
		{"float", []string{"1.5"}, f32, 4, "0000c03f"},
		{"double", []string{"-2"}, f64, 8, "00000000000000c0"},
		{"enum name", []string{"TASK_DONE"}, state, 4, "02000000"},
		{"enum number", []string{"7"}, state, 4, "07000000"},
		{"signed enum", []string{"DOWN"}, sdir, 4, "ffffffff"},
		{"pointer", []string{"0xffff8880"}, ptr, 8, "8088ffff00000000"},
		{"typedef const", []string{"-1"}, cpid, 4, "ffffffff"},
		{"string", []string{"bash"}, comm, 16, "62617368000000000000000000000000"},
		{"string escapes", []string{`a\x00b\\`}, comm, 16, "6100625c000000000000000000000000"},
		{"string json", []string{`"a b"`}, comm, 16, "61206200000000000000000000000000"},
		{"string full", []string{"0123456789abcdef"}, comm, 16, hex.EncodeToString([]byte("0123456789abcdef"))},
		{"array json", []string{"[1, 2]"}, u32x3, 12, "010000000200000000000000"},
		{"array words", []string{"1", "2", "3"}, u32x3, 12, "010000000200000003000000"},
		{"struct words", []string{"42", "waggle"}, taskKey, 20, "2a000000776167676c6500000000000000000000"},
		{"struct json", []string{`{"comm": "x", "pid": 1}`}, taskKey, 20, "0100000078000000000000000000000000000000"},
		{"struct json list", []string{`[1, "x"]`}, taskKey, 20, "0100000078000000000000000000000000000000"},
		{"struct partial", []string{`{"state": "TASK_RUNNING", "delta": -1}`}, taskVal, 24, "0000000000000000ffffffff010000000000000000000000"},
		{"struct null", []string{`{"count": null}`}, taskVal, 24, strings.Repeat("00", 24)},
		{"bitfields", []string{`{"a": 5, "b": -1, "c": "TASK_DONE", "d": true}`}, bits, 4, "fd060000"},
		{"anonymous members", []string{`{"x": 1, "y": 2, "u": {"f": 1.5}}`}, outer, 8, "010002000000c03f"},
		{"anonymous members words", []string{"1", "2", `{"i": 9}`}, outer, 8, "0100020009000000"},
		{"datasec", []string{`{"level": 3}`}, bss, 16, "00000000000000000300000000000000"},
		{"datasec words", []string{"1", "2"}, bss, 16, "01000000000000000200000000000000"},
		{"type of another size is ignored", []string{"1", "2"}, u32, 2, "0102"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.words, c.typ, c.size)
			if err != nil {
				t.Fatalf("Parse(%q): %v", c.words, err)
			}
			if want := hexBytes(t, c.want); !bytes.Equal(got, want) {
				t.Errorf("Parse(%q) = % x, want % x", c.words, got, want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		words []string
		typ   btf.Type
		size  int
		want  string
	}{
		{"nothing", nil, u32, 4, "nothing given"},
		{"too few bytes", []string{"1", "0"}, nil, 4, "2 bytes given, 4 needed"},
		{"not a byte", []string{"1", "0", "0", "256"}, nil, 4, `"256" is not a byte`},
		{"negative byte", []string{"-1", "0", "0", "0"}, nil, 4, `"-1" is not a byte`},
		{"hex short", []string{"hex", "01"}, nil, 4, "1 bytes given, 4 needed"},
		{"hex long", []string{"hex", "0102030405"}, nil, 4, "more than 4 bytes"},
		{"hex odd", []string{"hex", "010"}, nil, 4, "not hex bytes"},
		{"hex junk", []string{"hex", "zz"}, nil, 4, "not hex bytes"},
		{"not an integer", []string{"abc"}, u32, 4, `"abc" is not an integer, as __u32 needs (or give its 4 bytes: hex 00 00 00 00)`},
		{"negative unsigned", []string{"-1"}, u32, 4, "-1 is out of range for __u32 [0, 4294967295]"},
		{"too big", []string{"4294967296"}, u32, 4, "out of range"},
		{"signed too big", []string{"2147483648"}, s32, 4, "2147483648 is out of range for int [-2147483648, 2147483647]"},
		{"u128 too big", []string{"0x1" + strings.Repeat("0", 32)}, u128, 16, "out of range"},
		{"bool", []string{"yes"}, boolT, 1, `"yes" is not true or false`},
		{"enum", []string{"TASK_GONE"}, state, 4, `"TASK_GONE" is neither a number nor an enumerator of enum task_state (TASK_IDLE, TASK_RUNNING, TASK_DONE)`},
		{"float", []string{"x"}, f32, 4, `"x" is not a float`},
		{"string too long", []string{"0123456789abcdefg"}, comm, 16, "is 17 bytes, but char[16] holds 16"},
		{"bad escape", []string{`a\xg`}, comm, 16, `\x that is not followed by two hex digits`},
		{"array too long", []string{"[1,2,3,4]"}, u32x3, 12, "4 elements given, but __u32[3] holds 3"},
		{"array not a list", []string{"5"}, u32x3, 12, "is not a list"},
		{"struct unknown member", []string{`{"pid": 1, "cmd": "x"}`}, taskKey, 20, `struct task_key has no member "cmd" (it has pid, comm)`},
		{"struct too many words", []string{"1", "x", "2"}, taskKey, 20, "struct task_key has 2 members (pid, comm), but 3 values were given"},
		{"struct member error", []string{`{"pid": "x"}`}, taskKey, 20, `.pid: "x" is not an integer`},
		{"struct bare word", []string{"5"}, taskKey, 20, "is not an object, as struct task_key needs"},
		{"union words", []string{"1", "2"}, numUnion, 4, "2 words given, but a union num is one value"},
		{"bitfield overflow", []string{`{"a": 8}`}, bits, 4, "8 does not fit in a bitfield of 3 bits"},
		{"signed bitfield overflow", []string{`{"b": -17}`}, bits, 4, "-17 does not fit in a signed bitfield of 5 bits"},
		{"bad json", []string{`{"pid": }`}, taskKey, 20, "is not valid JSON"},
		{"trailing json", []string{`{} {}`}, taskKey, 20, "has more after its JSON value"},
		{"scalar words", []string{"1", "2"}, u64, 8, "2 words given, but a __u64 is one value"},
		{"datasec unknown", []string{`{"x": 1}`}, bss, 16, `section .bss has no variable "x" (it has runs, level)`},
		{"huge size", []string{"1"}, nil, 1 << 30, "beyond what waggle writes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.words, c.typ, c.size)
			if err == nil {
				t.Fatalf("Parse(%q) = % x, want an error", c.words, got)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("Parse(%q): %v\nwant it to contain %q", c.words, err, c.want)
			}
		})
	}
}

// TestParseRoundTrip parses what btfprint prints: the JSON of a value
// gives back its bytes, and so do the words of a struct key's text.
func TestParseRoundTrip(t *testing.T) {
	for _, c := range []struct {
		typ  btf.Type
		data string
	}{
		{u32, "2a000000"},
		{s64, "feffffffffffffff"},
		{s128, "0100000000000000ffffffffffffff7f"},
		{boolT, "01"},
		{f64, "000000000000f03f"},
		{state, "01000000"},
		{state, "09000000"},
		{comm, hex.EncodeToString([]byte("bash\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))},
		{taskKey, "2a000000776167676c6500000000000000000000"},
		{taskVal, "0900000000000000f1ffffff010000006f6b000000000000"},
		{bits, "fd060000"},
		{outer, "010002000000c03f"},
		{u32x3, "010000000200000003000000"},
		{bss, "01000000000000000200000000000000"},
	} {
		data := hexBytes(t, c.data)
		j, err := btfprint.JSON(c.typ, data)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse([]string{string(j)}, c.typ, len(data))
		if err != nil {
			t.Errorf("%s: Parse(%s): %v", typeName(c.typ), j, err)
			continue
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s: Parse(%s) = % x, want % x", typeName(c.typ), j, got, data)
		}
	}
}

func TestParseElemArgs(t *testing.T) {
	for _, c := range []struct {
		words      []string
		key, value string
		flag       string
		err        string
	}{
		{words: []string{"key", "1", "0", "0", "0"}, key: "1 0 0 0"},
		{words: []string{"key", "5", "value", "7"}, key: "5", value: "7", flag: "any"},
		{words: []string{"key", "5", "value", "1", "2", "noexist"}, key: "5", value: "1 2", flag: "noexist"},
		{words: []string{"key", "5", "value", "0", "exist"}, key: "5", value: "0", flag: "exist"},
		{words: []string{"key", "5", "value", "exist"}, key: "5", value: "exist", flag: "any"},
		{words: []string{"key", "hex", "05", "value", "hex", "07", "any"}, key: "hex 05", value: "hex 07", flag: "any"},
		{words: []string{"key"}, err: `"key" needs a key`},
		{words: []string{"key", "value", "1"}, err: `"key" needs a key`},
		{words: []string{"key", "1", "value"}, err: `"value" needs a value`},
		{words: []string{"value", "1"}, err: `"value" comes after the key`},
		{words: []string{"5"}, err: `expected "key", found "5"`},
	} {
		a, err := ParseElemArgs(c.words)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseElemArgs(%q): %v, want an error with %q", c.words, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseElemArgs(%q): %v", c.words, err)
			continue
		}
		flag := map[uint64]string{0: "any", 1: "noexist", 2: "exist"}[uint64(a.Flag)]
		if got := strings.Join(a.Key, " "); got != c.key {
			t.Errorf("ParseElemArgs(%q): key %q, want %q", c.words, got, c.key)
		}
		if got := strings.Join(a.Value, " "); got != c.value || (c.value != "" && flag != c.flag) {
			t.Errorf("ParseElemArgs(%q): value %q %s, want %q %s", c.words, got, flag, c.value, c.flag)
		}
	}
}

func TestParseRef(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
		rest int
		err  string
	}{
		{args: []string{"id", "5", "key"}, want: "id 5", rest: 1},
		{args: []string{"5"}, want: "id 5"},
		{args: []string{"name", "counts"}, want: "name counts"},
		{args: []string{"pinned", "/sys/fs/bpf/x"}, want: "pinned /sys/fs/bpf/x"},
		{args: []string{"/sys/fs/bpf/x", "key"}, want: "pinned /sys/fs/bpf/x", rest: 1},
		{args: nil, err: "no map given"},
		{args: []string{"id"}, err: `"id" needs a value`},
		{args: []string{"id", "x"}, err: `"x" is not a map ID`},
		{args: []string{"id", "0"}, err: `"0" is not a map ID`},
		{args: []string{"counts"}, err: `"counts" is not a map: name one as id N, name NAME or pinned PATH`},
	} {
		r, rest, err := ParseRef(c.args)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseRef(%q): %v, want an error with %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil || r.String() != c.want || len(rest) != c.rest {
			t.Errorf("ParseRef(%q) = %s, %q, %v; want %s and %d words after", c.args, r, rest, err, c.want, c.rest)
		}
	}
}

func TestFlagNames(t *testing.T) {
	if got := strings.Join(FlagNames(1|1<<7|1<<10|1<<30), ","); got != "no_prealloc,rdonly_prog,mmapable,0x40000000" {
		t.Errorf("FlagNames = %s", got)
	}
	if got := flagText(0); got != "-" {
		t.Errorf("flagText(0) = %q", got)
	}
}
