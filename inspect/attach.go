package inspect

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/wagglebpf/waggle/attach"
)

// AttachPoint is one place a program runs from.
type AttachPoint struct {
	// Kind is the family of hook: tracepoint, raw_tracepoint, kprobe,
	// kretprobe, uprobe, uretprobe, perf_event, tracing, iter, cgroup,
	// netns, xdp, tcx, tc, netkit, netfilter, struct_ops, kprobe_multi,
	// uprobe_multi, sockmap.
	Kind string `json:"kind"`
	// Target is what the hook is attached to: a tracepoint
	// ("syscalls:sys_enter_openat"), a function ("do_sys_openat2+0x0"),
	// a file and offset ("/usr/bin/bash+0x9a10"), an interface, a cgroup
	// directory, a network namespace, a perf event ("software:cpu-clock").
	Target string `json:"target,omitempty"`
	// AttachType is the kernel's attach type when the hook has one
	// ("cgroup_inet_ingress", "tcx_egress").
	AttachType string `json:"attach_type,omitempty"`
	// Detail is what else identifies the attachment: an XDP mode, a tc
	// filter's priority and handle, a netfilter priority, a uprobe's pid.
	Detail string `json:"detail,omitempty"`
	// LinkIDs are the links that hold the attachment (several for one
	// perf event per CPU); empty for attachments made without a link.
	LinkIDs []uint32 `json:"link_ids,omitempty"`
	// PerfFDs are the perf event file descriptors, and their processes,
	// that hold an attachment made without a link (found with
	// BPF_TASK_FD_QUERY).
	PerfFDs []FD `json:"perf_fds,omitempty"`
}

// String is the attachment in one line: "tracepoint syscalls:sys_enter_openat
// (link 7)".
func (a AttachPoint) String() string {
	var b strings.Builder
	b.WriteString(a.Hook())
	switch {
	case len(a.LinkIDs) == 1:
		fmt.Fprintf(&b, " (link %d)", a.LinkIDs[0])
	case len(a.LinkIDs) > 1:
		fmt.Fprintf(&b, " (links %s)", joinIDs(a.LinkIDs))
	case len(a.PerfFDs) > 0:
		var fds []string
		for _, f := range a.PerfFDs {
			fds = append(fds, fmt.Sprintf("%s(%d) fd %d", f.Comm, f.PID, f.FD))
		}
		b.WriteString(" (perf event " + strings.Join(fds, ", ") + ")")
	}
	return b.String()
}

// Hook is the attach point without the links or descriptors holding it:
// "cgroup /sys/fs/cgroup/app [cgroup_inet_ingress]".
func (a AttachPoint) Hook() string {
	s := a.Kind
	if a.Target != "" {
		s += " " + a.Target
	}
	if a.AttachType != "" && a.AttachType != a.Kind {
		s += " [" + a.AttachType + "]"
	}
	if a.Detail != "" {
		s += " " + a.Detail
	}
	return s
}

// sameHook reports whether a and b are the same hook, so that the links of
// one attachment made once per CPU show as one.
func (a AttachPoint) sameHook(b AttachPoint) bool {
	return a.Hook() == b.Hook()
}

// addAttachPoint adds a to list, merging it into an entry for the same
// hook.
func addAttachPoint(list []AttachPoint, a AttachPoint) []AttachPoint {
	for i := range list {
		if list[i].sameHook(a) {
			list[i].LinkIDs = append(list[i].LinkIDs, a.LinkIDs...)
			list[i].PerfFDs = append(list[i].PerfFDs, a.PerfFDs...)
			return list
		}
	}
	return append(list, a)
}

func joinIDs[T ~uint32](ids []T) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatUint(uint64(id), 10)
	}
	return strings.Join(s, ",")
}

// resolver turns the numbers link infos carry (interface indexes, cgroup
// IDs, BTF IDs) into names, reading what it needs once and only when
// asked.
type resolver struct {
	cgroups    map[uint64]string // cgroup ID (its directory's inode) -> path
	cgroupsErr error
	kernelBTF  *btf.Spec
	btfNames   map[[2]uint32]string
	tpGroups   map[string][]string // tracepoint name -> groups
}

// tracepoint qualifies a tracepoint name with its group
// ("syscalls:sys_enter_openat"): the kernel reports the bare name. A name
// several groups share, or one tracefs does not list, stays bare.
func (r *resolver) tracepoint(name string) string {
	if name == "" || strings.Contains(name, ":") {
		return name
	}
	if r.tpGroups == nil {
		r.tpGroups = map[string][]string{}
		for _, dir := range []string{attach.TracefsPath + "/events", "/sys/kernel/debug/tracing/events"} {
			groups, err := os.ReadDir(dir)
			if err != nil {
				continue
			}
			for _, g := range groups {
				if !g.IsDir() {
					continue
				}
				events, _ := os.ReadDir(filepath.Join(dir, g.Name()))
				for _, e := range events {
					if e.IsDir() {
						r.tpGroups[e.Name()] = append(r.tpGroups[e.Name()], g.Name())
					}
				}
			}
			break
		}
	}
	if g := r.tpGroups[name]; len(g) == 1 {
		return g[0] + ":" + name
	}
	return name
}

// detached is the target of a link whose hook is gone (link detach, or
// the interface or cgroup was removed).
const detached = "(detached)"

func (r *resolver) ifname(ifindex uint32) string {
	if ifindex == 0 {
		return detached
	}
	if ifi, err := net.InterfaceByIndex(int(ifindex)); err == nil {
		return ifi.Name
	}
	return fmt.Sprintf("ifindex %d", ifindex)
}

// cgroupPath finds the cgroup v2 directory whose inode number is id (the
// kernel's cgroup ID on 64-bit systems).
func (r *resolver) cgroupPath(id uint64) string {
	if id == 0 {
		return detached
	}
	if r.cgroups == nil && r.cgroupsErr == nil {
		r.cgroups = map[uint64]string{}
		root, err := attach.CgroupV2Root()
		if err != nil {
			r.cgroupsErr = err
		} else {
			filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
				if err != nil || !d.IsDir() {
					return nil
				}
				if fi, err := d.Info(); err == nil {
					if st, ok := fi.Sys().(*syscall.Stat_t); ok {
						r.cgroups[st.Ino] = path
					}
				}
				return nil
			})
		}
	}
	if p, ok := r.cgroups[id]; ok {
		return p
	}
	return fmt.Sprintf("cgroup id %d", id)
}

// btfName names type typeID of BTF object objID: the function a tracing
// link is attached to.
func (r *resolver) btfName(objID, typeID uint32) string {
	key := [2]uint32{objID, typeID}
	if n, ok := r.btfNames[key]; ok {
		return n
	}
	name := fmt.Sprintf("btf object %d type %d", objID, typeID)
	if h, err := btf.NewHandleFromID(btf.ID(objID)); err == nil {
		if info, err := h.Info(); err == nil && info.IsKernel {
			if r.kernelBTF == nil {
				r.kernelBTF, _ = btf.LoadKernelSpec()
			}
			spec := r.kernelBTF
			if info.IsModule() && spec != nil {
				spec, _ = h.Spec(spec)
			}
			if spec != nil {
				if t, err := spec.TypeByID(btf.TypeID(typeID)); err == nil && t.TypeName() != "" {
					name = t.TypeName()
				}
			}
		}
		h.Close()
	}
	if r.btfNames == nil {
		r.btfNames = map[[2]uint32]string{}
	}
	r.btfNames[key] = name
	return name
}

var netfilterFamilies = map[uint32]string{0: "unspec", 1: "inet", 2: "ipv4", 3: "arp", 5: "netdev", 7: "bridge", 10: "ipv6"}
var netfilterHooks = []string{"prerouting", "input", "forward", "output", "postrouting"}

// linkAttachPoint describes where the link with info is attached.
func (r *resolver) linkAttachPoint(info *link.Info) AttachPoint {
	a := AttachPoint{Kind: LinkTypeName(info.Type), LinkIDs: []uint32{uint32(info.ID)}}
	switch info.Type {
	case link.RawTracepointType:
		if rt := info.RawTracepoint(); rt != nil {
			a.Target = rt.Name
		}
	case link.TracingType:
		if t := info.Tracing(); t != nil {
			a.AttachType = AttachTypeName(attachTypeOf(t.AttachType))
			a.Target = r.btfName(t.TargetObjectId, uint32(t.TargetBtfId))
		}
	case link.CgroupType:
		if c := info.Cgroup(); c != nil {
			a.AttachType = AttachTypeName(attachTypeOf(c.AttachType))
			a.Target = r.cgroupPath(c.CgroupId)
		}
	case link.NetNsType:
		if n := info.NetNs(); n != nil {
			a.AttachType = AttachTypeName(attachTypeOf(n.AttachType))
			a.Target = fmt.Sprintf("net:[%d]", n.NetnsInode)
		}
	case link.XDPType:
		if x := info.XDP(); x != nil {
			a.Target = r.ifname(x.Ifindex)
		}
	case link.TCXType:
		if x := info.TCX(); x != nil {
			a.AttachType = AttachTypeName(attachTypeOf(x.AttachType))
			a.Target = r.ifname(x.Ifindex)
		}
	case link.NetkitType:
		if x := info.Netkit(); x != nil {
			a.AttachType = AttachTypeName(attachTypeOf(x.AttachType))
			a.Target = r.ifname(x.Ifindex)
		}
	case link.NetfilterType:
		if nf := info.Netfilter(); nf != nil {
			hook := strconv.Itoa(int(nf.Hook))
			if int(nf.Hook) < len(netfilterHooks) {
				hook = netfilterHooks[nf.Hook]
			}
			fam, ok := netfilterFamilies[uint32(nf.ProtocolFamily)]
			if !ok {
				fam = fmt.Sprintf("family %d", nf.ProtocolFamily)
			}
			a.Target = fam + " " + hook
			a.Detail = fmt.Sprintf("priority %d", nf.Priority)
		}
	case link.KprobeMultiType:
		if k := info.KprobeMulti(); k != nil {
			if k.Flags&1 != 0 { // BPF_F_KPROBE_MULTI_RETURN
				a.Kind = "kretprobe_multi"
			}
			a.Target = plural(int(k.Count), "function")
		}
	case link.UprobeMultiType:
		if u := info.UprobeMulti(); u != nil {
			if u.Flags&1 != 0 { // BPF_F_UPROBE_MULTI_RETURN
				a.Kind = "uretprobe_multi"
			}
			a.Target = fmt.Sprintf("%s (%s)", u.File, plural(int(u.Count), "offset"))
			if pid, ok := u.Pid(); ok {
				a.Detail = fmt.Sprintf("pid %d", pid)
			}
		}
	case link.PerfEventType:
		if pe := info.PerfEvent(); pe != nil {
			r.perfEventAttachPoint(&a, pe)
		}
	}
	return a
}

func (r *resolver) perfEventAttachPoint(a *AttachPoint, pe *link.PerfEventInfo) {
	switch pe.Type {
	case link.PerfEventTracepoint:
		a.Kind = "tracepoint"
		if tp := pe.Tracepoint(); tp != nil {
			a.Target = r.tracepoint(tp.Tracepoint)
		}
	case link.PerfEventKprobe, link.PerfEventKretprobe:
		a.Kind = "kprobe"
		if pe.Type == link.PerfEventKretprobe {
			a.Kind = "kretprobe"
		}
		if k := pe.Kprobe(); k != nil {
			a.Target = kprobeTarget(k.Function, uint64(k.Offset), k.Address)
		}
	case link.PerfEventUprobe, link.PerfEventUretprobe:
		a.Kind = "uprobe"
		if pe.Type == link.PerfEventUretprobe {
			a.Kind = "uretprobe"
		}
		if u := pe.Uprobe(); u != nil {
			a.Target = fmt.Sprintf("%s+%#x", u.File, u.Offset)
		}
	case link.PerfEventEvent:
		if ev := pe.Event(); ev != nil {
			a.Target = perfEventTarget(ev.Type, ev.Config)
		}
	}
}

func kprobeTarget(fn string, offset, addr uint64) string {
	if fn == "" {
		return fmt.Sprintf("%#x", addr)
	}
	return fmt.Sprintf("%s+%#x", fn, offset)
}

func perfEventTarget(typ uint32, config uint64) string {
	if kind, name, ok := attach.PerfEventName(typ, config); ok {
		return kind + ":" + name
	} else if kind != "" {
		return fmt.Sprintf("%s:config %#x", kind, config)
	}
	return fmt.Sprintf("type %d config %#x", typ, config)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// errPermission turns a permission refusal into the sentence users need.
func errPermission(what string, err error) error {
	if attach.IsPermission(err) {
		if os.Geteuid() != 0 {
			return fmt.Errorf("%s needs root (CAP_SYS_ADMIN): run waggle with sudo: %w", what, err)
		}
		return fmt.Errorf("%s was refused although waggle runs as root (a security module or lockdown may forbid it): %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// canInspect reports, as an error users can act on, when this process may
// not look at BPF objects: listings that would otherwise come out empty
// say so instead.
func canInspect(what string) error {
	if _, err := ebpf.ProgramGetNextID(0); err != nil && !errors.Is(err, os.ErrNotExist) {
		return errPermission(what, err)
	}
	return nil
}

// progNames names programs by ID, reading each once; a program that is
// gone has the name "".
type progNames map[uint32]string

func (n progNames) name(id uint32) string {
	if name, ok := n[id]; ok {
		return name
	}
	var name string
	if p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id)); err == nil {
		if info, err := p.Info(); err == nil {
			name = info.Name
		}
		p.Close()
	}
	n[id] = name
	return name
}
