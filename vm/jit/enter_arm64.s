//go:build arm64 && linux

#include "textflag.h"

// func enterARM64(st *jitabi.State, code, resume uintptr)
//
// Native code keeps everything in registers and the state block, never on
// this stack; it leaves R18, R28 (g), R29 (the frame pointer) and RSP
// alone, and returns with RET to the link register this BL sets. The
// frame makes the assembler save our own link register around the call.
TEXT ·enterARM64(SB), NOSPLIT, $16-24
	MOVD	st+0(FP), R0
	MOVD	code+8(FP), R2
	MOVD	resume+16(FP), R1
	CALL	(R2)
	RET

// func syncICacheARM64(start, end uintptr)
//
// Makes instructions written to [start, end) visible to instruction
// fetch, as GCC's __clear_cache does: clean the data cache to the point of
// unification, invalidate the instruction cache, and synchronise. Line
// sizes come from CTR_EL0 (which Linux lets user space read).
TEXT ·syncICacheARM64(SB), NOSPLIT, $0-16
	MOVD	start+0(FP), R0
	MOVD	end+8(FP), R1
	WORD	$0xd53b0022 // mrs x2, ctr_el0
	// Data cache lines: 4 << CTR_EL0.DminLine (bits 19:16) bytes.
	UBFX	$16, R2, $4, R3
	MOVD	$4, R4
	LSL	R3, R4, R4
	SUB	$1, R4, R5
	BIC	R5, R0, R3
dloop:
	WORD	$0xd50b7b23 // dc cvau, x3
	ADD	R4, R3, R3
	CMP	R1, R3
	BLO	dloop
	WORD	$0xd5033b9f // dsb ish
	// Instruction cache lines: 4 << CTR_EL0.IminLine (bits 3:0) bytes.
	AND	$15, R2, R3
	MOVD	$4, R4
	LSL	R3, R4, R4
	SUB	$1, R4, R5
	BIC	R5, R0, R3
iloop:
	WORD	$0xd50b7523 // ic ivau, x3
	ADD	R4, R3, R3
	CMP	R1, R3
	BLO	iloop
	WORD	$0xd5033b9f // dsb ish
	WORD	$0xd5033fdf // isb
	RET
