package cgroupfs

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// Any directory tree stands in for a cgroup hierarchy: IDs are inodes.
func TestPathsAndFind(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(root, "a", "file"), nil, 0o644)
	paths := Paths(root)
	want := map[uint64]string{inode(t, root): "/", inode(t, filepath.Join(root, "a")): "/a", inode(t, filepath.Join(root, "a", "b")): "/a/b"}
	if len(paths) != len(want) {
		t.Errorf("Paths = %v, want %v", paths, want)
	}
	for id, rel := range want {
		if paths[id] != rel {
			t.Errorf("Paths[%d] = %q, want %q", id, paths[id], rel)
		}
		if got, ok := Find(root, id); !ok || got != rel {
			t.Errorf("Find(%d) = %q, %v; want %q", id, got, ok, rel)
		}
	}
	if _, ok := Find(root, inode(t, filepath.Join(root, "a", "file"))); ok {
		t.Error("Find named a file, not a cgroup directory")
	}
	if _, ok := Find(filepath.Join(root, "missing"), 1); ok {
		t.Error("Find in a missing root found something")
	}
}
