package jit_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/internal/conformance"
	"github.com/wagglebpf/waggle/vm"
	"github.com/wagglebpf/waggle/vm/jit"
)

// Tests of the arm64 back end. The ones that run code need an arm64
// machine (or qemu-aarch64: see arm64_qemu_test.go, which runs this
// package's tests that way on other hosts); the listing test runs
// everywhere.

func requireARM64(t *testing.T) {
	t.Helper()
	if runtime.GOARCH != "arm64" {
		t.Skipf("runs arm64 code; this is %s (arm64_qemu_test.go runs it under qemu-aarch64)", runtime.GOARCH)
	}
	if !jit.Supported() {
		t.Fatalf("the arm64 JIT is not supported on %s/%s", runtime.GOOS, runtime.GOARCH)
	}
}

// skipUnderQEMU skips tests that do not run arm64 code when the package's
// tests run under qemu-aarch64 (arm64_qemu_test.go), since the host runs
// them anyway and emulation is slow.
func skipUnderQEMU(t *testing.T) {
	if os.Getenv("WAGGLE_UNDER_QEMU") == "1" {
		t.Skip("generates code without running it: the host runs this test")
	}
}

// a64Outcome is everything a run produces that the engines must agree on.
type a64Outcome struct {
	r0    uint64
	steps uint64
	mem   []byte
	err   string
}

func a64Run(p *vm.Program, mem []byte, offset int, opts vm.RunOptions, e vm.Engine) a64Outcome {
	// offset places mem at a chosen host alignment.
	buf := make([]byte, len(mem)+offset)
	m := buf[offset:]
	copy(m, mem)
	opts.Engine = e
	res, err := p.Execute(m, opts)
	o := a64Outcome{r0: res.R0, steps: res.Steps, mem: m}
	if err != nil {
		o.err = err.Error()
		var re *vm.RunError
		if errors.As(err, &re) {
			o.err += fmt.Sprintf(" [pc %d addr %#x size %d]", re.PC, re.Addr, re.Size)
		}
	}
	return o
}

func (o a64Outcome) String() string {
	return fmt.Sprintf("r0 %#x steps %d err %q\nmem % x", o.r0, o.steps, o.err, o.mem)
}

// a64Compare runs p in both engines, with and without constant
// blinding, and describes any difference.
func a64Compare(t *testing.T, p *vm.Program, mem []byte, offset int, opts vm.RunOptions) string {
	t.Helper()
	want := a64Run(p, mem, offset, opts, vm.Interpreter)
	for _, blind := range []bool{false, true} {
		c, err := jit.Compile(p, jit.Options{ConstantBlinding: blind})
		if err != nil {
			t.Fatalf("compile: %v", err)
		}
		got := a64Run(p, mem, offset, opts, vm.JIT)
		c.Close()
		if got.r0 != want.r0 || got.steps != want.steps || got.err != want.err || !bytes.Equal(got.mem, want.mem) {
			return fmt.Sprintf("blinding %v:\ninterpreter: %v\njit:         %v", blind, want, got)
		}
	}
	return ""
}

func a64Listing(p *vm.Program) string {
	s, err := jit.Listing(p, "arm64", jit.Options{})
	if err != nil {
		return err.Error()
	}
	return s
}

// a64Asm assembles a program in the conformance suite's dialect.
func a64Load(t *testing.T, src string) *vm.Program {
	t.Helper()
	code, err := conformance.Assemble(src)
	if err != nil {
		t.Fatal(err)
	}
	p, err := vm.Load(code)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestARM64ListingEverywhere generates arm64 code for every conformance
// program, with and without blinding, on any host, and checks that every
// word of it decodes.
func TestARM64ListingEverywhere(t *testing.T) {
	skipUnderQEMU(t)
	dir, err := conformance.SuiteDir()
	if err != nil {
		t.Fatalf("the conformance suite is missing: %v", err)
	}
	files, err := conformance.SuiteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, path := range files {
		tc, err := conformance.ParseFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := vm.Load(tc.Code)
		if err != nil {
			continue
		}
		for _, blind := range []bool{false, true} {
			s, err := jit.Listing(p, "arm64", jit.Options{ConstantBlinding: blind})
			if err != nil {
				t.Fatalf("%s: %v", filepath.Base(path), err)
			}
			if strings.Contains(s, ".word") || strings.Contains(s, "(bad)") {
				t.Errorf("%s: undecodable code:\n%s", filepath.Base(path), s)
			}
			n++
		}
	}
	t.Logf("%d listings", n)
}

// TestARM64BlindingHidesImmediates checks on any host that constant
// blinding keeps the program's immediates out of the arm64 code: none of
// their 16-bit halves appears as an instruction operand.
func TestARM64BlindingHidesImmediates(t *testing.T) {
	skipUnderQEMU(t)
	p := a64Load(t, `
		mov %r0, 0x12345678
		add %r0, 0x2468ace
		lddw %r1, 0x1357924680abcdef
		and32 %r0, 0xff00ff
		jeq %r0, 0x7654321, out
		stw [%r10-4], 0x5a5a1234
		mul %r0, 0x3579bdf
	out:
		exit`)
	secrets := []string{"#0x5678", "#0x1234,", "#0x8ace", "#0x246", "#0xcdef", "#0x80ab", "#0x4680", "#0x1357", "#0xff00ff", "#0x4321", "#0x765", "#0x5a5a", "#0x9bdf", "#0x357"}
	plain, err := jit.Listing(p, "arm64", jit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	blinded, err := jit.Listing(p, "arm64", jit.Options{ConstantBlinding: true})
	if err != nil {
		t.Fatal(err)
	}
	var seen int
	for _, s := range secrets {
		if strings.Contains(plain, s) {
			seen++
		}
		if strings.Contains(blinded, s) {
			t.Errorf("blinded code contains %s:\n%s", s, blinded)
		}
	}
	if seen < len(secrets)/2 {
		t.Errorf("the unblinded code shows only %d of the immediates: the test does not test anything\n%s", seen, plain)
	}
}

// a64Helpers are the conformance helpers plus a few for the tests below.
func a64Helpers() map[int32]vm.HelperFunc {
	h := conformance.Helpers[*vm.Env, vm.HelperFunc]()
	// 100: a pure function of all five arguments.
	h[100] = func(_ *vm.Env, a [5]uint64) (uint64, error) {
		return a[0]*3 ^ a[1] + a[2]<<1 - a[3] ^ a[4]>>2, nil
	}
	// 101: a fresh writable 24-byte region holding r1 at offset 8.
	h[101] = func(env *vm.Env, a [5]uint64) (uint64, error) {
		b := make([]byte, 24)
		binary.LittleEndian.PutUint64(b[8:], a[0])
		return env.AddRegion("scratch", b, true)
	}
	// 102: an error.
	h[102] = func(*vm.Env, [5]uint64) (uint64, error) { return 0, errors.New("helper says no") }
	// 103: a read-only region of 16 bytes.
	h[103] = func(env *vm.Env, a [5]uint64) (uint64, error) {
		return env.AddRegion("rodata", bytes.Repeat([]byte{0xab}, 16), false)
	}
	return h
}

// TestARM64Directed runs hand-written programs that reach the paths the
// conformance suite does not: faults and their messages, budget
// exhaustion at every point of a run, deep and too-deep local calls, stack
// pointers passed down calls, helpers that add regions, errors, callx,
// atomics on misaligned and host-unaligned memory.
func TestARM64Directed(t *testing.T) {
	requireARM64(t)
	progs := map[string]string{
		"loop": `
			mov %r0, 0
			mov %r1, 100
		loop:
			add %r0, %r1
			sub %r1, 1
			jne %r1, 0, loop
			exit`,
		"calls": `
			mov %r6, 1
			stxdw [%r10-8], %r6
			mov %r1, %r10
			sub %r1, 8
			mov %r2, 5
			call local rec
			ldxdw %r1, [%r10-8]
			add %r0, %r1
			exit
		rec:
			# r1 points to a counter in the caller's frame; r2 is the depth left
			ldxdw %r3, [%r1]
			add %r3, %r2
			stxdw [%r1], %r3
			stxdw [%r10-16], %r2
			jeq %r2, 0, done
			mov %r6, %r1
			sub %r2, 1
			call local rec
			ldxdw %r2, [%r10-16]
			add %r0, %r2
			exit
		done:
			mov %r0, 7
			exit`,
		"too-deep": `
			mov %r0, 0
			call local f
			exit
		f:
			add %r0, 1
			call local f
			exit`,
		"oob-load-mem": `
			ldxw %r0, [%r1+60]
			exit`,
		"oob-store-stack": `
			stdw [%r10+0], 1
			exit`,
		"oob-load-below-frame": `
			ldxb %r0, [%r10-513]
			exit`,
		"caller-frame-via-r10": `
			mov %r0, 0
			stxdw [%r10-8], %r10
			call local f
			exit
		f:
			ldxdw %r0, [%r10+504]
			exit`,
		"null": `
			mov %r2, 0
			ldxdw %r0, [%r2]
			exit`,
		"regions": `
			mov %r1, 0x1234
			call 101
			mov %r6, %r0
			ldxdw %r0, [%r6+8]
			stxw [%r6+20], %r0
			ldxw %r1, [%r6+20]
			add %r0, %r1
			call 103
			ldxb %r1, [%r0+15]
			add %r0, %r1
			stb [%r6+23], 9
			ldxdw %r1, [%r6+16]
			add %r0, %r1
			exit`,
		"region-readonly-store": `
			call 103
			stb [%r0+1], 1
			exit`,
		"region-overrun": `
			call 101
			ldxdw %r0, [%r0+17]
			exit`,
		"helper-args": `
			mov %r1, 11
			mov %r2, 22
			mov %r3, 33
			mov %r4, 44
			mov %r5, 55
			mov %r6, 66
			call 100
			add %r0, %r1
			add %r0, %r5
			add %r0, %r6
			exit`,
		"helper-error": `
			call 102
			exit`,
		"helper-unknown": `
			call 999
			exit`,
		"callx": `
			mov %r1, 3
			mov %r2, 100
			callx %r2
			exit`,
		"unwind": `
			mov %r1, 0
			call 5
			mov %r0, 99
			exit`,
		"atomics-mem": `
			mov %r2, 5
			lock add [%r1+8], %r2
			lock fetch add [%r1+8], %r2
			lock xchg32 [%r1+16], %r2
			mov %r0, 0
			lock cmpxchg [%r1+24], %r2
			mov %r3, 0x0f0f
			lock fetch or32 [%r1+4], %r3
			lock fetch and [%r1+32], %r3
			lock fetch xor32 [%r1+36], %r3
			add %r0, %r2
			add %r0, %r3
			exit`,
		"atomic-misaligned": `
			mov %r2, 1
			lock add [%r1+4], %r2
			exit`,
		"atomic-oob": `
			mov %r2, 1
			lock add32 [%r1+48], %r2
			exit`,
	}
	mem := make([]byte, 48)
	for i := range mem {
		mem[i] = byte(i*37 + 1)
	}
	for name, src := range progs {
		p := a64Load(t, src)
		for _, offset := range []int{0, 1, 4} {
			opts := vm.RunOptions{Helpers: a64Helpers()}
			if d := a64Compare(t, p, mem, offset, opts); d != "" {
				t.Errorf("%s (mem at +%d): %s\n%s", name, offset, d, a64Listing(p))
			}
		}
		// The budget runs out at every possible point.
		full := a64Run(p, mem, 0, vm.RunOptions{Helpers: a64Helpers()}, vm.Interpreter)
		for steps := uint64(1); steps <= full.steps+1 && steps < 400; steps++ {
			opts := vm.RunOptions{Helpers: a64Helpers(), MaxSteps: steps}
			if d := a64Compare(t, p, mem, 0, opts); d != "" {
				t.Errorf("%s with a budget of %d: %s", name, steps, d)
				break
			}
		}
	}
}

// TestARM64Far checks a program whose code is too large for b.cond to
// reach out-of-line stubs at its end (more than 1 MiB), which the back
// end compiles with its exits inline.
func TestARM64Far(t *testing.T) {
	requireARM64(t)
	var b strings.Builder
	// The loop at the top is more than 1 MiB of code away from the
	// stubs at the end.
	b.WriteString("mov %r0, 0\nmov %r2, 3\nloop:\nldxw %r3, [%r10-4]\nstxw [%r1+0], %r3\nsub %r2, 1\njne %r2, 0, loop\n")
	for i := 0; i < 70000; i++ {
		fmt.Fprintf(&b, "lddw %%r1, %#x\nadd %%r0, %%r1\n", uint64(i)*0x9e3779b97f4a7c15)
	}
	b.WriteString("exit\n")
	p := a64Load(t, b.String())
	mem := make([]byte, 8)
	for _, steps := range []uint64{1 << 22, 6} {
		if d := a64Compare(t, p, mem, 0, vm.RunOptions{MaxSteps: steps}); d != "" {
			t.Fatalf("budget %d: %s", steps, d)
		}
	}
	mem = mem[:2] // the store faults
	if d := a64Compare(t, p, mem, 0, vm.RunOptions{}); d != "" {
		t.Fatal(d)
	}
}

// a64Gen generates random programs over the whole ISA: every ALU op in
// both widths with edge-case immediates, loads and stores (sign-extending
// too) through r10 and through a mem pointer, in and out of bounds,
// atomics, load-acquire and store-release, forward and backward jumps of
// both widths, helper calls and local calls.
type a64Gen struct {
	r    *rand.Rand
	code []byte
	n    int
}

func (g *a64Gen) ins(op uint8, dst, src uint8, off int16, imm int32) {
	var b [8]byte
	b[0], b[1] = op, src<<4|dst
	binary.LittleEndian.PutUint16(b[2:], uint16(off))
	binary.LittleEndian.PutUint32(b[4:], uint32(imm))
	g.code = append(g.code, b[:]...)
	g.n++
}

func (g *a64Gen) lddw(dst uint8, v uint64) {
	g.ins(0x18, dst, 0, 0, int32(uint32(v)))
	g.ins(0, 0, 0, 0, int32(uint32(v>>32)))
}

var a64Edge = []int64{0, 1, -1, 2, 7, 8, 31, 32, 63, 64, 0xff, 0xfff, 0x1000, 0x1001, 0xffff, 0x10000, 0x7fffffff, -0x80000000, -4096, -4097, 0x55555555, 0x0ff0, 0x3fffffff, 12345678}

func (g *a64Gen) imm() int32 {
	if g.r.IntN(3) == 0 {
		return int32(g.r.Uint32())
	}
	return int32(a64Edge[g.r.IntN(len(a64Edge))])
}

func (g *a64Gen) val() uint64 {
	switch g.r.IntN(4) {
	case 0:
		return g.r.Uint64()
	case 1:
		return uint64(a64Edge[g.r.IntN(len(a64Edge))])
	case 2:
		return 1 << g.r.IntN(64)
	}
	return uint64(int64(int32(g.r.Uint32())))
}

// dst picks a writable register other than r6 (the mem pointer) and r9
// (the loop guard).
func (g *a64Gen) dst() uint8 { return []uint8{0, 1, 2, 3, 4, 5, 7, 8}[g.r.IntN(8)] }

func (g *a64Gen) src() uint8 { return uint8(g.r.IntN(11)) }

// memRef returns a base register and offset for an access of size
// bytes: mostly in bounds (stack frame or mem), sometimes not.
func (g *a64Gen) memRef(size int, memLen int) (uint8, int16) {
	switch g.r.IntN(10) {
	case 0: // anything near the edges
		if g.r.IntN(2) == 0 {
			return 10, int16(g.r.IntN(540) - 528)
		}
		return 6, int16(g.r.IntN(memLen+16) - 8)
	case 1, 2, 3, 4:
		return 10, int16(-size * (1 + g.r.IntN(512/size)))
	}
	return 6, int16(size * g.r.IntN(memLen/size))
}

func (g *a64Gen) body(n int, memLen int, funcs []int) {
	start := g.n
	for g.n-start < n {
		switch k := g.r.IntN(20); {
		case k < 8: // ALU
			cls := []uint8{0x04, 0x07}[g.r.IntN(2)]
			op := uint8(g.r.IntN(13)) << 4
			x := uint8(g.r.IntN(2)) << 3
			var off int16
			if (op == 0x30 || op == 0x90) && g.r.IntN(2) == 0 {
				off = 1 // sdiv, smod
			}
			if op == 0x80 {
				x = 0
			}
			if op == 0xb0 && x != 0 && g.r.IntN(3) == 0 {
				off = []int16{8, 16, 32}[g.r.IntN(3)]
				if cls == 0x04 && off == 32 {
					off = 16
				}
			}
			imm := g.imm()
			if (op == 0x60 || op == 0x70 || op == 0xc0) && x == 0 {
				imm &= 63
				if cls == 0x04 {
					imm &= 31
				}
			}
			g.ins(cls|op|x, g.dst(), g.src(), off, imm)
		case k == 8: // byte swaps
			op := []uint8{0xd4, 0xdc, 0xd7}[g.r.IntN(3)]
			g.ins(op, g.dst(), 0, 0, []int32{16, 32, 64}[g.r.IntN(3)])
		case k == 9:
			g.lddw(g.dst(), g.val())
		case k == 10 || k == 11: // loads
			size := []int{1, 2, 4, 8}[g.r.IntN(4)]
			sz := map[int]uint8{1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}[size]
			mode := uint8(0x60)
			if size < 8 && g.r.IntN(3) == 0 {
				mode = 0x80
			}
			base, off := g.memRef(size, memLen)
			g.ins(0x01|mode|sz, g.dst(), base, off, 0)
		case k == 12 || k == 13: // stores
			size := []int{1, 2, 4, 8}[g.r.IntN(4)]
			sz := map[int]uint8{1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}[size]
			base, off := g.memRef(size, memLen)
			if g.r.IntN(2) == 0 {
				g.ins(0x62|sz, base, 0, off, g.imm())
			} else {
				g.ins(0x63|sz, base, g.src(), off, 0)
			}
		case k == 14: // atomics
			size := []int{4, 8}[g.r.IntN(2)]
			sz := map[int]uint8{4: 0x00, 8: 0x18}[size]
			ops := []int32{0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1, 0x100, 0x110}
			op := ops[g.r.IntN(len(ops))]
			if op >= 0x100 {
				size = []int{1, 2, 4, 8}[g.r.IntN(4)]
				sz = map[int]uint8{1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}[size]
			}
			base, off := g.memRef(size, memLen)
			if g.r.IntN(8) == 0 {
				off++ // misaligned
			}
			if op == 0x100 {
				g.ins(0xc3|sz, g.dst(), base, off, op)
			} else {
				g.ins(0xc3|sz, base, g.dst(), off, op)
			}
		case k == 15 || k == 16: // conditional jumps, mostly forward
			cls := []uint8{0x05, 0x06}[g.r.IntN(2)]
			op := []uint8{0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0}[g.r.IntN(11)]
			x := uint8(g.r.IntN(2)) << 3
			off := int16(g.r.IntN(6))
			if g.r.IntN(6) == 0 {
				off = -int16(1 + g.r.IntN(min(g.n-start, 12)+1))
				// Back edges decrement r9, so loops end.
				g.ins(0x07, 9, 0, 0, -1)
				g.ins(0xa5, 9, 0, 2, 1) // jlt r9, 1, +2: skip the back edge
				off -= 2
			}
			if x != 0 {
				g.ins(cls|op|x, g.dst(), g.src(), off, 0)
			} else {
				g.ins(cls|op, g.dst(), 0, off, g.imm())
			}
		case k == 17: // helpers
			g.ins(0x85, 0, 0, 0, []int32{100, 2, 3}[g.r.IntN(3)])
		case k == 18 && len(funcs) > 0: // local calls, patched later
			g.ins(0x85, 0, 1, 0, int32(-1-g.r.IntN(len(funcs))))
		}
	}
}

// program returns a random program: setup, a body, an epilogue that
// stores r0-r9 into mem, and small functions for local calls.
func (g *a64Gen) program(memLen int) []byte {
	g.code, g.n = nil, 0
	g.ins(0xbf, 6, 1, 0, 0) // r6 = r1
	g.ins(0xb7, 9, 0, 0, int32(2+g.r.IntN(8)))
	for r := uint8(0); r <= 8; r++ {
		if r != 6 && r != 1 {
			g.lddw(r, g.val())
		}
	}
	funcs := []int{0, 0}
	g.body(30+g.r.IntN(40), memLen, funcs)
	g.ins(0x05, 0, 0, 0, 0) // ja +0: a jump target for forward jumps running off the body
	for i := 0; i < 6; i++ {
		g.ins(0x05, 0, 0, 0, 0)
	}
	for r := uint8(0); r <= 8; r++ {
		g.ins(0x7b, 6, r, int16(8*r), 0) // stxdw [r6+8r], rr
	}
	g.ins(0x95, 0, 0, 0, 0)
	// Two functions; each runs a little body and returns.
	for i := range funcs {
		funcs[i] = g.n
		g.body(5+g.r.IntN(10), memLen, nil)
		for j := 0; j < 6; j++ {
			g.ins(0x05, 0, 0, 0, 0)
		}
		g.ins(0x95, 0, 0, 0, 0)
	}
	// Resolve local calls (imm -1 or -2 marks the function) and clamp
	// jumps that would leave their section.
	for pc := 0; pc < g.n; pc++ {
		b := g.code[pc*8:]
		if b[0] == 0x18 {
			pc++
			continue
		}
		if b[0] == 0x85 && b[1]>>4 == 1 {
			f := funcs[-1-int32(binary.LittleEndian.Uint32(b[4:]))]
			binary.LittleEndian.PutUint32(b[4:], uint32(int32(f-pc-1)))
		}
	}
	return g.code
}

// TestARM64Differential runs random programs in the interpreter and the
// JIT and requires identical results: r0, instruction count, memory and
// error (text, pc and address). WAGGLE_JIT_DIFF_N sets how many (default
// 3000).
func TestARM64Differential(t *testing.T) {
	requireARM64(t)
	n := 3000
	if s := os.Getenv("WAGGLE_JIT_DIFF_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	if testing.Short() {
		n /= 10
	}
	g := &a64Gen{r: rand.New(rand.NewPCG(7, 9))}
	const memLen = 96
	var ran, faults int
	for i := 0; i < n; i++ {
		code := g.program(memLen)
		p, err := vm.Load(code)
		if err != nil {
			continue // a generated jump into an lddw, or out of the program
		}
		mem := make([]byte, memLen)
		for j := range mem {
			mem[j] = byte(g.r.Uint32())
		}
		opts := vm.RunOptions{Helpers: a64Helpers(), MaxSteps: uint64(200 + g.r.IntN(2000))}
		want := a64Run(p, mem, 0, opts, vm.Interpreter)
		if want.err != "" {
			faults++
		}
		if d := a64Compare(t, p, mem, i%3, opts); d != "" {
			t.Fatalf("program %d: %s\n%s", i, d, a64Listing(p))
		}
		ran++
	}
	t.Logf("%d random programs agree (%d of them stop with an error)", ran, faults)
	if ran < n/2 {
		t.Errorf("only %d of %d generated programs loaded", ran, n)
	}
}
