package ctypes

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

func mustAdd(t *testing.T, d *Defs, src ...string) {
	t.Helper()
	for _, s := range src {
		if err := d.Add(s); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
	}
}

// offsets lists "name@byte" (or "name@bit:width" for bitfields) and the
// size of a script struct, to compare with what gcc lays out.
func offsets(t *testing.T, d *Defs, name string) string {
	t.Helper()
	typ, err := d.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, m := range members(typ) {
		if m.BitfieldSize > 0 {
			parts = append(parts, fmt.Sprintf("%s@%d:%d", m.Name, m.Offset, m.BitfieldSize))
		} else {
			parts = append(parts, fmt.Sprintf("%s@%d", m.Name, m.Offset/8))
		}
	}
	return fmt.Sprintf("%s size %d", strings.Join(parts, " "), sizeOf(typ))
}

// The expected layouts are gcc's on x86-64 (checked with offsetof and
// sizeof in a C program).
func TestLayout(t *testing.T) {
	d := New(nil)
	mustAdd(t, d,
		"struct a { char c; int i; short s; long l; char tail; };",
		"struct b { unsigned int x:3, y:5; unsigned int z:30; char c; };",
		"struct c { char c; struct a inner; char arr[3][5]; void *p; };",
		"union u { char c[5]; int i; };",
		"struct d { int n; union { long l; struct { short lo, hi; }; }; };",
		"struct e { char c; unsigned long long v:4; unsigned int :0; char after; };",
	)
	for name, want := range map[string]string{
		"struct a": "c@0 i@4 s@8 l@16 tail@24 size 32",
		"struct b": "x@0:3 y@3:5 z@32:30 c@8 size 12",
		"struct c": "c@0 inner@8 arr@40 p@56 size 64",
		"union u":  "c@0 i@0 size 8",
		"struct d": "n@0 @8 size 16",
		"struct e": "c@0 v@8:4 after@4 size 8",
	} {
		if got := offsets(t, d, name); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	// Fields of the anonymous members are found through them.
	s, _ := d.Lookup("struct d")
	f, err := d.FieldOf(s, "hi")
	if err != nil || f.BitOffset != 10*8 {
		t.Errorf("d.hi: %+v, %v", f, err)
	}
}

func TestEnumsAndDefines(t *testing.T) {
	d := New(nil)
	mustAdd(t, d,
		"enum color { RED, GREEN = 5, BLUE, NEG = -1 };",
		"#define TWO 2",
		"#define SHIFTED (1 << TWO) | 1",
		`#define NAME "waggle"`,
		"#define LATER GREEN + TWO",
		"#define FN(x) ((x) + 1)",
		"#define HEX 0x10UL",
	)
	for name, want := range map[string]int64{"RED": 0, "GREEN": 5, "BLUE": 6, "NEG": -1, "TWO": 2, "SHIFTED": 5, "LATER": 7, "HEX": 16} {
		c, ok, err := d.Const(name)
		if !ok || err != nil || c.Int != want || c.IsStr {
			t.Errorf("%s = %+v, %v, %v; want %d", name, c, ok, err, want)
		}
	}
	if c, _, err := d.Const("NAME"); err != nil || !c.IsStr || c.Str != "waggle" {
		t.Errorf("NAME = %+v, %v", c, err)
	}
	if _, ok, err := d.Const("FN"); !ok || err == nil || !strings.Contains(err.Error(), "function-like macro") {
		t.Errorf("FN: %v, %v", ok, err)
	}
	if _, ok, _ := d.Const("UNDEFINED"); ok {
		t.Error("UNDEFINED is defined")
	}
	e, err := d.Lookup("enum color")
	if err != nil || !e.(*btf.Enum).Signed {
		t.Errorf("enum color: %v, %v", e, err)
	}
}

func TestErrors(t *testing.T) {
	for src, want := range map[string]string{
		"struct x { int a; ":              "missing '}'",
		"struct x { float f; };":          "floating-point",
		"struct x { int a[-1]; };":        "array length",
		"struct x { int a:99; };":         "width 99",
		"struct { int a; };":              "",
		"enum { A = B };":                 "B is not a constant",
		"struct x { unknown_t a; };":      "unknown type unknown_t",
		"struct x { int a; } /* open":     "unterminated comment",
		"int x;":                          "expected struct, union, enum or typedef",
		"struct x { int (*fn)(int; };":    "missing ')'",
		"typedef unsigned long my_t; ":    "",
		"struct y { my_t v; int z[2]; };": "unknown type my_t",
	} {
		err := New(nil).Add(src)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", src, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: %v, want an error containing %q", src, err, want)
		}
	}
}

func TestIncludeConstants(t *testing.T) {
	d := New(nil)
	d.Include("#include <net/sock.h>")
	d.Include("#include <linux/sched.h>")
	for name, want := range map[string]int64{"AF_INET": 2, "AF_INET6": 10, "TASK_RUNNING": 0} {
		if c, ok, err := d.Const(name); !ok || err != nil || c.Int != want {
			t.Errorf("%s = %+v, %v, %v", name, c, ok, err)
		}
	}
}

func FuzzAdd(f *testing.F) {
	for _, s := range []string{
		"struct a { char c; int i; short s; long l; };",
		"union u { char c[5]; int i; };",
		"enum e { A, B = 1 << 3, C };",
		"#define X (1 + 2) * 3",
		"struct d { int n; union { long l; struct { short lo, hi; }; }; unsigned x:3; };",
		"typedef struct p { struct p *next; void (*fn)(int, char *); } p_t;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		d := New(nil)
		if err := d.Add(src); err != nil {
			return
		}
		for _, typ := range d.types {
			for _, m := range members(typ) {
				d.FieldOf(typ, m.Name)
			}
			d.LangType(typ, false, 64)
		}
	})
}
