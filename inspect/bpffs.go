package inspect

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BPFFSPath is where waggle expects (and, as root, mounts) the BPF
// filesystem that pins live on.
const BPFFSPath = "/sys/fs/bpf"

func isBPFFS(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && uint32(st.Type) == unix.BPF_FS_MAGIC
}

// EnsureBPFFS mounts the BPF filesystem at /sys/fs/bpf when none is
// mounted there, and reports whether it mounted it.
func EnsureBPFFS() (mounted bool, err error) {
	if isBPFFS(BPFFSPath) {
		return false, nil
	}
	if os.Geteuid() != 0 {
		return false, fmt.Errorf("no BPF filesystem is mounted at %s and only root can mount it (mount -t bpf bpf %s)", BPFFSPath, BPFFSPath)
	}
	if err := os.MkdirAll(BPFFSPath, 0o755); err != nil {
		return false, fmt.Errorf("create %s: %w", BPFFSPath, err)
	}
	if err := unix.Mount("bpf", BPFFSPath, "bpf", 0, "mode=0700"); err != nil {
		return false, fmt.Errorf("mount the BPF filesystem at %s: %w", BPFFSPath, err)
	}
	return true, nil
}

// prepareBPFFSPath makes sure path can be a pin: its directory is on a
// BPF filesystem (mounting /sys/fs/bpf if the path is under it and it is
// missing) and exists (bpffs directories are created as needed).
func prepareBPFFSPath(path string) error {
	if path == "" {
		return errors.New("give the path to pin at, under /sys/fs/bpf")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if abs == BPFFSPath || strings.HasPrefix(abs, BPFFSPath+"/") {
		if _, err := EnsureBPFFS(); err != nil {
			return err
		}
	}
	dir := filepath.Dir(abs)
	// The nearest existing ancestor decides which filesystem it is on.
	existing := dir
	for {
		if _, err := os.Stat(existing); err == nil {
			break
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			break
		}
		existing = parent
	}
	if !isBPFFS(existing) {
		return fmt.Errorf("%s is not on a BPF filesystem: pins live under %s (or a directory mounted with mount -t bpf bpf DIR)", path, BPFFSPath)
	}
	if existing != dir {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create %s for the pin: %w", dir, err)
		}
	}
	return nil
}

func pinError(what, path string, err error) error {
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("cannot pin %s at %s: something is already pinned there (remove it with rm first): %w", what, path, err)
	}
	return errPermission(fmt.Sprintf("pinning %s at %s", what, path), err)
}

// objGetAttr is bpf_attr's BPF_OBJ_GET member.
type objGetAttr struct {
	pathname  ptr64
	bpfFD     uint32
	fileFlags uint32
}

// maxPinDepth bounds the walk of a BPF file system.
const maxPinDepth = 16

// pins finds the programs and links pinned under /sys/fs/bpf, by kind and
// ID. Pins this caller cannot open are left out.
func pins() map[ObjectKind]map[uint32][]string {
	out := map[ObjectKind]map[uint32][]string{KindProg: {}, KindMap: {}, KindLink: {}}
	if !isBPFFS(BPFFSPath) {
		return out
	}
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		entries, err := os.ReadDir(dir)
		if err != nil || depth > maxPinDepth {
			return
		}
		for _, e := range entries {
			path := dir + "/" + e.Name()
			if e.IsDir() {
				walk(path, depth+1)
				continue
			}
			if kind, id, ok := pinnedObject(path); ok {
				out[kind][id] = append(out[kind][id], path)
			}
		}
	}
	walk(BPFFSPath, 0)
	return out
}

// pinnedObject opens a pin and tells what it is.
func pinnedObject(path string) (ObjectKind, uint32, bool) {
	name, err := unix.BytePtrFromString(path)
	if err != nil {
		return 0, 0, false
	}
	attr := objGetAttr{pathname: ptr64{p: unsafe.Pointer(name)}}
	fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_OBJ_GET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(name)
	if errno != 0 {
		return 0, 0, false
	}
	defer unix.Close(int(fd))
	self := "/proc/self/fd/" + strconv.Itoa(int(fd))
	target, err := os.Readlink(self)
	if err != nil {
		return 0, 0, false
	}
	for _, k := range fdKinds {
		if target == k.link {
			id, ok := fdinfoID("/proc/self/fdinfo/"+strconv.Itoa(int(fd)), k.idKey)
			return k.kind, id, ok
		}
	}
	return 0, 0, false
}
