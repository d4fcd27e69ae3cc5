package btfprint

import (
	goldenfile "github.com/wagglebpf/waggle/internal/golden"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// TestHistGolden prints a single-entry array map of struct hist whose slots
// span plain, K and M labels, a gap of empty buckets and bars that truncate.
func TestHistGolden(t *testing.T) {
	m := Map{Name: "latency_us", Key: tU32, Value: tHist, Array: true, Entries: []Entry{
		entry(u32b(0), histData(map[int]uint32{0: 3, 2: 5, 3: 10, 9: 1, 10: 2, 20: 7})),
	}}
	got := printMap(t, m, MapOptions{})
	goldenfile.Check(t, filepath.Join("testdata", "hist.golden"), got)
}

func TestBucketLabels(t *testing.T) {
	for k, want := range map[int]string{
		0:  "[0, 2)",
		1:  "[2, 4)",
		8:  "[256, 512)",
		9:  "[512, 1K)",
		10: "[1K, 2K)",
		19: "[512K, 1M)",
		20: "[1M, 2M)",
		30: "[1G, 2G)",
		40: "[1T, 2T)",
		50: "[1P, 2P)",
		60: "[1E, 2E)",
		63: "[8E, 16E)",
	} {
		if got := bucketLabel(k); got != want {
			t.Errorf("bucketLabel(%d) = %q, want %q", k, got, want)
		}
	}
}

// TestHistWideSlots checks the top of a 64-slot histogram of u64 counts,
// where bounds reach 2^64 and beyond.
func TestHistWideSlots(t *testing.T) {
	h := st("hist", 66*8, mem("slots", array(tU64, 66), 0))
	data := newBuf(66*8).u64(63*8, 1).u64(65*8, 2)
	m := Map{Name: "h", Key: tU32, Value: h, Array: true, Entries: []Entry{entry(u32b(0), data)}}
	wantText := "@h:\n" +
		"[8E, 16E)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n" +
		"[16E, 32E)             0 |                                                    |\n" +
		"[32E, 64E)             2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n"
	if got := printMap(t, m, MapOptions{}); got != wantText {
		t.Errorf("got:\n%s\nwant:\n%s", got, wantText)
	}
	wantJSON := `{"type": "hist", "data": {"@h": [` +
		`{"min": 9223372036854775808, "max": 18446744073709551615, "count": 1},` +
		`{"min": 18446744073709551616, "max": 36893488147419103231, "count": 0},` +
		`{"min": 36893488147419103232, "max": 73786976294838206463, "count": 2}]}}` + "\n"
	if got := printMap(t, m, MapOptions{JSON: true}); got != wantJSON {
		t.Errorf("got  %s\nwant %s", got, wantJSON)
	}
}

func TestHistLayout(t *testing.T) {
	for _, c := range []struct {
		name string
		typ  btf.Type
		want bool
	}{
		{"libbpf-tools", tHist, true},
		{"typedef'd, after other members", &btf.Typedef{Name: "hist_t", Type: st("h", 24, mem("comm", charArray(16), 0), mem("slots", array(tU64, 1), 16))}, true},
		{"signed slots", st("h", 8, mem("slots", array(tS32, 2), 0)), true},
		{"slots not an array", st("h", 8, mem("slots", tU64, 0)), false},
		{"slots of structs", st("h", 8, mem("slots", array(tInner, 2), 0)), false},
		{"slots of bools", st("h", 2, mem("slots", array(tBool, 2), 0)), false},
		{"no slots", tInner, false},
		{"not a struct", tU64, false},
		{"nil", nil, false},
	} {
		if got := histLayoutOf(c.typ) != nil; got != c.want {
			t.Errorf("%s: histogram %v, want %v", c.name, got, c.want)
		}
	}
	// Negative counts in signed slots draw as empty buckets.
	h := histLayoutOf(st("h", 8, mem("slots", array(tS32, 2), 0)))
	counts, err := h.counts(newBuf(8).u32(0, 0xffffffff).u32(4, 3))
	if err != nil || counts[0] != 0 || counts[1] != 3 {
		t.Errorf("counts = %v, %v; want [0 3]", counts, err)
	}
}
