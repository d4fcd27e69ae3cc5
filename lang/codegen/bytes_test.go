package codegen

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/wagglebpf/waggle/internal/kerneltest"
	"github.com/wagglebpf/waggle/lang/parser"
	"github.com/wagglebpf/waggle/lang/sema"
)

// The join() record is built in a per-CPU map and sent from there, through
// the ring buffer or, on kernels without one, the perf buffer; both forms
// must load.
func TestJoinLoads(t *testing.T) {
	const src = `BEGIN { join(curtask); join(uptr(curtask), ", "); $b = buf(curtask, 16); printf("%r %s\n", $b, ntop(1)); exit(); }`
	kerneltest.Require(t)
	for _, perf := range []bool{false, true} {
		prog, err := parser.Parse("test.bt", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		info, err := sema.Check(prog, sema.Options{NCPUs: 2})
		if err != nil {
			t.Fatal(err)
		}
		p, err := Compile(info, Options{NCPUs: 2, PerfEvents: perf})
		if err != nil {
			t.Fatal(err)
		}
		m := p.Spec.Maps[JoinMap]
		if m == nil || m.Type != ebpf.PerCPUArray || m.ValueSize != joinRecordSize {
			t.Fatalf("join map %+v", m)
		}
		if len(p.Formats) < 2 || p.Formats[0].Text != " " || p.Formats[1].Text != ", " {
			t.Errorf("join separators %+v", p.Formats)
		}
		coll, err := ebpf.NewCollection(p.Spec)
		if err != nil {
			t.Fatalf("perf events %v: %v", perf, err)
		}
		coll.Close()
	}
}
