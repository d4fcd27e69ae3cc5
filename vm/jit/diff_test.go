package jit_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/vm"
	"github.com/wagglebpf/waggle/vm/internal/fuzzhelpers"
)

// The differential tests run the same programs in the interpreter and
// the JIT and require exactly the same outcome: r0, memory, instruction
// count, and error text (same pc, same address).

// diffHelpers are FuzzRun's helpers (package vm), shared through
// fuzzhelpers.
func diffHelpers() map[int32]vm.HelperFunc { return fuzzhelpers.Helpers() }

func raw(op, dst, src uint8, off int16, imm int32) []byte {
	b := make([]byte, 8)
	b[0], b[1] = op, dst|src<<4
	binary.LittleEndian.PutUint16(b[2:], uint16(off))
	binary.LittleEndian.PutUint32(b[4:], uint32(imm))
	return b
}

// gen builds random programs: every ALU and jump form, loads, stores and
// atomics on mem, the stack and wild pointers, lddw, helper calls, local
// calls and loops.
type gen struct {
	r     *rand.Rand
	items [][]byte // one instruction each (lddw: 16 bytes)
	jumps map[int]int
}

func (g *gen) reg() uint8 { return uint8(g.r.IntN(10)) }

func (g *gen) src() uint8 {
	if g.r.IntN(12) == 0 {
		return 10
	}
	return g.reg()
}

func (g *gen) imm() int32 {
	switch g.r.IntN(6) {
	case 0:
		return 0
	case 1:
		return -1
	case 2:
		return -1 << 31
	case 3:
		return int32(g.r.IntN(64))
	}
	return int32(g.r.Uint32())
}

func (g *gen) emit(b []byte) { g.items = append(g.items, b) }

func (g *gen) op() {
	r := g.r
	switch r.IntN(16) {
	case 0, 1, 2, 3: // ALU
		cls := []uint8{0x04, 0x07}[r.IntN(2)]
		op := uint8(r.IntN(13)) << 4
		if op == 0x80 {
			g.emit(raw(cls|op, g.reg(), 0, 0, 0)) // neg
			return
		}
		if op == 0xd0 {
			widths := []int32{16, 32, 64}
			g.emit(raw(cls|op|uint8(r.IntN(2))<<3&^(cls&1<<3), g.reg(), 0, 0, widths[r.IntN(3)]))
			return
		}
		var off int16
		switch {
		case (op == 0x30 || op == 0x90) && r.IntN(2) == 0:
			off = 1
		case op == 0xb0 && r.IntN(3) == 0:
			off = []int16{8, 16, 32}[r.IntN(3)]
			if cls == 0x04 && off == 32 {
				off = 16
			}
			g.emit(raw(cls|op|0x08, g.reg(), g.src(), off, 0))
			return
		}
		if r.IntN(2) == 0 {
			g.emit(raw(cls|op, g.reg(), 0, off, g.imm()))
		} else {
			g.emit(raw(cls|op|0x08, g.reg(), g.src(), off, 0))
		}
	case 4: // lddw
		b := append(raw(0x18, g.reg(), 0, 0, int32(r.Uint32())), raw(0, 0, 0, 0, int32(r.Uint32()))...)
		if r.IntN(3) == 0 {
			binary.LittleEndian.PutUint32(b[4:], 0x20000000+uint32(r.IntN(64)))
			binary.LittleEndian.PutUint32(b[12:], 0)
		}
		g.emit(b)
	case 5, 6: // load
		sizes := []uint8{0x00, 0x08, 0x10, 0x18}
		mode := []uint8{0x60, 0x80}[r.IntN(2)]
		if mode == 0x80 && r.IntN(2) == 0 {
			mode = 0x60
		}
		base, off := g.base()
		size := sizes[r.IntN(4)]
		if mode == 0x80 && size == 0x18 {
			size = 0x00
		}
		g.emit(raw(0x01|mode|size, g.reg(), base, off, 0))
	case 7, 8: // store
		sizes := []uint8{0x00, 0x08, 0x10, 0x18}
		base, off := g.base()
		if r.IntN(2) == 0 {
			g.emit(raw(0x62|sizes[r.IntN(4)], base, 0, off, g.imm()))
		} else {
			g.emit(raw(0x63|sizes[r.IntN(4)], base, g.src(), off, 0))
		}
	case 9: // atomic
		ops := []int32{0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1, 0x100, 0x110}
		op := ops[r.IntN(len(ops))]
		size := []uint8{0x00, 0x18}[r.IntN(2)]
		if op >= 0x100 {
			size = []uint8{0x00, 0x08, 0x10, 0x18}[r.IntN(4)]
		}
		base, off := g.base()
		src := g.reg()
		if op == 0x100 {
			g.emit(raw(0xc3|size, g.reg(), base, off, op))
			return
		}
		g.emit(raw(0xc3|size, base, src, off, op))
	case 10: // helper call
		ids := []int32{0, 0, 0, 0, 0, 5, 3, 0, 0, 1, 2}
		if r.IntN(8) == 0 {
			g.emit(raw(0xb7, 5, 0, 0, int32(r.IntN(2))))
		}
		g.emit(raw(0x85, 0, 0, 0, ids[r.IntN(len(ids))]))
	case 11, 12: // forward conditional jump (patched later)
		op := uint8(1+r.IntN(13)) << 4
		if op == 0x80 || op == 0x90 || op == 0x0 {
			op = 0x10
		}
		cls := []uint8{0x05, 0x06}[r.IntN(2)]
		g.jumps[len(g.items)] = 1 + r.IntN(6)
		if r.IntN(2) == 0 {
			g.emit(raw(cls|op, g.src(), 0, 0, g.imm()))
		} else {
			g.emit(raw(cls|op|0x08, g.src(), g.src(), 0, 0))
		}
	case 13: // callx
		g.emit(raw(0xb7, 9, 0, 0, []int32{0, 5, 0, 4}[r.IntN(4)]))
		g.emit(raw(0x8d, 9, 0, 0, 0))
	default:
		g.emit(raw(0xb7|uint8(r.IntN(2))<<3, g.reg(), g.src(), 0, g.imm()))
	}
}

// base picks a base register and offset for a memory access: mostly
// inside mem (r1) or the stack (r10), sometimes anywhere.
func (g *gen) base() (uint8, int16) {
	switch g.r.IntN(40) {
	case 0:
		return 10, int16(-g.r.IntN(600))
	case 1:
		return g.reg(), int16(g.r.IntN(64))
	}
	if g.r.IntN(2) == 0 {
		return 10, int16(-8 * (1 + g.r.IntN(60)))
	}
	return 6, int16(g.r.IntN(8) * 8)
}

func slots(b []byte) int { return len(b) / 8 }

// program returns a random program and its memory.
func (g *gen) program() ([]byte, []byte) {
	g.items, g.jumps = nil, map[int]int{}
	r := g.r
	g.emit(raw(0xbf, 6, 1, 0, 0)) // r6 = mem
	for i := 0; i < 5; i++ {
		g.emit(raw(0xb7, uint8(i), 0, 0, g.imm()))
	}
	loop := -1
	n := 5 + r.IntN(40)
	for i := 0; i < n; i++ {
		if loop < 0 && r.IntN(20) == 0 {
			g.emit(raw(0xb7, 8, 0, 0, int32(1+r.IntN(20))))
			loop = len(g.items)
		}
		if r.IntN(25) == 0 {
			g.jumps[len(g.items)] = -1 // local call, to the function
			g.emit(raw(0x85, 0, 1, 0, 0))
			continue
		}
		g.op()
	}
	if loop >= 0 {
		g.emit(raw(0x17, 8, 0, 0, 1))
		g.jumps[len(g.items)] = loop - len(g.items) - 1000 // backward
		g.emit(raw(0x55, 8, 0, 0, 0))
	}
	g.emit(raw(0x95, 0, 0, 0, 0))
	fn := len(g.items)
	for i := 0; i < 1+r.IntN(6); i++ {
		if r.IntN(8) == 0 {
			g.jumps[len(g.items)] = -1 // recursion
			g.emit(raw(0x85, 0, 1, 0, 0))
			continue
		}
		g.op()
	}
	g.emit(raw(0x95, 0, 0, 0, 0))

	// Slot offsets, then jump targets.
	at := make([]int, len(g.items)+1)
	for i, it := range g.items {
		at[i+1] = at[i] + slots(it)
	}
	for i, d := range g.jumps {
		var t int
		switch {
		case d == -1:
			t = fn
		case d < -1:
			t = i + d + 1000
		default:
			t = min(i+1+d, len(g.items)-1)
		}
		rel := at[t] - at[i] - 1
		b := g.items[i]
		if b[0] == 0x85 {
			binary.LittleEndian.PutUint32(b[4:], uint32(int32(rel)))
		} else {
			binary.LittleEndian.PutUint16(b[2:], uint16(int16(rel)))
		}
	}
	var code []byte
	for _, it := range g.items {
		code = append(code, it...)
	}
	mem := make([]byte, 64+r.IntN(16))
	if r.IntN(10) == 0 {
		mem = mem[:r.IntN(64)]
	}
	for i := range mem {
		mem[i] = byte(r.Uint32())
	}
	return code, mem
}

func diffEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// TestDiffGenerated compares the engines on random programs
// (WAGGLE_JIT_DIFF_N of them, default 3000, seed WAGGLE_JIT_DIFF_SEED).
func TestDiffGenerated(t *testing.T) {
	requireJIT(t)
	n := diffEnv("WAGGLE_JIT_DIFF_N", 3000)
	seed := uint64(diffEnv("WAGGLE_JIT_DIFF_SEED", 1))
	g := &gen{r: rand.New(rand.NewPCG(seed, 7))}
	helpers := diffHelpers()
	var loaded, errs int
	kinds := map[string]int{}
	for i := 0; i < n; i++ {
		code, mem := g.program()
		p, err := vm.Load(code)
		if err != nil {
			continue
		}
		loaded++
		for _, steps := range []uint64{1 << 16, 1 + uint64(g.r.IntN(60))} {
			opts := vm.RunOptions{Helpers: helpers, MaxSteps: steps}
			if d := compare(p, mem, opts); d != "" {
				t.Fatalf("program %d (max steps %d) disagrees:\n%s\ncode: % x\nmem: % x", i, steps, d, code, mem)
			}
		}
		if o := run(p, mem, vm.RunOptions{Helpers: helpers, MaxSteps: 1 << 16}, vm.JIT); o.err != "" {
			errs++
			k := o.err
			if _, after, ok := strings.Cut(k, "vm: pc "); ok {
				_, k, _ = strings.Cut(after, ": ")
			}
			k, _, _ = strings.Cut(k, " at ")
			k, _, _ = strings.Cut(k, " of ")
			k, _, _ = strings.Cut(k, " id ")
			kinds[k]++
		}
	}
	t.Logf("%d programs loaded and agreed (%d ended with an error: %v)", loaded, errs, kinds)
	if loaded < n/2 {
		t.Errorf("only %d of %d generated programs loaded", loaded, n)
	}
}

// TestDiffFuzzCorpus runs vm's FuzzRun corpus and this package's FuzzJIT
// seeds through both engines.
func TestDiffFuzzCorpus(t *testing.T) {
	requireJIT(t)
	var files []string
	for _, dir := range []string{"../testdata/fuzz/FuzzRun", "testdata/fuzz/FuzzJIT"} {
		m, _ := filepath.Glob(filepath.Join(dir, "*"))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no corpus files")
	}
	for _, f := range files {
		code, mem, err := readCorpus(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		checkBoth(t, code, mem)
	}
	t.Logf("%d corpus entries agreed", len(files))
}

// FuzzJIT compiles and runs arbitrary bytecode in both engines; they
// must agree exactly, and neither may crash.
func FuzzJIT(f *testing.F) {
	g := &gen{r: rand.New(rand.NewPCG(2, 2))}
	for range 20 {
		code, mem := g.program()
		f.Add(code, mem)
	}
	f.Fuzz(func(t *testing.T, code, mem []byte) {
		if !jitSupported() {
			t.Skip("no JIT")
		}
		checkBoth(t, code, mem)
	})
}

func checkBoth(t *testing.T, code, mem []byte) {
	t.Helper()
	p, err := vm.Load(code)
	if err != nil {
		return
	}
	if d := compare(p, mem, vm.RunOptions{Helpers: diffHelpers(), MaxSteps: 1 << 14}); d != "" {
		t.Fatalf("engines disagree:\n%s\ncode: % x\nmem: % x", d, code, mem)
	}
}

// TestWriteSeeds writes generated programs as FuzzJIT seeds under
// testdata when WAGGLE_WRITE_SEEDS is set (how the committed seeds were
// made).
func TestWriteSeeds(t *testing.T) {
	if os.Getenv("WAGGLE_WRITE_SEEDS") == "" {
		t.Skip("set WAGGLE_WRITE_SEEDS=1 to rewrite testdata/fuzz/FuzzJIT")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzJIT")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	g := &gen{r: rand.New(rand.NewPCG(3, 3))}
	for i := range 24 {
		code, mem := g.program()
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(code)) + ")\n[]byte(" + strconv.Quote(string(mem)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
