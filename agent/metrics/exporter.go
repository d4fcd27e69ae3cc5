package metrics

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// kind is what sort of Prometheus metric a family is.
type kind uint8

const (
	kindCounter kind = iota
	kindGauge
	kindHistogram
	kindSummary // count and sum only: bpftrace's stats()
)

func (k kind) String() string {
	switch k {
	case kindCounter:
		return "counter"
	case kindGauge:
		return "gauge"
	case kindHistogram:
		return "histogram"
	}
	return "summary"
}

func metricKind(typ string) kind {
	switch typ {
	case "counter":
		return kindCounter
	case "histogram":
		return kindHistogram
	}
	return kindGauge
}

// familyNames are the sample names a family of name and k exports.
func familyNames(name string, k kind) []string {
	switch k {
	case kindHistogram:
		return []string{name, name + "_bucket", name + "_count", name + "_sum"}
	case kindSummary:
		return []string{name, name + "_count", name + "_sum"}
	}
	return []string{name}
}

// family is one metric a source exports, before the prefix: its name,
// help, kind and label names, in the order the source gives label values.
type family struct {
	name   string
	help   string
	kind   kind
	labels []string
}

// Source is something whose maps the Exporter reads at scrape time: a
// tracing script's maps ([NewScriptSource]), an object's maps chosen by a
// configuration ([NewObjectSource]) or the statistics of programs
// ([NewProgramSource]).
type Source interface {
	// Name identifies the source in errors, in the health metrics and,
	// with Options.SourceLabel, in a label of its every metric.
	Name() string
	families() []family
	collect(em *emitter)
}

// Options configure an Exporter.
type Options struct {
	// Prefix starts every metric name, followed by '_' ("waggle" makes
	// waggle_opens of @opens); empty for none.
	Prefix string
	// SourceLabel, when set, labels every metric of a source with the
	// source's name, so that sources (the agent's sessions) can export
	// metrics of the same name side by side.
	SourceLabel string
	// OnError, when set, hears of every error while reading a source; the
	// scrape goes on without what failed.
	OnError func(source string, err error)
}

// Exporter is a prometheus.Collector that reads the maps of its sources
// when it is scraped; nothing is read in between. Sources come and go
// while it runs (Add, Remove). It adds health metrics of its own:
// PREFIX_exporter_scrape_duration_seconds, PREFIX_exporter_scrape_errors_total
// by source, PREFIX_exporter_maps and PREFIX_exporter_series.
//
// It is an unchecked collector (Describe sends nothing), because its
// metrics change with its sources. Safe for concurrent use.
type Exporter struct {
	opts Options

	mu      sync.RWMutex
	sources []*bound
	owners  map[string]*owner // sample name -> who exports it
	errs    map[string]uint64 // errors by source name

	health struct {
		duration, errors, maps, series *prometheus.Desc
	}
}

// bound is a source with its descriptors, one per family.
type bound struct {
	src   Source
	descs []*prometheus.Desc
	kinds []kind
	// reading is held (shared) while a scrape reads the source, and
	// taken by Remove, so that once Remove returns nothing reads the
	// source's maps: they may be closed, and their descriptors reused.
	reading sync.RWMutex
	removed bool
}

// owner is the family that exports a sample name, and who shares it.
type owner struct {
	fam     family
	sources map[string]bool
}

// New makes an Exporter without sources.
func New(o Options) *Exporter {
	e := &Exporter{opts: o, owners: map[string]*owner{}, errs: map[string]uint64{}}
	e.health.duration = prometheus.NewDesc(e.fqName("exporter_scrape_duration_seconds"), "How long reading every source's maps took in this scrape.", nil, nil)
	e.health.errors = prometheus.NewDesc(e.fqName("exporter_scrape_errors_total"), "Errors while reading a source's maps, since the source was added.", []string{"source"}, nil)
	e.health.maps = prometheus.NewDesc(e.fqName("exporter_maps"), "Metrics read from maps in this scrape.", nil, nil)
	e.health.series = prometheus.NewDesc(e.fqName("exporter_series"), "Series read from maps in this scrape (a histogram's buckets count one each).", nil, nil)
	return e
}

func (e *Exporter) fqName(name string) string {
	if e.opts.Prefix == "" {
		return name
	}
	return e.opts.Prefix + "_" + name
}

// Add starts exporting s. Its metric names must not be exported already,
// except, with Options.SourceLabel, by sources whose metric of that name
// has the same type, help and labels. Label names that Prometheus does not
// allow or that clash (le in histograms, the source label, a name given
// twice) are replaced by key0, key1... by position.
func (e *Exporter) Add(s Source) error {
	name := s.Name()
	if !utf8.ValidString(name) {
		return fmt.Errorf("source name %q is not valid UTF-8", name)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, b := range e.sources {
		if b.src.Name() == name {
			return fmt.Errorf("a source named %q is exported already", name)
		}
	}
	fams := s.families()
	b := &bound{src: s}
	claims := map[string]family{}
	for _, f := range fams {
		f.name = e.fqName(f.name)
		if !validMetricName(f.name) {
			return fmt.Errorf("%s: %q is not a valid metric name", name, f.name)
		}
		f.labels = e.fixLabels(f)
		for _, n := range familyNames(f.name, f.kind) {
			if prev, ok := claims[n]; ok {
				return fmt.Errorf("%s: metrics %s and %s would both export %s", name, prev.name, f.name, n)
			}
			claims[n] = f
			if o := e.owners[n]; o != nil && !(e.opts.SourceLabel != "" && o.fam.name == f.name && sameFamily(o.fam, f)) {
				return fmt.Errorf("%s: metric %s is exported already by %s", name, n, strings.Join(sortedKeys(o.sources), ", "))
			}
		}
		var constLabels prometheus.Labels
		if e.opts.SourceLabel != "" {
			constLabels = prometheus.Labels{e.opts.SourceLabel: name}
		}
		b.descs = append(b.descs, prometheus.NewDesc(f.name, f.help, f.labels, constLabels))
		b.kinds = append(b.kinds, f.kind)
	}
	for n, f := range claims {
		if e.owners[n] == nil {
			e.owners[n] = &owner{fam: f, sources: map[string]bool{}}
		}
		e.owners[n].sources[name] = true
	}
	e.sources = append(e.sources, b)
	return nil
}

func sameFamily(a, b family) bool {
	return a.kind == b.kind && a.help == b.help && slices.Equal(a.labels, b.labels)
}

// fixLabels makes f's label names valid and distinct: a name that is not
// is replaced by key<position>.
func (e *Exporter) fixLabels(f family) []string {
	out := make([]string, len(f.labels))
	used := map[string]bool{}
	reserved := func(n string) bool {
		return !validLabelName(n) || strings.HasPrefix(n, "__") || used[n] ||
			n == e.opts.SourceLabel ||
			f.kind == kindHistogram && n == "le" || f.kind == kindSummary && n == "quantile"
	}
	for i, n := range f.labels {
		if reserved(n) {
			n = "key" + strconv.Itoa(i)
			for reserved(n) {
				n += "_"
			}
		}
		used[n] = true
		out[i] = n
	}
	return out
}

// Remove stops exporting the source named name; it reports whether there
// was one. A scrape reading the source is waited for: once Remove
// returns, the source's maps may be closed.
func (e *Exporter) Remove(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	i := slices.IndexFunc(e.sources, func(b *bound) bool { return b.src.Name() == name })
	if i < 0 {
		return false
	}
	b := e.sources[i]
	b.reading.Lock()
	b.removed = true
	b.reading.Unlock()
	e.sources = slices.Delete(e.sources, i, i+1)
	for n, o := range e.owners {
		delete(o.sources, name)
		if len(o.sources) == 0 {
			delete(e.owners, n)
		}
	}
	delete(e.errs, name)
	return true
}

// Describe sends nothing: the Exporter is an unchecked collector.
func (e *Exporter) Describe(chan<- *prometheus.Desc) {}

// Collect reads every source's maps and sends their metrics, then the
// health metrics.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	start := time.Now()
	e.mu.RLock()
	sources := slices.Clone(e.sources)
	e.mu.RUnlock()
	var maps, series int
	failed := map[string]uint64{}
	for _, b := range sources {
		em := &emitter{ch: ch, b: b}
		b.reading.RLock()
		if !b.removed {
			b.src.collect(em)
		}
		b.reading.RUnlock()
		maps += em.maps
		series += em.series
		name := b.src.Name()
		for _, err := range em.errs {
			failed[name]++
			if e.opts.OnError != nil {
				e.opts.OnError(name, err)
			}
		}
	}
	// Sources removed during this scrape have no count left to report.
	e.mu.Lock()
	errs := make([]prometheus.Metric, 0, len(e.sources))
	for _, b := range e.sources {
		name := b.src.Name()
		e.errs[name] += failed[name]
		errs = append(errs, prometheus.MustNewConstMetric(e.health.errors, prometheus.CounterValue, float64(e.errs[name]), name))
	}
	e.mu.Unlock()
	for _, m := range errs {
		ch <- m
	}
	ch <- prometheus.MustNewConstMetric(e.health.maps, prometheus.GaugeValue, float64(maps))
	ch <- prometheus.MustNewConstMetric(e.health.series, prometheus.GaugeValue, float64(series))
	ch <- prometheus.MustNewConstMetric(e.health.duration, prometheus.GaugeValue, time.Since(start).Seconds())
}

// emitter is what a source sends its metrics through during one scrape.
type emitter struct {
	ch chan<- prometheus.Metric
	b  *bound
	// first is the index in b of the collecting source's first family:
	// not 0 for the parts of a Join.
	first  int
	maps   int
	series int
	errs   []error
}

// fail records that reading one map went wrong; the scrape goes on.
func (em *emitter) fail(err error) { em.errs = append(em.errs, err) }

// read counts one map read for the health metrics.
func (em *emitter) read() { em.maps++ }

func (em *emitter) send(m prometheus.Metric, err error, series int) {
	if err != nil {
		em.fail(err)
		return
	}
	em.ch <- m
	em.series += series
}

// value sends a counter or gauge of family f.
func (em *emitter) value(f int, v float64, labels []string) {
	vt := prometheus.GaugeValue
	if em.b.kinds[em.first+f] == kindCounter {
		vt = prometheus.CounterValue
	}
	m, err := prometheus.NewConstMetric(em.b.descs[em.first+f], vt, v, labels...)
	em.send(m, err, 1)
}

// histogram sends a histogram of family f: buckets by upper bound, each
// count cumulative; +Inf is count.
func (em *emitter) histogram(f int, count uint64, sum float64, buckets map[float64]uint64, labels []string) {
	m, err := prometheus.NewConstHistogram(em.b.descs[em.first+f], count, sum, buckets, labels...)
	em.send(m, err, len(buckets)+3)
}

// summary sends a count and a sum, without quantiles.
func (em *emitter) summary(f int, count uint64, sum float64, labels []string) {
	m, err := prometheus.NewConstSummary(em.b.descs[em.first+f], count, sum, nil, labels...)
	em.send(m, err, 2)
}

// cumulative turns per-bucket counts with their upper bounds into what
// Prometheus wants: each bound with the count of values up to it. A +Inf
// bound is left out (the total is the histogram's count).
func cumulative(bounds []float64, counts []uint64) (map[float64]uint64, uint64) {
	out := make(map[float64]uint64, len(bounds))
	var total uint64
	for i, b := range bounds {
		total += counts[i]
		if !math.IsInf(b, 1) {
			out[b] = total
		}
	}
	return out, total
}

// validUTF8 makes s usable as a label value: Prometheus refuses invalid
// UTF-8, which task names and paths may hold.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// errNoMap is wrapped when a map a source needs is not loaded.
var errNoMap = errors.New("map not loaded")
