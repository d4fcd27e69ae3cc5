// Package nativedisasm turns machine code into text for people: x86-64
// (Intel syntax) and arm64 (GNU syntax) through golang.org/x/arch. It is
// shared by everything in waggle that shows native code: the kernel's JIT
// images (`waggle prog dump --jited`) and waggle's own JIT.
package nativedisasm

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/arch/arm64/arm64asm"
	"golang.org/x/arch/x86/x86asm"
)

// Symbolizer names the code at addr: the symbol it falls in and that
// symbol's start address. ok is false when it knows none.
type Symbolizer func(addr uint64) (name string, start uint64, ok bool)

// Line is one decoded instruction.
type Line struct {
	// Offset is the instruction's offset in the decoded code.
	Offset int `json:"offset"`
	// Addr is the instruction's address (the code's start plus Offset).
	Addr uint64 `json:"addr"`
	// Bytes are the instruction's encoding.
	Bytes []byte `json:"bytes"`
	// Text is the instruction in assembler syntax; a branch or call to a
	// symbol the Symbolizer knows ends with " <name+0xoff>".
	Text string `json:"text"`
}

var aliases = map[string]string{
	"amd64": "amd64", "x86_64": "amd64", "x86-64": "amd64", "x86": "amd64",
	"arm64": "arm64", "aarch64": "arm64",
}

// Arch returns the canonical name ("amd64", "arm64") of an architecture
// name as Go, the kernel or uname spell it, and whether it is one this
// package decodes.
func Arch(name string) (string, bool) {
	a, ok := aliases[strings.ToLower(name)]
	return a, ok
}

// Arches lists the architectures this package decodes.
func Arches() []string {
	seen := map[string]bool{}
	for _, a := range aliases {
		seen[a] = true
	}
	var out []string
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// One decodes the instruction at code[off:], which sits at address pc,
// and returns its text and length. Bytes that do not decode come back as
// a data directive (".byte", ".word") so that a caller walking the code
// always moves on; n is at least 1 while off is inside code. sym may be
// nil.
func One(arch string, code []byte, off int, pc uint64, sym Symbolizer) (text string, n int, err error) {
	a, ok := Arch(arch)
	if !ok {
		return "", 0, fmt.Errorf("cannot disassemble %s code: only %s are supported", arch, strings.Join(Arches(), " and "))
	}
	if off < 0 || off >= len(code) {
		return "", 0, fmt.Errorf("offset %d is outside the %d bytes of code", off, len(code))
	}
	switch a {
	case "amd64":
		text, n = oneAMD64(code[off:], pc, sym)
	default:
		text, n = oneARM64(code[off:], pc, sym)
	}
	return text, n, nil
}

// Decode decodes all of code, which starts at address pc.
func Decode(arch string, code []byte, pc uint64, sym Symbolizer) ([]Line, error) {
	var lines []Line
	for off := 0; off < len(code); {
		text, n, err := One(arch, code, off, pc+uint64(off), sym)
		if err != nil {
			return nil, err
		}
		lines = append(lines, Line{Offset: off, Addr: pc + uint64(off), Bytes: code[off : off+n], Text: text})
		off += n
	}
	return lines, nil
}

func oneAMD64(code []byte, pc uint64, sym Symbolizer) (string, int) {
	inst, err := x86asm.Decode(code, 64)
	if err != nil || inst.Len == 0 || inst.Op == 0 {
		return fmt.Sprintf(".byte %#x", code[0]), 1
	}
	text := x86asm.IntelSyntax(inst, pc, nil)
	for _, a := range inst.Args {
		if rel, ok := a.(x86asm.Rel); ok {
			text += symbolSuffix(sym, pc+uint64(inst.Len)+uint64(int64(rel)))
		}
	}
	return text, inst.Len
}

func oneARM64(code []byte, pc uint64, sym Symbolizer) (string, int) {
	if len(code) < 4 {
		return fmt.Sprintf(".byte %#x", code[0]), 1
	}
	in, err := arm64asm.Decode(code[:4])
	if err != nil {
		return fmt.Sprintf(".word %#08x", binary.LittleEndian.Uint32(code)), 4
	}
	text := strings.TrimSpace(arm64asm.GNUSyntax(in))
	for _, a := range in.Args {
		if rel, ok := a.(arm64asm.PCRel); ok {
			target := pc + uint64(int64(rel))
			if s := symbolSuffix(sym, target); s != "" {
				text += s
			} else if sym != nil {
				text += fmt.Sprintf(" <%#x>", target)
			}
		}
	}
	return text, 4
}

// symbolSuffix is " <name+0xoff>" for an address the symbolizer knows.
func symbolSuffix(sym Symbolizer, addr uint64) string {
	if sym == nil {
		return ""
	}
	name, start, ok := sym(addr)
	if !ok || name == "" {
		return ""
	}
	if addr == start {
		return " <" + name + ">"
	}
	return fmt.Sprintf(" <%s+%#x>", name, addr-start)
}
