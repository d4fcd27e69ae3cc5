package vm_test

import (
	"fmt"

	"github.com/cilium/ebpf/asm"

	"github.com/wagglebpf/waggle/vm"
)

// Embedding: load a program built with cilium/ebpf's asm package, give it
// a helper written in Go, and run it over a buffer.
func Example() {
	// The program sums the bytes of mem (r1 = address, r2 = length) with a
	// helper and returns the sum plus one.
	prog, err := vm.LoadInstructions(asm.Instructions{
		asm.BuiltinFunc(1000).Call(), // r0 = sum(r1, r2)
		asm.Add.Imm(asm.R0, 1),
		asm.Return(),
	})
	if err != nil {
		panic(err)
	}

	sum := func(env *vm.Env, args [5]uint64) (uint64, error) {
		b, err := env.Bytes(args[0], args[1], false) // checked against the program's memory
		if err != nil {
			return 0, err
		}
		var s uint64
		for _, c := range b {
			s += uint64(c)
		}
		return s, nil
	}

	r0, err := prog.Run([]byte{1, 2, 3, 4}, vm.RunOptions{
		Helpers: map[int32]vm.HelperFunc{1000: sum},
	})
	fmt.Println(r0, err)
	// Output: 11 <nil>
}
