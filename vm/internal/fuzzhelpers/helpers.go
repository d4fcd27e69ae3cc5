// Package fuzzhelpers holds the helper table that the VM's fuzz target and
// the JIT's differential tests run random programs with, so that both
// exercise the same helper behaviours: one that mixes its arguments, ones
// that touch memory through Env, one that adds a region, and one that
// stops the program.
package fuzzhelpers

import "github.com/wagglebpf/waggle/vm"

// Helpers returns a fresh table of helpers 0, 1, 2, 3 and 5 (a call of
// any other id is an unknown helper).
func Helpers() map[int32]vm.HelperFunc {
	return map[int32]vm.HelperFunc{
		0: func(env *vm.Env, a [5]uint64) (uint64, error) { return a[0] ^ a[1], nil },
		1: func(env *vm.Env, a [5]uint64) (uint64, error) {
			b, err := env.Bytes(a[0], a[1]&0xfff, true)
			if err != nil {
				return 0, err
			}
			for i := range b {
				b[i]++
			}
			return uint64(len(b)), nil
		},
		2: func(env *vm.Env, a [5]uint64) (uint64, error) {
			s, err := env.CString(a[0], int(a[1]&0xff))
			return uint64(len(s)), err
		},
		3: func(env *vm.Env, a [5]uint64) (uint64, error) {
			return env.AddRegion("scratch", make([]byte, a[0]&0xff), a[1]&1 == 1)
		},
		5: func(env *vm.Env, a [5]uint64) (uint64, error) {
			if a[0] == 0 {
				env.Stop()
			}
			return a[0], nil
		},
	}
}
