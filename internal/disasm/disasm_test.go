package disasm

import (
	"testing"

	"github.com/cilium/ebpf/asm"
)

func TestInsn(t *testing.T) {
	for _, c := range []struct {
		ins  asm.Instruction
		want string
	}{
		{asm.Mov.Imm(asm.R0, 0), "r0 = 0"},
		{asm.Mov.Imm32(asm.R0, 7), "w0 = 7"},
		{asm.Mov.Reg(asm.R1, asm.RFP), "r1 = r10"},
		{asm.Add.Imm(asm.R2, -8), "r2 += -8"},
		{asm.ArSh.Imm(asm.R2, 3), "r2 s>>= 3"},
		{asm.SDiv.Reg(asm.R2, asm.R3), "r2 s/= r3"},
		{asm.Neg.Imm(asm.R4, 0), "r4 = -r4"},
		{asm.HostTo(asm.BE, asm.R0, asm.Half), "r0 = be16 r0"},
		{asm.MovSX8.Reg(asm.R2, asm.R1), "r2 = (s8)r1"},
		{asm.LoadMem(asm.R1, asm.RFP, -8, asm.DWord), "r1 = *(u64 *)(r10 -8)"},
		{asm.StoreMem(asm.RFP, -4, asm.R1, asm.Word), "*(u32 *)(r10 -4) = r1"},
		{asm.StoreImm(asm.R1, 8, 7, asm.Word), "*(u32 *)(r1 +8) = 7"},
		{asm.StoreXAdd(asm.R0, asm.R1, asm.DWord), "lock *(u64 *)(r0 +0) += r1"},
		{asm.FetchAdd.Mem(asm.R0, asm.R1, asm.Word, 4), "w1 = atomic_fetch_add((u32 *)(r0 +4), w1)"},
		{asm.CmpXchg.Mem(asm.R1, asm.R2, asm.DWord, 0), "r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)"},
		{asm.LoadImm(asm.R1, 0x1234, asm.DWord), "r1 = 0x1234 ll"},
		{asm.LoadMapPtr(asm.R1, 0).WithReference("events"), "r1 = map[events]"},
		{asm.LoadAbs(12, asm.Half), "r0 = *(u16 *)skb[12]"},
		{asm.JEq.Imm(asm.R0, 0, "x"), "if r0 == 0x0 goto pc-1"},
		{asm.JGT.Reg32(asm.R1, asm.R2, "x"), "if w1 > w2 goto pc-1"},
		{asm.FnMapLookupElem.Call(), "call bpf_map_lookup_elem#1"},
		{asm.FnGetCurrentPidTgid.Call(), "call bpf_get_current_pid_tgid#14"},
		{asm.Return(), "exit"},
	} {
		if got := Insn(c.ins); got != c.want {
			t.Errorf("%v: got %q, want %q", c.ins, got, c.want)
		}
	}
}
