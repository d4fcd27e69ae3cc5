package metrics

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadExampleConfig(t *testing.T) {
	c, err := LoadConfig("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9435" || c.PrefixOrDefault() != "waggle" || !c.ProgramStats {
		t.Errorf("listen %q, prefix %q, program_stats %v", c.Listen, c.PrefixOrDefault(), c.ProgramStats)
	}
	o := c.Objects[0]
	if o.Path != filepath.Join("testdata", "metrics.bpf.o") {
		t.Errorf("object path %q: want it relative to the configuration's directory", o.Path)
	}
	if o.Set["targ_tgid"] != "0" {
		t.Errorf("set: %v", o.Set)
	}
	lat := o.Metrics[1]
	if lat.Histogram.Kind != "log2" || lat.Histogram.Multiplier != 1e-6 {
		t.Errorf("latency histogram %+v", lat.Histogram)
	}
	if o.Metrics[5].Labels == nil || len(o.Metrics[5].Labels) != 0 {
		t.Errorf("labels: [] must be an empty list, not left out: %#v", o.Metrics[5].Labels)
	}
	if s := c.Scripts[0]; s.Name != "opens" || s.Labels["@opens"][0] != "command" {
		t.Errorf("script %+v", s)
	}
	// The example names only maps and members the fixture has.
	if err := CheckObject(o.Name, o.Metrics, loadSpec(t)); err != nil {
		t.Errorf("example against the fixture: %v", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := ParseConfig([]byte(`
prefix: ""
objects:
  - path: dir/biolatency.bpf.o
    metrics:
      - {name: a, type: histogram, map: m}
      - {name: b, type: histogram, map: m, histogram: {kind: exp}}
scripts:
  - path: x/opens.bt
  - program: 'BEGIN { @x = 1 }'
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.PrefixOrDefault() != "" {
		t.Errorf("prefix %q, want none", c.PrefixOrDefault())
	}
	o := c.Objects[0]
	if o.Name != "biolatency" {
		t.Errorf("object name %q", o.Name)
	}
	if h := o.Metrics[0].Histogram; h.Kind != "log2" || h.Multiplier != 1 {
		t.Errorf("default histogram %+v", h)
	}
	if h := o.Metrics[1].Histogram; h.Start != 1 || h.Factor != 2 {
		t.Errorf("default exp histogram %+v", h)
	}
	if c.Scripts[0].Name != "opens" || c.Scripts[1].Name != "script" {
		t.Errorf("script names %q, %q", c.Scripts[0].Name, c.Scripts[1].Name)
	}
}

func TestConfigErrors(t *testing.T) {
	obj := func(metric string) string {
		return "objects:\n  - path: a.o\n    metrics:\n      - " + metric + "\n"
	}
	for _, c := range []struct{ yaml, want string }{
		{"", "the file is empty"},
		{"listen: [1", "did not find expected"},
		{"objects: []\n", "nothing to export"},
		{"objectz: []\n", "field objectz not found"},
		{"prefix: 1abc\nscripts: [{program: x}]\n", `prefix: "1abc" is not a valid start of a metric name`},
		{"objects:\n  - metrics: [{name: a, type: gauge, map: m}]\n", "objects[0].path: missing"},
		{"objects:\n  - path: a.o\n", "objects[0].metrics: missing"},
		{obj("{name: a-b, type: gauge, map: m}"), `objects[0].metrics[0].name: "a-b" is not a valid metric name`},
		{obj("{name: a, type: summary, map: m}"), `type: "summary": expected counter, gauge or histogram`},
		{obj("{name: a, type: gauge}"), "objects[0].metrics[0].map: missing"},
		{obj("{name: a, type: gauge, map: m, histogram: {}}"), "histogram: only for type histogram"},
		{obj("{name: a, type: gauge, map: m, labels: [{decoder: ksyms}]}"), `labels[0].decoder: "ksyms": expected one of number,`},
		{obj("{name: a, type: gauge, map: m, labels: [{decoder: static}]}"), "the static decoder needs a table"},
		{obj("{name: a, type: gauge, map: m, labels: [{values: {1: x}}]}"), "only for the static decoder"},
		{obj("{name: a, type: histogram, map: m, labels: [{name: le}]}"), `"le" is the bucket label of histograms`},
		{obj("{name: a, type: gauge, map: m, labels: [{name: __x}]}"), "reserved by Prometheus"},
		{obj("{name: a, type: gauge, map: m, labels: [{name: x}, {name: x, member: y}]}"), `label "x" is given twice`},
		{obj("{name: a, type: histogram, map: m, histogram: {kind: log10}}"), `kind: "log10": expected log2, linear, exp or fixed`},
		{obj("{name: a, type: histogram, map: m, histogram: {kind: linear}}"), "a linear histogram needs a positive step"},
		{obj("{name: a, type: histogram, map: m, histogram: {kind: exp, factor: 1}}"), "factor: 1: must be greater than 1"},
		{obj("{name: a, type: histogram, map: m, histogram: {kind: fixed, bounds: [1, 1]}}"), "must be finite and increasing (bound 1 is 1)"},
		{obj("{name: a, type: histogram, map: m, histogram: {kind: fixed}}"), "a fixed histogram needs its bucket bounds"},
		{obj("{name: a, type: histogram, map: m, histogram: {step: 3}}"), "min and step are for linear histograms"},
		{obj("{name: a, type: histogram, map: m, histogram: {buckets: 100000}}"), "buckets: 100000: expected 1 to 4096"},
		{obj("{name: a, type: histogram, map: m, histogram: {multiplier: -1}}"), "multiplier: -1: must be a positive number"},
		{obj("{name: a, type: histogram, map: m, histogram: {slots: s, bucket: b}}"), "slots and bucket exclude each other"},
		{obj("{name: a, type: histogram, map: m}\n      - {name: a_count, type: gauge, map: m}"), "a_count would export a_count, as objects[0].metrics[0] does"},
		{"objects:\n  - {path: a.o, metrics: [{name: a, type: gauge, map: m}]}\n  - {path: b/a.o, metrics: [{name: b, type: gauge, map: m}]}\n", `objects[1].name: "a" is also the name of objects[0]`},
		{"scripts: [{}]\n", "scripts[0]: give the script's path or its program"},
		{"scripts: [{path: a.bt, program: x}]\n", "path and program exclude each other"},
		{"scripts: [{program: x, labels: {m: [a]}}]\n", `"m": map names start with @`},
		{"scripts: [{program: x, labels: {'@m': ['a b']}}]\n", `"a b" is not a valid label name`},
		{"scripts: [{program: x}]\n---\nscripts: [{program: y}]\n", "more than one YAML document"},
	} {
		_, err := ParseConfig([]byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error containing %q", c.yaml, err, c.want)
			continue
		}
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%q: %v does not wrap ErrConfig", c.yaml, err)
		}
	}
}

func TestLoadConfigErrors(t *testing.T) {
	if _, err := LoadConfig("testdata/none.yaml"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	os.WriteFile(big, make([]byte, maxConfigSize+1), 0o644)
	if _, err := LoadConfig(big); err == nil || !strings.Contains(err.Error(), "is it the right file?") {
		t.Errorf("huge file: %v", err)
	}
}

// FuzzParseConfig: any input parses or is refused with ErrConfig, never a
// panic, and what parses passes its own checks again.
func FuzzParseConfig(f *testing.F) {
	if data, err := os.ReadFile("testdata/example.yaml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("scripts: [{program: 'BEGIN { @x = count() }'}]\n"))
	f.Add([]byte("objects:\n  - path: a.o\n    metrics: [{name: h, type: histogram, map: m, histogram: {kind: fixed, bounds: [1, 2.5, 1e9]}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v does not wrap ErrConfig", err)
			}
			return
		}
		if err := c.check(); err != nil {
			t.Fatalf("a parsed configuration fails its checks: %v", err)
		}
	})
}
