package maps

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/wagglebpf/waggle/btfprint"
)

// fuzzTypes cover every kind Parse writes; nil stands for a map without
// BTF.
var fuzzTypes = []btf.Type{
	nil, u8, s8, char, u16, u32, s32, u64, s64, u128, s128, boolT, f32, f64,
	state, sdir, comm, u32x3, ptr, taskKey, taskVal, bits, outer, numUnion, cpid, bss,
}

// FuzzParse feeds command-line words (one per line of text) to Parse with
// each type, and to the splitters of command lines: nothing may panic,
// Parse must give exactly size bytes, and what it gives must read back
// from its own JSON rendering.
func FuzzParse(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzParse.
	f.Fuzz(func(t *testing.T, text string, nilSize uint8) {
		words := strings.Split(text, "\n")
		// The command-line splitters see the same words.
		if a, err := ParseElemArgs(words); err == nil && a.HasKey && len(a.Key) == 0 {
			t.Fatalf("ParseElemArgs(%q) accepted an empty key", words)
		}
		if _, rest, err := ParseRef(words); err == nil && len(rest) > len(words) {
			t.Fatalf("ParseRef(%q) grew the words", words)
		}
		for _, typ := range fuzzTypes {
			size := int(nilSize % 33)
			if typ != nil {
				n, err := btf.Sizeof(typ)
				if err != nil {
					t.Fatal(err)
				}
				size = n
			}
			b, err := Parse(words, typ, size)
			if err != nil {
				if err.Error() == "" {
					t.Fatalf("%s: empty error", typeName(typ))
				}
				continue
			}
			if len(b) != size {
				t.Fatalf("%s: Parse(%q) gave %d bytes, want %d", typeName(typ), words, len(b), size)
			}
			if typ == nil {
				continue
			}
			j, err := btfprint.JSON(typ, b)
			if err != nil {
				t.Fatalf("%s: the bytes Parse(%q) gave do not print: %v", typeName(typ), words, err)
			}
			// Escaped bytes (\u00XX) are not UTF-8 and cannot come back
			// through JSON text; NaN prints as null.
			if bytes.Contains(j, []byte(`\u00`)) || bytes.Contains(j, []byte("null")) {
				continue
			}
			b2, err := Parse([]string{string(j)}, typ, size)
			if err != nil {
				t.Fatalf("%s: Parse(%q) gave % x, printed %s, which does not parse back: %v", typeName(typ), words, b, j, err)
			}
			if j2, _ := btfprint.JSON(typ, b2); !bytes.Equal(j, j2) {
				t.Fatalf("%s: Parse(%q) printed %s, read back as %s", typeName(typ), words, j, j2)
			}
		}
	})
}
