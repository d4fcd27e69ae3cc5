// Package ctypes gives the tracing language its C types: the structs,
// unions, enums, typedefs and #define constants a script declares, and the
// kernel's own from BTF. It parses the C a script may contain (no
// preprocessor, no clang), resolves names script-first then kernel, walks
// fields through anonymous members, and converts C types to the
// language's types.
package ctypes

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/cilium/ebpf/btf"
)

// Const is the value of a #define or an enum constant.
type Const struct {
	Int   int64
	Str   string
	IsStr bool
	// Err is set for a #define that is not a constant (a function-like
	// macro, an expression of variables): an error only when used.
	Err error
}

// Defs holds a script's C definitions and finds the kernel's.
type Defs struct {
	types  map[string]btf.Type // "struct x", "union x", "enum x", typedef "x"
	consts map[string]Const
	kernel func() (*btf.Spec, error)

	enumOnce  sync.Once
	enumIndex map[string]int64
	enumErr   error
}

// New returns empty definitions; kernel supplies the kernel's BTF when a
// name is not the script's own (nil: the script's names only).
func New(kernel func() (*btf.Spec, error)) *Defs {
	return &Defs{types: map[string]btf.Type{}, consts: map[string]Const{}, kernel: kernel}
}

// Add parses one definition as the script wrote it: "struct x { ... };",
// "enum e { A, B };", "typedef ...;" or a "#define NAME value" line.
// Other preprocessor lines (#ifdef, #endif, #undef, #pragma) are ignored,
// as the script's types come from BTF and its own definitions.
func (d *Defs) Add(text string) error {
	text = strings.TrimSpace(text)
	if strings.HasPrefix(text, "#") {
		return d.directive(strings.TrimSpace(text[1:]))
	}
	toks, err := lexC(text)
	if err != nil {
		return err
	}
	p := &cparser{toks: toks, defs: d}
	for p.pos < len(p.toks) {
		if p.accept(";") {
			continue
		}
		if err := p.topLevel(); err != nil {
			return err
		}
	}
	return nil
}

func (d *Defs) directive(line string) error {
	word, rest, _ := strings.Cut(line, " ")
	switch word {
	case "define":
		name, c, err := d.parseDefine(rest)
		if err != nil {
			return err
		}
		d.consts[name] = c
	case "undef":
		delete(d.consts, strings.TrimSpace(rest))
	}
	return nil
}

// parseDefine reads "NAME value" of a #define. A value that is not a
// constant gives a Const with Err set, an error only when used.
func (d *Defs) parseDefine(rest string) (string, Const, error) {
	rest = strings.TrimSpace(rest)
	i := 0
	for i < len(rest) && (isIdentStart(rest[i]) || i > 0 && rest[i] >= '0' && rest[i] <= '9') {
		i++
	}
	name, value := rest[:i], strings.TrimSpace(rest[i:])
	if name == "" {
		return "", Const{}, fmt.Errorf("#define needs a name")
	}
	if strings.HasPrefix(value, "(") && i < len(rest) && rest[i] == '(' {
		return name, Const{Err: fmt.Errorf("%s is a function-like macro, which waggle does not expand", name)}, nil
	}
	toks, err := lexC(value)
	if err != nil {
		return name, Const{Err: err}, nil
	}
	if len(toks) == 1 && toks[0].kind == 's' {
		s, err := unquoteC(toks[0].text)
		return name, Const{Str: s, IsStr: true, Err: err}, nil
	}
	if len(toks) == 0 {
		return name, Const{Err: fmt.Errorf("%s is defined empty", name)}, nil
	}
	p := &cparser{toks: toks, defs: d}
	v, err := p.constExpr()
	if err == nil && p.pos < len(toks) {
		err = fmt.Errorf("unexpected %q", toks[p.pos].text)
	}
	if err != nil {
		return name, Const{Err: fmt.Errorf("#define %s is not a constant: %w", name, err)}, nil
	}
	return name, Const{Int: v}, nil
}

func unquoteC(s string) (string, error) {
	var b strings.Builder
	s = s[1 : len(s)-1]
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '0':
			b.WriteByte(0)
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

func (d *Defs) add(t btf.Type) {
	d.types[key(t)] = t
}

// key is the name a type is found by: "struct sock", "enum e", "pid_t".
func key(t btf.Type) string {
	switch t := t.(type) {
	case *btf.Struct:
		return "struct " + t.Name
	case *btf.Union:
		return "union " + t.Name
	case *btf.Enum:
		return "enum " + t.Name
	case *btf.Fwd:
		if t.Kind == btf.FwdUnion {
			return "union " + t.Name
		}
		return "struct " + t.Name
	}
	return t.TypeName()
}

// reference is "struct NAME" used before, or without, a definition: the
// script's type when it has one, otherwise a forward declaration that
// Complete resolves against the kernel when a field is read.
func (d *Defs) reference(kw, name string) btf.Type {
	if t, ok := d.types[kw+" "+name]; ok {
		return t
	}
	switch kw {
	case "union":
		return &btf.Fwd{Name: name, Kind: btf.FwdUnion}
	case "enum":
		if t, err := d.Lookup("enum " + name); err == nil {
			return t
		}
		return &btf.Enum{Name: name, Size: 4}
	}
	return &btf.Fwd{Name: name, Kind: btf.FwdStruct}
}

// typedefRef is a type written by a single name: the script's typedef,
// one of the fixed-width names every kernel has, or the kernel's typedef.
func (d *Defs) typedefRef(name string) (btf.Type, error) {
	if t, ok := d.types[name]; ok {
		return t, nil
	}
	return d.Lookup(name)
}

// isTypeName reports whether a name in "(name)" makes a cast.
func (d *Defs) isTypeName(name string) bool {
	if _, ok := fixedInts[name]; ok {
		return true
	}
	_, ok := d.types[name]
	return ok
}

var fixedInts = map[string]*btf.Int{}

func init() {
	for _, n := range []int{8, 16, 32, 64} {
		size := uint32(n / 8)
		for _, name := range []string{fmt.Sprintf("u%d", n), fmt.Sprintf("__u%d", n), fmt.Sprintf("uint%d_t", n), fmt.Sprintf("uint%d", n)} {
			fixedInts[name] = &btf.Int{Name: name, Size: size, Encoding: btf.Unsigned}
		}
		for _, name := range []string{fmt.Sprintf("s%d", n), fmt.Sprintf("__s%d", n), fmt.Sprintf("int%d_t", n), fmt.Sprintf("int%d", n)} {
			fixedInts[name] = &btf.Int{Name: name, Size: size, Encoding: btf.Signed}
		}
	}
	fixedInts["size_t"] = &btf.Int{Name: "size_t", Size: 8, Encoding: btf.Unsigned}
	fixedInts["ssize_t"] = &btf.Int{Name: "ssize_t", Size: 8, Encoding: btf.Signed}
}

// ErrNoKernelBTF is returned when a name is not the script's and the
// kernel's BTF cannot be read.
var ErrNoKernelBTF = errors.New("the kernel's BTF (/sys/kernel/btf/vmlinux) is not available")

// Lookup finds a type by the name a script writes: "struct sock",
// "union bpf_attr", "enum skb_drop_reason", or a typedef such as "pid_t".
// Script definitions win over the kernel's.
func (d *Defs) Lookup(name string) (btf.Type, error) {
	name = strings.Join(strings.Fields(name), " ")
	if t, ok := d.types[name]; ok {
		return t, nil
	}
	if t, ok := fixedInts[name]; ok {
		return t, nil
	}
	if words := strings.Fields(name); cWords(words) {
		return intType(words)
	}
	if d.kernel == nil {
		return nil, fmt.Errorf("unknown type %s", name)
	}
	spec, err := d.kernel()
	if err != nil {
		return nil, fmt.Errorf("type %s: %w: %v", name, ErrNoKernelBTF, err)
	}
	kw, bare, ok := strings.Cut(name, " ")
	if !ok || (kw != "struct" && kw != "union" && kw != "enum") {
		kw, bare = "", name
	}
	types, _ := spec.AnyTypesByName(bare)
	for _, t := range types {
		switch t.(type) {
		case *btf.Struct:
			if kw == "struct" {
				return t, nil
			}
		case *btf.Union:
			if kw == "union" {
				return t, nil
			}
		case *btf.Enum:
			if kw == "enum" {
				return t, nil
			}
		case *btf.Typedef, *btf.Int:
			if kw == "" {
				return t, nil
			}
		}
	}
	return nil, fmt.Errorf("unknown type %s: neither the script nor the kernel's BTF defines it", name)
}

// Complete returns the full definition behind a forward declaration.
func (d *Defs) Complete(t btf.Type) (btf.Type, error) {
	f, ok := t.(*btf.Fwd)
	if !ok {
		return t, nil
	}
	return d.Lookup(key(f))
}

// Const finds a #define or an enum constant by name: the script's first,
// then the kernel's enums. ok is false when nobody defines it.
func (d *Defs) Const(name string) (c Const, ok bool, err error) {
	if c, ok := d.consts[name]; ok {
		return c, true, c.Err
	}
	v, ok, err := d.kernelEnum(name)
	return Const{Int: v}, ok, err
}

// kernelEnum looks a name up among the kernel's enum constants, indexing
// them on first use.
func (d *Defs) kernelEnum(name string) (int64, bool, error) {
	if d.kernel == nil {
		return 0, false, nil
	}
	d.enumOnce.Do(func() {
		spec, err := d.kernel()
		if err != nil {
			d.enumErr = err
			return
		}
		d.enumIndex = map[string]int64{}
		for t, err := range spec.All() {
			if err != nil {
				d.enumErr = err
				return
			}
			if e, ok := t.(*btf.Enum); ok {
				for _, v := range e.Values {
					d.enumIndex[v.Name] = int64(v.Value)
				}
			}
		}
	})
	if d.enumIndex == nil {
		return 0, false, nil
	}
	v, ok := d.enumIndex[name]
	return v, ok, nil
}

// IsLocal reports whether t is one of the script's own definitions (or a
// forward reference to one), which the script lays out and no kernel
// relocates.
func (d *Defs) IsLocal(t btf.Type) bool {
	switch t.(type) {
	case *btf.Struct, *btf.Union, *btf.Enum, *btf.Fwd:
		_, ok := d.types[key(t)]
		return ok
	}
	return false
}

// cWords reports whether every word is one of C's base type keywords
// ("unsigned long", "char", "void"), which name a type by themselves.
func cWords(words []string) bool {
	for _, w := range words {
		switch w {
		case "unsigned", "signed", "char", "short", "int", "long", "_Bool", "bool", "void", "float", "double":
		default:
			return false
		}
	}
	return len(words) > 0
}
