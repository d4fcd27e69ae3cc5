package btfprint

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

func TestMembers(t *testing.T) {
	u32 := &btf.Int{Name: "u32", Size: 4}
	s16 := &btf.Int{Name: "s16", Size: 2, Encoding: btf.Signed}
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	f64 := &btf.Float{Name: "double", Size: 8}
	inner := &btf.Struct{Size: 4, Members: []btf.Member{{Name: "lo", Type: s16}, {Name: "hi", Type: s16, Offset: 16}}}
	key := &btf.Struct{Name: "key", Size: 36, Members: []btf.Member{
		{Name: "pid", Type: u32},
		{Type: inner, Offset: 32}, // anonymous: lo and hi belong to key
		{Name: "comm", Type: &btf.Array{Type: char, Nelems: 16}, Offset: 64},
		{Name: "flag", Type: u32, Offset: 192, BitfieldSize: 3},
		{Name: "slots", Type: &btf.Array{Type: u32, Nelems: 2}, Offset: 224},
	}}
	ms, err := Members(key)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	if got := strings.Join(names, ","); got != "pid,lo,hi,comm,flag,slots" {
		t.Fatalf("members %s", got)
	}
	data := make([]byte, 36)
	ne := binary.NativeEndian
	ne.PutUint32(data, 42)
	ne.PutUint16(data[4:], 0xfffe) // lo = -2
	ne.PutUint16(data[6:], 7)
	copy(data[8:], "bash")
	data[24] = 0b101 // flag = 5 (little-endian bit order)
	ne.PutUint32(data[28:], 3)
	ne.PutUint32(data[32:], 9)

	if v, signed, err := ms[0].Integer(data); v != 42 || signed || err != nil {
		t.Errorf("pid: %d %v %v", v, signed, err)
	}
	if v, signed, err := ms[1].Integer(data); int64(v) != -2 || !signed || err != nil {
		t.Errorf("lo: %d %v %v", int64(v), signed, err)
	}
	if f, err := ms[2].Number(data); f != 7 || err != nil {
		t.Errorf("hi: %v %v", f, err)
	}
	if s, err := ms[3].Text(data); s != "bash" || err != nil {
		t.Errorf("comm: %q %v", s, err)
	}
	if _, err := ms[3].Number(data); err == nil || !strings.Contains(err.Error(), ".comm (array[16]) is not a number") {
		t.Errorf("comm as a number: %v", err)
	}
	if littleEndian {
		if v, _, err := ms[4].Integer(data); v != 5 || err != nil {
			t.Errorf("flag: %d %v", v, err)
		}
	}
	if _, err := ms[4].Bytes(data); err == nil {
		t.Error("a bitfield has bytes")
	}
	if b, err := ms[3].Bytes(data); err != nil || string(b[:4]) != "bash" || len(b) != 16 {
		t.Errorf("comm bytes %q %v", b, err)
	}
	if c, err := ms[5].Counts(data); err != nil || len(c) != 2 || c[0] != 3 || c[1] != 9 {
		t.Errorf("slots %v %v", c, err)
	}
	if _, err := ms[0].Counts(data); err == nil {
		t.Error("pid as counts")
	}
	// Short data is an error.
	if _, err := ms[5].Counts(data[:30]); err == nil {
		t.Error("short slots: no error")
	}
	if _, err := Members(u32); err == nil {
		t.Error("members of an integer")
	}
	w := Whole(f64)
	d := make([]byte, 8)
	ne.PutUint64(d, 0x4004000000000000) // 2.5
	if f, err := w.Number(d); f != 2.5 || err != nil {
		t.Errorf("double: %v %v", f, err)
	}
	if _, _, err := w.Integer(d); err == nil {
		t.Error("a double as an integer")
	}
}

func TestSumCPUs(t *testing.T) {
	u64 := &btf.Int{Name: "u64", Size: 8}
	val := &btf.Struct{Size: 16, Members: []btf.Member{{Name: "a", Type: u64}, {Name: "b", Type: u64, Offset: 64}}}
	cpu := func(a, b uint64) []byte {
		d := make([]byte, 16)
		binary.NativeEndian.PutUint64(d, a)
		binary.NativeEndian.PutUint64(d[8:], b)
		return d
	}
	sum, err := SumCPUs(val, [][]byte{cpu(1, 10), cpu(2, 20), cpu(3, 30)})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := binary.NativeEndian.Uint64(sum), binary.NativeEndian.Uint64(sum[8:]); a != 6 || b != 60 {
		t.Errorf("sum %d, %d", a, b)
	}
	if _, err := SumCPUs(val, [][]byte{cpu(1, 1), {1}}); err == nil {
		t.Error("short CPU value: no error")
	}
	if _, err := SumCPUs(val, nil); err == nil {
		t.Error("no values: no error")
	}
}
