package nativedisasm

import (
	"strings"
	"testing"
)

func TestDecodeAMD64(t *testing.T) {
	// call rel32 +0x10; mov rax, [rbp-8]; ret; a lone 0x0f at the end.
	code := []byte{0xe8, 0x10, 0, 0, 0, 0x48, 0x8b, 0x45, 0xf8, 0xc3, 0x0f}
	sym := func(addr uint64) (string, uint64, bool) {
		if addr >= 0x1010 && addr < 0x1100 {
			return "helper", 0x1010, true
		}
		return "", 0, false
	}
	lines, err := Decode("x86_64", code, 0x1000, sym)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"call 0x1015 <helper+0x5>", "mov rax, qword ptr [rbp-0x8]", "ret", ".byte 0xf"}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines %+v, want %d", len(lines), lines, len(want))
	}
	for i, l := range lines {
		if l.Text != want[i] {
			t.Errorf("line %d: %q, want %q", i, l.Text, want[i])
		}
	}
	if lines[1].Offset != 5 || lines[1].Addr != 0x1005 || len(lines[1].Bytes) != 4 {
		t.Errorf("line 1 position: %+v", lines[1])
	}
}

func TestDecodeARM64(t *testing.T) {
	// bl .+0x10; stp x29, x30, [sp,#-16]!; an undefined word; 2 stray bytes.
	code := []byte{0x04, 0x00, 0x00, 0x94, 0xfd, 0x7b, 0xbf, 0xa9, 0, 0, 0, 0, 1, 2}
	sym := func(addr uint64) (string, uint64, bool) { return "fn", addr, addr == 0x2010 }
	lines, err := Decode("aarch64", code, 0x2000, sym)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"bl .+0x10 <fn>", "stp x29, x30, [sp,#-16]!", ".word 0x00000000", ".byte 0x1", ".byte 0x2"}
	var got []string
	for _, l := range lines {
		got = append(got, l.Text)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestUnknownArch(t *testing.T) {
	_, err := Decode("riscv64", []byte{0x13, 0, 0, 0}, 0, nil)
	if err == nil || !strings.Contains(err.Error(), "amd64 and arm64") {
		t.Fatalf("error %v does not name the supported architectures", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("amd64", []byte{0xe8, 0x10, 0, 0, 0, 0xc3})
	f.Add("arm64", []byte{0x04, 0x00, 0x00, 0x94, 0xc0, 0x03, 0x5f, 0xd6})
	f.Add("arm64", []byte{0xff})
	f.Fuzz(func(t *testing.T, arch string, code []byte) {
		lines, err := Decode(arch, code, 0xffffffffc0000000, func(a uint64) (string, uint64, bool) { return "s", a &^ 0xff, true })
		if err != nil {
			return
		}
		n := 0
		for _, l := range lines {
			if len(l.Bytes) == 0 || l.Offset != n {
				t.Fatalf("line %+v at %d", l, n)
			}
			n += len(l.Bytes)
		}
		if n != len(code) {
			t.Fatalf("decoded %d of %d bytes", n, len(code))
		}
	})
}
