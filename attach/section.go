// Package attach turns a program's section name (libbpf's conventions) or a
// user's override into an attach point, and attaches loaded programs there.
//
// One dispatch table lives here for every command that attaches programs:
// `waggle run` reads targets from ELF section names, `waggle trace` builds
// them from probe specs.
package attach

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
)

// Kind is the mechanism a program is attached with.
type Kind int

// Attach mechanisms, one per family of libbpf section names.
const (
	KindUnknown       Kind = iota
	KindTracepoint         // tracepoint/GROUP/NAME, tp/GROUP/NAME
	KindRawTracepoint      // raw_tracepoint/NAME, raw_tp/NAME
	KindTpBTF              // tp_btf/NAME
	KindFentry             // fentry/FUNC
	KindFexit              // fexit/FUNC
	KindFmodRet            // fmod_ret/FUNC
	KindKprobe             // kprobe/FUNC[+OFF]
	KindKretprobe          // kretprobe/FUNC
	KindKsyscall           // ksyscall/NAME
	KindKretsyscall        // kretsyscall/NAME
	KindUprobe             // uprobe/BINARY:SYMBOL[+OFF]
	KindUretprobe          // uretprobe/BINARY:SYMBOL[+OFF]
	KindPerfEvent          // perf_event
	KindSocket             // socket
	KindXDP                // xdp
	KindTC                 // tc, tc/ingress, tc/egress, tcx/ingress, tcx/egress, classifier
	KindCgroup             // cgroup/*, cgroup_skb/*, sockops, ...
	KindIter               // iter/NAME
)

var kindNames = map[Kind]string{
	KindTracepoint:    "tracepoint",
	KindRawTracepoint: "raw_tracepoint",
	KindTpBTF:         "tp_btf",
	KindFentry:        "fentry",
	KindFexit:         "fexit",
	KindFmodRet:       "fmod_ret",
	KindKprobe:        "kprobe",
	KindKretprobe:     "kretprobe",
	KindKsyscall:      "ksyscall",
	KindKretsyscall:   "kretsyscall",
	KindUprobe:        "uprobe",
	KindUretprobe:     "uretprobe",
	KindPerfEvent:     "perf_event",
	KindSocket:        "socket",
	KindXDP:           "xdp",
	KindTC:            "tc",
	KindCgroup:        "cgroup",
	KindIter:          "iter",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "unknown"
}

// Target is where one program attaches. Which fields matter depends on Kind.
type Target struct {
	Kind    Kind
	Section string // the section name it came from, for messages

	// Tracepoint: Group and Name. Raw tracepoints, tp_btf, fentry/fexit,
	// kprobes, ksyscalls and iterators: Name only.
	Group, Name string
	// Offset into a kprobe's function.
	Offset uint64

	// Uprobe target (uprobe and uretprobe).
	Uprobe UprobeTarget

	// Interface for xdp, tc and socket programs; empty means "from --iface".
	Interface string
	// Egress selects tc egress instead of ingress.
	Egress bool

	// PerfEvent names the perf event a perf_event program samples,
	// e.g. "cpu-clock"; empty means cpu-clock.
	PerfEvent string
	// Period or Frequency of sampling for this target; zero means the
	// one in Options. OneCPU samples on the first online CPU only (bpftrace's
	// interval probes) instead of on every CPU.
	Period, Frequency uint64
	OneCPU            bool

	// AttachType is the kernel attach type for cgroup, tc and tracing programs.
	AttachType ebpf.AttachType
}

// NeedsTracefs reports whether attaching may need tracefs mounted.
func (t Target) NeedsTracefs() bool {
	switch t.Kind {
	case KindTracepoint, KindKprobe, KindKretprobe, KindKsyscall, KindKretsyscall, KindUprobe, KindUretprobe:
		return true
	}
	return false
}

// HasTarget reports whether the target names everything attaching needs
// (apart from interfaces and cgroups, which come from options).
func (t Target) HasTarget() bool {
	switch t.Kind {
	case KindTracepoint:
		return t.Group != "" && t.Name != ""
	case KindRawTracepoint, KindKprobe, KindKretprobe, KindKsyscall, KindKretsyscall:
		return t.Name != ""
	case KindUprobe, KindUretprobe:
		// An address-only target at 0 is still a target: attaching refuses
		// it with a message about the address, not about a missing target.
		return t.Uprobe.Binary != ""
	}
	return true
}

// String describes the attach point in the words a user would write it.
func (t Target) String() string {
	switch t.Kind {
	case KindTracepoint:
		return "tracepoint:" + t.Group + ":" + t.Name
	case KindRawTracepoint, KindTpBTF, KindFentry, KindFexit, KindFmodRet, KindKsyscall, KindKretsyscall, KindIter:
		return t.Kind.String() + ":" + t.Name
	case KindKprobe, KindKretprobe:
		if t.Offset != 0 {
			return fmt.Sprintf("%s:%s+%#x", t.Kind, t.Name, t.Offset)
		}
		return t.Kind.String() + ":" + t.Name
	case KindUprobe, KindUretprobe:
		if t.Uprobe.Binary == "" {
			return t.Kind.String()
		}
		return t.Kind.String() + ":" + t.Uprobe.String()
	case KindPerfEvent:
		ev := t.PerfEvent
		if ev == "" {
			ev = "cpu-clock"
		}
		return "perf_event:" + ev
	case KindXDP, KindSocket:
		return t.Kind.String() + ":" + t.Interface
	case KindTC:
		dir := "ingress"
		if t.Egress {
			dir = "egress"
		}
		return "tc:" + t.Interface + ":" + dir
	case KindCgroup:
		return "cgroup:" + t.AttachType.String()
	}
	return t.Section
}

// ErrUnknownSection is returned for section names no attach mechanism claims.
type ErrUnknownSection struct{ Section string }

func (e *ErrUnknownSection) Error() string {
	return fmt.Sprintf("unknown section %q: waggle follows libbpf's section names (tracepoint/, raw_tp/, tp_btf/, fentry/, fexit/, kprobe/, kretprobe/, ksyscall/, uprobe/, uretprobe/, perf_event, socket, xdp, tc, tcx/, cgroup/, cgroup_skb/, iter/)", e.Section)
}

// ParseSection maps a libbpf section name to a Target. progType and
// attachType are what the ELF loader derived from the same name; they pick
// out program families whose section names vary (cgroup hooks).
func ParseSection(section string, progType ebpf.ProgramType, attachType ebpf.AttachType) (Target, error) {
	name := strings.TrimPrefix(section, "?")
	t := Target{Section: section, AttachType: attachType}
	prefix, rest, _ := strings.Cut(name, "/")
	switch prefix {
	case "tracepoint", "tp":
		t.Kind = KindTracepoint
		if rest != "" {
			g, n, ok := strings.Cut(rest, "/")
			if !ok || g == "" || n == "" || strings.ContainsAny(n, "/:") || strings.Contains(g, ":") {
				return t, fmt.Errorf("section %q: a tracepoint is written %s/GROUP/NAME", section, prefix)
			}
			t.Group, t.Name = g, n
		}
	case "raw_tracepoint", "raw_tp", "raw_tracepoint.w", "raw_tp.w":
		t.Kind, t.Name = KindRawTracepoint, rest
	case "tp_btf":
		t.Kind, t.Name = KindTpBTF, rest
	case "fentry", "fentry.s":
		t.Kind, t.Name = KindFentry, rest
	case "fexit", "fexit.s":
		t.Kind, t.Name = KindFexit, rest
	case "fmod_ret", "fmod_ret.s":
		t.Kind, t.Name = KindFmodRet, rest
	case "kprobe", "kretprobe":
		t.Kind = KindKprobe
		if prefix == "kretprobe" {
			t.Kind = KindKretprobe
		}
		fn, off, err := parseFuncOffset(rest)
		if err != nil {
			return t, fmt.Errorf("section %q: %w", section, err)
		}
		if t.Kind == KindKretprobe && off != 0 {
			return t, fmt.Errorf("section %q: a kretprobe cannot have an offset", section)
		}
		t.Name, t.Offset = fn, off
	case "ksyscall":
		t.Kind, t.Name = KindKsyscall, rest
	case "kretsyscall":
		t.Kind, t.Name = KindKretsyscall, rest
	case "uprobe", "uretprobe", "uprobe.s", "uretprobe.s":
		t.Kind = KindUprobe
		if strings.HasPrefix(prefix, "uretprobe") {
			t.Kind = KindUretprobe
		}
		if rest != "" {
			u, err := ParseUprobeTarget(rest)
			if err != nil {
				return t, fmt.Errorf("section %q: %w", section, err)
			}
			t.Uprobe = u
		}
	case "perf_event":
		t.Kind = KindPerfEvent
	case "socket":
		t.Kind = KindSocket
	case "xdp", "xdp.frags":
		if rest != "" {
			// xdp/devmap and xdp/cpumap programs run from maps, not interfaces.
			return t, &ErrUnknownSection{section}
		}
		t.Kind = KindXDP
	case "tc", "tcx", "classifier":
		t.Kind = KindTC
		switch rest {
		case "", "ingress":
		case "egress":
			t.Egress = true
		default:
			return t, &ErrUnknownSection{section}
		}
	case "iter", "iter.s":
		t.Kind, t.Name = KindIter, rest
	default:
		if progType.String() != "" && isCgroupProgram(progType, attachType) {
			t.Kind = KindCgroup
			break
		}
		return t, &ErrUnknownSection{section}
	}
	return t, nil
}

// isCgroupProgram reports whether the loader recognised a cgroup hook.
func isCgroupProgram(pt ebpf.ProgramType, at ebpf.AttachType) bool {
	switch pt {
	case ebpf.CGroupSKB, ebpf.CGroupSock, ebpf.CGroupSockAddr, ebpf.CGroupSysctl,
		ebpf.CGroupSockopt, ebpf.CGroupDevice, ebpf.SockOps:
		return at != ebpf.AttachNone || pt == ebpf.CGroupSKB
	}
	return false
}

// parseFuncOffset splits "FUNC[+OFF]".
func parseFuncOffset(s string) (string, uint64, error) {
	fn, offStr, ok := strings.Cut(s, "+")
	if !ok {
		return s, 0, nil
	}
	off, err := strconv.ParseUint(offStr, 0, 64)
	if err != nil || fn == "" {
		return "", 0, fmt.Errorf("%q: expected FUNCTION+OFFSET", Shorten(s))
	}
	return fn, off, nil
}

// Override applies a user's --attach value to a target of the same kind:
//
//	tracepoint      GROUP:NAME or GROUP/NAME
//	kprobe          FUNC[+OFF]
//	uprobe          BINARY:SYMBOL[+OFF]
//	xdp, socket     IFACE
//	tc              IFACE[:ingress|:egress]
//	perf_event      EVENT (cpu-clock, task-clock, page-faults, ...)
//	others          NAME
//
// fentry, fexit, fmod_ret and tp_btf targets are bound when the program is
// loaded: callers must copy Name into ProgramSpec.AttachTo before loading.
func (t Target) Override(value string) (Target, error) {
	if value == "" {
		return t, fmt.Errorf("empty attach target")
	}
	switch t.Kind {
	case KindTracepoint:
		g, n, ok := strings.Cut(strings.Replace(value, ":", "/", 1), "/")
		if !ok || g == "" || n == "" || strings.ContainsAny(n, "/:") {
			return t, fmt.Errorf("tracepoint target %q: expected GROUP:NAME", Shorten(value))
		}
		t.Group, t.Name = g, n
	case KindKprobe, KindKretprobe:
		fn, off, err := parseFuncOffset(value)
		if err != nil {
			return t, err
		}
		if t.Kind == KindKretprobe && off != 0 {
			return t, fmt.Errorf("kretprobe target %q: a kretprobe cannot have an offset", Shorten(value))
		}
		t.Name, t.Offset = fn, off
	case KindUprobe, KindUretprobe:
		u, err := ParseUprobeTarget(value)
		if err != nil {
			return t, err
		}
		t.Uprobe = u
	case KindXDP, KindSocket:
		t.Interface = value
	case KindTC:
		iface, dir, _ := strings.Cut(value, ":")
		switch dir {
		case "", "ingress":
			t.Egress = false
		case "egress":
			t.Egress = true
		default:
			return t, fmt.Errorf("tc target %q: expected IFACE[:ingress|:egress]", Shorten(value))
		}
		t.Interface = iface
	case KindPerfEvent:
		if _, ok := perfEvents[value]; !ok {
			return t, fmt.Errorf("perf event %q: expected one of %s", Shorten(value), strings.Join(perfEventNames(), ", "))
		}
		t.PerfEvent = value
	case KindCgroup:
		return t, fmt.Errorf("cgroup programs take their cgroup from --cgroup, not --attach")
	case KindIter:
		return t, fmt.Errorf("iterator programs are bound to their iterator by the section name")
	default:
		t.Name = value
	}
	return t, nil
}
