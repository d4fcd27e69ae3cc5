package inspect

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// LinkInfo describes one BPF link: a program's attachment that the kernel
// keeps as an object of its own.
type LinkInfo struct {
	ID       uint32      `json:"id"`
	Type     string      `json:"type"`
	ProgID   uint32      `json:"prog_id"`
	ProgName string      `json:"prog_name,omitempty"`
	Attach   AttachPoint `json:"attach"`
	// Pids are the processes holding a file descriptor to the link; a
	// link nobody holds lives on because it is pinned.
	Pids []Process `json:"pids,omitempty"`
	// Pinned are the link's paths under /sys/fs/bpf.
	Pinned []string `json:"pinned,omitempty"`
}

// ErrNoLink is wrapped by errors about link IDs that do not exist.
var ErrNoLink = errors.New("no such link")

// ErrNoProgram is wrapped by errors about programs that do not exist.
var ErrNoProgram = errors.New("no such program")

// Links lists every link (ids empty) or the links with the given IDs,
// with the processes that hold them.
func Links(ids ...uint32) ([]LinkInfo, error) {
	holders, err := Owners()
	if err != nil {
		return nil, err
	}
	var r resolver
	pinned := pins()[KindLink]
	names := progNames{}
	var out []LinkInfo
	add := func(info *link.Info) {
		li := LinkInfo{
			ID:     uint32(info.ID),
			Type:   LinkTypeName(info.Type),
			ProgID: uint32(info.Program),
			Attach: r.linkAttachPoint(info),
			Pids:   holders.For(KindLink, uint32(info.ID)),
			Pinned: pinned[uint32(info.ID)],
		}
		li.ProgName = names.name(li.ProgID)
		out = append(out, li)
	}
	if len(ids) > 0 {
		for _, id := range ids {
			info, err := linkInfoByID(id)
			if err != nil {
				return nil, err
			}
			add(info)
		}
		return out, nil
	}
	infos, err := allLinkInfos()
	if err != nil {
		return nil, err
	}
	for _, info := range infos {
		add(info)
	}
	return out, nil
}

// allLinkInfos reads the info of every link, in ID order.
func allLinkInfos() ([]*link.Info, error) {
	var infos []*link.Info
	it := new(link.Iterator)
	defer it.Close()
	for it.Next() {
		info, err := it.Link.Info()
		if err != nil {
			continue // detached while we looked, or a type this kernel cannot describe
		}
		infos = append(infos, info)
	}
	if err := it.Err(); err != nil {
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
			return nil, fmt.Errorf("this kernel cannot list BPF links (that needs Linux 5.8 or later): %w", err)
		}
		return nil, errPermission("listing BPF links", err)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].ID < infos[j].ID })
	return infos, nil
}

// openLink opens the link with id, with an error a user can act on.
func openLink(id uint32) (link.Link, error) {
	l, err := link.NewFromID(link.ID(id))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("there is no BPF link with ID %d (waggle link list shows them): %w", id, ErrNoLink)
		}
		return nil, errPermission(fmt.Sprintf("opening link %d", id), err)
	}
	return l, nil
}

func linkInfoByID(id uint32) (*link.Info, error) {
	l, err := openLink(id)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	info, err := l.Info()
	if err != nil {
		return nil, fmt.Errorf("reading link %d: %w", id, err)
	}
	return info, nil
}

// DetachLink detaches the link with id from its hook. The link object
// stays until its last holder closes it, but its program no longer runs
// there. Perf event, tracepoint and probe links cannot be detached this
// way: the error says so, and names the processes holding them.
func DetachLink(id uint32) error {
	l, err := openLink(id)
	if err != nil {
		return err
	}
	defer l.Close()
	if err := l.Detach(); err != nil {
		if errors.Is(err, link.ErrNotSupported) || errors.Is(err, unix.EOPNOTSUPP) {
			typ := "this kind of"
			if info, ierr := l.Info(); ierr == nil {
				typ = "a " + LinkTypeName(info.Type)
			}
			return fmt.Errorf("link %d is %s link, which the kernel cannot detach; it goes away when the processes holding it (waggle link show %d) close it or exit: %w", id, typ, id, err)
		}
		return errPermission(fmt.Sprintf("detaching link %d", id), err)
	}
	return nil
}

// PinLink pins the link with id at path on a BPF filesystem, mounting
// /sys/fs/bpf first when it is missing and waggle runs as root.
func PinLink(id uint32, path string) error {
	if err := prepareBPFFSPath(path); err != nil {
		return err
	}
	l, err := openLink(id)
	if err != nil {
		return err
	}
	defer l.Close()
	if err := l.Pin(path); err != nil {
		return pinError(fmt.Sprintf("link %d", id), path, err)
	}
	return nil
}
