package verifier

import (
	"fmt"

	"github.com/cilium/ebpf"
)

// MapInfoOf returns what the verifier needs to know about a map.
func MapInfoOf(ms *ebpf.MapSpec) MapInfo {
	return MapInfo{Type: ms.Type, KeySize: ms.KeySize, ValueSize: ms.ValueSize, MaxEntries: ms.MaxEntries}
}

// VerifySpec verifies one program of a collection as the kernel would see
// it: its type from the spec, map references resolved against coll.Maps.
func VerifySpec(coll *ebpf.CollectionSpec, prog *ebpf.ProgramSpec, opts Options) (*Report, error) {
	if prog == nil {
		return nil, fmt.Errorf("no program")
	}
	maps := map[string]MapInfo{}
	if coll != nil {
		for name, ms := range coll.Maps {
			maps[name] = MapInfoOf(ms)
		}
	}
	if opts.AttachType == 0 {
		opts.AttachType = prog.AttachType
	}
	return Verify(prog.Instructions, prog.Type, maps, opts)
}
