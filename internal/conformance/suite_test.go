package conformance

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"
)

func suiteFiles(t testing.TB) []string {
	t.Helper()
	dir, err := SuiteDir()
	if err != nil {
		t.Fatal(err)
	}
	files, err := SuiteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestSuiteParses parses and assembles every file of the suite, and checks
// that files with a -- raw section assemble their -- asm to the same bytes.
func TestSuiteParses(t *testing.T) {
	files := suiteFiles(t)
	raw := 0
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".data")
		t.Run(name, func(t *testing.T) {
			tc, err := ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if tc.Name != name {
				t.Errorf("Name = %q, want %q", tc.Name, name)
			}
			if len(tc.Code) == 0 || len(tc.Code)%8 != 0 {
				t.Fatalf("code is %d bytes, want a positive multiple of 8", len(tc.Code))
			}
			if !tc.HasResult && tc.ErrorText == "" {
				t.Error("neither a result nor an error")
			}
			// cilium/ebpf must decode every instruction (a cross-check of the encoding).
			r := bytes.NewReader(tc.Code)
			for r.Len() > 0 {
				var ins asm.Instruction
				if err := ins.Unmarshal(r, binary.LittleEndian, "linux"); err != nil {
					t.Fatalf("cilium/ebpf cannot decode instruction at byte %d: %v", len(tc.Code)-r.Len(), err)
				}
			}
			if !tc.FromRaw {
				return
			}
			raw++
			asmCode, err := Assemble(tc.Asm)
			if err != nil {
				t.Fatalf("the -- asm section beside -- raw: %v", err)
			}
			if !bytes.Equal(asmCode, tc.Code) {
				t.Errorf("-- asm assembles to\n% x\n-- raw is\n% x", asmCode, tc.Code)
			}
		})
	}
	if raw == 0 {
		t.Error("no file with a -- raw section was checked (lddw.data has one)")
	}
	t.Logf("%d files, %d with -- raw", len(files), raw)
}

// TestSuiteOpcodes checks that the suite, once assembled, uses every
// instruction family this package encodes (so a mnemonic silently mapped to the
// wrong opcode would show up as a family gone missing) and nothing outside
// RFC 9669 except callx.
func TestSuiteOpcodes(t *testing.T) {
	seen := map[uint8]bool{}
	for _, path := range suiteFiles(t) {
		tc, err := ParseFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+8 <= len(tc.Code); i += 8 {
			op := tc.Code[i]
			seen[op] = true
			if op == 0x18 {
				i += 8
			}
		}
	}
	// Every opcode of RFC 9669 base32/base64/atomic/divmul the suite is meant to cover.
	var want []uint8
	for _, cls := range []uint8{clsALU, clsALU64} {
		for _, op := range []uint8{0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0} {
			want = append(want, cls|op|srcK, cls|op|srcX)
		}
		want = append(want, cls|opNEG)
	}
	want = append(want, 0xd4, 0xdc, 0xd7, 0x05, 0x06, 0x85, 0x8d, 0x95, 0x18,
		0x71, 0x69, 0x61, 0x79, 0x91, 0x89, 0x81,
		0x72, 0x6a, 0x62, 0x7a, 0x73, 0x6b, 0x63, 0x7b, 0xc3, 0xdb)
	for _, cls := range []uint8{clsJMP, clsJMP32} {
		for _, op := range []uint8{0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0} {
			want = append(want, cls|op|srcK, cls|op|srcX)
		}
	}
	var missing []string
	for _, op := range want {
		if !seen[op] {
			missing = append(missing, "0x"+hex2(op))
		}
		delete(seen, op)
	}
	if len(missing) > 0 {
		t.Logf("opcodes no suite file uses: %s", strings.Join(missing, " "))
	}
	for op := range seen {
		t.Errorf("the suite assembles to opcode 0x%s, outside the expected set", hex2(op))
	}
}

func hex2(b uint8) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}

func TestParse(t *testing.T) {
	data := []byte("# Copyright header\n# SPDX\n-- c\nint f() { return --x; }\n-- asm\nmov %r0, %r2 # length\n\nexit\n-- mem\n00 01\r\n 0xff 7\n-- result\n0x2\n")
	tc, err := Parse("x", data)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(slot(0xbf, 0x20, 0, 0), slot(0x95, 0, 0, 0)...); !bytes.Equal(tc.Code, want) {
		t.Errorf("Code = % x, want % x", tc.Code, want)
	}
	if want := []byte{0, 1, 0xff, 7}; !bytes.Equal(tc.Mem, want) {
		t.Errorf("Mem = % x, want % x", tc.Mem, want)
	}
	if !tc.HasResult || tc.Result != 2 || tc.ErrorText != "" || tc.FromRaw {
		t.Errorf("got %+v", tc)
	}

	tc, err = Parse("y", []byte("-- asm\nexit\n-- result\n-1\n-- error\nout of bounds\n"))
	if err != nil {
		t.Fatal(err)
	}
	if tc.Mem != nil || tc.Result != ^uint64(0) || tc.ErrorText != "out of bounds" {
		t.Errorf("got %+v", tc)
	}

	tc, err = Parse("z", []byte("-- raw\n0x0000000000000095\n149\n-- asm\nnot assembled when raw is present\n-- result\n42\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := append(slot(0x95, 0, 0, 0), slot(0x95, 0, 0, 0)...); !bytes.Equal(tc.Code, want) || !tc.FromRaw || tc.Result != 42 {
		t.Errorf("got %+v", tc)
	}
	if binary.LittleEndian.Uint64(tc.Code) != 0x95 {
		t.Error("raw is not little-endian")
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ data, want string }{
		{"-- asm\nexit\n", "t: no -- result or -- error section"},
		{"-- result\n1\n", "t: no -- asm or -- raw section"},
		{"-- asm\nexit\n-- result\n1\n-- bogus\n", "t: line 5: unknown section \"bogus\""},
		{"-- asm\nexit\n-- asm\nexit\n-- result\n1\n", "t: line 3: second -- asm section (the first is on line 1)"},
		{"-- asm\nmov %r0, 1\nfrob %r0\n-- result\n1\n", "t: line 3: unknown mnemonic \"frob\""},
		{"-- asm\n# nothing\n-- result\n1\n", "t: line 1: -- asm section has no instructions"},
		{"-- asm\nexit\n-- result\n1 2\n", "t: line 3: -- result needs exactly one value, found 2"},
		{"-- asm\nexit\n-- result\nzz\n", "t: line 4: result: bad number \"zz\""},
		{"-- asm\nexit\n-- mem\n00 100\n-- result\n1\n", "t: line 4: mem: bad byte \"100\""},
		{"-- asm\nexit\n-- mem\ngg\n-- result\n1\n", "t: line 4: mem: bad byte \"gg\""},
		{"-- raw\n0x1g\n-- result\n1\n", "t: line 2: raw instruction: bad number"},
		{"-- raw\n\n-- result\n1\n", "t: line 1: empty -- raw section"},
		{"-- asm\nexit\n-- error\n\n", "t: line 3: empty -- error section"},
	}
	for _, c := range cases {
		_, err := Parse("t", []byte(c.data))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", c.data, err, c.want)
		}
	}
}

func TestAssembleErrors(t *testing.T) {
	cases := []struct {
		src  string
		line int
		want string
	}{
		{"mov %r0, 1\nfoo %r1, 2", 2, `unknown mnemonic "foo"`},
		{"mov %r11, 1", 1, `bad register "%r11"`},
		{"mov %r01, 1", 1, `bad register "%r01"`},
		{"mov r1, 1", 1, `bad register "r1"`},
		{"mov %r1", 1, "mov takes 2 operands, got 1"},
		{"mov %r1, 1, 2", 1, "mov takes 2 operands, got 3"},
		{"add %r1,", 1, "empty operand 2"},
		{"exit %r0", 1, "exit takes 0 operands, got 1"},
		{"neg %r1, 2", 1, "neg takes 1 operand, got 2"},
		{"add32 %r1, 0x100000000", 1, "does not fit in 32 bits"},
		{"mov %r1, -2147483649", 1, "does not fit in 32 bits"},
		{"lddw %r1, 0x10000000000000000", 1, "does not fit in 64 bits"},
		{"ldxw %r1, [%r2+32768]", 1, "does not fit in a signed 16-bit field"},
		{"ldxw %r1, %r2", 1, "bad memory operand"},
		{"ldxw %r1, [%r2", 1, "bad memory operand"},
		{"ldxw %r1, [%rx+1]", 1, "bad register"},
		{"ldxsdw %r1, [%r2]", 1, `unknown mnemonic "ldxsdw"`},
		{"stxw [%r1], 5", 1, `bad register "5"`},
		{"ja nowhere\nexit", 1, `undefined label "nowhere"`},
		{"jeq %r1, 0, 1x", 1, "bad number"},
		{"jeq %r1, 0, b@d", 1, "bad jump target"},
		{"L:\nL:\nexit", 2, `label "L" already defined on line 1`},
		{"1x:\nexit", 1, "bad label name"},
		{"movsx1616 %r1, %r2", 1, "unknown mnemonic"},
		{"movsx832 %r1, 5", 1, "needs a register source"},
		{"lock frob [%r1], %r2", 1, "unknown atomic operation"},
		{"lock", 1, "lock needs an operation"},
		{"lock add [%r1]", 1, "takes 2 operands"},
		{"call", 1, "call takes"},
		{"call far 1", 1, `unknown call mode "far"`},
		{"call local", 1, "call local needs a target"},
		{"call %r99", 1, "bad register"},
		{"be8 %r1", 1, `unknown mnemonic "be8"`},
		{"ja +40000", 1, "does not fit"},
		{"ja32 +0x80000000", 1, "does not fit"},
	}
	for _, c := range cases {
		_, err := Assemble(c.src)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Assemble(%q) = %v, want a *SyntaxError", c.src, err)
			continue
		}
		if se.Line != c.line || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Assemble(%q) = %v (line %d), want line %d and %q", c.src, err, se.Line, c.line, c.want)
		}
	}
}

func TestAssembleFarLabel(t *testing.T) {
	var b strings.Builder
	b.WriteString("ja far\n")
	for range 40000 {
		b.WriteString("mov %r0, 0\n")
	}
	b.WriteString("far: exit\n")
	if _, err := Assemble(b.String()); err == nil || !strings.Contains(err.Error(), "beyond a 16-bit offset") {
		t.Errorf("got %v, want a range error", err)
	}
	code, err := Assemble(strings.Replace(b.String(), "ja far", "ja32 far", 1))
	if err != nil {
		t.Fatal(err)
	}
	if imm := int32(binary.LittleEndian.Uint32(code[4:8])); imm != 40000 {
		t.Errorf("ja32 distance %d, want 40000", imm)
	}
}

func TestAssembleEmpty(t *testing.T) {
	code, err := Assemble("  # only a comment\n\n")
	if err != nil || len(code) != 0 {
		t.Errorf("got % x, %v; want no bytes, no error", code, err)
	}
}

func FuzzAssemble(f *testing.F) {
	for _, s := range []string{
		"mov %r0, 1\nexit",
		"lddw %r0, 0x1122334455667788\nexit",
		"L: jne %r1, 0x5, L\nja32 L\ncall local L\nexit",
		"lock fetch add32 [%r10-8], %r1\nlock cmpxchg [%r1+0x2], %r3",
		"ldxsh %r0, [%r10-2]\nstdw [%r10-16], -1\nmovsx3264 %r0, %r1\nbe16 %r0\ncall %r2\ncall 5",
		"jeq %r1, -0x80000000, +32767\nldxb %r1, [ %r2 + 0x7fff ]",
	} {
		f.Add(s)
	}
	if dir, err := SuiteDir(); err == nil {
		if files, err := SuiteFiles(dir); err == nil {
			for _, p := range files[:min(len(files), 20)] {
				if tc, err := ParseFile(p); err == nil && tc.Asm != "" {
					f.Add(tc.Asm)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, src string) {
		code, err := Assemble(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 {
				t.Fatalf("error %v is not a *SyntaxError with a line", err)
			}
			return
		}
		if len(code)%8 != 0 {
			t.Fatalf("%d bytes", len(code))
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("-- asm\nmov %r0, %r2\nexit\n-- mem\n00 01\n-- result\n0x2\n"))
	f.Add([]byte("-- raw\n0x0000000000000095\n-- result\n0\n-- error\nbad\n"))
	f.Add([]byte("-- c\n--x;\n-- asm\nexit\n-- no register offset\n-- result\n-1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tc, err := Parse("f", data)
		if err != nil {
			return
		}
		if len(tc.Code) == 0 || len(tc.Code)%8 != 0 {
			t.Fatalf("%d bytes of code", len(tc.Code))
		}
		if !tc.HasResult && tc.ErrorText == "" {
			t.Fatal("accepted without a result or an error")
		}
	})
}
