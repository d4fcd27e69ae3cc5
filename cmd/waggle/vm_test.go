package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"
)

// bytecode marshals instructions as raw little-endian bytecode.
func bytecode(t *testing.T, insns asm.Instructions) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := insns.Marshal(&b, binary.LittleEndian); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestVMRun(t *testing.T) {
	dir := t.TempDir()
	// r0 = mem[0] + mem[1] * 2, and mem[0] = 0xff.
	code := bytecode(t, asm.Instructions{
		asm.LoadMem(asm.R0, asm.R1, 0, asm.Byte),
		asm.LoadMem(asm.R3, asm.R1, 1, asm.Byte),
		asm.Mul.Imm(asm.R3, 2),
		asm.Add.Reg(asm.R0, asm.R3),
		asm.Mov.Imm(asm.R4, 0xff),
		asm.StoreMem(asm.R1, 0, asm.R4, asm.Byte),
		asm.Return(),
	})
	bin := filepath.Join(dir, "prog.bin")
	os.WriteFile(bin, code, 0o644)
	hexFile := filepath.Join(dir, "prog.hex")
	var hexText strings.Builder
	for i, b := range code {
		if i%8 == 0 && i > 0 {
			hexText.WriteString("\n")
		}
		fmt.Fprintf(&hexText, "%02x ", b)
	}
	os.WriteFile(hexFile, []byte(hexText.String()), 0o644)
	ctx := filepath.Join(dir, "ctx.bin")
	os.WriteFile(ctx, []byte{5, 7}, 0o644)

	for _, prog := range []string{bin, hexFile} {
		r := waggle(t, "vm", "run", prog, "--ctx", ctx, "--repeat", "10")
		if r.code != 0 {
			t.Fatalf("vm run %s failed\n%s", prog, r)
		}
		for _, want := range []string{"r0: 0x13 (19)\n", "instructions: 7 per run\n", "(10 runs)\n", "memory: changed\n"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s: output lacks %q\n%s", prog, want, r)
			}
		}
	}
}

func TestVMRunObject(t *testing.T) {
	r := waggle(t, "vm", "run", fixture("bad_section.bpf.o"))
	if r.code != 0 || !strings.Contains(r.stdout, "r0: 0x0 (0)") {
		t.Errorf("ELF program without maps\n%s", r)
	}
	r = waggle(t, "vm", "run", fixture("three.bpf.o"))
	if r.code != 1 || !strings.Contains(r.stderr, "3 programs (tp_close, tp_exec, tp_openat): choose one with --prog") {
		t.Errorf("several programs without --prog\n%s", r)
	}
	r = waggle(t, "vm", "run", fixture("three.bpf.o"), "--prog", "nope")
	if r.code != 1 || !strings.Contains(r.stderr, `no program "nope"`) {
		t.Errorf("unknown --prog\n%s", r)
	}
}

func TestVMRunBadInput(t *testing.T) {
	dir := t.TempDir()
	odd := filepath.Join(dir, "odd.bin")
	os.WriteFile(odd, []byte{1, 2, 3}, 0o644)
	oob := filepath.Join(dir, "oob.bin")
	// r0 = *(u64 *)(r1 + 64): out of bounds of an empty memory.
	code := bytecode(t, asm.Instructions{asm.LoadMem(asm.R0, asm.R10, 8, asm.DWord), asm.Return()})
	os.WriteFile(oob, code, 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"vm", "run", filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"vm", "run", odd}, "not a whole number of 8-byte instructions"},
		{[]string{"vm", "run", oob}, "vm: pc 0: out-of-bounds 8-byte load"},
		{[]string{"vm", "run", oob, "--repeat", "0"}, "--repeat 0: must be at least 1"},
	} {
		r := waggle(t, c.args...)
		if r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: want exit 1 and %q\n%s", c.args, c.want, r)
		}
	}
}
