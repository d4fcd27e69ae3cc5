package feature

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/attach"
)

// attachProbe attaches a program the way one attach mechanism does and
// detaches it at once. It returns what the attempt returned.
type attachProbe struct {
	name string
	// spec is the program to load; nil when run loads its own.
	spec *ebpf.ProgramSpec
	run  func(prog *ebpf.Program) error
	// no is the reason to give when the kernel says it does not support
	// the mechanism (ebpf.ErrNotSupported).
	no string
}

func (p *prober) attach() []Answer {
	probes := []attachProbe{
		{name: "kprobe", spec: &ebpf.ProgramSpec{Type: ebpf.Kprobe}, run: func(prog *ebpf.Program) error {
			return closeLink(link.Kprobe(kprobeTarget, prog, nil))
		}},
		{name: "kretprobe", spec: &ebpf.ProgramSpec{Type: ebpf.Kprobe}, run: func(prog *ebpf.Program) error {
			return closeLink(link.Kretprobe(kprobeTarget, prog, nil))
		}},
		{name: "kprobe_multi", run: func(*ebpf.Program) error { return features.HaveBPFLinkKprobeMulti() },
			no: "the kernel has no kprobe_multi links (it is older than 5.18, or was built without CONFIG_FPROBE)"},
		{name: "kprobe_session", run: func(*ebpf.Program) error { return features.HaveBPFLinkKprobeSession() },
			no: "the kernel has no kprobe sessions (it is older than 6.10, or was built without CONFIG_FPROBE)"},
		{name: "uprobe", spec: &ebpf.ProgramSpec{Type: ebpf.Kprobe}, run: func(prog *ebpf.Program) error {
			return uprobe(prog, false)
		}},
		{name: "uretprobe", spec: &ebpf.ProgramSpec{Type: ebpf.Kprobe}, run: func(prog *ebpf.Program) error {
			return uprobe(prog, true)
		}},
		{name: "uprobe_multi", spec: &ebpf.ProgramSpec{Type: ebpf.Kprobe, AttachType: ebpf.AttachTraceUprobeMulti}, run: uprobeMulti,
			no: "the kernel has no uprobe_multi links (it is older than 6.6, or was built without CONFIG_UPROBES)"},
		{name: "tracepoint", spec: &ebpf.ProgramSpec{Type: ebpf.TracePoint}, run: func(prog *ebpf.Program) error {
			if tracefs().Status != Yes {
				return errNoTracefs
			}
			return closeLink(link.Tracepoint("sched", "sched_process_exec", prog, nil))
		}},
		{name: "raw_tracepoint", spec: &ebpf.ProgramSpec{Type: ebpf.RawTracepoint}, run: func(prog *ebpf.Program) error {
			return closeLink(link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sched_process_exec", Program: prog}))
		}},
		{name: "tp_btf", spec: &ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceRawTp, AttachTo: "sched_process_exec"}, run: tracing},
		{name: "fentry", spec: &ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceFEntry, AttachTo: "bpf_fentry_test1"}, run: tracing},
		{name: "fexit", spec: &ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceFExit, AttachTo: "bpf_fentry_test1"}, run: tracing},
		{name: "fmod_ret", spec: &ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachModifyReturn, AttachTo: "bpf_modify_return_test"}, run: tracing},
		{name: "lsm", spec: &ebpf.ProgramSpec{Type: ebpf.LSM, AttachType: ebpf.AttachLSMMac, AttachTo: "file_mprotect"}, run: func(prog *ebpf.Program) error {
			return closeLink(link.AttachLSM(link.LSMOptions{Program: prog}))
		}},
		{name: "iter", spec: &ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceIter, AttachTo: "bpf_map"}, run: func(prog *ebpf.Program) error {
			return closeLink(link.AttachIter(link.IterOptions{Program: prog}))
		}},
		{name: "perf_event", spec: &ebpf.ProgramSpec{Type: ebpf.PerfEvent}, run: func(prog *ebpf.Program) error {
			a, err := attach.Attach(prog, attach.Target{Kind: attach.KindPerfEvent, OneCPU: true}, attach.Options{Frequency: 1})
			if err != nil {
				return err
			}
			return a.Close()
		}},
		{name: "socket_filter", spec: &ebpf.ProgramSpec{Type: ebpf.SocketFilter}, run: socketFilter},
		{name: "xdp", spec: &ebpf.ProgramSpec{Type: ebpf.XDP}, run: func(prog *ebpf.Program) error {
			return inNetns(func() error {
				return closeLink(link.AttachXDP(link.XDPOptions{Program: prog, Interface: loopbackIndex}))
			})
		}},
		{name: "tcx", spec: &ebpf.ProgramSpec{Type: ebpf.SchedCLS}, run: func(prog *ebpf.Program) error {
			return inNetns(func() error {
				return closeLink(link.AttachTCX(link.TCXOptions{Program: prog, Interface: loopbackIndex, Attach: ebpf.AttachTCXIngress}))
			})
		}, no: "the kernel has no tcx links (Linux 6.6 added them; older kernels attach tc programs through netlink)"},
		{name: "netfilter", spec: &ebpf.ProgramSpec{Type: ebpf.Netfilter, AttachType: ebpf.AttachNetfilter}, run: func(prog *ebpf.Program) error {
			return inNetns(func() error {
				return closeLink(link.AttachNetfilter(link.NetfilterOptions{Program: prog, ProtocolFamily: link.NetfilterProtoIPv4, Hook: link.NetfilterInetLocalIn, Priority: -128}))
			})
		}},
		{name: "sk_lookup", spec: &ebpf.ProgramSpec{Type: ebpf.SkLookup, AttachType: ebpf.AttachSkLookup}, run: netnsLink},
		{name: "flow_dissector", spec: &ebpf.ProgramSpec{Type: ebpf.FlowDissector, AttachType: ebpf.AttachFlowDissector}, run: netnsLink},
		{name: "cgroup", spec: &ebpf.ProgramSpec{Type: ebpf.CGroupSKB, AttachType: ebpf.AttachCGroupInetIngress}, run: cgroupLink},
	}
	out := make([]Answer, len(probes))
	// Attaching and detaching wait for the kernel's grace periods (tens of
	// milliseconds for uprobes and tracepoints); run at once, the waits
	// overlap.
	each(len(probes), len(probes), func(i int) { out[i] = p.attachAnswer(probes[i]) })
	return out
}

func (p *prober) attachAnswer(pr attachProbe) Answer {
	var prog *ebpf.Program
	if pr.spec != nil {
		var err error
		prog, err = loadProgram(pr.spec)
		if err != nil {
			a := p.classify(pr.name, typeError(err), "the kernel does not know its program type")
			if a.Status == No && a.Reason != "" {
				a.Reason = "loading a " + pr.name + " program failed: " + a.Reason
			}
			return a
		}
		defer prog.Close()
	}
	err := pr.run(prog)
	if pr.name == "kprobe" || pr.name == "kretprobe" {
		if err != nil && !attach.KprobesAvailable() {
			return Answer{Name: pr.name, Status: No, Reason: "the kernel has neither the kprobe PMU nor kprobe_events in tracefs: it was built without CONFIG_KPROBES"}
		}
	}
	if errors.Is(err, errNoTracefs) {
		return Answer{Name: pr.name, Status: Unknown, Reason: err.Error()}
	}
	a := p.classify(pr.name, err, pr.no)
	if a.Status == No && pr.no == "" {
		a.Reason = "attaching failed: " + a.Reason
	}
	return a
}

// kprobeTarget is a kernel function every kernel has.
const kprobeTarget = "vprintk"

// loopbackIndex is lo's interface index in a new network namespace.
const loopbackIndex = 1

func closeLink(l io.Closer, err error) error {
	if err != nil {
		return err
	}
	return l.Close()
}

var errNoTracefs = errors.New("tracefs is not mounted, so tracepoints cannot be attached (waggle mounts it when it runs a probe that needs it, as root)")

func tracing(prog *ebpf.Program) error {
	return closeLink(link.AttachTracing(link.TracingOptions{Program: prog}))
}

// entryOffset is the file offset of this executable's entry point: an
// instruction that runs once, at start, so a uprobe there fires for no
// one.
func entryOffset(path string) (uint64, error) {
	f, err := elf.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	for _, ph := range f.Progs {
		if ph.Type == elf.PT_LOAD && ph.Flags&elf.PF_X != 0 && f.Entry >= ph.Vaddr && f.Entry < ph.Vaddr+ph.Filesz {
			return f.Entry - ph.Vaddr + ph.Off, nil
		}
	}
	return 0, errors.New("the executable's entry point is in no loaded segment")
}

// selfProbePoint opens this executable and finds its entry point to probe.
func selfProbePoint() (*link.Executable, uint64, error) {
	const self = "/proc/self/exe"
	off, err := entryOffset(self)
	if err != nil {
		return nil, 0, fmt.Errorf("finding an instruction to probe: %w", err)
	}
	ex, err := link.OpenExecutable(self)
	return ex, off, err
}

// uprobe attaches to this executable's entry point.
func uprobe(prog *ebpf.Program, ret bool) error {
	ex, off, err := selfProbePoint()
	if err != nil {
		return err
	}
	opts := &link.UprobeOptions{Address: off}
	if ret {
		return closeLink(ex.Uretprobe("waggle_feature_probe", prog, opts))
	}
	return closeLink(ex.Uprobe("waggle_feature_probe", prog, opts))
}

func uprobeMulti(prog *ebpf.Program) error {
	ex, off, err := selfProbePoint()
	if err != nil {
		return err
	}
	err = closeLink(ex.UprobeMulti(nil, prog, &link.UprobeMultiOptions{Addresses: []uint64{off}}))
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
		return ebpf.ErrNotSupported
	}
	return err
}

// socketFilter attaches to one end of a fresh socket pair.
func socketFilter(prog *ebpf.Program) error {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	return unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_ATTACH_BPF, prog.FD())
}

// inNetns runs f on a thread of its own in a new network namespace, so
// that probes of network hooks touch no interface of the machine. The
// thread ends with f (its goroutine exits locked to it).
func inNetns(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("creating a network namespace to probe in: %w", err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// netnsLink attaches to a new network namespace.
func netnsLink(prog *ebpf.Program) error {
	return inNetns(func() error {
		ns, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			return err
		}
		defer ns.Close()
		return closeLink(link.AttachNetNs(int(ns.Fd()), prog))
	})
}

// cgroupLink attaches to a fresh child of the cgroup v2 root, removed
// afterwards.
func cgroupLink(prog *ebpf.Program) error {
	root, err := attach.CgroupV2Root()
	if err != nil {
		return err
	}
	dir := filepath.Join(root, "waggle-feature-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("creating a cgroup to probe in: %w", err)
	}
	defer os.Remove(dir)
	return closeLink(link.AttachCgroup(link.CgroupOptions{Path: dir, Attach: ebpf.AttachCGroupInetIngress, Program: prog}))
}
