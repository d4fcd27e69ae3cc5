package attach

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// TracefsPath is where waggle expects (and, as root, mounts) tracefs.
const TracefsPath = "/sys/kernel/tracing"

// TracefsMounted reports whether tracefs is usable at TracefsPath or at the
// older debugfs location.
func TracefsMounted() bool {
	for _, dir := range []string{TracefsPath, "/sys/kernel/debug/tracing"} {
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err == nil && st.Type == unix.TRACEFS_MAGIC {
			return true
		}
	}
	return false
}

// EnsureTracefs mounts tracefs at TracefsPath when no tracefs is mounted.
// It reports whether it mounted it. It must run before anything asks
// cilium/ebpf for tracefs, which remembers the first answer.
func EnsureTracefs() (mounted bool, err error) {
	if TracefsMounted() {
		return false, nil
	}
	if os.Geteuid() != 0 {
		return false, fmt.Errorf("tracefs is not mounted and only root can mount it (mount -t tracefs nodev %s)", TracefsPath)
	}
	if err := unix.Mount("nodev", TracefsPath, "tracefs", 0, ""); err != nil {
		return false, fmt.Errorf("mount tracefs at %s: %w", TracefsPath, err)
	}
	return true, nil
}
