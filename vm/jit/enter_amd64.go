//go:build amd64 && linux

package jit

import "github.com/wagglebpf/waggle/vm/internal/jitabi"

// enterAMD64 calls native code at code (its entry sequence) with DI = st
// and SI = resume, from a frame that holds native code's scratch area; see
// amd64.go and enter_amd64.s.
//
//go:noescape
func enterAMD64(st *jitabi.State, code, resume uintptr)

var _ = setEnter(enterAMD64)
