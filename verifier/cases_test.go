package verifier_test

// Hand-written programs for the comparison with the kernel's verifier
// (corpus_test.go): at least one per rule the kernel enforces, each
// labelled with what the kernel does with it, plus accepted programs that
// show how precise a verifier must be to be useful.

import (
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/wagglebpf/waggle/verifier"
)

// handMaps are the maps the hand-written cases refer to by name.
var handMaps = map[string]verifier.MapInfo{
	"hash":  {Type: ebpf.Hash, KeySize: 4, ValueSize: 16, MaxEntries: 10},
	"hash8": {Type: ebpf.Hash, KeySize: 8, ValueSize: 8, MaxEntries: 10},
	"array": {Type: ebpf.Array, KeySize: 4, ValueSize: 16, MaxEntries: 4},
	// glob is like a global-data section: one entry, so that the kernel
	// allows direct value loads (lddw src 2) of it.
	"glob": {Type: ebpf.Array, KeySize: 4, ValueSize: 16, MaxEntries: 1},
	"rb":   {Type: ebpf.RingBuf, MaxEntries: 4096},
	"perf": {Type: ebpf.PerfEventArray, KeySize: 4, ValueSize: 4, MaxEntries: 4},
}

// handCase is one hand-written program.
type handCase struct {
	name string
	rule string // the verifier rule it exercises, in a few words
	typ  ebpf.ProgramType
	// insns is the program; for raw cases it is decoded from raw.
	insns asm.Instructions
	// raw, when set, is the bytecode itself: for encodings that
	// cilium/ebpf refuses to produce (reserved fields set, unknown
	// opcodes, invalid registers).
	raw    []byte
	unpriv bool
	// attach is the expected attach type, for the program types whose
	// rules depend on it; attachTo names a BTF attach target (tp_btf).
	attach   ebpf.AttachType
	attachTo string
	// kernel is what the kernel's verifier does with the program: true
	// for accept. A case the kernel judges otherwise is mislabelled (or
	// the kernel changed), and the test says so.
	kernel bool
}

// rawInsn encodes one instruction slot, little-endian.
func rawInsn(op uint8, dst, src uint8, off int16, imm int32) []byte {
	b := make([]byte, 8)
	b[0] = op
	b[1] = dst&0xf | src<<4
	binary.LittleEndian.PutUint16(b[2:], uint16(off))
	binary.LittleEndian.PutUint32(b[4:], uint32(imm))
	return b
}

func rawProg(slots ...[]byte) []byte {
	var out []byte
	for _, s := range slots {
		out = append(out, s...)
	}
	return out
}

// Raw opcodes used by the raw cases.
const (
	opMov64Imm = 0xb7
	opAdd64Imm = 0x07
	opExit     = 0x95
	opJa       = 0x05
	opCall     = 0x85
	opLddw     = 0x18
)

var rawRet0 = rawProg(rawInsn(opMov64Imm, 0, 0, 0, 0), rawInsn(opExit, 0, 0, 0, 0))

// lookup emits: key = 0 at fp-4, r0 = bpf_map_lookup_elem(map, &key).
func lookup(m string) asm.Instructions {
	return asm.Instructions{
		asm.StoreImm(asm.RFP, -4, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference(m),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
	}
}

// checked is lookup followed by "if r0 == 0 goto out".
func checked(m string) asm.Instructions {
	return append(lookup(m), asm.JEq.Imm(asm.R0, 0, "out"))
}

// out is the "out: r0 = 0; exit" that checked jumps to.
func out() asm.Instructions {
	return asm.Instructions{asm.Mov.Imm(asm.R0, 0).WithSymbol("out"), asm.Return()}
}

// stDW is an 8-byte store of an immediate (asm.StoreImm refuses DWord).
func stDW(dst asm.Register, off int16, v int64) asm.Instruction {
	return asm.Instruction{OpCode: asm.StoreImmOp(asm.DWord), Dst: dst, Offset: off, Constant: v}
}

func cat(parts ...asm.Instructions) asm.Instructions {
	var res asm.Instructions
	for _, p := range parts {
		res = append(res, p...)
	}
	return res
}

func ret0() asm.Instructions { return asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()} }

// pkt loads xdp_md.data and data_end into r2 and r3.
func pkt() asm.Instructions {
	return asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.LoadMem(asm.R3, asm.R1, 4, asm.Word),
	}
}

// pktChecked is pkt followed by "if data + n > data_end goto out".
func pktChecked(n int32) asm.Instructions {
	return cat(pkt(), asm.Instructions{
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.Add.Imm(asm.R4, n),
		asm.JGT.Reg(asm.R4, asm.R3, "out"),
	})
}

// tcPkt loads __sk_buff.data and data_end into r2 and r3.
func tcPkt() asm.Instructions {
	return asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 76, asm.Word),
		asm.LoadMem(asm.R3, asm.R1, 80, asm.Word),
	}
}

// reserve emits r0 = bpf_ringbuf_reserve(rb, size, 0).
func reserve(size int32) asm.Instructions {
	return asm.Instructions{
		asm.LoadMapPtr(asm.R1, 0).WithReference("rb"),
		asm.Mov.Imm(asm.R2, size),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnRingbufReserve.Call(),
	}
}

// prandom emits r<dst> = bpf_get_prandom_u32(): an unknown value in [0, 2^32).
func prandom(dst asm.Register) asm.Instructions {
	return asm.Instructions{asm.FnGetPrandomU32.Call(), asm.Mov.Reg(dst, asm.R0)}
}

// subprogs builds a main program calling f1, f1 calling f2, ... fn, each
// using stack bytes of its frame.
func subprogs(n int, stack int16) asm.Instructions {
	insns := asm.Instructions{
		stDW(asm.RFP, -stack, 0),
		asm.Call.Label("f1"),
		asm.Mov.Imm(asm.R0, 0),
		asm.Return(),
	}
	for i := 1; i <= n; i++ {
		insns = append(insns, stDW(asm.RFP, -stack, 0).WithSymbol(fmt.Sprintf("f%d", i)))
		if i < n {
			insns = append(insns, asm.Call.Label(fmt.Sprintf("f%d", i+1)))
		}
		insns = append(insns, asm.Mov.Imm(asm.R0, 0), asm.Return())
	}
	return insns
}

func handCases() []handCase {
	return append(basicCases(), deeperCases()...)
}

// basicCases are one program per rule of the verifier.
func basicCases() []handCase {
	xdp, sf, kp, tp, cls := ebpf.XDP, ebpf.SocketFilter, ebpf.Kprobe, ebpf.TracePoint, ebpf.SchedCLS
	R0, R1, R2, R3, R4, R5, R6, R10 := asm.R0, asm.R1, asm.R2, asm.R3, asm.R4, asm.R5, asm.R6, asm.RFP
	return []handCase{
		// ---- Registers.
		{name: "uninit register read", rule: "a register is read before it is written", typ: sf, insns: asm.Instructions{
			asm.Mov.Reg(R0, R2), asm.Return()}},
		{name: "uninit register in alu", rule: "an ALU source is read before it is written", typ: sf, insns: asm.Instructions{
			asm.Mov.Imm(R0, 0), asm.Add.Reg(R0, R3), asm.Return()}},
		{name: "uninit register stored", rule: "a stored register is read before it is written", typ: sf, insns: asm.Instructions{
			asm.StoreMem(R10, -8, R4, asm.DWord), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "uninit r0 at exit", rule: "r0 must be set before exit", typ: sf, insns: asm.Instructions{asm.Return()}},
		{name: "r0 set on one path only", rule: "r0 must be set on every path to exit", typ: sf, insns: asm.Instructions{
			asm.LoadMem(R2, R1, 0, asm.Word),
			asm.JEq.Imm(R2, 0, "exit"),
			asm.Mov.Imm(R0, 0),
			asm.Return().WithSymbol("exit")}},
		{name: "helper clobbers r1-r5", rule: "r1-r5 are not initialised after a helper call", typ: kp, insns: asm.Instructions{
			asm.FnKtimeGetNs.Call(), asm.LoadMem(R0, R1, 0, asm.DWord), asm.Return()}},
		{name: "write to r10", rule: "r10 is read-only", typ: sf, insns: asm.Instructions{
			asm.Mov.Imm(R10, 0), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "load into r10", rule: "r10 is read-only, also for loads", typ: sf, insns: asm.Instructions{
			stDW(R10, -8, 0), asm.LoadMem(R10, R10, -8, asm.DWord), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "invalid dst register r11", rule: "register numbers above 10 are invalid", typ: sf, raw: rawProg(
			rawInsn(opMov64Imm, 11, 0, 0, 0), rawRet0)},
		{name: "invalid src register r12", rule: "register numbers above 10 are invalid", typ: sf, raw: rawProg(
			rawInsn(0xbf, 0, 12, 0, 0), rawInsn(opExit, 0, 0, 0, 0))},
		{name: "pointer returned unprivileged", rule: "an unprivileged program must not return a pointer", typ: sf, unpriv: true, insns: asm.Instructions{
			asm.Mov.Reg(R0, R10), asm.Return()}},

		// ---- Stack.
		{name: "uninit stack read unprivileged", rule: "unprivileged programs must not read uninitialised stack", typ: sf, unpriv: true, insns: asm.Instructions{
			asm.LoadMem(R0, R10, -8, asm.DWord), asm.Return()}},
		{name: "partly uninit stack read unprivileged", rule: "every byte read from the stack must be initialised", typ: sf, unpriv: true, insns: asm.Instructions{
			asm.StoreImm(R10, -8, 1, asm.Word), asm.LoadMem(R0, R10, -8, asm.DWord), asm.Return()}},
		{name: "stack below 512", rule: "the stack is 512 bytes", typ: sf, insns: asm.Instructions{
			stDW(R10, -520, 1), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "stack above fp", rule: "nothing above r10 is the program's", typ: sf, insns: asm.Instructions{
			stDW(R10, 0, 1), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "stack straddles fp", rule: "an access must lie wholly inside the stack", typ: sf, insns: asm.Instructions{
			stDW(R10, -4, 1), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "stack read below 512", rule: "the stack is 512 bytes, also for reads", typ: sf, insns: asm.Instructions{
			asm.LoadMem(R0, R10, -516, asm.Word), asm.Return()}},
		{name: "misaligned stack", rule: "stack accesses must be aligned to their size", typ: sf, insns: asm.Instructions{
			asm.StoreImm(R10, -6, 1, asm.Word), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "stack variable offset out of bounds", rule: "a variable stack offset must stay inside the stack", typ: kp, insns: cat(prandom(R2), asm.Instructions{
			asm.And.Imm(R2, 1023),
			asm.Mov.Reg(R1, R10),
			asm.Sub.Reg(R1, R2),
			asm.StoreImm(R1, -8, 0, asm.Byte),
			asm.Mov.Imm(R0, 0), asm.Return()})},

		// ---- Map values.
		{name: "map value out of bounds constant", rule: "map value accesses must lie inside value_size", typ: kp, insns: cat(checked("hash"), asm.Instructions{
			stDW(R0, 16, 1)}, out())},
		{name: "map value negative offset", rule: "map value accesses must not start before the value", typ: kp, insns: cat(checked("hash"), asm.Instructions{
			asm.LoadMem(R1, R0, -1, asm.Byte)}, out())},
		{name: "map value variable offset too large", rule: "a variable offset's maximum must keep the access inside the value", typ: kp, insns: cat(prandom(R6), checked("array"), asm.Instructions{
			asm.And.Imm(R6, 31),
			asm.Add.Reg(R0, R6),
			asm.LoadMem(R1, R0, 0, asm.DWord)}, out())},
		{name: "map value unbounded offset", rule: "an unbounded offset cannot be added to a map value", typ: kp, insns: cat(prandom(R6), checked("array"), asm.Instructions{
			asm.Add.Reg(R0, R6),
			asm.LoadMem(R1, R0, 0, asm.Byte)}, out())},
		{name: "map value offset may be negative", rule: "a variable offset's minimum must not go before the value", typ: kp, insns: cat(prandom(R6), checked("array"), asm.Instructions{
			asm.And.Imm(R6, 7),
			asm.Sub.Imm(R6, 4),
			asm.Add.Reg(R0, R6),
			asm.LoadMem(R1, R0, 0, asm.Byte)}, out())},
		{name: "map value lddw offset out of bounds", rule: "a direct value load must point inside the value", typ: kp, insns: asm.Instructions{
			asm.LoadMapValue(R1, 0, 16).WithReference("glob"),
			asm.LoadMem(R0, R1, 0, asm.Byte), asm.Return()}},
		{name: "map update value too short", rule: "a helper reads value_size bytes of the value argument", typ: kp, insns: asm.Instructions{
			asm.StoreImm(R10, -4, 0, asm.Word),
			stDW(R10, -16, 0),
			asm.LoadMapPtr(R1, 0).WithReference("hash"),
			asm.Mov.Reg(R2, R10), asm.Add.Imm(R2, -4),
			asm.Mov.Reg(R3, R10), asm.Add.Imm(R3, -8),
			asm.Mov.Imm(R4, 0),
			asm.FnMapUpdateElem.Call(),
			asm.Mov.Imm(R0, 0), asm.Return()}},

		// ---- Null checks.
		{name: "lookup result not null-checked", rule: "map_value_or_null must be null-checked before a dereference", typ: kp, insns: cat(lookup("hash"), asm.Instructions{
			asm.LoadMem(R1, R0, 0, asm.DWord), asm.Mov.Imm(R0, 0), asm.Return()})},
		{name: "arithmetic on map_value_or_null", rule: "no arithmetic on a pointer that may be NULL", typ: kp, insns: cat(lookup("hash"), asm.Instructions{
			asm.Add.Imm(R0, 4), asm.Mov.Imm(R0, 0), asm.Return()})},
		{name: "deref on the null branch", rule: "after r0 == 0 is taken, r0 is the number 0", typ: kp, insns: cat(lookup("hash"), asm.Instructions{
			asm.JNE.Imm(R0, 0, "out"),
			asm.LoadMem(R1, R0, 0, asm.DWord)}, out())},
		{name: "null check of the other lookup", rule: "a null check applies only to the pointer checked and its copies", typ: kp, insns: cat(lookup("hash"), asm.Instructions{
			asm.Mov.Reg(R6, R0)}, lookup("hash"), asm.Instructions{
			asm.JEq.Imm(R6, 0, "out"),
			asm.LoadMem(R1, R0, 0, asm.DWord)}, out())},
		{name: "deref of NULL constant", rule: "the number 0 is not a pointer", typ: sf, insns: asm.Instructions{
			asm.Mov.Imm(R1, 0), asm.LoadMem(R0, R1, 0, asm.DWord), asm.Return()}},
		{name: "deref of scalar", rule: "a number loaded from the context is not a pointer", typ: sf, insns: asm.Instructions{
			asm.LoadMem(R2, R1, 0, asm.Word), asm.LoadMem(R0, R2, 0, asm.Word), asm.Return()}},
		{name: "deref of map object", rule: "a map pointer is not memory the program may write", typ: kp, insns: asm.Instructions{
			asm.LoadMapPtr(R1, 0).WithReference("hash"), stDW(R1, 0, 0), asm.Mov.Imm(R0, 0), asm.Return()}},

		// ---- Packets.
		{name: "packet read without data_end check", rule: "packet accesses must be proven below data_end", typ: xdp, insns: cat(pkt(), asm.Instructions{
			asm.LoadMem(R0, R2, 0, asm.Word), asm.Return()})},
		{name: "packet read beyond checked range", rule: "a check covers only the bytes it compared", typ: xdp, insns: cat(pktChecked(14), asm.Instructions{
			asm.LoadMem(R0, R2, 12, asm.Word), asm.Return()}, out())},
		{name: "packet read on the failing branch", rule: "the check holds only on the branch where it succeeded", typ: xdp, insns: cat(pkt(), asm.Instructions{
			asm.Mov.Reg(R4, R2), asm.Add.Imm(R4, 14),
			asm.JGT.Reg(R4, R3, "bad"),
			asm.Mov.Imm(R0, 1), asm.Return(),
			asm.LoadMem(R0, R2, 0, asm.Byte).WithSymbol("bad"), asm.Return()})},
		{name: "packet read before data", rule: "packet accesses must not start before data", typ: xdp, insns: cat(pktChecked(14), asm.Instructions{
			asm.LoadMem(R0, R2, -1, asm.Byte), asm.Return()}, out())},
		{name: "packet variable offset unchecked", rule: "a variable packet offset needs its own check", typ: xdp, insns: cat(pktChecked(14), asm.Instructions{
			asm.LoadMem(R5, R2, 0, asm.Byte),
			asm.Add.Reg(R2, R5),
			asm.LoadMem(R0, R2, 0, asm.Byte), asm.Return()}, out())},
		{name: "pkt_end deref", rule: "data_end is not memory", typ: xdp, insns: cat(pkt(), asm.Instructions{
			asm.LoadMem(R0, R3, 0, asm.Byte), asm.Return()})},
		{name: "socket filter reads data field", rule: "socket filters have no direct packet access", typ: sf, insns: asm.Instructions{
			asm.LoadMem(R2, R1, 76, asm.Word), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "socket filter writes data field", rule: "socket filters have no direct packet access", typ: sf, insns: asm.Instructions{
			asm.StoreImm(R1, 76, 0, asm.Word), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "ok: pointer stored into packet privileged", rule: "privileged programs may write pointers into packets", typ: xdp, kernel: true, insns: cat(pktChecked(8), asm.Instructions{
			asm.StoreMem(R2, 0, R1, asm.DWord)}, out())},

		// ---- Context.
		{name: "ctx unknown offset", rule: "only the context's fields may be accessed", typ: xdp, insns: asm.Instructions{
			asm.LoadMem(R0, R1, 100, asm.Word), asm.Return()}},
		{name: "ctx wrong access size", rule: "pointer fields of the context are read whole", typ: xdp, insns: asm.Instructions{
			asm.LoadMem(R0, R1, 0, asm.Half), asm.Return()}},
		{name: "ctx 8-byte read of u32 field", rule: "a context read must not be wider than the field", typ: sf, insns: asm.Instructions{
			asm.LoadMem(R0, R1, 0, asm.DWord), asm.Return()}},
		{name: "ctx misaligned read", rule: "context reads must be aligned", typ: sf, insns: asm.Instructions{
			asm.LoadMem(R0, R1, 2, asm.Word), asm.Return()}},
		{name: "ctx write read-only xdp field", rule: "xdp_md.ingress_ifindex is read-only", typ: xdp, insns: asm.Instructions{
			asm.StoreImm(R1, 12, 0, asm.Word), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "ctx write socket filter mark", rule: "__sk_buff.mark is read-only in socket filters", typ: sf, insns: asm.Instructions{
			asm.StoreImm(R1, 8, 0, asm.Word), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "ctx write tc len", rule: "__sk_buff.len is read-only", typ: cls, insns: asm.Instructions{
			asm.StoreImm(R1, 0, 0, asm.Word), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "ctx write tc data pointer", rule: "__sk_buff.data is read-only", typ: cls, insns: asm.Instructions{
			asm.StoreImm(R1, 76, 0, asm.Word), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "kprobe ctx write", rule: "pt_regs is read-only", typ: kp, insns: asm.Instructions{
			stDW(R1, 0, 0), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "kprobe ctx past pt_regs", rule: "kprobe context reads stay inside pt_regs", typ: kp, insns: asm.Instructions{
			asm.LoadMem(R0, R1, 168, asm.DWord), asm.Return()}},
		{name: "tracepoint ctx write", rule: "tracepoint contexts are read-only", typ: tp, insns: asm.Instructions{
			stDW(R1, 8, 0), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "tracepoint ctx past the record", rule: "tracepoint context reads stay below PERF_MAX_TRACE_SIZE (8192 since Linux 6.5)", typ: tp, insns: asm.Instructions{
			asm.LoadMem(R0, R1, 8192, asm.DWord), asm.Return()}},
		{name: "tracepoint ctx first 8 bytes", rule: "the first 8 bytes of a tracepoint record hold the kernel's pt_regs pointer", typ: tp, insns: asm.Instructions{
			asm.LoadMem(R0, R1, 0, asm.DWord), asm.Return()}},
		{name: "tracepoint ctx bytes 4-7", rule: "the first 8 bytes of a tracepoint record are not readable, also in part", typ: tp, insns: asm.Instructions{
			asm.LoadMem(R0, R1, 4, asm.Word), asm.Return()}},
		{name: "modified ctx pointer access", rule: "the context must be accessed through an unmodified pointer", typ: sf, insns: asm.Instructions{
			asm.Add.Imm(R1, 4), asm.LoadMem(R0, R1, 0, asm.Word), asm.Return()}},
		{name: "variable ctx pointer access", rule: "the context must not be accessed at a variable offset", typ: kp, insns: cat(asm.Instructions{
			asm.Mov.Reg(R6, R1)}, prandom(R2), asm.Instructions{
			asm.And.Imm(R2, 8),
			asm.Add.Reg(R6, R2),
			asm.LoadMem(R0, R6, 0, asm.DWord), asm.Return()})},
		{name: "ok: pointer stored into ctx privileged", rule: "privileged programs may write pointers into __sk_buff.cb", typ: cls, kernel: true, insns: asm.Instructions{
			asm.StoreMem(R1, 48, R10, asm.Word), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "modified ctx passed to helper", rule: "helpers take the context unmodified", typ: kp, insns: asm.Instructions{
			stDW(R10, -8, 0),
			asm.Add.Imm(R1, 8),
			asm.LoadMapPtr(R2, 0).WithReference("perf"),
			asm.LoadImm(R3, 0xffffffff, asm.DWord),
			asm.Mov.Reg(R4, R10), asm.Add.Imm(R4, -8),
			asm.Mov.Imm(R5, 8),
			asm.FnPerfEventOutput.Call(),
			asm.Mov.Imm(R0, 0), asm.Return()}},

		// ---- Pointer arithmetic.
		{name: "pointer mul", rule: "multiplying a pointer is not allowed", typ: sf, insns: asm.Instructions{
			asm.Mul.Imm(R1, 2), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "pointer and", rule: "bitwise and on a pointer is not allowed", typ: sf, insns: asm.Instructions{
			asm.And.Imm(R1, 0xff), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "pointer or", rule: "bitwise or on a pointer is not allowed", typ: sf, insns: asm.Instructions{
			asm.Mov.Reg(R2, R10), asm.Or.Imm(R2, 1), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "pointer xor", rule: "bitwise xor on a pointer is not allowed", typ: sf, insns: asm.Instructions{
			asm.Xor.Imm(R1, 1), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "pointer shift", rule: "shifting a pointer is not allowed", typ: sf, insns: asm.Instructions{
			asm.LSh.Imm(R1, 1), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "pointer 32-bit add", rule: "32-bit arithmetic on a pointer is not allowed", typ: sf, insns: asm.Instructions{
			asm.Add.Imm32(R1, 2), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "pointer plus pointer", rule: "adding two pointers is not allowed", typ: sf, insns: asm.Instructions{
			asm.Add.Reg(R1, R10), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "pointer minus pointer unprivileged", rule: "unprivileged programs must not subtract pointers", typ: sf, unpriv: true, insns: asm.Instructions{
			asm.Mov.Reg(R2, R10), asm.Sub.Reg(R2, R1), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "pointer negated unprivileged", rule: "unprivileged programs must not do arithmetic on pointers", typ: sf, unpriv: true, insns: asm.Instructions{
			asm.Neg.Imm(R1, 0), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "pointer partial copy unprivileged", rule: "unprivileged programs must not copy half a pointer", typ: sf, unpriv: true, insns: asm.Instructions{
			asm.Mov.Reg32(R0, R1), asm.Return()}},
		{name: "pointer comparison unprivileged", rule: "unprivileged programs must not compare pointers", typ: sf, unpriv: true, insns: asm.Instructions{
			asm.Mov.Imm(R0, 0),
			asm.JEq.Reg(R1, R10, "x"),
			asm.Return().WithSymbol("x")}},
		{name: "pointer 32-bit comparison unprivileged", rule: "unprivileged programs must not compare pointers, also as 32 bits", typ: sf, unpriv: true, insns: asm.Instructions{
			asm.Mov.Imm(R0, 0),
			asm.JEq.Imm32(R1, 0, "x"),
			asm.Return().WithSymbol("x")}},
		{name: "ok: pointer 32-bit comparison privileged", rule: "privileged programs may compare pointers", typ: sf, kernel: true, insns: asm.Instructions{
			asm.Mov.Imm(R0, 0),
			asm.JEq.Imm32(R1, 0, "x"),
			asm.Return().WithSymbol("x")}},

		// ---- Helpers.
		{name: "unknown helper", rule: "helper ids must exist", typ: kp, insns: asm.Instructions{
			asm.BuiltinFunc(9999).Call(), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "helper id 0", rule: "helper 0 (bpf_unspec) does not exist", typ: sf, raw: rawProg(
			rawInsn(opCall, 0, 0, 0, 0), rawRet0)},
		{name: "skb_store_bytes in xdp", rule: "helpers are per program type: skb_store_bytes is for __sk_buff programs", typ: xdp, insns: asm.Instructions{
			stDW(R10, -8, 0),
			asm.Mov.Imm(R2, 0),
			asm.Mov.Reg(R3, R10), asm.Add.Imm(R3, -8),
			asm.Mov.Imm(R4, 8),
			asm.Mov.Imm(R5, 0),
			asm.FnSkbStoreBytes.Call(), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "xdp_adjust_head in socket filter", rule: "helpers are per program type: xdp_adjust_head is for XDP", typ: sf, insns: asm.Instructions{
			asm.Mov.Imm(R2, 0),
			asm.FnXdpAdjustHead.Call(), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "get_current_comm unprivileged", rule: "tracing helpers need CAP_PERFMON", typ: sf, unpriv: true, insns: asm.Instructions{
			asm.Mov.Reg(R1, R10), asm.Add.Imm(R1, -16),
			asm.Mov.Imm(R2, 16),
			asm.FnGetCurrentComm.Call(), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "ok: get_current_pid_tgid in xdp", rule: "Linux 6.x offers it to every program type", typ: xdp, kernel: true, insns: asm.Instructions{
			asm.FnGetCurrentPidTgid.Call(), asm.Return()}},
		{name: "probe_read_kernel unprivileged", rule: "probe_read_kernel needs CAP_PERFMON", typ: sf, unpriv: true, insns: asm.Instructions{
			asm.Mov.Reg(R1, R10), asm.Add.Imm(R1, -8),
			asm.Mov.Imm(R2, 8),
			asm.Mov.Imm(R3, 0),
			asm.FnProbeReadKernel.Call(), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "map arg not a map", rule: "a map argument must be a map", typ: kp, insns: asm.Instructions{
			asm.StoreImm(R10, -4, 0, asm.Word),
			asm.Mov.Imm(R1, 0),
			asm.Mov.Reg(R2, R10), asm.Add.Imm(R2, -4),
			asm.FnMapLookupElem.Call(), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "map arg a stack pointer", rule: "a map argument must be a map, not memory", typ: kp, insns: asm.Instructions{
			asm.StoreImm(R10, -4, 0, asm.Word),
			asm.Mov.Reg(R1, R10),
			asm.Mov.Reg(R2, R10), asm.Add.Imm(R2, -4),
			asm.FnMapLookupElem.Call(), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "map key uninitialised unprivileged", rule: "an unprivileged key must be initialised stack", typ: sf, unpriv: true, insns: asm.Instructions{
			asm.LoadMapPtr(R1, 0).WithReference("hash"),
			asm.Mov.Reg(R2, R10), asm.Add.Imm(R2, -4),
			asm.FnMapLookupElem.Call(), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "map key past the stack", rule: "key_size bytes must fit in the memory the key points to", typ: kp, insns: asm.Instructions{
			asm.StoreImm(R10, -4, 0, asm.Word),
			asm.LoadMapPtr(R1, 0).WithReference("hash8"),
			asm.Mov.Reg(R2, R10), asm.Add.Imm(R2, -4),
			asm.FnMapLookupElem.Call(), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "map key a scalar", rule: "a key argument must be a pointer", typ: kp, insns: asm.Instructions{
			asm.LoadMapPtr(R1, 0).WithReference("hash"),
			asm.Mov.Imm(R2, 0),
			asm.FnMapLookupElem.Call(), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "size arg unbounded", rule: "a size argument must have a known maximum", typ: kp, insns: cat(prandom(R2), asm.Instructions{
			asm.Mov.Reg(R1, R10), asm.Add.Imm(R1, -16),
			asm.FnGetCurrentComm.Call(), asm.Mov.Imm(R0, 0), asm.Return()})},
		{name: "size arg zero", rule: "an ARG_CONST_SIZE argument must not be zero", typ: kp, insns: asm.Instructions{
			asm.Mov.Reg(R1, R10), asm.Add.Imm(R1, -16),
			asm.Mov.Imm(R2, 0),
			asm.FnGetCurrentComm.Call(), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "size arg negative", rule: "a size argument must not be negative", typ: kp, insns: asm.Instructions{
			asm.Mov.Reg(R1, R10), asm.Add.Imm(R1, -16),
			asm.Mov.Imm(R2, -1),
			asm.Mov.Imm(R3, 0),
			asm.FnProbeReadKernel.Call(), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "size arg exceeds stack buffer", rule: "the memory argument must hold size bytes", typ: kp, insns: asm.Instructions{
			asm.Mov.Reg(R1, R10), asm.Add.Imm(R1, -8),
			asm.Mov.Imm(R2, 16),
			asm.FnGetCurrentComm.Call(), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "size arg exceeds map value", rule: "the memory argument must hold size bytes, also in a map value", typ: kp, insns: cat(checked("hash"), asm.Instructions{
			asm.Mov.Reg(R2, R0),
			asm.LoadMapPtr(R1, 0).WithReference("rb"),
			asm.Mov.Imm(R3, 32),
			asm.Mov.Imm(R4, 0),
			asm.FnRingbufOutput.Call()}, out())},
		{name: "mem arg a scalar", rule: "a memory argument must be a pointer", typ: kp, insns: asm.Instructions{
			asm.LoadMapPtr(R1, 0).WithReference("rb"),
			asm.Mov.Imm(R2, 0),
			asm.Mov.Imm(R3, 8),
			asm.Mov.Imm(R4, 0),
			asm.FnRingbufOutput.Call(), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "ringbuf_output to a hash", rule: "ringbuf helpers take ring buffer maps", typ: kp, insns: asm.Instructions{
			stDW(R10, -8, 1),
			asm.LoadMapPtr(R1, 0).WithReference("hash"),
			asm.Mov.Reg(R2, R10), asm.Add.Imm(R2, -8),
			asm.Mov.Imm(R3, 8),
			asm.Mov.Imm(R4, 0),
			asm.FnRingbufOutput.Call(), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "perf_event_output to a hash", rule: "perf_event_output takes a perf event array", typ: kp, insns: asm.Instructions{
			stDW(R10, -8, 0),
			asm.LoadMapPtr(R2, 0).WithReference("hash"),
			asm.LoadImm(R3, 0xffffffff, asm.DWord),
			asm.Mov.Reg(R4, R10), asm.Add.Imm(R4, -8),
			asm.Mov.Imm(R5, 8),
			asm.FnPerfEventOutput.Call(),
			asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "map_lookup_elem on a ring buffer", rule: "a ring buffer has no elements to look up", typ: kp, insns: cat(lookup("rb"), ret0())},

		// ---- Ring buffer references.
		{name: "ringbuf reservation leaked on a path", rule: "every reservation must be submitted or discarded on every path", typ: kp, insns: cat(prandom(R6), reserve(8), asm.Instructions{
			asm.JEq.Imm(R0, 0, "out"),
			asm.JEq.Imm(R6, 0, "out"),
			asm.Mov.Reg(R1, R0),
			asm.Mov.Imm(R2, 0),
			asm.FnRingbufSubmit.Call()}, out())},
		{name: "ringbuf reservation not null-checked", rule: "ringbuf_reserve may return NULL", typ: kp, insns: cat(reserve(8), asm.Instructions{
			stDW(R0, 0, 1),
			asm.Mov.Reg(R1, R0),
			asm.Mov.Imm(R2, 0),
			asm.FnRingbufSubmit.Call()}, ret0())},
		{name: "ringbuf use after submit", rule: "a submitted record is no longer the program's", typ: kp, insns: cat(reserve(8), asm.Instructions{
			asm.JEq.Imm(R0, 0, "out"),
			asm.Mov.Reg(R6, R0),
			asm.Mov.Reg(R1, R0),
			asm.Mov.Imm(R2, 0),
			asm.FnRingbufSubmit.Call(),
			stDW(R6, 0, 1)}, out())},
		{name: "ringbuf double submit", rule: "a record is submitted once", typ: kp, insns: cat(reserve(8), asm.Instructions{
			asm.JEq.Imm(R0, 0, "out"),
			asm.Mov.Reg(R6, R0),
			asm.Mov.Reg(R1, R6), asm.Mov.Imm(R2, 0), asm.FnRingbufSubmit.Call(),
			asm.Mov.Reg(R1, R6), asm.Mov.Imm(R2, 0), asm.FnRingbufSubmit.Call()}, out())},
		{name: "ringbuf submit of stack memory", rule: "only a reservation may be submitted", typ: kp, insns: asm.Instructions{
			stDW(R10, -8, 0),
			asm.Mov.Reg(R1, R10), asm.Add.Imm(R1, -8),
			asm.Mov.Imm(R2, 0),
			asm.FnRingbufSubmit.Call(), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "ringbuf reserve of unknown size", rule: "a reservation's size must be a constant", typ: kp, insns: cat(prandom(R2), asm.Instructions{
			asm.And.Imm(R2, 63),
			asm.LoadMapPtr(R1, 0).WithReference("rb"),
			asm.Mov.Imm(R3, 0),
			asm.FnRingbufReserve.Call(),
			asm.JEq.Imm(R0, 0, "out"),
			asm.Mov.Reg(R1, R0), asm.Mov.Imm(R2, 0), asm.FnRingbufSubmit.Call()}, out())},
		{name: "ringbuf record out of bounds", rule: "a reservation is as large as asked for", typ: kp, insns: cat(reserve(8), asm.Instructions{
			asm.JEq.Imm(R0, 0, "out"),
			stDW(R0, 8, 1),
			asm.Mov.Reg(R1, R0), asm.Mov.Imm(R2, 0), asm.FnRingbufSubmit.Call()}, out())},

		// ---- Maps and pointer leaks.
		{name: "pointer leak to a map unprivileged", rule: "unprivileged programs must not store pointers in maps", typ: sf, unpriv: true, insns: cat(checked("array"), asm.Instructions{
			asm.StoreMem(R0, 0, R10, asm.DWord)}, out())},

		// ---- Control flow.
		{name: "jump out of range", rule: "jumps must stay inside the program", typ: sf, raw: rawProg(
			rawInsn(opMov64Imm, 0, 0, 0, 0), rawInsn(opJa, 0, 0, 10, 0), rawInsn(opExit, 0, 0, 0, 0))},
		{name: "jump before the start", rule: "jumps must stay inside the program", typ: sf, raw: rawProg(
			rawInsn(opMov64Imm, 0, 0, 0, 0), rawInsn(opJa, 0, 0, -5, 0), rawInsn(opExit, 0, 0, 0, 0))},
		{name: "jump into the middle of lddw", rule: "a jump must not land in lddw's second slot", typ: sf, raw: rawProg(
			rawInsn(opJa, 0, 0, 1, 0), rawInsn(opLddw, 0, 0, 0, 1), rawInsn(0, 0, 0, 0, 0), rawInsn(opExit, 0, 0, 0, 0))},
		{name: "fall off the end", rule: "every path must end in exit", typ: sf, insns: asm.Instructions{asm.Mov.Imm(R0, 0)}},
		{name: "fall off the end after a branch", rule: "a conditional jump as last instruction falls off", typ: sf, raw: rawProg(
			rawInsn(opMov64Imm, 0, 0, 0, 0), rawInsn(0x15, 0, 0, -2, 1))}, // if r0 == 1 goto 0
		{name: "unreachable instruction", rule: "every instruction must be reachable", typ: sf, insns: asm.Instructions{
			asm.Mov.Imm(R0, 0), asm.Return(), asm.Mov.Imm(R0, 1), asm.Return()}},
		{name: "infinite loop ja self", rule: "programs must terminate", typ: sf, raw: rawProg(
			rawInsn(opMov64Imm, 0, 0, 0, 0), rawInsn(opJa, 0, 0, -1, 0), rawInsn(opExit, 0, 0, 0, 0))},
		{name: "loop with unbounded counter", rule: "a loop must be proven to end", typ: sf, insns: asm.Instructions{
			asm.LoadMem(R2, R1, 0, asm.Word),
			asm.Mov.Imm(R0, 0),
			asm.Add.Imm(R0, 1).WithSymbol("loop"),
			asm.JNE.Reg(R0, R2, "loop"),
			asm.Return()}},
		{name: "loop counter moves away from its bound", rule: "a loop must be proven to end", typ: sf, insns: asm.Instructions{
			asm.Mov.Imm(R0, 0),
			asm.Sub.Imm(R0, 1).WithSymbol("loop"),
			asm.JSLT.Imm(R0, 10, "loop"),
			asm.Return()}},
		{name: "loop exceeds complexity", rule: "at most a million instructions are analysed", typ: sf, insns: asm.Instructions{
			asm.Mov.Imm(R0, 0),
			asm.Add.Imm(R0, 1).WithSymbol("loop"),
			asm.JLT.Imm(R0, 1000000, "loop"),
			asm.Return()}},

		// ---- Encoding.
		{name: "division by constant zero", rule: "the kernel refuses div by an immediate 0", typ: sf, insns: asm.Instructions{
			asm.Mov.Imm(R0, 1), asm.Div.Imm(R0, 0), asm.Return()}},
		{name: "modulo by constant zero 32-bit", rule: "the kernel refuses mod by an immediate 0", typ: sf, insns: asm.Instructions{
			asm.Mov.Imm(R0, 1), asm.Mod.Imm32(R0, 0), asm.Return()}},
		{name: "signed division by constant zero", rule: "the kernel refuses sdiv by an immediate 0", typ: sf, insns: asm.Instructions{
			asm.Mov.Imm(R0, 1), asm.SDiv.Imm(R0, 0), asm.Return()}},
		{name: "shift by 64", rule: "a shift immediate must be below the operand width", typ: sf, insns: asm.Instructions{
			asm.Mov.Imm(R0, 1), asm.LSh.Imm(R0, 64), asm.Return()}},
		{name: "32-bit shift by 32", rule: "a 32-bit shift immediate must be below 32", typ: sf, insns: asm.Instructions{
			asm.Mov.Imm(R0, 1), asm.RSh.Imm32(R0, 32), asm.Return()}},
		{name: "unknown opcode", rule: "opcodes must exist", typ: sf, raw: rawProg(rawInsn(0xff, 0, 0, 0, 0), rawRet0)},
		{name: "unknown ALU operation", rule: "ALU operation 0xe does not exist", typ: sf, raw: rawProg(rawInsn(0xe7, 0, 0, 0, 1), rawRet0)},
		{name: "ALU reserved offset", rule: "reserved fields must be zero", typ: sf, raw: rawProg(
			rawInsn(opMov64Imm, 0, 0, 0, 0), rawInsn(opAdd64Imm, 0, 0, 3, 1), rawInsn(opExit, 0, 0, 0, 0))},
		{name: "exit with reserved fields", rule: "reserved fields must be zero", typ: sf, raw: rawProg(
			rawInsn(opMov64Imm, 0, 0, 0, 0), rawInsn(opExit, 0, 0, 0, 1))},
		{name: "lddw missing its second slot", rule: "lddw takes two slots", typ: sf, raw: rawProg(
			rawInsn(opMov64Imm, 0, 0, 0, 0), rawInsn(opExit, 0, 0, 0, 0), rawInsn(opLddw, 0, 0, 0, 1))},
		{name: "lddw unknown source", rule: "lddw sources are 0-6", typ: sf, raw: rawProg(
			rawInsn(opLddw, 0, 7, 0, 1), rawInsn(0, 0, 0, 0, 0), rawInsn(opExit, 0, 0, 0, 0))},
		{name: "lddw invalid map fd", rule: "a map load must name a map", typ: sf, raw: rawProg(
			rawInsn(opLddw, 1, 1, 0, 9999), rawInsn(0, 0, 0, 0, 0), rawRet0)},
		{name: "LD_ABS in xdp", rule: "legacy packet loads exist only for __sk_buff programs", typ: xdp, raw: rawProg(
			rawInsn(0xbf /* r6 = r1 */, 6, 1, 0, 0), rawInsn(0x30, 0, 0, 0, 0), rawInsn(opExit, 0, 0, 0, 0))},
		{name: "callx", rule: "indirect calls are not part of the kernel's ISA", typ: sf, raw: rawProg(
			rawInsn(opMov64Imm, 2, 0, 0, 0), rawInsn(0x8d, 2, 0, 0, 0), rawRet0)},
		{name: "kfunc call with a bogus BTF id", rule: "kfunc ids must name kernel functions", typ: sf, raw: rawProg(
			rawInsn(opCall, 0, 2, 0, 1), rawRet0)},

		// ---- bpf-to-bpf calls.
		{name: "call depth 9", rule: "at most 8 call frames", typ: sf, insns: subprogs(8, 8)},
		{name: "stack over 512 across frames", rule: "the frames of a call chain share 512 bytes of stack", typ: sf, insns: subprogs(1, 300)},
		{name: "call into the middle of lddw", rule: "a call must not land in lddw's second slot", typ: sf, raw: rawProg(
			rawInsn(opCall, 0, 1, 0, 3), rawRet0, rawInsn(opLddw, 0, 0, 0, 1), rawInsn(0, 0, 0, 0, 0), rawInsn(opExit, 0, 0, 0, 0))},
		{name: "call out of range", rule: "call targets must be inside the program", typ: sf, raw: rawProg(
			rawInsn(opCall, 0, 1, 0, 50), rawRet0)},
		{name: "subprogram returns its stack pointer", rule: "a frame's stack dies with it", typ: sf, insns: asm.Instructions{
			asm.Call.Label("f"),
			asm.LoadMem(R0, R0, 0, asm.DWord),
			asm.Return(),
			stDW(R10, -8, 0).WithSymbol("f"),
			asm.Mov.Reg(R0, R10), asm.Add.Imm(R0, -8), asm.Return()}},
		{name: "stale callee stack pointer in caller stack", rule: "a pointer into a dead frame must not be used", typ: sf, insns: asm.Instructions{
			stDW(R10, -8, 0),
			asm.Mov.Reg(R1, R10), asm.Add.Imm(R1, -8),
			asm.Call.Label("f"),
			asm.LoadMem(R1, R10, -8, asm.DWord),
			asm.LoadMem(R0, R1, 0, asm.DWord),
			asm.Return(),
			stDW(R10, -16, 0).WithSymbol("f"),
			asm.Mov.Reg(R2, R10), asm.Add.Imm(R2, -16),
			asm.StoreMem(R1, 0, R2, asm.DWord),
			asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "callee reads uninitialised r6", rule: "r6-r9 are not passed to a callee", typ: sf, insns: asm.Instructions{
			asm.Mov.Imm(R6, 1),
			asm.Call.Label("f"),
			asm.Return(),
			asm.Mov.Reg(R0, R6).WithSymbol("f"), asm.Return()}},
		{name: "caller reads r1 after a call", rule: "r1-r5 are clobbered by a call", typ: sf, insns: asm.Instructions{
			asm.Call.Label("f"),
			asm.Mov.Reg(R0, R1),
			asm.Return(),
			asm.Mov.Imm(R0, 0).WithSymbol("f"), asm.Return()}},
		{name: "subprogram falls off the end", rule: "every function must end in exit or a jump", typ: sf, raw: rawProg(
			rawInsn(opCall, 0, 1, 0, 2), rawInsn(opMov64Imm, 0, 0, 0, 0), rawInsn(opExit, 0, 0, 0, 0),
			rawInsn(opMov64Imm, 0, 0, 0, 0))},
		{name: "jump from a subprogram into main", rule: "jumps must stay inside their function", typ: sf, raw: rawProg(
			rawInsn(opCall, 0, 1, 0, 2), rawInsn(opMov64Imm, 0, 0, 0, 0), rawInsn(opExit, 0, 0, 0, 0),
			rawInsn(opJa, 0, 0, -3, 0))},

		// ---- Accepted: what a useful verifier must prove.
		{name: "ok: return constant", rule: "", typ: xdp, kernel: true, insns: asm.Instructions{asm.Mov.Imm(R0, 2), asm.Return()}},
		{name: "ok: bounded loop with counter", rule: "loops whose counter reaches its bound", typ: sf, kernel: true, insns: asm.Instructions{
			asm.Mov.Imm(R0, 0),
			asm.Mov.Imm(R1, 0),
			asm.Add.Imm(R0, 3).WithSymbol("loop"),
			asm.Add.Imm(R1, 1),
			asm.JLT.Imm(R1, 10, "loop"),
			asm.Return()}},
		{name: "ok: 32-bit bounded loop", rule: "JMP32 bounds", typ: sf, kernel: true, insns: asm.Instructions{
			asm.Mov.Imm(R0, 0),
			asm.Mov.Imm32(R1, 0),
			asm.Add.Imm(R0, 1).WithSymbol("loop"),
			asm.Add.Imm32(R1, 1),
			asm.JLT.Imm32(R1, 20, "loop"),
			asm.Return()}},
		{name: "ok: null-checked lookup", rule: "null checks", typ: kp, kernel: true, insns: cat(checked("hash"), asm.Instructions{
			stDW(R0, 8, 1)}, out())},
		{name: "ok: null check on a copy", rule: "null checks apply to copies", typ: kp, kernel: true, insns: cat(lookup("hash"), asm.Instructions{
			asm.Mov.Reg(R6, R0),
			asm.JNE.Imm(R0, 0, "ok"),
			asm.Mov.Imm(R0, 0), asm.Return(),
			asm.LoadMem(R1, R6, 8, asm.DWord).WithSymbol("ok"),
			asm.Mov.Imm(R0, 0), asm.Return()})},
		{name: "ok: map value pointer spilled across a call", rule: "spills keep pointer types", typ: kp, kernel: true, insns: cat(checked("hash"), asm.Instructions{
			asm.StoreMem(R10, -16, R0, asm.DWord),
			asm.FnKtimeGetNs.Call(),
			asm.LoadMem(R1, R10, -16, asm.DWord),
			asm.StoreMem(R1, 0, R0, asm.DWord)}, out())},
		{name: "ok: variable map value offset bounded by a check", rule: "branch bounds on offsets", typ: kp, kernel: true, insns: cat(prandom(R6), checked("array"), asm.Instructions{
			asm.JGT.Imm(R6, 8, "out"),
			asm.Add.Reg(R0, R6),
			stDW(R0, 0, 1)}, out())},
		{name: "ok: variable map value offset masked", rule: "and-masks bound offsets", typ: kp, kernel: true, insns: cat(prandom(R6), checked("array"), asm.Instructions{
			asm.And.Imm(R6, 7),
			asm.Add.Reg(R0, R6),
			asm.StoreImm(R0, 8, 1, asm.Byte)}, out())},
		{name: "ok: direct value load of global data", rule: "lddw src 2", typ: kp, kernel: true, insns: asm.Instructions{
			asm.LoadMapValue(R1, 0, 8).WithReference("glob"),
			asm.LoadMem(R0, R1, 0, asm.DWord), asm.Return()}},
		{name: "ok: packet access with proper check", rule: "data_end checks", typ: xdp, kernel: true, insns: cat(pktChecked(14), asm.Instructions{
			asm.LoadMem(R5, R2, 12, asm.Half),
			asm.StoreImm(R2, 0, 0, asm.Byte),
			asm.Mov.Imm(R0, 2), asm.Return()}, out())},
		{name: "ok: packet check end-first", rule: "data_end >= data+n", typ: xdp, kernel: true, insns: cat(pkt(), asm.Instructions{
			asm.Mov.Reg(R4, R2), asm.Add.Imm(R4, 14),
			asm.JGE.Reg(R3, R4, "ok"),
			asm.Mov.Imm(R0, 1), asm.Return(),
			asm.LoadMem(R0, R2, 13, asm.Byte).WithSymbol("ok"),
			asm.Return()})},
		{name: "ok: tc packet write with check", rule: "tc may write its packet", typ: cls, kernel: true, insns: cat(tcPkt(), asm.Instructions{
			asm.Mov.Reg(R4, R2), asm.Add.Imm(R4, 1),
			asm.JGT.Reg(R4, R3, "out"),
			asm.StoreImm(R2, 0, 0, asm.Byte)}, out())},
		{name: "ok: tc write mark and cb", rule: "writable __sk_buff fields", typ: cls, kernel: true, insns: asm.Instructions{
			asm.StoreImm(R1, 8, 7, asm.Word), asm.StoreImm(R1, 48, 1, asm.Word), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "ok: ringbuf reserve and submit", rule: "reservations released on every path", typ: kp, kernel: true, insns: cat(reserve(16), asm.Instructions{
			asm.JEq.Imm(R0, 0, "out"),
			stDW(R0, 8, 1),
			asm.Mov.Reg(R1, R0), asm.Mov.Imm(R2, 0), asm.FnRingbufSubmit.Call()}, out())},
		{name: "ok: ringbuf reserve and discard", rule: "discard releases too", typ: kp, kernel: true, insns: cat(reserve(8), asm.Instructions{
			asm.JEq.Imm(R0, 0, "out"),
			asm.Mov.Reg(R1, R0), asm.Mov.Imm(R2, 0), asm.FnRingbufDiscard.Call()}, out())},
		{name: "ok: ringbuf output from stack", rule: "ArgMem from stack", typ: kp, kernel: true, insns: asm.Instructions{
			stDW(R10, -8, 1),
			asm.LoadMapPtr(R1, 0).WithReference("rb"),
			asm.Mov.Reg(R2, R10), asm.Add.Imm(R2, -8),
			asm.Mov.Imm(R3, 8),
			asm.Mov.Imm(R4, 0),
			asm.FnRingbufOutput.Call(), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "ok: perf_event_output from kprobe", rule: "ArgCtx and perf event arrays", typ: kp, kernel: true, insns: asm.Instructions{
			stDW(R10, -8, 0),
			asm.LoadMapPtr(R2, 0).WithReference("perf"),
			asm.LoadImm(R3, 0xffffffff, asm.DWord),
			asm.Mov.Reg(R4, R10), asm.Add.Imm(R4, -8),
			asm.Mov.Imm(R5, 8),
			asm.FnPerfEventOutput.Call(),
			asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "ok: comm into a map", rule: "ArgUninitMem then ArgMapValue", typ: kp, kernel: true, insns: asm.Instructions{
			asm.Mov.Reg(R1, R10), asm.Add.Imm(R1, -16),
			asm.Mov.Imm(R2, 16),
			asm.FnGetCurrentComm.Call(),
			asm.StoreImm(R10, -20, 0, asm.Word),
			asm.LoadMapPtr(R1, 0).WithReference("hash"),
			asm.Mov.Reg(R2, R10), asm.Add.Imm(R2, -20),
			asm.Mov.Reg(R3, R10), asm.Add.Imm(R3, -16),
			asm.Mov.Imm(R4, 0),
			asm.FnMapUpdateElem.Call(),
			asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "ok: size arg bounded by a mask", rule: "ArgSize with a range", typ: kp, kernel: true, insns: cat(prandom(R2), asm.Instructions{
			asm.And.Imm(R2, 15),
			asm.Add.Imm(R2, 1),
			asm.Mov.Reg(R1, R10), asm.Add.Imm(R1, -16),
			asm.FnGetCurrentComm.Call(), asm.Mov.Imm(R0, 0), asm.Return()})},
		{name: "ok: bpf-to-bpf call", rule: "subprograms", typ: sf, kernel: true, insns: asm.Instructions{
			asm.Mov.Imm(R1, 20),
			asm.Call.Label("f"),
			asm.Return(),
			asm.Mov.Reg(R0, R1).WithSymbol("f"), asm.Add.Imm(R0, 1), asm.Return()}},
		{name: "ok: callee writes the caller's stack", rule: "pointers to the caller's frame", typ: sf, kernel: true, insns: asm.Instructions{
			stDW(R10, -8, 0),
			asm.Mov.Reg(R1, R10), asm.Add.Imm(R1, -8),
			asm.Call.Label("f"),
			asm.LoadMem(R0, R10, -8, asm.DWord),
			asm.Return(),
			stDW(R1, 0, 7).WithSymbol("f"),
			asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "ok: call depth 8", rule: "eight frames are allowed", typ: sf, kernel: true, insns: subprogs(7, 8)},
		{name: "ok: division by register", rule: "division by a register that may be 0 is defined", typ: sf, kernel: true, insns: asm.Instructions{
			asm.LoadMem(R2, R1, 0, asm.Word),
			asm.Mov.Imm(R0, 100),
			asm.Div.Reg(R0, R2),
			asm.Mod.Reg(R0, R2),
			asm.Return()}},
		{name: "ok: uninit stack read privileged", rule: "privileged programs may read uninitialised stack", typ: sf, kernel: true, insns: asm.Instructions{
			asm.LoadMem(R0, R10, -8, asm.DWord), asm.Return()}},
		{name: "ok: pointer minus pointer privileged", rule: "privileged pointer subtraction gives a number", typ: sf, kernel: true, insns: asm.Instructions{
			asm.Mov.Reg(R2, R10), asm.Sub.Reg(R2, R1), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "ok: kprobe narrow ctx read", rule: "pt_regs may be read 4 bytes at a time", typ: kp, kernel: true, insns: asm.Instructions{
			asm.LoadMem(R0, R1, 4, asm.Word), asm.Return()}},
		{name: "ok: tracepoint ctx read", rule: "tracepoint records are raw", typ: tp, kernel: true, insns: asm.Instructions{
			asm.LoadMem(R0, R1, 8, asm.Word), asm.Return()}},
		{name: "ok: LD_ABS in socket filter", rule: "legacy packet loads", typ: sf, kernel: true, insns: asm.Instructions{
			asm.Mov.Reg(R6, R1), asm.LoadAbs(12, asm.Half), asm.Return()}},
		{name: "ok: atomic add to map value", rule: "atomics", typ: kp, kernel: true, insns: cat(checked("array"), asm.Instructions{
			asm.Mov.Imm(R1, 1),
			asm.StoreXAdd(R0, R1, asm.DWord)}, out())},
		{name: "ok: sign-extending move", rule: "movsx", typ: sf, kernel: true, insns: asm.Instructions{
			asm.LoadMem(R2, R1, 0, asm.Word),
			asm.MovSX8.Reg(R0, R2),
			asm.Return()}},
		{name: "ok: alu32 and shifts", rule: "32-bit subregisters", typ: sf, kernel: true, insns: asm.Instructions{
			asm.LoadMem(R2, R1, 0, asm.Word),
			asm.LSh.Imm(R2, 3),
			asm.RSh.Imm(R2, 1),
			asm.Xor.Imm32(R2, 5),
			asm.Mov.Reg32(R0, R2),
			asm.Return()}},
		{name: "ok: pointer returned privileged", rule: "a privileged socket filter may return a pointer", typ: sf, kernel: true, insns: asm.Instructions{
			asm.Mov.Reg(R0, R10), asm.Return()}},
	}
}

// join builds "if r6 > 5 goto A; <first>; goto J; A: <second>; J: <then>":
// two paths that meet, for the verifier's pruning of states it has seen.
func join(first, second, then asm.Instructions) asm.Instructions {
	return cat(asm.Instructions{asm.JGT.Imm(asm.R6, 5, "A")}, first,
		asm.Instructions{asm.Ja.Label("J")},
		withSymbol("A", second), withSymbol("J", then))
}

// withSymbol labels the first instruction of insns.
func withSymbol(sym string, insns asm.Instructions) asm.Instructions {
	cp := make(asm.Instructions, len(insns))
	copy(cp, insns)
	cp[0] = cp[0].WithSymbol(sym)
	return cp
}

// deeperCases aim at what is easy to get wrong: atomics, calls, references,
// legacy packet loads, sign extension, the arithmetic of bounds, pruning of
// paths that meet, helpers that move the packet, and rules that depend on
// the attach type.
func deeperCases() []handCase {
	xdp, sf, kp, cls := ebpf.XDP, ebpf.SocketFilter, ebpf.Kprobe, ebpf.SchedCLS
	R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 := asm.R0, asm.R1, asm.R2, asm.R3, asm.R4, asm.R5, asm.R6, asm.R7, asm.R8, asm.R9, asm.RFP
	ctxU64 := asm.Instructions{asm.LoadMem(R6, R1, 0, asm.DWord)} // r6 = an arbitrary 64-bit number (kprobe)
	storeAt := func(off asm.Register) asm.Instructions {          // *(u8 *)(r0 + off) = 0
		return asm.Instructions{asm.Add.Reg(R0, off), asm.StoreImm(R0, 0, 0, asm.Byte)}
	}
	return []handCase{
		// ---- Atomics.
		{name: "atomic add to ctx", rule: "atomics are not allowed on the context", typ: cls, insns: asm.Instructions{
			asm.Mov.Imm(R2, 1), asm.AddAtomic.Mem(R1, R2, asm.Word, 48), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "atomic add to packet", rule: "atomics are not allowed on packet data", typ: xdp, insns: cat(pktChecked(8), asm.Instructions{
			asm.Mov.Imm(R5, 1), asm.AddAtomic.Mem(R2, R5, asm.DWord, 0)}, out())},
		{name: "atomic misaligned on map value", rule: "atomics must be aligned to their size", typ: kp, insns: cat(checked("array"), asm.Instructions{
			asm.Mov.Imm(R1, 1), asm.AddAtomic.Mem(R0, R1, asm.DWord, 4)}, out())},
		{name: "atomic on a byte", rule: "atomics are 32 or 64 bits wide", typ: sf, raw: rawProg(
			stDWRaw(-8), rawInsn(opMov64Imm, 1, 0, 0, 1), rawInsn(0xd3, 10, 1, -8, 0), rawRet0)},
		{name: "atomic fetch into r10", rule: "a fetch writes its source register, which must not be r10", typ: sf, raw: rawProg(
			stDWRaw(-8), rawInsn(0xdb, 10, 10, -8, 0x01), rawRet0)},
		{name: "atomic add to a spilled pointer", rule: "an atomic makes a spilled pointer a number", typ: kp, insns: asm.Instructions{
			asm.StoreMem(R10, -8, R1, asm.DWord),
			asm.Mov.Imm(R2, 4096),
			asm.AddAtomic.Mem(R10, R2, asm.DWord, -8),
			asm.LoadMem(R1, R10, -8, asm.DWord),
			asm.LoadMem(R0, R1, 0, asm.DWord), asm.Return()}},
		{name: "cmpxchg result is the old value", rule: "cmpxchg leaves the old memory value in r0", typ: kp, insns: cat(checked("array"), asm.Instructions{
			asm.Mov.Reg(R6, R0),
			asm.Mov.Imm(R0, 0),
			asm.Mov.Imm(R1, 5),
			asm.CmpXchg.Mem(R6, R1, asm.DWord, 0),
			asm.Add.Reg(R6, R0),
			asm.StoreImm(R6, 0, 0, asm.Byte)}, out())},
		{name: "fetch add result is the old value", rule: "a fetch leaves the old memory value in its source", typ: kp, insns: cat(checked("array"), asm.Instructions{
			asm.Mov.Imm(R1, 0),
			asm.FetchAdd.Mem(R0, R1, asm.DWord, 0),
			asm.Add.Reg(R0, R1),
			asm.StoreImm(R0, 0, 0, asm.Byte)}, out())},
		{name: "xchg result is the old value", rule: "xchg leaves the old memory value in its source", typ: kp, insns: cat(checked("array"), asm.Instructions{
			asm.Mov.Imm(R1, 0),
			asm.Xchg.Mem(R0, R1, asm.DWord, 0),
			asm.Add.Reg(R0, R1),
			asm.StoreImm(R0, 0, 0, asm.Byte)}, out())},
		{name: "ok: atomic fetch and on stack", rule: "atomics on initialised stack", typ: sf, kernel: true, insns: asm.Instructions{
			stDW(R10, -8, 0xff),
			asm.Mov.Imm(R1, 0x0f),
			asm.FetchAnd.Mem(R10, R1, asm.DWord, -8),
			asm.LoadMem(R0, R10, -8, asm.DWord), asm.Return()}},

		// ---- Spilled pointers.
		{name: "partial overwrite of a spilled pointer", rule: "a byte stored over a spilled pointer makes it a number", typ: kp, insns: asm.Instructions{
			asm.StoreMem(R10, -8, R1, asm.DWord),
			asm.StoreImm(R10, -8, 0x40, asm.Byte),
			asm.LoadMem(R1, R10, -8, asm.DWord),
			asm.LoadMem(R0, R1, 0, asm.DWord), asm.Return()}},
		{name: "narrow fill of a spilled pointer", rule: "half a pointer is a number", typ: kp, insns: asm.Instructions{
			asm.StoreMem(R10, -8, R1, asm.DWord),
			asm.LoadMem(R2, R10, -8, asm.Word),
			asm.LoadMem(R0, R2, 0, asm.DWord), asm.Return()}},
		{name: "helper overwrites a spilled pointer", rule: "memory a helper writes holds numbers", typ: kp, insns: asm.Instructions{
			asm.StoreMem(R10, -8, R1, asm.DWord),
			asm.Mov.Reg(R1, R10), asm.Add.Imm(R1, -16),
			asm.Mov.Imm(R2, 16),
			asm.FnGetCurrentComm.Call(),
			asm.LoadMem(R1, R10, -8, asm.DWord),
			asm.LoadMem(R0, R1, 0, asm.DWord), asm.Return()}},
		{name: "probe_read overwrites a spilled map value pointer", rule: "memory a helper writes holds numbers", typ: kp, insns: cat(checked("array"), asm.Instructions{
			asm.StoreMem(R10, -16, R0, asm.DWord),
			asm.Mov.Reg(R1, R10), asm.Add.Imm(R1, -16),
			asm.Mov.Imm(R2, 8),
			asm.Mov.Imm(R3, 0),
			asm.FnProbeReadKernel.Call(),
			asm.LoadMem(R1, R10, -16, asm.DWord),
			asm.StoreImm(R1, 0, 0, asm.Byte)}, out())},

		// ---- bpf-to-bpf calls.
		{name: "recursive subprogram", rule: "calls must not recurse", typ: sf, insns: asm.Instructions{
			asm.Call.Label("f"), asm.Return(),
			asm.Call.Label("f").WithSymbol("f"), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "mutually recursive subprograms", rule: "calls must not recurse", typ: sf, insns: asm.Instructions{
			asm.Call.Label("f"), asm.Return(),
			asm.Call.Label("g").WithSymbol("f"), asm.Mov.Imm(R0, 0), asm.Return(),
			asm.Call.Label("f").WithSymbol("g"), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "callee reads past the caller's stack pointer", rule: "a pointer into the caller's frame is bounded by that frame", typ: sf, insns: asm.Instructions{
			stDW(R10, -8, 0),
			asm.Mov.Reg(R1, R10), asm.Add.Imm(R1, -8),
			asm.Call.Label("f"), asm.Return(),
			asm.LoadMem(R0, R1, 8, asm.DWord).WithSymbol("f"), asm.Return()}},
		{name: "callee leaves r0 unset", rule: "a function must set r0", typ: sf, insns: asm.Instructions{
			asm.Call.Label("f"), asm.Return(),
			asm.Mov.Imm(R1, 0).WithSymbol("f"), asm.Return()}},
		{name: "callee leaks a ringbuf reservation", rule: "references outlive frames and must be released", typ: kp, insns: cat(asm.Instructions{
			asm.Call.Label("f"), asm.Mov.Imm(R0, 0), asm.Return()},
			withSymbol("f", reserve(8)), asm.Instructions{
				asm.Mov.Imm(R0, 0), asm.Return()})},
		{name: "ok: callee returns a reservation the caller submits", rule: "references cross frames", typ: kp, kernel: true, insns: cat(asm.Instructions{
			asm.Call.Label("f"),
			asm.JEq.Imm(R0, 0, "out"),
			asm.Mov.Reg(R1, R0), asm.Mov.Imm(R2, 0), asm.FnRingbufSubmit.Call()}, out(),
			withSymbol("f", reserve(8)), asm.Instructions{asm.Return()})},
		{name: "packet pointer kept across a call that changes packet data", rule: "a callee's xdp_adjust_head invalidates the caller's packet pointers", typ: xdp, insns: cat(
			asm.Instructions{asm.Mov.Reg(R7, R1)}, pktChecked(14), asm.Instructions{
				asm.Mov.Reg(R6, R2),
				asm.Mov.Reg(R1, R7),
				asm.Call.Label("f"),
				asm.LoadMem(R0, R6, 0, asm.Byte), asm.Return()}, out(), asm.Instructions{
				asm.Mov.Imm(R2, 0).WithSymbol("f"),
				asm.FnXdpAdjustHead.Call(),
				asm.Mov.Imm(R0, 0), asm.Return()})},
		{name: "LD_ABS in a subprogram", rule: "legacy packet loads are not for subprograms without BTF", typ: sf, insns: asm.Instructions{
			asm.Call.Label("f"), asm.Return(),
			asm.Mov.Reg(R6, R1).WithSymbol("f"), asm.LoadAbs(0, asm.Byte), asm.Return()}},

		// ---- Ring buffer references.
		{name: "ringbuf submit of an offset pointer", rule: "a reservation is released through the pointer reserve returned", typ: kp, insns: cat(reserve(16), asm.Instructions{
			asm.JEq.Imm(R0, 0, "out"),
			asm.Mov.Reg(R1, R0), asm.Add.Imm(R1, 8),
			asm.Mov.Imm(R2, 0), asm.FnRingbufSubmit.Call()}, out())},
		{name: "ringbuf use after discard", rule: "a discarded record is no longer the program's", typ: kp, insns: cat(reserve(8), asm.Instructions{
			asm.JEq.Imm(R0, 0, "out"),
			asm.Mov.Reg(R6, R0),
			asm.Mov.Reg(R1, R0), asm.Mov.Imm(R2, 0), asm.FnRingbufDiscard.Call(),
			stDW(R6, 0, 1)}, out())},
		{name: "ringbuf reservation dropped", rule: "losing the only pointer to a reservation leaks it", typ: kp, insns: cat(reserve(8), ret0())},
		{name: "ringbuf double submit through a copy", rule: "copies share the reference", typ: kp, insns: cat(reserve(8), asm.Instructions{
			asm.JEq.Imm(R0, 0, "out"),
			asm.Mov.Reg(R6, R0), asm.Mov.Reg(R7, R0),
			asm.Mov.Reg(R1, R6), asm.Mov.Imm(R2, 0), asm.FnRingbufSubmit.Call(),
			asm.Mov.Reg(R1, R7), asm.Mov.Imm(R2, 0), asm.FnRingbufSubmit.Call()}, out())},
		{name: "ringbuf reservation held across LD_ABS", rule: "LD_ABS may end the program, so no reference may be held", typ: sf, insns: cat(
			asm.Instructions{asm.Mov.Reg(R6, R1)}, reserve(8), asm.Instructions{
				asm.JEq.Imm(R0, 0, "out"),
				asm.Mov.Reg(R7, R0),
				asm.LoadAbs(100, asm.Byte),
				asm.Mov.Reg(R1, R7), asm.Mov.Imm(R2, 0), asm.FnRingbufSubmit.Call()}, out())},
		{name: "ok: ringbuf null check on a copy", rule: "copies share the null check", typ: kp, kernel: true, insns: cat(reserve(8), asm.Instructions{
			asm.Mov.Reg(R6, R0),
			asm.JEq.Imm(R6, 0, "out"),
			stDW(R0, 0, 1),
			asm.Mov.Reg(R1, R0), asm.Mov.Imm(R2, 0), asm.FnRingbufSubmit.Call()}, out())},

		// ---- LD_ABS / LD_IND.
		{name: "LD_ABS without r6", rule: "LD_ABS reads the skb in r6", typ: sf, insns: asm.Instructions{
			asm.LoadAbs(12, asm.Half), asm.Return()}},
		{name: "LD_ABS with r6 not the context", rule: "r6 must be the context", typ: sf, insns: asm.Instructions{
			asm.Mov.Reg(R6, R10), asm.LoadAbs(12, asm.Half), asm.Return()}},
		{name: "LD_ABS clobbers r1-r5", rule: "LD_ABS is a call", typ: sf, insns: asm.Instructions{
			asm.Mov.Reg(R6, R1), asm.Mov.Imm(R2, 5), asm.LoadAbs(0, asm.Byte), asm.Mov.Reg(R0, R2), asm.Return()}},
		{name: "LD_IND with an uninitialised index", rule: "the index register must be set", typ: sf, insns: asm.Instructions{
			asm.Mov.Reg(R6, R1), asm.LoadInd(R0, R3, 0, asm.Byte), asm.Return()}},
		{name: "ok: LD_IND with a register index", rule: "legacy packet loads", typ: sf, kernel: true, insns: asm.Instructions{
			asm.Mov.Reg(R6, R1), asm.Mov.Imm(R7, 14), asm.LoadInd(R0, R7, 0, asm.Byte), asm.Return()}},

		// ---- Sign extension.
		{name: "movsx with an invalid size", rule: "movsx sizes are 8, 16 and 32", typ: sf, raw: rawProg(
			rawInsn(opMov64Imm, 1, 0, 0, 7), rawInsn(0xbf, 0, 1, 24, 0), rawInsn(opExit, 0, 0, 0, 0))},
		{name: "ok: sign-extending load from ctx", rule: "__sk_buff.len may be read sign-extended", typ: sf, kernel: true, raw: rawProg(
			rawInsn(0x81, 0, 1, 0, 0), rawInsn(opExit, 0, 0, 0, 0))},
		{name: "sign-extended byte offset may be negative", rule: "movsx8 gives [-128, 127]", typ: kp, insns: cat(prandom(R6), checked("array"), asm.Instructions{
			asm.And.Imm(R6, 0xff),
			asm.MovSX8.Reg(R6, R6)}, storeAt(R6), out())},
		{name: "sign-extending load may be negative", rule: "ldxsb gives [-128, 127]", typ: kp, insns: cat(checked("array"), asm.Instructions{
			asm.LoadMemSX(R6, R0, 0, asm.Byte)}, storeAt(R6), out())},

		// ---- Bounds arithmetic.
		{name: "signed bound check only", rule: "a signed upper bound leaves the value possibly negative", typ: kp, insns: cat(ctxU64, checked("array"), asm.Instructions{
			asm.JSGT.Imm(R6, 8, "out")}, storeAt(R6), out())},
		{name: "32-bit bound check on a 64-bit offset", rule: "a JMP32 check bounds only the low half", typ: kp, insns: cat(ctxU64, checked("array"), asm.Instructions{
			asm.JGT.Imm32(R6, 8, "out")}, storeAt(R6), out())},
		{name: "ok: 32-bit bound after zero extension", rule: "w6 = w6 clears the high half", typ: kp, kernel: true, insns: cat(ctxU64, asm.Instructions{
			asm.Mov.Reg32(R6, R6)}, checked("array"), asm.Instructions{
			asm.JGT.Imm32(R6, 8, "out")}, storeAt(R6), out())},
		{name: "signed modulo may be negative", rule: "smod of a negative number is negative", typ: kp, insns: cat(ctxU64, checked("array"), asm.Instructions{
			asm.SMod.Imm(R6, 16)}, storeAt(R6), out())},
		{name: "unsigned modulo bounds an offset", rule: "x % 16 is below 16, but the kernel does not track bounds through BPF_MOD", typ: kp, insns: cat(ctxU64, checked("array"), asm.Instructions{
			asm.Mod.Imm(R6, 16)}, storeAt(R6), out())},
		{name: "32-bit subtraction wraps", rule: "w6 - 1 of 0 is 0xffffffff", typ: kp, insns: cat(prandom(R6), checked("array"), asm.Instructions{
			asm.And.Imm(R6, 0xff),
			asm.Sub.Imm32(R6, 1)}, storeAt(R6), out())},
		{name: "arithmetic shift sign-extends", rule: "x << 32 s>> 32 may be negative", typ: kp, insns: cat(prandom(R6), checked("array"), asm.Instructions{
			asm.LSh.Imm(R6, 32),
			asm.ArSh.Imm(R6, 32)}, storeAt(R6), out())},
		{name: "negation makes offsets negative", rule: "-x of x in [0, 7] is in [-7, 0]", typ: kp, insns: cat(prandom(R6), checked("array"), asm.Instructions{
			asm.And.Imm(R6, 7),
			asm.Neg.Imm(R6, 0)}, storeAt(R6), out())},
		{name: "byte swap changes bounds", rule: "be16 of x in [0, 255] is up to 0xff00", typ: kp, insns: cat(prandom(R6), checked("array"), asm.Instructions{
			asm.And.Imm(R6, 0xff),
			asm.HostTo(asm.BE, R6, asm.Half)}, storeAt(R6), out())},
		{name: "or raises the minimum", rule: "x | 16 is at least 16", typ: kp, insns: cat(prandom(R6), checked("array"), asm.Instructions{
			asm.And.Imm(R6, 7),
			asm.Or.Imm(R6, 16)}, storeAt(R6), out())},
		{name: "mov32 immediate zero-extends", rule: "w6 = -1 is 0xffffffff, not -1", typ: kp, insns: cat(checked("array"), asm.Instructions{
			asm.Mov.Imm32(R6, -1),
			asm.Add.Imm(R6, 1)}, storeAt(R6), out())},
		{name: "alu32 zero-extends", rule: "w6 += 0 clears the high half", typ: kp, insns: cat(checked("array"), asm.Instructions{
			asm.Mov.Imm(R6, -1),
			asm.Add.Imm32(R6, 0),
			asm.Add.Imm(R6, 1)}, storeAt(R6), out())},
		{name: "unsigned addition wraps", rule: "2^64 - 1 + 1 is 0, and 2^64 - 1 is out of bounds", typ: kp, insns: cat(prandom(R7), checked("array"), asm.Instructions{
			asm.LoadImm(R6, -1, asm.DWord),
			asm.And.Imm(R7, 1),
			asm.Add.Reg(R7, R6)}, storeAt(R7), out())},
		{name: "shift by an unknown amount", rule: "1 << x for x up to 255 is unbounded", typ: kp, insns: cat(prandom(R6), checked("array"), asm.Instructions{
			asm.And.Imm(R6, 0xff),
			asm.Mov.Imm(R7, 1),
			asm.LSh.Reg(R7, R6)}, storeAt(R7), out())},

		// ---- Paths that meet (state pruning).
		{name: "join: offset out of bounds on the second path", rule: "a pruned state must cover the one it replaces", typ: kp, insns: cat(prandom(R6), checked("array"), join(
			asm.Instructions{asm.Mov.Imm(R7, 0)}, asm.Instructions{asm.Mov.Imm(R7, 100)}, storeAt(R7)), out())},
		{name: "join: offset out of bounds on the first path", rule: "a pruned state must cover the one it replaces", typ: kp, insns: cat(prandom(R6), checked("array"), join(
			asm.Instructions{asm.Mov.Imm(R7, 100)}, asm.Instructions{asm.Mov.Imm(R7, 0)}, storeAt(R7)), out())},
		{name: "join: out-of-bounds offset in a stack slot", rule: "pruning compares stack slots too", typ: kp, insns: cat(prandom(R6), checked("array"), join(
			asm.Instructions{stDW(R10, -16, 0)}, asm.Instructions{stDW(R10, -16, 100)},
			cat(asm.Instructions{asm.LoadMem(R7, R10, -16, asm.DWord)}, storeAt(R7))), out())},
		{name: "join: context pointer on one path", rule: "pruning compares pointer types", typ: sf, insns: cat(asm.Instructions{
			asm.LoadMem(R6, R1, 0, asm.Word)}, join(
			asm.Instructions{asm.Mov.Reg(R7, R10), asm.Add.Imm(R7, -8)}, asm.Instructions{asm.Mov.Reg(R7, R1)},
			asm.Instructions{asm.StoreImm(R7, 0, 0, asm.Word)}), ret0())},
		{name: "join: smaller packet range on one path", rule: "pruning compares packet ranges", typ: xdp, insns: cat(pkt(), asm.Instructions{
			asm.LoadMem(R6, R1, 12, asm.Word)}, join(
			asm.Instructions{asm.Mov.Reg(R4, R2), asm.Add.Imm(R4, 14), asm.JGT.Reg(R4, R3, "out")},
			asm.Instructions{asm.Mov.Reg(R4, R2), asm.Add.Imm(R4, 4), asm.JGT.Reg(R4, R3, "out")},
			asm.Instructions{asm.LoadMem(R0, R2, 10, asm.Word), asm.Return()}), out())},
		{name: "join: null check on one path only", rule: "pruning compares null-ness", typ: kp, insns: cat(prandom(R6), lookup("hash"), asm.Instructions{
			asm.Mov.Reg(R7, R0)}, join(
			asm.Instructions{asm.JEq.Imm(R7, 0, "out")}, asm.Instructions{asm.Mov.Imm(R0, 0)},
			asm.Instructions{asm.StoreImm(R7, 0, 0, asm.Byte)}), out())},
		{name: "join: reservation released on one path only", rule: "pruning compares held references", typ: kp, insns: cat(prandom(R6), reserve(8), asm.Instructions{
			asm.JEq.Imm(R0, 0, "out"),
			asm.Mov.Reg(R7, R0)}, join(
			asm.Instructions{asm.Mov.Reg(R1, R7), asm.Mov.Imm(R2, 0), asm.FnRingbufSubmit.Call()}, asm.Instructions{asm.Mov.Imm(R0, 0)},
			ret0()), out())},
		{name: "loop writes one past the value", rule: "every iteration of a loop is checked", typ: kp, insns: cat(checked("array"), asm.Instructions{
			asm.Mov.Reg(R8, R0),
			asm.Mov.Imm(R7, 0),
			asm.Mov.Reg(R9, R8).WithSymbol("loop"),
			asm.Add.Reg(R9, R7),
			asm.StoreImm(R9, 0, 0, asm.Byte),
			asm.Add.Imm(R7, 1),
			asm.JLT.Imm(R7, 17, "loop")}, out())},
		{name: "loop whose counter is reset", rule: "a loop must be proven to end", typ: sf, insns: asm.Instructions{
			asm.Mov.Imm(R0, 0),
			asm.Mov.Imm(R1, 0),
			asm.Add.Imm(R1, 1).WithSymbol("loop"),
			asm.JLT.Imm(R1, 10, "loop"),
			asm.Mov.Imm(R1, 0),
			asm.Ja.Label("loop")}},

		// ---- Null checks.
		{name: "null check with a 32-bit compare, null branch", rule: "w0 == 0 does not make a pointer NULL", typ: kp, insns: cat(lookup("hash"), asm.Instructions{
			asm.JEq.Imm32(R0, 0, "null"),
			asm.Mov.Imm(R0, 0), asm.Return(),
			asm.Mov.Reg(R1, R10).WithSymbol("null"),
			asm.Add.Reg(R1, R0),
			stDW(R1, -8, 0)}, ret0())},
		{name: "null check with a 32-bit compare, other branch", rule: "the kernel null-checks only with 64-bit compares", typ: kp, insns: cat(lookup("hash"), asm.Instructions{
			asm.JNE.Imm32(R0, 0, "ok"),
			asm.Mov.Imm(R0, 0), asm.Return(),
			asm.StoreImm(R0, 0, 0, asm.Byte).WithSymbol("ok")}, ret0())},
		{name: "null check against a register holding zero", rule: "a comparison with a register known to be 0", typ: kp, insns: cat(lookup("hash"), asm.Instructions{
			asm.Mov.Imm(R1, 0),
			asm.JEq.Reg(R0, R1, "out"),
			asm.StoreImm(R0, 0, 0, asm.Byte)}, out())},
		{name: "null check with JGT", rule: "only == and != null-check", typ: kp, insns: cat(lookup("hash"), asm.Instructions{
			asm.JGT.Imm(R0, 0, "ok"),
			asm.Mov.Imm(R0, 0), asm.Return(),
			asm.StoreImm(R0, 0, 0, asm.Byte).WithSymbol("ok")}, ret0())},
		{name: "array lookup with out-of-range constant key", rule: "key 4 of a 4-entry array may not exist", typ: kp, insns: asm.Instructions{
			asm.StoreImm(R10, -4, 4, asm.Word),
			asm.LoadMapPtr(R1, 0).WithReference("array"),
			asm.Mov.Reg(R2, R10), asm.Add.Imm(R2, -4),
			asm.FnMapLookupElem.Call(),
			asm.StoreImm(R0, 0, 0, asm.Byte), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "ok: array lookup with constant key 0", rule: "the kernel knows key 0 (four zeroed stack bytes) of an array exists", typ: kp, kernel: true, insns: asm.Instructions{
			asm.StoreImm(R10, -4, 0, asm.Word),
			asm.LoadMapPtr(R1, 0).WithReference("array"),
			asm.Mov.Reg(R2, R10), asm.Add.Imm(R2, -4),
			asm.FnMapLookupElem.Call(),
			asm.StoreImm(R0, 0, 0, asm.Byte), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "array lookup with a partly initialised key", rule: "a key with unknown bytes is not a constant", typ: kp, insns: asm.Instructions{
			asm.StoreImm(R10, -4, 0, asm.Half),
			asm.LoadMapPtr(R1, 0).WithReference("array"),
			asm.Mov.Reg(R2, R10), asm.Add.Imm(R2, -4),
			asm.FnMapLookupElem.Call(),
			asm.StoreImm(R0, 0, 0, asm.Byte), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "array lookup with a variable key", rule: "a key that may be out of range may miss", typ: kp, insns: cat(prandom(R6), asm.Instructions{
			asm.And.Imm(R6, 7),
			asm.StoreMem(R10, -8, R6, asm.DWord),
			asm.LoadMapPtr(R1, 0).WithReference("array"),
			asm.Mov.Reg(R2, R10), asm.Add.Imm(R2, -8),
			asm.FnMapLookupElem.Call(),
			asm.StoreImm(R0, 0, 0, asm.Byte), asm.Mov.Imm(R0, 0), asm.Return()})},

		// ---- Packets.
		{name: "packet check with a 32-bit compare", rule: "only 64-bit compares prove packet ranges", typ: xdp, insns: cat(pkt(), asm.Instructions{
			asm.Mov.Reg(R4, R2), asm.Add.Imm(R4, 14),
			asm.JGT.Reg32(R4, R3, "out"),
			asm.LoadMem(R0, R2, 12, asm.Half), asm.Return()}, out())},
		{name: "packet read before a variable start", rule: "data + x - 1 may be before data", typ: xdp, insns: cat(pktChecked(14), asm.Instructions{
			asm.LoadMem(R5, R2, 0, asm.Byte),
			asm.Add.Reg(R2, R5),
			asm.Mov.Reg(R4, R2), asm.Add.Imm(R4, 14),
			asm.JGT.Reg(R4, R3, "out"),
			asm.LoadMem(R0, R2, -1, asm.Byte), asm.Return()}, out())},
		{name: "ok: packet read at a checked variable offset", rule: "ranges of variable packet pointers", typ: xdp, kernel: true, insns: cat(pktChecked(14), asm.Instructions{
			asm.LoadMem(R5, R2, 0, asm.Byte),
			asm.Add.Reg(R2, R5),
			asm.Mov.Reg(R4, R2), asm.Add.Imm(R4, 14),
			asm.JGT.Reg(R4, R3, "out"),
			asm.LoadMem(R0, R2, 13, asm.Byte), asm.Return()}, out())},
		{name: "packet pointer plus a huge constant", rule: "packet offsets stay below 64 KiB", typ: xdp, insns: cat(pkt(), asm.Instructions{
			asm.Mov.Reg(R4, R2), asm.Add.Imm(R4, 0x7fffffff),
			asm.JGT.Reg(R4, R3, "out"),
			asm.LoadMem(R0, R2, 0, asm.Byte), asm.Return()}, out())},
		{name: "packet write in cgroup_skb", rule: "cgroup_skb packets are read-only", typ: ebpf.CGroupSKB, insns: cat(tcPkt(), asm.Instructions{
			asm.Mov.Reg(R4, R2), asm.Add.Imm(R4, 1),
			asm.JGT.Reg(R4, R3, "out"),
			asm.StoreImm(R2, 0, 0, asm.Byte)}, out())},
		{name: "ok: packet read in cgroup_skb", rule: "cgroup_skb may read its packet", typ: ebpf.CGroupSKB, kernel: true, insns: cat(tcPkt(), asm.Instructions{
			asm.Mov.Reg(R4, R2), asm.Add.Imm(R4, 1),
			asm.JGT.Reg(R4, R3, "out"),
			asm.LoadMem(R0, R2, 0, asm.Byte), asm.And.Imm(R0, 1), asm.Return()}, out())},
		{name: "xdp_adjust_head invalidates packet pointers", rule: "helpers that move the packet invalidate pointers into it", typ: xdp, insns: cat(
			asm.Instructions{asm.Mov.Reg(R7, R1)}, pktChecked(14), asm.Instructions{
				asm.Mov.Reg(R6, R2),
				asm.Mov.Reg(R1, R7), asm.Mov.Imm(R2, 0), asm.FnXdpAdjustHead.Call(),
				asm.LoadMem(R0, R6, 0, asm.Byte), asm.Return()}, out())},
		{name: "xdp_adjust_head invalidates spilled packet pointers", rule: "also the pointers spilled to the stack", typ: xdp, insns: cat(
			asm.Instructions{asm.Mov.Reg(R7, R1)}, pktChecked(14), asm.Instructions{
				asm.StoreMem(R10, -8, R2, asm.DWord),
				asm.Mov.Reg(R1, R7), asm.Mov.Imm(R2, 0), asm.FnXdpAdjustHead.Call(),
				asm.LoadMem(R6, R10, -8, asm.DWord),
				asm.LoadMem(R0, R6, 0, asm.Byte), asm.Return()}, out())},
		{name: "skb_pull_data invalidates packet pointers", rule: "helpers that move the packet invalidate pointers into it", typ: cls, insns: cat(
			asm.Instructions{asm.Mov.Reg(R7, R1)}, tcPkt(), asm.Instructions{
				asm.Mov.Reg(R4, R2), asm.Add.Imm(R4, 14),
				asm.JGT.Reg(R4, R3, "out"),
				asm.Mov.Reg(R6, R2),
				asm.Mov.Reg(R1, R7), asm.Mov.Imm(R2, 0), asm.FnSkbPullData.Call(),
				asm.LoadMem(R0, R6, 0, asm.Byte), asm.Return()}, out())},

		// ---- Contexts of other program types and attach types.
		{name: "tc cb write spanning into hash", rule: "an access must lie within one field range", typ: cls, insns: asm.Instructions{
			stDW(R1, 64, 0), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "ok: tc cb write of 8 bytes", rule: "cb may be written 8 bytes at a time", typ: cls, kernel: true, insns: asm.Instructions{
			stDW(R1, 48, 0), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "socket filter reads family", rule: "socket filters see only some __sk_buff fields", typ: sf, insns: asm.Instructions{
			asm.LoadMem(R0, R1, 88, asm.Word), asm.Return()}},
		{name: "cgroup sock writes mark after bind", rule: "bpf_sock.mark is writable only at socket creation", typ: ebpf.CGroupSock, attach: ebpf.AttachCGroupInet4PostBind, insns: asm.Instructions{
			asm.StoreImm(R1, 16, 1, asm.Word), asm.Mov.Imm(R0, 1), asm.Return()}},
		{name: "ok: cgroup sock writes mark at creation", rule: "bpf_sock.mark at socket creation", typ: ebpf.CGroupSock, attach: ebpf.AttachCGroupInetSockCreate, kernel: true, insns: asm.Instructions{
			asm.StoreImm(R1, 16, 1, asm.Word), asm.Mov.Imm(R0, 1), asm.Return()}},
		{name: "cgroup sock returns 2", rule: "cgroup sock programs return 0 or 1", typ: ebpf.CGroupSock, insns: asm.Instructions{
			asm.Mov.Imm(R0, 2), asm.Return()}},
		{name: "cgroup skb ingress returns 2", rule: "cgroup_skb ingress programs return 0 or 1", typ: ebpf.CGroupSKB, insns: asm.Instructions{
			asm.Mov.Imm(R0, 2), asm.Return()}},
		{name: "ok: cgroup skb egress returns 2", rule: "cgroup_skb egress programs may return up to 3", typ: ebpf.CGroupSKB, attach: ebpf.AttachCGroupInetEgress, kernel: true, insns: asm.Instructions{
			asm.Mov.Imm(R0, 2), asm.Return()}},
		{name: "cgroup skb returns an unknown value", rule: "the return value must be proven in range", typ: ebpf.CGroupSKB, insns: asm.Instructions{
			asm.LoadMem(R0, R1, 0, asm.Word), asm.Return()}},
		{name: "cgroup sysctl writes write", rule: "bpf_sysctl.write is read-only", typ: ebpf.CGroupSysctl, insns: asm.Instructions{
			asm.StoreImm(R1, 0, 1, asm.Word), asm.Mov.Imm(R0, 1), asm.Return()}},
		{name: "raw_tp ctx past 12 arguments", rule: "raw_tp contexts hold at most 12 arguments", typ: ebpf.RawTracepoint, insns: asm.Instructions{
			asm.LoadMem(R0, R1, 96, asm.DWord), asm.Return()}},
		{name: "raw_tp ctx write", rule: "raw_tp contexts are read-only", typ: ebpf.RawTracepoint, insns: asm.Instructions{
			stDW(R1, 0, 0), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "perf_event ctx past bpf_perf_event_data", rule: "perf_event contexts end after addr", typ: ebpf.PerfEvent, insns: asm.Instructions{
			asm.LoadMem(R0, R1, 184, asm.DWord), asm.Return()}},
		{name: "ok: perf_event reads sample_period", rule: "bpf_perf_event_data.sample_period", typ: ebpf.PerfEvent, kernel: true, insns: asm.Instructions{
			asm.LoadMem(R0, R1, 168, asm.DWord), asm.Return()}},
		{name: "tp_btf reads past its arguments", rule: "sched_process_exec has 3 arguments", typ: ebpf.Tracing, attach: ebpf.AttachTraceRawTp, attachTo: "sched_process_exec", insns: asm.Instructions{
			asm.LoadMem(R2, R1, 24, asm.DWord), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "tp_btf writes its context", rule: "tracing contexts are read-only", typ: ebpf.Tracing, attach: ebpf.AttachTraceRawTp, attachTo: "sched_process_exec", insns: asm.Instructions{
			stDW(R1, 8, 0), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "ok: tp_btf reads its third argument", rule: "tracing arguments", typ: ebpf.Tracing, attach: ebpf.AttachTraceRawTp, attachTo: "sched_process_exec", kernel: true, insns: asm.Instructions{
			asm.LoadMem(R2, R1, 16, asm.DWord), asm.Mov.Imm(R0, 0), asm.Return()}},

		// ---- Found by FuzzVerifyThenRun against the kernel.
		{name: "lddw into r10", rule: "r10 is read-only, also for 64-bit immediates", typ: sf, raw: rawProg(
			rawInsn(opLddw, 10, 0, 0, 1), rawInsn(0, 0, 0, 0, 0), rawRet0)},
		{name: "map load into r10", rule: "r10 is read-only, also for map loads", typ: sf, insns: asm.Instructions{
			asm.LoadMapPtr(R10, 0).WithReference("array"), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "map fd load with a nonzero upper immediate", rule: "the second slot of an lddw of a map fd is zero", typ: sf, insns: asm.Instructions{
			mapPtrHigh(R1, "array"), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "atomic with unknown operation bits", rule: "the immediate of an atomic is exactly one operation", typ: sf, raw: rawProg(
			stDWRaw(-8), rawInsn(opMov64Imm, 1, 0, 0, 1), rawInsn(0xdb, 10, 1, -8, 0x30303041), rawRet0)},
		{name: "r0 after ringbuf_discard", rule: "ringbuf_discard returns nothing, so r0 is not initialised", typ: kp, insns: cat(reserve(8), asm.Instructions{
			asm.JEq.Imm(R0, 0, "out"),
			asm.Mov.Reg(R1, R0), asm.Mov.Imm(R2, 0), asm.FnRingbufDiscard.Call(),
			asm.Return()}, out())},
		{name: "r0 after ringbuf_submit", rule: "ringbuf_submit returns nothing, so r0 is not initialised", typ: kp, insns: cat(reserve(8), asm.Instructions{
			asm.JEq.Imm(R0, 0, "out"),
			asm.Mov.Reg(R1, R0), asm.Mov.Imm(R2, 0), asm.FnRingbufSubmit.Call(),
			asm.Return()}, out())},
		{name: "infinite loop through a re-initialisation", rule: "a loop that comes back to the same state never ends", typ: sf, raw: rawProg(
			rawInsn(opMov64Imm, 0, 0, 0, 1), rawInsn(0xc5 /* if r0 s< 10 goto 0 */, 0, 0, -2, 10), rawInsn(opExit, 0, 0, 0, 0))},
		{name: "packet range proven beyond 64 KiB", rule: "the kernel trusts no packet range above MAX_PACKET_OFF (0xffff)", typ: xdp, insns: cat(pkt(), asm.Instructions{
			asm.Mov.Reg(R4, R2), asm.Add.Imm(R4, 0x30000),
			asm.JGT.Reg(R4, R3, "out"),
			asm.LoadMem(R0, R2, 0x3030, asm.Word), asm.Return()}, out())},
		{name: "one store to the stack or the context", rule: "an instruction that touches the context must touch nothing else (the kernel rewrites context accesses)", typ: cls, insns: cat(asm.Instructions{
			asm.LoadMem(R6, R1, 0, asm.Word)}, join(
			asm.Instructions{asm.Mov.Reg(R7, R10), asm.Add.Imm(R7, -56)}, asm.Instructions{asm.Mov.Reg(R7, R1)},
			asm.Instructions{asm.StoreImm(R7, 48, 0, asm.Word)}), ret0())},
		{name: "null check against a register holding zero unprivileged", rule: "unprivileged programs compare pointers only with the immediate 0", typ: sf, unpriv: true, insns: cat(lookup("hash"), asm.Instructions{
			asm.Mov.Imm(R1, 0),
			asm.JEq.Reg(R0, R1, "out"),
			asm.StoreImm(R0, 0, 0, asm.Byte)}, out())},
		{name: "unused map value pointer plus a 32-bit number", rule: "the kernel refuses pointer offsets that may reach 2^29 (BPF_MAX_VAR_OFF), even unused", typ: kp, insns: cat(prandom(R7), checked("array"), asm.Instructions{
			asm.Add.Reg(R0, R7)}, out())},
		{name: "unused map value pointer plus 2^29", rule: "the kernel refuses constant pointer offsets of 2^29 and more, even unused", typ: kp, insns: cat(checked("array"), asm.Instructions{
			asm.Mov.Imm(R7, 1<<29),
			asm.Add.Reg(R0, R7)}, out())},
		{name: "xdp reads egress_ifindex outside a devmap", rule: "xdp_md.egress_ifindex exists only for programs attached to a devmap", typ: xdp, insns: asm.Instructions{
			asm.LoadMem(R0, R1, 20, asm.Word), asm.Return()}},
		{name: "ok: devmap xdp reads egress_ifindex", rule: "xdp_md.egress_ifindex in a devmap program", typ: xdp, attach: ebpf.AttachXDPDevMap, kernel: true, insns: asm.Instructions{
			asm.LoadMem(R0, R1, 20, asm.Word), asm.Return()}},
		{name: "packet check with data - 1", rule: "data - 1 <= data_end proves nothing about data[0]", typ: xdp, insns: cat(pkt(), asm.Instructions{
			asm.Mov.Reg(R4, R2), asm.Add.Imm(R4, -1),
			asm.JGT.Reg(R4, R3, "out"),
			asm.LoadMem(R0, R2, 0, asm.Byte), asm.Return()}, out())},
		{name: "packet check with a pointer that wraps", rule: "data + 2^63 may wrap below data_end", typ: xdp, insns: cat(pkt(), asm.Instructions{
			asm.LoadImm(R5, -0x8000000000000000, asm.DWord),
			asm.Mov.Reg(R4, R2), asm.Add.Reg(R4, R5),
			asm.JGT.Reg(R4, R3, "out"),
			asm.LoadMem(R0, R2, 0, asm.Byte), asm.Return()}, out())},
		{name: "packet check with 2^62", rule: "data + 2^62 may wrap below data_end", typ: xdp, insns: cat(pkt(), asm.Instructions{
			asm.LoadImm(R5, 0x4000000000000000, asm.DWord),
			asm.Mov.Reg(R4, R2), asm.Add.Reg(R4, R5),
			asm.JGT.Reg(R4, R3, "out"),
			asm.LoadMem(R0, R2, 0, asm.Byte), asm.Return()}, out())},
		{name: "negative variable offset with a positive constant", rule: "offsets in [-4, 3] + 7 stay in the value, but the kernel wants a variable offset's minimum >= 0", typ: kp, insns: cat(prandom(R6), checked("array"), asm.Instructions{
			asm.And.Imm(R6, 7),
			asm.Sub.Imm(R6, 4),
			asm.Add.Reg(R0, R6),
			asm.LoadMem(R1, R0, 7, asm.Word)}, out())},
		{name: "unused out-of-bounds map value pointer", rule: "the kernel refuses to compute a map value pointer with an unbounded offset, even unused", typ: kp, insns: cat(ctxU64, checked("array"), asm.Instructions{
			asm.Add.Reg(R0, R6)}, out())},
		{name: "stack pointer out of range unprivileged", rule: "unprivileged pointer arithmetic must stay in bounds (Spectre v1)", typ: sf, unpriv: true, insns: asm.Instructions{
			asm.Mov.Reg(R2, R10), asm.Add.Imm(R2, 4096), asm.Mov.Imm(R0, 0), asm.Return()}},
		{name: "map value offset near 2^63", rule: "offset arithmetic must not overflow in the verifier", typ: kp, insns: cat(prandom(R6), checked("array"), asm.Instructions{
			asm.LoadImm(R1, 0x7ffffffffffffffc, asm.DWord),
			asm.Add.Reg(R0, R1),
			asm.And.Imm(R6, 8)}, storeAt(R6), out())},
		{name: "variable offset near 2^63", rule: "offset ranges must not overflow in the verifier", typ: kp, insns: cat(prandom(R6), checked("array"), asm.Instructions{
			asm.And.Imm(R6, 8),
			asm.LoadImm(R1, 0x7ffffffffffffffc, asm.DWord),
			asm.Add.Reg(R6, R1)}, storeAt(R6), out())},

		{name: "ok: xdp returns a pointer privileged", rule: "XDP return values are not checked", typ: xdp, kernel: true, insns: asm.Instructions{
			asm.Mov.Reg(R0, R1), asm.Return()}},
	}
}

// mapPtrHigh is a map load whose second immediate (the value offset of a
// direct value load) is set although the source is a map fd.
func mapPtrHigh(dst asm.Register, m string) asm.Instruction {
	ins := asm.LoadMapPtr(dst, 0).WithReference(m)
	ins.Constant = 1 << 32
	return ins
}

// stDWRaw is "*(u64 *)(r10 + off) = 0" as raw bytecode.
func stDWRaw(off int16) []byte { return rawInsn(0x7a, 10, 0, off, 0) }
