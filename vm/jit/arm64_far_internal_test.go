package jit

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/internal/conformance"
	"github.com/wagglebpf/waggle/vm"
	"github.com/wagglebpf/waggle/vm/internal/jitabi"
)

// TestARM64FarMode checks that a program too large for b.cond to reach
// stubs at its end is compiled in far mode (TestARM64Far runs one), and
// that a small one is not.
func TestARM64FarMode(t *testing.T) {
	if os.Getenv("WAGGLE_UNDER_QEMU") == "1" {
		t.Skip("generates code without running it: the host runs this test")
	}
	for _, tc := range []struct {
		n   int
		far bool
	}{{10, false}, {70000, true}} {
		var b strings.Builder
		b.WriteString("mov %r0, 0\nmov %r2, 3\nloop:\nldxw %r3, [%r10-4]\nstxw [%r1+0], %r3\nsub %r2, 1\njne %r2, 0, loop\n")
		for i := 0; i < tc.n; i++ {
			fmt.Fprintf(&b, "lddw %%r1, %#x\nadd %%r0, %%r1\n", uint64(i)*0x9e3779b97f4a7c15)
		}
		b.WriteString("exit\n")
		code, err := conformance.Assemble(b.String())
		if err != nil {
			t.Fatal(err)
		}
		p, err := vm.Load(code)
		if err != nil {
			t.Fatal(err)
		}
		c := &a64Compiler{p: jitabi.Source(p), notes: map[int]string{}}
		if err := c.compile(); err != nil {
			t.Fatal(err)
		}
		if far := !c.link(); far != tc.far {
			t.Errorf("%d instructions: far %v, want %v", tc.n, far, tc.far)
		}
	}
}
