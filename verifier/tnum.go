package verifier

import (
	"fmt"
	"math"
	"math/bits"
)

// tnum is a tristate number: bits set in mask are unknown, the others are
// given by value (value&mask is always zero).
type tnum struct{ v, m uint64 }

var tnumUnknown = tnum{0, math.MaxUint64}

func tconst(x uint64) tnum { return tnum{x, 0} }

func (a tnum) isConst() bool { return a.m == 0 }

// trange is the smallest tnum containing every value in [lo, hi].
func trange(lo, hi uint64) tnum {
	chi := lo ^ hi
	b := 64 - bits.LeadingZeros64(chi)
	if b > 63 {
		return tnumUnknown
	}
	delta := uint64(1)<<uint(b) - 1
	return tnum{lo &^ delta, delta}
}

func (a tnum) lsh(s uint) tnum  { return tnum{a.v << s, a.m << s} }
func (a tnum) rsh(s uint) tnum  { return tnum{a.v >> s, a.m >> s} }
func (a tnum) arsh(s uint) tnum { return tnum{uint64(int64(a.v) >> s), uint64(int64(a.m) >> s)} }

func tadd(a, b tnum) tnum {
	sm := a.m + b.m
	sv := a.v + b.v
	sigma := sm + sv
	chi := sigma ^ sv
	mu := chi | a.m | b.m
	return tnum{sv &^ mu, mu}
}

func tsub(a, b tnum) tnum {
	dv := a.v - b.v
	alpha := dv + a.m
	beta := dv - b.m
	chi := alpha ^ beta
	mu := chi | a.m | b.m
	return tnum{dv &^ mu, mu}
}

func tand(a, b tnum) tnum {
	alpha := a.v | a.m
	beta := b.v | b.m
	v := a.v & b.v
	return tnum{v, alpha & beta &^ v}
}

func tor(a, b tnum) tnum {
	v := a.v | b.v
	mu := a.m | b.m
	return tnum{v, mu &^ v}
}

func txor(a, b tnum) tnum {
	v := a.v ^ b.v
	mu := a.m | b.m
	return tnum{v &^ mu, mu}
}

func tmul(a, b tnum) tnum {
	accV := a.v * b.v
	accM := tnum{}
	for a.v != 0 || a.m != 0 {
		if a.v&1 != 0 {
			accM = tadd(accM, tnum{0, b.m})
		} else if a.m&1 != 0 {
			accM = tadd(accM, tnum{0, b.v | b.m})
		}
		a = a.rsh(1)
		b = b.lsh(1)
	}
	return tadd(tnum{accV, 0}, accM)
}

// tintersect returns the tnum of values in both a and b; ok is false when
// they have no value in common.
func tintersect(a, b tnum) (tnum, bool) {
	known := ^a.m & ^b.m
	if (a.v^b.v)&known != 0 {
		return tnum{}, false
	}
	v := a.v | b.v
	mu := a.m & b.m
	return tnum{v &^ mu, mu}, true
}

// tin reports whether every value of b is a value of a.
func tin(a, b tnum) bool {
	if b.m&^a.m != 0 {
		return false
	}
	return b.v&^a.m == a.v
}

func (a tnum) cast32() tnum { return tnum{a.v & math.MaxUint32, a.m & math.MaxUint32} }

func (a tnum) String() string {
	if a.m == 0 {
		return fmt.Sprintf("%#x", a.v)
	}
	return fmt.Sprintf("(%#x; %#x)", a.v, a.m)
}
