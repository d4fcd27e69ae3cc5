package metrics

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"syscall"

	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/btfprint"
	"github.com/wagglebpf/waggle/lang/output"
	"github.com/wagglebpf/waggle/session"
)

// decoder turns a key member into a label value.
type decoder func(m btfprint.Member, key []byte) (string, error)

// newDecoder makes the decoder cfg names for member m, checking that it
// fits the member's type.
func newDecoder(cfg LabelConfig, m btfprint.Member, sym *Symbols) (decoder, error) {
	integer := func(f func(v uint64, signed bool) string) (decoder, error) {
		if !isInteger(m.Type) {
			return nil, fmt.Errorf("the %s decoder needs an integer, and %s is %s", cfg.Decoder, memberName(m), session.TypeName(m.Type))
		}
		return func(m btfprint.Member, key []byte) (string, error) {
			v, signed, err := m.Integer(key)
			if err != nil {
				return "", err
			}
			return f(v, signed), nil
		}, nil
	}
	address := func(sizes ...int) (decoder, error) {
		size, err := m.Size()
		if err != nil {
			return nil, err
		}
		ok := false
		for _, s := range sizes {
			ok = ok || size == s
		}
		if !ok {
			return nil, fmt.Errorf("the %s decoder needs %s, and %s is %d bytes", cfg.Decoder, addressSizes(sizes), memberName(m), size)
		}
		return func(m btfprint.Member, key []byte) (string, error) {
			b, err := m.Bytes(key)
			if err != nil {
				return "", err
			}
			addr, _ := netip.AddrFromSlice(b)
			return addr.String(), nil
		}, nil
	}
	switch cfg.Decoder {
	case "":
		return func(m btfprint.Member, key []byte) (string, error) { return m.Text(key) }, nil
	case "string":
		if !isCharArray(m.Type) {
			return nil, fmt.Errorf("the string decoder needs a char array, and %s is %s", memberName(m), session.TypeName(m.Type))
		}
		return func(m btfprint.Member, key []byte) (string, error) { return m.Text(key) }, nil
	case "number":
		return integer(formatInteger)
	case "hex":
		return integer(func(v uint64, _ bool) string { return "0x" + strconv.FormatUint(v, 16) })
	case "ksym":
		return integer(func(v uint64, _ bool) string { return sym.KernelSymbol(v) })
	case "syscall":
		return integer(func(v uint64, _ bool) string { return output.SyscallName(int64(v)) })
	case "errno":
		return integer(errnoName)
	case "cgroup":
		return integer(func(v uint64, _ bool) string { return sym.CgroupPath(v) })
	case "ipv4":
		return address(4)
	case "ipv6":
		return address(16)
	case "ip":
		return address(4, 16)
	case "static":
		return staticDecoder(cfg.Values, m)
	}
	return nil, fmt.Errorf("unknown decoder %q", cfg.Decoder)
}

func addressSizes(sizes []int) string {
	if len(sizes) == 1 {
		return strconv.Itoa(sizes[0]) + " bytes"
	}
	return "4 or 16 bytes"
}

func formatInteger(v uint64, signed bool) string {
	if signed {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatUint(v, 10)
}

// errnoName names an error number as in C (ENOENT); negative numbers, as
// the kernel returns errors, name their opposite. A number without a name
// stays a number.
func errnoName(v uint64, signed bool) string {
	n := int64(v)
	if !signed && v <= math.MaxUint32 {
		n = int64(int32(uint32(v))) // -ENOENT kept in a u32
	}
	if n < 0 {
		n = -n
	}
	if n > 0 && n < 1<<16 {
		if name := unix.ErrnoName(syscall.Errno(n)); name != "" {
			return name
		}
	}
	return formatInteger(v, signed)
}

// staticDecoder maps values through a table: the member's number in
// decimal, or for enums also the enumerator's name, is looked up; a value
// not in the table stays as it prints.
func staticDecoder(table map[string]string, m btfprint.Member) (decoder, error) {
	integer := isInteger(m.Type)
	return func(m btfprint.Member, key []byte) (string, error) {
		text, err := m.Text(key)
		if err != nil {
			return "", err
		}
		if integer {
			v, signed, err := m.Integer(key)
			if err != nil {
				return "", err
			}
			if out, ok := table[formatInteger(v, signed)]; ok {
				return out, nil
			}
		}
		if out, ok := table[text]; ok {
			return out, nil
		}
		return text, nil
	}, nil
}

func isInteger(t btf.Type) bool {
	switch u := btf.UnderlyingType(t).(type) {
	case *btf.Int:
		return u.Size <= 8
	case *btf.Enum, *btf.Pointer:
		return true
	}
	return false
}

func isCharArray(t btf.Type) bool {
	a, ok := btf.UnderlyingType(t).(*btf.Array)
	if !ok {
		return false
	}
	i, ok := btf.UnderlyingType(a.Type).(*btf.Int)
	return ok && i.Size == 1
}

func memberName(m btfprint.Member) string {
	if m.Name == "" {
		return "the key"
	}
	return "member " + m.Name
}
