package output

import (
	"math"
	"slices"
	"testing"

	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
)

// checkBuckets checks exported buckets against the values counted into
// them, as Prometheus reads buckets: the values up to a bucket's Max are
// the counts of it and every bucket before it.
func checkBuckets(t *testing.T, what string, got []Bucket, values []int64) {
	t.Helper()
	var cum uint64
	for i, b := range got {
		cum += b.Count
		var want uint64
		for _, v := range values {
			if float64(v) <= b.Max {
				want++
			}
		}
		if cum != want {
			t.Errorf("%s: bucket %d (max %g): %d values up to it, want %d", what, i, b.Max, cum, want)
		}
		if i > 0 && !(b.Max > got[i-1].Max) {
			t.Errorf("%s: bucket %d's max %g does not follow %g", what, i, b.Max, got[i-1].Max)
		}
	}
	if cum != uint64(len(values)) {
		t.Errorf("%s: %d values in all, want %d", what, cum, len(values))
	}
}

func TestSeriesLog2Buckets(t *testing.T) {
	vals := []int64{-5, -1, 0, 1, 2, 3, math.MaxInt64, math.MinInt64}
	// Bounds are float64s, as every Prometheus number: past 2^53 they
	// round (2^k-1 becomes 2^k), and so would values next to them.
	for k := 2; k < 53; k++ {
		vals = append(vals, 1<<k-1, 1<<k, 1<<k+1)
	}
	s, err := MapSeries(Map{Name: "@h", Value: tHist, Entries: histEntries(tHist, nil, vals...)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 1 || len(s[0].Buckets) != layout.Log2Buckets {
		t.Fatalf("%d series, want 1 of %d buckets: %+v", len(s), layout.Log2Buckets, s)
	}
	checkBuckets(t, "hist", s[0].Buckets, vals)
	// Each bucket ends where bpftrace's label says: [2, 4) holds up to 3.
	for i, want := range map[int]float64{0: -1, 1: 0, 2: 1, 3: 3, 4: 7, 12: 2047, 65: math.Ldexp(1, 64)} {
		if got := s[0].Buckets[i].Max; got != want {
			t.Errorf("bucket %d ends at %g, want %g", i, got, want)
		}
	}
}

func TestSeriesLinearBuckets(t *testing.T) {
	for _, c := range []struct{ lo, hi, step int64 }{
		{0, 100, 10}, {0, 10, 3}, {-2048, 2048, 1024}, {5, 5, 1}, {0, 3, 1},
	} {
		typ := tLHist(c.lo, c.hi, c.step)
		var vals []int64
		for v := c.lo - 2*c.step; v <= c.hi+2*c.step; v++ {
			vals = append(vals, v)
		}
		s, err := MapSeries(Map{Name: "@l", Key: tI64, Value: typ, Entries: histEntries(typ, enc(tI64, 7), vals...)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != 1 || !slices.Equal(s[0].Key, []string{"7"}) {
			t.Fatalf("%v: %+v", c, s)
		}
		b := s[0].Buckets
		checkBuckets(t, typ.String(), b, vals)
		if want := float64(c.lo - 1); b[0].Max != want {
			t.Errorf("%v: first bucket ends at %g, want %g", c, b[0].Max, want)
		}
		if !math.IsInf(b[len(b)-1].Max, 1) {
			t.Errorf("%v: last bucket is not open", c)
		}
	}
}

func TestMapSeriesValues(t *testing.T) {
	key := tTuple(tI64, tStr(8))
	for _, c := range []struct {
		m    Map
		want []Series
	}{
		{Map{Name: "@c", Key: key, Value: tCount, Entries: []Entry{
			entry(enc(key, []any{3, "bash"}), counts(2, 5)),
			entry(enc(key, []any{-1, "a b"}), counts(1, 0)),
		}}, []Series{{Key: []string{"3", "bash"}, Value: 7}, {Key: []string{"-1", "a b"}, Value: 1}}},
		{Map{Name: "@s", Value: tSumS, Entries: []Entry{entry(nil, counts(-10, 3))}}, []Series{{Value: -7}}},
		{Map{Name: "@m", Key: tI64, Value: tMinS, Entries: []Entry{entry(enc(tI64, 1), perCPU(slots(-4, 1), slots(9, 1), slots(-100, 0)))}}, []Series{{Key: []string{"1"}, Value: -4}}},
		{Map{Name: "@a", Value: tAvgS, Entries: []Entry{entry(nil, perCPU(slots(10, 2), slots(-1, 1)))}}, []Series{{Value: 3, Count: 3, Total: 9}}},
		{Map{Name: "@st", Value: tStatsS, Entries: []Entry{entry(nil, perCPU(slots(-9, 3)))}}, []Series{{Value: -3, Count: 3, Total: -9}}},
		{Map{Name: "@v", Key: tI64, Value: tStr(8), Entries: []Entry{entry(enc(tI64, 2), perCPU(enc(tStr(8), "hi")))}}, []Series{{Key: []string{"2"}, Text: "hi"}}},
		{Map{Name: "@b", Value: tBool, Entries: []Entry{entry(nil, perCPU(enc(tBool, true)))}}, []Series{{Value: 1}}},
		// A map without a key has one value; the first entry stands.
		{Map{Name: "@x", Value: tI64, Entries: []Entry{entry(nil, perCPU(enc(tI64, 5))), entry(nil, perCPU(enc(tI64, 6)))}}, []Series{{Value: 5}}},
		{Map{Name: "@e", Key: tI64, Value: tCount}, nil},
	} {
		got, err := MapSeries(c.m, nil)
		if err != nil {
			t.Errorf("%s: %v", c.m.Name, err)
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: %+v, want %+v", c.m.Name, got, c.want)
			continue
		}
		for i := range got {
			g, w := got[i], c.want[i]
			if !slices.Equal(g.Key, w.Key) || g.Value != w.Value || g.Text != w.Text || g.Count != w.Count || g.Total != w.Total {
				t.Errorf("%s[%d]: %+v, want %+v", c.m.Name, i, g, w)
			}
		}
	}
}

func TestMapSeriesErrors(t *testing.T) {
	for name, m := range map[string]Map{
		"no value type":  {Name: "@x", Entries: []Entry{entry(nil, counts(1))}},
		"no values":      {Name: "@x", Value: tCount, Entries: []Entry{entry(nil, nil)}},
		"short value":    {Name: "@x", Value: tMinS, Entries: []Entry{entry(nil, perCPU(slots(1)))}},
		"short key":      {Name: "@x", Key: tI64, Value: tCount, Entries: []Entry{entry([]byte{1}, counts(1))}},
		"short hist key": {Name: "@x", Key: tI64, Value: tHist, Entries: []Entry{entry(slots(1), counts(1))}},
		"short bucket":   {Name: "@x", Value: tHist, Entries: []Entry{entry(slots(1), perCPU([]byte{1}))}},
		"bucket past 65": {Name: "@x", Value: tHist, Entries: []Entry{entry(slots(66), counts(1))}},
		"bad lhist":      {Name: "@x", Value: tLHist(0, 10, 0), Entries: []Entry{entry(slots(1), counts(1))}},
		"huge lhist":     {Name: "@x", Value: tLHist(0, 1<<40, 1), Entries: []Entry{entry(slots(1), counts(1))}},
	} {
		if _, err := MapSeries(m, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// FuzzMapSeries feeds arbitrary entries to maps of each kind of value:
// errors are fine, panics are not.
func FuzzMapSeries(f *testing.F) {
	f.Add(uint8(0), slots(1), slots(2))
	f.Add(uint8(5), slots(3, 7), slots(70))
	f.Add(uint8(6), cat(enc(tI64, 1), slots(-1)), slots(1<<62))
	f.Fuzz(func(t *testing.T, which uint8, key, val []byte) {
		types := []struct{ key, value *ast.Type }{
			{tI64, tCount}, {nil, tSumS}, {tTuple(tI64, tStr(4)), tMinS}, {tStr(3), tAvgS}, {tI64, tStatsS},
			{nil, tHist}, {tI64, tLHist(-10, 10, 3)}, {tI64, tStr(8)}, {tTuple(tBool, tI32), tMaxS},
		}
		c := types[int(which)%len(types)]
		m := Map{Name: "@f", Key: c.key, Value: c.value, Entries: []Entry{
			{Key: key, Values: [][]byte{val}},
			{Key: key, Values: [][]byte{val, val}},
		}}
		MapSeries(m, nil)
	})
}
