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

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"
	"github.com/wagglebpf/waggle/attach"
)

// ErrPrivileges explains, in one sentence, what loading eBPF needs. It
// reads well after the "waggle: " that commands put before errors.
var ErrPrivileges = errors.New("loading eBPF programs needs root, or the CAP_BPF and CAP_PERFMON capabilities (try sudo)")

// Capability numbers from linux/capability.h.
const (
	capNetAdmin = 12
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// Prepare readies the process for loading eBPF: PrepareNoTracefs, then
// MountTracefs. Callers that know which attach points they will use call
// the two themselves, and mount tracefs only when NeedsTracefs says so.
func Prepare(log io.Writer) error {
	if err := PrepareNoTracefs(); err != nil {
		return err
	}
	MountTracefs(log)
	return nil
}

// PrepareNoTracefs checks privileges and lifts RLIMIT_MEMLOCK for kernels
// that still charge maps against it: what loading anything needs, probes
// of the kernel's features (MakePlan's) included.
func PrepareNoTracefs() error {
	if !privileged() {
		return ErrPrivileges
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return fmt.Errorf("lift RLIMIT_MEMLOCK: %w", err)
	}
	return nil
}

// MountTracefs mounts tracefs when it is missing and we are root, saying
// so once on log. Failing is not fatal: only tracepoints and probes need
// it, and they say so; as root the reason is written to log.
func MountTracefs(log io.Writer) {
	mounted, err := attach.EnsureTracefs()
	if mounted && log != nil {
		fmt.Fprintf(log, "waggle: mounted tracefs at %s\n", attach.TracefsPath)
	}
	if err != nil && os.Geteuid() == 0 && log != nil {
		fmt.Fprintf(log, "waggle: %v\n", err)
	}
}

// NeedsTracefs reports whether loading spec and attaching the targets of
// plan may need tracefs: tracepoints, kprobes and uprobes do, and so do
// objects with .kconfig externs, for cilium/ebpf reads tracefs to work out
// LINUX_HAS_SYSCALL_WRAPPER (which ksyscall programs use).
func NeedsTracefs(spec *ebpf.CollectionSpec, plan *Plan) bool {
	if plan != nil {
		for _, t := range plan.Targets {
			if t.NeedsTracefs() {
				return true
			}
		}
	}
	if spec == nil {
		return false
	}
	if _, ok := spec.Maps[".kconfig"]; ok {
		return true
	}
	for _, v := range spec.Variables {
		if v.SectionName == ".kconfig" {
			return true
		}
	}
	return false
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
