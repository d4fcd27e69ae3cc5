package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wagglebpf/waggle/agent/agentpb"
	"github.com/wagglebpf/waggle/attach"
)

// btfDir holds the kernel's BTF: vmlinux and one file per module.
const btfDir = "/sys/kernel/btf"

// btfChunk is the size of the KernelBTF stream's messages.
const btfChunk = 256 << 10

// kernelFacts are what Info reports that does not change while the agent
// runs; they are gathered once, on the first Info.
type kernelFacts struct {
	once     sync.Once
	uname    unix.Utsname
	cpus     int
	features []*agentpb.Feature
	btfSize  int64
	btfSum   string
}

func (k *kernelFacts) load() {
	k.once.Do(func() {
		unix.Uname(&k.uname)
		if n, err := ebpf.PossibleCPU(); err == nil {
			k.cpus = n
		}
		k.features = probeFeatures()
		if f, err := os.Open(btfDir + "/vmlinux"); err == nil {
			h := sha256.New()
			if n, err := io.Copy(h, f); err == nil {
				k.btfSize, k.btfSum = n, hex.EncodeToString(h.Sum(nil))
			}
			f.Close()
		}
	})
}

// probeFeatures asks the kernel what a host compiling for it needs to
// know: which program and map types and which helpers it has.
func probeFeatures() []*agentpb.Feature {
	var out []*agentpb.Feature
	add := func(name string, err error) {
		f := &agentpb.Feature{Name: name, Supported: err == nil}
		if err != nil && !errors.Is(err, ebpf.ErrNotSupported) {
			f.Detail = err.Error()
		}
		out = append(out, f)
	}
	_, err := os.Stat(btfDir + "/vmlinux")
	add("btf", err)
	for _, pt := range []struct {
		name string
		t    ebpf.ProgramType
	}{
		{"kprobe", ebpf.Kprobe}, {"tracepoint", ebpf.TracePoint}, {"raw_tracepoint", ebpf.RawTracepoint},
		{"perf_event", ebpf.PerfEvent}, {"tracing", ebpf.Tracing}, {"xdp", ebpf.XDP},
		{"sched_cls", ebpf.SchedCLS}, {"socket_filter", ebpf.SocketFilter}, {"cgroup_skb", ebpf.CGroupSKB},
	} {
		add("prog_type:"+pt.name, features.HaveProgramType(pt.t))
	}
	for _, mt := range []struct {
		name string
		t    ebpf.MapType
	}{
		{"hash", ebpf.Hash}, {"array", ebpf.Array}, {"percpu_hash", ebpf.PerCPUHash},
		{"percpu_array", ebpf.PerCPUArray}, {"lru_hash", ebpf.LRUHash}, {"stack_trace", ebpf.StackTrace},
		{"perf_event_array", ebpf.PerfEventArray}, {"ringbuf", ebpf.RingBuf},
	} {
		add("map_type:"+mt.name, features.HaveMapType(mt.t))
	}
	for _, h := range []struct {
		name string
		fn   asm.BuiltinFunc
	}{
		{"bpf_probe_read_kernel", asm.FnProbeReadKernel}, {"bpf_probe_read_user", asm.FnProbeReadUser},
		{"bpf_ringbuf_output", asm.FnRingbufOutput}, {"bpf_get_current_task_btf", asm.FnGetCurrentTaskBtf},
		{"bpf_loop", asm.FnLoop}, {"bpf_for_each_map_elem", asm.FnForEachMapElem},
	} {
		add("helper:"+h.name, features.HaveProgramHelper(ebpf.Kprobe, h.fn))
	}
	add("bounded_loops", features.HaveBoundedLoops())
	add("isa:v3", features.HaveV3ISA())
	add("isa:v4", features.HaveV4ISA())
	return out
}

func (s *service) Info(ctx context.Context, _ *agentpb.InfoRequest) (*agentpb.InfoResponse, error) {
	k := &s.srv.facts
	k.load()
	host, _ := os.Hostname()
	resp := &agentpb.InfoResponse{
		AgentVersion:    s.srv.cfg.Version,
		KernelRelease:   unix.ByteSliceToString(k.uname.Release[:]),
		KernelVersion:   unix.ByteSliceToString(k.uname.Version[:]),
		Machine:         unix.ByteSliceToString(k.uname.Machine[:]),
		Hostname:        host,
		PossibleCpus:    int32(k.cpus),
		Features:        k.features,
		KernelBtfSize:   k.btfSize,
		KernelBtfSha256: k.btfSum,
		Limits:          s.srv.limits(),
	}
	for _, kind := range []agentpb.ProgramKind{agentpb.ProgramKind_PROGRAM_KIND_ELF, agentpb.ProgramKind_PROGRAM_KIND_COMPILED} {
		if s.srv.cfg.Runners[kind] != nil {
			resp.ProgramKinds = append(resp.ProgramKinds, kind)
		}
	}
	return resp, nil
}

var moduleName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (s *service) KernelBTF(req *agentpb.KernelBTFRequest, stream agentpb.Agent_KernelBTFServer) error {
	name := "vmlinux"
	if req.Module != "" {
		if !moduleName.MatchString(req.Module) {
			return status.Errorf(codes.InvalidArgument, "%q is not a kernel module name", attach.Shorten(req.Module))
		}
		name = req.Module
	}
	f, err := os.Open(btfDir + "/" + name)
	if errors.Is(err, os.ErrNotExist) {
		if req.Module != "" {
			return status.Errorf(codes.NotFound, "the kernel has no BTF for module %s (is it loaded?)", name)
		}
		return status.Errorf(codes.NotFound, "the kernel has no BTF (%s/vmlinux is missing; it needs CONFIG_DEBUG_INFO_BTF)", btfDir)
	}
	if err != nil {
		return status.Errorf(codes.Internal, "read the kernel's BTF: %v", err)
	}
	defer f.Close()
	// sysfs reports BTF files' sizes; read to the end regardless.
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	buf := make([]byte, btfChunk)
	for first := true; ; first = false {
		n, err := io.ReadFull(f, buf)
		if n > 0 {
			chunk := &agentpb.BTFChunk{Data: buf[:n]}
			if first {
				chunk.TotalSize = size
			}
			if err := stream.Send(chunk); err != nil {
				return err
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return status.Errorf(codes.Internal, "read the kernel's BTF: %v", err)
		}
	}
}

// describeKind names a program kind in messages and logs.
func describeKind(k agentpb.ProgramKind) string {
	switch k {
	case agentpb.ProgramKind_PROGRAM_KIND_ELF:
		return "elf"
	case agentpb.ProgramKind_PROGRAM_KIND_COMPILED:
		return "compiled"
	}
	return fmt.Sprintf("kind-%d", int32(k))
}
