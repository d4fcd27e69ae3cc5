package maps

import (
	"runtime"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// fixture is testdata/maps.bpf.o loaded, its program run runs times on
// CPU 0 and, when there is one, once on CPU 1.
type fixture struct {
	coll *ebpf.Collection
	ids  map[string]uint32
}

const fixturePath = "../../testdata/maps.bpf.o"

func loadFixture(t *testing.T, runs int) *fixture {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{coll: coll, ids: map[string]uint32{}}
	t.Cleanup(func() {
		f.coll.Close()
		// cilium/ebpf memory-maps .bss for the collection's variables and
		// unmaps it only from a GC cleanup, once nothing refers to the
		// collection; the kernel keeps the map until then.
		f.coll = nil
		runtime.GC()
	})
	for name, m := range coll.Maps {
		info, err := m.Info()
		if err != nil {
			t.Fatal(err)
		}
		id, _ := info.ID()
		f.ids[name] = uint32(id)
	}
	for range runs {
		f.run(t, 0)
	}
	if ncpu, _ := ebpf.PossibleCPU(); ncpu > 1 {
		f.run(t, 1)
	}
	return f
}

func (f *fixture) run(t *testing.T, cpu uint32) {
	t.Helper()
	_, err := f.coll.Programs["fill"].Run(&ebpf.RunOptions{
		Context: make([]byte, 8),
		Flags:   unix.BPF_F_TEST_RUN_ON_CPU,
		CPU:     cpu,
	})
	if err != nil {
		t.Fatalf("run fill on CPU %d: %v", cpu, err)
	}
}
