// Package session is the kernel lifecycle shared by every waggle command
// that runs eBPF: preparing the process, loading a collection, attaching
// its programs, streaming events, and tearing everything down.
package session

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/rlimit"
	"github.com/wagglebpf/waggle/attach"
)

// ErrPrivileges explains, in one sentence, what loading eBPF needs.
var ErrPrivileges = errors.New("waggle needs root, or the CAP_BPF and CAP_PERFMON capabilities, to load eBPF programs (try sudo)")

// Capability numbers from linux/capability.h.
const (
	capNetAdmin = 12
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// Prepare readies the process for loading eBPF: it checks privileges,
// lifts RLIMIT_MEMLOCK for kernels that still charge maps against it, and
// mounts tracefs when it is missing and we are root, saying so once on log.
func Prepare(log io.Writer) error {
	if !privileged() {
		return ErrPrivileges
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return fmt.Errorf("lift RLIMIT_MEMLOCK: %w", err)
	}
	mounted, err := attach.EnsureTracefs()
	if mounted && log != nil {
		fmt.Fprintf(log, "waggle: mounted tracefs at %s\n", attach.TracefsPath)
	}
	if err != nil && os.Geteuid() == 0 && log != nil {
		// Not fatal: only tracepoints and probes need it, and they say so.
		fmt.Fprintf(log, "waggle: %v\n", err)
	}
	return nil
}

// privileged reports whether this process may load programs: root, or
// CAP_SYS_ADMIN, or CAP_BPF together with CAP_PERFMON.
func privileged() bool {
	caps, err := effectiveCaps()
	if err != nil {
		return os.Geteuid() == 0
	}
	has := func(c uint) bool { return caps&(1<<c) != 0 }
	return has(capSysAdmin) || (has(capBPF) && has(capPerfmon))
}

func effectiveCaps() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, errors.New("no CapEff in /proc/self/status")
}

// explainPermission replaces a bare EPERM with what the user can do.
func explainPermission(err error) error {
	if err == nil || !attach.IsPermission(err) {
		return err
	}
	if !privileged() {
		return fmt.Errorf("%w: %v", ErrPrivileges, err)
	}
	return err
}
