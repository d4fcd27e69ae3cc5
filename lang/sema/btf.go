package sema

import (
	"fmt"

	"github.com/cilium/ebpf/btf"
)

// funcProto finds a kernel function's prototype in the kernel's BTF, for
// the args and retval of fentry and fexit probes.
func funcProto(kernelBTF func() (*btf.Spec, error), name string) (*btf.FuncProto, error) {
	spec, err := kernelBTF()
	if err != nil {
		return nil, fmt.Errorf("fentry and fexit probes need the kernel's BTF: %w", err)
	}
	var fn *btf.Func
	if err := spec.TypeByName(name, &fn); err != nil {
		return nil, fmt.Errorf("kernel function %s is not in the kernel's BTF", name)
	}
	proto, ok := fn.Type.(*btf.FuncProto)
	if !ok {
		return nil, fmt.Errorf("kernel function %s has no prototype in BTF", name)
	}
	return proto, nil
}

// FentryArg finds args.NAME of a fentry/fexit instance: its index in the
// context's array of arguments and its type.
func (inst *Instance) FentryArg(name string) (int, btf.Type, error) {
	if inst.Proto == nil {
		return 0, nil, fmt.Errorf("no prototype for %s", inst.Func)
	}
	var names []string
	for i, p := range inst.Proto.Params {
		if p.Name == name {
			return i, p.Type, nil
		}
		names = append(names, p.Name)
	}
	return 0, nil, fmt.Errorf("%s has no argument %q; it has: %v", inst.Func, name, names)
}
