package vm_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/internal/conformance"
	"github.com/wagglebpf/waggle/internal/kerneltest"
	"github.com/wagglebpf/waggle/vm"
)

// The differential tests run the same bytecode in the VM and in the kernel
// (BPF_PROG_TEST_RUN) and compare what comes out.
//
// The kernel side is a BPF_PROG_TYPE_SYSCALL program: it must be loaded
// sleepable, and its test run hands r1 a pointer to a copy of ctx_in, of a
// size the caller chooses (up to 64 KiB), that the program may read and
// write at constant offsets; the kernel copies the buffer back afterwards.
// That is the VM's view of mem exactly, except that r2 is not the length:
// programs that want it get an explicit "r2 = len" first. The kernel
// returns only the low 32 bits of r0, so r0 is compared on those; the
// generated programs also store every register into the context, so the
// full 64-bit values are compared through the output bytes.
//
// WAGGLE_DIFF_N sets how many generated programs of each kind to run
// (default 200) and WAGGLE_DIFF_SEED the generator's seed (default 1).

// diffKernelProg loads code (raw little-endian bytecode) as a sleepable
// syscall program. The error carries the verifier's log.
func diffKernelProg(code []byte) (*ebpf.Program, error) {
	insns, err := diffDecode(code)
	if err != nil {
		return nil, fmt.Errorf("decode for the kernel: %w", err)
	}
	return ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
		Type:         ebpf.Syscall,
		Flags:        unix.BPF_F_SLEEPABLE,
		License:      "GPL",
		Instructions: insns,
	}, ebpf.ProgramOptions{LogLevel: ebpf.LogLevelBranch, LogSizeStart: 1 << 20})
}

// diffKernelRun runs prog once over a copy of mem and returns r0 (32 bits)
// and the context as the program left it.
func diffKernelRun(prog *ebpf.Program, mem []byte) (uint32, []byte, error) {
	if len(mem) == 0 {
		r0, err := prog.Run(&ebpf.RunOptions{})
		return r0, nil, err
	}
	in := bytes.Clone(mem)
	out := make([]byte, len(mem))
	r0, err := prog.Run(&ebpf.RunOptions{Context: in, ContextOut: out})
	return r0, out, err
}

// diffOutcome is what one side produced.
type diffOutcome struct {
	r0  uint64
	out []byte
	err error
}

func (o diffOutcome) String() string {
	if o.err != nil {
		return "error: " + o.err.Error()
	}
	return fmt.Sprintf("r0 = %#x (low 32 bits %#x)\nmem after:\n%s", o.r0, uint32(o.r0), hex.Dump(o.out))
}

// diffCompare runs code in both and returns a description of any
// disagreement, "" when they agree. rejected reports a verifier rejection
// (not a disagreement: the kernel is free to refuse what it cannot prove).
func diffCompare(code, mem []byte) (mismatch string, rejected error) {
	prog, err := diffKernelProg(code)
	if err != nil {
		return "", err
	}
	defer prog.Close()

	var k diffOutcome
	r0, out, err := diffKernelRun(prog, mem)
	k = diffOutcome{r0: uint64(r0), out: out, err: err}

	var v diffOutcome
	p, err := vm.Load(code)
	if err != nil {
		v.err = fmt.Errorf("vm.Load: %w", err)
	} else {
		vmem := bytes.Clone(mem)
		r, err := p.Run(vmem, vm.RunOptions{})
		v = diffOutcome{r0: r, out: vmem, err: err}
		if len(mem) == 0 {
			v.out = nil
		}
	}
	if k.err == nil && v.err == nil && uint32(v.r0) == uint32(k.r0) && bytes.Equal(v.out, k.out) {
		return "", nil
	}
	return fmt.Sprintf("VM and kernel disagree\nprogram:\n%s\ninput:\n%s\nVM:     %v\nkernel: %v",
		diffListing(code), hex.Dump(mem), v, k), nil
}

// diffDecode turns raw bytecode into cilium's instructions.
func diffDecode(code []byte) (asm.Instructions, error) {
	r := bytes.NewReader(code)
	var insns asm.Instructions
	for r.Len() > 0 {
		var ins asm.Instruction
		if err := ins.Unmarshal(r, binary.LittleEndian, "linux"); err != nil {
			return insns, err
		}
		insns = append(insns, ins)
	}
	return insns, nil
}

// diffListing disassembles code with cilium's printer, with the raw slots.
func diffListing(code []byte) string {
	var b strings.Builder
	insns, err := diffDecode(code)
	if err != nil {
		fmt.Fprintf(&b, "(cannot disassemble: %v)\n", err)
	}
	slot := 0
	for _, ins := range insns {
		raw := code[slot*8 : slot*8+int(ins.Size())]
		fmt.Fprintf(&b, "%4d: %-34x %v\n", slot, raw, ins)
		slot += int(ins.Size()) / 8
	}
	return b.String()
}

// diffVerifierTail is the last line of a verifier rejection, for logs.
func diffVerifierTail(err error) string {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) && len(ve.Log) > 0 {
		for i := len(ve.Log) - 1; i >= 0; i-- {
			if l := strings.TrimSpace(ve.Log[i]); l != "" && !strings.HasPrefix(l, "processed ") && !strings.HasPrefix(l, "verification time") && !strings.HasPrefix(l, "stack depth") {
				return l
			}
		}
	}
	return err.Error()
}

// TestDiffConformance runs the conformance programs the kernel accepts as
// syscall programs in both places. Programs that expect an error, call the
// suite's helpers (whose ids mean other things in the kernel) or use callx
// are not tried.
func TestDiffConformance(t *testing.T) {
	kerneltest.Require(t)
	dir, err := conformance.SuiteDir()
	if err != nil {
		t.Fatalf("the conformance suite is data this test needs, and it is missing: %v", err)
	}
	files, err := conformance.SuiteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var tried, accepted, agreed, notTried int
	reasons := map[string]int{}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".data")
		tc, err := conformance.ParseFile(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if tc.ErrorText != "" || diffCallsHelpers(tc.Code) || len(tc.Mem) > 0xffff {
			notTried++
			continue
		}
		tried++
		code := append(diffRaw(0xb7, 2, 0, 0, int32(len(tc.Mem))), tc.Code...)
		mismatch, rejected := diffCompare(code, tc.Mem)
		if rejected != nil {
			reasons[diffReasonClass(diffVerifierTail(rejected))]++
			t.Logf("%s: kernel rejects: %s", name, diffVerifierTail(rejected))
			continue
		}
		accepted++
		if mismatch != "" {
			t.Errorf("%s: %s", name, mismatch)
			continue
		}
		agreed++
	}
	t.Logf("conformance: %d files, %d not tried (expect an error or call suite helpers), %d tried, %d accepted by the kernel, %d agree",
		len(files), notTried, tried, accepted, agreed)
	for r, n := range reasons {
		t.Logf("  rejected %3d: %s", n, r)
	}
	if accepted == 0 {
		t.Error("the kernel accepted no conformance program: the differential test compared nothing")
	}
}

// diffReasonClass strips register numbers and offsets from a verifier
// message so that rejections group by kind.
func diffReasonClass(s string) string {
	f := strings.Fields(s)
	for i, w := range f {
		if _, err := strconv.Atoi(strings.Trim(w, ",=()")); err == nil {
			f[i] = "N"
		}
		if len(w) >= 2 && (w[0] == 'R' || w[0] == 'r') {
			if _, err := strconv.Atoi(w[1:]); err == nil {
				f[i] = "Rn"
			}
		}
		if j := strings.IndexByte(w, '='); j > 0 {
			f[i] = w[:j+1] + "N"
		}
	}
	return strings.Join(f, " ")
}

// diffCallsHelpers reports whether code calls a helper or uses callx.
func diffCallsHelpers(code []byte) bool {
	for i := 0; i+8 <= len(code); i += 8 {
		op, src := code[i], code[i+1]>>4
		if (op == 0x85 && src == 0) || op == 0x8d {
			return true
		}
		if op == 0x18 {
			i += 8
		}
	}
	return false
}

func diffRaw(op, dst, src uint8, off int16, imm int32) []byte {
	b := make([]byte, 8)
	b[0] = op
	b[1] = dst | src<<4
	binary.LittleEndian.PutUint16(b[2:], uint16(off))
	binary.LittleEndian.PutUint32(b[4:], uint32(imm))
	return b
}

func diffEnv(name string, def int) int {
	if s := os.Getenv(name); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			return n
		}
	}
	return def
}

// TestDiffGenerated runs seeded random programs in both places: straight
// line ALU/ALU64 code (every operation, signed div/mod, shifts by register
// and by immediate, movsx, le/be/bswap, lddw) with loads and stores on the
// context and the stack at constant offsets, and the same with random
// forward conditional branches (JMP and JMP32, every condition, register
// and immediate forms).
func TestDiffGenerated(t *testing.T) {
	kerneltest.Require(t)
	n := diffEnv("WAGGLE_DIFF_N", 200)
	seed := uint64(diffEnv("WAGGLE_DIFF_SEED", 1))
	for _, kind := range []struct {
		name     string
		branches bool
	}{{"straight", false}, {"branchy", true}} {
		t.Run(kind.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0x5eed))
			var accepted, agreed, failures int
			reasons := map[string]int{}
			for i := range n {
				g := diffGen{r: rng, branches: kind.branches}
				code, mem := g.program()
				mismatch, rejected := diffCompare(code, mem)
				if rejected != nil {
					reasons[diffReasonClass(diffVerifierTail(rejected))]++
					if len(reasons) <= 3 && reasons[diffReasonClass(diffVerifierTail(rejected))] == 1 {
						t.Logf("program %d rejected: %s\n%s", i, diffVerifierTail(rejected), diffListing(code))
					}
					continue
				}
				accepted++
				if mismatch != "" {
					failures++
					if failures <= 5 {
						t.Errorf("program %d (seed %d): %s", i, seed, mismatch)
					}
					continue
				}
				agreed++
			}
			t.Logf("%s: %d generated (seed %d), %d accepted by the kernel, %d agree", kind.name, n, seed, accepted, agreed)
			for r, c := range reasons {
				t.Logf("  rejected %3d: %s", c, r)
			}
			// The generator only writes what the verifier accepts; many
			// rejections mean it drifted and the test is comparing little.
			if accepted < n*9/10 {
				t.Errorf("the kernel rejected %d of %d generated programs", n-accepted, n)
			}
		})
	}
}

// The generated programs' context: diffIn input bytes the program reads
// and may overwrite, then one 8-byte output slot per register.
const (
	diffIn    = 64
	diffStack = 64 // bytes of stack the programs use, all initialised first
)

// diffRegs are the registers the generated code computes with; r6 keeps
// the context pointer and r10 is the frame pointer.
var diffRegs = []uint8{0, 1, 2, 3, 4, 5, 7, 8, 9}

type diffItem struct {
	raw    []byte // one or two slots; a branch's offset is patched later
	target int    // for branches, the index of the item jumped to
	branch bool
}

type diffGen struct {
	r        *rand.Rand
	branches bool
	items    []diffItem
}

func (g *diffGen) emit(raw ...[]byte) {
	for _, b := range raw {
		g.items = append(g.items, diffItem{raw: b})
	}
}

func (g *diffGen) reg() uint8 { return diffRegs[g.r.IntN(len(diffRegs))] }

// imm is a 32-bit immediate biased to edge values.
func (g *diffGen) imm() int32 {
	switch g.r.IntN(6) {
	case 0:
		return int32(g.r.IntN(33)) - 16
	case 1:
		edges := []int32{0, 1, -1, 0x7fffffff, -0x80000000, 0xff, 0x80, 0xffff, 0x8000, -0x8000, 63, 64, 32, 31}
		return edges[g.r.IntN(len(edges))]
	default:
		return int32(g.r.Uint32())
	}
}

// memOff is an offset of an access of size n aligned to n inside the
// input bytes (the kernel requires aligned context accesses).
func (g *diffGen) memOff(n int) int16 { return int16(g.r.IntN(diffIn/n) * n) }

var diffSizes = []struct {
	n    int
	code uint8
}{{1, 0x10}, {2, 0x08}, {4, 0x00}, {8, 0x18}}

// program returns the code and the input context.
func (g *diffGen) program() ([]byte, []byte) {
	mem := make([]byte, diffIn+8*len(diffRegs))
	for i := range diffIn {
		switch g.r.IntN(4) {
		case 0:
			mem[i] = 0
		case 1:
			mem[i] = 0xff
		default:
			mem[i] = byte(g.r.Uint32())
		}
	}
	// Prologue: keep the context, initialise the stack and every register.
	g.emit(diffRaw(0xbf, 6, 1, 0, 0))
	for off := 8; off <= diffStack; off += 8 {
		g.emit(diffRaw(0x7a, 10, 0, int16(-off), g.imm()))
	}
	for _, r := range diffRegs {
		if g.r.IntN(4) == 0 {
			g.emit(g.lddw(r))
		} else {
			g.emit(g.load(r))
		}
	}
	body := 20 + g.r.IntN(60)
	start := len(g.items)
	for range body {
		if g.branches && g.r.IntN(5) == 0 {
			g.items = append(g.items, g.branch())
			continue
		}
		g.emit(g.op()...)
	}
	end := len(g.items)
	// Branches target an item between themselves and the epilogue.
	for i := start; i < end; i++ {
		if g.items[i].branch {
			g.items[i].target = i + 1 + g.r.IntN(end-i)
		}
	}
	// Epilogue: store every register into the output slots, r0 = a hash.
	for i, r := range diffRegs {
		g.emit(diffRaw(0x7b, 6, r, int16(diffIn+8*i), 0))
	}
	for _, r := range diffRegs[1:] {
		g.emit(diffRaw(0x27, 0, 0, 0, 0x01000193), diffRaw(0xaf, 0, r, 0, 0))
	}
	g.emit(diffRaw(0xbf, 1, 0, 0, 0), diffRaw(0x77, 1, 0, 0, 32), diffRaw(0xaf, 0, 1, 0, 0), diffRaw(0x95, 0, 0, 0, 0))

	// Lay out slots and patch branch offsets.
	slot := make([]int, len(g.items)+1)
	for i, it := range g.items {
		slot[i+1] = slot[i] + len(it.raw)/8
	}
	var code []byte
	for i, it := range g.items {
		if it.branch {
			binary.LittleEndian.PutUint16(it.raw[2:], uint16(int16(slot[it.target]-slot[i]-1)))
		}
		code = append(code, it.raw...)
	}
	return code, mem
}

func (g *diffGen) lddw(r uint8) []byte {
	v := g.r.Uint64()
	if g.r.IntN(2) == 0 {
		v = uint64(int64(g.imm()))
	}
	return append(diffRaw(0x18, r, 0, 0, int32(uint32(v))), diffRaw(0, 0, 0, 0, int32(uint32(v>>32)))...)
}

// load reads the context into r: ldx b/h/w/dw or the sign-extending forms.
func (g *diffGen) load(r uint8) []byte {
	s := diffSizes[g.r.IntN(4)]
	mode := uint8(0x60)
	if s.n < 8 && g.r.IntN(3) == 0 {
		mode = 0x80 // MEMSX
	}
	return diffRaw(0x01|mode|s.code, r, 6, g.memOff(s.n), 0)
}

// op is one non-branch operation (one item, lddw is two slots).
func (g *diffGen) op() [][]byte {
	dst, src := g.reg(), g.reg()
	switch k := g.r.IntN(100); {
	case k < 55: // binary ALU
		class := uint8(0x07)
		width := int32(64)
		if g.r.IntN(2) == 0 {
			class, width = 0x04, 32
		}
		ops := []uint8{0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0}
		op := ops[g.r.IntN(len(ops))]
		var off int16
		if (op == 0x30 || op == 0x90) && g.r.IntN(2) == 0 {
			off = 1 // sdiv, smod
		}
		if g.r.IntN(2) == 0 {
			if op == 0xb0 && g.r.IntN(3) == 0 { // movsx
				offs := []int16{8, 16, 32}
				if width == 32 {
					offs = offs[:2]
				}
				off = offs[g.r.IntN(len(offs))]
			}
			return [][]byte{diffRaw(class|0x08|op, dst, src, off, 0)}
		}
		imm := g.imm()
		switch op {
		case 0x60, 0x70, 0xc0:
			imm = int32(g.r.IntN(int(width)))
		case 0x30, 0x90:
			for imm == 0 {
				imm = g.imm()
			}
		}
		return [][]byte{diffRaw(class|op, dst, 0, off, imm)}
	case k < 60: // neg
		if g.r.IntN(2) == 0 {
			return [][]byte{diffRaw(0x87, dst, 0, 0, 0)}
		}
		return [][]byte{diffRaw(0x84, dst, 0, 0, 0)}
	case k < 70: // le, be, bswap
		widths := []int32{16, 32, 64}
		ops := []uint8{0xd4, 0xdc, 0xd7}
		return [][]byte{diffRaw(ops[g.r.IntN(3)], dst, 0, 0, widths[g.r.IntN(3)])}
	case k < 78:
		return [][]byte{g.load(dst)}
	case k < 84: // store into the input bytes
		s := diffSizes[g.r.IntN(4)]
		return [][]byte{diffRaw(0x63|s.code, 6, src, g.memOff(s.n), 0)}
	case k < 89: // stack store, register or immediate
		s := diffSizes[g.r.IntN(4)]
		off := -int16(g.r.IntN(diffStack/s.n)*s.n + s.n)
		if g.r.IntN(2) == 0 {
			return [][]byte{diffRaw(0x62|s.code, 10, 0, off, g.imm())}
		}
		return [][]byte{diffRaw(0x63|s.code, 10, src, off, 0)}
	case k < 95: // stack load
		s := diffSizes[g.r.IntN(4)]
		off := -int16(g.r.IntN(diffStack/s.n)*s.n + s.n)
		mode := uint8(0x60)
		if s.n < 8 && g.r.IntN(3) == 0 {
			mode = 0x80
		}
		return [][]byte{diffRaw(0x01|mode|s.code, dst, 10, off, 0)}
	default:
		return [][]byte{g.lddw(dst)}
	}
}

// branch is a conditional forward jump (JMP or JMP32, register or
// immediate), or now and then a "ja +0": an unconditional jump over code
// would leave it unreachable, which the kernel's CFG check refuses.
func (g *diffGen) branch() diffItem {
	if g.r.IntN(20) == 0 {
		return diffItem{raw: diffRaw(0x05, 0, 0, 0, 0)}
	}
	conds := []uint8{0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0}
	class := uint8(0x05)
	if g.r.IntN(2) == 0 {
		class = 0x06
	}
	op := class | conds[g.r.IntN(len(conds))]
	if g.r.IntN(2) == 0 {
		return diffItem{raw: diffRaw(op|0x08, g.reg(), g.reg(), 0, 0), branch: true}
	}
	return diffItem{raw: diffRaw(op, g.reg(), 0, 0, g.imm()), branch: true}
}
