package vm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/verifier"
	"github.com/wagglebpf/waggle/vm/internal/jitabi"
)

// Limits that mirror the kernel's, so that a program that runs here also
// fits there.
const (
	// MaxInstructions is the largest program Load accepts, in 8-byte slots
	// (the kernel's BPF_COMPLEXITY_LIMIT_INSNS).
	MaxInstructions = 1 << 20
	// StackSize is the size of each call frame's stack in bytes.
	StackSize = 512
	// MaxCallDepth is the number of frames, the main program's included,
	// that may be live at once (the kernel's MAX_CALL_FRAMES).
	MaxCallDepth = 8
	// DefaultMaxSteps is the instruction budget when RunOptions.MaxSteps is 0.
	DefaultMaxSteps = 1 << 24
)

// Internal operation codes. Each one is a single, fully resolved
// operation (class, operation, source and size already decided) so that the
// interpreter needs exactly one switch per instruction. They are dense from
// zero so that the switch compiles to a jump table. They are defined in
// package jitabi, which the JIT back ends share, and named here.
const (
	opFallOff     = jitabi.OpFallOff
	opAdd64Imm    = jitabi.OpAdd64Imm
	opAdd64Reg    = jitabi.OpAdd64Reg
	opSub64Imm    = jitabi.OpSub64Imm
	opSub64Reg    = jitabi.OpSub64Reg
	opMul64Imm    = jitabi.OpMul64Imm
	opMul64Reg    = jitabi.OpMul64Reg
	opDiv64Imm    = jitabi.OpDiv64Imm
	opDiv64Reg    = jitabi.OpDiv64Reg
	opSDiv64Imm   = jitabi.OpSDiv64Imm
	opSDiv64Reg   = jitabi.OpSDiv64Reg
	opOr64Imm     = jitabi.OpOr64Imm
	opOr64Reg     = jitabi.OpOr64Reg
	opAnd64Imm    = jitabi.OpAnd64Imm
	opAnd64Reg    = jitabi.OpAnd64Reg
	opLsh64Imm    = jitabi.OpLsh64Imm
	opLsh64Reg    = jitabi.OpLsh64Reg
	opRsh64Imm    = jitabi.OpRsh64Imm
	opRsh64Reg    = jitabi.OpRsh64Reg
	opNeg64       = jitabi.OpNeg64
	opMod64Imm    = jitabi.OpMod64Imm
	opMod64Reg    = jitabi.OpMod64Reg
	opSMod64Imm   = jitabi.OpSMod64Imm
	opSMod64Reg   = jitabi.OpSMod64Reg
	opXor64Imm    = jitabi.OpXor64Imm
	opXor64Reg    = jitabi.OpXor64Reg
	opMov64Imm    = jitabi.OpMov64Imm
	opMov64Reg    = jitabi.OpMov64Reg
	opMovSX8to64  = jitabi.OpMovSX8to64
	opMovSX16to64 = jitabi.OpMovSX16to64
	opMovSX32to64 = jitabi.OpMovSX32to64
	opArsh64Imm   = jitabi.OpArsh64Imm
	opArsh64Reg   = jitabi.OpArsh64Reg
	opAdd32Imm    = jitabi.OpAdd32Imm
	opAdd32Reg    = jitabi.OpAdd32Reg
	opSub32Imm    = jitabi.OpSub32Imm
	opSub32Reg    = jitabi.OpSub32Reg
	opMul32Imm    = jitabi.OpMul32Imm
	opMul32Reg    = jitabi.OpMul32Reg
	opDiv32Imm    = jitabi.OpDiv32Imm
	opDiv32Reg    = jitabi.OpDiv32Reg
	opSDiv32Imm   = jitabi.OpSDiv32Imm
	opSDiv32Reg   = jitabi.OpSDiv32Reg
	opOr32Imm     = jitabi.OpOr32Imm
	opOr32Reg     = jitabi.OpOr32Reg
	opAnd32Imm    = jitabi.OpAnd32Imm
	opAnd32Reg    = jitabi.OpAnd32Reg
	opLsh32Imm    = jitabi.OpLsh32Imm
	opLsh32Reg    = jitabi.OpLsh32Reg
	opRsh32Imm    = jitabi.OpRsh32Imm
	opRsh32Reg    = jitabi.OpRsh32Reg
	opNeg32       = jitabi.OpNeg32
	opMod32Imm    = jitabi.OpMod32Imm
	opMod32Reg    = jitabi.OpMod32Reg
	opSMod32Imm   = jitabi.OpSMod32Imm
	opSMod32Reg   = jitabi.OpSMod32Reg
	opXor32Imm    = jitabi.OpXor32Imm
	opXor32Reg    = jitabi.OpXor32Reg
	opMov32Imm    = jitabi.OpMov32Imm
	opMov32Reg    = jitabi.OpMov32Reg
	opMovSX8to32  = jitabi.OpMovSX8to32
	opMovSX16to32 = jitabi.OpMovSX16to32
	opArsh32Imm   = jitabi.OpArsh32Imm
	opArsh32Reg   = jitabi.OpArsh32Reg
	opLe16        = jitabi.OpLe16
	opLe32        = jitabi.OpLe32
	opBswap16     = jitabi.OpBswap16
	opBswap32     = jitabi.OpBswap32
	opBswap64     = jitabi.OpBswap64
	opJa          = jitabi.OpJa
	opJeqImm      = jitabi.OpJeqImm
	opJeqReg      = jitabi.OpJeqReg
	opJgtImm      = jitabi.OpJgtImm
	opJgtReg      = jitabi.OpJgtReg
	opJgeImm      = jitabi.OpJgeImm
	opJgeReg      = jitabi.OpJgeReg
	opJsetImm     = jitabi.OpJsetImm
	opJsetReg     = jitabi.OpJsetReg
	opJneImm      = jitabi.OpJneImm
	opJneReg      = jitabi.OpJneReg
	opJsgtImm     = jitabi.OpJsgtImm
	opJsgtReg     = jitabi.OpJsgtReg
	opJsgeImm     = jitabi.OpJsgeImm
	opJsgeReg     = jitabi.OpJsgeReg
	opJltImm      = jitabi.OpJltImm
	opJltReg      = jitabi.OpJltReg
	opJleImm      = jitabi.OpJleImm
	opJleReg      = jitabi.OpJleReg
	opJsltImm     = jitabi.OpJsltImm
	opJsltReg     = jitabi.OpJsltReg
	opJsleImm     = jitabi.OpJsleImm
	opJsleReg     = jitabi.OpJsleReg
	opJeq32Imm    = jitabi.OpJeq32Imm
	opJeq32Reg    = jitabi.OpJeq32Reg
	opJgt32Imm    = jitabi.OpJgt32Imm
	opJgt32Reg    = jitabi.OpJgt32Reg
	opJge32Imm    = jitabi.OpJge32Imm
	opJge32Reg    = jitabi.OpJge32Reg
	opJset32Imm   = jitabi.OpJset32Imm
	opJset32Reg   = jitabi.OpJset32Reg
	opJne32Imm    = jitabi.OpJne32Imm
	opJne32Reg    = jitabi.OpJne32Reg
	opJsgt32Imm   = jitabi.OpJsgt32Imm
	opJsgt32Reg   = jitabi.OpJsgt32Reg
	opJsge32Imm   = jitabi.OpJsge32Imm
	opJsge32Reg   = jitabi.OpJsge32Reg
	opJlt32Imm    = jitabi.OpJlt32Imm
	opJlt32Reg    = jitabi.OpJlt32Reg
	opJle32Imm    = jitabi.OpJle32Imm
	opJle32Reg    = jitabi.OpJle32Reg
	opJslt32Imm   = jitabi.OpJslt32Imm
	opJslt32Reg   = jitabi.OpJslt32Reg
	opJsle32Imm   = jitabi.OpJsle32Imm
	opJsle32Reg   = jitabi.OpJsle32Reg
	opCall        = jitabi.OpCall
	opCallX       = jitabi.OpCallX
	opCallLocal   = jitabi.OpCallLocal
	opExit        = jitabi.OpExit
	opLddw        = jitabi.OpLddw
	opLdxB        = jitabi.OpLdxB
	opLdxH        = jitabi.OpLdxH
	opLdxW        = jitabi.OpLdxW
	opLdxDW       = jitabi.OpLdxDW
	opLdxSB       = jitabi.OpLdxSB
	opLdxSH       = jitabi.OpLdxSH
	opLdxSW       = jitabi.OpLdxSW
	opStB         = jitabi.OpStB
	opStH         = jitabi.OpStH
	opStW         = jitabi.OpStW
	opStDW        = jitabi.OpStDW
	opStxB        = jitabi.OpStxB
	opStxH        = jitabi.OpStxH
	opStxW        = jitabi.OpStxW
	opStxDW       = jitabi.OpStxDW
	opAtomic      = jitabi.OpAtomic
	opLdAbsB      = jitabi.OpLdAbsB
	opLdAbsH      = jitabi.OpLdAbsH
	opLdAbsW      = jitabi.OpLdAbsW
	opLdIndB      = jitabi.OpLdIndB
	opLdIndH      = jitabi.OpLdIndH
	opLdIndW      = jitabi.OpLdIndW
	numOps        = jitabi.NumOps
)

// inst is one decoded instruction. The field layout keeps it at 24 bytes so
// that programs stay cache-friendly.
type inst struct {
	op   uint8
	dst  uint8
	src  uint8
	size uint8 // access size in bytes, for atomics
	// nt is the number of instructions in the straight-line run that
	// starts where a jump or call lands; nf the same for the fall-through
	// of a conditional jump or the return of a call. The interpreter
	// charges the budget once per run instead of once per instruction.
	nt  uint32
	imm int64 // immediate, sign-extended; lddw's full 64 bits; memory offset for loads
	off int32 // jump or call target pc; memory offset for stores
	nf  uint32
}

// Program is decoded, structurally validated bytecode, ready to run.
type Program struct {
	code      []inst           // one entry per 8-byte slot, plus the opFallOff sentinel
	runs      []uint32         // straight-line run length from each pc (budget accounting)
	helperIDs []int32          // distinct helper ids called with opCall, by index
	maps      []Map            // the map table that lddw src 1, 2, 5 and 6 index
	funcs     []int32          // entry pcs named by lddw src 4, sorted (callbacks)
	verified  *verifier.Report // set by LoadVerified and LoadCollection
	jit       nativeSlot       // native code for Engine JIT (native.go)
}

// Len returns the program's length in 8-byte instruction slots.
func (p *Program) Len() int { return len(p.code) - 1 }

// HelperIDs returns the distinct helper ids that the program calls directly
// (calls through a register, callx, are not known until run time).
func (p *Program) HelperIDs() []int32 { return append([]int32(nil), p.helperIDs...) }

// LoadInstructions marshals insns with cilium/ebpf, which resolves symbolic
// jump and call targets, and loads the result like [Load]. insns is not
// modified.
func LoadInstructions(insns asm.Instructions) (*Program, error) {
	return LoadInstructionsWithMaps(insns, nil)
}

// LoadInstructionsWithMaps is [LoadInstructions] for programs that use
// maps: every map load (asm.LoadMapPtr, asm.LoadMapValue) must carry a
// reference, set with WithReference(name), to a map in maps. The
// referenced maps become the program's map table, in order of first use,
// as for [LoadWithMaps]. insns is not modified.
func LoadInstructionsWithMaps(insns asm.Instructions, maps map[string]Map) (*Program, error) {
	// Marshal writes resolved offsets back into the instructions it is
	// given; work on a copy so that the caller's slice stays reusable.
	cp := make(asm.Instructions, len(insns))
	copy(cp, insns)
	for i := range cp {
		// cilium/ebpf v0.22 encodes an atomic's operation into the
		// immediate only after it has taken the immediate from Constant,
		// so instructions built with asm.AtomicOp.Mem all come out as
		// atomic add. Putting the operation into Constant ourselves gives
		// the right encoding (and is what Unmarshal produces anyway).
		if a := cp[i].OpCode.AtomicOp(); a != asm.InvalidAtomic {
			cp[i].Constant = int64(uint32(a) >> 8)
		}
	}
	table, err := resolveMapReferences(cp, maps)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := cp.Marshal(&buf, binary.LittleEndian); err != nil {
		return nil, fmt.Errorf("vm: marshal instructions: %w", err)
	}
	return LoadWithMaps(buf.Bytes(), table)
}

// Raw opcode fields (RFC 9669 section 3).
const (
	clsLD    = 0x00
	clsLDX   = 0x01
	clsST    = 0x02
	clsSTX   = 0x03
	clsALU   = 0x04
	clsJMP   = 0x05
	clsJMP32 = 0x06
	clsALU64 = 0x07

	srcX = 0x08

	modeIMM    = 0x00
	modeABS    = 0x20
	modeIND    = 0x40
	modeMEM    = 0x60
	modeMEMSX  = 0x80
	modeATOMIC = 0xc0

	sizeW  = 0x00
	sizeH  = 0x08
	sizeB  = 0x10
	sizeDW = 0x18
)

// Atomic operations, as encoded in the immediate.
const (
	atomicAdd     = 0x00
	atomicOr      = 0x40
	atomicAnd     = 0x50
	atomicXor     = 0xa0
	atomicFetch   = 0x01
	atomicXchg    = 0xe0 | atomicFetch
	atomicCmpXchg = 0xf0 | atomicFetch
	atomicLoadAcq = 0x100
	atomicStoreRl = 0x110
)

// ALU operations in the high nibble, with their imm/reg internal pairs for
// the 64- and 32-bit classes. Neg, mov-sign-extend and the byte swaps are
// decoded separately.
var aluOps = [16][2]uint8{
	0x0: {opAdd64Imm, opAdd32Imm},
	0x1: {opSub64Imm, opSub32Imm},
	0x2: {opMul64Imm, opMul32Imm},
	0x3: {opDiv64Imm, opDiv32Imm},
	0x4: {opOr64Imm, opOr32Imm},
	0x5: {opAnd64Imm, opAnd32Imm},
	0x6: {opLsh64Imm, opLsh32Imm},
	0x7: {opRsh64Imm, opRsh32Imm},
	0x9: {opMod64Imm, opMod32Imm},
	0xa: {opXor64Imm, opXor32Imm},
	0xb: {opMov64Imm, opMov32Imm},
	0xc: {opArsh64Imm, opArsh32Imm},
}

// Conditional jumps in the high nibble: the imm form for JMP and JMP32;
// the reg form is always the next op.
var jmpOps = [16][2]uint8{
	0x1: {opJeqImm, opJeq32Imm},
	0x2: {opJgtImm, opJgt32Imm},
	0x3: {opJgeImm, opJge32Imm},
	0x4: {opJsetImm, opJset32Imm},
	0x5: {opJneImm, opJne32Imm},
	0x6: {opJsgtImm, opJsgt32Imm},
	0x7: {opJsgeImm, opJsge32Imm},
	0xa: {opJltImm, opJlt32Imm},
	0xb: {opJleImm, opJle32Imm},
	0xc: {opJsltImm, opJslt32Imm},
	0xd: {opJsleImm, opJsle32Imm},
}

// Load decodes raw bytecode (8-byte little-endian instructions, lddw taking
// two slots) and validates its structure: known opcodes, registers 0-10
// with r10 never written, jump and call targets inside the program and not
// into the second slot of an lddw, lddw pairs complete, and a last
// instruction that does not fall through. Division by a zero immediate is
// allowed: the ISA defines its result. Load does not verify the program in
// the kernel's sense (types, bounded loops, initialised reads): the
// interpreter's run-time checks make that unnecessary for safety.
func Load(code []byte) (*Program, error) {
	return LoadWithMaps(code, nil)
}

// LoadWithMaps is [Load] for bytecode that refers to maps. maps is the
// program's map table: the immediate of an lddw with src 1
// (BPF_PSEUDO_MAP_FD) or 5 (BPF_PSEUDO_MAP_IDX) is an index into it, and
// the instruction loads that map's handle, which the map helpers accept;
// an lddw with src 2 (BPF_PSEUDO_MAP_VALUE) or 6 (BPF_PSEUDO_MAP_IDX_VALUE)
// loads the address of byte imm2 (the second slot's immediate) of the value
// of a single-entry array map, which is how .data, .rodata and .bss
// globals are reached. Indices play the role the kernel gives to file
// descriptors and fd_array slots, so that raw bytecode can be loaded
// without a kernel. References are resolved here, once, into constants: a
// program that uses maps runs exactly as fast as one that does not.
func LoadWithMaps(code []byte, maps []Map) (*Program, error) {
	if len(code)%8 != 0 {
		return nil, &LoadError{PC: len(code) / 8, Msg: fmt.Sprintf("bytecode length %d is not a multiple of 8", len(code))}
	}
	n := len(code) / 8
	if n == 0 {
		return nil, &LoadError{Msg: "empty program"}
	}
	if n > MaxInstructions {
		return nil, &LoadError{PC: MaxInstructions, Msg: fmt.Sprintf("program has %d instructions, more than %d", n, MaxInstructions)}
	}
	p := &Program{code: make([]inst, n+1), runs: make([]uint32, n+1), maps: append([]Map(nil), maps...)}
	second := make([]bool, n+1) // second slots of lddw, which nothing may jump to
	helperIndex := map[int32]int{}
	for pc := 0; pc < n; pc++ {
		raw := code[pc*8 : pc*8+8]
		if second[pc] {
			if raw[0] != 0 || raw[1] != 0 || raw[2] != 0 || raw[3] != 0 {
				return nil, &LoadError{PC: pc, Msg: "second slot of lddw must have zero opcode, registers and offset"}
			}
			continue
		}
		in, err := decode(raw, pc, n)
		if err != nil {
			return nil, err
		}
		if in.op == opLddw {
			if pc+1 >= n {
				return nil, &LoadError{PC: pc, Msg: "lddw is missing its second slot"}
			}
			hi := binary.LittleEndian.Uint32(code[pc*8+12:])
			if in.src != 0 {
				v, err := p.resolvePseudo(in.src, uint32(in.imm), hi, pc, n)
				if err != nil {
					return nil, err
				}
				in.imm, in.src = int64(v), 0
			} else {
				in.imm = int64(uint64(hi)<<32 | uint64(uint32(in.imm)))
			}
			second[pc+1] = true
		}
		if in.op == opCall {
			id := int32(in.imm)
			idx, ok := helperIndex[id]
			if !ok {
				idx = len(p.helperIDs)
				helperIndex[id] = idx
				p.helperIDs = append(p.helperIDs, id)
			}
			in.imm = int64(idx)
		}
		p.code[pc] = in
	}
	if last := p.code[n-1].op; !second[n-1] && last != opExit && last != opJa {
		return nil, &LoadError{PC: n - 1, Msg: "last instruction must be exit or ja"}
	}
	if second[n-1] {
		return nil, &LoadError{PC: n - 2, Msg: "last instruction must be exit or ja"}
	}

	// Targets are checked after decoding so that they can be tested
	// against the second slots of every lddw, including later ones.
	for pc := 0; pc < n; pc++ {
		in := &p.code[pc]
		if second[pc] || !isBranch(in.op) {
			continue
		}
		t := int(in.off)
		if t < 0 || t >= n {
			return nil, &LoadError{PC: pc, Msg: fmt.Sprintf("jump target %d is outside the program (0-%d)", t, n-1)}
		}
		if second[t] {
			return nil, &LoadError{PC: pc, Msg: fmt.Sprintf("jump target %d is the second slot of lddw", t)}
		}
	}

	for _, t := range p.funcs {
		if second[t] {
			return nil, &LoadError{PC: int(t), Msg: fmt.Sprintf("function reference target %d is the second slot of lddw", t)}
		}
	}
	slices.Sort(p.funcs)
	p.funcs = slices.Compact(p.funcs)

	// Straight-line run lengths, counted backwards: a run ends at any
	// instruction that can transfer control elsewhere.
	for pc := n - 1; pc >= 0; pc-- {
		if second[pc] {
			continue
		}
		op := p.code[pc].op
		switch {
		case isBranch(op) || op == opExit:
			p.runs[pc] = 1
		case op == opLddw:
			p.runs[pc] = 1 + p.runs[pc+2]
		default:
			p.runs[pc] = 1 + p.runs[pc+1]
		}
	}
	for pc := 0; pc < n; pc++ {
		in := &p.code[pc]
		if second[pc] || !isBranch(in.op) {
			continue
		}
		in.nt = p.runs[in.off]
		in.nf = p.runs[pc+1]
	}
	p.code[n] = inst{op: opFallOff}
	return p, nil
}

// isBranch reports whether op transfers control to inst.off.
func isBranch(op uint8) bool {
	return (op >= opJa && op <= opJsle32Reg) || op == opCallLocal
}

// decode turns one raw instruction into its internal form.
func decode(raw []byte, pc, n int) (inst, error) {
	opcode := raw[0]
	dst := raw[1] & 0x0f
	src := raw[1] >> 4
	off := int16(binary.LittleEndian.Uint16(raw[2:]))
	imm := int32(binary.LittleEndian.Uint32(raw[4:]))
	bad := func(format string, args ...any) (inst, error) {
		return inst{}, &LoadError{PC: pc, Msg: fmt.Sprintf(format, args...)}
	}
	if dst > 10 {
		return bad("invalid destination register r%d", dst)
	}
	if src > 10 {
		return bad("invalid source register r%d", src)
	}
	in := inst{dst: dst, src: src, imm: int64(imm)}
	// writesDst is cleared by the instructions that only read dst.
	writesDst := true

	switch cls := opcode & 0x07; cls {
	case clsALU, clsALU64:
		is64 := cls == clsALU64
		w := 1
		if is64 {
			w = 0
		}
		op := opcode >> 4
		reg := opcode&srcX != 0
		switch op {
		case 0x8: // neg
			if reg || off != 0 {
				return bad("invalid neg opcode 0x%02x", opcode)
			}
			in.op = [2]uint8{opNeg64, opNeg32}[w]
		case 0xd: // byte swaps
			if off != 0 {
				return bad("byte swap with nonzero offset %d", off)
			}
			if imm != 16 && imm != 32 && imm != 64 {
				return bad("byte swap width %d is not 16, 32 or 64", imm)
			}
			switch {
			case is64 && reg:
				return bad("invalid opcode 0x%02x", opcode)
			case is64 || reg: // bswap, or be on our little-endian ISA
				switch imm {
				case 16:
					in.op = opBswap16
				case 32:
					in.op = opBswap32
				case 64:
					in.op = opBswap64
				}
			default: // le: a truncation, since BPF memory is little-endian
				switch imm {
				case 16:
					in.op = opLe16
				case 32:
					in.op = opLe32
				case 64:
					in.op, in.src = opMov64Reg, dst
				}
			}
		case 0xe, 0xf:
			return bad("invalid opcode 0x%02x", opcode)
		default:
			base := aluOps[op][w]
			switch {
			case (op == 0x3 || op == 0x9) && off == 1: // sdiv, smod
				base += 2
			case op == 0xb && off != 0: // movsx
				if !reg {
					return bad("movsx needs a source register")
				}
				switch {
				case off == 8 && is64:
					in.op = opMovSX8to64
				case off == 16 && is64:
					in.op = opMovSX16to64
				case off == 32 && is64:
					in.op = opMovSX32to64
				case off == 8:
					in.op = opMovSX8to32
				case off == 16:
					in.op = opMovSX16to32
				default:
					return bad("invalid movsx offset %d", off)
				}
			case off != 0:
				return bad("nonzero offset %d in ALU instruction 0x%02x", off, opcode)
			}
			if in.op == 0 {
				in.op = base
				if reg {
					in.op++
				}
			}
		}

	case clsJMP, clsJMP32:
		is32 := cls == clsJMP32
		op := opcode >> 4
		reg := opcode&srcX != 0
		writesDst = false
		switch op {
		case 0x0: // ja, gotol
			if reg {
				return bad("invalid opcode 0x%02x", opcode)
			}
			in.op = opJa
			t := int64(pc) + 1 + int64(off)
			if is32 {
				t = int64(pc) + 1 + int64(imm)
			}
			if t < 0 || t >= int64(n) {
				return bad("jump target %d is outside the program (0-%d)", t, n-1)
			}
			in.off = int32(t)
			return in, nil
		case 0x8: // call
			if is32 {
				return bad("invalid opcode 0x%02x", opcode)
			}
			if reg { // callx: the helper id is in dst
				in.op = opCallX
				return in, nil
			}
			switch src {
			case 0:
				in.op = opCall
			case 1:
				in.op = opCallLocal
				t := int64(pc) + 1 + int64(imm)
				if t < 0 || t >= int64(n) {
					return bad("call target %d is outside the program (0-%d)", t, n-1)
				}
				in.off = int32(t)
			case 2:
				return inst{}, &LoadError{PC: pc, Msg: "kfunc calls are not supported yet", Err: ErrNotSupported}
			default:
				return bad("invalid call source %d", src)
			}
			return in, nil
		case 0x9: // exit
			if is32 || reg {
				return bad("invalid opcode 0x%02x", opcode)
			}
			in.op = opExit
			return in, nil
		}
		w := 0
		if is32 {
			w = 1
		}
		base := jmpOps[op][w]
		if base == 0 {
			return bad("invalid jump opcode 0x%02x", opcode)
		}
		in.op = base
		if reg {
			in.op++
		}
		in.off = int32(pc + 1 + int(off))
		return in, nil

	case clsLD:
		switch opcode {
		case clsLD | modeIMM | sizeDW:
			switch src {
			case 0:
				in.op = opLddw
			case 1, 2, 4, 5, 6: // map and function references, resolved by Load
				in.op = opLddw
			case 3:
				return inst{}, &LoadError{PC: pc, Msg: "lddw src 3: BTF variable references are not supported yet", Err: ErrNotSupported}
			default:
				return bad("invalid lddw source %d", src)
			}
		case clsLD | modeABS | sizeB:
			in.op = opLdAbsB
		case clsLD | modeABS | sizeH:
			in.op = opLdAbsH
		case clsLD | modeABS | sizeW:
			in.op = opLdAbsW
		case clsLD | modeIND | sizeB:
			in.op = opLdIndB
		case clsLD | modeIND | sizeH:
			in.op = opLdIndH
		case clsLD | modeIND | sizeW:
			in.op = opLdIndW
		default:
			return bad("invalid opcode 0x%02x", opcode)
		}
		if in.op != opLddw {
			writesDst = false // legacy packet loads write r0 only
		}

	case clsLDX:
		switch opcode &^ 0x07 {
		case modeMEM | sizeB:
			in.op = opLdxB
		case modeMEM | sizeH:
			in.op = opLdxH
		case modeMEM | sizeW:
			in.op = opLdxW
		case modeMEM | sizeDW:
			in.op = opLdxDW
		case modeMEMSX | sizeB:
			in.op = opLdxSB
		case modeMEMSX | sizeH:
			in.op = opLdxSH
		case modeMEMSX | sizeW:
			in.op = opLdxSW
		default:
			return bad("invalid opcode 0x%02x", opcode)
		}
		in.imm = int64(off) // loads keep their offset in imm: one add, no conversion

	case clsST, clsSTX:
		writesDst = false
		in.off = int32(off)
		mode := opcode & 0xe0
		size := opcode & 0x18
		if mode == modeATOMIC && cls == clsSTX {
			in.op = opAtomic
			in.size = sizeBytes[size>>3]
			switch imm {
			case atomicAdd, atomicOr, atomicAnd, atomicXor,
				atomicAdd | atomicFetch, atomicOr | atomicFetch, atomicAnd | atomicFetch, atomicXor | atomicFetch,
				atomicXchg, atomicCmpXchg:
				if in.size < 4 {
					return bad("%d-byte atomic read-modify-write is not defined", in.size)
				}
				if imm&atomicFetch != 0 && imm != atomicCmpXchg && src == 10 {
					return bad("atomic fetch cannot write r10")
				}
			case atomicLoadAcq:
				if dst == 10 {
					return bad("load-acquire cannot write r10")
				}
			case atomicStoreRl:
			default:
				return bad("invalid atomic operation 0x%x", imm)
			}
			return in, nil
		}
		if mode != modeMEM {
			return bad("invalid opcode 0x%02x", opcode)
		}
		// Internal store ops run B, H, W, DW; the size field runs W, H, B, DW.
		i := [4]uint8{2, 1, 0, 3}[size>>3]
		if cls == clsST {
			in.op = opStB + i
		} else {
			in.op = opStxB + i
		}
	}
	if writesDst && dst == 10 {
		return bad("r10 is read-only")
	}
	return in, nil
}

// sizeBytes maps the size field (shifted down by 3) to bytes.
var sizeBytes = [4]uint8{4, 2, 1, 8}

// clampSteps converts a budget to the signed counter the interpreter uses.
func clampSteps(n uint64) int64 {
	if n == 0 {
		return DefaultMaxSteps
	}
	if n > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(n)
}
