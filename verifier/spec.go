package verifier

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// MapInfoOf returns what the verifier needs to know about a map.
func MapInfoOf(ms *ebpf.MapSpec) MapInfo {
	return MapInfo{Type: ms.Type, KeySize: ms.KeySize, ValueSize: ms.ValueSize, MaxEntries: ms.MaxEntries}
}

// VerifySpec verifies one program of a collection as the kernel would see
// it: its type from the spec, map references resolved against coll.Maps.
func VerifySpec(coll *ebpf.CollectionSpec, prog *ebpf.ProgramSpec, opts Options) (*Report, error) {
	if prog == nil {
		return nil, fmt.Errorf("no program")
	}
	maps := map[string]MapInfo{}
	if coll != nil {
		for name, ms := range coll.Maps {
			maps[name] = MapInfoOf(ms)
		}
	}
	if opts.AttachType == 0 {
		opts.AttachType = prog.AttachType
	}
	if prog.Type == ebpf.Tracing && opts.TracingArgs == 0 {
		opts.TracingArgs = tracingArgs(prog)
	}
	return Verify(prog.Instructions, prog.Type, maps, opts)
}

// tracingArgs counts the u64 arguments a tracing program's context holds,
// from the running kernel's BTF of its target; 0 when it cannot tell.
func tracingArgs(prog *ebpf.ProgramSpec) int {
	target := prog.AttachTo
	if i := strings.LastIndexByte(target, ':'); i >= 0 {
		target = target[i+1:]
	}
	if target == "" {
		return 0
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return 0
	}
	switch prog.AttachType {
	case ebpf.AttachTraceFEntry, ebpf.AttachTraceFExit, ebpf.AttachModifyReturn:
		var fn *btf.Func
		if err := spec.TypeByName(target, &fn); err != nil {
			return 0
		}
		proto, ok := fn.Type.(*btf.FuncProto)
		if !ok {
			return 0
		}
		n := len(proto.Params)
		if prog.AttachType != ebpf.AttachTraceFEntry {
			n++ // the return value follows the arguments
		}
		return n
	case ebpf.AttachTraceRawTp:
		var td *btf.Typedef
		if err := spec.TypeByName("btf_trace_"+target, &td); err != nil {
			return 0
		}
		ptr, ok := td.Type.(*btf.Pointer)
		if !ok {
			return 0
		}
		proto, ok := ptr.Target.(*btf.FuncProto)
		if !ok || len(proto.Params) == 0 {
			return 0
		}
		return len(proto.Params) - 1 // the first is the tracepoint's own data
	case ebpf.AttachTraceIter:
		var st *btf.Struct
		if err := spec.TypeByName("bpf_iter__"+target, &st); err != nil {
			return 0
		}
		return int(st.Size / 8)
	}
	return 0
}
