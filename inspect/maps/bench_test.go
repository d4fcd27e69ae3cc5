package maps

import (
	"io"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/wagglebpf/waggle/internal/kerneltest"
)

// BenchmarkDump10k reads and prints a hash map of 10,000 u32 -> u64
// entries, found by ID and decoded through its BTF, as `waggle map dump`
// does: text (btfprint's bpftrace form, sorted by value) and JSON.
func BenchmarkDump10k(b *testing.B) {
	kerneltest.Require(b)
	const n = 10000
	m, err := ebpf.NewMap(&ebpf.MapSpec{
		Name: "bench10k", Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: n,
		Key: &btf.Int{Name: "__u32", Size: 4}, Value: &btf.Int{Name: "__u64", Size: 8},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	for i := range uint32(n) {
		if err := m.Put(i, uint64(i)*7); err != nil {
			b.Fatal(err)
		}
	}
	id, err := mapID(m)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opt  DumpOptions
	}{{"text", DumpOptions{}}, {"json", DumpOptions{JSON: true}}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				h, err := OpenHandle(Ref{ID: id})
				if err != nil {
					b.Fatal(err)
				}
				contents, err := h.Dump()
				if err != nil {
					b.Fatal(err)
				}
				if len(contents.Entries) != n {
					b.Fatalf("%d entries", len(contents.Entries))
				}
				if err := contents.Write(io.Discard, c.opt); err != nil {
					b.Fatal(err)
				}
				h.Close()
			}
		})
	}
}
