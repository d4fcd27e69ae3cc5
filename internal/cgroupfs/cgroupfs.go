// Package cgroupfs names cgroups by their IDs: on cgroup v2 (and for each
// v1 hierarchy) a cgroup's ID, as bpf_get_current_cgroup_id returns it,
// is the inode number of its directory.
package cgroupfs

import (
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
)

// Walk calls visit with the ID and the path relative to root ("/" for
// root itself) of every cgroup directory under root, until visit returns
// false. File systems mounted below root are not entered.
func Walk(root string, visit func(id uint64, rel string) bool) {
	var rootDev uint64
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		if path == root {
			rootDev = st.Dev
		} else if st.Dev != rootDev {
			return filepath.SkipDir
		}
		rel := strings.TrimPrefix(path, root)
		if rel == "" {
			rel = "/"
		}
		if !visit(st.Ino, rel) {
			return filepath.SkipAll
		}
		return nil
	})
}

// Paths maps the ID of every cgroup under root to its relative path.
func Paths(root string) map[uint64]string {
	out := map[uint64]string{}
	Walk(root, func(id uint64, rel string) bool {
		out[id] = rel
		return true
	})
	return out
}

// Find returns the relative path of the cgroup under root whose ID is id.
func Find(root string, id uint64) (rel string, ok bool) {
	Walk(root, func(i uint64, r string) bool {
		if i == id {
			rel, ok = r, true
		}
		return !ok
	})
	return rel, ok
}
