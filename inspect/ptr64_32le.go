//go:build 386 || arm || mipsle

package inspect

import "unsafe"

// ptr64 is a user pointer in a bpf_attr: 64 bits wide on every
// architecture, holding an unsafe.Pointer so the collector sees it.
type ptr64 struct {
	p unsafe.Pointer
	_ uint32
}
