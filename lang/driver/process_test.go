package driver

import (
	"reflect"
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/internal/cgroupfs"
)

func TestCgroupHierarchies(t *testing.T) {
	mountinfo := `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
33 31 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
34 31 0:31 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
35 31 0:32 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
36 23 0:33 / /mnt/other\040cg rw - cgroup2 cgroup2 rw
malformed line
`
	got := cgroupHierarchies(strings.NewReader(mountinfo))
	want := []cgroupHierarchy{
		{"unified", "/sys/fs/cgroup/unified"},
		{"cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct"},
		{"memory", "/sys/fs/cgroup/memory"},
		{"systemd", "/sys/fs/cgroup/systemd"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	// cgroup v2 alone, as most systems have it now.
	got = cgroupHierarchies(strings.NewReader("29 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"))
	if len(got) != 1 || got[0] != (cgroupHierarchy{"unified", "/sys/fs/cgroup"}) {
		t.Errorf("v2 only: %v", got)
	}
	if unescapeMount(`/a\040b\\c\04`) != `/a b\\c\04` {
		t.Errorf("unescape: %q", unescapeMount(`/a\040b\\c\04`))
	}
}

func TestFindCgroup(t *testing.T) {
	dir := t.TempDir()
	if p, ok := cgroupfs.Find(dir+"/missing", 1); ok {
		t.Errorf("found %q in a missing directory", p)
	}
	if _, ok := cgroupfs.Find(dir, 0); ok {
		t.Error("found inode 0")
	}
}
