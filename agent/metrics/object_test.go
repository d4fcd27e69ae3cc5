package metrics

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/wagglebpf/waggle/btfprint"
	"github.com/wagglebpf/waggle/internal/kerneltest"
	"github.com/wagglebpf/waggle/internal/symtab"
)

const fixture = "testdata/metrics.bpf.o"

func loadSpec(t *testing.T) *ebpf.CollectionSpec {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(fixture)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// loadFixture loads the test object's maps (its program is not needed).
func loadFixture(t *testing.T) (*ebpf.CollectionSpec, *ebpf.Collection) {
	t.Helper()
	kerneltest.Require(t)
	spec := loadSpec(t)
	load := spec.Copy()
	load.Programs, load.Variables = nil, nil
	for name := range load.Maps {
		if strings.HasPrefix(name, ".") {
			delete(load.Maps, name) // .rodata: for the program alone
		}
	}
	coll, err := ebpf.NewCollection(load)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { coll.Close() })
	return spec, coll
}

var ne = binary.NativeEndian

func u32(v uint32) []byte { return ne.AppendUint32(nil, v) }
func u64(v uint64) []byte { return ne.AppendUint64(nil, v) }

func put(t *testing.T, m *ebpf.Map, key, val []byte) {
	t.Helper()
	if err := m.Put(key, val); err != nil {
		t.Fatalf("put %x: %v", key, err)
	}
}

// opKey is struct op_key: enum op, char comm[16].
func opKey(op uint32, comm string) []byte {
	b := u32(op)
	c := make([]byte, 16)
	copy(c, comm)
	return append(b, c...)
}

// hist is struct hist: 27 u32 slots.
func hist(slots map[int]uint32) []byte {
	b := make([]byte, 27*4)
	for i, v := range slots {
		ne.PutUint32(b[i*4:], v)
	}
	return b
}

func perCPU(t *testing.T, f func(cpu int) []byte) [][]byte {
	t.Helper()
	n, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func TestObjectMetrics(t *testing.T) {
	spec, coll := loadFixture(t)
	maps := coll.Maps

	// Log2 slots keyed by an enum and a string: slot 0 holds 0 and 1,
	// slot k [2^k, 2^(k+1)).
	put(t, maps["latency"], opKey(1, "cat"), hist(map[int]uint32{0: 2, 3: 5, 26: 1}))
	put(t, maps["latency"], opKey(0, "cat"), hist(map[int]uint32{1: 4}))
	put(t, maps["latency"], opKey(0, "dd"), hist(map[int]uint32{2: 1}))
	// ebpf_exporter's layout: the bucket index in the key.
	for _, e := range []struct{ op, bucket uint32 }{{0, 0}, {0, 2}, {0, 9}, {1, 1}} {
		put(t, maps["sizes"], append(u32(e.op), u32(e.bucket)...), u64(uint64(e.bucket+3)))
	}
	// Per-CPU counts by errno, as the kernel returns them (negative) and not.
	ncpu := 0
	errs := perCPU(t, func(cpu int) []byte { ncpu++; return u64(uint64(cpu + 1)) })
	if err := maps["errors"].Put(u32(uint32(0xfffffffe)), errs); err != nil {
		t.Fatal(err)
	}
	if err := maps["errors"].Put(u32(13), perCPU(t, func(int) []byte { return u64(2) })); err != nil {
		t.Fatal(err)
	}
	// Flows: an IPv4 address as the kernel keeps it (network order), an
	// IPv6 one, a port; the value a struct of two numbers.
	flow := append([]byte{10, 0, 0, 1}, []byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}...)
	flow = append(flow, 0xbb, 0x01, 0, 0) // port 443 in host order, padding
	put(t, maps["flows"], flow, append(u64(3), u64(1500)...))
	// A kernel function's address, and one inside it: one label.
	k, err := symtab.LoadKernel()
	if err != nil {
		t.Fatal(err)
	}
	addr, err := k.Address("vfs_read")
	if err != nil {
		t.Fatal(err)
	}
	put(t, maps["funcs"], u64(addr), u64(7))
	put(t, maps["funcs"], u64(addr+1), u64(3))
	// This process's cgroup.
	cgPath, cgID := ownCgroup(t)
	put(t, maps["cgroups"], u64(cgID), u64(11))
	// An array: unused (zero) slots are left out.
	put(t, maps["totals"], u32(0), u64(5))
	put(t, maps["totals"], u32(3), u64(9))

	cfg, err := ParseConfig([]byte(`
objects:
  - path: metrics.bpf.o
    metrics:
      - {name: latency_seconds, type: histogram, map: latency, histogram: {multiplier: 1e-6}}
      - name: latency_by_comm
        type: histogram
        map: latency
        labels: [{member: comm, name: command}]
      - name: sizes_bytes
        type: histogram
        map: sizes
        labels: [{member: op, decoder: static, values: {0: read, 1: write}}]
        histogram: {bucket: bucket, kind: linear, step: 10, buckets: 4}
      - {name: errors_total, type: counter, map: errors, labels: [{name: errno, decoder: errno}]}
      - name: flow_packets_total
        type: counter
        map: flows
        value: packets
        labels:
          - {member: saddr, decoder: ipv4}
          - {member: daddr, decoder: ip}
          - {member: port}
      - {name: flow_bytes_total, type: counter, map: flows, value: bytes, labels: []}
      - {name: func_calls_total, type: counter, map: funcs, labels: [{name: function, decoder: ksym}]}
      - {name: cgroup_events_total, type: counter, map: cgroups, labels: [{name: cgroup, decoder: cgroup}]}
      - {name: totals, type: gauge, map: totals}
`))
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewObjectSource("metrics", cfg.Objects[0].Metrics, spec, maps, &Symbols{})
	if err != nil {
		t.Fatal(err)
	}
	e := New(Options{Prefix: "test"})
	if err := e.Add(src); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, e)

	// 2 values of 0 or 1, 5 in [8, 16), 1 in [2^26, 2^27), in microseconds.
	lat := find(t, fams, "test_latency_seconds", "comm=cat,op=OP_WRITE")
	checkHistogram(t, lat, []float64{0.5e-6, 0.5e-6, 10e-6, 10e-6, 10e-6, 10e-6, 10e-6, 100})
	if n := len(lat.GetHistogram().GetBucket()); n != 28 {
		t.Errorf("latency has %d buckets, want the 27 slots and +Inf", n)
	}
	if s := lat.GetHistogram().GetSampleSum(); s == s {
		t.Errorf("sum %v: slots keep no sum, want NaN", s)
	}
	checkHistogram(t, find(t, fams, "test_latency_seconds", "comm=cat,op=OP_READ"), []float64{3e-6, 3e-6, 3e-6, 2.5e-6})
	// Without op among the labels, the two ops of cat add up.
	checkHistogram(t, find(t, fams, "test_latency_by_comm", "command=cat"), []float64{1, 1, 15, 15, 15, 15, 15, 1<<27 - 1, 3, 3, 3, 3})
	checkHistogram(t, find(t, fams, "test_latency_by_comm", "command=dd"), []float64{7})

	// Linear buckets of 10: index 0 is [0, 10), 2 is [20, 30); 9 is past
	// the 4 buckets asked for and counts only in +Inf.
	sizes := find(t, fams, "test_sizes_bytes", "op=read")
	checkHistogram(t, sizes, []float64{9, 9, 9, 29, 29, 29, 29, 29, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9})
	if got := buckets(sizes); len(got) != 5 || got[39] != 8 {
		t.Errorf("sizes buckets %v, want 4 and +Inf, ending at le=39 with 8", got)
	}
	checkHistogram(t, find(t, fams, "test_sizes_bytes", "op=write"), []float64{19, 19, 19, 19})

	if got, want := value(find(t, fams, "test_errors_total", "errno=ENOENT")), float64(ncpu*(ncpu+1)/2); got != want {
		t.Errorf("ENOENT %v, want %v (per-CPU values summed)", got, want)
	}
	if got := value(find(t, fams, "test_errors_total", "errno=EACCES")); got != float64(2*ncpu) {
		t.Errorf("EACCES %v, want %v", got, 2*ncpu)
	}
	port := strconv.Itoa(int(ne.Uint16([]byte{0xbb, 0x01})))
	if got := value(find(t, fams, "test_flow_packets_total", "daddr=2001:db8::1,port="+port+",saddr=10.0.0.1")); got != 3 {
		t.Errorf("packets %v, want 3", got)
	}
	if got := value(find(t, fams, "test_flow_bytes_total", "")); got != 1500 {
		t.Errorf("bytes %v, want 1500", got)
	}
	if got := value(find(t, fams, "test_func_calls_total", "function=vfs_read")); got != 10 {
		t.Errorf("vfs_read %v, want 10 (two addresses in one function add up)", got)
	}
	if got := value(find(t, fams, "test_cgroup_events_total", "cgroup="+cgPath)); got != 11 {
		t.Errorf("cgroup %s: %v, want 11", cgPath, got)
	}
	if got := value(find(t, fams, "test_totals", "key=3")); got != 9 {
		t.Errorf("totals[3] %v, want 9", got)
	}
	if n := len(fams["test_totals"].GetMetric()); n != 2 {
		t.Errorf("totals has %d series, want 2 (zero slots left out)", n)
	}
	if got := value(find(t, fams, "test_exporter_maps", "")); got != 9 {
		t.Errorf("exporter_maps %v, want 9", got)
	}
	if got := value(find(t, fams, "test_exporter_scrape_errors_total", "source=metrics")); got != 0 {
		t.Errorf("scrape errors %v", got)
	}
}

// ownCgroup is this process's cgroup v2 path and id.
func ownCgroup(t *testing.T) (string, uint64) {
	t.Helper()
	cg, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	root := ""
	for _, l := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(l); len(f) > 8 && slices.Contains(f, "cgroup2") {
			root = f[4]
		}
	}
	for _, l := range strings.Split(string(cg), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok && root != "" {
			var st syscall.Stat_t
			if err := syscall.Stat(filepath.Join(root, p), &st); err != nil {
				t.Fatal(err)
			}
			return p, st.Ino
		}
	}
	t.Skip("not in a cgroup v2 hierarchy")
	return "", 0
}

// FuzzObjectEntries decodes arbitrary keys and values through every
// metric of the example configuration, bound to the fixture's BTF: a
// malformed entry is an error, never a panic.
func FuzzObjectEntries(f *testing.F) {
	cfg, err := LoadConfig("testdata/example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	spec, err := ebpf.LoadCollectionSpec(fixture)
	if err != nil {
		f.Fatal(err)
	}
	src, err := newObjectSource("demo", cfg.Objects[0].Metrics, spec, nil, &Symbols{CgroupRoot: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(1), opKey(1, "cat"), hist(map[int]uint32{0: 2, 26: 1}))
	f.Add(uint8(2), append(u32(0), u32(3)...), u64(9))
	f.Add(uint8(2), append(u32(0), u32(1<<31)...), u64(1<<63))
	f.Add(uint8(3), u32(0xfffffffe), u64(1))
	f.Add(uint8(4), make([]byte, 24), append(u64(3), u64(1500)...))
	f.Fuzz(func(t *testing.T, which uint8, key, val []byte) {
		om := src.metrics[int(which)%len(src.metrics)]
		rows, err := om.aggregate([]btfprint.Entry{{Key: key, Values: [][]byte{val}}, {Key: key, Values: [][]byte{val, val}}})
		if err != nil || om.cfg.Type != "histogram" {
			return
		}
		bounds := om.bounds(rows)
		for _, r := range rows {
			if buckets, total := r.cumulative(bounds); len(buckets) > len(bounds) || total < r.overflow {
				t.Fatalf("buckets %v, total %d", buckets, total)
			}
		}
	})
}
