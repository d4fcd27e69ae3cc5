// Package kernelbtf lists the BTF objects loaded in the kernel (vmlinux's,
// kernel modules', and those programs and maps were loaded with), tells
// which programs and maps use each, and reads them for rendering, as
// bpftool's `btf list`, `btf show` and `btf dump id N` do.
package kernelbtf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/inspect/cheader"
)

// SysfsDir is where the kernel exposes its own BTF and its modules'.
const SysfsDir = "/sys/kernel/btf"

// VmlinuxPath is the kernel's BTF.
const VmlinuxPath = SysfsDir + "/vmlinux"

// Info describes one BTF object loaded in the kernel.
type Info struct {
	ID uint32 `json:"id"`
	// Name is "vmlinux" or a module's name for the kernel's own BTF; BTF
	// loaded with programs and maps usually has none.
	Name string `json:"name,omitempty"`
	// Size of the raw BTF in bytes.
	Size uint32 `json:"size"`
	// Kernel is true for vmlinux's and modules' BTF.
	Kernel bool `json:"kernel"`
	// Programs and Maps are the IDs of the programs and maps loaded with
	// this BTF.
	Programs []uint32 `json:"prog_ids"`
	Maps     []uint32 `json:"map_ids"`
}

// Module reports whether the object is a kernel module's BTF, which is
// split over vmlinux's.
func (i Info) Module() bool { return i.Kernel && i.Name != "vmlinux" }

// List describes every BTF object loaded in the kernel, in ID order.
func List() ([]Info, error) {
	var infos []Info
	it := new(btf.HandleIterator)
	for it.Next() {
		info, err := handleInfo(it.Handle, it.ID, nil)
		if err != nil {
			it.Handle.Close()
			return nil, err
		}
		infos = append(infos, info)
	}
	if err := it.Err(); err != nil {
		return nil, bpfError("list the kernel's BTF objects", err)
	}
	users(infos)
	return infos, nil
}

// Show describes the BTF object with this ID.
func Show(id uint32) (Info, error) {
	h, err := open(id)
	if err != nil {
		return Info{}, err
	}
	defer h.Close()
	info, err := handleInfo(h, btf.ID(id), nil)
	if err != nil {
		return Info{}, err
	}
	infos := []Info{info}
	users(infos)
	return infos[0], nil
}

// Load reads the BTF object with this ID from the kernel. A module's BTF
// comes with vmlinux's as its base.
func Load(id uint32) (*cheader.BTF, Info, error) {
	h, err := open(id)
	if err != nil {
		return nil, Info{}, err
	}
	defer h.Close()
	// The first call learns the size, the second reads the data.
	info, err := handleInfo(h, btf.ID(id), nil)
	if err != nil {
		return nil, Info{}, err
	}
	raw := make([]byte, info.Size)
	if info, err = handleInfo(h, btf.ID(id), raw); err != nil {
		return nil, Info{}, err
	}
	var base *cheader.BTF
	if info.Module() {
		if base, err = Vmlinux(); err != nil {
			return nil, Info{}, fmt.Errorf("BTF object %d is module %s's, split over vmlinux's: %w", id, info.Name, err)
		}
	}
	b, err := cheader.Parse(raw[:min(len(raw), int(info.Size))], base)
	if err != nil {
		return nil, Info{}, fmt.Errorf("BTF object %d: %w", id, err)
	}
	return b, info, nil
}

// Vmlinux reads the running kernel's BTF.
func Vmlinux() (*cheader.BTF, error) {
	b, err := cheader.Load(VmlinuxPath, nil)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("this kernel exposes no BTF (that needs CONFIG_DEBUG_INFO_BTF=y): %w", err)
	}
	return b, err
}

// LoadModule reads a kernel module's BTF, split over vmlinux's.
func LoadModule(name string) (*cheader.BTF, error) {
	if name == "" || strings.ContainsAny(name, "/") || name == "." || name == ".." {
		return nil, fmt.Errorf("%q is not a kernel module name", name)
	}
	if name == "vmlinux" {
		return Vmlinux()
	}
	return LoadFile(filepath.Join(SysfsDir, name))
}

// LoadFile reads BTF from a file: a raw blob or an ELF object's .BTF
// section. Files under /sys/kernel/btf other than vmlinux are modules'
// BTF, read over vmlinux's as bpftool does.
func LoadFile(path string) (*cheader.BTF, error) {
	var base *cheader.BTF
	if dir, name := filepath.Split(filepath.Clean(path)); filepath.Clean(dir) == SysfsDir && name != "vmlinux" {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no kernel module %q with BTF is loaded (waggle btf list shows them): %w", name, os.ErrNotExist)
		}
		var err error
		if base, err = Vmlinux(); err != nil {
			return nil, err
		}
	}
	return cheader.Load(path, base)
}

func open(id uint32) (*btf.Handle, error) {
	h, err := btf.NewHandleFromID(btf.ID(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no BTF object with ID %d is loaded (waggle btf list shows them)", id)
	}
	if err != nil {
		return nil, bpfError(fmt.Sprintf("open BTF object %d", id), err)
	}
	return h, nil
}

// bpfError words the errors of the bpf() calls for a user.
func bpfError(what string, err error) error {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch errno {
	case unix.EPERM, unix.EACCES:
		return fmt.Errorf("cannot %s: this needs root or CAP_SYS_ADMIN (%w)", what, errno)
	case unix.EINVAL:
		return fmt.Errorf("cannot %s: the kernel is too old (BTF objects are listed since Linux 5.5) (%w)", what, errno)
	}
	return fmt.Errorf("cannot %s: %w", what, errno)
}

// ptrPad widens a pointer to the 64 bits bpf() structures give every
// pointer. (A trailing zero-length array would pad a Go struct, so the
// padding is a field of its own after each pointer.)
type ptrPad [8 - unsafe.Sizeof(uintptr(0))]byte

// btfInfo is the kernel's struct bpf_btf_info.
type btfInfo struct {
	btf       unsafe.Pointer
	_         ptrPad
	btfSize   uint32
	id        uint32
	name      unsafe.Pointer
	_         ptrPad
	nameLen   uint32
	kernelBTF uint32
}

// objInfoAttr is bpf_attr's info member, for BPF_OBJ_GET_INFO_BY_FD.
type objInfoAttr struct {
	fd      uint32
	infoLen uint32
	info    unsafe.Pointer
	_       ptrPad
}

// objInfoAttrSize is the size of objInfoAttr's fields, without the
// padding Go may add after a struct's last field.
const objInfoAttrSize = 16

const bpfObjGetInfoByFD = 15

// handleInfo asks the kernel about a BTF object, and for its data when raw
// is not nil (raw must be as large as the object).
func handleInfo(h *btf.Handle, id btf.ID, raw []byte) (Info, error) {
	name := make([]byte, 64)
	bi := &btfInfo{name: unsafe.Pointer(&name[0]), nameLen: uint32(len(name))}
	if len(raw) > 0 {
		bi.btf = unsafe.Pointer(&raw[0])
		bi.btfSize = uint32(len(raw))
	}
	attr := &objInfoAttr{fd: uint32(h.FD()), infoLen: uint32(unsafe.Sizeof(*bi)), info: unsafe.Pointer(bi)}
	_, _, errno := unix.Syscall(unix.SYS_BPF, bpfObjGetInfoByFD, uintptr(unsafe.Pointer(attr)), objInfoAttrSize)
	runtime.KeepAlive(attr)
	runtime.KeepAlive(bi)
	runtime.KeepAlive(name)
	runtime.KeepAlive(raw)
	runtime.KeepAlive(h)
	if errno != 0 {
		return Info{}, bpfError(fmt.Sprintf("read BTF object %d", id), errno)
	}
	n := min(int(bi.nameLen), len(name))
	if i := slices.Index(name[:n], 0); i >= 0 {
		n = i
	}
	return Info{ID: bi.id, Name: string(name[:n]), Size: bi.btfSize, Kernel: bi.kernelBTF != 0}, nil
}

// users fills in the programs and maps loaded with each BTF object.
// Objects that vanish meanwhile are skipped; without the right to open
// programs and maps the lists stay empty.
func users(infos []Info) {
	byID := map[uint32]*Info{}
	for i := range infos {
		byID[infos[i].ID] = &infos[i]
	}
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			break
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue
		}
		if pi, err := p.Info(); err == nil {
			if b, ok := pi.BTFID(); ok && byID[uint32(b)] != nil {
				byID[uint32(b)].Programs = append(byID[uint32(b)].Programs, uint32(id))
			}
		}
		p.Close()
	}
	for id := ebpf.MapID(0); ; {
		next, err := ebpf.MapGetNextID(id)
		if err != nil {
			break
		}
		id = next
		m, err := ebpf.NewMapFromID(id)
		if err != nil {
			continue
		}
		if mi, err := m.Info(); err == nil {
			if b, ok := mi.BTFID(); ok && byID[uint32(b)] != nil {
				byID[uint32(b)].Maps = append(byID[uint32(b)].Maps, uint32(id))
			}
		}
		m.Close()
	}
	for i := range infos {
		if infos[i].Programs == nil {
			infos[i].Programs = []uint32{}
		}
		if infos[i].Maps == nil {
			infos[i].Maps = []uint32{}
		}
	}
}
