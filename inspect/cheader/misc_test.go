package cheader

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// definitions lists the top-level definitions of a header in order, one
// line each: the first line of each, ";"-terminated chunks only.
func definitions(h string) []string {
	var defs []string
	for _, chunk := range strings.Split(h, "\n\n") {
		chunk = strings.TrimSpace(chunk)
		if chunk == "" || strings.HasPrefix(chunk, "#") || strings.HasPrefix(chunk, "/*") {
			continue
		}
		defs = append(defs, strings.SplitN(chunk, "\n", 2)[0])
	}
	return defs
}

// TestSortedOrder checks bpftool's stable order: anonymous enums by their
// first enumerator, named enums, typedefs of base types, structs (and
// typedefs of them) by name with what they embed first, then typedefs of
// function pointers.
func TestSortedOrder(t *testing.T) {
	b := newRawBuilder()
	i := b.Int("int", 4, encSigned)
	zeta := b.Struct("zeta", 4, mem{"a", i, 0, 0})
	b.Enum("alpha", 4, false, enumVal{"AL", 0})
	b.Enum("", 4, false, enumVal{"B_ONE", 1})
	b.Enum("", 4, false, enumVal{"A_ONE", 1})
	b.Typedef("myint", i)
	beta := b.Struct("beta", 4, mem{"z", zeta, 0, 0})
	b.Typedef("fnp", b.Ptr(b.Proto(0)))
	b.Typedef("zz_t", beta)
	b.Struct("aardvark", 4, mem{"n", i, 0, 0})
	bt := b.BTF(t, nil)

	want := []string{
		"enum {", // A_ONE
		"enum {", // B_ONE
		"enum alpha {",
		"typedef int myint;",
		"struct aardvark {",
		"struct zeta {", // needed by beta
		"struct beta {",
		"typedef struct beta zz_t;",
		"typedef void (*fnp)(void);",
	}
	got := definitions(renderC(t, bt, Options{}))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sorted order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	h := renderC(t, bt, Options{})
	if strings.Index(h, "A_ONE") > strings.Index(h, "B_ONE") {
		t.Errorf("anonymous enums are not sorted by their first enumerator:\n%s", h)
	}
	wantUnsorted := []string{"struct zeta {", "enum alpha {", "enum {", "enum {", "typedef int myint;",
		"struct beta {", "typedef void (*fnp)(void);", "typedef struct beta zz_t;", "struct aardvark {"}
	if got := definitions(renderC(t, bt, Options{Unsorted: true})); strings.Join(got, "\n") != strings.Join(wantUnsorted, "\n") {
		t.Errorf("ID order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantUnsorted, "\n"))
	}
}

// TestSortTies checks that types equal in rank and names are ordered by
// their shape, whatever their IDs.
func TestSortTies(t *testing.T) {
	order := func(swap bool) []string {
		b := newRawBuilder()
		i := b.Int("int", 4, encSigned)
		a := []mem{{"x", i, 0, 0}}
		c := []mem{{"y", i, 0, 0}}
		if swap {
			a, c = c, a
		}
		b.Struct("same", 4, a...)
		b.Struct("same", 4, c...)
		var defs []string
		for _, line := range strings.Split(renderC(t, b.BTF(t, nil), Options{}), "\n") {
			if strings.HasPrefix(line, "\tint ") {
				defs = append(defs, line)
			}
		}
		return defs
	}
	if a, b := order(false), order(true); strings.Join(a, ",") != strings.Join(b, ",") {
		t.Errorf("order depends on type IDs: %v vs %v", a, b)
	}
}

func TestRoots(t *testing.T) {
	b := newRawBuilder()
	i := b.Int("int", 4, encSigned)
	inner := b.Struct("inner", 4, mem{"a", i, 0, 0})
	b.Struct("unrelated", 4, mem{"b", i, 0, 0})
	outer := b.Struct("outer", 16, mem{"in", inner, 0, 0}, mem{"self", 0, 64, 0})
	b.setMember(outer, 1, b.Ptr(outer))
	bt := b.BTF(t, nil)
	h := renderC(t, bt, Options{Roots: []uint32{outer}})
	got := definitions(h)
	want := []string{"struct inner {", "struct outer {"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("roots: got\n%s", h)
	}
	if strings.Contains(h, "BPF kfuncs") {
		t.Errorf("a header of chosen types has the kfunc block:\n%s", h)
	}
	if err := bt.WriteC(&bytes.Buffer{}, Options{Roots: []uint32{99}}); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("root 99: err = %v", err)
	}
	var raw bytes.Buffer
	if err := bt.WriteRaw(&raw, false, outer); err != nil {
		t.Fatal(err)
	}
	if want := "[4] STRUCT 'outer' size=16 vlen=2\n\t'in' type_id=2 bits_offset=0\n\t'self' type_id=5 bits_offset=64\n"; raw.String() != want {
		t.Errorf("raw of one type:\n%s\nwant:\n%s", raw.String(), want)
	}
}

func TestOptions(t *testing.T) {
	b, _ := buildCase(t, goldenCases[0])
	h := renderC(t, b, Options{NoAccessIndex: true, NoKfuncs: true})
	for _, s := range []string{"preserve_access_index", "BPF kfuncs"} {
		if strings.Contains(h, s) {
			t.Errorf("options left %q in:\n%s", s, h)
		}
	}
	for _, s := range []string{"#ifndef __VMLINUX_H__", "#endif /* __VMLINUX_H__ */", "struct basic {"} {
		if !strings.Contains(h, s) {
			t.Errorf("missing %q in:\n%s", s, h)
		}
	}
}

// TestSplit renders split BTF over a base: the header holds the base's
// types too; the raw listing only the split blob's, numbered after the
// base's.
func TestSplit(t *testing.T) {
	bb := newRawBuilder()
	i := bb.Int("int", 4, encSigned)
	task := bb.Struct("task", 4, mem{"pid", i, 0, 0})
	base := bb.BTF(t, nil)

	sb := newSplitBuilder(base)
	mod := sb.Struct("mod_state", 16, mem{"owner", sb.Ptr(task), 0, 0}, mem{"refs", i, 64, 0})
	split := sb.BTF(t, base)
	if split.FirstID() != 3 || mod != 4 || split.NumTypes() != 5 {
		t.Fatalf("split IDs: first %d, mod_state %d, %d types", split.FirstID(), mod, split.NumTypes())
	}
	h := renderC(t, split, Options{Unsorted: true})
	for _, s := range []string{"struct task {\n\tint pid;\n};", "struct mod_state {\n\tstruct task *owner;\n\tint refs;\n};"} {
		if !strings.Contains(h, s) {
			t.Errorf("split header lacks %q:\n%s", s, h)
		}
	}
	raw := renderRaw(t, split, false)
	want := "[3] PTR '(anon)' type_id=2\n[4] STRUCT 'mod_state' size=16 vlen=2\n\t'owner' type_id=3 bits_offset=0\n\t'refs' type_id=1 bits_offset=64\n"
	if raw != want {
		t.Errorf("split raw:\n%s\nwant:\n%s", raw, want)
	}
	// A split blob that refers past the types it and its base have.
	bad := newSplitBuilder(base)
	bad.Ptr(42)
	if _, err := Parse(bad.Bytes(binary.LittleEndian), base); err == nil || !strings.Contains(err.Error(), "refers to type [42]") {
		t.Errorf("bad split reference: err = %v", err)
	}
}

// TestBigEndian reads BTF of a big-endian target (s390x, for instance).
func TestBigEndian(t *testing.T) {
	b := newRawBuilder()
	b.Struct("be", 8, mem{"v", b.Int("long int", 8, encSigned), 0, 0})
	le, err := Parse(b.Bytes(binary.LittleEndian), nil)
	if err != nil {
		t.Fatal(err)
	}
	be, err := Parse(b.Bytes(binary.BigEndian), nil)
	if err != nil {
		t.Fatal(err)
	}
	if x, y := renderC(t, le, Options{}), renderC(t, be, Options{}); x != y {
		t.Errorf("big-endian BTF renders differently:\n%s\n%s", x, y)
	}
}

// TestELF reads the .BTF of the committed BPF objects.
func TestELF(t *testing.T) {
	objs, _ := filepath.Glob("../../testdata/*.bpf.o")
	if len(objs) == 0 {
		t.Fatal("no BPF objects in testdata")
	}
	for _, obj := range objs {
		b, err := Load(obj, nil)
		if err != nil {
			t.Fatalf("%s: %v", obj, err)
		}
		if b.PointerSize() != 8 {
			t.Errorf("%s: pointer size %d", obj, b.PointerSize())
		}
		h := renderC(t, b, Options{})
		if !strings.Contains(h, "#endif /* __VMLINUX_H__ */") {
			t.Errorf("%s: header is cut short", obj)
		}
	}
	b, err := Load("../../testdata/maps.bpf.o", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ids := b.TypesByName("task_val"); len(ids) != 1 {
		t.Fatalf("task_val: %v", ids)
	}
	h := renderC(t, b, Options{Roots: b.TypesByName("task_val")})
	if !regexp.MustCompile(`struct task_val \{\n\t__u64 count;\n\t__s32 delta;\n\tenum task_state state;\n\tchar tag\[8\];\n\};`).MatchString(h) {
		t.Errorf("task_val from maps.bpf.o:\n%s", h)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := newRawBuilder()
	good.Int("int", 4, encSigned)
	raw := good.Bytes(binary.LittleEndian)

	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"short", "shorter than its 24-byte header", raw[:10]},
		{"tiny", "too short for the magic", raw[:1]},
		{"magic", "not BTF: magic", append([]byte("XXXX"), raw[4:]...)},
		{"version", "version 2 is not supported", append(append([]byte{}, raw[:2]...), append([]byte{2}, raw[3:]...)...)},
		{"truncated", "runs past the end", raw[:len(raw)-2]},
		{"elf", "no .BTF section", elfWithoutBTF(t)},
	} {
		_, err := Load(write(tc.name, tc.data), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}

	// Unknown kinds, out-of-range references and names.
	b := newRawBuilder()
	b.add(Kind(25), "future", false, 0, 0)
	if _, err := Parse(b.Bytes(binary.LittleEndian), nil); err == nil || !strings.Contains(err.Error(), "kind 25") {
		t.Errorf("unknown kind: %v", err)
	}
	b = newRawBuilder()
	b.Ptr(7)
	if _, err := Parse(b.Bytes(binary.LittleEndian), nil); err == nil || !strings.Contains(err.Error(), "refers to type [7]") {
		t.Errorf("dangling pointer: %v", err)
	}
	b = newRawBuilder()
	b.words = append(b.words, 9999, uint32(KindInt)<<24, 4, 32)
	b.offs = append(b.offs, 0)
	b.n++
	if _, err := Parse(b.Bytes(binary.LittleEndian), nil); err == nil || !strings.Contains(err.Error(), "string offset 9999") {
		t.Errorf("bad name: %v", err)
	}
}

// elfWithoutBTF is the smallest ELF object: a header and no sections.
func elfWithoutBTF(t *testing.T) []byte {
	t.Helper()
	h := make([]byte, 64)
	copy(h, "\x7fELF")
	h[4], h[5], h[6] = 2, 1, 1                 // 64-bit, little-endian, version 1
	binary.LittleEndian.PutUint16(h[16:], 1)   // ET_REL
	binary.LittleEndian.PutUint16(h[18:], 247) // EM_BPF
	binary.LittleEndian.PutUint32(h[20:], 1)   // version
	binary.LittleEndian.PutUint16(h[52:], 64)  // header size
	binary.LittleEndian.PutUint16(h[58:], 64)  // section header size
	return h
}

// TestCycles checks that BTF C cannot express fails cleanly: a struct
// that contains itself, an anonymous struct that points to itself, and a
// chain of modifiers that loops.
func TestCycles(t *testing.T) {
	b := newRawBuilder()
	self := b.Struct("self", 4, mem{"me", 0, 0, 0})
	b.setMember(self, 0, self)
	if err := b.BTF(t, nil).WriteC(&bytes.Buffer{}, Options{}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("struct containing itself: err = %v", err)
	}

	b = newRawBuilder()
	anon := b.Struct("", 8, mem{"me", 0, 0, 0})
	b.setMember(anon, 0, b.Ptr(anon))
	if err := b.BTF(t, nil).WriteC(&bytes.Buffer{}, Options{}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("anonymous struct pointing to itself: err = %v", err)
	}

	b = newRawBuilder()
	c := b.Const(2)
	b.Volatile(c)
	b.Typedef("loop_t", c)
	if err := b.BTF(t, nil).WriteC(&bytes.Buffer{}, Options{}); err == nil || !strings.Contains(err.Error(), "a cycle in the BTF") {
		t.Errorf("modifier loop: err = %v", err)
	}
	var raw bytes.Buffer
	if err := b.BTF(t, nil).WriteRaw(&raw, false); err != nil || !strings.Contains(raw.String(), "[1] CONST '(anon)' type_id=2") {
		t.Errorf("raw listing of a modifier loop: %v\n%s", err, raw.String())
	}
}

func TestFromTypes(t *testing.T) {
	i := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	node := &btf.Struct{Name: "node", Size: 16}
	node.Members = []btf.Member{
		{Name: "next", Type: &btf.Pointer{Target: node}},
		{Name: "val", Type: i, Offset: 64},
		{Name: "flag", Type: i, Offset: 96, BitfieldSize: 3},
	}
	td := &btf.Typedef{Name: "node_t", Type: node}
	b, err := FromTypes(&btf.Void{}, td)
	if err != nil {
		t.Fatal(err)
	}
	if b.Name(1) != "node_t" {
		t.Fatalf("type 1 is %q, want node_t", b.Name(1))
	}
	h := renderC(t, b, Options{Roots: []uint32{1}})
	want := "struct node {\n\tstruct node *next;\n\tint val;\n\tint flag: 3;\n};\n\ntypedef struct node node_t;\n"
	if !strings.Contains(h, want) {
		t.Errorf("FromTypes header:\n%s\nwant to contain:\n%s", h, want)
	}

	spec, err := btf.LoadSpec("../../testdata/maps.bpf.o")
	if err != nil {
		t.Fatal(err)
	}
	b, err = FromSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(renderC(t, b, Options{}), "struct task_key {\n\t__u32 pid;\n\tchar comm[16];\n};") {
		t.Errorf("FromSpec lost task_key")
	}
}
