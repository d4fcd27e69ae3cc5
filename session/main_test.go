package session

import (
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"
)

// fixture is the path of a compiled BPF object in the repository's testdata.
func fixture(name string) string {
	return filepath.Join("..", "testdata", name)
}

// loadSpec reads a fixture with cilium/ebpf directly, so that tests of
// later steps do not depend on LoadObject.
func loadSpec(t testing.TB, name string) *ebpf.CollectionSpec {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(fixture(name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return spec
}
