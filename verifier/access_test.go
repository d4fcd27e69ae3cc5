package verifier

import (
	"slices"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// TestAccessFacts checks Report.Access and Report.PacketFields: what each
// load and store was proved to touch, on every path.
func TestAccessFacts(t *testing.T) {
	insns := prog(
		xdpData(), // 0, 1: context
		asm.Instructions{
			asm.Mov.Reg(asm.R4, asm.R2),                                  // 2
			asm.Add.Imm(asm.R4, 8),                                       // 3
			asm.JGT.Reg(asm.R4, asm.R3, "out"),                           // 4
			asm.LoadMem(asm.R5, asm.R2, 4, asm.Word),                     // 5: packet
			stDW(asm.RFP, -8, 1),                                         // 6: stack through r10
			asm.Mov.Reg(asm.R6, asm.RFP),                                 // 7
			asm.Add.Imm(asm.R6, -8),                                      // 8
			asm.JEq.Imm(asm.R5, 0, "stack"),                              // 9
			asm.Mov.Reg(asm.R6, asm.R2),                                  // 10
			asm.LoadMem(asm.R0, asm.R6, 0, asm.Byte).WithSymbol("stack"), // 11: packet or stack
			asm.LoadMem(asm.R0, asm.R1, 16, asm.Word),                    // 12: context
		},
		lookup("array"), // 13-18: store to the stack at 13
		asm.Instructions{
			asm.JEq.Imm(asm.R0, 0, "out"),             // 19
			asm.LoadMem(asm.R0, asm.R0, 0, asm.DWord), // 20: map value
			asm.Mov.Imm(asm.R0, 2).WithSymbol("out"),
			asm.Return(),
		},
	)
	rep, err := Verify(insns, ebpf.XDP, testMaps, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Accepted {
		t.Fatal(rep.Rejection)
	}
	want := map[int]Access{
		0: AccessContext, 1: AccessContext, 5: AccessPacket, 6: AccessStack,
		11: AccessPacket | AccessStack, 12: AccessContext, 13: AccessStack, 20: AccessOther,
	}
	if len(rep.Access) != 23 {
		t.Fatalf("%d access facts for 23 slots", len(rep.Access))
	}
	for pc, a := range rep.Access {
		if a != want[pc] {
			t.Errorf("pc %d: access %b, want %b", pc, a, want[pc])
		}
	}
	if f := []ContextField{{0, 4}, {4, 4}}; !slices.Equal(rep.PacketFields, f) {
		t.Errorf("packet fields %v, want %v", rep.PacketFields, f)
	}
}
