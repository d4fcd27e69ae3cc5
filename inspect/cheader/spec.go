package cheader

import (
	"fmt"

	"github.com/cilium/ebpf/btf"
)

// FromTypes encodes cilium/ebpf types, and every type they refer to, so
// that they can be rendered. The types given (void aside) get IDs 1, 2,
// ... in order, so Options.Roots can name them.
func FromTypes(types ...btf.Type) (*BTF, error) {
	kept := make([]btf.Type, 0, len(types))
	for _, t := range types {
		if _, void := t.(*btf.Void); !void && t != nil {
			kept = append(kept, t)
		}
	}
	b, err := btf.NewBuilder(kept, nil)
	if err != nil {
		return nil, fmt.Errorf("encode types: %w", err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		return nil, fmt.Errorf("encode types: %w", err)
	}
	return Parse(raw, nil)
}

// FromSpec encodes every type of a cilium/ebpf Spec (for a split Spec, its
// own types and the base types they need). Type IDs are not preserved.
func FromSpec(spec *btf.Spec) (*BTF, error) {
	var types []btf.Type
	for t, err := range spec.All() {
		if err != nil {
			return nil, fmt.Errorf("read BTF spec: %w", err)
		}
		types = append(types, t)
	}
	return FromTypes(types...)
}
