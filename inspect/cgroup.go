package inspect

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/wagglebpf/waggle/attach"
	"golang.org/x/sys/unix"
)

// CgroupAttachment is a program attached to a cgroup.
type CgroupAttachment struct {
	// Cgroup is the cgroup v2 directory.
	Cgroup     string `json:"cgroup"`
	AttachType string `json:"attach_type"`
	ProgID     uint32 `json:"prog_id"`
	ProgName   string `json:"prog_name,omitempty"`
	LinkID     uint32 `json:"link_id,omitempty"`
	// Flags are the hook's attach flags: "multi" (BPF_F_ALLOW_MULTI),
	// "override" (BPF_F_ALLOW_OVERRIDE), or empty for an exclusive
	// attachment.
	Flags string `json:"attach_flags,omitempty"`
}

// cgroupAttachTypes are the hooks a cgroup has.
var cgroupAttachTypes = []ebpf.AttachType{
	ebpf.AttachCGroupInetIngress, ebpf.AttachCGroupInetEgress, ebpf.AttachCGroupInetSockCreate,
	ebpf.AttachCGroupSockOps, ebpf.AttachCGroupDevice, ebpf.AttachCGroupInet4Bind,
	ebpf.AttachCGroupInet6Bind, ebpf.AttachCGroupInet4Connect, ebpf.AttachCGroupInet6Connect,
	ebpf.AttachCGroupInet4PostBind, ebpf.AttachCGroupInet6PostBind, ebpf.AttachCGroupUDP4Sendmsg,
	ebpf.AttachCGroupUDP6Sendmsg, ebpf.AttachCGroupSysctl, ebpf.AttachCGroupUDP4Recvmsg,
	ebpf.AttachCGroupUDP6Recvmsg, ebpf.AttachCGroupGetsockopt, ebpf.AttachCGroupSetsockopt,
	ebpf.AttachCgroupInet4GetPeername, ebpf.AttachCgroupInet6GetPeername,
	ebpf.AttachCgroupInet4GetSockname, ebpf.AttachCgroupInet6GetSockname,
	ebpf.AttachCgroupInetSockRelease, ebpf.AttachLSMCgroup, ebpf.AttachCgroupUnixConnect,
	ebpf.AttachCgroupUnixSendmsg, ebpf.AttachCgroupUnixRecvmsg, ebpf.AttachCgroupUnixGetpeername,
	ebpf.AttachCgroupUnixGetsockname,
}

// Cgroup attach flags (linux/bpf.h).
const (
	bpfFAllowOverride = 1
	bpfFAllowMulti    = 2
)

func cgroupFlags(f uint32) string {
	var s []string
	if f&bpfFAllowMulti != 0 {
		s = append(s, "multi")
	}
	if f&bpfFAllowOverride != 0 {
		s = append(s, "override")
	}
	if rest := f &^ (bpfFAllowMulti | bpfFAllowOverride); rest != 0 {
		s = append(s, fmt.Sprintf("%#x", rest))
	}
	return strings.Join(s, ",")
}

// CgroupTree lists the programs attached to root (the cgroup v2 root when
// empty) and every cgroup below it. With effective, each cgroup shows
// the programs that run for it, inherited ones included
// (BPF_F_QUERY_EFFECTIVE), instead of those attached to it.
func CgroupTree(root string, effective bool) ([]CgroupAttachment, error) {
	if root == "" {
		r, err := attach.CgroupV2Root()
		if err != nil {
			return nil, err
		}
		root = r
	}
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", root, err)
	}
	if uint32(st.Type) != unix.CGROUP2_SUPER_MAGIC {
		return nil, fmt.Errorf("%s is not in a cgroup v2 hierarchy (BPF programs attach to cgroup v2 directories only)", root)
	}
	var flags uint32
	if effective {
		flags = bpfQueryEffective
	}
	// Kernels report the links of cgroup attachments only through the
	// links themselves: by cgroup ID (the directory's inode), attach type
	// and program.
	type hook struct {
		cgroup uint64
		at     ebpf.AttachType
		prog   uint32
	}
	links := map[hook]uint32{}
	if infos, err := allLinkInfos(); err == nil {
		for _, info := range infos {
			if c := info.Cgroup(); info.Type == link.CgroupType && c != nil {
				links[hook{c.CgroupId, attachTypeOf(c.AttachType), uint32(info.Program)}] = uint32(info.ID)
			}
		}
	}
	var out []CgroupAttachment
	var permErr error
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return err
			}
			return nil // a cgroup removed while we walk
		}
		if !d.IsDir() {
			return nil
		}
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil {
			return nil
		}
		for _, at := range cgroupAttachTypes {
			res, err := progQuery(fd, uint32(at), flags)
			if err != nil {
				if attach.IsPermission(err) && permErr == nil {
					permErr = err
				}
				continue // an attach type this kernel does not have
			}
			for _, q := range res.progs {
				ca := CgroupAttachment{Cgroup: path, AttachType: AttachTypeName(at), ProgID: q.progID, LinkID: q.linkID}
				if ca.LinkID == 0 && !effective {
					ca.LinkID = links[hook{st.Ino, at, q.progID}]
				}
				if !effective {
					ca.Flags = cgroupFlags(res.attachFlags)
				}
				out = append(out, ca)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk cgroups under %s: %w", root, err)
	}
	if len(out) == 0 && permErr != nil {
		return nil, errPermission("querying cgroup programs", permErr)
	}
	names := progNames{}
	for i := range out {
		out[i].ProgName = names.name(out[i].ProgID)
	}
	return out, nil
}
