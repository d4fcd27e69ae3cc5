package attach

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
)

// SyscallPrefix returns the prefix the kernel gives its syscall entry
// functions on the architecture waggle was built for, e.g. "__x64_sys_" on
// amd64, so that a syscall name can be turned into a kprobe target.
//
// Kernels built with CONFIG_ARCH_HAS_SYSCALL_WRAPPER (x86, arm64, s390x and
// riscv64 today) name the entry point __<arch>_sys_<name> and pass it a
// struct pt_regs; everywhere else (32-bit arm, mips, loong64, and powerpc,
// whose wrapper keeps the plain name) the entry point is sys_<name>. libbpf
// also lists "arm", "mips" and "powerpc" prefixes, but no kernel defines
// such symbols, so they are not used here.
func SyscallPrefix() string {
	return syscallPrefixFor(runtime.GOARCH)
}

// syscallPrefixFor is SyscallPrefix for a given GOARCH, so that every
// architecture's answer can be tested on one machine.
func syscallPrefixFor(goarch string) string {
	switch goarch {
	case "amd64":
		return "__x64_sys_"
	case "386":
		// 32-bit x86 kernels use the ia32 wrappers since Linux 5.7.
		return "__ia32_sys_"
	case "arm64":
		return "__arm64_sys_"
	case "riscv64":
		return "__riscv_sys_"
	case "s390x":
		return "__s390x_sys_"
	default:
		return "sys_"
	}
}

// SyscallFunction returns the kernel function that implements the syscall
// name on this architecture, without asking the kernel: SyscallPrefix()+name.
// Use KsyscallTarget when /proc/kallsyms is available, because the wrapper
// prefix depends on how the running kernel was configured.
func SyscallFunction(name string) string {
	return SyscallPrefix() + name
}

// KsyscallTarget picks the kernel function a ksyscall probe for the syscall
// name should attach to, by looking the candidates up in kallsyms (the
// contents of /proc/kallsyms). The architecture's wrapper (SyscallPrefix) is
// preferred; sys_<name> is the fallback for kernels without syscall
// wrappers. Only text symbols count, because a kprobe needs a function.
func KsyscallTarget(name string, kallsyms io.Reader) (string, error) {
	return ksyscallTargetFor(name, kallsyms, runtime.GOARCH)
}

// ksyscallCandidates lists the kernel functions that may implement the
// syscall name, best first.
func ksyscallCandidates(name, goarch string) []string {
	var prefixes []string
	switch goarch {
	case "386":
		// A 32-bit waggle often runs on a 64-bit kernel. There the ia32
		// wrappers exist too, but they only see 32-bit callers; the native
		// entry point sees every process, so try it first.
		prefixes = []string{"__x64_sys_", "__ia32_sys_"}
	case "arm":
		// Same for armv7 user space on an arm64 kernel (Raspberry Pi OS and
		// many boards ship this); a 32-bit arm kernel has plain sys_ names.
		prefixes = []string{"__arm64_sys_"}
	default:
		if p := syscallPrefixFor(goarch); p != "sys_" {
			prefixes = []string{p}
		}
	}
	prefixes = append(prefixes, "sys_")
	out := make([]string, len(prefixes))
	for i, p := range prefixes {
		out[i] = p + name
	}
	return out
}

func ksyscallTargetFor(name string, kallsyms io.Reader, goarch string) (string, error) {
	if name == "" {
		return "", errors.New("syscall name is empty")
	}
	if strings.ContainsAny(name, " \t\n\x00") {
		return "", fmt.Errorf("syscall %q: name contains white space", name)
	}
	candidates := ksyscallCandidates(name, goarch)
	best := len(candidates) // index of the best candidate seen so far

	sc := bufio.NewScanner(kallsyms)
	for sc.Scan() {
		sym, ok := kallsymsTextSymbol(sc.Bytes())
		if !ok {
			continue
		}
		for i := 0; i < best; i++ {
			if string(sym) == candidates[i] {
				best = i
				break
			}
		}
		if best == 0 {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("syscall %s: reading /proc/kallsyms: %w", name, err)
	}
	if best < len(candidates) {
		return candidates[best], nil
	}
	return "", fmt.Errorf("syscall %s: no kernel function %s in /proc/kallsyms", name, listAlternatives(candidates))
}

// kallsymsTextSymbol returns the name on a /proc/kallsyms line
// ("ADDR TYPE NAME [MODULE]") when the symbol is in a text section. Weak
// symbols (W, w) count: syscalls a kernel leaves out are weak stubs.
func kallsymsTextSymbol(line []byte) ([]byte, bool) {
	_, typ, sym, _, ok := KallsymsFields(line)
	if !ok {
		return nil, false
	}
	switch typ {
	case 't', 'T', 'w', 'W':
	default:
		return nil, false
	}
	return sym, true
}

// KallsymsFields splits a /proc/kallsyms line, "ADDR TYPE NAME" or
// "ADDR TYPE NAME\t[MODULE]", into its fields. The address is returned as
// written (hex digits, all zeros when kptr_restrict hides it) and is not
// checked; module is nil for symbols of the kernel image. ok is false for
// a line that does not have this shape.
func KallsymsFields(line []byte) (addr []byte, typ byte, name, module []byte, ok bool) {
	addr, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok || len(rest) < 3 || rest[1] != ' ' {
		return nil, 0, nil, nil, false
	}
	typ, name = rest[0], rest[2:]
	if i := bytes.IndexAny(name, " \t"); i >= 0 {
		name, rest = name[:i], bytes.TrimLeft(name[i:], " \t")
		if m, ok := bytes.CutPrefix(rest, []byte{'['}); ok {
			if j := bytes.IndexByte(m, ']'); j >= 0 {
				module = m[:j]
			}
		}
	}
	if len(name) == 0 {
		return nil, 0, nil, nil, false
	}
	return addr, typ, name, module, true
}

// listAlternatives joins names as "a or b", "a, b or c".
func listAlternatives(names []string) string {
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
