package cheader

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// fuzzBase is the base BTF the fuzzer also reads its input over, as split
// BTF.
func fuzzBase(t testing.TB) *BTF {
	b := newRawBuilder()
	i := b.Int("int", 4, encSigned)
	b.Struct("base", 8, mem{"a", i, 0, 0}, mem{"p", b.Ptr(0), 32, 0})
	return b.BTF(t, nil)
}

// FuzzRender decodes arbitrary bytes as BTF, alone and split over a small
// base, and renders whatever decodes in every form: nothing may panic or
// hang, and the JSON listing must parse.
func FuzzRender(f *testing.F) {
	base := fuzzBase(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, over := range []*BTF{nil, base} {
			b, err := Parse(data, over)
			if err != nil {
				continue
			}
			for _, opts := range []Options{{}, {Unsorted: true}, {Roots: []uint32{uint32(b.NumTypes() - 1)}}} {
				if err := b.WriteC(io.Discard, opts); err != nil && err.Error() == "" {
					t.Fatal("error without a message")
				}
			}
			if err := b.WriteRaw(io.Discard, false); err != nil {
				t.Fatal(err)
			}
			var js bytes.Buffer
			if err := b.WriteRaw(&js, true); err != nil {
				t.Fatal(err)
			}
			if !json.Valid(js.Bytes()) {
				t.Fatalf("raw JSON does not parse: %.200s", js.String())
			}
		}
	})
}

// TestWriteFuzzSeeds rewrites the fuzz seeds (go test -run
// TestWriteFuzzSeeds -update): the hand-made cases and the .BTF of two
// small fixtures.
func TestWriteFuzzSeeds(t *testing.T) {
	if !updating() {
		t.Skip("rewrites testdata/fuzz with -update")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzRender")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		seed := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(seed), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range goldenCases {
		rb := newRawBuilder()
		c.build(rb)
		write(c.name, rb.Bytes(binary.LittleEndian))
	}
	rb := newRawBuilder()
	rb.Struct("be", 8, mem{"v", rb.Int("long int", 8, encSigned), 0, 0})
	write("big_endian", rb.Bytes(binary.BigEndian))
	for _, obj := range []string{"maps", "optional"} {
		f, err := elf.Open(filepath.Join("..", "..", "testdata", obj+".bpf.o"))
		if err != nil {
			t.Fatal(err)
		}
		data, err := f.Section(".BTF").Data()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		write(obj+"_object", data)
	}
}
