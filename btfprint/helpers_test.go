package btfprint

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// Types shared by the tests, spelled as clang emits them.
var (
	tU8   = &btf.Int{Name: "unsigned char", Size: 1}
	tChar = &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	tS8   = &btf.Int{Name: "signed char", Size: 1, Encoding: btf.Signed}
	tU16  = &btf.Int{Name: "unsigned short", Size: 2}
	tS16  = &btf.Int{Name: "short", Size: 2, Encoding: btf.Signed}
	tU32  = &btf.Int{Name: "unsigned int", Size: 4}
	tS32  = &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	tU64  = &btf.Int{Name: "unsigned long long", Size: 8}
	tS64  = &btf.Int{Name: "long long", Size: 8, Encoding: btf.Signed}
	tU128 = &btf.Int{Name: "unsigned __int128", Size: 16}
	tS128 = &btf.Int{Name: "__int128", Size: 16, Encoding: btf.Signed}
	tBool = &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}
	tF32  = &btf.Float{Name: "float", Size: 4}
	tF64  = &btf.Float{Name: "double", Size: 8}

	tPid  = &btf.Typedef{Name: "pid_t", Type: tS32}
	tU32T = &btf.Typedef{Name: "__u32", Type: tU32}
	tU64T = &btf.Typedef{Name: "__u64", Type: tU64}
)

func charArray(n uint32) *btf.Array { return &btf.Array{Index: tU32, Type: tChar, Nelems: n} }

func array(t btf.Type, n uint32) *btf.Array { return &btf.Array{Index: tU32, Type: t, Nelems: n} }

// mem is a byte-aligned member at byte offset off.
func mem(name string, t btf.Type, off uint32) btf.Member {
	return btf.Member{Name: name, Type: t, Offset: btf.Bits(off * 8)}
}

// bitmem is a bitfield member at bit offset off.
func bitmem(name string, t btf.Type, off, bits uint32) btf.Member {
	return btf.Member{Name: name, Type: t, Offset: btf.Bits(off), BitfieldSize: btf.Bits(bits)}
}

func st(name string, size uint32, ms ...btf.Member) *btf.Struct {
	return &btf.Struct{Name: name, Size: size, Members: ms}
}

// buf builds test data in the host's byte order.
type buf []byte

func newBuf(n int) buf { return make(buf, n) }

func (b buf) u8(off int, v uint8) buf   { b[off] = v; return b }
func (b buf) u16(off int, v uint16) buf { byteOrder.PutUint16(b[off:], v); return b }
func (b buf) u32(off int, v uint32) buf { byteOrder.PutUint32(b[off:], v); return b }
func (b buf) u64(off int, v uint64) buf { byteOrder.PutUint64(b[off:], v); return b }
func (b buf) str(off int, s string) buf { copy(b[off:], s); return b }

func u32b(v uint32) []byte { return newBuf(4).u32(0, v) }
func u64b(v uint64) []byte { return newBuf(8).u64(0, v) }

// jsonEqual compares JSON documents by meaning, keeping numbers exact.
func jsonEqual(t *testing.T, got, want string) {
	t.Helper()
	g, err := decodeJSON(got)
	if err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, got)
	}
	w, err := decodeJSON(want)
	if err != nil {
		t.Fatalf("bad expectation: %v\n%s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("JSON differs\n got: %s\nwant: %s", got, want)
	}
}

func decodeJSON(s string) (any, error) {
	var v any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	err := d.Decode(&v)
	return v, err
}
