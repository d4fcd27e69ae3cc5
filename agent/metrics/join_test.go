package metrics

import "testing"

// A joined source exports each part's families with their own kinds and
// values, under the joined name.
func TestJoin(t *testing.T) {
	e := New(Options{Prefix: "p", SourceLabel: "session"})
	a := &fakeSource{name: "a", fams: []family{
		{name: "c", kind: kindCounter, help: "c", labels: []string{"x"}},
		{name: "h", kind: kindHistogram, help: "h", labels: []string{"y"}},
	}}
	b := &fakeSource{name: "b", fams: []family{
		{name: "g", kind: kindGauge, help: "g", labels: []string{"z"}},
		{name: "s", kind: kindSummary, help: "s"},
	}}
	if err := e.Add(Join("7", a, b)); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, e)
	if v := value(find(t, fams, "p_c", "session=7,x=v0")); v != 7 || fams["p_c"].GetType().String() != "COUNTER" {
		t.Errorf("p_c = %v, %s", v, fams["p_c"].GetType())
	}
	if m := find(t, fams, "p_h", "session=7,y=v0"); m.GetHistogram().GetSampleCount() != 3 {
		t.Errorf("p_h: %v", m)
	}
	if v := value(find(t, fams, "p_g", "session=7,z=v0")); v != 7 || fams["p_g"].GetType().String() != "GAUGE" {
		t.Errorf("p_g = %v, %s", v, fams["p_g"].GetType())
	}
	if m := find(t, fams, "p_s", "session=7"); m.GetSummary().GetSampleCount() != 2 {
		t.Errorf("p_s: %v", m)
	}
}
