package cheader

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/internal/golden"
	"github.com/wagglebpf/waggle/internal/kerneltest"
)

// updating tells whether the test binary runs with -update (internal/golden
// registers the flag), to rewrite the fuzz seeds too.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func buildCase(t testing.TB, c goldenCase) (*BTF, []byte) {
	t.Helper()
	rb := newRawBuilder()
	c.build(rb)
	raw := rb.Bytes(binary.LittleEndian)
	b, err := Parse(raw, nil)
	if err != nil {
		t.Fatalf("parse %s: %v", c.name, err)
	}
	return b, raw
}

func renderC(t testing.TB, b *BTF, opts Options) string {
	t.Helper()
	var buf bytes.Buffer
	if err := b.WriteC(&buf, opts); err != nil {
		t.Fatalf("WriteC: %v", err)
	}
	return buf.String()
}

func renderRaw(t testing.TB, b *BTF, asJSON bool) string {
	t.Helper()
	var buf bytes.Buffer
	if err := b.WriteRaw(&buf, asJSON); err != nil {
		t.Fatalf("WriteRaw: %v", err)
	}
	return buf.String()
}

// lineDiff shows the first lines where two texts part.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			lo, hi := max(0, i-3), i+4
			return fmt.Sprintf("line %d:\nwant: %s\ngot:  %s\n--- want (context) ---\n%s\n--- got (context) ---\n%s",
				i+1, w, g, strings.Join(wl[lo:min(hi, len(wl))], "\n"), strings.Join(gl[lo:min(hi, len(gl))], "\n"))
		}
	}
	return "(no difference)"
}

// TestGoldenC renders every hand-made case as a header in ID order.
func TestGoldenC(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			b, _ := buildCase(t, c)
			golden.Check(t, filepath.Join("testdata", "golden", c.name+".h"), renderC(t, b, Options{Unsorted: true}))
		})
	}
}

// TestGoldenRaw lists every hand-made case in bpftool's raw text and JSON.
func TestGoldenRaw(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			b, _ := buildCase(t, c)
			golden.Check(t, filepath.Join("testdata", "golden", c.name+".raw"), renderRaw(t, b, false))
			js := renderRaw(t, b, true)
			if !json.Valid([]byte(js)) {
				t.Fatalf("raw JSON does not parse:\n%s", js)
			}
			golden.Check(t, filepath.Join("testdata", "golden", c.name+".json"), js)
		})
	}
}

// needTool finds a tool the comparison tests need, skipping (failing in
// CI, where .ci/run installs it) when it is missing.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		kerneltest.Skip(t, name+" is not installed (apt-get install "+name+")")
	}
	return path
}

// bpftoolC runs bpftool's C dump of a BTF file, in ID order when this
// bpftool sorts (v7.5 and later understand "unsorted"; older ones always
// keep ID order).
func bpftoolC(t *testing.T, bpftool, file string) string {
	t.Helper()
	out, err := exec.Command(bpftool, "btf", "dump", "file", file, "format", "c", "unsorted").Output()
	if err == nil {
		return string(out)
	}
	out, err = exec.Command(bpftool, "btf", "dump", "file", file, "format", "c").Output()
	if err != nil {
		t.Fatalf("bpftool btf dump file %s format c: %v", file, err)
	}
	return string(out)
}

var (
	preambleRE = regexp.MustCompile(`(?s)#ifndef __ksym\n.*?#define __bpf_fastcall\n#endif\n#endif\n\n`)
	kfuncsRE   = regexp.MustCompile(`(?s)\n/\* BPF kfuncs \*/\n#ifndef BPF_NO_KFUNC_PROTOTYPES\n.*?#endif\n\n`)
)

// normalizeForBpftool removes what bpftool versions differ in: the macro
// block and kfunc prototypes of v7.4+, and the mode(byte) of small enums
// (libbpf 1.2+) when the other side has none.
func normalizeForBpftool(s, other string) string {
	s = preambleRE.ReplaceAllString(s, "")
	s = kfuncsRE.ReplaceAllString(s, "")
	if !strings.Contains(other, "mode(byte)") {
		s = strings.ReplaceAll(s, " __attribute__((mode(byte)))", "")
	}
	return s
}

// TestCasesAgainstBpftool checks the hand-made cases against bpftool
// itself: the same header (apart from what newer bpftools add) and the
// same raw listing.
func TestCasesAgainstBpftool(t *testing.T) {
	bpftool := needTool(t, "bpftool")
	dir := t.TempDir()
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			if c.newer != "" {
				t.Skipf("not comparable with every bpftool: %s", c.newer)
			}
			b, raw := buildCase(t, c)
			file := filepath.Join(dir, c.name+".btf")
			if err := os.WriteFile(file, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			want := bpftoolC(t, bpftool, file)
			got := renderC(t, b, Options{Unsorted: true})
			if w, g := normalizeForBpftool(want, got), normalizeForBpftool(got, want); w != g {
				t.Errorf("C header differs from bpftool's:\n%s", lineDiff(w, g))
			}
			out, err := exec.Command(bpftool, "btf", "dump", "file", file, "format", "raw").Output()
			if err != nil {
				t.Fatal(err)
			}
			if got := renderRaw(t, b, false); got != string(out) {
				t.Errorf("raw listing differs from bpftool's:\n%s", lineDiff(string(out), got))
			}
			out, err = exec.Command(bpftool, "-j", "btf", "dump", "file", file, "format", "raw").Output()
			if err != nil {
				t.Fatal(err)
			}
			if got := renderRaw(t, b, true); got != string(out) {
				t.Errorf("raw JSON differs from bpftool's:\nwant %s\ngot  %s", out, got)
			}
		})
	}
}

// layoutAsserts writes C static assertions that every named struct and
// union of b has the size BTF gives it, and every named member that is not
// a bitfield its offset: the compiler then checks that the header lays
// types out as the BTF says (packing, padding, alignment).
func layoutAsserts(b *BTF, members bool) string {
	var sb strings.Builder
	// Tags that name more than one type were renamed (foo___2).
	seen := map[string]int{}
	for id := uint32(1); id < uint32(b.NumTypes()); id++ {
		if k := b.Kind(id); k == KindStruct || k == KindUnion || k == KindEnum || k == KindEnum64 {
			seen[b.Name(id)]++
		}
	}
	for id := uint32(1); id < uint32(b.NumTypes()); id++ {
		k := b.Kind(id)
		if (k != KindStruct && k != KindUnion) || b.Name(id) == "" || seen[b.Name(id)] > 1 || embedsVaList(b, id, 0) {
			continue
		}
		tag := strings.ToLower(k.String()) + " " + b.Name(id)
		fmt.Fprintf(&sb, "_Static_assert(sizeof(%s) == %d, \"size of %s\");\n", tag, b.size(id), tag)
		if !members {
			continue
		}
		for i := 0; i < int(b.vlen(id)); i++ {
			m := b.member(id, i)
			if m.bits != 0 || m.name == 0 {
				continue
			}
			name := b.str(m.name)
			fmt.Fprintf(&sb, "_Static_assert(__builtin_offsetof(%s, %s) == %d, \"offset of %s.%s\");\n", tag, name, m.bitOff/8, tag, name)
		}
	}
	return sb.String()
}

// embedsVaList reports whether a type holds a __builtin_va_list by value:
// the header leaves that typedef to the compiler, whose va_list for the
// BPF target (a pointer) is not the kernel's (a 24-byte array on x86), so
// bpftool's and waggle's headers alike cannot keep such structs' layout.
func embedsVaList(b *BTF, id uint32, depth int) bool {
	if depth > 64 {
		return false
	}
	switch b.Kind(id) {
	case KindTypedef:
		return b.Name(id) == "__builtin_va_list" || embedsVaList(b, b.ref(id), depth+1)
	case KindConst, KindVolatile, KindRestrict, KindTypeTag:
		return embedsVaList(b, b.ref(id), depth+1)
	case KindArray:
		elem, _, _ := b.arrayOf(id)
		return embedsVaList(b, elem, depth+1)
	case KindStruct, KindUnion:
		for i := 0; i < int(b.vlen(id)); i++ {
			if embedsVaList(b, b.member(id, i).typ, depth+1) {
				return true
			}
		}
	}
	return false
}

// compileBPF compiles C source for the BPF target, failing the test with
// clang's complaints.
func compileBPF(t *testing.T, clang, dir, name, src string, extra ...string) {
	t.Helper()
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-target", "bpf", "-O2", "-g", "-I", dir, "-c", file, "-o", file + ".o"}, extra...)
	out, err := exec.Command(clang, args...).CombinedOutput()
	if err != nil {
		msg := string(out)
		if len(msg) > 4000 {
			msg = msg[:4000] + "\n..."
		}
		t.Fatalf("clang %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
}

// TestCasesCompile compiles each hand-made header, sorted and in ID order,
// with assertions that its structs have the layout of the BTF.
func TestCasesCompile(t *testing.T) {
	clang := needTool(t, "clang")
	dir := t.TempDir()
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			b, _ := buildCase(t, c)
			for _, unsorted := range []bool{false, true} {
				hdr := fmt.Sprintf("%s_%v.h", c.name, unsorted)
				if err := os.WriteFile(filepath.Join(dir, hdr), []byte(renderC(t, b, Options{Unsorted: unsorted})), 0o644); err != nil {
					t.Fatal(err)
				}
				src := fmt.Sprintf("#include \"%s\"\n%s\nint use;\n", hdr, layoutAsserts(b, true))
				compileBPF(t, clang, dir, fmt.Sprintf("%s_%v.c", c.name, unsorted), src)
			}
		})
	}
}
