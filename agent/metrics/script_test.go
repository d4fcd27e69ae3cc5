package metrics

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/wagglebpf/waggle/internal/kerneltest"
	"github.com/wagglebpf/waggle/lang/codegen"
	"github.com/wagglebpf/waggle/lang/driver"
	"github.com/wagglebpf/waggle/lang/sema"
	"github.com/wagglebpf/waggle/session"
)

// runScript compiles src, loads it and runs its BEGIN probe once, which
// fills the maps through the code the compiler generated.
func runScript(t *testing.T, src string) (*codegen.Program, *session.Session) {
	t.Helper()
	kerneltest.Require(t)
	p, err := driver.Compile("test.bt", []byte(src), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Relocate(nil); err != nil {
		t.Fatal(err)
	}
	s, err := session.Open(p.Spec, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, pr := range p.Probes {
		if pr.Instance.Kind != sema.ProbeBegin {
			continue
		}
		if _, err := s.Collection.Programs[pr.Program].Run(&ebpf.RunOptions{Context: make([]byte, 8)}); err != nil {
			t.Fatal(err)
		}
	}
	return p, s
}

func scriptExporter(t *testing.T, p *codegen.Program, s *session.Session) *Exporter {
	t.Helper()
	maps, err := ScriptMaps(p, s.Collection.Maps)
	if err != nil {
		t.Fatal(err)
	}
	sym := &Symbols{}
	src, err := NewScriptSource("test", maps, sym.Symbolizer(s.Collection.Maps[codegen.StacksMap]))
	if err != nil {
		t.Fatal(err)
	}
	e := New(Options{Prefix: "waggle"})
	if err := e.Add(src); err != nil {
		t.Fatal(err)
	}
	return e
}

// hist() and lhist() values, fed through the generated code.
var (
	histValues  = []int64{-5, -1, 0, 1, 1, 2, 3, 4, 7, 8, 1000, 1023, 1024, 1 << 40, math.MaxInt64}
	lhistValues = []int64{-3, 0, 5, 9, 10, 55, 99, 100, 101, 1000}
)

func TestScriptMetrics(t *testing.T) {
	var b strings.Builder
	b.WriteString(`BEGIN {
	@opens["bash"] = count(); @opens["bash"] = count(); @opens["cat"] = count();
	$fd = 3;
	@bytes[$fd, "x"] = sum(100); @bytes[$fd, "x"] = sum(-30); @bytes[4, "y"] = sum(7);
	@st = stats(10); @st = stats(20); @st = stats(-6);
	@mn[1] = min(5); @mn[1] = min(-3); @mx = max(9); @mx = max(2);
	@av = avg(4); @av = avg(9);
	@name[pid] = comm;
	@v = 42;
	@ = count();
`)
	for _, v := range histValues {
		b.WriteString("\t@lat[\"a\"] = hist(" + itoa(v) + ");\n")
	}
	for _, v := range lhistValues {
		b.WriteString("\t@lin = lhist(" + itoa(v) + ", 0, 100, 10);\n")
	}
	b.WriteString("}\n")
	p, s := runScript(t, b.String())
	fams := scrape(t, scriptExporter(t, p, s))

	check := func(name, labels string, want float64) {
		t.Helper()
		m := find(t, fams, name, labels)
		if got := value(m); got != want {
			t.Errorf("%s{%s} = %v, want %v", name, labels, got, want)
		}
	}
	check("waggle_opens", "key0=bash", 2)
	check("waggle_opens", "key0=cat", 1)
	if fams["waggle_opens"].GetType().String() != "COUNTER" {
		t.Errorf("count() is a %s, want a counter", fams["waggle_opens"].GetType())
	}
	check("waggle_bytes", "fd=3,key1=x", 70)
	check("waggle_bytes", "fd=4,key1=y", 7)
	check("waggle_mn", "key0=1", -3)
	check("waggle_mx", "", 9)
	check("waggle_av", "", 6)
	check("waggle_v", "", 42)
	check("waggle_map", "", 1)
	if fams["waggle_mx"].GetType().String() != "GAUGE" {
		t.Errorf("max() is a %s, want a gauge", fams["waggle_mx"].GetType())
	}
	st := find(t, fams, "waggle_st", "").GetSummary()
	if st.GetSampleCount() != 3 || st.GetSampleSum() != 24 || len(st.GetQuantile()) != 0 {
		t.Errorf("stats: %v, want count 3, sum 24, no quantiles", st)
	}
	names := fams["waggle_name"].GetMetric()
	if len(names) != 1 || value(names[0]) != 1 || !strings.Contains(labelsOf(names[0]), "value=") || !strings.Contains(labelsOf(names[0]), "pid=") {
		t.Errorf("@name[pid] = comm: %v, want one series labelled by pid and value", names)
	}

	// Prometheus buckets hold the values up to their bound: every bound
	// counts exactly the values fed that are not above it.
	lat := find(t, fams, "waggle_lat", "key0=a")
	vals := make([]float64, len(histValues))
	for i, v := range histValues {
		vals[i] = float64(v)
	}
	checkHistogram(t, lat, vals)
	if n := len(lat.GetHistogram().GetBucket()); n != 67 {
		t.Errorf("hist has %d buckets, want bpftrace's 66 and +Inf", n)
	}
	lin := find(t, fams, "waggle_lin", "")
	vals = vals[:0]
	for _, v := range lhistValues {
		vals = append(vals, float64(v))
	}
	checkHistogram(t, lin, vals)
	var bounds []float64
	for _, bk := range lin.GetHistogram().GetBucket() {
		bounds = append(bounds, bk.GetUpperBound())
	}
	want := []float64{-1, 9, 19, 29, 39, 49, 59, 69, 79, 89, 99, math.Inf(1)}
	if !slices.Equal(bounds, want) {
		t.Errorf("lhist(0, 100, 10) bounds %v, want %v", bounds, want)
	}
	if got := value(find(t, fams, "waggle_exporter_maps", "")); got != 11 {
		t.Errorf("exporter_maps %v, want 11", got)
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func TestKeyLabels(t *testing.T) {
	p, err := driver.Compile("labels.bt", []byte(`
interval:s:1 {
	$fd = 3;
	@opens[comm] = count();
	@bytes[pid, $fd] = sum(1);
	@a[cpu] = count(); @a[tid] = count();
	@lit[1 + 2, comm] = count();
	@k[kstack] = count();
	@sym[ksym(0)] = count();
	@t[(uid, gid)] = count();
	@s[str(0)] = count();
	@h[$fd] = hist(1);
	@none = count();
}`), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := KeyLabels(p)
	for m, want := range map[string][]string{
		"@opens": {"comm"},
		"@bytes": {"pid", "fd"},
		"@a":     {""}, // cpu in one place, tid in another
		"@lit":   {"", "comm"},
		"@k":     {"kstack"},
		"@sym":   {"ksym"},
		"@t":     {"uid", "gid"},
		"@s":     {"str"},
		"@h":     {"fd"},
	} {
		if !slices.Equal(got[m], want) {
			t.Errorf("%s: %q, want %q", m, got[m], want)
		}
	}
	if _, ok := got["@none"]; ok {
		t.Errorf("@none has no key, but labels %q", got["@none"])
	}
}

// Maps whose exported names collide are refused.
func TestScriptNameClash(t *testing.T) {
	p, err := driver.Compile("clash.bt", []byte(`BEGIN { @x = hist(1); @x_count = count(); }`), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var maps []ScriptMap
	for _, m := range p.Maps {
		maps = append(maps, ScriptMap{Name: m.Name, Key: m.Key, Value: m.Value, Map: &ebpf.Map{}})
	}
	if _, err := NewScriptSource("clash", maps, nil); err == nil || !strings.Contains(err.Error(), "maps @x and @x_count would both be exported as x_count") {
		t.Errorf("%v", err)
	}
}
