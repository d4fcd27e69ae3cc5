package metrics

import (
	"net/http/httptest"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wagglebpf/waggle/internal/kerneltest"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
)

const benchSeries = 10000

// serveBench times whole GET /metrics requests: reading the maps,
// building the metrics, gathering and writing the text format.
func serveBench(b *testing.B, src Source) {
	e := New(Options{Prefix: "bench"})
	if err := e.Add(src); err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(e)
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
	req := httptest.NewRequest("GET", "/metrics", nil)
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("%d: %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(benchSeries, "series")
}

// BenchmarkScrape10k serves 10,000 series: an object's per-CPU hash of
// counters keyed by a struct of two members (two labels), a script's
// count() map keyed by (int, string), and log2 histograms of 150 keys
// (150 x 67 buckets).
func BenchmarkScrape10k(b *testing.B) {
	kerneltest.Require(b)
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		b.Fatal(err)
	}
	key := &btf.Struct{Name: "k", Size: 8, Members: []btf.Member{{Name: "pid", Type: u32T}, {Name: "id", Type: u32T, Offset: 32}}}

	b.Run("object", func(b *testing.B) {
		ms := &ebpf.MapSpec{Name: "big", Type: ebpf.PerCPUHash, KeySize: 8, ValueSize: 8, MaxEntries: benchSeries, Key: key, Value: u64T}
		m, err := ebpf.NewMap(ms)
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		vals := make([][]byte, ncpu)
		for i := range vals {
			vals[i] = u64(uint64(i + 1))
		}
		for i := range benchSeries {
			if err := m.Put(append(u32(uint32(i/100)), u32(uint32(i%100))...), vals); err != nil {
				b.Fatal(err)
			}
		}
		spec := &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{"big": ms}}
		src, err := NewObjectSource("bench", []MetricConfig{{Name: "calls_total", Type: "counter", Map: "big",
			Labels: []LabelConfig{{Member: "pid"}, {Member: "id", Decoder: "syscall"}}}}, spec, map[string]*ebpf.Map{"big": m}, nil)
		if err != nil {
			b.Fatal(err)
		}
		serveBench(b, src)
	})

	b.Run("script", func(b *testing.B) {
		keyT := &ast.Type{Kind: ast.KindTuple, Elems: []*ast.Type{ast.Int64, {Kind: ast.KindString, Size: 16}}}
		m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "count", Type: ebpf.PerCPUHash, KeySize: uint32(layout.Size(keyT)), ValueSize: 8, MaxEntries: benchSeries})
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		vals := make([][]byte, ncpu)
		for i := range vals {
			vals[i] = u64(3)
		}
		for i := range benchSeries {
			k := make([]byte, layout.Size(keyT))
			copy(k, u64(uint64(i)))
			copy(k[8:], "command")
			if err := m.Put(k, vals); err != nil {
				b.Fatal(err)
			}
		}
		src, err := NewScriptSource("bench", []ScriptMap{{Name: "@c", Key: keyT, Value: &ast.Type{Kind: ast.KindCount, Size: 8},
			Labels: []string{"pid", "comm"}, Map: m}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		serveBench(b, src)
	})

	b.Run("hist", func(b *testing.B) {
		const keys = 150
		m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "hist", Type: ebpf.PerCPUHash, KeySize: 16, ValueSize: 8, MaxEntries: keys * 20})
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		vals := make([][]byte, ncpu)
		for i := range vals {
			vals[i] = u64(1)
		}
		// Twenty non-empty buckets a key, as a latency histogram has.
		for k := range keys {
			for bucket := 5; bucket < 25; bucket++ {
				if err := m.Put(append(u64(uint64(k)), u64(uint64(bucket))...), vals); err != nil {
					b.Fatal(err)
				}
			}
		}
		src, err := NewScriptSource("bench", []ScriptMap{{Name: "@lat", Key: ast.Int64, Value: &ast.Type{Kind: ast.KindHist},
			Labels: []string{"pid"}, Map: m}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		serveBench(b, src)
	})
}
