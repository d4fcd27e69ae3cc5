package metrics

import (
	"bytes"
	"fmt"
	"math"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/wagglebpf/waggle/btfprint"
	"github.com/wagglebpf/waggle/session"
)

// ObjectSource exports maps of a loaded BPF object as its configuration's
// metrics say, reading keys and values through the maps' BTF.
type ObjectSource struct {
	name    string
	metrics []*objectMetric
	fams    []family
}

// objectMetric is one MetricConfig bound to its map's types.
type objectMetric struct {
	cfg    MetricConfig
	m      *ebpf.Map
	perCPU bool
	array  bool
	key    btf.Type
	value  btf.Type
	labels []label
	// num reads the number: a counter's or gauge's value, or the count of
	// a histogram with a bucket index in the key.
	num btfprint.Member
	// slots reads a histogram's array of buckets from the value.
	slots *btfprint.Member
	// bucket reads the bucket index from the key.
	bucket *btfprint.Member
	// nslots is the length of the slots array.
	nslots int
}

// label is one key member turned into a label.
type label struct {
	name   string
	member btfprint.Member
	decode decoder
}

// NewObjectSource binds metrics to the maps of a loaded object: spec is
// the collection spec it was loaded from (for the maps' BTF) and maps its
// loaded maps by name. Every mistake a configuration can make about the
// object (a map or member that is not there, a decoder that does not fit
// a member's type, a value that is not a number) is found here, before
// anything is served. sym names kernel symbols and cgroups for the
// decoders that need them.
func NewObjectSource(name string, metrics []MetricConfig, spec *ebpf.CollectionSpec, maps map[string]*ebpf.Map, sym *Symbols) (*ObjectSource, error) {
	if maps == nil {
		maps = map[string]*ebpf.Map{}
	}
	return newObjectSource(name, metrics, spec, maps, sym)
}

// CheckObject finds what NewObjectSource would find wrong with metrics,
// from the object's spec alone: nothing is loaded.
func CheckObject(name string, metrics []MetricConfig, spec *ebpf.CollectionSpec) error {
	_, err := newObjectSource(name, metrics, spec, nil, nil)
	return err
}

func newObjectSource(name string, metrics []MetricConfig, spec *ebpf.CollectionSpec, maps map[string]*ebpf.Map, sym *Symbols) (*ObjectSource, error) {
	if sym == nil {
		sym = &Symbols{}
	}
	s := &ObjectSource{name: name}
	for _, cfg := range metrics {
		om, err := bindMetric(cfg, spec, maps, sym)
		if err != nil {
			return nil, fmt.Errorf("%s: metric %s (map %s): %w", name, cfg.Name, cfg.Map, err)
		}
		s.metrics = append(s.metrics, om)
		f := family{name: cfg.Name, help: cfg.Help, kind: metricKind(cfg.Type)}
		if f.help == "" {
			f.help = fmt.Sprintf("Map %s of %s.", cfg.Map, name)
		}
		for _, l := range om.labels {
			f.labels = append(f.labels, l.name)
		}
		s.fams = append(s.fams, f)
	}
	return s, nil
}

// Name is the source's name.
func (s *ObjectSource) Name() string { return s.name }

func (s *ObjectSource) families() []family { return s.fams }

// readable reports whether a map holds keyed entries to read.
func readable(t ebpf.MapType) bool {
	switch t {
	case ebpf.Hash, ebpf.Array, ebpf.PerCPUHash, ebpf.PerCPUArray, ebpf.LRUHash, ebpf.LRUCPUHash:
		return true
	}
	return false
}

func bindMetric(cfg MetricConfig, spec *ebpf.CollectionSpec, maps map[string]*ebpf.Map, sym *Symbols) (*objectMetric, error) {
	ms := spec.Maps[cfg.Map]
	if ms == nil || strings.HasPrefix(cfg.Map, ".") {
		return nil, fmt.Errorf("no such map; the object has: %s", strings.Join(mapNames(spec), ", "))
	}
	var m *ebpf.Map
	if maps != nil {
		if m = maps[cfg.Map]; m == nil {
			return nil, errNoMap
		}
	}
	if !readable(ms.Type) {
		return nil, fmt.Errorf("a %s map holds no entries to export (hash, array, per-CPU and LRU maps do)", ms.Type)
	}
	if ms.Key == nil || ms.Value == nil {
		return nil, fmt.Errorf("the map has no BTF key and value types (declare it with __type(key, ...) and __type(value, ...))")
	}
	om := &objectMetric{
		cfg: cfg, m: m, key: ms.Key, value: ms.Value,
		perCPU: ms.Type == ebpf.PerCPUHash || ms.Type == ebpf.PerCPUArray || ms.Type == ebpf.LRUCPUHash,
		array:  ms.Type == ebpf.Array || ms.Type == ebpf.PerCPUArray,
	}
	h := cfg.Histogram
	if h != nil && h.Bucket != "" {
		b, err := keyMember(ms.Key, h.Bucket)
		if err != nil {
			return nil, fmt.Errorf("histogram.bucket: %w", err)
		}
		if !isInteger(b.Type) {
			return nil, fmt.Errorf("histogram.bucket: member %s is %s, not an integer", b.Name, session.TypeName(b.Type))
		}
		om.bucket = &b
	}
	if err := om.bindLabels(sym); err != nil {
		return nil, err
	}
	if h != nil && h.Bucket == "" {
		return om, om.bindSlots()
	}
	num, err := valueMember(ms.Value, cfg.Value)
	if err != nil {
		return nil, err
	}
	om.num = num
	return om, nil
}

func mapNames(spec *ebpf.CollectionSpec) []string {
	var names []string
	for _, n := range sortedKeys(spec.Maps) {
		if !strings.HasPrefix(n, ".") {
			names = append(names, n)
		}
	}
	return names
}

// keyMember finds a member of a struct key by name.
func keyMember(key btf.Type, name string) (btfprint.Member, error) {
	ms, err := btfprint.Members(key)
	if err != nil {
		return btfprint.Member{}, fmt.Errorf("the key is %s, which has no member %s", session.TypeName(key), name)
	}
	var names []string
	for _, m := range ms {
		if m.Name == name {
			return m, nil
		}
		names = append(names, m.Name)
	}
	return btfprint.Member{}, fmt.Errorf("the key (%s) has no member %s; it has: %s", session.TypeName(key), name, strings.Join(names, ", "))
}

func (om *objectMetric) bindLabels(sym *Symbols) error {
	cfgs := om.cfg.Labels
	if cfgs == nil {
		// Every member of a struct key but the bucket index; a key that is
		// not a struct is one label.
		ms, err := btfprint.Members(om.key)
		if err != nil {
			cfgs = []LabelConfig{{}}
		}
		for _, m := range ms {
			if om.bucket == nil || m.Name != om.bucket.Name {
				cfgs = append(cfgs, LabelConfig{Member: m.Name})
			}
		}
	}
	for i, lc := range cfgs {
		var m btfprint.Member
		switch {
		case lc.Member != "":
			var err error
			if m, err = keyMember(om.key, lc.Member); err != nil {
				return fmt.Errorf("labels[%d]: %w", i, err)
			}
		default:
			if ms, err := btfprint.Members(om.key); err == nil {
				names := make([]string, len(ms))
				for j, m := range ms {
					names[j] = m.Name
				}
				return fmt.Errorf("labels[%d]: the key is %s: name one of its members (%s)", i, session.TypeName(om.key), strings.Join(names, ", "))
			}
			m = btfprint.Whole(om.key)
		}
		if om.bucket != nil && m.Name == om.bucket.Name {
			return fmt.Errorf("labels[%d]: member %s is the histogram's bucket index", i, m.Name)
		}
		dec, err := newDecoder(lc, m, sym)
		if err != nil {
			return fmt.Errorf("labels[%d]: %w", i, err)
		}
		name := lc.Name
		if name == "" {
			name = m.Name
		}
		if name == "" {
			name = "key"
		}
		om.labels = append(om.labels, label{name: name, member: m, decode: dec})
	}
	return nil
}

// valueMember picks the number in a value: the named member of a struct,
// or the whole value.
func valueMember(value btf.Type, name string) (btfprint.Member, error) {
	ms, err := btfprint.Members(value)
	if name == "" {
		if err == nil {
			return btfprint.Member{}, fmt.Errorf("the value is %s: choose the member that holds the number with value: (one of %s)", session.TypeName(value), strings.Join(memberNames(ms), ", "))
		}
		m := btfprint.Whole(value)
		if !isNumber(value) {
			return btfprint.Member{}, fmt.Errorf("the value is %s, not a number", session.TypeName(value))
		}
		return m, nil
	}
	if err != nil {
		return btfprint.Member{}, fmt.Errorf("value: the value is %s, which has no member %s", session.TypeName(value), name)
	}
	for _, m := range ms {
		if m.Name == name {
			if !isNumber(m.Type) {
				return btfprint.Member{}, fmt.Errorf("value: member %s is %s, not a number", name, session.TypeName(m.Type))
			}
			return m, nil
		}
	}
	return btfprint.Member{}, fmt.Errorf("value: the value (%s) has no member %s; it has: %s", session.TypeName(value), name, strings.Join(memberNames(ms), ", "))
}

func memberNames(ms []btfprint.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}

func isNumber(t btf.Type) bool {
	switch u := btf.UnderlyingType(t).(type) {
	case *btf.Int:
		return true
	case *btf.Enum:
		return true
	case *btf.Float:
		return u.Size == 4 || u.Size == 8
	}
	return false
}

// bindSlots finds a histogram's array of buckets in the value.
func (om *objectMetric) bindSlots() error {
	name := om.cfg.Histogram.Slots
	var m btfprint.Member
	ms, err := btfprint.Members(om.value)
	switch {
	case err == nil:
		if name == "" {
			name = "slots"
		}
		found := false
		for _, c := range ms {
			if c.Name == name {
				m, found = c, true
			}
		}
		if !found {
			return fmt.Errorf("histogram.slots: the value (%s) has no member %s; it has: %s", session.TypeName(om.value), name, strings.Join(memberNames(ms), ", "))
		}
	case name != "":
		return fmt.Errorf("histogram.slots: the value is %s, which has no members", session.TypeName(om.value))
	default:
		m = btfprint.Whole(om.value)
	}
	arr, ok := btf.UnderlyingType(m.Type).(*btf.Array)
	if !ok || !isInteger(arr.Type) {
		return fmt.Errorf("histogram: %s is %s, not an array of counts (set histogram.bucket if the key holds the bucket index)", slotsName(m), session.TypeName(m.Type))
	}
	if arr.Nelems == 0 || arr.Nelems > maxBuckets {
		return fmt.Errorf("histogram: %s has %d slots; expected 1 to %d", slotsName(m), arr.Nelems, maxBuckets)
	}
	om.slots, om.nslots = &m, int(arr.Nelems)
	return nil
}

func slotsName(m btfprint.Member) string {
	if m.Name == "" {
		return "the value"
	}
	return "member " + m.Name
}

func (s *ObjectSource) collect(em *emitter) {
	for i, om := range s.metrics {
		if err := om.collect(em, i); err != nil {
			em.fail(fmt.Errorf("%s: %w", om.cfg.Map, err))
		}
	}
}

// series is the aggregate of the entries with one set of label values.
type series struct {
	labels []string
	value  float64
	counts []uint64 // histograms, per bucket
	// overflow counts values whose bucket index is past every bucket.
	overflow uint64
}

func (om *objectMetric) collect(em *emitter, f int) error {
	if om.m == nil {
		return errNoMap
	}
	entries, err := session.ReadEntries(om.m)
	if err != nil {
		return err
	}
	em.read()
	rows, err := om.aggregate(entries)
	if err != nil {
		return err
	}
	if om.cfg.Type != "histogram" {
		for _, s := range rows {
			em.value(f, s.value, s.labels)
		}
		return nil
	}
	bounds := om.bounds(rows)
	for _, s := range rows {
		buckets, total := s.cumulative(bounds)
		// Neither layout keeps the sum of the values counted.
		em.histogram(f, total, math.NaN(), buckets, s.labels)
	}
	return nil
}

// aggregate decodes entries into one series per set of label values, in
// the order they first appear: entries whose labels are alike (members
// left out of the labels, names that decode alike) add up.
func (om *objectMetric) aggregate(entries []btfprint.Entry) ([]*series, error) {
	var rows []*series
	byLabels := map[string]*series{}
	for _, e := range entries {
		if len(e.Values) == 0 {
			return nil, fmt.Errorf("entry without a value")
		}
		val := e.Values[0]
		if om.perCPU {
			var err error
			if val, err = btfprint.SumCPUs(om.value, e.Values); err != nil {
				return nil, err
			}
		}
		if om.array && allZero(val) {
			continue // an array's unused slots
		}
		lv := make([]string, len(om.labels))
		for i, l := range om.labels {
			text, err := l.decode(l.member, e.Key)
			if err != nil {
				return nil, fmt.Errorf("label %s: %w", l.name, err)
			}
			lv[i] = validUTF8(text)
		}
		k := strings.Join(lv, "\x00")
		s := byLabels[k]
		if s == nil {
			s = &series{labels: lv}
			byLabels[k] = s
			rows = append(rows, s)
		}
		if err := om.add(s, e.Key, val); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// bounds are the histogram's bucket bounds: as many buckets as
// histogram.buckets says, else as the slots array has, else as the
// highest index seen needs.
func (om *objectMetric) bounds(rows []*series) []float64 {
	n := om.nslots
	if om.bucket != nil {
		for _, s := range rows {
			n = max(n, len(s.counts))
		}
	}
	if b := om.cfg.Histogram.Buckets; b > 0 {
		n = b
	}
	return om.cfg.Histogram.bounds(n)
}

// cumulative is s's histogram as Prometheus takes it; counts past the
// last bucket are in the total (+Inf) alone.
func (s *series) cumulative(bounds []float64) (map[float64]uint64, uint64) {
	counts := make([]uint64, len(bounds))
	copy(counts, s.counts)
	buckets, total := cumulative(bounds, counts)
	for _, c := range s.counts[min(len(s.counts), len(bounds)):] {
		total += c
	}
	return buckets, total + s.overflow
}

// add folds one entry into its series.
func (om *objectMetric) add(s *series, key, val []byte) error {
	switch {
	case om.slots != nil:
		counts, err := om.slots.Counts(val)
		if err != nil {
			return err
		}
		if len(s.counts) < len(counts) {
			s.counts = append(s.counts, make([]uint64, len(counts)-len(s.counts))...)
		}
		for i, c := range counts {
			s.counts[i] += c
		}
	case om.bucket != nil:
		idx, signed, err := om.bucket.Integer(key)
		if err != nil {
			return err
		}
		c, err := om.num.Number(val)
		if err != nil {
			return err
		}
		n := uint64(max(c, 0))
		if signed && int64(idx) < 0 || idx >= maxBuckets {
			// Not a bucket: counted in +Inf alone.
			s.overflow += n
			return nil
		}
		if uint64(len(s.counts)) <= idx {
			s.counts = append(s.counts, make([]uint64, int(idx)+1-len(s.counts))...)
		}
		s.counts[idx] += n
	default:
		v, err := om.num.Number(val)
		if err != nil {
			return err
		}
		s.value += v
	}
	return nil
}

func allZero(b []byte) bool {
	return len(bytes.Trim(b, "\x00")) == 0
}

// bounds are the largest values of n buckets of h's kind, scaled by the
// multiplier; see the package documentation.
func (h *HistogramConfig) bounds(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		var b float64
		switch h.Kind {
		case "linear":
			b = float64(h.Min) + float64(i+1)*float64(h.Step) - 1
		case "exp":
			b = h.Start * math.Pow(h.Factor, float64(i))
		case "fixed":
			b = math.Inf(1)
			if i < len(h.Bounds) {
				b = h.Bounds[i]
			}
		default: // log2: slot 0 holds 0 and 1, slot i [2^i, 2^(i+1))
			b = math.Ldexp(1, i+1) - 1
		}
		if !math.IsInf(b, 0) {
			b *= h.Multiplier
		}
		out[i] = b
	}
	return out
}
