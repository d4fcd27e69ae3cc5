package histogram

import "testing"

func TestPow2(t *testing.T) {
	for k, want := range map[int]string{0: "1", 9: "512", 10: "1K", 19: "512K", 20: "1M", 30: "1G", 40: "1T", 50: "1P", 60: "1E", 63: "8E", 64: "16E", 70: "2^70", -1: "2^-1"} {
		if got := Pow2(k); got != want {
			t.Errorf("Pow2(%d) = %q, want %q", k, got, want)
		}
	}
}

func TestSpan(t *testing.T) {
	if lo, hi := Span([]uint64{0, 0, 3, 0, 1, 0}); lo != 2 || hi != 4 {
		t.Errorf("Span = %d, %d", lo, hi)
	}
	if lo, hi := Span([]uint64{0, 0}); lo != -1 || hi != -1 {
		t.Errorf("empty Span = %d, %d", lo, hi)
	}
}

func TestAppend(t *testing.T) {
	b := []Bucket{
		{Label: "(..., 0)", Max: "-1", Count: 3},
		{Label: "[0]", Min: "0", Max: "0", Count: 0},
		{Label: "[a label longer than 16]", Min: `"x"`, Count: 1},
	}
	wantText := "(..., 0)               3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n" +
		"[0]                    0 |                                                    |\n" +
		"[a label longer than 16]       1 |@@@@@@@@@@@@@@@@@                                   |\n"
	if got := string(AppendText(nil, b)); got != wantText {
		t.Errorf("text:\n%s\nwant\n%s", got, wantText)
	}
	wantJSON := `[{"max": -1, "count": 3},{"min": 0, "max": 0, "count": 0},{"min": "x", "count": 1}]`
	if got := string(AppendJSON(nil, b)); got != wantJSON {
		t.Errorf("json %s, want %s", got, wantJSON)
	}
	// All-zero counts draw empty bars, not NaN ones.
	if got := string(AppendText(nil, []Bucket{{Label: "[1]"}})); got != "[1]                    0 |                                                    |\n" {
		t.Errorf("zero: %q", got)
	}
	if got := string(AppendJSON(nil, nil)); got != "[]" {
		t.Errorf("empty JSON %q", got)
	}
}
