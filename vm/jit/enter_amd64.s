//go:build amd64 && linux

#include "textflag.h"

// func enterAMD64(st *jitabi.State, code, resume uintptr)
//
// The frame is 192 bytes: native code's 128-byte scratch area at
// 32(SP)-160(SP) and, below it, room for the return addresses that the
// CALL here and the refill stubs' CALLs push, so that nothing native
// code writes is outside this frame. Native code clobbers every general
// register but SP; BP is restored by the epilogue (and by native code),
// and the ABI wrapper that Go calls this through restores R14 and X15.
TEXT ·enterAMD64(SB), 0, $192-24
	MOVQ st+0(FP), DI
	MOVQ code+8(FP), AX
	MOVQ resume+16(FP), SI
	ADJSP $-32
	CALL AX
	ADJSP $32
	RET
