package attach

import (
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"
)

func TestZZScratch(t *testing.T) {
	files, _ := filepath.Glob("../testdata/*.bpf.o")
	for _, f := range files {
		spec, err := ebpf.LoadCollectionSpec(f)
		if err != nil {
			t.Logf("%s: %v", f, err)
			continue
		}
		for n, p := range spec.Programs {
			t.Logf("%s %s sec=%q type=%v attach=%v to=%q", filepath.Base(f), n, p.SectionName, p.Type, p.AttachType, p.AttachTo)
		}
	}
}
