package conformance

import (
	"bytes"
	"math/bits"
)

// Helper ids the suite's programs call (its README, "Execution contract").
const (
	HelperGatherBytes = 0 // r1<<32 | r2<<24 | r3<<16 | r4<<8 | r5, low byte of each
	HelperMemfrob     = 1 // XOR r2 bytes at r1 with 42
	HelperNoOp        = 2 // returns 0
	HelperSqrti       = 3 // integer square root of r1
	HelperStrcmp      = 4 // strcmp of the NUL-terminated strings at r1 and r2
	HelperUnwind      = 5 // returns r1; when that is 0 the program stops with r0 = 0
)

// Memory is what the helpers need from the runtime running the program.
// The VM's *vm.Env implements it; this package does not import vm, so that
// vm's own tests can use it.
type Memory interface {
	// Bytes returns n bytes of program memory at addr, checked for writing
	// when write is set.
	Bytes(addr, n uint64, write bool) ([]byte, error)
	// CString returns the bytes at addr up to, not including, the first NUL,
	// looking at most max bytes.
	CString(addr uint64, max int) ([]byte, error)
	// Stop ends the program once the helper returns, with r0 = its result.
	Stop()
}

// maxString bounds the strings strcmp_ext looks at.
const maxString = 1 << 20

// Helpers returns the suite's helpers 0-5 as the runtime's own helper type:
//
//	conformance.Helpers[*vm.Env, vm.HelperFunc]()
//
// M is the runtime's memory handle and F its helper signature; one
// implementation serves the VM's conformance test and the plugin binary.
func Helpers[M Memory, F ~func(M, [5]uint64) (uint64, error)]() map[int32]F {
	return map[int32]F{
		HelperGatherBytes: F(func(_ M, a [5]uint64) (uint64, error) {
			return GatherBytes(a), nil
		}),
		HelperMemfrob: F(func(m M, a [5]uint64) (uint64, error) {
			if a[1] == 0 {
				return 0, nil
			}
			b, err := m.Bytes(a[0], a[1], true)
			if err != nil {
				return 0, err
			}
			for i := range b {
				b[i] ^= 42
			}
			return 0, nil
		}),
		HelperNoOp: F(func(M, [5]uint64) (uint64, error) {
			return 0, nil
		}),
		HelperSqrti: F(func(_ M, a [5]uint64) (uint64, error) {
			return Sqrti(a[0]), nil
		}),
		HelperStrcmp: F(func(m M, a [5]uint64) (uint64, error) {
			x, err := m.CString(a[0], maxString)
			if err != nil {
				return 0, err
			}
			y, err := m.CString(a[1], maxString)
			if err != nil {
				return 0, err
			}
			return uint64(Strcmp(x, y)), nil
		}),
		HelperUnwind: F(func(m M, a [5]uint64) (uint64, error) {
			if a[0] == 0 {
				m.Stop()
			}
			return a[0], nil
		}),
	}
}

// GatherBytes is helper 0: the low bytes of r1..r5 packed into 40 bits.
func GatherBytes(a [5]uint64) uint64 {
	return (a[0]&0xff)<<32 | (a[1]&0xff)<<24 | (a[2]&0xff)<<16 | (a[3]&0xff)<<8 | a[4]&0xff
}

// Sqrti is helper 3: floor(sqrt(x)) for every 64-bit x.
func Sqrti(x uint64) uint64 {
	// Bit-by-bit: exact, no float rounding near 2^64.
	var r uint64
	bit := uint64(1) << ((63 - bits.LeadingZeros64(x|1)) &^ 1)
	for ; bit != 0; bit >>= 2 {
		if x >= r+bit {
			x -= r + bit
			r = r>>1 + bit
		} else {
			r >>= 1
		}
	}
	return r
}

// Strcmp is helper 4: like C's strcmp, the difference of the first differing
// bytes (as unsigned char), sign-extended to 64 bits by the caller's
// conversion; 0 when equal.
func Strcmp(x, y []byte) int64 {
	n := min(len(x), len(y))
	if i := mismatch(x[:n], y[:n]); i >= 0 {
		return int64(x[i]) - int64(y[i])
	}
	switch {
	case len(x) > n:
		return int64(x[n])
	case len(y) > n:
		return -int64(y[n])
	}
	return 0
}

func mismatch(x, y []byte) int {
	if bytes.Equal(x, y) {
		return -1
	}
	for i := range x {
		if x[i] != y[i] {
			return i
		}
	}
	return -1
}
