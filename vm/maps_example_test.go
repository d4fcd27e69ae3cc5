package vm_test

import (
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf/asm"

	"github.com/wagglebpf/waggle/vm"
)

// A program that counts its runs in an array map, through the pointer
// map_lookup_elem returns, and Go reading the count.
func ExampleLoadInstructionsWithMaps() {
	counts, err := vm.NewMap(vm.MapSpec{Type: vm.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		panic(err)
	}
	prog, err := vm.LoadInstructionsWithMaps(asm.Instructions{
		asm.StoreImm(asm.R10, -4, 0, asm.Word), // key 0
		asm.LoadMapPtr(asm.R1, 0).WithReference("counts"),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"), // the NULL check the kernel insists on
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	}, map[string]vm.Map{"counts": counts})
	if err != nil {
		panic(err)
	}
	opts := vm.RunOptions{Helpers: vm.MapHelpers()}
	for range 3 {
		if _, err := prog.Run(nil, opts); err != nil {
			panic(err)
		}
	}
	v, _ := counts.Lookup([]byte{0, 0, 0, 0})
	fmt.Println(binary.LittleEndian.Uint64(v))
	// Output: 3
}
