package conformance

import (
	"errors"
	"math"
	"math/big"
	"testing"
)

// fakeMem is a flat memory starting at address 0x1000.
type fakeMem struct {
	base    uint64
	data    []byte
	stopped bool
}

func (m *fakeMem) Bytes(addr, n uint64, write bool) ([]byte, error) {
	if addr < m.base || addr-m.base > uint64(len(m.data)) || n > uint64(len(m.data))-(addr-m.base) {
		return nil, errors.New("out of bounds")
	}
	return m.data[addr-m.base : addr-m.base+n], nil
}

func (m *fakeMem) CString(addr uint64, max int) ([]byte, error) {
	for i := 0; i < max; i++ {
		b, err := m.Bytes(addr+uint64(i), 1, false)
		if err != nil {
			return nil, err
		}
		if b[0] == 0 {
			return m.data[addr-m.base : addr-m.base+uint64(i)], nil
		}
	}
	return nil, errors.New("unterminated")
}

func (m *fakeMem) Stop() { m.stopped = true }

type helperFunc func(*fakeMem, [5]uint64) (uint64, error)

func TestHelpers(t *testing.T) {
	h := Helpers[*fakeMem, helperFunc]()
	if len(h) != 6 {
		t.Fatalf("%d helpers, want 6", len(h))
	}
	m := &fakeMem{base: 0x1000, data: []byte("abc\x00abd\x00ab\x00\x01\x02\x03")}
	call := func(id int32, args ...uint64) uint64 {
		t.Helper()
		var a [5]uint64
		copy(a[:], args)
		v, err := h[id](m, a)
		if err != nil {
			t.Fatalf("helper %d: %v", id, err)
		}
		return v
	}

	if got := call(HelperGatherBytes, 0x101, 0x202, 0x303, 0x404, 0x505); got != 0x0102030405 {
		t.Errorf("gather_bytes = %#x", got)
	}
	call(HelperMemfrob, 0x100b, 3)
	if m.data[11] != 1^42 || m.data[12] != 2^42 || m.data[13] != 3^42 {
		t.Errorf("memfrob: % x", m.data[11:])
	}
	call(HelperMemfrob, 0x100b, 3)
	if _, err := h[HelperMemfrob](m, [5]uint64{0x100b, 100}); err == nil {
		t.Error("memfrob out of bounds did not fail")
	}
	if got := call(HelperNoOp, 1, 2, 3); got != 0 {
		t.Errorf("no_op = %d", got)
	}
	if got := call(HelperSqrti, 1<<20); got != 1<<10 {
		t.Errorf("sqrti = %d", got)
	}
	if got := call(HelperStrcmp, 0x1000, 0x1000); got != 0 {
		t.Errorf("strcmp equal = %d", got)
	}
	if got := int64(call(HelperStrcmp, 0x1000, 0x1004)); got != -1 {
		t.Errorf(`strcmp("abc", "abd") = %d, want -1`, got)
	}
	if got := int64(call(HelperStrcmp, 0x1000, 0x1008)); got != 'c' {
		t.Errorf(`strcmp("abc", "ab") = %d, want 'c'`, got)
	}
	if _, err := h[HelperStrcmp](m, [5]uint64{0x1000, 0x2000}); err == nil {
		t.Error("strcmp on a bad pointer did not fail")
	}
	if got := call(HelperUnwind, 7); got != 7 || m.stopped {
		t.Errorf("unwind(7) = %d, stopped %v", got, m.stopped)
	}
	if got := call(HelperUnwind, 0); got != 0 || !m.stopped {
		t.Errorf("unwind(0) = %d, stopped %v", got, m.stopped)
	}
}

func TestSqrti(t *testing.T) {
	check := func(x uint64) {
		r := Sqrti(x)
		// r*r <= x < (r+1)*(r+1), in big integers.
		bx, br := new(big.Int).SetUint64(x), new(big.Int).SetUint64(r)
		lo := new(big.Int).Mul(br, br)
		br1 := new(big.Int).Add(br, big.NewInt(1))
		hi := new(big.Int).Mul(br1, br1)
		if lo.Cmp(bx) > 0 || hi.Cmp(bx) <= 0 {
			t.Fatalf("Sqrti(%d) = %d", x, r)
		}
	}
	for x := uint64(0); x < 100000; x++ {
		check(x)
	}
	for _, x := range []uint64{math.MaxUint64, math.MaxUint64 - 1, 1 << 63, 1<<32 - 1, 1 << 32, 0xfffffffe00000001, 0xfffffffe00000000} {
		check(x)
	}
	for s := uint64(1); s < 1<<32; s = s*3 + 1 {
		check(s * s)
		check(s*s - 1)
	}
}
