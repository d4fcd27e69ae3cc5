package symtab

import (
	"fmt"
	"strconv"
	"strings"
)

// StackMode is one of bpftrace's formats for kstack and ustack.
type StackMode int

const (
	// ModeBpftrace, the default, prints one frame per line as "name+off",
	// indented by eight spaces.
	ModeBpftrace StackMode = iota
	// ModePerf prints frames as perf script does: a tab, the address in
	// hex, "name+off", and for user-space frames the module in
	// parentheses.
	ModePerf
	// ModeRaw prints only the addresses, in hex.
	ModeRaw
)

// String returns the mode's name as bpftrace spells it.
func (m StackMode) String() string {
	switch m {
	case ModeBpftrace:
		return "bpftrace"
	case ModePerf:
		return "perf"
	case ModeRaw:
		return "raw"
	}
	return "StackMode(" + strconv.Itoa(int(m)) + ")"
}

// ParseStackMode reads a mode as written in kstack(MODE), ustack(MODE) or
// the stack_mode setting.
func ParseStackMode(s string) (StackMode, error) {
	switch s {
	case "bpftrace":
		return ModeBpftrace, nil
	case "perf":
		return ModePerf, nil
	case "raw":
		return ModeRaw, nil
	}
	return 0, fmt.Errorf("invalid stack mode %q: valid modes are bpftrace, perf and raw", s)
}

// Resolve names an address: the symbol it falls in and its offset there.
// Kernel.Lookup and Process.Lookup are Resolve functions.
type Resolve func(addr uint64) (sym Symbol, offset uint64, ok bool)

// stackIndent is the indentation of frames in bpftrace mode: bpftrace
// formats stacks with an indent of 8 both in printf and as map keys.
const stackIndent = "        "

// FormatStack formats a stack as bpftrace prints kstack (user false) and
// ustack (user true): a newline, then one line per frame, innermost first.
// The frames end at the first zero address, as in a BPF stack map entry.
// resolve may be nil in raw mode; an address it cannot name is printed in
// hex ("0xffffffff81000000"), in perf mode followed by " ([unknown])" for
// user-space frames.
//
//	bpftrace: "\n        do_sys_openat2+160\n        __x64_sys_openat+85\n"
//	perf:     "\n\tffffffff813f1a80 do_sys_openat2+160\n" (user frames add " (/usr/lib/libc.so.6)")
//	raw:      "\nffffffff813f1a80\n"
//
// As a map key bpftrace writes it between "@[" and "]"; printf("%s")
// writes it as is, so a stack printed with a trailing "\n" ends with a
// blank line.
func FormatStack(frames []uint64, mode StackMode, resolve Resolve, user bool) string {
	var b strings.Builder
	b.WriteByte('\n')
	for _, addr := range frames {
		if addr == 0 {
			break
		}
		switch mode {
		case ModeRaw:
			b.WriteString(strconv.FormatUint(addr, 16))
		case ModePerf:
			b.WriteByte('\t')
			b.WriteString(strconv.FormatUint(addr, 16))
			b.WriteByte(' ')
			writeFrame(&b, addr, resolve, true, user)
		default:
			b.WriteString(stackIndent)
			writeFrame(&b, addr, resolve, false, user)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func writeFrame(b *strings.Builder, addr uint64, resolve Resolve, perf, user bool) {
	var (
		sym Symbol
		off uint64
		ok  bool
	)
	if resolve != nil {
		sym, off, ok = resolve(addr)
	}
	if !ok {
		b.WriteString("0x")
		b.WriteString(strconv.FormatUint(addr, 16))
		if perf && user {
			b.WriteString(" ([unknown])")
		}
		return
	}
	b.WriteString(sym.Name)
	b.WriteByte('+')
	b.WriteString(strconv.FormatUint(off, 10))
	if perf && user {
		b.WriteString(" (")
		b.WriteString(sym.Module)
		b.WriteByte(')')
	}
}

// Name formats addr as bpftrace's ksym and usym do: the symbol's name
// without an offset, or the address in hex when it has none.
func Name(resolve Resolve, addr uint64) string {
	if resolve != nil {
		if sym, _, ok := resolve(addr); ok {
			return sym.Name
		}
	}
	return "0x" + strconv.FormatUint(addr, 16)
}
