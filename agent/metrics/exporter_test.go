package metrics

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSource exports fixed families with one sample each, or fails.
type fakeSource struct {
	name string
	fams []family
	err  error
}

func (f *fakeSource) Name() string       { return f.name }
func (f *fakeSource) families() []family { return f.fams }
func (f *fakeSource) collect(em *emitter) {
	for i, fam := range f.fams {
		em.read()
		lv := make([]string, len(fam.labels))
		for j := range lv {
			lv[j] = "v" + string(rune('0'+j))
		}
		switch fam.kind {
		case kindHistogram:
			em.histogram(i, 3, 1, map[float64]uint64{1: 1, 2: 3}, lv)
		case kindSummary:
			em.summary(i, 2, 5, lv)
		default:
			em.value(i, 7, lv)
		}
	}
	if f.err != nil {
		em.fail(f.err)
	}
}

func TestExporterLabels(t *testing.T) {
	e := New(Options{Prefix: "p", SourceLabel: "session"})
	src := &fakeSource{name: "s1", fams: []family{
		{name: "h", kind: kindHistogram, help: "h", labels: []string{"le", "comm", "comm", "session", "", "9x", "__a"}},
		{name: "s", kind: kindSummary, help: "s", labels: []string{"quantile", "key0"}},
	}}
	if err := e.Add(src); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, e)
	find(t, fams, "p_h", "comm=v1,key0=v0,key2=v2,key3=v3,key4=v4,key5=v5,key6=v6,session=s1")
	// quantile becomes key0, and the label named key0, now a duplicate,
	// key1 by its position.
	find(t, fams, "p_s", "key0=v0,key1=v1,session=s1")
}

func TestExporterConflicts(t *testing.T) {
	counter := func(src, name string) *fakeSource {
		return &fakeSource{name: src, fams: []family{{name: name, kind: kindCounter, help: "c", labels: []string{"a"}}}}
	}
	hist := func(src, name string) *fakeSource {
		return &fakeSource{name: src, fams: []family{{name: name, kind: kindHistogram, help: "h"}}}
	}

	e := New(Options{Prefix: "p"})
	if err := e.Add(counter("s1", "x")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		src  Source
		want string
	}{
		{counter("s1", "y"), `a source named "s1" is exported already`},
		{counter("s2", "x"), "s2: metric p_x is exported already by s1"},
		{hist("s3", "x"), "metric p_x is exported already by s1"},
		{counter("s4", "h_count"), ""},
		{hist("s5", "h"), "s5: metric p_h_count is exported already by s4"},
		{&fakeSource{name: "s6", fams: []family{{name: "a", kind: kindHistogram}, {name: "a_sum", kind: kindGauge}}}, "metrics p_a and p_a_sum would both export p_a_sum"},
		{&fakeSource{name: "s7", fams: []family{{name: "bad-name"}}}, `"p_bad-name" is not a valid metric name`},
		{&fakeSource{name: "\xff"}, "not valid UTF-8"},
	} {
		err := e.Add(c.src)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.src.Name(), err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.src.Name(), err, c.want)
		}
	}

	// With a source label, sources may share a metric of the same shape.
	e = New(Options{Prefix: "p", SourceLabel: "session"})
	for _, s := range []*fakeSource{counter("a", "x"), counter("b", "x")} {
		if err := e.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Add(hist("c", "x")); err == nil || !strings.Contains(err.Error(), "exported already by a, b") {
		t.Errorf("a histogram over counters: %v", err)
	}
	fams := scrape(t, e)
	find(t, fams, "p_x", "a=v0,session=a")
	find(t, fams, "p_x", "a=v0,session=b")

	// Removing frees the names.
	if !e.Remove("a") || e.Remove("a") {
		t.Error("Remove reports wrongly")
	}
	if err := e.Add(hist("c", "x")); err == nil {
		t.Error("x is still b's")
	}
	e.Remove("b")
	if err := e.Add(hist("c", "x")); err != nil {
		t.Errorf("after removing both: %v", err)
	}
}

func TestExporterErrors(t *testing.T) {
	var mu sync.Mutex
	var heard []string
	e := New(Options{Prefix: "p", OnError: func(source string, err error) {
		mu.Lock()
		heard = append(heard, source+": "+err.Error())
		mu.Unlock()
	}})
	bad := &fakeSource{name: "bad", err: errors.New("map m: read failed"), fams: []family{{name: "ok", kind: kindGauge, help: "g"}}}
	if err := e.Add(bad); err != nil {
		t.Fatal(err)
	}
	scrape(t, e)
	fams := scrape(t, e)
	// What could be read is served, and the failures counted.
	if got := value(find(t, fams, "p_ok", "")); got != 7 {
		t.Errorf("p_ok = %v", got)
	}
	if got := value(find(t, fams, "p_exporter_scrape_errors_total", "source=bad")); got != 2 {
		t.Errorf("errors %v, want 2 after two scrapes", got)
	}
	if len(heard) != 2 || heard[0] != "bad: map m: read failed" {
		t.Errorf("OnError heard %q", heard)
	}
	if got := value(find(t, fams, "p_exporter_series", "")); got != 1 {
		t.Errorf("series %v", got)
	}
}

// slowSource blocks in collect until released.
type slowSource struct {
	fakeSource
	started, release chan struct{}
	calls            int
}

func (s *slowSource) collect(em *emitter) {
	s.calls++
	s.started <- struct{}{}
	<-s.release
	s.fakeSource.collect(em)
}

// Remove waits for a scrape that is reading the source: afterwards its
// maps may be closed.
func TestExporterRemoveWaitsForScrape(t *testing.T) {
	src := &slowSource{fakeSource: fakeSource{name: "slow", fams: []family{{name: "x", kind: kindGauge, help: "x"}}},
		started: make(chan struct{}), release: make(chan struct{})}
	e := New(Options{Prefix: "p"})
	if err := e.Add(src); err != nil {
		t.Fatal(err)
	}
	scraped := make(chan struct{})
	go func() {
		scrape(t, e)
		close(scraped)
	}()
	<-src.started
	removed := make(chan bool)
	go func() { removed <- e.Remove("slow") }()
	select {
	case <-removed:
		t.Fatal("Remove returned while the source was being read")
	case <-time.After(50 * time.Millisecond):
	}
	close(src.release)
	if !<-removed {
		t.Error("Remove found no source")
	}
	<-scraped
	if fams := scrape(t, e); fams["p_x"] != nil || src.calls != 1 {
		t.Errorf("read after Remove: %d calls, %v", src.calls, fams["p_x"])
	}
}
