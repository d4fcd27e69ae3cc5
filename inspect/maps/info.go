// Package maps lists the BPF maps loaded in the kernel and reads and writes
// their entries: the library behind `waggle map`.
//
// Keys and values are decoded through the map's own BTF with the printer
// `waggle run` uses (package btfprint), so a map prints the same whether
// waggle loaded it or found it by ID; maps without BTF print as hex bytes
// in bpftool's layout. Keys and values typed on a command line are read by
// [Parse], which takes bpftool's byte syntax as well as typed values.
package maps

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/inspect"
	"github.com/wagglebpf/waggle/session"
)

// Info describes one loaded map, as `waggle map list` shows it.
type Info struct {
	ID         uint32   `json:"id"`
	Type       string   `json:"type"`
	Name       string   `json:"name"`
	KeySize    uint32   `json:"key_size"`
	ValueSize  uint32   `json:"value_size"`
	MaxEntries uint32   `json:"max_entries"`
	Flags      uint32   `json:"flags"`
	FlagNames  []string `json:"flag_names"`
	// Memlock is the kernel's estimate of the map's memory, in bytes.
	Memlock uint64 `json:"memlock"`
	// BTFID is the ID of the map's BTF object, 0 when it has none.
	BTFID  uint32 `json:"btf_id"`
	Frozen bool   `json:"frozen"`
	// KeyType and ValueType name the BTF types of keys and values; they
	// are filled only when asked for (ListOptions.Types), since they
	// cost a read of the map's BTF.
	KeyType   string `json:"key_type,omitempty"`
	ValueType string `json:"value_type,omitempty"`
	// PIDs are the processes holding a file descriptor to the map.
	PIDs []inspect.Process `json:"pids"`
	// Pinned are the paths where the map is pinned under /sys/fs/bpf.
	Pinned []string `json:"pinned"`
}

// ListOptions selects what List and Show fill in beyond the kernel's
// own description of each map.
type ListOptions struct {
	// Types reads each map's BTF to name its key and value types.
	Types bool
}

// Ref names maps the ways bpftool does: by ID, by name (which several
// maps may share) or by a path where one is pinned.
type Ref struct {
	ID     uint32
	Name   string
	Pinned string
}

func (r Ref) String() string {
	switch {
	case r.Pinned != "":
		return "pinned " + r.Pinned
	case r.Name != "":
		return "name " + r.Name
	}
	return "id " + strconv.FormatUint(uint64(r.ID), 10)
}

// ParseRef reads a map reference from the front of args: "id N", "name
// NAME", "pinned PATH", a bare ID, or a bare path starting with "/". It
// returns the words after it.
func ParseRef(args []string) (Ref, []string, error) {
	if len(args) == 0 {
		return Ref{}, nil, errors.New("no map given: name one as id N, name NAME or pinned PATH")
	}
	switch args[0] {
	case "id", "name", "pinned":
		if len(args) < 2 {
			return Ref{}, nil, fmt.Errorf("%q needs a value after it", args[0])
		}
		var r Ref
		switch args[0] {
		case "id":
			id, err := parseID(args[1])
			if err != nil {
				return Ref{}, nil, err
			}
			r.ID = id
		case "name":
			if args[1] == "" {
				return Ref{}, nil, errors.New("an empty map name matches nothing")
			}
			r.Name = args[1]
		default:
			if args[1] == "" {
				return Ref{}, nil, errors.New("an empty path names no pinned map")
			}
			r.Pinned = args[1]
		}
		return r, args[2:], nil
	}
	if strings.HasPrefix(args[0], "/") {
		return Ref{Pinned: args[0]}, args[1:], nil
	}
	id, err := parseID(args[0])
	if err != nil {
		return Ref{}, nil, fmt.Errorf("%q is not a map: name one as id N, name NAME or pinned PATH", shorten(args[0]))
	}
	return Ref{ID: id}, args[1:], nil
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a map ID (a positive number, as waggle map list shows)", shorten(s))
	}
	return uint32(n), nil
}

// shorten keeps user input quoted in errors to a readable length.
func shorten(s string) string { return attach.Shorten(s) }

// ErrNotFound is matched (errors.Is) by errors about maps that do not
// exist.
var ErrNotFound = errors.New("no such map")

// ErrNoKey is matched (errors.Is) by errors about keys a map does not hold.
var ErrNoKey = errors.New("no such key")

// missing is an error in its own words that matches a sentinel.
type missing struct {
	msg  string
	kind error
}

func (e *missing) Error() string        { return e.msg }
func (e *missing) Is(target error) bool { return target == e.kind }

func notFound(format string, args ...any) error {
	return &missing{fmt.Sprintf(format, args...), ErrNotFound}
}

// explain turns the kernel's errno into what the user can do about it,
// in the words the inspect package uses for programs and links.
func explain(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case attach.IsPermission(err):
		if os.Geteuid() != 0 {
			return fmt.Errorf("%s needs root (CAP_SYS_ADMIN): run waggle with sudo: %w", what, err)
		}
		return fmt.Errorf("%s was refused although waggle runs as root (a security module or lockdown may forbid it): %w", what, err)
	case errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("%s: this kernel has no bpf() system call (it was built without CONFIG_BPF_SYSCALL): %w", what, err)
	case errors.Is(err, unix.EINVAL) && strings.HasPrefix(what, "listing"):
		return fmt.Errorf("%s: this kernel cannot list BPF objects by ID (Linux 4.13 or newer can): %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// IDs lists the IDs of every loaded map, in increasing order.
func IDs() ([]uint32, error) {
	var ids []uint32
	for id := ebpf.MapID(0); ; {
		next, err := ebpf.MapGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			return ids, nil
		}
		if err != nil {
			return nil, explain(err, "listing BPF maps")
		}
		ids = append(ids, uint32(next))
		id = next
	}
}

// OpenID opens a map by ID.
func OpenID(id uint32) (*ebpf.Map, error) {
	m, err := ebpf.NewMapFromID(ebpf.MapID(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, notFound("no map with ID %d is loaded (waggle map list shows the loaded maps)", id)
	}
	if err != nil {
		return nil, explain(err, fmt.Sprintf("opening map %d", id))
	}
	return m, nil
}

// openPinned opens a pinned map.
func openPinned(path string) (*ebpf.Map, error) {
	m, err := ebpf.LoadPinnedMap(path, nil)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, notFound("no map is pinned at %s", shorten(path))
	case err != nil && strings.Contains(err.Error(), "is not a Map"):
		return nil, fmt.Errorf("%s is pinned, but it is not a map", shorten(path))
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return nil, fmt.Errorf("opening the map pinned at %s needs root, or read access to the pin: %w", shorten(path), err)
	case errors.Is(err, unix.EINVAL):
		return nil, fmt.Errorf("%s is not in a BPF file system (bpffs, usually mounted at /sys/fs/bpf)", shorten(path))
	case err != nil:
		return nil, fmt.Errorf("opening the map pinned at %s: %w", shorten(path), err)
	}
	return m, nil
}

// Resolve lists the IDs of the maps ref names: one for an ID or a pin,
// every map of that name for a name (kernel map names are cut to 15
// bytes, so a longer name matches by its first 15).
func Resolve(ref Ref) ([]uint32, error) {
	switch {
	case ref.Pinned != "":
		m, err := openPinned(ref.Pinned)
		if err != nil {
			return nil, err
		}
		defer m.Close()
		id, err := mapID(m)
		if err != nil {
			return nil, err
		}
		return []uint32{id}, nil
	case ref.Name != "":
		ids, err := IDs()
		if err != nil {
			return nil, err
		}
		name := ref.Name
		if len(name) > unix.BPF_OBJ_NAME_LEN-1 {
			name = name[:unix.BPF_OBJ_NAME_LEN-1]
		}
		var out []uint32
		for _, id := range ids {
			m, err := ebpf.NewMapFromID(ebpf.MapID(id))
			if err != nil {
				continue // gone since IDs() or not ours to open
			}
			info, err := m.Info()
			m.Close()
			if err == nil && info.Name == name {
				out = append(out, id)
			}
		}
		if len(out) == 0 {
			return nil, notFound("no map is named %q (waggle map list shows the loaded maps)", shorten(ref.Name))
		}
		return out, nil
	}
	m, err := OpenID(ref.ID)
	if err != nil {
		return nil, err
	}
	m.Close()
	return []uint32{ref.ID}, nil
}

// Open opens the one map ref names; a name several maps share is an
// error that lists their IDs.
func Open(ref Ref) (*ebpf.Map, error) {
	switch {
	case ref.Pinned != "":
		return openPinned(ref.Pinned)
	case ref.Name == "":
		return OpenID(ref.ID)
	}
	ids, err := Resolve(ref)
	if err != nil {
		return nil, err
	}
	if len(ids) > 1 {
		s := make([]string, len(ids))
		for i, id := range ids {
			s[i] = strconv.FormatUint(uint64(id), 10)
		}
		return nil, fmt.Errorf("%d maps are named %q (IDs %s): choose one with id N", len(ids), shorten(ref.Name), strings.Join(s, ", "))
	}
	return OpenID(ids[0])
}

func mapID(m *ebpf.Map) (uint32, error) {
	info, err := m.Info()
	if err != nil {
		return 0, fmt.Errorf("reading the map's description: %w", err)
	}
	id, ok := info.ID()
	if !ok {
		return 0, errors.New("this kernel does not report map IDs (Linux 4.13 or newer does)")
	}
	return uint32(id), nil
}

// List describes every loaded map, in increasing order of ID. Maps that
// vanish while it runs are left out.
func List(opt ListOptions) ([]Info, error) {
	ids, err := IDs()
	if err != nil {
		return nil, err
	}
	return describeIDs(ids, opt, true)
}

// Show describes the maps ref names.
func Show(ref Ref, opt ListOptions) ([]Info, error) {
	ids, err := Resolve(ref)
	if err != nil {
		return nil, err
	}
	return describeIDs(ids, opt, false)
}

func describeIDs(ids []uint32, opt ListOptions, skipGone bool) ([]Info, error) {
	// Holders first: the maps we open below must not count this process
	// among their owners.
	holders, err := inspect.Owners()
	if err != nil {
		holders = nil // owners are extra; the listing stands without them
	}
	pins := pinnedMaps()
	out := make([]Info, 0, len(ids))
	for _, id := range ids {
		m, err := OpenID(id)
		if err != nil {
			if skipGone && errors.Is(err, ErrNotFound) {
				continue
			}
			return nil, err
		}
		info, err := describe(m, opt)
		m.Close()
		if err != nil {
			return nil, fmt.Errorf("map %d: %w", id, err)
		}
		info.PIDs = holders.For(inspect.KindMap, id)
		if info.PIDs == nil {
			info.PIDs = []inspect.Process{}
		}
		info.Pinned = pins[id]
		if info.Pinned == nil {
			info.Pinned = []string{}
		}
		out = append(out, info)
	}
	return out, nil
}

func describe(m *ebpf.Map, opt ListOptions) (Info, error) {
	mi, err := m.Info()
	if err != nil {
		return Info{}, fmt.Errorf("reading the map's description: %w", err)
	}
	id, _ := mi.ID()
	memlock, _ := mi.Memlock()
	info := Info{
		ID:         uint32(id),
		Type:       TypeName(mi.Type),
		Name:       mi.Name,
		KeySize:    mi.KeySize,
		ValueSize:  mi.ValueSize,
		MaxEntries: mi.MaxEntries,
		Flags:      mi.Flags,
		FlagNames:  FlagNames(mi.Flags),
		Memlock:    memlock,
		Frozen:     mi.Frozen(),
	}
	if info.FlagNames == nil {
		info.FlagNames = []string{}
	}
	if bid, ok := mi.BTFID(); ok {
		info.BTFID = uint32(bid)
	}
	if opt.Types {
		key, value, err := Types(m)
		if err == nil {
			info.KeyType, info.ValueType = typeName(key), typeName(value)
		}
	}
	return info, nil
}

// pinRoot is where BPF file systems are mounted by convention; pins
// elsewhere are not listed.
const pinRoot = "/sys/fs/bpf"

// pinnedMaps finds the maps pinned under /sys/fs/bpf, by ID. Pins that
// cannot be opened are left out: the answer is what this caller may see.
func pinnedMaps() map[uint32][]string {
	out := map[uint32][]string{}
	var st unix.Statfs_t
	if err := unix.Statfs(pinRoot, &st); err != nil || st.Type != unix.BPF_FS_MAGIC {
		return out
	}
	walkPins(pinRoot, 0, func(path string) {
		m, err := ebpf.LoadPinnedMap(path, &ebpf.LoadPinOptions{ReadOnly: true})
		if err != nil {
			return
		}
		id, err := mapID(m)
		m.Close()
		if err == nil {
			out[id] = append(out[id], path)
		}
	})
	for _, paths := range out {
		sort.Strings(paths)
	}
	return out
}

// maxPinDepth bounds the walk of a BPF file system.
const maxPinDepth = 16

func walkPins(dir string, depth int, fn func(string)) {
	if depth > maxPinDepth {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		path := dir + "/" + e.Name()
		switch {
		case e.IsDir():
			walkPins(path, depth+1, fn)
		case e.Type().IsRegular():
			fn(path)
		}
	}
}

// typeName names a BTF type for a listing; "" when there is none.
func typeName(t btf.Type) string {
	if t == nil {
		return ""
	}
	return session.TypeName(t)
}
