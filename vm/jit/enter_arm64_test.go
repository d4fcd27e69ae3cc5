//go:build arm64 && linux

package jit

import (
	"testing"

	"github.com/wagglebpf/waggle/vm"
)

// TestSyncICacheARM64 runs the cache maintenance routine over mapped code
// (read-execute by then: dc cvau and ic ivau only need read access) and
// runs the code afterwards.
func TestSyncICacheARM64(t *testing.T) {
	p, err := vm.Load([]byte{0xb7, 0x00, 0, 0, 42, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0}) // r0 = 42; exit
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compile(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	syncICache(c.exec.mem)
	syncICache(c.exec.mem[1:7]) // unaligned bounds
	if r0, err := c.Run(nil, vm.RunOptions{}); r0 != 42 || err != nil {
		t.Fatalf("r0 = %d, %v", r0, err)
	}
}
