package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Config is an exporter's configuration file: which objects and scripts
// to run and which of their maps become which metrics. See the package
// documentation for the format and testdata/example.yaml for an example.
type Config struct {
	// Listen is the address /metrics is served on (default
	// DefaultListen); a command-line flag overrides it.
	Listen string `yaml:"listen"`
	// Prefix starts every metric name, followed by '_'; nil means
	// DefaultPrefix, "" no prefix.
	Prefix *string `yaml:"prefix"`
	// ProgramStats turns the kernel's BPF statistics on while the
	// exporter runs and exports every program's run count and run time.
	ProgramStats bool           `yaml:"program_stats"`
	Objects      []ObjectConfig `yaml:"objects"`
	Scripts      []ScriptConfig `yaml:"scripts"`
}

// DefaultListen and DefaultPrefix are the defaults of Config.Listen and
// Config.Prefix. 9435 is ebpf_exporter's port: the two do the same job.
const (
	DefaultListen = "127.0.0.1:9435"
	DefaultPrefix = "waggle"
)

// ObjectConfig is one clang-built BPF object, loaded and attached as
// `waggle run` does, and the metrics read from its maps.
type ObjectConfig struct {
	// Name identifies the object in messages and in the object label of
	// program statistics; default: the file name without .bpf.o or .o.
	Name string `yaml:"name"`
	// Path is the object file, relative to the configuration file.
	Path string `yaml:"path"`
	// Set assigns global variables before loading, as `waggle run --set`.
	Set map[string]string `yaml:"set"`
	// Only, Skip, Attach, Iface, Cgroup, PID, Freq and Period are `waggle
	// run`'s --only, --skip, --attach PROG=TARGET, --iface, --cgroup,
	// --pid, --freq and --period.
	Only    []string          `yaml:"only"`
	Skip    []string          `yaml:"skip"`
	Attach  map[string]string `yaml:"attach"`
	Iface   string            `yaml:"iface"`
	Cgroup  string            `yaml:"cgroup"`
	PID     int               `yaml:"pid"`
	Freq    uint64            `yaml:"freq"`
	Period  uint64            `yaml:"period"`
	Metrics []MetricConfig    `yaml:"metrics"`
}

// MetricConfig makes one metric of one map.
type MetricConfig struct {
	// Name is the metric's name after the prefix.
	Name string `yaml:"name"`
	Help string `yaml:"help"`
	// Type is counter, gauge or histogram.
	Type string `yaml:"type"`
	// Map is the BPF map's name in the object.
	Map string `yaml:"map"`
	// Labels pick the key's members that become labels. Left out, every
	// member of the key does (a key that is not a struct makes one label,
	// "key"); an empty list makes none, and entries are added up.
	Labels []LabelConfig `yaml:"labels"`
	// Value is the member of a struct value that holds the number; left
	// out, the whole value (which must then be a number).
	Value string `yaml:"value"`
	// Histogram says how a histogram's buckets are laid out.
	Histogram *HistogramConfig `yaml:"histogram"`
}

// LabelConfig makes one label of a key member.
type LabelConfig struct {
	// Member is the key's member (by its BTF name); left out for a key
	// that is not a struct.
	Member string `yaml:"member"`
	// Name is the label's name; default: the member's name ("key" for a
	// key that is not a struct).
	Name string `yaml:"name"`
	// Decoder turns the member's value into the label's: number, string,
	// hex, ksym, syscall, errno, ipv4, ipv6, ip, cgroup or static. Left out,
	// enums print their enumerator's name, char arrays as strings, and
	// other integers as numbers.
	Decoder string `yaml:"decoder"`
	// Values is the static decoder's table: the member's value (as a
	// number, or an enumerator's name) to the label's.
	Values map[string]string `yaml:"values"`
}

// HistogramConfig describes a histogram's buckets. They are read either
// from an array in the value (bcc and libbpf-tools' struct hist, whose
// member is named slots) or, with Bucket, from one map entry per bucket
// whose key holds the bucket's index (ebpf_exporter's layout).
type HistogramConfig struct {
	// Kind is log2 (default), linear, exp or fixed; see the package
	// documentation for each kind's bucket bounds.
	Kind string `yaml:"kind"`
	// Slots names the value's array member (default "slots", or the whole
	// value when it is an array).
	Slots string `yaml:"slots"`
	// Bucket names the key member that holds the bucket index.
	Bucket string `yaml:"bucket"`
	// Buckets is the number of buckets (default: the array's length, or
	// for Bucket the highest index seen plus one); indexes past it count
	// only in +Inf.
	Buckets int `yaml:"buckets"`
	// Min and Step are a linear histogram's first bound and width.
	Min  int64 `yaml:"min"`
	Step int64 `yaml:"step"`
	// Start and Factor are an exp histogram's first bound and growth.
	Start  float64 `yaml:"start"`
	Factor float64 `yaml:"factor"`
	// Bounds are a fixed histogram's upper bounds, increasing.
	Bounds []float64 `yaml:"bounds"`
	// Multiplier scales every bound, e.g. 1e-6 for microseconds counted
	// and seconds exported (default 1).
	Multiplier float64 `yaml:"multiplier"`
}

// ScriptConfig is one bpftrace script run by the exporter as waggle
// trace runs it (BEGIN when it starts, END when it stops); every map it
// has becomes a metric named after the map. What it prints is dropped,
// and its exit() stops the exporter.
type ScriptConfig struct {
	// Name identifies the script in messages; default: the file name
	// without .bt, or "script" with Program.
	Name string `yaml:"name"`
	// Path is the script file, relative to the configuration file;
	// Program is the script's text. Exactly one is given.
	Path    string `yaml:"path"`
	Program string `yaml:"program"`
	// Params are the positional parameters $1, $2...
	Params []string `yaml:"params"`
	// Labels name the key's parts of a map, overriding the names taken
	// from the script: "@bytes": [pid, comm].
	Labels map[string][]string `yaml:"labels"`
}

// maxConfigSize bounds a configuration file.
const maxConfigSize = 1 << 20

// LoadConfig reads and checks a configuration file. Relative paths in it
// become relative to the file's directory.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("%s: larger than %d bytes; is it the right file?", path, maxConfigSize)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dir := filepath.Dir(path)
	for i := range c.Objects {
		c.Objects[i].Path = resolvePath(dir, c.Objects[i].Path)
	}
	for i := range c.Scripts {
		if c.Scripts[i].Path != "" {
			c.Scripts[i].Path = resolvePath(dir, c.Scripts[i].Path)
		}
	}
	return c, nil
}

func resolvePath(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// ErrConfig is wrapped by every error about a configuration's content.
var ErrConfig = errors.New("invalid configuration")

// configError is a problem at a place in the configuration, named by its
// path: objects[0].metrics[2].labels[1].decoder.
func configError(where, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrConfig, where, fmt.Sprintf(format, args...))
}

// ParseConfig reads a configuration from YAML and checks everything that
// can be checked without the objects: names, kinds, decoders, bucket
// parameters. Unknown keys are errors, so that a misspelt one is not
// silently ignored. Paths stay as written.
func ParseConfig(data []byte) (*Config, error) {
	var c Config
	if err := decodeYAML(data, &c); err != nil {
		return nil, err
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// ObjectMetrics is the metrics of one object given on its own, for an
// object run in an agent (waggle run --remote --metrics FILE): the
// metrics list of an object of Config, under the key metrics.
type ObjectMetrics struct {
	Metrics []MetricConfig `yaml:"metrics"`
}

// ParseObjectMetrics reads an ObjectMetrics from YAML and checks it as
// ParseConfig checks an object's metrics.
func ParseObjectMetrics(data []byte) ([]MetricConfig, error) {
	var om ObjectMetrics
	if err := decodeYAML(data, &om); err != nil {
		return nil, err
	}
	if len(om.Metrics) == 0 {
		return nil, configError("metrics", "missing: say which maps become metrics")
	}
	seen := map[string]string{}
	for j := range om.Metrics {
		if err := om.Metrics[j].check(fmt.Sprintf("metrics[%d]", j)); err != nil {
			return nil, err
		}
		if err := claimNames(om.Metrics[j], fmt.Sprintf("metrics[%d]", j), seen); err != nil {
			return nil, err
		}
	}
	return om.Metrics, nil
}

// decodeYAML decodes one YAML document into v; unknown keys are errors.
func decodeYAML(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: the file is empty", ErrConfig)
		}
		return fmt.Errorf("%w: %s", ErrConfig, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: more than one YAML document; put everything in one", ErrConfig)
	}
	return nil
}

// claimNames records the sample names m exports, refusing one that an
// earlier metric (seen: name -> where) exports already.
func claimNames(m MetricConfig, where string, seen map[string]string) error {
	for _, n := range familyNames(m.Name, metricKind(m.Type)) {
		if prev, ok := seen[n]; ok {
			return configError(where+".name", "%s would export %s, as %s does", m.Name, n, prev)
		}
		seen[n] = where
	}
	return nil
}

// PrefixOrDefault is the metric name prefix the configuration asks for.
func (c *Config) PrefixOrDefault() string {
	if c.Prefix == nil {
		return DefaultPrefix
	}
	return *c.Prefix
}

func (c *Config) check() error {
	if len(c.Objects) == 0 && len(c.Scripts) == 0 {
		return fmt.Errorf("%w: no objects and no scripts: nothing to export", ErrConfig)
	}
	if p := c.PrefixOrDefault(); p != "" && !validMetricName(p) {
		return configError("prefix", "%q is not a valid start of a metric name (letters, digits, '_' and ':', not starting with a digit)", p)
	}
	names := map[string]string{}
	for i := range c.Objects {
		o := &c.Objects[i]
		where := fmt.Sprintf("objects[%d]", i)
		if err := o.check(where); err != nil {
			return err
		}
		if prev, ok := names[o.Name]; ok {
			return configError(where+".name", "%q is also the name of %s; give one of them another name", o.Name, prev)
		}
		names[o.Name] = where
	}
	for i := range c.Scripts {
		s := &c.Scripts[i]
		where := fmt.Sprintf("scripts[%d]", i)
		if err := s.check(where); err != nil {
			return err
		}
		if prev, ok := names[s.Name]; ok {
			return configError(where+".name", "%q is also the name of %s; give one of them another name", s.Name, prev)
		}
		names[s.Name] = where
	}
	metrics := map[string]string{}
	for i, o := range c.Objects {
		for j, m := range o.Metrics {
			if err := claimNames(m, fmt.Sprintf("objects[%d].metrics[%d]", i, j), metrics); err != nil {
				return err
			}
		}
	}
	return nil
}

func (o *ObjectConfig) check(where string) error {
	if o.Path == "" {
		return configError(where+".path", "missing: name the BPF object file")
	}
	if o.Name == "" {
		base := filepath.Base(o.Path)
		base = strings.TrimSuffix(base, ".o")
		o.Name = strings.TrimSuffix(base, ".bpf")
	}
	if o.PID < 0 {
		return configError(where+".pid", "%d is not a process ID", o.PID)
	}
	if len(o.Metrics) == 0 {
		return configError(where+".metrics", "missing: say which maps become metrics")
	}
	for j := range o.Metrics {
		if err := o.Metrics[j].check(fmt.Sprintf("%s.metrics[%d]", where, j)); err != nil {
			return err
		}
	}
	return nil
}

var metricTypes = []string{"counter", "gauge", "histogram"}

func (m *MetricConfig) check(where string) error {
	switch {
	case m.Name == "":
		return configError(where+".name", "missing")
	case !validMetricName(m.Name):
		return configError(where+".name", "%q is not a valid metric name (letters, digits, '_' and ':', not starting with a digit)", m.Name)
	case m.Map == "":
		return configError(where+".map", "missing: name the BPF map to read")
	case !slices.Contains(metricTypes, m.Type):
		return configError(where+".type", "%q: expected counter, gauge or histogram", m.Type)
	case m.Histogram != nil && m.Type != "histogram":
		return configError(where+".histogram", "only for type histogram")
	}
	if m.Type == "histogram" {
		if m.Histogram == nil {
			m.Histogram = &HistogramConfig{}
		}
		if err := m.Histogram.check(where + ".histogram"); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for k := range m.Labels {
		l := &m.Labels[k]
		lw := fmt.Sprintf("%s.labels[%d]", where, k)
		if err := l.check(lw, m.Type == "histogram"); err != nil {
			return err
		}
		if l.Name != "" {
			if seen[l.Name] {
				return configError(lw+".name", "label %q is given twice", l.Name)
			}
			seen[l.Name] = true
		}
	}
	return nil
}

// Decoders by name; see LabelConfig.Decoder.
var decoderNames = []string{"number", "string", "hex", "ksym", "syscall", "errno", "ipv4", "ipv6", "ip", "cgroup", "static"}

func (l *LabelConfig) check(where string, histogram bool) error {
	if l.Name != "" {
		if err := checkLabelName(l.Name, histogram); err != nil {
			return configError(where+".name", "%v", err)
		}
	}
	if l.Decoder != "" && !slices.Contains(decoderNames, l.Decoder) {
		return configError(where+".decoder", "%q: expected one of %s", l.Decoder, strings.Join(decoderNames, ", "))
	}
	if l.Decoder == "static" && len(l.Values) == 0 {
		return configError(where+".values", "missing: the static decoder needs a table of values")
	}
	if l.Decoder != "static" && len(l.Values) > 0 {
		return configError(where+".values", "only for the static decoder (decoder: static)")
	}
	return nil
}

// checkLabelName refuses names Prometheus does not allow or reserves.
func checkLabelName(name string, histogram bool) error {
	switch {
	case !validLabelName(name):
		return fmt.Errorf("%q is not a valid label name (letters, digits and '_', not starting with a digit)", name)
	case strings.HasPrefix(name, "__"):
		return fmt.Errorf("%q: names starting with __ are reserved by Prometheus", name)
	case histogram && name == "le":
		return fmt.Errorf(`"le" is the bucket label of histograms; choose another name`)
	}
	return nil
}

var histogramKinds = []string{"log2", "linear", "exp", "fixed"}

// maxBuckets bounds a histogram's buckets: each is a series.
const maxBuckets = 4096

func (h *HistogramConfig) check(where string) error {
	if h.Kind == "" {
		h.Kind = "log2"
	}
	if h.Multiplier == 0 {
		h.Multiplier = 1
	}
	switch {
	case !slices.Contains(histogramKinds, h.Kind):
		return configError(where+".kind", "%q: expected log2, linear, exp or fixed", h.Kind)
	case h.Slots != "" && h.Bucket != "":
		return configError(where, "slots and bucket exclude each other: the buckets are either an array in the value or an index in the key")
	case h.Buckets < 0 || h.Buckets > maxBuckets:
		return configError(where+".buckets", "%d: expected 1 to %d", h.Buckets, maxBuckets)
	case !(h.Multiplier > 0) || math.IsInf(h.Multiplier, 0):
		return configError(where+".multiplier", "%v: must be a positive number", h.Multiplier)
	}
	switch h.Kind {
	case "linear":
		if h.Step <= 0 {
			return configError(where+".step", "%d: a linear histogram needs a positive step", h.Step)
		}
	case "exp":
		if h.Start == 0 {
			h.Start = 1
		}
		if h.Factor == 0 {
			h.Factor = 2
		}
		if !(h.Start > 0) || math.IsInf(h.Start, 0) {
			return configError(where+".start", "%v: must be a positive number", h.Start)
		}
		if !(h.Factor > 1) || math.IsInf(h.Factor, 0) {
			return configError(where+".factor", "%v: must be greater than 1", h.Factor)
		}
	case "fixed":
		if len(h.Bounds) == 0 {
			return configError(where+".bounds", "missing: a fixed histogram needs its bucket bounds")
		}
		if len(h.Bounds) > maxBuckets {
			return configError(where+".bounds", "%d bounds: at most %d", len(h.Bounds), maxBuckets)
		}
		for i, b := range h.Bounds {
			if math.IsNaN(b) || math.IsInf(b, 0) || i > 0 && b <= h.Bounds[i-1] {
				return configError(where+".bounds", "must be finite and increasing (bound %d is %v)", i, b)
			}
		}
	}
	if h.Kind != "linear" && (h.Min != 0 || h.Step != 0) {
		return configError(where, "min and step are for linear histograms")
	}
	if h.Kind != "exp" && (h.Start != 0 || h.Factor != 0) {
		return configError(where, "start and factor are for exp histograms")
	}
	if h.Kind != "fixed" && len(h.Bounds) > 0 {
		return configError(where, "bounds are for fixed histograms")
	}
	return nil
}

func (s *ScriptConfig) check(where string) error {
	switch {
	case s.Path == "" && s.Program == "":
		return configError(where, "give the script's path or its program")
	case s.Path != "" && s.Program != "":
		return configError(where, "path and program exclude each other")
	}
	if s.Name == "" {
		if s.Path != "" {
			s.Name = strings.TrimSuffix(filepath.Base(s.Path), ".bt")
		} else {
			s.Name = "script"
		}
	}
	for m, labels := range s.Labels {
		if !strings.HasPrefix(m, "@") {
			return configError(where+".labels", "%q: map names start with @", m)
		}
		for _, l := range labels {
			if err := checkLabelName(l, false); err != nil {
				return configError(where+".labels."+m, "%v", err)
			}
		}
	}
	return nil
}

// validMetricName reports whether s matches [a-zA-Z_:][a-zA-Z0-9_:]*.
func validMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// validLabelName reports whether s matches [a-zA-Z_][a-zA-Z0-9_]*.
func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
