package session

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/attach"
)

// decode reads an integer EncodeValue wrote, sign-extending if signed.
func decode(b []byte, order binary.ByteOrder, signed bool) *big.Int {
	var u uint64
	switch len(b) {
	case 1:
		u = uint64(b[0])
	case 2:
		u = uint64(order.Uint16(b))
	case 4:
		u = uint64(order.Uint32(b))
	case 8:
		u = order.Uint64(b)
	default:
		panic(fmt.Sprintf("decode %d bytes", len(b)))
	}
	v := new(big.Int).SetUint64(u)
	if signed && len(b) < 8 && u&(1<<(len(b)*8-1)) != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
	}
	if signed && len(b) == 8 {
		v.SetInt64(int64(u))
	}
	return v
}

func TestEncodeIntegerBounds(t *testing.T) {
	for _, size := range []uint32{1, 2, 4, 8} {
		for _, signed := range []bool{false, true} {
			bits := uint(size * 8)
			enc := btf.Unsigned
			min := big.NewInt(0)
			max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), bits), big.NewInt(1))
			if signed {
				enc = btf.Signed
				min = new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), bits-1))
				max = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), bits-1), big.NewInt(1))
			}
			typ := &btf.Int{Size: size, Encoding: enc}
			name := TypeName(typ)
			rangeText := fmt.Sprintf("out of range [%s, %s]", min, max)
			for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
				for _, v := range []*big.Int{min, max, big.NewInt(0), big.NewInt(1), new(big.Int).Rsh(max, 1)} {
					out, err := EncodeValue(typ, v.String(), order)
					if err != nil {
						t.Errorf("%s %s: %v", name, v, err)
						continue
					}
					if uint32(len(out)) != size {
						t.Errorf("%s %s: %d bytes", name, v, len(out))
						continue
					}
					if got := decode(out, order, signed); got.Cmp(v) != 0 {
						t.Errorf("%s %s (%v): encoded % x, decodes to %s", name, v, order, out, got)
					}
				}
			}
			for _, v := range []*big.Int{
				new(big.Int).Add(max, big.NewInt(1)),
				new(big.Int).Sub(min, big.NewInt(1)),
				new(big.Int).Lsh(max, 70),
			} {
				out, err := EncodeValue(typ, v.String(), nil)
				if err == nil {
					t.Errorf("%s %s: accepted as % x", name, v, out)
					continue
				}
				if want := v.String() + " is " + rangeText; err.Error() != want {
					t.Errorf("%s %s: error %q, want %q", name, v, err, want)
				}
			}
		}
	}
}

func TestEncodeIntegerSyntax(t *testing.T) {
	u8 := &btf.Int{Name: "unsigned char", Size: 1}
	s8 := &btf.Int{Name: "signed char", Size: 1, Encoding: btf.Signed}
	u16 := &btf.Int{Name: "unsigned short", Size: 2}
	u32 := &btf.Typedef{Name: "__u32", Type: &btf.Int{Name: "unsigned int", Size: 4}}
	s32 := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	u64 := &btf.Int{Name: "unsigned long long", Size: 8}
	for _, tc := range []struct {
		typ  btf.Type
		in   string
		want uint64
	}{
		{u32, "0x1F", 0x1f},
		{u32, "0XfF", 0xff},
		{u32, "0o17", 0o17},
		{u32, "017", 0o17},
		{u32, "0b101", 5},
		{u32, "0B11", 3},
		{u16, "1_000", 1000},
		{u8, "0xff", 0xff},
		{u8, "5", 5}, // unsigned char is a number, not a character
		{s8, "-0x80", 0x80},
		{s8, "-1", 0xff},
		{s32, "-0b1", 0xffffffff},
		{s32, "-2147483648", 0x80000000},
		{u64, "0xffffffffffffffff", 0xffffffffffffffff},
		{&btf.Const{Type: &btf.Volatile{Type: u32}}, "42", 42},
	} {
		out, err := EncodeValue(tc.typ, tc.in, binary.LittleEndian)
		if err != nil {
			t.Errorf("%s %q: %v", TypeName(tc.typ), tc.in, err)
			continue
		}
		var got uint64
		for i := len(out) - 1; i >= 0; i-- {
			got = got<<8 | uint64(out[i])
		}
		if got != tc.want {
			t.Errorf("%s %q = % x, want %#x", TypeName(tc.typ), tc.in, out, tc.want)
		}
	}
	for _, tc := range []struct {
		typ      btf.Type
		in, want string
	}{
		{u32, "", `"" is not an integer`},
		{u32, "abc", `"abc" is not an integer`},
		{u32, "1.5", `"1.5" is not an integer`},
		{u32, " 1", `" 1" is not an integer`},
		{u32, "0x", `"0x" is not an integer`},
		{u32, "09", `"09" is not an integer`},
		{u32, "-1", "-1 is out of range [0, 4294967295]"},
		{u32, "-0x10", "-0x10 is out of range [0, 4294967295]"},
		{u64, "-99999999999999999999", "-99999999999999999999 is out of range [0, 18446744073709551615]"},
		{u8, "0x100", "0x100 is out of range [0, 255]"},
		{s8, "0x80", "0x80 is out of range [-128, 127]"},
	} {
		out, err := EncodeValue(tc.typ, tc.in, nil)
		if err == nil {
			t.Errorf("%s %q: accepted as % x", TypeName(tc.typ), tc.in, out)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("%s %q: error %q, want %q", TypeName(tc.typ), tc.in, err, tc.want)
		}
	}
}

func TestEncodeBoolAndChar(t *testing.T) {
	boolT := &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}
	for in, want := range map[string]byte{"true": 1, "1": 1, "T": 1, "TRUE": 1, "false": 0, "0": 0, "F": 0} {
		out, err := EncodeValue(boolT, in, nil)
		if err != nil || !bytes.Equal(out, []byte{want}) {
			t.Errorf("bool %q = % x, %v; want %d", in, out, err, want)
		}
	}
	for _, in := range []string{"yes", "", "2", "on"} {
		if _, err := EncodeValue(boolT, in, nil); err == nil || !strings.Contains(err.Error(), "is not true or false") {
			t.Errorf("bool %q: error %v", in, err)
		}
	}
	// A wider bool is written in the requested byte order.
	out, err := EncodeValue(&btf.Int{Size: 4, Encoding: btf.Bool}, "true", binary.BigEndian)
	if err != nil || !bytes.Equal(out, []byte{0, 0, 0, 1}) {
		t.Errorf("4-byte bool = % x, %v", out, err)
	}

	// clang's char: a signed 1-byte int named "char" without the Char flag.
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	flagged := &btf.Int{Name: "c", Size: 1, Encoding: btf.Char}
	for _, typ := range []*btf.Int{char, flagged} {
		for in, want := range map[string]byte{"A": 'A', "z": 'z', "7": '7', " ": ' '} {
			out, err := EncodeValue(typ, in, nil)
			if err != nil || !bytes.Equal(out, []byte{want}) {
				t.Errorf("%s %q = % x, %v; want %q", typ.Name, in, out, err, want)
			}
		}
	}
	// Longer text is a number.
	for in, want := range map[string]byte{"65": 65, "-1": 0xff, "0x41": 0x41} {
		out, err := EncodeValue(char, in, nil)
		if err != nil || !bytes.Equal(out, []byte{want}) {
			t.Errorf("char %q = % x, %v; want %#x", in, out, err, want)
		}
	}
	if _, err := EncodeValue(char, "ab", nil); err == nil {
		t.Error(`char "ab" accepted`)
	}
}

func TestEncodeCharArray(t *testing.T) {
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	arr := &btf.Array{Type: &btf.Const{Type: char}, Nelems: 8}
	for in, want := range map[string][]byte{
		"":        make([]byte, 8),
		"abc":     []byte("abc\x00\x00\x00\x00\x00"),
		"1234567": []byte("1234567\x00"),
	} {
		out, err := EncodeValue(arr, in, nil)
		if err != nil || !bytes.Equal(out, want) {
			t.Errorf("char[8] %q = %q, %v; want %q", in, out, err, want)
		}
	}
	_, err := EncodeValue(arr, "12345678", nil)
	if want := `"12345678" is 8 bytes; the array holds 8 including the terminating NUL`; err == nil || err.Error() != want {
		t.Errorf("char[8] too long: error %v, want %q", err, want)
	}
	// u8 arrays take strings too (element size 1).
	u8arr := &btf.Array{Type: &btf.Typedef{Name: "__u8", Type: &btf.Int{Name: "unsigned char", Size: 1}}, Nelems: 4}
	if out, err := EncodeValue(u8arr, "hi", nil); err != nil || !bytes.Equal(out, []byte("hi\x00\x00")) {
		t.Errorf("__u8[4] = %q, %v", out, err)
	}
	if _, err := EncodeValue(&btf.Array{Type: char, Nelems: 0}, "", nil); err == nil {
		t.Error("char[0] accepted a value")
	}
	u32arr := &btf.Array{Type: &btf.Int{Name: "unsigned int", Size: 4}, Nelems: 4}
	if _, err := EncodeValue(u32arr, "1", nil); err == nil || !strings.Contains(err.Error(), "only char arrays") {
		t.Errorf("u32[4]: error %v", err)
	}
}

func TestEncodeEnum(t *testing.T) {
	kind := &btf.Enum{Name: "kind", Size: 4, Values: []btf.EnumValue{{Name: "KIND_A", Value: 0}, {Name: "KIND_B", Value: 7}}}
	for in, want := range map[string][]byte{
		"KIND_A": {0, 0, 0, 0},
		"KIND_B": {7, 0, 0, 0},
		"3":      {3, 0, 0, 0},
		"0x10":   {0x10, 0, 0, 0},
	} {
		out, err := EncodeValue(kind, in, binary.LittleEndian)
		if err != nil || !bytes.Equal(out, want) {
			t.Errorf("enum kind %q = % x, %v; want % x", in, out, err, want)
		}
	}
	if out, err := EncodeValue(kind, "KIND_B", binary.BigEndian); err != nil || !bytes.Equal(out, []byte{0, 0, 0, 7}) {
		t.Errorf("big-endian KIND_B = % x, %v", out, err)
	}
	_, err := EncodeValue(kind, "KIND_C", nil)
	if want := `"KIND_C" is neither a number nor one of KIND_A, KIND_B`; err == nil || err.Error() != want {
		t.Errorf("unknown enumerator: error %v, want %q", err, want)
	}
	_, err = EncodeValue(kind, "-1", nil)
	if want := "-1 is out of range [0, 4294967295]"; err == nil || err.Error() != want {
		t.Errorf("unsigned enum -1: error %v, want %q", err, want)
	}
	small := &btf.Enum{Name: "small", Size: 1, Values: []btf.EnumValue{{Name: "S", Value: 1}}}
	_, err = EncodeValue(small, "300", nil)
	if want := "300 is out of range [0, 255]"; err == nil || err.Error() != want {
		t.Errorf("1-byte enum 300: error %v, want %q", err, want)
	}
	signed := &btf.Enum{Name: "sgn", Size: 4, Signed: true, Values: []btf.EnumValue{{Name: "NEG", Value: 0xffffffff}}}
	for in, want := range map[string][]byte{"NEG": {0xff, 0xff, 0xff, 0xff}, "-2": {0xfe, 0xff, 0xff, 0xff}} {
		out, err := EncodeValue(signed, in, binary.LittleEndian)
		if err != nil || !bytes.Equal(out, want) {
			t.Errorf("signed enum %q = % x, %v; want % x", in, out, err, want)
		}
	}
	big64 := &btf.Enum{Name: "wide", Size: 8, Values: []btf.EnumValue{{Name: "HIGH", Value: 1 << 40}}}
	if out, err := EncodeValue(big64, "HIGH", binary.LittleEndian); err != nil || binary.LittleEndian.Uint64(out) != 1<<40 {
		t.Errorf("enum64 HIGH = % x, %v", out, err)
	}
}

func TestEncodeUnsupported(t *testing.T) {
	for _, tc := range []struct {
		typ  btf.Type
		want string
	}{
		{&btf.Struct{Name: "event", Size: 8}, "cannot set values of this type"},
		{&btf.Union{Name: "u", Size: 8}, "cannot set values of this type"},
		{&btf.Pointer{Target: &btf.Void{}}, "cannot set values of this type"},
		{&btf.Float{Name: "double", Size: 8}, "cannot set values of this type"},
		{&btf.Void{}, "cannot set values of this type"},
		{nil, "cannot set values of this type"},
		{&btf.Int{Name: "__int128", Size: 16, Encoding: btf.Signed}, "integers of 16 bytes are not supported"},
		{&btf.Int{Name: "odd", Size: 3}, "integers of 3 bytes are not supported"},
		{&btf.Int{Name: "odd", Size: 3, Encoding: btf.Bool}, "integers of 3 bytes are not supported"},
		{&btf.Int{Name: "zero", Size: 0}, "integers of 0 bytes are not supported"},
		{&btf.Enum{Name: "odd", Size: 3, Values: []btf.EnumValue{{Name: "X", Value: 1}}}, "integers of 3 bytes are not supported"},
	} {
		for _, in := range []string{"1", "X", "true"} {
			out, err := EncodeValue(tc.typ, in, nil)
			if err == nil {
				t.Errorf("%s %q: accepted as % x", TypeName(tc.typ), in, out)
				continue
			}
			if !strings.Contains(err.Error(), tc.want) && !strings.Contains(err.Error(), "not true or false") {
				t.Errorf("%s %q: error %q, want %q", TypeName(tc.typ), in, err, tc.want)
			}
		}
	}
}

func TestTypeName(t *testing.T) {
	u32 := &btf.Typedef{Name: "__u32", Type: &btf.Int{Name: "unsigned int", Size: 4}}
	cyclic := &btf.Pointer{}
	cyclic.Target = cyclic
	for _, tc := range []struct {
		typ  btf.Type
		want string
	}{
		{nil, "-"},
		{u32, "__u32"},
		{&btf.Const{Type: &btf.Volatile{Type: u32}}, "__u32"},
		{&btf.Int{Name: "unsigned int", Size: 4}, "unsigned int"},
		{&btf.Int{Size: 4, Encoding: btf.Signed}, "s32"},
		{&btf.Int{Size: 8}, "u64"},
		{&btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}, "bool"},
		{&btf.Array{Type: &btf.Const{Type: &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}}, Nelems: 8}, "char[8]"},
		{&btf.Enum{Name: "kind", Size: 4}, "enum kind"},
		{&btf.Struct{Name: "event"}, "struct event"},
		{&btf.Union{Name: "val"}, "union val"},
		{&btf.Pointer{Target: &btf.Struct{Name: "event"}}, "struct event *"},
		{&btf.Float{Name: "double", Size: 8}, "double"},
	} {
		if got := TypeName(tc.typ); got != tc.want {
			t.Errorf("TypeName(%v) = %q, want %q", tc.typ, got, tc.want)
		}
	}
	// A malformed object's BTF can be cyclic; naming it must end.
	if got := TypeName(cyclic); !strings.HasSuffix(got, "*") {
		t.Errorf("TypeName(cyclic pointer) = %q", got)
	}
	q := &btf.Const{}
	q.Type = &btf.Volatile{Type: q}
	_ = TypeName(q)
}

func TestVariablesOpenat(t *testing.T) {
	spec := loadSpec(t, "openat.bpf.o")
	type row struct {
		Name, Section, Type string
		Const               bool
	}
	var got []row
	for _, v := range Variables(spec) {
		got = append(got, row{v.Name, v.Section, TypeName(v.Type), v.Const})
		if v.Spec != spec.Variables[v.Name] {
			t.Errorf("%s: Spec is not the spec's VariableSpec", v.Name)
		}
	}
	want := []row{
		{"enabled", ".rodata", "bool", true},
		{"tag", ".rodata", "char[8]", true},
		{"target_pid", ".rodata", "__u32", true},
		// unused_event is a pointer: --set cannot write it, so it is
		// not listed.
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Variables:\n got %+v\nwant %+v", got, want)
	}
	if v := Variables(loadSpec(t, "alt.bpf.o")); len(v) != 0 {
		t.Errorf("alt.bpf.o has no globals, Variables = %+v", v)
	}
}

func TestVariablesSections(t *testing.T) {
	u32 := &btf.Typedef{Name: "__u32", Type: &btf.Int{Name: "unsigned int", Size: 4}}
	mk := func(name, section string, typed bool) *ebpf.VariableSpec {
		vs := &ebpf.VariableSpec{Name: name, SectionName: section, Value: make([]byte, 4)}
		if typed {
			vs.Type = &btf.Var{Name: name, Type: u32}
		}
		return vs
	}
	spec := &ebpf.CollectionSpec{Variables: map[string]*ebpf.VariableSpec{
		"ro":      mk("ro", ".rodata", true),
		"ro_sub":  mk("ro_sub", ".rodata.cst", true),
		"rw":      mk("rw", ".data", true),
		"rw_sub":  mk("rw_sub", ".data.custom", true),
		"zero":    mk("zero", ".bss", true),
		"kconfig": mk("kconfig", ".kconfig", true),
		"ksym":    mk("ksym", ".ksyms", true),
		"untyped": mk("untyped", ".data", false),
		"other":   mk("other", ".rodatax", true),
		"maps":    mk("maps", ".maps", true),
	}}
	var names []string
	consts := map[string]bool{}
	for _, v := range Variables(spec) {
		names = append(names, v.Name)
		consts[v.Name] = v.Const
	}
	if want := []string{"ro", "ro_sub", "rw", "rw_sub", "zero"}; !reflect.DeepEqual(names, want) {
		t.Errorf("Variables = %v, want %v", names, want)
	}
	if want := map[string]bool{"ro": true, "ro_sub": true, "rw": false, "rw_sub": false, "zero": false}; !reflect.DeepEqual(consts, want) {
		t.Errorf("Const = %v, want %v", consts, want)
	}
	err := SetVariables(spec, []string{"kconfig=1"})
	if err == nil || !strings.Contains(err.Error(), "settable variables: ro, ro_sub, rw, rw_sub, zero") {
		t.Errorf("setting a .kconfig variable: %v", err)
	}
}

func TestSetVariablesOpenat(t *testing.T) {
	spec := loadSpec(t, "openat.bpf.o")
	if err := SetVariables(spec, []string{"target_pid=0x01020304", "enabled=false", "tag=a=b"}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{
		"target_pid": {4, 3, 2, 1}, // the object is little-endian
		"enabled":    {0},
		"tag":        []byte("a=b\x00\x00\x00\x00\x00"),
	} {
		if got := spec.Variables[name].Value; !bytes.Equal(got, want) {
			t.Errorf("%s = % x, want % x", name, got, want)
		}
	}
	var pid uint32
	if err := spec.Variables["target_pid"].Get(&pid); err != nil || pid != 0x01020304 {
		t.Errorf("target_pid reads back as %#x, %v", pid, err)
	}
	if err := SetVariables(spec, []string{"enabled=1", "tag=", "target_pid=4294967295"}); err != nil {
		t.Fatal(err)
	}
	if got := spec.Variables["enabled"].Value; !bytes.Equal(got, []byte{1}) {
		t.Errorf("enabled = % x", got)
	}
	if got := spec.Variables["tag"].Value; !bytes.Equal(got, make([]byte, 8)) {
		t.Errorf("tag = %q", got)
	}
	if err := SetVariables(spec, nil); err != nil {
		t.Errorf("no assignments: %v", err)
	}
}

func TestSetVariablesErrors(t *testing.T) {
	for _, tc := range []struct {
		set  string
		want string
	}{
		{"nosuch=1", `--set: no variable "nosuch" in the object; settable variables: enabled, tag, target_pid`},
		{"target_pid", `--set "target_pid": expected NAME=VALUE`},
		{"=5", `--set "=5": expected NAME=VALUE`},
		{"target_pid=-1", "--set target_pid (__u32): -1 is out of range [0, 4294967295]"},
		{"target_pid=4294967296", "--set target_pid (__u32): 4294967296 is out of range [0, 4294967295]"},
		{"target_pid=me", `--set target_pid (__u32): "me" is not an integer`},
		{"enabled=maybe", `--set enabled (bool): "maybe" is not true or false`},
		{"tag=12345678", `--set tag (char[8]): "12345678" is 8 bytes; the array holds 8 including the terminating NUL`},
		{"unused_event=0", "--set unused_event: it is struct event *, and waggle sets only integers, booleans, enums and char arrays"},
		// The user's text is quoted once, and only its first bytes.
		{"target_pid=" + strings.Repeat("7x", 60000), `--set target_pid (__u32): "` + strings.Repeat("7x", 32) + `..." is not an integer`},
		{"tag=" + strings.Repeat("t", 120000), `--set tag (char[8]): "` + strings.Repeat("t", 64) + `..." is 120000 bytes; the array holds 8 including the terminating NUL`},
		{strings.Repeat("n", 120000) + "=1", `--set: no variable "` + strings.Repeat("n", 64) + `..." in the object; settable variables: enabled, tag, target_pid`},
		{strings.Repeat("n", 120000), `--set "` + strings.Repeat("n", 64) + `...": expected NAME=VALUE`},
	} {
		spec := loadSpec(t, "openat.bpf.o")
		before := map[string][]byte{}
		for n, v := range spec.Variables {
			before[n] = bytes.Clone(v.Value)
		}
		err := SetVariables(spec, []string{tc.set})
		if err == nil {
			t.Errorf("--set %s accepted", tc.set)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("--set %s:\n got %q\nwant %q", attach.Shorten(tc.set), err, tc.want)
		}
		for n, v := range spec.Variables {
			if !bytes.Equal(v.Value, before[n]) {
				t.Errorf("--set %s changed %s", tc.set, n)
			}
		}
	}
	err := SetVariables(loadSpec(t, "alt.bpf.o"), []string{"x=1"})
	if err == nil || !strings.HasSuffix(err.Error(), "it has none") {
		t.Errorf("object without globals: %v", err)
	}
}

// A malformed object can give a variable a type larger than its bytes;
// SetVariables must refuse it without allocating the claimed size.
func TestSetVariablesMalformedType(t *testing.T) {
	spec := loadSpec(t, "openat.bpf.o")
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	spec.Variables["tag"].Type.Type = &btf.Array{Type: char, Nelems: 0xffffffff}
	err := SetVariables(spec, []string{"tag=x"})
	if want := "--set tag: the object is malformed: the variable takes 8 bytes, but its BTF type char[4294967295] does not"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	spec.Variables["tag"].Type.Type = &btf.Array{Type: char, Nelems: 4}
	if err := SetVariables(spec, []string{"tag=x"}); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("char[4] over 8 bytes: %v", err)
	}
}

// Variables lists only what SetVariables can write.
func TestVariablesOnlySettable(t *testing.T) {
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	types := map[string]btf.Type{
		"int":        &btf.Typedef{Name: "__u32", Type: u32},
		"bool":       &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool},
		"volatile":   &btf.Volatile{Type: &btf.Const{Type: u32}},
		"enum":       &btf.Enum{Name: "kind", Size: 4, Values: []btf.EnumValue{{Name: "A", Value: 0}}},
		"chars":      &btf.Array{Type: char, Nelems: 8},
		"ptr":        &btf.Pointer{Target: &btf.Struct{Name: "event", Size: 8}},
		"struct":     &btf.Struct{Name: "event", Size: 8},
		"ints":       &btf.Array{Type: u32, Nelems: 2},
		"no_chars":   &btf.Array{Type: char, Nelems: 0},
		"int128":     &btf.Int{Name: "__int128", Size: 16, Encoding: btf.Signed},
		"float":      &btf.Float{Name: "double", Size: 8},
		"enum_three": &btf.Enum{Name: "odd", Size: 3},
	}
	spec := &ebpf.CollectionSpec{Variables: map[string]*ebpf.VariableSpec{}}
	for name, typ := range types {
		size, err := btf.Sizeof(typ)
		if err != nil {
			size = 8
		}
		spec.Variables[name] = &ebpf.VariableSpec{Name: name, SectionName: ".data", Value: make([]byte, size), Type: &btf.Var{Name: name, Type: typ}}
	}
	var names []string
	for _, v := range Variables(spec) {
		names = append(names, v.Name)
	}
	if want := []string{"bool", "chars", "enum", "int", "volatile"}; !reflect.DeepEqual(names, want) {
		t.Errorf("Variables = %v, want %v", names, want)
	}
	// Whatever is listed can be set.
	for name, value := range map[string]string{"bool": "true", "chars": "ab", "enum": "A", "int": "7", "volatile": "7"} {
		if _, err := EncodeValue(types[name], value, nil); err != nil {
			t.Errorf("%s is listed, but EncodeValue refuses %q: %v", name, value, err)
		}
	}
	// What is not listed says why when set.
	err := SetVariables(spec, []string{"ptr=0"})
	if want := "--set ptr: it is struct event *, and waggle sets only integers, booleans, enums and char arrays"; err == nil || err.Error() != want {
		t.Errorf("--set ptr=0: %v, want %q", err, want)
	}
}
