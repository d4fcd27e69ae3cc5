package driver

import (
	"bufio"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/internal/cgroupfs"
)

// cgroupRoot is where bpftrace looks for cgroup hierarchies.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupHierarchy is one cgroup hierarchy mounted under /sys/fs/cgroup:
// "unified" for cgroup v2, else the v1 hierarchy's controllers or name.
type cgroupHierarchy struct {
	name, dir string
}

// cgroupHierarchies lists the hierarchies mounted at or under
// /sys/fs/cgroup, cgroup v2 first, then v1 by name, from a mountinfo
// file.
func cgroupHierarchies(mountinfo io.Reader) []cgroupHierarchy {
	var v2, v1 []cgroupHierarchy
	seen := map[string]bool{}
	sc := bufio.NewScanner(mountinfo)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 5 || len(tail) < 3 {
			continue
		}
		dir := unescapeMount(fields[4])
		if dir != cgroupRoot && !strings.HasPrefix(dir, cgroupRoot+"/") || seen[dir] {
			continue
		}
		switch tail[0] {
		case "cgroup2":
			seen[dir] = true
			v2 = append(v2, cgroupHierarchy{name: "unified", dir: dir})
		case "cgroup":
			seen[dir] = true
			v1 = append(v1, cgroupHierarchy{name: cgroupV1Name(tail[2]), dir: dir})
		}
	}
	sort.SliceStable(v1, func(i, j int) bool { return v1[i].name < v1[j].name })
	return append(v2, v1...)
}

// cgroupV1Name names a v1 hierarchy from its super options: name=X, or
// its controllers.
func cgroupV1Name(opts string) string {
	var controllers []string
	for _, o := range strings.Split(opts, ",") {
		if n, ok := strings.CutPrefix(o, "name="); ok {
			return n
		}
		switch o {
		case "rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "nsdelegate", "memory_recursiveprot",
			"clone_children", "xattr", "noprefix", "cpuset_v2_mode", "favordynmods":
			continue
		}
		if strings.Contains(o, "=") {
			continue
		}
		controllers = append(controllers, o)
	}
	return strings.Join(controllers, ",")
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// cgroupPath prints cgroup_path(id, filter) as bpftrace does: for each
// hierarchy whose name matches filter (a wildcard; "" matches all) and
// holds a cgroup with that id (the inode number of its directory),
// "NAME:PATH", joined with commas. It is resolved now, when the value is
// printed, so a reused id may name another cgroup.
func cgroupPath(id uint64, filter string) string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	hs := cgroupHierarchies(f)
	f.Close()
	var parts []string
	for _, h := range hs {
		if filter != "" && !attach.Glob(filter, h.name) {
			continue
		}
		if p, ok := cgroupfs.Find(h.dir, id); ok {
			parts = append(parts, h.name+":"+p)
		}
	}
	return strings.Join(parts, ",")
}
