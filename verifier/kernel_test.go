package verifier_test

// Loading programs into the kernel's verifier, for the comparison in
// corpus_test.go.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/verifier"
)

// kernelVerdict is what the kernel said about one program.
type kernelVerdict struct {
	// na says why the kernel could not judge the program on this machine
	// (a permission it withholds, a missing attach target); "" when it
	// did judge it.
	na       string
	accepted bool
	// last is the last meaningful line of the verifier's log, or the
	// error when the kernel refused without a log.
	last string
}

func (k kernelVerdict) String() string {
	switch {
	case k.na != "":
		return "n/a (" + k.na + ")"
	case k.accepted:
		return "accepts"
	}
	return "rejects: " + k.last
}

// lastLogLine is the verifier log's last line that is not a summary.
func lastLogLine(log []string) string {
	for i := len(log) - 1; i >= 0; i-- {
		l := strings.TrimSpace(log[i])
		if l == "" || strings.HasPrefix(l, "processed ") || strings.HasPrefix(l, "verification time") || strings.HasPrefix(l, "stack depth") ||
			// "infinite loop detected" is followed by the two states.
			strings.HasPrefix(l, "cur state:") || strings.HasPrefix(l, "old state:") {
			continue
		}
		return l
	}
	return ""
}

// progLoadAttr is the head of union bpf_attr for BPF_PROG_LOAD, up to
// expected_attach_type; the kernel takes a shorter attr as zero-filled.
type progLoadAttr struct {
	progType           uint32
	insnCnt            uint32
	insns              uint64
	license            uint64
	logLevel           uint32
	logSize            uint32
	logBuf             uint64
	kernVersion        uint32
	progFlags          uint32
	progName           [16]byte
	progIfindex        uint32
	expectedAttachType uint32
}

const bpfProgLoad = 5

// errENOTSUPP is the kernel-internal ENOTSUPP (524), which bpf() returns for
// features a kernel lacks.
const errENOTSUPP = unix.Errno(524)

// progLoad calls BPF_PROG_LOAD on raw bytecode. cilium/ebpf is not used
// here because it refuses to marshal some of the malformed encodings the
// corpus holds on purpose (an ALU instruction with an offset, an opcode it
// does not know), and those are exactly what the kernel must be asked about.
func progLoad(typ ebpf.ProgramType, attach ebpf.AttachType, code []byte, logLevel uint32, logBuf []byte) (int, error) {
	if len(code) == 0 || len(code)%asm.InstructionSize != 0 {
		return -1, fmt.Errorf("bytecode of %d bytes", len(code))
	}
	license := []byte("GPL\x00")
	attr := progLoadAttr{
		progType: uint32(typ),
		insnCnt:  uint32(len(code) / asm.InstructionSize),
		insns:    uint64(uintptr(unsafe.Pointer(&code[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
		logLevel: logLevel,
		// The kernel takes 0 as the default attach type of the program
		// types that have one.
		expectedAttachType: uint32(attach),
	}
	copy(attr.progName[:], "waggle_corpus")
	if logLevel != 0 && len(logBuf) > 0 {
		attr.logSize = uint32(len(logBuf))
		attr.logBuf = uint64(uintptr(unsafe.Pointer(&logBuf[0])))
	}
	fd, _, errno := unix.Syscall(unix.SYS_BPF, bpfProgLoad, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(code)
	runtime.KeepAlive(license)
	runtime.KeepAlive(logBuf)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// kernelLoadRaw asks the kernel's verifier about code: first without a log
// (a log that overflows its buffer fails the load by itself), then, if it
// refused, again with one to learn why.
func kernelLoadRaw(typ ebpf.ProgramType, attach ebpf.AttachType, code []byte, unprivileged bool) kernelVerdict {
	load := func() kernelVerdict {
		fd, err := progLoad(typ, attach, code, 0, nil)
		if err == nil {
			unix.Close(fd)
			return kernelVerdict{accepted: true}
		}
		if errors.Is(err, unix.EPERM) {
			return kernelVerdict{na: fmt.Sprintf("BPF_PROG_LOAD: %v", err)}
		}
		// The log rotates: a small buffer keeps its last lines, which
		// are all that is wanted.
		buf := make([]byte, 64<<10)
		fd, err2 := progLoad(typ, attach, code, 1, buf)
		if err2 == nil {
			// Accepted on the second try: should not happen, but
			// believe the kernel.
			unix.Close(fd)
			return kernelVerdict{accepted: true}
		}
		if i := bytes.IndexByte(buf, 0); i >= 0 {
			buf = buf[:i] // the kernel ends the log with a NUL; what follows is stale
		}
		log := strings.Split(string(buf), "\n")
		last := lastLogLine(log)
		if last == "" {
			last = err.Error()
		}
		return kernelVerdict{last: last}
	}
	if !unprivileged {
		return load()
	}
	// Unprivileged: keep CAP_BPF (unprivileged_bpf_disabled forbids a
	// loader without it) but drop CAP_PERFMON and CAP_SYS_ADMIN, which is
	// what the verifier's allow_ptr_leaks and allow_uninit_stack depend on,
	// the rules that Options.Unprivileged models. Capabilities belong to a
	// thread: the work happens on a locked thread that is never unlocked,
	// so it ends with the goroutine and its lowered capabilities with it.
	res := make(chan kernelVerdict, 1)
	go func() {
		runtime.LockOSThread()
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			res <- kernelVerdict{na: fmt.Sprintf("capget: %v", err)}
			return
		}
		for _, c := range []uint{unix.CAP_SYS_ADMIN, unix.CAP_PERFMON} {
			data[c/32].Effective &^= 1 << (c % 32)
		}
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			res <- kernelVerdict{na: fmt.Sprintf("capset: %v", err)}
			return
		}
		res <- load()
	}()
	return <-res
}

// kernelLoadInsns creates the maps insns refers to (by name, from maps),
// encodes insns with their file descriptors and loads them.
func kernelLoadInsns(typ ebpf.ProgramType, attach ebpf.AttachType, insns asm.Instructions, maps map[string]verifier.MapInfo, unprivileged bool) kernelVerdict {
	cp := fixAtomics(insns)
	created := map[string]*ebpf.Map{}
	defer func() {
		for _, m := range created {
			m.Close()
		}
	}()
	for i := range cp {
		ins := &cp[i]
		if !ins.IsLoadFromMap() || ins.Reference() == "" {
			continue
		}
		name := ins.Reference()
		m := created[name]
		if m == nil {
			mi, ok := maps[name]
			if !ok {
				return kernelVerdict{na: fmt.Sprintf("no map %q", name)}
			}
			var err error
			m, err = ebpf.NewMap(&ebpf.MapSpec{Name: name, Type: mi.Type, KeySize: mi.KeySize, ValueSize: mi.ValueSize, MaxEntries: mi.MaxEntries})
			if err != nil {
				return kernelVerdict{na: fmt.Sprintf("create map %s: %v", name, err)}
			}
			created[name] = m
		}
		if err := ins.AssociateMap(m); err != nil {
			return kernelVerdict{na: fmt.Sprintf("insn %d: %v", i, err)}
		}
	}
	var buf bytes.Buffer
	if err := cp.Marshal(&buf, binary.LittleEndian); err != nil {
		return kernelVerdict{na: fmt.Sprintf("cilium/ebpf cannot encode it: %v", err)}
	}
	return kernelLoadRaw(typ, attach, buf.Bytes(), unprivileged)
}

// fixAtomics returns a copy of insns that cilium/ebpf v0.22 encodes right:
// it takes an atomic instruction's immediate from Constant before it puts
// the operation there, so every atomic built with asm.AtomicOp.Mem would
// come out as an atomic add. (vm.LoadInstructions does the same.)
func fixAtomics(insns asm.Instructions) asm.Instructions {
	cp := make(asm.Instructions, len(insns))
	copy(cp, insns)
	for i := range cp {
		if a := cp[i].OpCode.AtomicOp(); a != asm.InvalidAtomic {
			cp[i].Constant = int64(uint32(a) >> 8)
		}
	}
	return cp
}

// kernelLoadSpec loads one program of a collection with cilium/ebpf, which
// applies what an object needs (BTF, CO-RE relocations, attach targets,
// global data). Failures that are not the verifier's (a permission, a
// missing attach target) make the program not loadable here.
func kernelLoadSpec(spec *ebpf.CollectionSpec, prog string) kernelVerdict {
	cs := spec.Copy()
	for name := range cs.Programs {
		if name != prog {
			delete(cs.Programs, name)
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(cs, ebpf.CollectionOptions{})
	if err == nil {
		coll.Close()
		return kernelVerdict{accepted: true}
	}
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) && !errors.Is(err, unix.EPERM) && !errors.Is(err, errENOTSUPP) {
		last := lastLogLine(ve.Log)
		if last == "" {
			last = ve.Cause.Error()
		}
		return kernelVerdict{last: last}
	}
	return kernelVerdict{na: err.Error()}
}
