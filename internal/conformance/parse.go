// Package conformance reads the bpf_conformance test suite (../shared/conformance,
// the ISA tests that uBPF, rbpf, bpftime and the kernel are measured with):
// its .data files, its assembly dialect, and the helpers 0-5 its programs call.
//
// A .data file is line oriented; '#' starts a comment and a line beginning
// with "--" opens a section: "-- asm" (the program in the suite's assembly
// dialect), "-- raw" (one 64-bit little-endian instruction per line; it
// overrides asm), "-- mem" (hex bytes the program receives), "-- result" (the
// expected r0), "-- error" (expected error text); "-- c" and
// "-- no register offset" are documentation.
//
// The assembly dialect: registers %r0..%r10; ALU mnemonics without a suffix
// (or with 64) are the 64-bit operations and with 32 the 32-bit ones (add,
// sub, mul, div, sdiv, mod, smod, or, and, xor, lsh, rsh, arsh, mov, neg);
// movsx832/1632/864/1664/3264; le16/32/64, be16/32/64, swap16/32/64 (also
// bswap16/32/64); ja LABEL, ja32 LABEL (gotol); jeq..jsle and their 32 forms
// "jXX dst, src|imm, LABEL|+N"; ldxb/h/w/dw and ldxsb/sh/sw "dst, [src+off]";
// stb/h/w/dw "[dst+off], imm"; stxb/h/w/dw "[dst+off], src"; lddw dst, imm64;
// "lock [fetch] add|and|or|xor[32] [dst+off], src", "lock xchg[32]",
// "lock cmpxchg[32]"; "call N" (helper), "call local LABEL", "call %rN"
// (callx: opcode 0x8d with the register in the dst field, as the upstream
// assembler encodes it); exit; ldabsb/h/w/dw imm and ldindb/h/w/dw src, imm.
// A jump to "exit" that no label defines goes to the first exit instruction.
package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Test is one .data file.
type Test struct {
	Name string // file name without directory and .data
	// Code is the raw little-endian bytecode: the -- raw section when there is
	// one, else the assembled -- asm section.
	Code      []byte
	Mem       []byte // the -- mem bytes; nil when the file has none
	Result    uint64 // expected r0, valid when HasResult
	HasResult bool
	ErrorText string // expected error text from -- error, "" when none

	Asm     string // the -- asm section as written (comments included)
	FromRaw bool   // Code came from -- raw rather than from Asm
}

// ParseFile reads and parses one .data file.
func ParseFile(path string) (*Test, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(strings.TrimSuffix(filepath.Base(path), ".data"), data)
}

type section struct {
	line    int // line of the "--" header
	lines   []srcLine
	ignored bool // documentation only
}

// Parse parses the contents of a .data file; name is used in errors and as
// Test.Name. Errors carry the file's line numbers.
func Parse(name string, data []byte) (*Test, error) {
	known := map[string]bool{"asm": true, "raw": true, "mem": true, "result": true, "error": true, "c": true, "no register offset": true}
	sections := map[string]*section{}
	var cur *section // nil before the first section: license header, ignored
	for i, line := range strings.Split(string(data), "\n") {
		num := i + 1
		line = strings.TrimSuffix(line, "\r")
		if hdr, ok := strings.CutPrefix(strings.TrimSpace(line), "--"); ok {
			hdr = strings.Join(strings.Fields(hdr), " ")
			if !known[hdr] {
				if cur != nil && cur.ignored {
					// Text in a documentation section (C code: "--i;") is not a header.
					cur.lines = append(cur.lines, srcLine{num: num, text: line})
					continue
				}
				return nil, fmt.Errorf("%s: line %d: unknown section %q (want asm, raw, mem, result, error, c or no register offset)", name, num, hdr)
			}
			if prev, dup := sections[hdr]; dup {
				return nil, fmt.Errorf("%s: line %d: second -- %s section (the first is on line %d)", name, num, hdr, prev.line)
			}
			cur = &section{line: num, ignored: hdr == "c" || hdr == "no register offset"}
			sections[hdr] = cur
			continue
		}
		if cur != nil {
			cur.lines = append(cur.lines, srcLine{num: num, text: line})
		}
	}

	t := &Test{Name: name}
	errorf := func(line int, format string, args ...any) error {
		return fmt.Errorf("%s: line %d: %s", name, line, fmt.Sprintf(format, args...))
	}

	if s := sections["asm"]; s != nil {
		var b strings.Builder
		for _, l := range s.lines {
			b.WriteString(l.text)
			b.WriteByte('\n')
		}
		t.Asm = b.String()
	}
	switch {
	case sections["raw"] != nil:
		s := sections["raw"]
		for _, l := range s.lines {
			for _, tok := range strings.Fields(stripComment(l.text)) {
				v, err := parseUint64(tok)
				if err != nil {
					return nil, errorf(l.num, "raw instruction: %v", err)
				}
				t.Code = append(t.Code, byte(v), byte(v>>8), byte(v>>16), byte(v>>24),
					byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
			}
		}
		if len(t.Code) == 0 {
			return nil, errorf(s.line, "empty -- raw section")
		}
		t.FromRaw = true
	case sections["asm"] != nil:
		code, err := assembleLines(sections["asm"].lines)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(code) == 0 {
			return nil, errorf(sections["asm"].line, "-- asm section has no instructions")
		}
		t.Code = code
	default:
		return nil, fmt.Errorf("%s: no -- asm or -- raw section", name)
	}

	if s := sections["mem"]; s != nil {
		t.Mem = []byte{}
		for _, l := range s.lines {
			b, err := ParseHexBytes(stripComment(l.text))
			if err != nil {
				return nil, errorf(l.num, "mem: %v", err)
			}
			t.Mem = append(t.Mem, b...)
		}
	}

	if s := sections["result"]; s != nil {
		var toks []srcLine
		for _, l := range s.lines {
			for _, tok := range strings.Fields(stripComment(l.text)) {
				toks = append(toks, srcLine{num: l.num, text: tok})
			}
		}
		if len(toks) != 1 {
			return nil, errorf(s.line, "-- result needs exactly one value, found %d", len(toks))
		}
		v, err := parseUint64(toks[0].text)
		if err != nil {
			return nil, errorf(toks[0].num, "result: %v", err)
		}
		t.Result, t.HasResult = v, true
	}

	if s := sections["error"]; s != nil {
		var msgs []string
		for _, l := range s.lines {
			if m := strings.TrimSpace(l.text); m != "" {
				msgs = append(msgs, m)
			}
		}
		t.ErrorText = strings.Join(msgs, "\n")
		if t.ErrorText == "" {
			return nil, errorf(s.line, "empty -- error section")
		}
	}
	if !t.HasResult && t.ErrorText == "" {
		return nil, fmt.Errorf("%s: no -- result or -- error section", name)
	}
	return t, nil
}

func stripComment(s string) string {
	if i := strings.IndexByte(s, '#'); i >= 0 {
		return s[:i]
	}
	return s
}

// parseUint64 reads 0x-hex or decimal; a leading '-' gives the two's
// complement.
func parseUint64(s string) (uint64, error) {
	return imm64(s)
}

// ParseHexBytes reads whitespace-separated hex bytes ("00 1f ff", an optional
// 0x prefix on each), the form of -- mem sections and of the plugin protocol.
func ParseHexBytes(s string) ([]byte, error) {
	fields := strings.Fields(s)
	out := make([]byte, 0, len(fields))
	for _, f := range fields {
		h := f
		if len(h) > 2 && (h[:2] == "0x" || h[:2] == "0X") {
			h = h[2:]
		}
		if len(h) > 2 {
			return nil, fmt.Errorf("bad byte %q: more than two hex digits", f)
		}
		v, err := strconv.ParseUint(h, 16, 8)
		if err != nil {
			return nil, fmt.Errorf("bad byte %q: want hex 00..ff", f)
		}
		out = append(out, byte(v))
	}
	return out, nil
}

// SuiteDir finds the suite: $WAGGLE_CONFORMANCE_DIR when set, else
// ../shared/conformance beside the module root, found by walking up from the
// working directory to the directory holding go.mod.
func SuiteDir() (string, error) {
	if d := os.Getenv("WAGGLE_CONFORMANCE_DIR"); d != "" {
		return checkDir(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; {
		if mod, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && bytes.Contains(mod, []byte("module github.com/wagglebpf/waggle")) {
			return checkDir(filepath.Join(filepath.Dir(d), "shared", "conformance"))
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("conformance suite: no waggle go.mod above %s, so ../shared/conformance cannot be located (set WAGGLE_CONFORMANCE_DIR)", wd)
		}
		d = parent
	}
}

func checkDir(d string) (string, error) {
	fi, err := os.Stat(d)
	if err != nil {
		return "", fmt.Errorf("conformance suite: %w (the .data files belong in ../shared/conformance beside the repository, or set WAGGLE_CONFORMANCE_DIR)", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("conformance suite: %s is not a directory", d)
	}
	return d, nil
}

// SuiteFiles lists the .data files in dir, sorted; it is an error for there to
// be none.
func SuiteFiles(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.data"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, errors.New("conformance suite: no .data files in " + dir)
	}
	slices.Sort(files)
	return files, nil
}
