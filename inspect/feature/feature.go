// Package feature asks the running kernel what eBPF it supports: program
// and map types, helpers per program type, attach mechanisms, BTF and its
// kinds, the JIT, instruction set levels, and the settings that govern
// them. It is the library behind `waggle feature`.
//
// Every answer comes from a probe of this kernel (a map created, a program
// loaded, a link attached and detached at once, a BTF blob loaded), never
// from a table of kernel versions: distributions backport features and
// leave others out of their builds, so versions say little. Probes that
// github.com/cilium/ebpf/features has are used as they are; the rest are
// written here. Probes leave nothing behind in the kernel.
package feature

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Status is the answer to one question: yes, no, or unknown when the probe
// could not decide (most often for lack of privileges).
type Status string

const (
	Yes     Status = "yes"
	No      Status = "no"
	Unknown Status = "unknown"
)

// Answer is one feature with its answer. Reason says why when the answer
// is not yes; Value carries a setting's value (a sysctl, the ISA level).
type Answer struct {
	Name   string `json:"name"`
	Status Status `json:"answer"`
	Value  string `json:"value,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// HelperList is the helpers one program type may call. Status is the
// answer for the list as a whole: no when the program type itself is not
// supported, unknown when its helpers cannot be probed (Reason says why).
type HelperList struct {
	ProgramType string   `json:"program_type"`
	Status      Status   `json:"answer"`
	Reason      string   `json:"reason,omitempty"`
	Helpers     []Answer `json:"helpers,omitempty"`
}

// Available counts the helpers answered yes.
func (l HelperList) Available() int {
	n := 0
	for _, h := range l.Helpers {
		if h.Status == Yes {
			n++
		}
	}
	return n
}

// Report is what the probes found. Sections that were not asked for are
// empty.
type Report struct {
	// Kernel is the running kernel's release (uname -r) and Machine its
	// architecture, for the reader: no answer is derived from them.
	Kernel  string `json:"kernel"`
	Machine string `json:"machine"`

	System       []Answer     `json:"system,omitempty"`
	BTF          []Answer     `json:"btf,omitempty"`
	ProgramTypes []Answer     `json:"program_types,omitempty"`
	MapTypes     []Answer     `json:"map_types,omitempty"`
	Attach       []Answer     `json:"attach,omitempty"`
	Instructions []Answer     `json:"instructions,omitempty"`
	Helpers      []HelperList `json:"helpers,omitempty"`
}

// Section names, in the order they are reported.
const (
	SectionSystem       = "system"
	SectionBTF          = "btf"
	SectionProgramTypes = "program_types"
	SectionMapTypes     = "map_types"
	SectionAttach       = "attach"
	SectionInstructions = "instructions"
	SectionHelpers      = "helpers"
)

// Sections lists every section, in report order.
var Sections = []string{
	SectionSystem, SectionBTF, SectionProgramTypes, SectionMapTypes,
	SectionAttach, SectionInstructions, SectionHelpers,
}

// sectionAliases are other spellings users may type.
var sectionAliases = map[string]string{
	"prog_types": SectionProgramTypes, "progs": SectionProgramTypes, "program_type": SectionProgramTypes,
	"maps": SectionMapTypes, "map_type": SectionMapTypes,
	"isa": SectionInstructions, "insns": SectionInstructions,
	"helper": SectionHelpers, "links": SectionAttach,
}

// SectionName returns the canonical name of a section a user typed
// ("prog-types", "isa"), or an error listing the sections.
func SectionName(s string) (string, error) {
	n := strings.ReplaceAll(strings.ToLower(s), "-", "_")
	if slices.Contains(Sections, n) {
		return n, nil
	}
	if a, ok := sectionAliases[n]; ok {
		return a, nil
	}
	return "", fmt.Errorf("no section %q: the sections are %s", s, strings.Join(Sections, ", "))
}

// Options choose what Probe asks.
type Options struct {
	// Sections to probe (names as in Sections); empty means all.
	Sections []string
	// ProgramTypes limits the helpers section to these program types
	// (kernel names, e.g. "xdp"); empty means every type.
	ProgramTypes []string
	// Parallel is how many probes run at once; 0 means one per CPU.
	Parallel int
}

// Probe asks the running kernel. Questions a probe cannot decide are
// answered unknown with the reason; only bad options are errors.
func Probe(opt Options) (*Report, error) {
	want := map[string]bool{}
	for _, s := range opt.Sections {
		n, err := SectionName(s)
		if err != nil {
			return nil, err
		}
		want[n] = true
	}
	all := len(want) == 0
	for _, pt := range opt.ProgramTypes {
		if _, ok := programTypeByName(pt); !ok {
			return nil, fmt.Errorf("no program type %q: the types are %s", pt, strings.Join(programTypeNames(), ", "))
		}
	}
	parallel := opt.Parallel
	if parallel <= 0 {
		parallel = runtime.NumCPU()
	}

	r := &Report{}
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		r.Kernel, r.Machine = unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Machine[:])
	}
	p := newProber()
	var wg sync.WaitGroup
	run := func(section string, f func()) {
		if all || want[section] {
			wg.Go(f)
		}
	}
	run(SectionSystem, func() { r.System = p.system() })
	run(SectionBTF, func() { r.BTF = p.btf() })
	run(SectionProgramTypes, func() { r.ProgramTypes = p.programTypes(parallel) })
	run(SectionMapTypes, func() { r.MapTypes = p.mapTypes(parallel) })
	run(SectionAttach, func() { r.Attach = p.attach() })
	run(SectionInstructions, func() { r.Instructions = p.instructions() })
	run(SectionHelpers, func() { r.Helpers = p.helpers(opt.ProgramTypes, parallel) })
	wg.Wait()
	return r, nil
}

// each calls f(0) to f(n-1), at most limit at a time, and returns when
// all have returned.
func each(n, limit int, f func(i int)) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(max(limit, 1), n) {
		wg.Go(func() {
			for i := range work {
				f(i)
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
}

// prober holds what several probes share.
type prober struct {
	privileged bool
}

func newProber() *prober {
	return &prober{privileged: privileged()}
}

// Capability numbers from linux/capability.h.
const (
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// privileged reports whether this process may load any program: CAP_BPF
// with CAP_PERFMON, or CAP_SYS_ADMIN.
func privileged() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	eff := uint64(data[0].Effective) | uint64(data[1].Effective)<<32
	has := func(c uint) bool { return eff&(1<<c) != 0 }
	return has(capSysAdmin) || (has(capBPF) && has(capPerfmon))
}

// errPrivileges is the reason for answers that need more privileges.
const errPrivileges = "probing needs root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)"

// classify turns a probe's error into an answer: nil is yes; the kernel's
// refusal is no, with reason; anything else is unknown. EPERM is no when
// the process has every privilege (the kernel refuses anyway) and unknown
// when it lacks some.
func (p *prober) classify(name string, err error, notSupported string) Answer {
	a := Answer{Name: name}
	switch {
	case err == nil:
		a.Status = Yes
	case isNotSupported(err):
		a.Status, a.Reason = No, notSupported
	case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
		if p.privileged {
			a.Status, a.Reason = No, "the kernel refuses it ("+errnoText(err)+") even with full privileges"
		} else {
			a.Status, a.Reason = Unknown, errPrivileges
		}
	default:
		a.Status, a.Reason = Unknown, cleanError(err)
	}
	if a.Reason == "" && a.Status != Yes {
		a.Reason = cleanError(err)
	}
	return a
}

// errnoText names the errno in err in words ("operation not permitted").
func errnoText(err error) string {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return cleanError(err)
}

// cleanError drops cilium/ebpf's hint about RLIMIT_MEMLOCK, which is
// lifted before probing and so never the cause.
func cleanError(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if i := strings.Index(s, " (MEMLOCK may be too low"); i >= 0 {
		s = s[:i]
	}
	return s
}
