package feature

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

func (p *prober) btf() []Answer {
	out := []Answer{vmlinuxBTF(), moduleBTF()}
	intT := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	proto := &btf.FuncProto{Return: intT, Params: []btf.FuncParam{{Name: "a", Type: intT}}}
	probes := []struct {
		name, what string
		types      []btf.Type
	}{
		{"load", "loading BTF (ints and structs)", []btf.Type{&btf.Struct{Name: "s", Size: 4, Members: []btf.Member{{Name: "a", Type: intT}}}}},
		{"func", "BTF function kinds (FUNC, FUNC_PROTO)", []btf.Type{&btf.Func{Name: "f", Type: proto, Linkage: btf.StaticFunc}}},
		{"func_global", "global function linkage", []btf.Type{&btf.Func{Name: "f", Type: proto, Linkage: btf.GlobalFunc}}},
		{"var_datasec", "BTF variables and data sections (VAR, DATASEC)", []btf.Type{&btf.Datasec{Name: ".data", Size: 4, Vars: []btf.VarSecinfo{
			{Type: &btf.Var{Name: "v", Type: intT, Linkage: btf.GlobalVar}, Offset: 0, Size: 4},
		}}}},
		{"float", "the FLOAT kind", []btf.Type{&btf.Float{Name: "float", Size: 4}}},
		{"decl_tag", "the DECL_TAG kind", []btf.Type{&btf.Typedef{Name: "t", Type: intT, Tags: []string{"tag"}}}},
		{"type_tag", "the TYPE_TAG kind", []btf.Type{&btf.Pointer{Target: &btf.TypeTag{Type: intT, Value: "tag"}}}},
		{"enum64", "the ENUM64 kind", []btf.Type{&btf.Enum{Name: "e", Size: 8, Values: []btf.EnumValue{{Name: "BIG", Value: math.MaxUint32 + 1}}}}},
	}
	for _, pr := range probes {
		out = append(out, p.classifyBTF(pr.name, loadBTF(pr.types), pr.what))
	}
	out = append(out, p.mapBTF())
	return out
}

func vmlinuxBTF() Answer {
	const path = "/sys/kernel/btf/vmlinux"
	if _, err := os.Stat(path); err != nil {
		return Answer{Name: "vmlinux", Status: No, Reason: path + " is missing: the kernel was built without CONFIG_DEBUG_INFO_BTF, so CO-RE and typed probes need BTF from elsewhere"}
	}
	if _, err := btf.LoadKernelSpec(); err != nil {
		return Answer{Name: "vmlinux", Status: Unknown, Value: path, Reason: "cannot read it: " + cleanError(err)}
	}
	return Answer{Name: "vmlinux", Status: Yes, Value: path}
}

func moduleBTF() Answer {
	entries, err := os.ReadDir("/sys/kernel/btf")
	if err != nil {
		return Answer{Name: "modules", Status: No, Reason: "/sys/kernel/btf is missing"}
	}
	n := 0
	for _, e := range entries {
		if e.Name() != "vmlinux" {
			n++
		}
	}
	if n == 0 {
		return Answer{Name: "modules", Status: No, Reason: "no loaded module has BTF (none loaded, or built without CONFIG_DEBUG_INFO_BTF_MODULES)"}
	}
	return Answer{Name: "modules", Status: Yes, Value: strconv.Itoa(n) + " modules"}
}

// nativeOrder is the host's byte order as the concrete value cilium/ebpf's
// encoders accept (they do not take binary.NativeEndian).
var nativeOrder = func() binary.ByteOrder {
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return binary.LittleEndian
	}
	return binary.BigEndian
}()

// loadBTF loads types into the kernel as they are: unlike cilium/ebpf's
// own loading, nothing is replaced by what older kernels understand.
func loadBTF(types []btf.Type) error {
	b, err := btf.NewBuilder(types, nil)
	if err != nil {
		return fmt.Errorf("building BTF: %w", err)
	}
	raw, err := b.Marshal(nil, &btf.MarshalOptions{Order: nativeOrder})
	if err != nil {
		return fmt.Errorf("encoding BTF: %w", err)
	}
	h, err := btf.NewHandleFromRawBTF(raw)
	if err != nil {
		return err
	}
	return h.Close()
}

// classifyBTF reads the kernel's answer to a BTF load: EINVAL means it
// does not understand what it was given.
func (p *prober) classifyBTF(name string, err error, what string) Answer {
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.E2BIG) {
		return Answer{Name: name, Status: No, Reason: "the kernel rejects " + what + ": " + cleanError(err)}
	}
	return p.classify(name, err, "the kernel does not support "+what)
}

// mapBTF creates a map whose keys and values have BTF types.
func (p *prober) mapBTF() Answer {
	u32 := &btf.Int{Name: "u32", Size: 4}
	m, err := ebpf.NewMap(&ebpf.MapSpec{
		Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1,
		Key: u32, Value: &btf.Struct{Name: "v", Size: 4, Members: []btf.Member{{Name: "n", Type: u32}}},
	})
	if err == nil {
		m.Close()
	}
	return p.classifyBTF("map_key_value", err, "BTF types for map keys and values")
}
