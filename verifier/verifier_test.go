package verifier

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

var testMaps = map[string]MapInfo{
	"hash":  {Type: ebpf.Hash, KeySize: 4, ValueSize: 16, MaxEntries: 10},
	"array": {Type: ebpf.Array, KeySize: 4, ValueSize: 16, MaxEntries: 4},
	"rb":    {Type: ebpf.RingBuf, MaxEntries: 4096},
}

// lookup emits: key=0 at fp-4, r0 = lookup(map, &key).
func lookup(m string) asm.Instructions {
	return asm.Instructions{
		asm.StoreImm(asm.RFP, -4, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference(m),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
	}
}

// stDW is an 8-byte store of an immediate (asm.StoreImm refuses DWord).
func stDW(dst asm.Register, off int16, v int64) asm.Instruction {
	return asm.Instruction{OpCode: asm.StoreImmOp(asm.DWord), Dst: dst, Offset: off, Constant: v}
}

func prog(parts ...asm.Instructions) asm.Instructions {
	var out asm.Instructions
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// funcPtr loads the address of the function at symbol into dst.
func funcPtr(dst asm.Register, symbol string) asm.Instruction {
	return asm.Instruction{OpCode: asm.LoadImmOp(asm.DWord), Dst: dst, Src: asm.PseudoFunc, Constant: -1}.WithReference(symbol)
}

func ret0() asm.Instructions {
	return asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}
}

// xdpParse loads data/data_end into r2/r3.
func xdpData() asm.Instructions {
	return asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.LoadMem(asm.R3, asm.R1, 4, asm.Word),
	}
}

type tc struct {
	name   string
	typ    ebpf.ProgramType
	insns  asm.Instructions
	ok     bool
	reason string
	opts   Options
}

func cases() []tc {
	xdp, sf, kp, tp, cls := ebpf.XDP, ebpf.SocketFilter, ebpf.Kprobe, ebpf.TracePoint, ebpf.SchedCLS
	return []tc{
		// Accepted.
		{name: "return 0", typ: sf, insns: ret0(), ok: true},
		{name: "return 2 xdp", typ: xdp, insns: asm.Instructions{asm.Mov.Imm(asm.R0, 2), asm.Return()}, ok: true},
		{name: "lookup null check write", typ: kp, ok: true, insns: prog(lookup("hash"), asm.Instructions{
			asm.JEq.Imm(asm.R0, 0, "out"),
			stDW(asm.R0, 8, 1),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
			asm.Return(),
		})},
		{name: "lookup null check on copy", typ: kp, ok: true, insns: prog(lookup("hash"), asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.R0),
			asm.JNE.Imm(asm.R0, 0, "ok"),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
			asm.LoadMem(asm.R1, asm.R6, 8, asm.DWord).WithSymbol("ok"),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		})},
		{name: "map value variable offset masked", typ: kp, ok: true, insns: prog(
			asm.Instructions{asm.FnGetPrandomU32.Call(), asm.Mov.Reg(asm.R6, asm.R0)},
			lookup("array"), asm.Instructions{
				asm.JEq.Imm(asm.R0, 0, "out"),
				asm.And.Imm(asm.R6, 7),
				asm.Add.Reg(asm.R0, asm.R6),
				asm.StoreImm(asm.R0, 8, 1, asm.Byte),
				asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
				asm.Return(),
			})},
		{name: "stack write read", typ: sf, ok: true, insns: asm.Instructions{
			stDW(asm.RFP, -8, 42),
			asm.LoadMem(asm.R0, asm.RFP, -8, asm.DWord),
			asm.Return(),
		}},
		{name: "spill and fill pointer", typ: kp, ok: true, insns: asm.Instructions{
			asm.StoreMem(asm.RFP, -8, asm.R1, asm.DWord),
			asm.LoadMem(asm.R2, asm.RFP, -8, asm.DWord),
			asm.LoadMem(asm.R0, asm.R2, 0, asm.DWord),
			asm.Return(),
		}},
		{name: "xdp parse eth", typ: xdp, ok: true, insns: prog(xdpData(), asm.Instructions{
			asm.Mov.Reg(asm.R4, asm.R2),
			asm.Add.Imm(asm.R4, 14),
			asm.JGT.Reg(asm.R4, asm.R3, "drop"),
			asm.LoadMem(asm.R5, asm.R2, 12, asm.Half),
			asm.Mov.Imm(asm.R0, 2),
			asm.Return(),
			asm.Mov.Imm(asm.R0, 1).WithSymbol("drop"),
			asm.Return(),
		})},
		{name: "xdp parse end-first compare", typ: xdp, ok: true, insns: prog(xdpData(), asm.Instructions{
			asm.Mov.Reg(asm.R4, asm.R2),
			asm.Add.Imm(asm.R4, 14),
			asm.JGE.Reg(asm.R3, asm.R4, "ok"),
			asm.Mov.Imm(asm.R0, 1),
			asm.Return(),
			asm.LoadMem(asm.R5, asm.R2, 13, asm.Byte).WithSymbol("ok"),
			asm.StoreImm(asm.R2, 0, 0, asm.Byte),
			asm.Mov.Imm(asm.R0, 2),
			asm.Return(),
		})},
		{name: "bounded loop to 10", typ: sf, ok: true, insns: asm.Instructions{
			asm.Mov.Imm(asm.R0, 0),
			asm.Mov.Imm(asm.R1, 0),
			asm.Add.Imm(asm.R0, 3).WithSymbol("loop"),
			asm.Add.Imm(asm.R1, 1),
			asm.JLT.Imm(asm.R1, 10, "loop"),
			asm.Return(),
		}},
		{name: "division by register", typ: sf, ok: true, insns: asm.Instructions{
			asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
			asm.Mov.Imm(asm.R0, 100),
			asm.Div.Reg(asm.R0, asm.R2),
			asm.Mod.Reg(asm.R0, asm.R2),
			asm.Return(),
		}},
		{name: "tc write mark", typ: cls, ok: true, insns: asm.Instructions{
			asm.StoreImm(asm.R1, 8, 7, asm.Word),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		}},
		{name: "tracepoint read", typ: tp, ok: true, insns: asm.Instructions{
			asm.LoadMem(asm.R0, asm.R1, 8, asm.Word),
			asm.Return(),
		}},
		{name: "ringbuf output from stack", typ: kp, ok: true, insns: asm.Instructions{
			stDW(asm.RFP, -8, 1),
			asm.LoadMapPtr(asm.R1, 0).WithReference("rb"),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -8),
			asm.Mov.Imm(asm.R3, 8),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnRingbufOutput.Call(),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		}},
		{name: "get_current_comm then update", typ: kp, ok: true, insns: asm.Instructions{
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.Add.Imm(asm.R1, -16),
			asm.Mov.Imm(asm.R2, 16),
			asm.FnGetCurrentComm.Call(),
			asm.StoreImm(asm.RFP, -20, 0, asm.Word),
			asm.LoadMapPtr(asm.R1, 0).WithReference("hash"),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -20),
			asm.Mov.Reg(asm.R3, asm.RFP),
			asm.Add.Imm(asm.R3, -16),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnMapUpdateElem.Call(),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		}},
		{name: "uninit stack read privileged", typ: sf, ok: true, insns: asm.Instructions{
			asm.LoadMem(asm.R0, asm.RFP, -8, asm.DWord),
			asm.Return(),
		}},
		{name: "branch on scalar both ways", typ: sf, ok: true, insns: asm.Instructions{
			asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
			asm.Mov.Imm(asm.R0, 1),
			asm.JGT.Imm(asm.R2, 100, "big"),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return().WithSymbol("big"),
		}},
		{name: "alu32 and shifts", typ: sf, ok: true, insns: asm.Instructions{
			asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
			asm.LSh.Imm(asm.R2, 3),
			asm.RSh.Imm(asm.R2, 1),
			asm.Xor.Imm32(asm.R2, 5),
			asm.Mov.Reg32(asm.R0, asm.R2),
			asm.Return(),
		}},

		// Rejected.
		{name: "uninit register", typ: sf, reason: "r2 is not initialised", insns: asm.Instructions{
			asm.Mov.Reg(asm.R0, asm.R2), asm.Return(),
		}},
		{name: "uninit r0 at exit", typ: sf, reason: "r0 is not initialised at exit", insns: asm.Instructions{asm.Return()}},
		{name: "pointer returned", typ: sf, reason: "r0 holds a stack pointer at exit", insns: asm.Instructions{asm.Mov.Reg(asm.R0, asm.RFP), asm.Return()}},
		{name: "null deref after lookup", typ: kp, reason: "r0 may be NULL here: the result of bpf_map_lookup_elem at insn 5", insns: prog(lookup("hash"), asm.Instructions{
			asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		})},
		{name: "deref known null", typ: kp, reason: "is NULL here", insns: prog(lookup("hash"), asm.Instructions{
			asm.JNE.Imm(asm.R0, 0, "out"),
			asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
			asm.Return(),
		})},
		{name: "arith on maybe null", typ: kp, reason: "may be NULL", insns: prog(lookup("hash"), asm.Instructions{
			asm.Add.Imm(asm.R0, 4),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		})},
		{name: "map value out of bounds", typ: kp, reason: "access of 8 bytes at offset 16 of a 16-byte map value is out of bounds", insns: prog(lookup("hash"), asm.Instructions{
			asm.JEq.Imm(asm.R0, 0, "out"),
			stDW(asm.R0, 16, 1),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
			asm.Return(),
		})},
		{name: "map value unbounded variable offset", typ: kp, reason: "map value", insns: prog(
			asm.Instructions{asm.FnGetPrandomU32.Call(), asm.Mov.Reg(asm.R6, asm.R0)},
			lookup("array"), asm.Instructions{
				asm.JEq.Imm(asm.R0, 0, "out"),
				asm.And.Imm(asm.R6, 15),
				asm.Add.Reg(asm.R0, asm.R6),
				asm.StoreImm(asm.R0, 8, 1, asm.Byte),
				asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
				asm.Return(),
			})},
		{name: "stack out of bounds", typ: sf, reason: "outside the 512-byte stack", insns: asm.Instructions{
			stDW(asm.RFP, -520, 1), asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "stack above frame", typ: sf, reason: "outside the 512-byte stack", insns: asm.Instructions{
			stDW(asm.RFP, 0, 1), asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "uninit stack read unprivileged", typ: sf, opts: Options{Unprivileged: true}, reason: "read of uninitialised stack", insns: asm.Instructions{
			asm.LoadMem(asm.R0, asm.RFP, -8, asm.DWord), asm.Return(),
		}},
		{name: "unchecked packet read", typ: xdp, reason: "packet access at offset 0 (4 bytes) has not been checked against data_end", insns: prog(xdpData(), asm.Instructions{
			asm.LoadMem(asm.R0, asm.R2, 0, asm.Word), asm.Return(),
		})},
		{name: "packet read beyond check", typ: xdp, reason: "packet access at offset 12 (4 bytes) has not been checked against data_end", insns: prog(xdpData(), asm.Instructions{
			asm.Mov.Reg(asm.R4, asm.R2),
			asm.Add.Imm(asm.R4, 14),
			asm.JGT.Reg(asm.R4, asm.R3, "drop"),
			asm.LoadMem(asm.R0, asm.R2, 12, asm.Word),
			asm.Return(),
			asm.Mov.Imm(asm.R0, 1).WithSymbol("drop"),
			asm.Return(),
		})},
		{name: "packet read on wrong branch", typ: xdp, reason: "has not been checked against data_end", insns: prog(xdpData(), asm.Instructions{
			asm.Mov.Reg(asm.R4, asm.R2),
			asm.Add.Imm(asm.R4, 14),
			asm.JGT.Reg(asm.R4, asm.R3, "bad"),
			asm.Mov.Imm(asm.R0, 1),
			asm.Return(),
			asm.LoadMem(asm.R0, asm.R2, 0, asm.Byte).WithSymbol("bad"),
			asm.Return(),
		})},
		{name: "ctx write read-only xdp", typ: xdp, reason: "context field xdp_md.ingress_ifindex is read-only", insns: asm.Instructions{
			asm.StoreImm(asm.R1, 12, 0, asm.Word), asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "ctx write read-only socket filter mark", typ: sf, reason: "read-only", insns: asm.Instructions{
			asm.StoreImm(asm.R1, 8, 0, asm.Word), asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "ctx unknown offset", typ: xdp, reason: "not a known field", insns: asm.Instructions{
			asm.LoadMem(asm.R0, asm.R1, 100, asm.Word), asm.Return(),
		}},
		{name: "kprobe ctx write", typ: kp, reason: "read-only", insns: asm.Instructions{
			stDW(asm.R1, 0, 0), asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "ptr times scalar", typ: sf, reason: "pointer arithmetic with mul is not allowed", insns: asm.Instructions{
			asm.Mul.Imm(asm.R1, 2), asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "ptr plus ptr", typ: sf, reason: "pointer arithmetic between a ctx and a stack pointer", insns: asm.Instructions{
			asm.Add.Reg(asm.R1, asm.RFP), asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "ptr 32-bit arithmetic", typ: sf, reason: "32-bit arithmetic on a pointer", insns: asm.Instructions{
			asm.Add.Imm32(asm.R1, 2), asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "unknown helper", typ: kp, reason: "unknown helper function 9999", insns: asm.Instructions{
			asm.BuiltinFunc(9999).Call(), asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "wrong helper arg type", typ: kp, reason: "must be a map", insns: asm.Instructions{
			asm.Mov.Imm(asm.R1, 0),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -4),
			asm.FnMapLookupElem.Call(), asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "uninit map key", typ: kp, reason: "not initialised", insns: asm.Instructions{
			asm.LoadMapPtr(asm.R1, 0).WithReference("hash"),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -4),
			asm.FnMapLookupElem.Call(), asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "helper clobbers r1", typ: kp, reason: "r1 is not initialised", insns: asm.Instructions{
			asm.FnKtimeGetNs.Call(), asm.LoadMem(asm.R0, asm.R1, 0, asm.DWord), asm.Return(),
		}},
		{name: "tracing helper in xdp", typ: xdp, reason: "not available", insns: asm.Instructions{
			asm.FnGetCurrentPidTgid.Call(), asm.Return(),
		}},
		{name: "infinite loop", typ: sf, opts: Options{MaxInsnsProcessed: 50000}, reason: "the program is too complex or may not terminate", insns: asm.Instructions{
			asm.Mov.Imm(asm.R0, 0),
			asm.Add.Imm(asm.R0, 1).WithSymbol("loop"),
			asm.Ja.Label("loop"),
			asm.Return(),
		}[:3]},
		{name: "jump to itself", typ: sf, reason: "may loop forever", insns: asm.Instructions{
			asm.Mov.Imm(asm.R0, 0), asm.Ja.Label("self").WithSymbol("self"),
		}},
		{name: "loop on a random number", typ: sf, reason: "may loop forever", insns: asm.Instructions{
			asm.FnGetPrandomU32.Call().WithSymbol("again"),
			asm.JNE.Imm(asm.R0, 0, "again"),
			asm.Return(),
		}},
		{name: "unbounded loop on unknown", typ: sf, opts: Options{MaxInsnsProcessed: 10000}, reason: "too complex", insns: asm.Instructions{
			asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
			asm.Mov.Imm(asm.R0, 0),
			asm.Add.Imm(asm.R0, 1).WithSymbol("loop"),
			asm.JNE.Reg(asm.R0, asm.R2, "loop"),
			asm.Return(),
		}},
		{name: "unreachable instruction", typ: sf, reason: "instruction 2 is unreachable", insns: asm.Instructions{
			asm.Mov.Imm(asm.R0, 0), asm.Return(), asm.Mov.Imm(asm.R0, 1), asm.Return(),
		}},
		{name: "unreachable instruction allowed", typ: sf, ok: true, opts: Options{AllowUnreachable: true}, insns: asm.Instructions{
			asm.Mov.Imm(asm.R0, 0), asm.Return(), asm.Mov.Imm(asm.R0, 1), asm.Return(),
		}},
		{name: "jump out of range", typ: sf, reason: "outside the program", insns: asm.Instructions{
			asm.Mov.Imm(asm.R0, 0), {OpCode: asm.Ja.Op(asm.ImmSource), Offset: 10}, asm.Return(),
		}},
		{name: "jump into lddw", typ: sf, reason: "middle of a 64-bit immediate load", insns: asm.Instructions{
			{OpCode: asm.Ja.Op(asm.ImmSource), Offset: 1}, asm.LoadImm(asm.R0, 1, asm.DWord), asm.Return(),
		}},
		{name: "fall off the end", typ: sf, reason: "fall off the end", insns: asm.Instructions{asm.Mov.Imm(asm.R0, 0)}},
		{name: "bpf to bpf call", typ: sf, ok: true, insns: asm.Instructions{
			asm.Call.Label("f"), asm.Return(), asm.Mov.Imm(asm.R0, 0).WithSymbol("f"), asm.Return(),
		}},
		{name: "call writes caller stack", typ: sf, ok: true, insns: asm.Instructions{
			asm.Mov.Reg(asm.R1, asm.RFP), asm.Add.Imm(asm.R1, -8), asm.Call.Label("f"),
			asm.LoadMem(asm.R0, asm.RFP, -8, asm.DWord), asm.Return(),
			stDW(asm.R1, 0, 7).WithSymbol("f"), asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "callee keeps caller r6", typ: sf, ok: true, insns: asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.R1), asm.Call.Label("f"), asm.LoadMem(asm.R0, asm.R6, 0, asm.Word), asm.Return(),
			asm.Mov.Imm(asm.R6, 0).WithSymbol("f"), asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "caller r1 clobbered by call", typ: sf, reason: "r1 is not initialised", insns: asm.Instructions{
			asm.Call.Label("f"), asm.LoadMem(asm.R0, asm.R1, 0, asm.Word), asm.Return(),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("f"), asm.Return(),
		}},
		{name: "callee reads uninit r6", typ: sf, reason: "r6 is not initialised", insns: asm.Instructions{
			asm.Mov.Imm(asm.R6, 1), asm.Call.Label("f"), asm.Return(),
			asm.Mov.Reg(asm.R0, asm.R6).WithSymbol("f"), asm.Return(),
		}},
		{name: "return own stack pointer", typ: sf, reason: "pointer to its own stack", insns: asm.Instructions{
			asm.Call.Label("f"), asm.Mov.Imm(asm.R0, 0), asm.Return(),
			asm.Mov.Reg(asm.R0, asm.RFP).WithSymbol("f"), asm.Return(),
		}},
		{name: "recursion", typ: sf, reason: "recursive call", insns: asm.Instructions{
			asm.Call.Label("f"), asm.Return(),
			asm.Call.Label("f").WithSymbol("f"), asm.Return(),
		}},
		{name: "call chain stack over 512", typ: sf, reason: "more than the 512 allowed", insns: asm.Instructions{
			stDW(asm.RFP, -400, 0), asm.Call.Label("f"), asm.Mov.Imm(asm.R0, 0), asm.Return(),
			stDW(asm.RFP, -200, 0).WithSymbol("f"), asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "function falls into next", typ: sf, reason: "fall from the function", insns: asm.Instructions{
			asm.Call.Label("f"), asm.Return(),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("f"), asm.Mov.Imm(asm.R0, 1).WithSymbol("g"), asm.Call.Label("g"), asm.Return(),
		}},
		{name: "jump out of function", typ: sf, reason: "outside its function", insns: asm.Instructions{
			asm.Call.Label("f"), asm.Mov.Imm(asm.R0, 0).WithSymbol("out"), asm.Return(),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("f"), asm.Ja.Label("out"),
		}},
		{name: "bpf_loop counting in the caller's stack", typ: sf, ok: true, insns: asm.Instructions{
			stDW(asm.RFP, -8, 0),
			asm.Mov.Imm(asm.R1, 10),
			funcPtr(asm.R2, "cb"),
			asm.Mov.Reg(asm.R3, asm.RFP), asm.Add.Imm(asm.R3, -8),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnLoop.Call(),
			asm.LoadMem(asm.R0, asm.RFP, -8, asm.DWord), asm.Return(),
			asm.LoadMem(asm.R3, asm.R2, 0, asm.DWord).WithSymbol("cb"),
			asm.Add.Imm(asm.R3, 1),
			asm.StoreMem(asm.R2, 0, asm.R3, asm.DWord),
			asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "bpf_loop callback that stops the loop through a caller flag", typ: sf, ok: true, insns: asm.Instructions{
			stDW(asm.RFP, -8, 0),
			asm.Mov.Imm(asm.R1, 5),
			funcPtr(asm.R2, "cb"),
			asm.Mov.Reg(asm.R3, asm.RFP), asm.Add.Imm(asm.R3, -8),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnLoop.Call(),
			asm.LoadMem(asm.R0, asm.RFP, -8, asm.DWord), asm.Return(),
			// Each call sets the flag and stops: the second call meets
			// the first's state, which the helper's bound makes fine.
			stDW(asm.R2, 0, 1).WithSymbol("cb"),
			asm.Mov.Imm(asm.R0, 1), asm.Return(),
		}},
		{name: "endless loop around bpf_loop", typ: sf, reason: "may loop forever", insns: asm.Instructions{
			asm.Mov.Imm(asm.R1, 5).WithSymbol("again"),
			funcPtr(asm.R2, "cb"),
			asm.Mov.Imm(asm.R3, 0),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnLoop.Call(),
			asm.Ja.Label("again"),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("cb"), asm.Return(),
		}},
		{name: "for_each_map_elem reads values", typ: kp, ok: true, insns: asm.Instructions{
			asm.LoadMapPtr(asm.R1, 0).WithReference("hash"),
			funcPtr(asm.R2, "cb"),
			asm.Mov.Imm(asm.R3, 0),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnForEachMapElem.Call(),
			asm.Mov.Imm(asm.R0, 0), asm.Return(),
			asm.LoadMem(asm.R0, asm.R3, 8, asm.DWord).WithSymbol("cb"),
			asm.LoadMem(asm.R0, asm.R2, 0, asm.Word),
			asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "callback reads past the value", typ: kp, reason: "16-byte map value is out of bounds", insns: asm.Instructions{
			asm.LoadMapPtr(asm.R1, 0).WithReference("hash"),
			funcPtr(asm.R2, "cb"),
			asm.Mov.Imm(asm.R3, 0),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnForEachMapElem.Call(),
			asm.Mov.Imm(asm.R0, 0), asm.Return(),
			asm.LoadMem(asm.R0, asm.R3, 16, asm.DWord).WithSymbol("cb"),
			asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "callback writes the key", typ: kp, reason: "may only read", insns: asm.Instructions{
			asm.LoadMapPtr(asm.R1, 0).WithReference("hash"),
			funcPtr(asm.R2, "cb"),
			asm.Mov.Imm(asm.R3, 0),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnForEachMapElem.Call(),
			asm.Mov.Imm(asm.R0, 0), asm.Return(),
			asm.StoreImm(asm.R2, 0, 1, asm.Word).WithSymbol("cb"),
			asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "callback returns 2", typ: sf, reason: "must return 0 or 1", insns: asm.Instructions{
			asm.Mov.Imm(asm.R1, 10),
			funcPtr(asm.R2, "cb"),
			asm.Mov.Imm(asm.R3, 0),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnLoop.Call(),
			asm.Mov.Imm(asm.R0, 0), asm.Return(),
			asm.Mov.Imm(asm.R0, 2).WithSymbol("cb"), asm.Return(),
		}},
		{name: "callback counter widened then used as index", typ: sf, reason: "no lower bound", insns: prog(lookup("array"), asm.Instructions{
			// The callback bumps a caller-stack index; after the loop it
			// may be anything, so indexing the value with it is refused.
			asm.JEq.Imm(asm.R0, 0, "out"),
			asm.Mov.Reg(asm.R6, asm.R0),
			stDW(asm.RFP, -16, 0),
			asm.Mov.Imm(asm.R1, 3),
			funcPtr(asm.R2, "cb"),
			asm.Mov.Reg(asm.R3, asm.RFP), asm.Add.Imm(asm.R3, -16),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnLoop.Call(),
			asm.LoadMem(asm.R1, asm.RFP, -16, asm.DWord),
			asm.Add.Reg(asm.R6, asm.R1),
			asm.LoadMem(asm.R0, asm.R6, 0, asm.Byte),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("out"), asm.Return(),
			asm.LoadMem(asm.R3, asm.R2, 0, asm.DWord).WithSymbol("cb"),
			asm.Add.Imm(asm.R3, 1),
			asm.StoreMem(asm.R2, 0, asm.R3, asm.DWord),
			asm.Mov.Imm(asm.R0, 0), asm.Return(),
		})},
		{name: "array lookup of key 0 is never NULL", typ: sf, ok: true, insns: prog(lookup("array"), asm.Instructions{
			asm.LoadMem(asm.R0, asm.R0, 8, asm.DWord), asm.Return(),
		})},
		{name: "array lookup of another key may be NULL", typ: sf, reason: "may be NULL", insns: asm.Instructions{
			asm.StoreImm(asm.RFP, -4, 1, asm.Word),
			asm.LoadMapPtr(asm.R1, 0).WithReference("array"),
			asm.Mov.Reg(asm.R2, asm.RFP), asm.Add.Imm(asm.R2, -4),
			asm.FnMapLookupElem.Call(),
			asm.LoadMem(asm.R0, asm.R0, 8, asm.DWord), asm.Return(),
		}},
		{name: "zeroed stack reads back as zero", typ: sf, ok: true, insns: asm.Instructions{
			asm.StoreImm(asm.RFP, -4, 0, asm.Word),
			asm.LoadMem(asm.R2, asm.RFP, -4, asm.Half),
			// r2 is 0, so the read of uninitialised r3 can never run.
			asm.JEq.Imm(asm.R2, 0, "ok"),
			asm.Mov.Reg(asm.R0, asm.R3), asm.Return(),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("ok"), asm.Return(),
		}},
		{name: "atomic add to map value", typ: sf, ok: true, insns: prog(lookup("array"), asm.Instructions{
			asm.JEq.Imm(asm.R0, 0, "out"),
			asm.Mov.Imm(asm.R1, 1),
			asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("out"), asm.Return(),
		})},
		{name: "atomic fetch add on stack", typ: sf, ok: true, insns: asm.Instructions{
			stDW(asm.RFP, -8, 5), asm.Mov.Imm(asm.R1, 1),
			asm.FetchAdd.Mem(asm.RFP, asm.R1, asm.DWord, -8),
			asm.Mov.Reg(asm.R0, asm.R1), asm.Return(),
		}},
		{name: "atomic on unchecked lookup", typ: sf, reason: "may be NULL", insns: prog(lookup("hash"), asm.Instructions{
			asm.Mov.Imm(asm.R1, 1), asm.StoreXAdd(asm.R0, asm.R1, asm.DWord), asm.Mov.Imm(asm.R0, 0), asm.Return(),
		})},
		{name: "atomic on ctx", typ: cls, reason: "atomic operations on the ctx", insns: asm.Instructions{
			asm.Mov.Imm(asm.R2, 1), asm.StoreXAdd(asm.R1, asm.R2, asm.Word), asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "atomic stores pointer", typ: sf, reason: "may not store a pointer", insns: asm.Instructions{
			stDW(asm.RFP, -8, 5), asm.Xchg.Mem(asm.RFP, asm.R1, asm.DWord, -8), asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "cmpxchg needs r0", typ: sf, reason: "r0 is not initialised", insns: asm.Instructions{
			stDW(asm.RFP, -8, 5), asm.Mov.Imm(asm.R1, 1), asm.CmpXchg.Mem(asm.RFP, asm.R1, asm.DWord, -8), asm.Return(),
		}},
		{name: "ringbuf reserve submit", typ: kp, ok: true, insns: asm.Instructions{
			asm.LoadMapPtr(asm.R1, 0).WithReference("rb"), asm.Mov.Imm(asm.R2, 16), asm.Mov.Imm(asm.R3, 0),
			asm.FnRingbufReserve.Call(),
			asm.JEq.Imm(asm.R0, 0, "out"),
			stDW(asm.R0, 8, 1),
			asm.Mov.Reg(asm.R1, asm.R0), asm.Mov.Imm(asm.R2, 0), asm.FnRingbufSubmit.Call(),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("out"), asm.Return(),
		}},
		{name: "ringbuf leak", typ: kp, reason: "neither submitted nor discarded", insns: asm.Instructions{
			asm.LoadMapPtr(asm.R1, 0).WithReference("rb"), asm.Mov.Imm(asm.R2, 16), asm.Mov.Imm(asm.R3, 0),
			asm.FnRingbufReserve.Call(),
			asm.JEq.Imm(asm.R0, 0, "out"),
			stDW(asm.R0, 8, 1),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("out"), asm.Return(),
		}},
		{name: "ringbuf use after submit", typ: kp, reason: "released the memory", insns: asm.Instructions{
			asm.LoadMapPtr(asm.R1, 0).WithReference("rb"), asm.Mov.Imm(asm.R2, 16), asm.Mov.Imm(asm.R3, 0),
			asm.FnRingbufReserve.Call(),
			asm.JEq.Imm(asm.R0, 0, "out"),
			asm.Mov.Reg(asm.R6, asm.R0),
			asm.Mov.Reg(asm.R1, asm.R0), asm.Mov.Imm(asm.R2, 0), asm.FnRingbufDiscard.Call(),
			stDW(asm.R6, 0, 1),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("out"), asm.Return(),
		}},
		{name: "ringbuf write out of bounds", typ: kp, reason: "16-byte ring buffer memory is out of bounds", insns: asm.Instructions{
			asm.LoadMapPtr(asm.R1, 0).WithReference("rb"), asm.Mov.Imm(asm.R2, 16), asm.Mov.Imm(asm.R3, 0),
			asm.FnRingbufReserve.Call(),
			asm.JEq.Imm(asm.R0, 0, "out"),
			stDW(asm.R0, 12, 1),
			asm.Mov.Reg(asm.R1, asm.R0), asm.Mov.Imm(asm.R2, 0), asm.FnRingbufSubmit.Call(),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("out"), asm.Return(),
		}},
		{name: "ringbuf submit moved pointer", typ: kp, reason: "unmodified pointer", insns: asm.Instructions{
			asm.LoadMapPtr(asm.R1, 0).WithReference("rb"), asm.Mov.Imm(asm.R2, 16), asm.Mov.Imm(asm.R3, 0),
			asm.FnRingbufReserve.Call(),
			asm.JEq.Imm(asm.R0, 0, "out"),
			asm.Mov.Reg(asm.R1, asm.R0), asm.Add.Imm(asm.R1, 8), asm.Mov.Imm(asm.R2, 0), asm.FnRingbufSubmit.Call(),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("out"), asm.Return(),
		}},
		{name: "ringbuf reserve variable size", typ: kp, reason: "known constant size", insns: asm.Instructions{
			asm.FnGetPrandomU32.Call(), asm.Mov.Reg(asm.R2, asm.R0),
			asm.LoadMapPtr(asm.R1, 0).WithReference("rb"), asm.Mov.Imm(asm.R3, 0),
			asm.FnRingbufReserve.Call(),
			asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "submit stack pointer", typ: kp, reason: "must be memory returned by bpf_ringbuf_reserve", insns: asm.Instructions{
			asm.Mov.Reg(asm.R1, asm.RFP), asm.Add.Imm(asm.R1, -8), asm.Mov.Imm(asm.R2, 0), asm.FnRingbufSubmit.Call(),
			asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "zero-sized helper read through a pointer off the stack", typ: kp, reason: "outside the 512-byte stack", insns: asm.Instructions{
			asm.LoadMapPtr(asm.R1, 0).WithReference("rb"),
			asm.Mov.Reg(asm.R2, asm.RFP), asm.Add.Imm(asm.R2, 4096),
			asm.Mov.Imm(asm.R3, 0), asm.Mov.Imm(asm.R4, 0),
			asm.FnRingbufOutput.Call(),
			asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "sign extending move", typ: sf, ok: true, insns: asm.Instructions{
			asm.Mov.Imm(asm.R1, 0xff),
			asm.MovSX8.Reg(asm.R2, asm.R1),
			// r2 is -1: the check below is always true, so the read of
			// uninitialised r3 after it can never run.
			asm.JEq.Imm(asm.R2, -1, "ok"),
			asm.Mov.Reg(asm.R0, asm.R3), asm.Return(),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("ok"), asm.Return(),
		}},
		{name: "signed division of constants", typ: sf, ok: true, insns: asm.Instructions{
			asm.Mov.Imm(asm.R2, -7), asm.SDiv.Imm(asm.R2, 2),
			asm.Mov.Imm(asm.R4, -7), asm.SMod.Imm(asm.R4, 2),
			// r2 is -3 and r4 is -1: the reads of uninitialised r3 below
			// can never run.
			asm.JEq.Imm(asm.R2, -3, "ok"),
			asm.Mov.Reg(asm.R0, asm.R3), asm.Return(),
			asm.JEq.Imm(asm.R4, -1, "ok2").WithSymbol("ok"),
			asm.Mov.Reg(asm.R0, asm.R3), asm.Return(),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("ok2"), asm.Return(),
		}},
		{name: "ld_abs in socket filter", typ: sf, ok: true, insns: asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.R1), asm.LoadAbs(12, asm.Half), asm.Return(),
		}},
		{name: "ld_abs clobbers r1", typ: sf, reason: "r1 is not initialised", insns: asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.R1), asm.LoadAbs(12, asm.Half), asm.LoadMem(asm.R0, asm.R1, 0, asm.Word), asm.Return(),
		}},
		{name: "ld_abs without skb in r6", typ: sf, reason: "r6 holds a not initialised", insns: asm.Instructions{
			asm.LoadAbs(12, asm.Half), asm.Return(),
		}},
		{name: "ld_abs in xdp", typ: xdp, reason: "only allowed in socket filter and tc", insns: asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.R1), asm.LoadAbs(12, asm.Half), asm.Return(),
		}},
		{name: "xdp adjust head invalidates packet pointers", typ: xdp, reason: "changes the packet", insns: prog(xdpData(), asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.R2), asm.Mov.Reg(asm.R7, asm.R3),
			asm.Mov.Reg(asm.R4, asm.R2), asm.Add.Imm(asm.R4, 1),
			asm.JGT.Reg(asm.R4, asm.R3, "out"),
			asm.Mov.Imm(asm.R2, 0), asm.FnXdpAdjustHead.Call(),
			asm.LoadMem(asm.R0, asm.R6, 0, asm.Byte), asm.Return(),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("out"), asm.Return(),
		})},
		{name: "cgroup skb return range", typ: ebpf.CGroupSKB, reason: "must return a value in [0, 1]", insns: asm.Instructions{
			asm.Mov.Imm(asm.R0, 2), asm.Return(),
		}},
		{name: "cgroup skb reads packet", typ: ebpf.CGroupSKB, ok: true, insns: asm.Instructions{
			asm.LoadMem(asm.R2, asm.R1, 76, asm.Word), asm.LoadMem(asm.R3, asm.R1, 80, asm.Word),
			asm.Mov.Reg(asm.R4, asm.R2), asm.Add.Imm(asm.R4, 1),
			asm.Mov.Imm(asm.R0, 1),
			asm.JGT.Reg(asm.R4, asm.R3, "out"),
			asm.LoadMem(asm.R5, asm.R2, 0, asm.Byte),
			asm.Return().WithSymbol("out"),
		}},
		{name: "cgroup skb writes packet", typ: ebpf.CGroupSKB, reason: "may not write to the packet", insns: asm.Instructions{
			asm.LoadMem(asm.R2, asm.R1, 76, asm.Word), asm.LoadMem(asm.R3, asm.R1, 80, asm.Word),
			asm.Mov.Reg(asm.R4, asm.R2), asm.Add.Imm(asm.R4, 1),
			asm.Mov.Imm(asm.R0, 1),
			asm.JGT.Reg(asm.R4, asm.R3, "out"),
			asm.StoreImm(asm.R2, 0, 1, asm.Byte),
			asm.Return().WithSymbol("out"),
		}},
		{name: "ctx plus variable passed to probe_read", typ: tp, ok: true, insns: asm.Instructions{
			asm.LoadMem(asm.R3, asm.R1, 8, asm.Half),
			asm.Add.Reg(asm.R3, asm.R1),
			asm.Mov.Reg(asm.R1, asm.RFP), asm.Add.Imm(asm.R1, -8), asm.Mov.Imm(asm.R2, 8),
			asm.FnProbeReadKernel.Call(),
			asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "ctx plus variable dereferenced", typ: tp, reason: "context pointer was modified", insns: asm.Instructions{
			asm.LoadMem(asm.R3, asm.R1, 8, asm.Half),
			asm.Add.Reg(asm.R3, asm.R1),
			asm.LoadMem(asm.R0, asm.R3, 0, asm.Byte), asm.Return(),
		}},
		{name: "helper for another program type", typ: xdp, reason: "not available to XDP programs", insns: asm.Instructions{
			asm.FnGetCurrentPidTgid.Call(), asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "write to r10", typ: sf, reason: "read-only", insns: asm.Instructions{asm.Mov.Imm(asm.R10, 0), asm.Mov.Imm(asm.R0, 0), asm.Return()}},
		{name: "division by zero imm", typ: sf, reason: "division by the constant zero", insns: asm.Instructions{asm.Mov.Imm(asm.R0, 1), asm.Div.Imm(asm.R0, 0), asm.Return()}},
		{name: "deref scalar", typ: sf, reason: "holds a number", insns: asm.Instructions{
			asm.LoadMem(asm.R2, asm.R1, 0, asm.Word), asm.LoadMem(asm.R0, asm.R2, 0, asm.Word), asm.Return(),
		}},
		{name: "program type unsupported", typ: ebpf.LSM, reason: "not supported by waggle's verifier yet: program type", insns: ret0()},
		{name: "unprivileged xdp", typ: xdp, opts: Options{Unprivileged: true}, reason: "only socket filter", insns: ret0()},
		{name: "misaligned stack", typ: sf, reason: "misaligned", insns: asm.Instructions{
			asm.StoreImm(asm.RFP, -6, 1, asm.Word), asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "socket filter no packet pointers", typ: sf, reason: "not a known field", insns: asm.Instructions{
			asm.LoadMem(asm.R2, asm.R1, 76, asm.Word), asm.Mov.Imm(asm.R0, 0), asm.Return(),
		}},
		{name: "ringbuf wrong map", typ: kp, reason: "cannot be used with map hash", insns: asm.Instructions{
			stDW(asm.RFP, -8, 1),
			asm.LoadMapPtr(asm.R1, 0).WithReference("hash"),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -8),
			asm.Mov.Imm(asm.R3, 8),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnRingbufOutput.Call(),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		}},
		{name: "helper size too big for stack", typ: kp, reason: "outside the 512-byte stack", insns: asm.Instructions{
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.Add.Imm(asm.R1, -8),
			asm.Mov.Imm(asm.R2, 16),
			asm.FnGetCurrentComm.Call(),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		}},
	}
}

func TestVerify(t *testing.T) {
	accepted, rejected := 0, 0
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			rep, err := Verify(c.insns, c.typ, testMaps, c.opts)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if rep.Accepted != c.ok {
				t.Fatalf("accepted=%v, want %v; rejection: %v", rep.Accepted, c.ok, rep.Rejection)
			}
			if c.ok {
				accepted++
				return
			}
			rejected++
			if !strings.Contains(rep.Rejection.Reason, c.reason) {
				t.Fatalf("reason %q does not contain %q (%v)", rep.Rejection.Reason, c.reason, rep.Rejection)
			}
			if strings.Contains(rep.Rejection.Reason, "internal") {
				t.Fatalf("internal error: %v", rep.Rejection)
			}
		})
	}
	t.Logf("%d accepted, %d rejected cases", accepted, rejected)
}

func TestRejectionDetails(t *testing.T) {
	insns := prog(xdpData(), asm.Instructions{
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.Add.Imm(asm.R4, 14),
		asm.JGT.Reg(asm.R4, asm.R3, "bad"),
		asm.Mov.Imm(asm.R0, 1),
		asm.Return(),
		asm.LoadMem(asm.R0, asm.R2, 0, asm.Byte).WithSymbol("bad"),
		asm.Return(),
	})
	rep, err := Verify(insns, ebpf.XDP, nil, Options{})
	if err != nil || rep.Accepted {
		t.Fatalf("want rejection, got %+v %v", rep, err)
	}
	r := rep.Rejection
	if r.PC != 7 || len(r.Path) != 1 || r.Path[0] != 7 || !strings.Contains(r.Disasm, "*(u8 *)") || !strings.Contains(r.Regs, "r2=pkt") {
		t.Fatalf("unexpected details: %+v", r)
	}
	if !strings.Contains(r.Error(), "insn 7") {
		t.Fatal(r.Error())
	}
}

func TestMalformed(t *testing.T) {
	if _, err := Verify(nil, ebpf.XDP, nil, Options{}); err == nil {
		t.Fatal("empty program accepted")
	}
	if _, err := Verify(lookup("nope"), ebpf.Kprobe, testMaps, Options{}); err == nil {
		t.Fatal("unknown map accepted")
	}
	if _, err := Verify(asm.Instructions{asm.Ja.Label("x"), asm.Return()}, ebpf.XDP, nil, Options{}); err == nil {
		t.Fatal("unknown label accepted")
	}
}

func TestStackDepthAndProcessed(t *testing.T) {
	rep, err := Verify(asm.Instructions{
		stDW(asm.RFP, -64, 1),
		asm.Mov.Imm(asm.R0, 0), asm.Return(),
	}, ebpf.SocketFilter, nil, Options{})
	if err != nil || !rep.Accepted || rep.MaxStackDepth != 64 || rep.InsnsProcessed != 3 {
		t.Fatalf("%+v %v", rep, err)
	}
}

func FuzzVerify(f *testing.F) {
	for _, c := range cases() {
		var buf bytes.Buffer
		insns := make(asm.Instructions, len(c.insns))
		copy(insns, c.insns)
		if err := insns.Marshal(&buf, binary.LittleEndian); err == nil {
			f.Add(buf.Bytes(), uint8(c.typ))
		}
	}
	f.Add([]byte{0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0}, uint8(ebpf.XDP))
	f.Fuzz(func(t *testing.T, data []byte, typ uint8) {
		insns, err := asm.AppendInstructions(nil, bytes.NewReader(data), binary.LittleEndian, "linux")
		if err != nil || len(insns) == 0 || len(insns) > 4096 {
			return
		}
		types := []ebpf.ProgramType{ebpf.XDP, ebpf.SocketFilter, ebpf.Kprobe, ebpf.TracePoint, ebpf.SchedCLS}
		rep, err := Verify(insns, types[int(typ)%len(types)], testMaps, Options{MaxInsnsProcessed: 100_000})
		if err != nil {
			return
		}
		if !rep.Accepted && strings.Contains(rep.Rejection.Reason, "internal verifier error") {
			t.Fatalf("internal error: %v", rep.Rejection)
		}
	})
}
