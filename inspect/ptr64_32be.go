//go:build mips

package inspect

import "unsafe"

// ptr64 is a user pointer in a bpf_attr: 64 bits wide on every
// architecture, holding an unsafe.Pointer so the collector sees it.
type ptr64 struct {
	_ uint32
	p unsafe.Pointer
}
