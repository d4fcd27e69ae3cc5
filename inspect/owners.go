package inspect

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Process is a process holding a file descriptor to a BPF object.
type Process struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
}

// Holders maps BPF object IDs to the processes that hold a file
// descriptor to them, by kind of object.
type Holders struct {
	Progs map[uint32][]Process
	Maps  map[uint32][]Process
	Links map[uint32][]Process
	// PerfEvents are the perf event file descriptors open in each
	// process, in /proc order: the ones a program may be attached to
	// without a link (BPF_TASK_FD_QUERY tells which).
	PerfEvents []FD
	// linkFDs are the file descriptors of the links in Links.
	linkFDs []heldLink
}

type heldLink struct {
	FD
	id uint32
}

// FD is one file descriptor of a process.
type FD struct {
	Process
	FD int `json:"fd"`
}

// ObjectKind names the kinds of BPF objects a file descriptor can refer to.
type ObjectKind int

const (
	KindProg ObjectKind = iota
	KindMap
	KindLink
)

// anonymous inode names of BPF file descriptors, as readlink shows them,
// with the fdinfo key that carries the object's ID.
var fdKinds = []struct {
	link, idKey string
	kind        ObjectKind
}{
	{"anon_inode:bpf-prog", "prog_id", KindProg},
	{"anon_inode:bpf-map", "map_id", KindMap},
	{"anon_inode:bpf_link", "link_id", KindLink},
}

// Owners walks /proc for file descriptors that refer to BPF programs, maps
// and links, as bpftool does for its pids column. Processes that vanish or
// that cannot be read (another user's, without CAP_SYS_PTRACE) are
// skipped: the answer is what this caller may see.
func Owners() (*Holders, error) {
	return ownersIn("/proc")
}

func ownersIn(proc string) (*Holders, error) {
	h := &Holders{
		Progs: map[uint32][]Process{},
		Maps:  map[uint32][]Process{},
		Links: map[uint32][]Process{},
	}
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		h.addProcess(proc, pid)
	}
	for _, m := range []map[uint32][]Process{h.Progs, h.Maps, h.Links} {
		for id, ps := range m {
			sort.Slice(ps, func(i, j int) bool { return ps[i].PID < ps[j].PID })
			m[id] = ps
		}
	}
	return h, nil
}

// For returns the holders of one object.
func (h *Holders) For(kind ObjectKind, id uint32) []Process {
	if h == nil {
		return nil
	}
	switch kind {
	case KindProg:
		return h.Progs[id]
	case KindMap:
		return h.Maps[id]
	case KindLink:
		return h.Links[id]
	}
	return nil
}

func (h *Holders) addProcess(proc string, pid int) {
	dir := filepath.Join(proc, strconv.Itoa(pid))
	fds, err := os.ReadDir(filepath.Join(dir, "fd"))
	if err != nil {
		return
	}
	var comm string
	seen := map[[2]uint32]bool{} // a process holding an object twice is listed once
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
		if err != nil || !strings.HasPrefix(target, "anon_inode:") {
			continue
		}
		if target == "anon_inode:[perf_event]" {
			if n, err := strconv.Atoi(fd.Name()); err == nil {
				if comm == "" {
					comm = readComm(dir)
				}
				h.PerfEvents = append(h.PerfEvents, FD{Process{pid, comm}, n})
			}
			continue
		}
		for _, k := range fdKinds {
			if target != k.link {
				continue
			}
			id, ok := fdinfoID(filepath.Join(dir, "fdinfo", fd.Name()), k.idKey)
			if !ok || seen[[2]uint32{uint32(k.kind), id}] {
				break
			}
			seen[[2]uint32{uint32(k.kind), id}] = true
			if comm == "" {
				comm = readComm(dir)
			}
			p := Process{PID: pid, Comm: comm}
			switch k.kind {
			case KindProg:
				h.Progs[id] = append(h.Progs[id], p)
			case KindMap:
				h.Maps[id] = append(h.Maps[id], p)
			case KindLink:
				h.Links[id] = append(h.Links[id], p)
				if n, err := strconv.Atoi(fd.Name()); err == nil {
					h.linkFDs = append(h.linkFDs, heldLink{FD{p, n}, id})
				}
			}
			break
		}
	}
}

// fdinfoID reads "key:\tN" from an fdinfo file.
func fdinfoID(path, key string) (uint32, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != key {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
		if err != nil {
			return 0, false
		}
		return uint32(n), true
	}
	return 0, false
}

func readComm(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "comm"))
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}
