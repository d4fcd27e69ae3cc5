package session

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/attach"
)

// FuzzLoadObject feeds arbitrary bytes through what `waggle run` does with
// an object before touching the kernel: read it, list and set its globals,
// and plan its attachments. None of it may panic.
func FuzzLoadObject(f *testing.F) {
	// More seeds are in testdata/fuzz/FuzzLoadObject; these two are larger
	// and have globals and alternatives.
	for _, name := range []string{"openat.bpf.o", "alt.bpf.o"} {
		if data, err := os.ReadFile(fixture(name)); err == nil {
			f.Add(data)
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.bpf.o")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		spec, err := LoadObject(path)
		if err != nil {
			if spec != nil {
				t.Fatalf("LoadObject returned a spec and an error: %v", err)
			}
			return
		}

		for _, m := range spec.Maps {
			TypeName(m.Key)
			TypeName(m.Value)
		}
		vars := Variables(spec)
		var sets []string
		for _, v := range vars {
			if v.Spec == nil || spec.Variables[v.Name] != v.Spec {
				t.Fatalf("variable %s: Spec does not match", v.Name)
			}
			TypeName(v.Type)
			for _, value := range []string{"1", "-1", "true", "x", "0xffffffffffffffff", "abcdefgh"} {
				sets = append(sets, v.Name+"="+value)
			}
		}
		sets = append(sets, "no_such_variable=1", "=", "noequals")
		for _, s := range sets {
			SetVariables(spec, []string{s})
		}

		// Both answers of the probe, on copies since MakePlan prunes spec.
		for _, supported := range []bool{true, false} {
			cp := spec.Copy()
			probe := func(kind attach.Kind, name string) error {
				if supported {
					return nil
				}
				return os.ErrPermission
			}
			plan, err := MakePlan(cp, PlanOptions{Probe: probe})
			if err != nil {
				continue
			}
			for name := range cp.Programs {
				if _, ok := plan.Targets[name]; !ok {
					t.Fatalf("program %s stays in the spec without a target", name)
				}
			}
			for name := range plan.Targets {
				if cp.Programs[name] == nil {
					t.Fatalf("target for %s, which is not in the spec", name)
				}
			}
		}
		names := programNames(spec)
		if len(names) > 0 {
			overrides := map[string]string{names[0]: "a:b"}
			MakePlan(spec.Copy(), PlanOptions{Only: names[:1], Attach: overrides, Probe: func(attach.Kind, string) error { return nil }})
			MakePlan(spec.Copy(), PlanOptions{Skip: names[:1], Probe: func(attach.Kind, string) error { return nil }})
		}
	})
}

// FuzzSplitCommand checks that SplitCommand never panics and that words it
// returns, quoted again, split back to themselves.
func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{
		"ls -l /tmp",
		`echo 'a b' "c d" e\ f`,
		`sh -c 'echo "$0"' x`,
		`"unterminated`,
		`trailing\`,
		"",
		"  \t\n",
		"\xff\xfe 'é'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := SplitCommand(s)
		if err != nil {
			if words != nil {
				t.Fatalf("words %q with error %v", words, err)
			}
			return
		}
		if len(words) == 0 {
			t.Fatal("no words and no error")
		}
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		again, err := SplitCommand(strings.Join(quoted, " "))
		if err != nil {
			t.Fatalf("re-splitting %q: %v", quoted, err)
		}
		if !reflect.DeepEqual(again, words) {
			t.Fatalf("%q splits to %q, which quoted splits to %q", s, words, again)
		}
	})
}

// fuzzTypes are the BTF types FuzzEncodeValue picks from.
var fuzzTypes = func() []btf.Type {
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	u32 := &btf.Typedef{Name: "__u32", Type: &btf.Int{Name: "unsigned int", Size: 4}}
	return []btf.Type{
		&btf.Int{Name: "unsigned char", Size: 1},
		&btf.Int{Name: "signed char", Size: 1, Encoding: btf.Signed},
		&btf.Int{Name: "unsigned short", Size: 2},
		&btf.Int{Name: "short", Size: 2, Encoding: btf.Signed},
		&btf.Int{Name: "unsigned int", Size: 4},
		&btf.Int{Name: "int", Size: 4, Encoding: btf.Signed},
		&btf.Int{Name: "unsigned long long", Size: 8},
		&btf.Int{Name: "long long", Size: 8, Encoding: btf.Signed},
		&btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool},
		char,
		&btf.Array{Type: &btf.Const{Type: char}, Nelems: 8},
		&btf.Enum{Name: "kind", Size: 4, Values: []btf.EnumValue{{Name: "KIND_A", Value: 0}, {Name: "KIND_B", Value: 7}}},
		&btf.Enum{Name: "sgn", Size: 2, Signed: true, Values: []btf.EnumValue{{Name: "NEG", Value: 0xffff}}},
		&btf.Const{Type: &btf.Volatile{Type: u32}},
		&btf.Array{Type: u32, Nelems: 2},
		&btf.Struct{Name: "s", Size: 4},
		&btf.Int{Name: "__int128", Size: 16, Encoding: btf.Signed},
	}
}()

// FuzzEncodeValue checks EncodeValue against strconv on random text.
func FuzzEncodeValue(f *testing.F) {
	for i, s := range []string{"0", "-1", "0x7f", "255", "0b1010", "0o777", "true", "a", "KIND_B", "-32768", "hello", "18446744073709551615"} {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, which uint8, text string) {
		typ := fuzzTypes[int(which)%len(fuzzTypes)]
		for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			out, err := EncodeValue(typ, text, order)
			if err != nil {
				if out != nil {
					t.Fatalf("%s %q: bytes and an error", TypeName(typ), text)
				}
				if err.Error() == "" {
					t.Fatalf("%s %q: empty error", TypeName(typ), text)
				}
			} else if size, serr := btf.Sizeof(typ); serr != nil || len(out) != size {
				t.Fatalf("%s %q: %d bytes, type has %d", TypeName(typ), text, len(out), size)
			}
			checkEncoding(t, typ, text, order, out, err)
		}
	})
}

// checkEncoding compares EncodeValue's answer with an independent reading
// of text for integers and char arrays.
func checkEncoding(t *testing.T, typ btf.Type, text string, order binary.ByteOrder, out []byte, err error) {
	t.Helper()
	switch u := btf.UnderlyingType(typ).(type) {
	case *btf.Int:
		if u.Encoding == btf.Bool || u.Size > 8 {
			return
		}
		if u.Name == "char" && len(text) == 1 {
			if err != nil || !bytes.Equal(out, []byte(text)) {
				t.Fatalf("char %q = % x, %v", text, out, err)
			}
			return
		}
		bits := int(u.Size) * 8
		var want uint64
		var perr error
		if u.Encoding&btf.Signed != 0 {
			var v int64
			v, perr = strconv.ParseInt(text, 0, bits)
			want = uint64(v)
		} else {
			want, perr = strconv.ParseUint(text, 0, bits)
		}
		if (perr == nil) != (err == nil) {
			t.Fatalf("%s %q: EncodeValue error %v, strconv error %v", TypeName(typ), text, err, perr)
		}
		if err != nil {
			return
		}
		var got uint64
		switch len(out) {
		case 1:
			got = uint64(out[0])
		case 2:
			got = uint64(order.Uint16(out))
		case 4:
			got = uint64(order.Uint32(out))
		case 8:
			got = order.Uint64(out)
		}
		if mask := uint64(1)<<(bits-1)<<1 - 1; got != want&mask {
			t.Fatalf("%s %q = %#x, want %#x", TypeName(typ), text, got, want&mask)
		}
	case *btf.Array:
		if _, ok := btf.UnderlyingType(u.Type).(*btf.Int); !ok || u.Nelems != 8 || TypeName(u.Type) != "char" {
			return
		}
		if (len(text) < 8) != (err == nil) {
			t.Fatalf("char[8] %q: %v", text, err)
		}
		if err == nil && (!bytes.HasPrefix(out, []byte(text)) || bytes.Count(out[len(text):], []byte{0}) != 8-len(text)) {
			t.Fatalf("char[8] %q = %q", text, out)
		}
	}
}
