package feature

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/inspect"
	"github.com/wagglebpf/waggle/inspect/maps"
	"github.com/wagglebpf/waggle/internal/disasm"
)

// lastProgramType is the highest program type waggle knows.
const lastProgramType = ebpf.Netfilter

func allProgramTypes() []ebpf.ProgramType {
	var out []ebpf.ProgramType
	for pt := ebpf.SocketFilter; pt <= lastProgramType; pt++ {
		out = append(out, pt)
	}
	return out
}

func programTypeNames() []string {
	var out []string
	for _, pt := range allProgramTypes() {
		out = append(out, inspect.ProgramTypeName(pt))
	}
	return out
}

// programTypeByName finds a program type by its kernel name ("xdp").
func programTypeByName(name string) (ebpf.ProgramType, bool) {
	name = strings.ReplaceAll(strings.ToLower(name), "-", "_")
	for _, pt := range allProgramTypes() {
		if inspect.ProgramTypeName(pt) == name {
			return pt, true
		}
	}
	return 0, false
}

// tracingTargets are programs of the types cilium/ebpf cannot probe alone
// (they need a target in the kernel), tried in order: the first that
// loads shows the type is supported, and is the template for probing its
// helpers.
var tracingTargets = map[ebpf.ProgramType][]ebpf.ProgramSpec{
	ebpf.Tracing: {
		{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceFEntry, AttachTo: "bpf_fentry_test1"},
		{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceRawTp, AttachTo: "sched_switch"},
		{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceIter, AttachTo: "bpf_map"},
	},
	ebpf.LSM: {
		{Type: ebpf.LSM, AttachType: ebpf.AttachLSMMac, AttachTo: "file_mprotect"},
	},
}

// programTypeResult is a program type's answer with the spec that loaded
// (for probing its helpers).
type programTypeResult struct {
	answer   Answer
	template *ebpf.ProgramSpec
}

var (
	programTypeMu    sync.Mutex
	programTypeCache = map[ebpf.ProgramType]programTypeResult{}
)

// programType loads an empty program of the type.
func (p *prober) programType(pt ebpf.ProgramType) programTypeResult {
	programTypeMu.Lock()
	if r, ok := programTypeCache[pt]; ok {
		programTypeMu.Unlock()
		return r
	}
	programTypeMu.Unlock()

	name := inspect.ProgramTypeName(pt)
	var r programTypeResult
	if targets, ok := tracingTargets[pt]; ok {
		var first error
		for _, t := range targets {
			spec := t
			prog, err := loadProgram(&spec)
			if err == nil {
				prog.Close()
				r = programTypeResult{Answer{Name: name, Status: Yes}, &spec}
				break
			}
			if first == nil {
				first = err
			}
		}
		if r.template == nil {
			r.answer = p.classify(name, typeError(first), "the kernel does not know this program type (it is older, or was built without it)")
		}
	} else {
		err := features.HaveProgramType(pt)
		r.answer = p.classify(name, err, "the kernel does not know this program type (it is older, or was built without it)")
		if err == nil {
			t := helperTemplates[pt]
			t.Type = pt
			r.template = &t
		}
	}
	programTypeMu.Lock()
	programTypeCache[pt] = r
	programTypeMu.Unlock()
	return r
}

// typeError reads a load failure as cilium/ebpf's type probes do: EINVAL
// and E2BIG mean an unknown type.
func typeError(err error) error {
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.E2BIG) {
		return ebpf.ErrNotSupported
	}
	return err
}

func (p *prober) programTypes(parallel int) []Answer {
	types := allProgramTypes()
	out := make([]Answer, len(types))
	each(len(types), parallel, func(i int) { out[i] = p.programType(types[i]).answer })
	return out
}

func (p *prober) mapTypes(parallel int) []Answer {
	types := maps.AllTypes()
	out := make([]Answer, len(types))
	each(len(types), parallel, func(i int) {
		out[i] = p.classify(maps.TypeName(types[i]), features.HaveMapType(types[i]),
			"the kernel does not know this map type (it is older, or was built without it)")
	})
	return out
}

// helperIDs lists the helpers cilium/ebpf knows by name.
func helperIDs() []asm.BuiltinFunc {
	var out []asm.BuiltinFunc
	for fn := asm.BuiltinFunc(1); strings.HasPrefix(fn.String(), "Fn"); fn++ {
		out = append(out, fn)
	}
	return out
}

// helpers probes every helper for each chosen program type that loads,
// parallel probes at a time.
func (p *prober) helpers(names []string, parallel int) []HelperList {
	var types []ebpf.ProgramType
	if len(names) == 0 {
		types = allProgramTypes()
	} else {
		for _, n := range names {
			if pt, ok := programTypeByName(n); ok && !slices.Contains(types, pt) {
				types = append(types, pt)
			}
		}
	}
	ids := helperIDs()
	lists := make([]HelperList, len(types))
	type job struct {
		list, i  int
		template *ebpf.ProgramSpec
	}
	var jobs []job
	for li, pt := range types {
		r := p.programType(pt)
		l := &lists[li]
		l.ProgramType = inspect.ProgramTypeName(pt)
		switch {
		case r.answer.Status != Yes:
			l.Status, l.Reason = r.answer.Status, "the program type: "+r.answer.Reason
			continue
		case pt == ebpf.StructOps || pt == ebpf.Extension:
			l.Status, l.Reason = Unknown, "waggle cannot probe the helpers of "+l.ProgramType+" programs: they take theirs from what they attach to"
			continue
		}
		l.Status = Yes
		l.Helpers = make([]Answer, len(ids))
		for i := range ids {
			jobs = append(jobs, job{li, i, r.template})
		}
	}
	each(len(jobs), parallel, func(i int) {
		j := jobs[i]
		lists[j.list].Helpers[j.i] = p.helper(j.template, ids[j.i])
	})
	return lists
}

// helperTemplates are what a program of a type needs besides its type to
// load: an expected attach type, or the sleepable flag.
var helperTemplates = map[ebpf.ProgramType]ebpf.ProgramSpec{
	ebpf.CGroupSockAddr: {AttachType: ebpf.AttachCGroupInet4Connect},
	ebpf.CGroupSockopt:  {AttachType: ebpf.AttachCGroupGetsockopt},
	ebpf.SkLookup:       {AttachType: ebpf.AttachSkLookup},
	ebpf.Netfilter:      {AttachType: ebpf.AttachNetfilter},
	ebpf.Syscall:        {Flags: unix.BPF_F_SLEEPABLE},
}

// helper answers whether programs like template may call fn.
//
// It loads a program that calls fn with no arguments set up and reads the
// verifier's verdict: a helper the program may call fails its argument
// checks (EACCES) or loads; one it may not is refused by name, and the log
// says why. cilium/ebpf's HaveProgramHelper asks the same question but
// folds every "no" into one error, so it cannot say whether the kernel
// lacks the helper or the program type may not call it; and it parses
// the kernel's BTF anew for each tracing program (some 15 ms each).
func (p *prober) helper(template *ebpf.ProgramSpec, fn asm.BuiltinFunc) Answer {
	name := disasm.HelperName(int32(fn))
	log, err := loadHelperCall(template, fn)
	a := Answer{Name: name, Status: No}
	switch {
	case err == nil, errors.Is(err, unix.EACCES):
		a.Status = Yes
	case strings.Contains(log, "invalid func"):
		a.Reason = "the kernel does not have this helper"
	case strings.Contains(log, "program of this type cannot use helper"), strings.Contains(log, "unknown func"):
		a.Reason = "not allowed in this program type"
	case strings.Contains(log, "helper call is not allowed in probe"):
		a.Reason = "allowed only when attached to certain kernel functions"
	case strings.Contains(log, "might sleep in a non-sleepable prog"):
		a.Reason = "only sleepable programs may call it"
	case errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, enotsupp):
		a.Reason = "not supported in this program type"
	default:
		// The load failed for a reason that says nothing about the helper.
		a = p.classify(name, err, "")
		if a.Status == No {
			a.Status = Unknown
		}
		if last := lastLine(log); last != "" {
			a.Reason += ": " + last
		}
	}
	return a
}

func lastLine(log string) string {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// enotsupp is the kernel's internal ENOTSUPP (524), which the verifier
// returns to user space for helpers a program type does not support.
const enotsupp = unix.Errno(524)

// loadHelperCall loads "call fn; r0 = 0; exit" as a program like template
// and returns the verifier's log.
func loadHelperCall(template *ebpf.ProgramSpec, fn asm.BuiltinFunc) (string, error) {
	fd, log, err := loadRaw(template, asm.Instructions{fn.Call(), asm.Mov.Imm(asm.R0, 0), asm.Return()})
	if err == nil {
		unix.Close(fd)
	}
	return log, err
}

// loadProgram loads "r0 = 0; exit" as a program like t.
func loadProgram(t *ebpf.ProgramSpec) (*ebpf.Program, error) {
	fd, _, err := loadRaw(t, returnZero)
	if err != nil {
		return nil, err
	}
	return ebpf.NewProgramFromFD(fd)
}

var (
	btfIDMu sync.Mutex
	btfIDs  = map[string]btf.TypeID{}
	// kernelTypes is the kernel's BTF, read once: cilium/ebpf reads it
	// anew for every tracing program it loads, some 15 ms each.
	kernelTypes = sync.OnceValues(btf.LoadKernelSpec)
)

// attachBTFID finds the kernel type a tracing or LSM program attaches to,
// named as cilium/ebpf names it, looked up once per name.
func attachBTFID(t *ebpf.ProgramSpec) (btf.TypeID, error) {
	var name string
	switch t.AttachType {
	case ebpf.AttachTraceRawTp:
		name = "btf_trace_" + t.AttachTo
	case ebpf.AttachTraceIter:
		name = "bpf_iter_" + t.AttachTo
	case ebpf.AttachLSMMac:
		name = "bpf_lsm_" + t.AttachTo
	default:
		name = t.AttachTo
	}
	btfIDMu.Lock()
	defer btfIDMu.Unlock()
	if id, ok := btfIDs[name]; ok {
		return id, nil
	}
	spec, err := kernelTypes()
	if err != nil {
		return 0, fmt.Errorf("reading the kernel's BTF: %w", err)
	}
	typ, err := spec.AnyTypeByName(name)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	id, err := spec.TypeID(typ)
	if err != nil {
		return 0, err
	}
	btfIDs[name] = id
	return id, nil
}

// progLoadBTFAttr is union bpf_attr for BPF_PROG_LOAD as far as
// attach_btf_obj_fd.
type progLoadBTFAttr struct {
	progLoadAttr
	ProgName           [16]byte
	ProgIfindex        uint32
	ExpectedAttachType uint32
	ProgBTFFD          uint32
	FuncInfoRecSize    uint32
	FuncInfo           uint64
	FuncInfoCnt        uint32
	LineInfoRecSize    uint32
	LineInfo           uint64
	LineInfoCnt        uint32
	AttachBTFID        uint32
	AttachBTFObjFD     uint32
}

// loadRaw loads insns as a program like t with bpf(2) and returns its file
// descriptor and the verifier's log. Programs with t.AttachTo attach to
// that kernel function, tracepoint or iterator, found in the kernel's BTF.
//
// The probes load their own programs rather than through cilium/ebpf,
// which would read the kernel's BTF again for every tracing program.
func loadRaw(t *ebpf.ProgramSpec, insns asm.Instructions) (int, string, error) {
	var id btf.TypeID
	if t.AttachTo != "" {
		var err error
		if id, err = attachBTFID(t); err != nil {
			return -1, "", err
		}
	}
	var buf bytes.Buffer
	if err := insns.Marshal(&buf, nativeOrder); err != nil {
		return -1, "", err
	}
	code := buf.Bytes()
	license := []byte("GPL\x00")
	logBuf := make([]byte, 1<<16)
	attr := progLoadBTFAttr{
		progLoadAttr: progLoadAttr{
			ProgType:    uint32(t.Type),
			InsnCnt:     uint32(len(code) / asm.InstructionSize),
			Insns:       uint64(uintptr(unsafe.Pointer(&code[0]))),
			License:     uint64(uintptr(unsafe.Pointer(&license[0]))),
			LogLevel:    1,
			LogSize:     uint32(len(logBuf)),
			LogBuf:      uint64(uintptr(unsafe.Pointer(&logBuf[0]))),
			KernVersion: kernelVersionCode(),
			ProgFlags:   t.Flags,
		},
		ExpectedAttachType: uint32(t.AttachType),
		AttachBTFID:        uint32(id),
	}
	fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(code)
	runtime.KeepAlive(license)
	runtime.KeepAlive(logBuf)
	if errno != 0 {
		return -1, unix.ByteSliceToString(logBuf), errno
	}
	return int(fd), "", nil
}

// kernelVersionCode is LINUX_VERSION_CODE of the running kernel, which
// kernels before 5.0 want in kprobe programs.
var kernelVersionCode = sync.OnceValue(func() uint32 {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return 0
	}
	return versionCode(unix.ByteSliceToString(u.Release[:]))
})

// versionCode reads "6.1.52-generic" as KERNEL_VERSION(6, 1, 52), the
// patch level capped at 255 as the kernel caps it.
func versionCode(release string) uint32 {
	var v [3]uint32
	i, digits := 0, 0
	for _, c := range release {
		if c >= '0' && c <= '9' {
			v[i] = min(v[i]*10+uint32(c-'0'), 1<<16)
			digits++
			continue
		}
		if c != '.' || i == 2 || digits == 0 {
			break
		}
		i, digits = i+1, 0
	}
	if v[0] == 0 {
		return 0
	}
	return v[0]<<16 | min(v[1], 255)<<8 | min(v[2], 255)
}
