package vm_test

import (
	"errors"
	"testing"

	"github.com/wagglebpf/waggle/vm"
	"github.com/wagglebpf/waggle/vm/internal/fuzzhelpers"
)

// FuzzRun feeds arbitrary bytes to Load as bytecode and runs whatever it
// accepts over arbitrary memory, with helpers that touch memory through
// Env. The program may be rejected or stop with an error; it must never
// panic, hang or reach memory it was not given.
func FuzzRun(f *testing.F) {
	f.Add(coreCat(coreRaw(0xb7, 0, 0, 0, 42), coreExit), []byte{})
	f.Add(coreCat(coreRaw(0x71, 0, 1, 0, 0), coreExit), []byte{7})
	f.Add(coreCat(coreRaw(0x79, 0, 1, 4, 0), coreExit), []byte{1, 2, 3, 4})
	f.Add(coreCat(coreRaw(0x85, 0, 0, 0, 1), coreRaw(0x85, 0, 1, 0, -2), coreExit), []byte{1, 2})
	f.Add(coreCat(coreRaw(0xb7, 1, 0, 0, 8), coreRaw(0xdb, 10, 1, -8, 0xf1), coreRaw(0x05, 0, 0, -3, 0)), []byte{})
	f.Add(coreCat(coreLddw(2, 0x20000000), coreRaw(0x30, 0, 0, 0, 1), coreRaw(0x8d, 2, 0, 0, 0), coreExit), []byte{9, 9})

	helpers := fuzzhelpers.Helpers()
	f.Fuzz(func(t *testing.T, code, mem []byte) {
		p, err := vm.Load(code)
		if err != nil {
			var le *vm.LoadError
			if !errors.As(err, &le) {
				t.Fatalf("Load error %v is not a *LoadError", err)
			}
			return
		}
		_, err = p.Run(mem, vm.RunOptions{Helpers: helpers, MaxSteps: 1 << 14})
		if err != nil {
			var re *vm.RunError
			if !errors.As(err, &re) {
				t.Fatalf("Run error %v is not a *RunError", err)
			}
		}
	})
}
