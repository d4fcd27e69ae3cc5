package attach

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Options supply what section names cannot say: interfaces, cgroups,
// process filters and sampling rates.
type Options struct {
	// Interface for xdp, tc and socket programs whose target names none.
	Interface string
	// Cgroup is the cgroup v2 directory for cgroup programs; empty means
	// the root of the cgroup v2 hierarchy.
	Cgroup string
	// PID restricts uprobes to one process (0: every process).
	PID int
	// Frequency (Hz) or Period (events) of perf_event sampling; Period
	// wins when both are set, and when both are zero Frequency is 99 Hz.
	Frequency, Period uint64
}

// Attachment is one attached program; Close detaches it.
type Attachment interface {
	io.Closer
	// Target is where the program is attached.
	Target() Target
}

// Iterator is the attachment of an iter/ program: Read runs it once.
type Iterator interface {
	Attachment
	// WriteTo runs the iterator and copies its output to w.
	WriteTo(w io.Writer) (int64, error)
}

// Attach attaches a loaded program at t.
func Attach(prog *ebpf.Program, t Target, opts Options) (Attachment, error) {
	a, err := attach(prog, t, opts)
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", Shorten(t.String()), err)
	}
	return a, nil
}

// TracepointContextError is the kernel refusing a tracepoint program with
// EACCES when it links it: the program reads further into its context than
// the tracepoint's record reaches, which happens when a program written for
// one tracepoint is attached to another with a smaller record.
type TracepointContextError struct {
	Group, Name string
	Err         error
}

func (e *TracepointContextError) Error() string {
	return fmt.Sprintf("the kernel refused to attach the program to tracepoint %s (%v): %s", e.tracepoint(), unix.EACCES, e.Why())
}

// Why is the explanation, without naming the program or the tracepoint.
func (e *TracepointContextError) Why() string {
	return "the program reads beyond this tracepoint's record; it was probably written for another tracepoint"
}

// Describe is the message for the program named program.
func (e *TracepointContextError) Describe(program string) string {
	return fmt.Sprintf("the kernel refused to attach program %s to tracepoint %s (%v): %s", program, e.tracepoint(), unix.EACCES, e.Why())
}

func (e *TracepointContextError) tracepoint() string { return Shorten(e.Group + ":" + e.Name) }

func (e *TracepointContextError) Unwrap() error { return e.Err }

// isContextRefusal reports whether err from link.Tracepoint is the kernel
// refusing to connect the program to the event with EACCES (rather than
// refusing to open the event): cilium/ebpf wraps the link's errno with %v,
// so the text is all that is left of it.
func isContextRefusal(err error) bool {
	msg := err.Error()
	if strings.Contains(msg, "opening tracepoint perf event") {
		return false
	}
	return (strings.Contains(msg, "bpf perf link") || strings.Contains(msg, "perf event bpf program")) &&
		(errors.Is(err, unix.EACCES) || strings.HasSuffix(msg, unix.EACCES.Error()))
}

func attach(prog *ebpf.Program, t Target, opts Options) (Attachment, error) {
	if !t.HasTarget() {
		return nil, errNoTarget(t)
	}
	switch t.Kind {
	case KindTracepoint:
		l, err := link.Tracepoint(t.Group, t.Name, prog, nil)
		if err != nil {
			// A name too long for a file name cannot be a tracepoint either.
			if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENAMETOOLONG) {
				return nil, fmt.Errorf("no such tracepoint (the list is in %s/events)", TracefsPath)
			}
			if isContextRefusal(err) {
				return nil, &TracepointContextError{Group: t.Group, Name: t.Name, Err: err}
			}
			return nil, err
		}
		return linkAttachment{l, t}, nil
	case KindRawTracepoint:
		l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: t.Name, Program: prog})
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, errors.New("no such raw tracepoint")
			}
			return nil, err
		}
		return linkAttachment{l, t}, nil
	case KindTpBTF, KindFentry, KindFexit, KindFmodRet:
		l, err := link.AttachTracing(link.TracingOptions{Program: prog})
		if err != nil {
			return nil, err
		}
		return linkAttachment{l, t}, nil
	case KindKprobe, KindKretprobe, KindKsyscall, KindKretsyscall:
		return attachKprobe(prog, t)
	case KindUprobe, KindUretprobe:
		return attachUprobe(prog, t, opts)
	case KindPerfEvent:
		return attachPerfEvent(prog, t, opts)
	case KindSocket:
		return attachSocket(prog, t, opts)
	case KindXDP:
		ifc, err := iface(t, opts)
		if err != nil {
			return nil, err
		}
		t.Interface = ifc.Name
		l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifc.Index})
		if err != nil {
			return nil, err
		}
		return linkAttachment{l, t}, nil
	case KindTC:
		ifc, err := iface(t, opts)
		if err != nil {
			return nil, err
		}
		t.Interface = ifc.Name
		at := ebpf.AttachTCXIngress
		if t.Egress {
			at = ebpf.AttachTCXEgress
		}
		l, err := link.AttachTCX(link.TCXOptions{Program: prog, Interface: ifc.Index, Attach: at})
		if err != nil {
			return nil, err
		}
		return linkAttachment{l, t}, nil
	case KindCgroup:
		path := opts.Cgroup
		if path == "" {
			root, err := CgroupV2Root()
			if err != nil {
				return nil, err
			}
			path = root
		}
		if st, err := os.Stat(path); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("cgroup %s does not exist", Shorten(path))
		}
		if err := checkCgroup2(path); err != nil {
			return nil, err
		}
		l, err := link.AttachCgroup(link.CgroupOptions{Path: path, Attach: t.AttachType, Program: prog})
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("cgroup %s does not exist", Shorten(path))
			}
			return nil, fmt.Errorf("cgroup %s: %w", Shorten(path), err)
		}
		return linkAttachment{l, t}, nil
	case KindIter:
		it, err := link.AttachIter(link.IterOptions{Program: prog})
		if err != nil {
			return nil, err
		}
		return &iterAttachment{it, t}, nil
	}
	return nil, fmt.Errorf("section %q: no attach mechanism", t.Section)
}

func errNoTarget(t Target) error {
	var want string
	switch t.Kind {
	case KindTracepoint:
		want = "GROUP:NAME"
	case KindUprobe, KindUretprobe:
		want = "BINARY:SYMBOL"
	case KindKprobe, KindKretprobe:
		want = "FUNCTION"
	case KindKsyscall, KindKretsyscall:
		want = "SYSCALL"
	default:
		want = "NAME"
	}
	return fmt.Errorf("section %q names no %s target; give one with --attach PROGRAM=%s", t.Section, t.Kind, want)
}

// linkAttachment is every attachment that is a single bpf link.
type linkAttachment struct {
	link.Link
	t Target
}

func (l linkAttachment) Target() Target { return l.t }

type iterAttachment struct {
	it *link.Iter
	t  Target
}

func (a *iterAttachment) Close() error   { return a.it.Close() }
func (a *iterAttachment) Target() Target { return a.t }

func (a *iterAttachment) WriteTo(w io.Writer) (int64, error) {
	r, err := a.it.Open()
	if err != nil {
		return 0, fmt.Errorf("run iterator %s: %w", a.t.Name, err)
	}
	defer r.Close()
	return io.Copy(w, r)
}

func iface(t Target, opts Options) (*net.Interface, error) {
	name := t.Interface
	if name == "" {
		name = opts.Interface
	}
	if name == "" {
		return nil, fmt.Errorf("%s programs need an interface: use --iface NAME", t.Kind)
	}
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		if t.Interface != "" {
			// The target, which Attach's error names, is the interface.
			return nil, errors.New("no such interface")
		}
		return nil, fmt.Errorf("interface %q does not exist", Shorten(name))
	}
	return ifc, nil
}

// checkCgroup2 refuses a directory that is not in a cgroup v2 hierarchy
// (a v1 controller, or the tmpfs that holds them on hybrid systems), where
// the kernel would only answer EBADF.
func checkCgroup2(path string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return fmt.Errorf("cgroup %s: %w", Shorten(path), err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return nil
	}
	root, err := CgroupV2Root()
	if err != nil {
		return fmt.Errorf("%s is not a cgroup v2 directory, and %w", Shorten(path), err)
	}
	return fmt.Errorf("%s is not a cgroup v2 directory (cgroup v2 is mounted at %s)", Shorten(path), root)
}

// ErrKprobesUnavailable means the kernel offers neither the kprobe PMU nor
// tracefs kprobe_events, usually because CONFIG_KPROBES is off.
var ErrKprobesUnavailable = errors.New("kprobes are not available on this kernel (no kprobe PMU and no kprobe_events in tracefs: CONFIG_KPROBES is probably off)")

// KprobesAvailable reports whether the running kernel can create kprobes.
func KprobesAvailable() bool {
	if _, err := os.Stat("/sys/bus/event_source/devices/kprobe/type"); err == nil {
		return true
	}
	for _, dir := range []string{TracefsPath, "/sys/kernel/debug/tracing"} {
		if _, err := os.Stat(dir + "/kprobe_events"); err == nil {
			return true
		}
	}
	return false
}

func attachKprobe(prog *ebpf.Program, t Target) (Attachment, error) {
	if !KprobesAvailable() {
		return nil, ErrKprobesUnavailable
	}
	symbol := t.Name
	if t.Kind == KindKsyscall || t.Kind == KindKretsyscall {
		f, err := os.Open("/proc/kallsyms")
		if err != nil {
			return nil, err
		}
		symbol, err = KsyscallTarget(t.Name, f)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	var (
		l   link.Link
		err error
	)
	if t.Kind == KindKretprobe || t.Kind == KindKretsyscall {
		l, err = link.Kretprobe(symbol, prog, nil)
	} else {
		l, err = link.Kprobe(symbol, prog, &link.KprobeOptions{Offset: t.Offset})
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if symbol != t.Name {
				return nil, fmt.Errorf("kernel function %q does not exist or cannot be probed", symbol)
			}
			return nil, errors.New("no such kernel function, or it cannot be probed")
		}
		return nil, err
	}
	return linkAttachment{l, t}, nil
}

func attachUprobe(prog *ebpf.Program, t Target, opts Options) (Attachment, error) {
	if t.Uprobe.Symbol == "" && t.Uprobe.Offset == 0 {
		// cilium/ebpf reads Address 0 as "no address" and would look up
		// the made-up symbol name instead.
		return nil, errors.New("address 0 cannot be probed; give a symbol or a nonzero address")
	}
	// Attach's error names the target, binary included: what
	// resolveBinary says need not repeat it.
	path, err := resolveBinary(t.Uprobe.Binary, opts.PID)
	if err != nil {
		return nil, fmt.Errorf("binary: %w", err)
	}
	ex, err := link.OpenExecutable(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", Shorten(path), err)
	}
	uo := &link.UprobeOptions{PID: opts.PID, Offset: t.Uprobe.Offset}
	symbol := t.Uprobe.Symbol
	if symbol == "" {
		// An address-only target: the symbol is only used to name the probe.
		uo.Address, uo.Offset = t.Uprobe.Offset, 0
		symbol = fmt.Sprintf("addr_%x", t.Uprobe.Offset)
	}
	var l link.Link
	if t.Kind == KindUretprobe {
		l, err = ex.Uretprobe(symbol, prog, uo)
	} else {
		l, err = ex.Uprobe(symbol, prog, uo)
	}
	if err != nil {
		if errors.Is(err, link.ErrNoSymbol) {
			return nil, fmt.Errorf("no such symbol in %s", Shorten(path))
		}
		return nil, err
	}
	return linkAttachment{l, t}, nil
}

// CgroupV2Root finds where the unified cgroup hierarchy is mounted
// (/sys/fs/cgroup on most systems, /sys/fs/cgroup/unified on hybrid ones).
func CgroupV2Root() (string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("find cgroup v2: %w", err)
	}
	if dir, ok := cgroup2MountPoint(string(data)); ok {
		return dir, nil
	}
	return "", errors.New("no cgroup v2 hierarchy is mounted (mount -t cgroup2 none /sys/fs/cgroup)")
}

// cgroup2MountPoint finds the first cgroup2 mount in /proc/self/mountinfo.
func cgroup2MountPoint(mountinfo string) (string, bool) {
	for _, line := range strings.Split(mountinfo, "\n") {
		// Fields: id parent major:minor root mountpoint opts ... - fstype source superopts
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		if f := strings.Fields(post); len(f) == 0 || f[0] != "cgroup2" {
			continue
		}
		if f := strings.Fields(pre); len(f) >= 5 {
			return unescapeMountinfo(f[4]), true
		}
	}
	return "", false
}

// unescapeMountinfo undoes the kernel's octal escapes of space, tab,
// newline and backslash (\040, \011, \012, \134) in mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// IsPermission reports whether err is the kernel refusing for lack of
// privilege.
func IsPermission(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)
}
