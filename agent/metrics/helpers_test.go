package metrics

import (
	"math"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape serves e as `waggle export` does and parses what /metrics says
// with Prometheus's own parser. Errors while reading maps fail the test.
func scrape(t *testing.T, e *Exporter) map[string]*dto.MetricFamily {
	t.Helper()
	fams, text := scrapeText(t, e)
	if t.Failed() {
		t.Logf("exposition:\n%s", text)
	}
	return fams
}

func scrapeText(t *testing.T, e *Exporter) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(e)
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d\n%s", rec.Code, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams, body
}

// labelsOf renders a metric's labels as name=value pairs, sorted.
func labelsOf(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// find returns the metric of family name whose labels are exactly
// labels ("a=1,b=2", sorted); it fails the test when there is none.
func find(t *testing.T, fams map[string]*dto.MetricFamily, name, labels string) *dto.Metric {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric %s; have %v", name, sortedKeys(fams))
	}
	var have []string
	for _, m := range f.GetMetric() {
		if labelsOf(m) == labels {
			return m
		}
		have = append(have, labelsOf(m))
	}
	t.Fatalf("%s has no series {%s}; have %q", name, labels, have)
	return nil
}

// value is a counter's or gauge's value.
func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	}
	return math.NaN()
}

// buckets lists a histogram's cumulative counts by upper bound.
func buckets(m *dto.Metric) map[float64]uint64 {
	out := map[float64]uint64{}
	for _, b := range m.GetHistogram().GetBucket() {
		out[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	return out
}

// checkHistogram checks a histogram against the values it should have
// counted, as Prometheus defines its buckets: each bound's count is the
// number of values at most the bound, and the count all of them.
func checkHistogram(t *testing.T, m *dto.Metric, values []float64) {
	t.Helper()
	h := m.GetHistogram()
	if h == nil {
		t.Fatalf("not a histogram: %v", m)
	}
	if h.GetSampleCount() != uint64(len(values)) {
		t.Errorf("count %d, want %d", h.GetSampleCount(), len(values))
	}
	bounds := make([]float64, 0, len(h.GetBucket()))
	for _, b := range h.GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
		var want uint64
		for _, v := range values {
			if v <= b.GetUpperBound() {
				want++
			}
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("bucket le=%g: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if !slices.IsSorted(bounds) {
		t.Errorf("bucket bounds not increasing: %v", bounds)
	}
}
