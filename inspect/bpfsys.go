package inspect

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The bpf() commands cilium/ebpf does not wrap with every field this
// package shows: BPF_PROG_QUERY with its attach flags, and
// BPF_TASK_FD_QUERY.

func ptrTo[T any](s []T) ptr64 {
	if len(s) == 0 {
		return ptr64{}
	}
	return ptr64{p: unsafe.Pointer(&s[0])}
}

func bpfCall(cmd int, attr unsafe.Pointer, size uintptr) error {
	_, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	runtime.KeepAlive(attr)
	if errno != 0 {
		return errno
	}
	return nil
}

// progQueryAttr is bpf_attr's query member.
type progQueryAttr struct {
	targetFD        uint32
	attachType      uint32
	queryFlags      uint32
	attachFlags     uint32
	progIDs         ptr64
	count           uint32
	_               uint32
	progAttachFlags ptr64
	linkIDs         ptr64
	linkAttachFlags ptr64
	revision        uint64
}

// bpfQueryEffective is BPF_F_QUERY_EFFECTIVE.
const bpfQueryEffective = 1

// queried is one program a BPF_PROG_QUERY returned.
type queried struct {
	progID, linkID uint32
	flags          uint32 // the program's own attach flags, when the kernel reports them
}

// queryResult is what BPF_PROG_QUERY says about one hook.
type queryResult struct {
	attachFlags uint32 // the hook's flags (cgroups: BPF_F_ALLOW_OVERRIDE, BPF_F_ALLOW_MULTI)
	progs       []queried
}

// progQuery runs BPF_PROG_QUERY on target (a cgroup fd or an ifindex) for
// one attach type: once for the count, once for the IDs. Link IDs are
// asked for only on kernels that report a revision (6.6+), which are the
// ones that know the field; older ones refuse a non-zero link_ids.
func progQuery(target int, attachType uint32, flags uint32) (queryResult, error) {
	for {
		attr := progQueryAttr{targetFD: uint32(target), attachType: attachType, queryFlags: flags}
		if err := bpfCall(unix.BPF_PROG_QUERY, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
			return queryResult{}, err
		}
		res := queryResult{attachFlags: attr.attachFlags}
		n, haveLinks := attr.count, attr.revision != 0
		if n == 0 {
			return res, nil
		}
		ids := make([]uint32, n)
		progFlags := make([]uint32, n)
		var links []uint32
		attr = progQueryAttr{targetFD: uint32(target), attachType: attachType, queryFlags: flags, count: n, progIDs: ptrTo(ids)}
		if haveLinks {
			// Kernels with link_ids (6.6+) also know prog_attach_flags
			// (6.0+); older ones refuse either.
			if flags&bpfQueryEffective == 0 {
				attr.progAttachFlags = ptrTo(progFlags)
			}
			links = make([]uint32, n)
			attr.linkIDs = ptrTo(links)
		}
		err := bpfCall(unix.BPF_PROG_QUERY, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
		runtime.KeepAlive(ids)
		runtime.KeepAlive(progFlags)
		runtime.KeepAlive(links)
		if err == unix.ENOSPC {
			continue // more were attached between the two calls
		}
		if err != nil {
			return queryResult{}, err
		}
		res.attachFlags = attr.attachFlags
		for i := uint32(0); i < attr.count && i < n; i++ {
			q := queried{progID: ids[i], flags: progFlags[i]}
			if links != nil {
				q.linkID = links[i]
			}
			res.progs = append(res.progs, q)
		}
		return res, nil
	}
}

// taskFDQueryAttr is bpf_attr's task_fd_query member.
type taskFDQueryAttr struct {
	pid         uint32
	fd          uint32
	flags       uint32
	bufLen      uint32
	buf         ptr64
	progID      uint32
	fdType      uint32
	probeOffset uint64
	probeAddr   uint64
}

// The kernel's bpf_task_fd_type.
const (
	fdTypeRawTracepoint = iota
	fdTypeTracepoint
	fdTypeKprobe
	fdTypeKretprobe
	fdTypeUprobe
	fdTypeUretprobe
)

var fdTypeNames = [...]string{
	fdTypeRawTracepoint: "raw_tracepoint",
	fdTypeTracepoint:    "tracepoint",
	fdTypeKprobe:        "kprobe",
	fdTypeKretprobe:     "kretprobe",
	fdTypeUprobe:        "uprobe",
	fdTypeUretprobe:     "uretprobe",
}

// taskFD is what BPF_TASK_FD_QUERY says about one file descriptor.
type taskFD struct {
	progID      uint32
	fdType      uint32
	name        string // tracepoint or kernel function name, or the probed file
	probeOffset uint64
	probeAddr   uint64
}

// taskFDQuery asks which program a perf event (or raw tracepoint) file
// descriptor of another process runs, and where it is attached.
func taskFDQuery(pid, fd int) (taskFD, error) {
	buf := make([]byte, 256)
	for {
		attr := taskFDQueryAttr{pid: uint32(pid), fd: uint32(fd), bufLen: uint32(len(buf)), buf: ptrTo(buf)}
		err := bpfCall(unix.BPF_TASK_FD_QUERY, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
		runtime.KeepAlive(buf)
		if err == unix.ENOSPC && len(buf) < 1<<16 {
			buf = make([]byte, max(int(attr.bufLen)+1, 2*len(buf)))
			continue
		}
		if err != nil {
			return taskFD{}, err
		}
		n := min(int(attr.bufLen), len(buf))
		return taskFD{
			progID:      attr.progID,
			fdType:      attr.fdType,
			name:        unix.ByteSliceToString(buf[:n]),
			probeOffset: attr.probeOffset,
			probeAddr:   attr.probeAddr,
		}, nil
	}
}

// progInfoHead is the start of struct bpf_prog_info, as far as the
// translated instructions; the kernel fills in only as much as it is given.
type progInfoHead struct {
	typ         uint32
	id          uint32
	tag         [8]byte
	jitedLen    uint32
	xlatedLen   uint32
	jitedInsns  ptr64
	xlatedInsns ptr64
}

// objInfoAttr is bpf_attr's info member.
type objInfoAttr struct {
	fd      uint32
	infoLen uint32
	info    ptr64
}

// xlatedBytes reads a program's translated instructions as the kernel
// gives them (cilium/ebpf decodes them but keeps the bytes to itself).
func xlatedBytes(progFD int) ([]byte, error) {
	var head progInfoHead
	attr := objInfoAttr{fd: uint32(progFD), infoLen: uint32(unsafe.Sizeof(head)), info: ptr64{p: unsafe.Pointer(&head)}}
	if err := bpfCall(unix.BPF_OBJ_GET_INFO_BY_FD, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
		return nil, err
	}
	buf := make([]byte, head.xlatedLen)
	head = progInfoHead{xlatedLen: uint32(len(buf)), xlatedInsns: ptrTo(buf)}
	attr = objInfoAttr{fd: uint32(progFD), infoLen: uint32(unsafe.Sizeof(head)), info: ptr64{p: unsafe.Pointer(&head)}}
	err := bpfCall(unix.BPF_OBJ_GET_INFO_BY_FD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(buf)
	if err != nil {
		return nil, err
	}
	return buf[:min(int(head.xlatedLen), len(buf))], nil
}
