package kernelbtf

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/wagglebpf/waggle/internal/kerneltest"
)

func TestVmlinux(t *testing.T) {
	if _, err := os.Stat(VmlinuxPath); err != nil {
		kerneltest.Skip(t, "the kernel exposes no BTF: "+err.Error())
	}
	b, err := Vmlinux()
	if err != nil {
		t.Fatal(err)
	}
	if len(b.TypesByName("task_struct")) == 0 {
		t.Error("vmlinux BTF has no task_struct")
	}
	if b2, err := LoadModule("vmlinux"); err != nil || b2.NumTypes() != b.NumTypes() {
		t.Errorf("LoadModule(vmlinux): %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	text := t.TempDir() + "/notes.txt"
	if err := os.WriteFile(text, []byte("these are not types, just words in a file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		load func() error
		want string
	}{
		{func() error { _, err := LoadModule("no_such_module_xyz"); return err }, `no kernel module "no_such_module_xyz" with BTF`},
		{func() error { _, err := LoadModule("../etc"); return err }, "is not a kernel module name"},
		{func() error { _, err := LoadFile("/nonexistent/file.o"); return err }, "cannot read /nonexistent/file.o: no such file or directory"},
		{func() error { _, err := LoadFile(text); return err }, "not BTF"},
	} {
		if err := tc.load(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
}

// TestKernelObjects lists the kernel's BTF objects, finds the one a new
// map was created with and the map among its users, and reads vmlinux's
// by ID.
func TestKernelObjects(t *testing.T) {
	kerneltest.Require(t)

	// A map with BTF for its key and value loads a BTF object of its own.
	key := &btf.Int{Name: "u32", Size: 4}
	value := &btf.Struct{Name: "kernelbtf_test_value", Size: 8, Members: []btf.Member{
		{Name: "count", Type: &btf.Int{Name: "u64", Size: 8}},
	}}
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1, Key: key, Value: value})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	mi, err := m.Info()
	if err != nil {
		t.Fatal(err)
	}
	mapID, _ := mi.ID()
	btfID, ok := mi.BTFID()
	if !ok {
		t.Fatal("the map has no BTF")
	}

	infos, err := List()
	if err != nil {
		t.Fatal(err)
	}
	var vmlinux, mine *Info
	for i := range infos {
		switch {
		case infos[i].Name == "vmlinux":
			vmlinux = &infos[i]
		case infos[i].ID == uint32(btfID):
			mine = &infos[i]
		}
	}
	if vmlinux == nil || !vmlinux.Kernel || vmlinux.Module() || vmlinux.Size == 0 {
		t.Fatalf("vmlinux in the list: %+v", vmlinux)
	}
	if mine == nil || mine.Kernel || !slices.Contains(mine.Maps, uint32(mapID)) {
		t.Fatalf("the map's BTF object %d: %+v (want map %d among its users)", btfID, mine, mapID)
	}

	shown, err := Show(uint32(btfID))
	if err != nil || shown.ID != uint32(btfID) || !slices.Contains(shown.Maps, uint32(mapID)) {
		t.Errorf("Show(%d) = %+v, %v", btfID, shown, err)
	}

	// The map's BTF read back by ID holds the value type.
	b, info, err := Load(uint32(btfID))
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != mine.Size || len(b.TypesByName("kernelbtf_test_value")) != 1 {
		t.Errorf("Load(%d): size %d, types %d", btfID, info.Size, b.NumTypes())
	}

	// vmlinux by ID is the same as /sys/kernel/btf/vmlinux.
	byID, _, err := Load(vmlinux.ID)
	if err != nil {
		t.Fatal(err)
	}
	sysfs, err := Vmlinux()
	if err != nil {
		t.Fatal(err)
	}
	var x, y bytes.Buffer
	if err := byID.WriteRaw(&x, false); err != nil {
		t.Fatal(err)
	}
	if err := sysfs.WriteRaw(&y, false); err != nil {
		t.Fatal(err)
	}
	if x.String() != y.String() {
		t.Error("vmlinux read by ID differs from /sys/kernel/btf/vmlinux")
	}

	if _, err := Show(0x7ffffff0); err == nil || !strings.Contains(err.Error(), "no BTF object with ID") {
		t.Errorf("Show of a missing ID: %v", err)
	}
}
