//go:build arm64 && linux

package jit

import (
	"unsafe"

	"github.com/wagglebpf/waggle/vm/internal/jitabi"
)

// enterARM64 is the arm64 trampoline (enter_arm64.s): it calls the entry
// sequence at code with x0 = st and x1 = resume, and returns when native
// code returns to it.
//
//go:noescape
func enterARM64(st *jitabi.State, code, resume uintptr)

var _ = setEnter(enterARM64)

// syncICacheARM64 makes code written to [start, end) visible to
// instruction fetch (enter_arm64.s). Linux already does this when a page
// that was written is first mapped executable (mapExec's mprotect), so it
// is not needed on the path that loads code; it is here for executable
// memory that is written some other way, and tested.
func syncICacheARM64(start, end uintptr)

// syncICache makes the code in mem visible to instruction fetch.
func syncICache(mem []byte) {
	if len(mem) > 0 {
		start := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
		syncICacheARM64(start, start+uintptr(len(mem)))
	}
}
