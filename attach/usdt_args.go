package attach

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// USDTArgKind says where a USDT argument's value is.
type USDTArgKind int

const (
	// USDTArgConst is a constant: Value.
	USDTArgConst USDTArgKind = iota
	// USDTArgReg is the value of a register: Reg.
	USDTArgReg
	// USDTArgMem is in memory: at Reg + Offset (+ Index*Scale), or at a
	// symbol's address + Offset when Symbol is set.
	USDTArgMem
)

func (k USDTArgKind) String() string {
	switch k {
	case USDTArgConst:
		return "const"
	case USDTArgReg:
		return "reg"
	case USDTArgMem:
		return "mem"
	}
	return "USDTArgKind(" + strconv.Itoa(int(k)) + ")"
}

// USDTArg is one argument of a USDT probe, decoded from its specification
// ("-4@%edi", "8@-16(%rbp)", "4@[sp, 16]", ...). The code generator reads
// registers from the uprobe's struct pt_regs at RegOffset.
type USDTArg struct {
	// Spec is the argument's specification as the note has it.
	Spec string
	// Size is the value's size in bytes (1, 2, 4 or 8), negative when the
	// value is signed and must be sign-extended.
	Size int
	Kind USDTArgKind
	// Reg is the register as written, without '%' ("edi", "rbp", "x0",
	// "sp"): the value for USDTArgReg, the base address for USDTArgMem
	// ("" for an absolute or symbol address). RegOffset is its offset in
	// the architecture's struct pt_regs, and RegShift how far to shift the
	// 64-bit register right first (8 for x86's %ah, %bh, %ch, %dh; else 0).
	Reg       string
	RegOffset int
	RegShift  int
	// Index and Scale are x86's indexed addressing, base + index*scale;
	// Index is "" without an index. IndexOffset is the index register's
	// offset in pt_regs.
	Index       string
	IndexOffset int
	Scale       int
	// Offset is the displacement added to the address of a memory operand.
	Offset int64
	// Symbol is set for x86 operands addressed through a symbol, such as
	// "-4@counter(%rip)": the value is at the symbol's address plus Offset
	// (Reg is then "rip", and the address is not relative to the register's
	// value). SymbolAddr is the symbol's address in the file's virtual
	// addresses; at run time it is moved by the same load bias as the
	// probe, i.e. by pt_regs' ip minus the probe's PC.
	Symbol     string
	SymbolAddr uint64
	// Value is the constant of USDTArgConst.
	Value int64
}

// Signed reports whether the argument is sign-extended.
func (a USDTArg) Signed() bool { return a.Size < 0 }

// Bytes returns the argument's size in bytes.
func (a USDTArg) Bytes() int {
	if a.Size < 0 {
		return -a.Size
	}
	return a.Size
}

// ParseUSDTArgs decodes a probe's argument specification for the
// architecture goarch ("amd64" or "arm64"; others are refused). The
// specification is a space-separated list of SIZE@OPERAND, where SIZE is
// 1, 2, 4 or 8, negative for signed values, and the operand is written in
// the architecture's assembler syntax:
//
//	amd64: %REG  $CONST  DISP(%BASE)  DISP(%BASE,%INDEX,SCALE)  SYMBOL+DISP(%rip)
//	arm64: REG   CONST   [REG]  [REG, OFFSET]
//
// An empty specification means no arguments.
func ParseUSDTArgs(spec, goarch string) ([]USDTArg, error) {
	var parse func(string) (USDTArg, error)
	switch goarch {
	case "amd64":
		parse = parseUSDTOperandAMD64
	case "arm64":
		parse = parseUSDTOperandARM64
	default:
		return nil, fmt.Errorf("usdt arguments of %s binaries are not supported (amd64 and arm64 are)", goarch)
	}
	fields := splitUSDTArgs(spec)
	if len(fields) == 0 {
		return nil, nil
	}
	args := make([]USDTArg, 0, len(fields))
	for i, f := range fields {
		a, err := parseUSDTArg(f, parse)
		if err != nil {
			return nil, fmt.Errorf("usdt argument %d %q: %w", i, Shorten(f), err)
		}
		args = append(args, a)
	}
	return args, nil
}

// splitUSDTArgs splits a specification at spaces, except inside brackets
// (arm64's "[sp, 16]").
func splitUSDTArgs(spec string) []string {
	var out []string
	depth, start := 0, -1
	for i := 0; i <= len(spec); i++ {
		c := byte(' ')
		if i < len(spec) {
			c = spec[i]
		}
		switch {
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		}
		isSpace := (c == ' ' || c == '\t') && depth == 0
		switch {
		case !isSpace && start < 0:
			start = i
		case isSpace && start >= 0:
			out = append(out, spec[start:i])
			start = -1
		}
		if i == len(spec) && start >= 0 {
			out = append(out, spec[start:])
		}
	}
	return out
}

// parseUSDTArg reads SIZE@OPERAND. A missing size (some hand-written
// notes omit it) means the register's width, or 8 bytes.
func parseUSDTArg(s string, operand func(string) (USDTArg, error)) (USDTArg, error) {
	size := 0
	op := s
	if at := strings.IndexByte(s, '@'); at >= 0 {
		n, err := strconv.Atoi(s[:at])
		if err != nil {
			return USDTArg{}, fmt.Errorf("bad size %q before '@'", s[:at])
		}
		switch n {
		case 1, 2, 4, 8, -1, -2, -4, -8:
		default:
			return USDTArg{}, fmt.Errorf("size %d is not 1, 2, 4 or 8 (negative when signed)", n)
		}
		size, op = n, s[at+1:]
	}
	if op == "" {
		return USDTArg{}, errors.New("no operand after '@'")
	}
	a, err := operand(op)
	if err != nil {
		return USDTArg{}, err
	}
	a.Spec = s
	if size != 0 {
		a.Size = size
	} else if a.Size == 0 {
		a.Size = 8
	}
	return a, nil
}

// parseUSDTNumber reads a decimal or 0x hex integer with an optional sign.
func parseUSDTNumber(s string) (int64, error) {
	neg := false
	t := s
	switch {
	case strings.HasPrefix(t, "-"):
		neg, t = true, t[1:]
	case strings.HasPrefix(t, "+"):
		t = t[1:]
	}
	base := 10
	if h, ok := strings.CutPrefix(strings.ToLower(t), "0x"); ok {
		t, base = h, 16
	}
	if t == "" || strings.ContainsAny(t, "+-_") {
		return 0, fmt.Errorf("bad number %q", s)
	}
	v, err := strconv.ParseUint(t, base, 64)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", s)
	}
	if neg {
		if v > 1<<63 {
			return 0, fmt.Errorf("number %q out of range", s)
		}
		return -int64(v), nil
	}
	// Large unsigned constants (addresses) keep their bits.
	return int64(v), nil
}

// amd64Reg is a register of x86-64 as an operand names it.
type amd64Reg struct {
	offset int // in struct pt_regs
	size   int // bytes the name reads
	shift  int
}

// amd64Regs maps every name of the general-purpose registers and %rip to
// struct pt_regs (arch/x86/include/asm/ptrace.h): r15 r14 r13 r12 bp bx
// r11 r10 r9 r8 ax cx dx si di orig_ax ip cs flags sp ss.
var amd64Regs = func() map[string]amd64Reg {
	m := map[string]amd64Reg{}
	legacy := []struct {
		names  [4]string // 64, 32, 16, 8 bits
		high   string    // the high byte, if any
		offset int
	}{
		{[4]string{"rax", "eax", "ax", "al"}, "ah", 80},
		{[4]string{"rbx", "ebx", "bx", "bl"}, "bh", 40},
		{[4]string{"rcx", "ecx", "cx", "cl"}, "ch", 88},
		{[4]string{"rdx", "edx", "dx", "dl"}, "dh", 96},
		{[4]string{"rsi", "esi", "si", "sil"}, "", 104},
		{[4]string{"rdi", "edi", "di", "dil"}, "", 112},
		{[4]string{"rbp", "ebp", "bp", "bpl"}, "", 32},
		{[4]string{"rsp", "esp", "sp", "spl"}, "", 152},
	}
	for _, r := range legacy {
		for i, n := range r.names {
			m[n] = amd64Reg{offset: r.offset, size: 8 >> i}
		}
		if r.high != "" {
			m[r.high] = amd64Reg{offset: r.offset, size: 1, shift: 8}
		}
	}
	for i, off := range []int{72, 64, 56, 48, 24, 16, 8, 0} { // r8..r15
		n := "r" + strconv.Itoa(8+i)
		m[n] = amd64Reg{offset: off, size: 8}
		m[n+"d"] = amd64Reg{offset: off, size: 4}
		m[n+"w"] = amd64Reg{offset: off, size: 2}
		m[n+"b"] = amd64Reg{offset: off, size: 1}
	}
	m["rip"] = amd64Reg{offset: 128, size: 8}
	m["eip"] = amd64Reg{offset: 128, size: 4}
	return m
}()

// PtRegsOffset returns the offset in struct pt_regs of the register name
// (as a USDT argument writes it, without '%') on goarch.
func PtRegsOffset(goarch, name string) (int, bool) {
	switch goarch {
	case "amd64":
		r, ok := amd64Regs[name]
		return r.offset, ok
	case "arm64":
		return arm64RegOffset(name)
	}
	return 0, false
}

func amd64Register(s string) (string, amd64Reg, error) {
	name, ok := strings.CutPrefix(s, "%")
	if !ok {
		return "", amd64Reg{}, fmt.Errorf("register %q does not start with %%", s)
	}
	r, ok := amd64Regs[name]
	if !ok {
		return "", amd64Reg{}, fmt.Errorf("unknown register %%%s", name)
	}
	return name, r, nil
}

// parseUSDTOperandAMD64 reads an operand in AT&T syntax.
func parseUSDTOperandAMD64(op string) (USDTArg, error) {
	var a USDTArg
	switch {
	case strings.HasPrefix(op, "$"):
		v, err := parseUSDTNumber(op[1:])
		if err != nil {
			return a, fmt.Errorf("constant: %w", err)
		}
		a.Kind, a.Value = USDTArgConst, v
		return a, nil
	case strings.HasPrefix(op, "%"):
		if strings.Contains(op, ":") {
			return a, fmt.Errorf("segment-relative operand %q is not supported", op)
		}
		name, r, err := amd64Register(op)
		if err != nil {
			return a, err
		}
		a.Kind, a.Reg, a.RegOffset, a.RegShift, a.Size = USDTArgReg, name, r.offset, r.shift, r.size
		return a, nil
	}
	// Memory: DISP(%BASE[,%INDEX[,SCALE]]), DISP being a number, a symbol,
	// or SYMBOL+NUMBER / SYMBOL-NUMBER; or a bare DISP (absolute address).
	a.Kind = USDTArgMem
	disp, inner, hasParen := op, "", false
	if i := strings.IndexByte(op, '('); i >= 0 {
		if !strings.HasSuffix(op, ")") {
			return a, fmt.Errorf("memory operand %q does not end with ')'", op)
		}
		disp, inner, hasParen = op[:i], op[i+1:len(op)-1], true
	}
	if strings.ContainsAny(disp, "()%$ ,") {
		return a, fmt.Errorf("unrecognised operand %q", op)
	}
	if err := a.parseDisplacement(disp); err != nil {
		return a, err
	}
	if !hasParen {
		if disp == "" {
			return a, fmt.Errorf("empty operand")
		}
		return a, nil
	}
	parts := strings.Split(inner, ",")
	if len(parts) > 3 {
		return a, fmt.Errorf("memory operand %q has more than base, index and scale", op)
	}
	if b := strings.TrimSpace(parts[0]); b != "" {
		name, r, err := amd64Register(b)
		if err != nil {
			return a, err
		}
		if r.size < 4 {
			return a, fmt.Errorf("%%%s cannot address memory", name)
		}
		a.Reg, a.RegOffset = name, r.offset
	} else if len(parts) == 1 {
		return a, fmt.Errorf("memory operand %q has no registers", op)
	}
	if a.Symbol != "" && a.Reg != "rip" && a.Reg != "eip" && a.Reg != "" {
		return a, fmt.Errorf("symbol %q relative to %%%s is not supported (only to %%rip)", a.Symbol, a.Reg)
	}
	if len(parts) >= 2 {
		name, r, err := amd64Register(strings.TrimSpace(parts[1]))
		if err != nil {
			return a, fmt.Errorf("index: %w", err)
		}
		if r.size < 4 || name == "rip" || name == "eip" {
			return a, fmt.Errorf("%%%s cannot be an index", name)
		}
		a.Index, a.IndexOffset, a.Scale = name, r.offset, 1
		if len(parts) == 3 {
			sc, err := strconv.Atoi(strings.TrimSpace(parts[2]))
			if err != nil || (sc != 1 && sc != 2 && sc != 4 && sc != 8) {
				return a, fmt.Errorf("scale %q is not 1, 2, 4 or 8", parts[2])
			}
			a.Scale = sc
		}
	}
	return a, nil
}

// parseDisplacement reads a memory operand's displacement: a number, a
// symbol, or a symbol plus or minus a number.
func (a *USDTArg) parseDisplacement(disp string) error {
	if disp == "" {
		return nil
	}
	if c := disp[0]; c == '-' || c == '+' || c >= '0' && c <= '9' {
		v, err := parseUSDTNumber(disp)
		if err != nil {
			return fmt.Errorf("displacement: %w", err)
		}
		a.Offset = v
		return nil
	}
	sym, num := disp, ""
	if i := strings.IndexAny(disp, "+-"); i > 0 {
		sym, num = disp[:i], disp[i:]
	}
	for _, c := range sym {
		if !(c == '_' || c == '.' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return fmt.Errorf("bad symbol %q", sym)
		}
	}
	a.Symbol = sym
	if num != "" {
		v, err := parseUSDTNumber(num)
		if err != nil {
			return fmt.Errorf("displacement: %w", err)
		}
		a.Offset = v
	}
	return nil
}

// arm64RegOffset maps x0-x30, w0-w30, sp (and wsp) and pc to struct
// user_pt_regs: regs[31], sp, pc, pstate.
func arm64RegOffset(name string) (int, bool) {
	switch name {
	case "sp", "wsp":
		return 31 * 8, true
	case "pc":
		return 32 * 8, true
	}
	if len(name) < 2 || (name[0] != 'x' && name[0] != 'w') {
		return 0, false
	}
	n, err := strconv.Atoi(name[1:])
	if err != nil || n < 0 || n > 30 || strconv.Itoa(n) != name[1:] {
		return 0, false
	}
	return n * 8, true
}

func arm64Register(s string) (string, int, error) {
	off, ok := arm64RegOffset(s)
	if !ok {
		return "", 0, fmt.Errorf("unknown register %q", s)
	}
	return s, off, nil
}

// parseUSDTOperandARM64 reads an operand in the syntax of GNU as for
// AArch64.
func parseUSDTOperandARM64(op string) (USDTArg, error) {
	var a USDTArg
	if inner, ok := strings.CutPrefix(op, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		if !ok {
			return a, fmt.Errorf("memory operand %q does not end with ']'", op)
		}
		base, off, hasOff := strings.Cut(inner, ",")
		name, regOff, err := arm64Register(strings.TrimSpace(base))
		if err != nil {
			return a, err
		}
		a.Kind, a.Reg, a.RegOffset = USDTArgMem, name, regOff
		if hasOff {
			off = strings.TrimPrefix(strings.TrimSpace(off), "#")
			v, err := parseUSDTNumber(off)
			if err != nil {
				return a, fmt.Errorf("offset: %w", err)
			}
			a.Offset = v
		}
		return a, nil
	}
	if c := strings.TrimPrefix(op, "#"); c != "" && (c[0] == '-' || c[0] >= '0' && c[0] <= '9') {
		v, err := parseUSDTNumber(c)
		if err != nil {
			return a, fmt.Errorf("constant: %w", err)
		}
		a.Kind, a.Value = USDTArgConst, v
		return a, nil
	}
	name, off, err := arm64Register(op)
	if err != nil {
		return a, err
	}
	a.Kind, a.Reg, a.RegOffset = USDTArgReg, name, off
	if name[0] == 'w' {
		a.Size = 4
	} else {
		a.Size = 8
	}
	return a, nil
}
