package verifier

import (
	"fmt"
	"math"
	"strings"
)

// scalar is the abstract value of a 64-bit number: signed and unsigned
// bounds plus known bits. All operations over-approximate.
type scalar struct {
	smin, smax int64
	umin, umax uint64
	t          tnum
}

func unknownScalar() scalar {
	return scalar{math.MinInt64, math.MaxInt64, 0, math.MaxUint64, tnumUnknown}
}

func constScalar(x uint64) scalar {
	return scalar{int64(x), int64(x), x, x, tconst(x)}
}

// sizedScalar is an unknown value that fits in n bytes (zero-extended).
func sizedScalar(n int) scalar {
	if n >= 8 {
		return unknownScalar()
	}
	hi := uint64(1)<<(8*uint(n)) - 1
	s := scalar{0, int64(hi), 0, hi, tnum{0, hi}}
	return s
}

func (s scalar) isConst() bool { return s.t.isConst() && s.umin == s.umax }
func (s scalar) val() uint64   { return s.t.v }

func (s scalar) isUnknown() bool {
	return s == unknownScalar()
}

// sync tightens bounds and known bits against each other. It returns false
// when the value set is empty.
func (s *scalar) sync() bool {
	for i := 0; i < 2; i++ {
		if v := int64(s.t.v | (s.t.m & (1 << 63))); v > s.smin {
			s.smin = v
		}
		if v := int64(s.t.v | (s.t.m &^ (1 << 63))); v < s.smax {
			s.smax = v
		}
		if s.t.v > s.umin {
			s.umin = s.t.v
		}
		if v := s.t.v | s.t.m; v < s.umax {
			s.umax = v
		}
		if s.umin > s.umax || s.smin > s.smax {
			return false
		}
		if int64(s.umin) <= int64(s.umax) {
			s.smin = max(s.smin, int64(s.umin))
			s.smax = min(s.smax, int64(s.umax))
		}
		if uint64(s.smin) <= uint64(s.smax) {
			s.umin = max(s.umin, uint64(s.smin))
			s.umax = min(s.umax, uint64(s.smax))
		}
		if s.umin > s.umax || s.smin > s.smax {
			return false
		}
		t, ok := tintersect(s.t, trange(s.umin, s.umax))
		if !ok {
			return false
		}
		s.t = t
	}
	return true
}

// fromTnum builds a scalar from known bits only.
func fromTnum(t tnum) scalar {
	s := unknownScalar()
	s.t = t
	if !s.sync() {
		return unknownScalar()
	}
	return s
}

func normalize(s scalar) scalar {
	if !s.sync() {
		// Cannot happen for sound inputs; fall back to no knowledge.
		return unknownScalar()
	}
	return s
}

func addOverflows(a, b int64) bool {
	c := a + b
	return (b > 0 && c < a) || (b < 0 && c > a)
}

func subOverflows(a, b int64) bool {
	c := a - b
	return (b < 0 && c < a) || (b > 0 && c > a)
}

func scalarAdd(a, b scalar) scalar {
	r := unknownScalar()
	r.t = tadd(a.t, b.t)
	if !addOverflows(a.smin, b.smin) && !addOverflows(a.smax, b.smax) {
		r.smin, r.smax = a.smin+b.smin, a.smax+b.smax
	}
	if hi := a.umax + b.umax; hi >= a.umax {
		r.umin, r.umax = a.umin+b.umin, hi
	}
	return normalize(r)
}

func scalarSub(a, b scalar) scalar {
	r := unknownScalar()
	r.t = tsub(a.t, b.t)
	if !subOverflows(a.smin, b.smax) && !subOverflows(a.smax, b.smin) {
		r.smin, r.smax = a.smin-b.smax, a.smax-b.smin
	}
	if a.umin >= b.umax {
		r.umin, r.umax = a.umin-b.umax, a.umax-b.umin
	}
	return normalize(r)
}

func scalarMul(a, b scalar) scalar {
	r := unknownScalar()
	r.t = tmul(a.t, b.t)
	if a.umax <= math.MaxUint32 && b.umax <= math.MaxUint32 {
		r.umin, r.umax = a.umin*b.umin, a.umax*b.umax
	}
	return normalize(r)
}

func scalarAnd(a, b scalar) scalar {
	r := unknownScalar()
	r.t = tand(a.t, b.t)
	r.umax = min(a.umax, b.umax)
	return normalize(r)
}

func scalarOr(a, b scalar) scalar {
	r := unknownScalar()
	r.t = tor(a.t, b.t)
	r.umin = max(a.umin, b.umin)
	return normalize(r)
}

func scalarXor(a, b scalar) scalar {
	return fromTnum(txor(a.t, b.t))
}

func scalarLsh(a scalar, k uint) scalar {
	r := unknownScalar()
	r.t = a.t.lsh(k)
	if k == 0 || a.umax <= math.MaxUint64>>k {
		r.umin, r.umax = a.umin<<k, a.umax<<k
	}
	return normalize(r)
}

func scalarRsh(a scalar, k uint) scalar {
	r := unknownScalar()
	r.t = a.t.rsh(k)
	r.umin, r.umax = a.umin>>k, a.umax>>k
	return normalize(r)
}

func scalarArsh(a scalar, k uint) scalar {
	r := unknownScalar()
	r.t = a.t.arsh(k)
	r.smin, r.smax = a.smin>>k, a.smax>>k
	return normalize(r)
}

// scalarDiv is unsigned division where x/0 == 0.
func scalarDiv(a, b scalar) scalar {
	r := unknownScalar()
	if b.isConst() {
		if b.val() == 0 {
			return constScalar(0)
		}
		r.umin, r.umax = a.umin/b.val(), a.umax/b.val()
		return normalize(r)
	}
	r.umax = a.umax
	return normalize(r)
}

// scalarMod is unsigned modulo where x%0 == x.
func scalarMod(a, b scalar) scalar {
	if b.isConst() && b.val() == 0 {
		return a
	}
	r := unknownScalar()
	r.umax = a.umax
	if b.umin > 0 {
		r.umax = min(r.umax, b.umax-1)
	}
	return normalize(r)
}

// trunc32 is the zero-extended low 32 bits of s.
func trunc32(s scalar) scalar {
	if s.umax <= math.MaxUint32 {
		return s
	}
	return fromTnum(s.t.cast32())
}

func (s scalar) String() string {
	if s.isConst() {
		return fmt.Sprintf("%d", int64(s.val()))
	}
	if s.isUnknown() {
		return "unknown"
	}
	var parts []string
	if s.smin != math.MinInt64 || s.smax != math.MaxInt64 {
		parts = append(parts, fmt.Sprintf("smin=%d,smax=%d", s.smin, s.smax))
	}
	if s.umin != 0 || s.umax != math.MaxUint64 {
		parts = append(parts, fmt.Sprintf("umin=%d,umax=%d", s.umin, s.umax))
	}
	if s.t != tnumUnknown {
		parts = append(parts, "var_off="+s.t.String())
	}
	return strings.Join(parts, ",")
}

// signedDivMod is sdiv or smod: exact for constants with the eBPF
// definitions (x/0 = 0, x%0 = x, MIN/-1 = MIN, MIN%-1 = 0), else unknown.
func signedDivMod(a, b scalar, mod, is64 bool) scalar {
	if !a.isConst() || !b.isConst() {
		return unknownScalar()
	}
	x, y := int64(a.val()), int64(b.val())
	if !is64 {
		x, y = int64(int32(x)), int64(int32(y))
	}
	var r int64
	switch {
	case y == 0 && mod:
		r = x
	case y == 0:
		r = 0
	case y == -1 && mod:
		r = 0
	case y == -1:
		r = -x // wraps for the minimum, as the instruction does
	case mod:
		r = x % y
	default:
		r = x / y
	}
	if !is64 {
		return constScalar(uint64(uint32(r)))
	}
	return constScalar(uint64(r))
}
