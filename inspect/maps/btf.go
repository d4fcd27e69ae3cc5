package maps

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

// rawMapInfo is struct bpf_map_info up to map_extra. cilium/ebpf's
// MapInfo does not give the BTF type IDs of keys and values, which are
// what decoding a map found by ID needs.
type rawMapInfo struct {
	Type, ID, KeySize, ValueSize, MaxEntries, MapFlags uint32
	Name                                               [unix.BPF_OBJ_NAME_LEN]byte
	Ifindex                                            uint32
	BTFVmlinuxValueTypeID                              uint32
	NetnsDev, NetnsIno                                 uint64
	BTFID, BTFKeyTypeID, BTFValueTypeID, BTFVmlinuxID  uint32
	MapExtra                                           uint64
}

// objInfoAttr is the BPF_OBJ_GET_INFO_BY_FD part of union bpf_attr.
type objInfoAttr struct {
	FD      uint32
	InfoLen uint32
	Info    uint64
}

// readRawInfo asks the kernel to describe the map behind fd. Kernels that
// know fewer fields fill fewer; the rest stay zero.
func readRawInfo(fd int) (*rawMapInfo, error) {
	info := new(rawMapInfo)
	attr := objInfoAttr{FD: uint32(fd), InfoLen: uint32(unsafe.Sizeof(*info)), Info: uint64(uintptr(unsafe.Pointer(info)))}
	_, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_OBJ_GET_INFO_BY_FD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(info)
	if errno != 0 {
		return nil, errno
	}
	return info, nil
}

// Types returns the BTF types of a map's keys and values. Either is nil
// when the map was created without it (a map without BTF has neither).
func Types(m *ebpf.Map) (key, value btf.Type, err error) {
	ri, err := readRawInfo(m.FD())
	if err != nil {
		return nil, nil, fmt.Errorf("reading the map's description: %w", err)
	}
	if ri.BTFID == 0 || (ri.BTFKeyTypeID == 0 && ri.BTFValueTypeID == 0) {
		return nil, nil, nil
	}
	h, err := btf.NewHandleFromID(btf.ID(ri.BTFID))
	if err != nil {
		return nil, nil, fmt.Errorf("opening the map's BTF (ID %d): %w", ri.BTFID, err)
	}
	defer h.Close()
	spec, err := h.Spec(nil)
	if err != nil {
		// Split BTF (a module's, or one built on vmlinux) needs the
		// kernel's own types under it.
		base, kerr := btf.LoadKernelSpec()
		if kerr != nil {
			return nil, nil, fmt.Errorf("reading the map's BTF (ID %d): %w", ri.BTFID, err)
		}
		if spec, err = h.Spec(base); err != nil {
			return nil, nil, fmt.Errorf("reading the map's BTF (ID %d): %w", ri.BTFID, err)
		}
	}
	typeOf := func(id uint32) (btf.Type, error) {
		if id == 0 {
			return nil, nil
		}
		t, err := spec.TypeByID(btf.TypeID(id))
		if err != nil {
			return nil, fmt.Errorf("the map's BTF (ID %d) has no type %d: %w", ri.BTFID, id, err)
		}
		return t, nil
	}
	if key, err = typeOf(ri.BTFKeyTypeID); err != nil {
		return nil, nil, err
	}
	if value, err = typeOf(ri.BTFValueTypeID); err != nil {
		return nil, nil, err
	}
	return key, value, nil
}

// fitting returns t if its size is size, else nil: a type that disagrees
// with the map about sizes cannot describe its bytes.
func fitting(t btf.Type, size uint32) btf.Type {
	if t == nil {
		return nil
	}
	n, err := btf.Sizeof(t)
	if err != nil || n != int(size) {
		return nil
	}
	return t
}
