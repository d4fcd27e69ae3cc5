package sema

import (
	"fmt"

	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/lang/ast"
)

// funcProto finds a kernel function's prototype in the kernel's BTF, for
// the args and retval of fentry and fexit probes.
func funcProto(name string) (*btf.FuncProto, error) {
	spec, err := btf.LoadKernelSpec()
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

// btfScalar is the language type of a BTF parameter or return value that
// fits in one register: integers, enums, booleans and pointers.
func btfScalar(t btf.Type) (*ast.Type, error) {
	switch t := btf.UnderlyingType(t).(type) {
	case *btf.Int:
		if t.Encoding&btf.Bool != 0 {
			return ast.Bool, nil
		}
		switch t.Size {
		case 1, 2, 4, 8:
			return &ast.Type{Kind: ast.KindInt, Size: int(t.Size), Signed: t.Encoding&btf.Signed != 0}, nil
		}
	case *btf.Enum:
		return &ast.Type{Kind: ast.KindInt, Size: int(t.Size), Signed: t.Signed}, nil
	case *btf.Pointer:
		return &ast.Type{Kind: ast.KindPtr, Size: 8, Elem: ast.Int8}, nil
	}
	return nil, fmt.Errorf("values of type %s are not supported yet", t.TypeName())
}

// FentryArg finds args.NAME of a fentry/fexit instance: its index in the
// context's array of arguments and its type.
func (inst *Instance) FentryArg(name string) (int, *ast.Type, error) {
	if inst.Proto == nil {
		return 0, nil, fmt.Errorf("no prototype for %s", inst.Func)
	}
	var names []string
	for i, p := range inst.Proto.Params {
		if p.Name == name {
			t, err := btfScalar(p.Type)
			if err != nil {
				return 0, nil, fmt.Errorf("args.%s: %w", name, err)
			}
			return i, t, nil
		}
		names = append(names, p.Name)
	}
	return 0, nil, fmt.Errorf("%s has no argument %q; it has: %v", inst.Func, name, names)
}
