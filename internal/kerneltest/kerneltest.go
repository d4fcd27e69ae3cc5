// Package kerneltest holds what tests that touch the real kernel share:
// the decision to skip or fail when the kernel cannot be used, a lock that
// serialises such tests across packages, and a check that nothing they
// loaded stays in the kernel.
package kerneltest

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// RequireEnv is the environment variable that turns skips into failures.
const RequireEnv = "WAGGLE_REQUIRE_KERNEL"

// Skip skips the test with reason, or fails it when WAGGLE_REQUIRE_KERNEL
// is set, so that CI never passes by skipping.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s is set but the kernel cannot be used: %s", RequireEnv, reason)
	}
	t.Skip(reason)
}

// Require skips (or fails, see Skip) unless the process may load BPF
// programs, then takes the cross-package kernel lock for the rest of the
// test and registers a leak check.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "needs root to load BPF programs")
	}
	if _, err := ebpf.ProgramGetNextID(0); err != nil && !errors.Is(err, os.ErrNotExist) {
		Skip(t, fmt.Sprintf("bpf() is not usable: %v", err))
	}
	Lock(t)
	before := Snapshot()
	t.Cleanup(func() { CheckNoLeaks(t, before) })
}

// Lock serialises kernel tests across test binaries (go test runs packages
// in parallel) so that leak checks see only their own test's objects.
func Lock(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(os.TempDir()+"/waggle-kernel-tests.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("open kernel test lock: %v", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("take kernel test lock: %v", err)
	}
	t.Cleanup(func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	})
}

// IDs are the BPF objects loaded in the kernel at one moment.
type IDs struct {
	Programs []ebpf.ProgramID
	Maps     []ebpf.MapID
	Links    []link.ID
}

// Snapshot lists every loaded program, map and link.
func Snapshot() IDs {
	var ids IDs
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			break
		}
		ids.Programs = append(ids.Programs, next)
		id = next
	}
	for id := ebpf.MapID(0); ; {
		next, err := ebpf.MapGetNextID(id)
		if err != nil {
			break
		}
		ids.Maps = append(ids.Maps, next)
		id = next
	}
	it := new(link.Iterator)
	for it.Next() {
		ids.Links = append(ids.Links, it.ID)
		it.Take().Close()
	}
	it.Close()
	return ids
}

// New returns the objects in s that were not in before.
func (s IDs) New(before IDs) IDs {
	var out IDs
	for _, p := range s.Programs {
		if !slices.Contains(before.Programs, p) {
			out.Programs = append(out.Programs, p)
		}
	}
	for _, m := range s.Maps {
		if !slices.Contains(before.Maps, m) {
			out.Maps = append(out.Maps, m)
		}
	}
	for _, l := range s.Links {
		if !slices.Contains(before.Links, l) {
			out.Links = append(out.Links, l)
		}
	}
	return out
}

// Empty reports whether there are no IDs.
func (s IDs) Empty() bool {
	return len(s.Programs) == 0 && len(s.Maps) == 0 && len(s.Links) == 0
}

// CheckNoLeaks fails t if programs, maps or links exist now that did not
// exist at before. The kernel frees objects asynchronously after their last
// reference goes, so it waits a little before deciding.
func CheckNoLeaks(t testing.TB, before IDs) {
	t.Helper()
	var leaked IDs
	for deadline := time.Now().Add(5 * time.Second); ; {
		leaked = Snapshot().New(before)
		if leaked.Empty() || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !leaked.Empty() {
		t.Errorf("left behind in the kernel: programs %v, maps %v, links %v", leaked.Programs, leaked.Maps, leaked.Links)
	}
}
