package conformance

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// SyntaxError reports a line of assembly that cannot be encoded.
type SyntaxError struct {
	Line int    // 1-based line number (in the file when it came from Parse)
	Text string // the offending line without its comment, trimmed
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d: %s (in %q)", e.Line, e.Msg, e.Text)
}

// Assemble encodes a program written in the bpf_conformance assembly dialect
// (see the package documentation) into raw little-endian bytecode, 8 bytes per
// instruction slot (lddw takes two). Errors are *SyntaxError values naming the
// line.
func Assemble(src string) ([]byte, error) {
	lines := strings.Split(src, "\n")
	in := make([]srcLine, len(lines))
	for i, l := range lines {
		in[i] = srcLine{num: i + 1, text: l}
	}
	return assembleLines(in)
}

type srcLine struct {
	num  int
	text string
}

// inst is one instruction slot before label resolution.
type inst struct {
	op       uint8
	dst, src uint8
	off      int16
	imm      int32

	ref    string // label the jump or call refers to, resolved after all lines are read
	refImm bool   // the label's distance goes into imm (call local, ja32), not off
	line   srcLine
}

// Opcode pieces from RFC 9669.
const (
	clsLD    = 0x00
	clsLDX   = 0x01
	clsST    = 0x02
	clsSTX   = 0x03
	clsALU   = 0x04
	clsJMP   = 0x05
	clsJMP32 = 0x06
	clsALU64 = 0x07

	srcK = 0x00
	srcX = 0x08

	sizeW  = 0x00
	sizeH  = 0x08
	sizeB  = 0x10
	sizeDW = 0x18

	modeIMM    = 0x00
	modeABS    = 0x20
	modeIND    = 0x40
	modeMEM    = 0x60
	modeMEMSX  = 0x80
	modeATOMIC = 0xc0

	opEND  = 0xd0
	opMOV  = 0xb0
	opNEG  = 0x80
	opJA   = 0x00
	opCALL = 0x80
	opEXIT = 0x90

	atomicFetch   = 0x01
	atomicXchg    = 0xe0 | atomicFetch
	atomicCmpXchg = 0xf0 | atomicFetch
)

var aluOps = map[string]struct {
	op  uint8
	off int16
}{
	"add":  {0x00, 0},
	"sub":  {0x10, 0},
	"mul":  {0x20, 0},
	"div":  {0x30, 0},
	"sdiv": {0x30, 1},
	"or":   {0x40, 0},
	"and":  {0x50, 0},
	"lsh":  {0x60, 0},
	"rsh":  {0x70, 0},
	"mod":  {0x90, 0},
	"smod": {0x90, 1},
	"xor":  {0xa0, 0},
	"mov":  {0xb0, 0},
	"arsh": {0xc0, 0},
}

var jmpOps = map[string]uint8{
	"jeq":  0x10,
	"jgt":  0x20,
	"jge":  0x30,
	"jset": 0x40,
	"jne":  0x50,
	"jsgt": 0x60,
	"jsge": 0x70,
	"jlt":  0xa0,
	"jle":  0xb0,
	"jslt": 0xc0,
	"jsle": 0xd0,
}

var sizes = map[string]uint8{"b": sizeB, "h": sizeH, "w": sizeW, "dw": sizeDW}

var atomicOps = map[string]int32{"add": 0x00, "or": 0x40, "and": 0x50, "xor": 0xa0}

func assembleLines(lines []srcLine) ([]byte, error) {
	var prog []inst
	labels := map[string]int{}
	labelLine := map[string]int{}
	firstExit := -1

	for _, l := range lines {
		text := l.text
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		// Leading "name:" defines a label; an instruction may follow on the same line.
		for {
			word, rest := splitWord(text)
			if !strings.HasSuffix(word, ":") {
				break
			}
			name := strings.TrimSuffix(word, ":")
			if !isIdent(name) {
				return nil, &SyntaxError{Line: l.num, Text: text, Msg: fmt.Sprintf("bad label name %q", name)}
			}
			if prev, ok := labelLine[name]; ok {
				return nil, &SyntaxError{Line: l.num, Text: text, Msg: fmt.Sprintf("label %q already defined on line %d", name, prev)}
			}
			labels[name] = len(prog)
			labelLine[name] = l.num
			text = rest
		}
		if text == "" {
			continue
		}
		ins, err := encode(text)
		if err != nil {
			return nil, &SyntaxError{Line: l.num, Text: text, Msg: err.Error()}
		}
		if firstExit < 0 && ins[0].op == clsJMP|opEXIT {
			firstExit = len(prog)
		}
		for i := range ins {
			ins[i].line = srcLine{num: l.num, text: text}
		}
		prog = append(prog, ins...)
	}
	// The dialect lets jumps name "exit" without defining it: it is the first
	// exit instruction. An explicit "exit:" label takes precedence.
	if _, ok := labels["exit"]; !ok && firstExit >= 0 {
		labels["exit"] = firstExit
	}

	out := make([]byte, 0, 8*len(prog))
	for i, ins := range prog {
		if ins.ref != "" {
			target, ok := labels[ins.ref]
			if !ok {
				return nil, &SyntaxError{Line: ins.line.num, Text: ins.line.text, Msg: fmt.Sprintf("undefined label %q", ins.ref)}
			}
			d := int64(target) - int64(i) - 1
			if ins.refImm {
				ins.imm = int32(d) // a program this long would not fit in memory first
			} else {
				if d < -1<<15 || d >= 1<<15 {
					return nil, &SyntaxError{Line: ins.line.num, Text: ins.line.text, Msg: fmt.Sprintf("label %q is %d instructions away, beyond a 16-bit offset (use ja32)", ins.ref, d)}
				}
				ins.off = int16(d)
			}
		}
		out = append(out, ins.op, ins.dst|ins.src<<4)
		out = binary.LittleEndian.AppendUint16(out, uint16(ins.off))
		out = binary.LittleEndian.AppendUint32(out, uint32(ins.imm))
	}
	return out, nil
}

// encode turns one instruction line (no label, no comment) into one or two slots.
func encode(text string) ([]inst, error) {
	mn, rest := splitWord(text)
	mn = strings.ToLower(mn)
	one := func(i inst, err error) ([]inst, error) {
		if err != nil {
			return nil, err
		}
		return []inst{i}, nil
	}

	switch mn {
	case "exit":
		if _, err := operands(mn, rest, 0); err != nil {
			return nil, err
		}
		return []inst{{op: clsJMP | opEXIT}}, nil
	case "ja", "ja32", "gotol":
		ops, err := operands(mn, rest, 1)
		if err != nil {
			return nil, err
		}
		if mn == "ja" {
			return one(jumpTarget(inst{op: clsJMP | opJA}, ops[0], false))
		}
		return one(jumpTarget(inst{op: clsJMP32 | opJA}, ops[0], true))
	case "call":
		return one(encodeCall(rest))
	case "callx":
		ops, err := operands(mn, rest, 1)
		if err != nil {
			return nil, err
		}
		r, err := register(ops[0])
		if err != nil {
			return nil, err
		}
		return []inst{{op: clsJMP | opCALL | srcX, dst: r}}, nil
	case "lddw":
		ops, err := operands(mn, rest, 2)
		if err != nil {
			return nil, err
		}
		dst, err := register(ops[0])
		if err != nil {
			return nil, err
		}
		v, err := imm64(ops[1])
		if err != nil {
			return nil, err
		}
		return []inst{
			{op: clsLD | modeIMM | sizeDW, dst: dst, imm: int32(uint32(v))},
			{imm: int32(uint32(v >> 32))},
		}, nil
	case "lock":
		return one(encodeAtomic(rest))
	case "neg", "neg32", "neg64":
		ops, err := operands(mn, rest, 1)
		if err != nil {
			return nil, err
		}
		dst, err := register(ops[0])
		if err != nil {
			return nil, err
		}
		cls := uint8(clsALU64)
		if mn == "neg32" {
			cls = clsALU
		}
		return []inst{{op: cls | opNEG | srcK, dst: dst}}, nil
	}

	// Byte swaps: le16, be32, swap64, bswap16 ...
	for _, p := range []struct {
		prefix string
		op     uint8
	}{
		{"le", clsALU | opEND | srcK},
		{"be", clsALU | opEND | srcX},
		{"swap", clsALU64 | opEND | srcK},
		{"bswap", clsALU64 | opEND | srcK},
	} {
		width, ok := strings.CutPrefix(mn, p.prefix)
		if !ok || (width != "16" && width != "32" && width != "64") {
			continue
		}
		ops, err := operands(mn, rest, 1)
		if err != nil {
			return nil, err
		}
		dst, err := register(ops[0])
		if err != nil {
			return nil, err
		}
		w, _ := strconv.Atoi(width)
		return []inst{{op: p.op, dst: dst, imm: int32(w)}}, nil
	}

	// movsx832, movsx1632, movsx864, movsx1664, movsx3264: sign-extending moves,
	// register source only, the source width in the offset field.
	if widths, ok := strings.CutPrefix(mn, "movsx"); ok {
		var from int16
		var cls uint8
		switch widths {
		case "832":
			from, cls = 8, clsALU
		case "1632":
			from, cls = 16, clsALU
		case "864":
			from, cls = 8, clsALU64
		case "1664":
			from, cls = 16, clsALU64
		case "3264":
			from, cls = 32, clsALU64
		default:
			return nil, fmt.Errorf("unknown mnemonic %q (movsx forms: movsx832, movsx1632, movsx864, movsx1664, movsx3264)", mn)
		}
		ops, err := operands(mn, rest, 2)
		if err != nil {
			return nil, err
		}
		dst, err := register(ops[0])
		if err != nil {
			return nil, err
		}
		src, err := register(ops[1])
		if err != nil {
			return nil, fmt.Errorf("%s needs a register source: %w", mn, err)
		}
		return []inst{{op: cls | opMOV | srcX, dst: dst, src: src, off: from}}, nil
	}

	// ALU: add, add32, add64, ...
	base, cls := mn, uint8(clsALU64)
	if b, ok := strings.CutSuffix(mn, "32"); ok {
		base, cls = b, clsALU
	} else if b, ok := strings.CutSuffix(mn, "64"); ok {
		base = b
	}
	if a, ok := aluOps[base]; ok {
		ops, err := operands(mn, rest, 2)
		if err != nil {
			return nil, err
		}
		dst, err := register(ops[0])
		if err != nil {
			return nil, err
		}
		i := inst{dst: dst, off: a.off}
		if isRegister(ops[1]) {
			i.op = cls | a.op | srcX
			i.src, err = register(ops[1])
		} else {
			i.op = cls | a.op | srcK
			i.imm, err = imm32(ops[1])
		}
		return one(i, err)
	}

	// Conditional jumps: jeq, jeq32, ...
	jbase, jcls := mn, uint8(clsJMP)
	if b, ok := strings.CutSuffix(mn, "32"); ok {
		jbase, jcls = b, clsJMP32
	}
	if op, ok := jmpOps[jbase]; ok {
		ops, err := operands(mn, rest, 3)
		if err != nil {
			return nil, err
		}
		dst, err := register(ops[0])
		if err != nil {
			return nil, err
		}
		i := inst{dst: dst}
		if isRegister(ops[1]) {
			i.op = jcls | op | srcX
			i.src, err = register(ops[1])
		} else {
			i.op = jcls | op | srcK
			i.imm, err = imm32(ops[1])
		}
		if err != nil {
			return nil, err
		}
		return one(jumpTarget(i, ops[2], false))
	}

	// Memory: ldxsb before ldxb so the sign-extending forms win.
	if sz, ok := cutSize(mn, "ldxs"); ok && sz != sizeDW {
		return one(encodeLoad(mn, rest, clsLDX|modeMEMSX|sz))
	}
	if sz, ok := cutSize(mn, "ldx"); ok {
		return one(encodeLoad(mn, rest, clsLDX|modeMEM|sz))
	}
	if sz, ok := cutSize(mn, "stx"); ok {
		ops, err := operands(mn, rest, 2)
		if err != nil {
			return nil, err
		}
		dst, off, err := memOperand(ops[0])
		if err != nil {
			return nil, err
		}
		src, err := register(ops[1])
		if err != nil {
			return nil, err
		}
		return []inst{{op: clsSTX | modeMEM | sz, dst: dst, src: src, off: off}}, nil
	}
	if sz, ok := cutSize(mn, "st"); ok {
		ops, err := operands(mn, rest, 2)
		if err != nil {
			return nil, err
		}
		dst, off, err := memOperand(ops[0])
		if err != nil {
			return nil, err
		}
		v, err := imm32(ops[1])
		if err != nil {
			return nil, err
		}
		return []inst{{op: clsST | modeMEM | sz, dst: dst, off: off, imm: v}}, nil
	}
	// Legacy packet loads: ldabsw imm, ldindw %rS, imm.
	if sz, ok := cutSize(mn, "ldabs"); ok {
		ops, err := operands(mn, rest, 1)
		if err != nil {
			return nil, err
		}
		v, err := imm32(ops[0])
		return one(inst{op: clsLD | modeABS | sz, imm: v}, err)
	}
	if sz, ok := cutSize(mn, "ldind"); ok {
		ops, err := operands(mn, rest, 2)
		if err != nil {
			return nil, err
		}
		src, err := register(ops[0])
		if err != nil {
			return nil, err
		}
		v, err := imm32(ops[1])
		return one(inst{op: clsLD | modeIND | sz, src: src, imm: v}, err)
	}
	return nil, fmt.Errorf("unknown mnemonic %q", mn)
}

func encodeLoad(mn, rest string, op uint8) (inst, error) {
	ops, err := operands(mn, rest, 2)
	if err != nil {
		return inst{}, err
	}
	dst, err := register(ops[0])
	if err != nil {
		return inst{}, err
	}
	src, off, err := memOperand(ops[1])
	if err != nil {
		return inst{}, err
	}
	return inst{op: op, dst: dst, src: src, off: off}, nil
}

// encodeCall handles "call N", "call helper N", "call %rN" (callx: the
// register, in the dst field, holds the helper id), "call local LABEL|+N" and
// "call runtime N" (a kfunc).
func encodeCall(rest string) (inst, error) {
	fields := strings.Fields(rest)
	if len(fields) == 1 && (fields[0] == "helper" || fields[0] == "local" || fields[0] == "runtime") {
		return inst{}, fmt.Errorf("call %s needs a target", fields[0])
	}
	if len(fields) == 1 {
		fields = []string{"helper", fields[0]}
	}
	if len(fields) != 2 {
		return inst{}, fmt.Errorf("call takes a helper id, a register, \"local LABEL\" or \"runtime ID\"; got %d operands", len(fields))
	}
	mode, target := fields[0], fields[1]
	i := inst{op: clsJMP | opCALL}
	var err error
	switch mode {
	case "helper":
		if isRegister(target) {
			i.op |= srcX
			i.dst, err = register(target)
		} else {
			i.imm, err = imm32(target)
		}
		return i, err
	case "local":
		i.src = 1 // BPF_PSEUDO_CALL
		return jumpTarget(i, target, true)
	case "runtime":
		i.src = 2 // BPF_PSEUDO_KFUNC_CALL
		i.imm, err = imm32(target)
		return i, err
	}
	return inst{}, fmt.Errorf("unknown call mode %q (want a helper id, a register, local or runtime)", mode)
}

// encodeAtomic handles "lock [fetch] OP[32] [dst+off], src".
func encodeAtomic(rest string) (inst, error) {
	word, rest := splitWord(rest)
	fetch := false
	if word == "fetch" {
		fetch = true
		word, rest = splitWord(rest)
	}
	if word == "" {
		return inst{}, fmt.Errorf("lock needs an operation (add, and, or, xor, xchg, cmpxchg)")
	}
	base, size := word, uint8(sizeDW)
	if b, ok := strings.CutSuffix(word, "32"); ok {
		base, size = b, sizeW
	} else if b, ok := strings.CutSuffix(word, "64"); ok {
		base = b
	}
	var imm int32
	switch base {
	case "xchg":
		imm = atomicXchg
	case "cmpxchg":
		imm = atomicCmpXchg
	default:
		op, ok := atomicOps[base]
		if !ok {
			return inst{}, fmt.Errorf("unknown atomic operation %q (want add, and, or, xor, xchg or cmpxchg, with an optional 32 suffix)", word)
		}
		imm = op
		if fetch {
			imm |= atomicFetch
		}
	}
	ops, err := operands("lock "+word, rest, 2)
	if err != nil {
		return inst{}, err
	}
	dst, off, err := memOperand(ops[0])
	if err != nil {
		return inst{}, err
	}
	src, err := register(ops[1])
	if err != nil {
		return inst{}, err
	}
	return inst{op: clsSTX | modeATOMIC | size, dst: dst, src: src, off: off, imm: imm}, nil
}

// jumpTarget fills in a jump's destination: a signed literal distance
// (+3, -2) or a label resolved later. wide puts it in imm, else in off.
func jumpTarget(i inst, s string, wide bool) (inst, error) {
	if s == "" {
		return i, fmt.Errorf("missing jump target")
	}
	if c := s[0]; c == '+' || c == '-' || (c >= '0' && c <= '9') {
		var err error
		if wide {
			i.imm, err = signed32(s)
		} else {
			i.off, err = offset16(s)
		}
		return i, err
	}
	if !isIdent(s) {
		return i, fmt.Errorf("bad jump target %q (want a label or a signed distance like +2)", s)
	}
	i.ref, i.refImm = s, wide
	return i, nil
}

// operands splits comma-separated operands and checks their count.
func operands(mn, rest string, want int) ([]string, error) {
	rest = strings.TrimSpace(rest)
	var ops []string
	if rest != "" {
		ops = strings.Split(rest, ",")
		for i := range ops {
			ops[i] = strings.TrimSpace(ops[i])
			if ops[i] == "" {
				return nil, fmt.Errorf("%s: empty operand %d", mn, i+1)
			}
		}
	}
	if len(ops) != want {
		return nil, fmt.Errorf("%s takes %d operand%s, got %d", mn, want, plural(want), len(ops))
	}
	return ops, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func splitWord(s string) (word, rest string) {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i+1:])
}

func cutSize(mn, prefix string) (uint8, bool) {
	s, ok := strings.CutPrefix(mn, prefix)
	if !ok {
		return 0, false
	}
	sz, ok := sizes[s]
	return sz, ok
}

func isRegister(s string) bool { return strings.HasPrefix(s, "%") }

func register(s string) (uint8, error) {
	n, ok := strings.CutPrefix(s, "%r")
	if !ok || n == "" || len(n) > 2 || (len(n) == 2 && n[0] == '0') {
		return 0, fmt.Errorf("bad register %q (want %%r0..%%r10)", s)
	}
	v, err := strconv.Atoi(n)
	if err != nil || v < 0 || v > 10 {
		return 0, fmt.Errorf("bad register %q (want %%r0..%%r10)", s)
	}
	return uint8(v), nil
}

// memOperand parses "[%rN]", "[%rN+off]" or "[%rN-off]".
func memOperand(s string) (uint8, int16, error) {
	inner, ok := strings.CutPrefix(s, "[")
	if ok {
		inner, ok = strings.CutSuffix(inner, "]")
	}
	if !ok {
		return 0, 0, fmt.Errorf("bad memory operand %q (want [%%rN+off])", s)
	}
	inner = strings.TrimSpace(inner)
	regPart, offPart := inner, ""
	if i := strings.IndexAny(inner, "+-"); i >= 0 {
		regPart, offPart = strings.TrimSpace(inner[:i]), inner[i:]
	}
	r, err := register(regPart)
	if err != nil {
		return 0, 0, fmt.Errorf("bad memory operand %q: %w", s, err)
	}
	if offPart == "" {
		return r, 0, nil
	}
	// Allow "[%r1 + 8]".
	offPart = offPart[:1] + strings.TrimSpace(offPart[1:])
	off, err := offset16(offPart)
	if err != nil {
		return 0, 0, fmt.Errorf("bad memory operand %q: %w", s, err)
	}
	return r, off, nil
}

// number parses an optionally signed decimal or 0x-hex literal into its sign
// and magnitude.
func number(s string) (neg bool, mag uint64, err error) {
	t := s
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	base := 10
	if h, ok := strings.CutPrefix(t, "0x"); ok {
		t, base = h, 16
	} else if h, ok := strings.CutPrefix(t, "0X"); ok {
		t, base = h, 16
	}
	if t == "" || t[0] == '+' || t[0] == '-' || strings.Contains(t, "_") {
		return false, 0, fmt.Errorf("bad number %q", s)
	}
	mag, err = strconv.ParseUint(t, base, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return false, 0, fmt.Errorf("number %q does not fit in 64 bits", s)
		}
		return false, 0, fmt.Errorf("bad number %q", s)
	}
	return neg, mag, nil
}

// imm32 accepts -2^31..2^32-1: values above 2^31-1 are written as the unsigned
// bit pattern (0xffffffff is -1), as the suite does.
func imm32(s string) (int32, error) {
	neg, mag, err := number(s)
	if err != nil {
		return 0, err
	}
	if neg {
		if mag > 1<<31 {
			return 0, fmt.Errorf("immediate %s does not fit in 32 bits", s)
		}
		return int32(-int64(mag)), nil
	}
	if mag > 1<<32-1 {
		return 0, fmt.Errorf("immediate %s does not fit in 32 bits (use lddw for 64-bit constants)", s)
	}
	return int32(uint32(mag)), nil
}

// signed32 accepts -2^31..2^31-1 (jump distances).
func signed32(s string) (int32, error) {
	neg, mag, err := number(s)
	if err != nil {
		return 0, err
	}
	if (neg && mag > 1<<31) || (!neg && mag > 1<<31-1) {
		return 0, fmt.Errorf("distance %s does not fit in a signed 32-bit field", s)
	}
	if neg {
		return int32(-int64(mag)), nil
	}
	return int32(mag), nil
}

// offset16 accepts -2^15..2^15-1.
func offset16(s string) (int16, error) {
	neg, mag, err := number(s)
	if err != nil {
		return 0, err
	}
	if (neg && mag > 1<<15) || (!neg && mag > 1<<15-1) {
		return 0, fmt.Errorf("offset %s does not fit in a signed 16-bit field", s)
	}
	if neg {
		return int16(-int64(mag)), nil
	}
	return int16(mag), nil
}

// imm64 accepts -2^63..2^64-1.
func imm64(s string) (uint64, error) {
	neg, mag, err := number(s)
	if err != nil {
		return 0, err
	}
	if neg {
		if mag > 1<<63 {
			return 0, fmt.Errorf("immediate %s does not fit in 64 bits", s)
		}
		return -mag, nil
	}
	return mag, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
		case i > 0 && c >= '0' && c <= '9':
		default:
			return false
		}
	}
	return true
}
