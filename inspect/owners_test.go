package inspect

import (
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/internal/kerneltest"
)

func TestOwnersFindsThisProcess(t *testing.T) {
	kerneltest.Require(t)
	m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "owners_test", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.SocketFilter, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	mi, _ := m.Info()
	mid, _ := mi.ID()
	pi, _ := p.Info()
	pid, _ := pi.ID()

	h, err := Owners()
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	for _, c := range []struct {
		kind ObjectKind
		id   uint32
	}{{KindMap, uint32(mid)}, {KindProg, uint32(pid)}} {
		ps := h.For(c.kind, c.id)
		found := false
		for _, p := range ps {
			if p.PID == self && p.Comm != "" {
				found = true
			}
		}
		if !found {
			t.Errorf("kind %d id %d: holders %v do not include this process (%d)", c.kind, c.id, ps, self)
		}
	}
	if ps := h.For(KindLink, ^uint32(0)); len(ps) != 0 {
		t.Errorf("an unused link id has holders: %v", ps)
	}
}

func TestOwnersMissingProc(t *testing.T) {
	if _, err := ownersIn(t.TempDir() + "/nope"); err == nil {
		t.Fatal("a missing /proc is not an error")
	}
}
