package codegen

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/vm"
)

// The hist and lhist bucket code, run in the VM over values around every
// power of two, gives the buckets of bpftrace's numbering.
func TestBucketInVM(t *testing.T) {
	log2 := func(v int64) int64 {
		switch {
		case v < 0:
			return 0
		case v == 0:
			return 1
		}
		n := int64(2)
		for v > 1 {
			v >>= 1
			n++
		}
		return n
	}
	lhist := &ast.Type{Kind: ast.KindLHist, Min: -100, Max: 1000, Step: 7}
	lin := func(v int64) int64 {
		n := (lhist.Max - lhist.Min + lhist.Step - 1) / lhist.Step
		switch {
		case v < lhist.Min:
			return 0
		case v >= lhist.Max:
			return n + 1
		}
		return (v-lhist.Min)/lhist.Step + 1
	}
	values := []int64{math.MinInt64, -1, 0, 1, math.MaxInt64, -101, -100, -99, 999, 1000, 1001, 6, 7, 8}
	for s := 1; s < 63; s++ {
		values = append(values, 1<<s-1, 1<<s, 1<<s+1)
	}
	for _, tc := range []struct {
		typ *ast.Type
		ref func(int64) int64
	}{{&ast.Type{Kind: ast.KindHist}, log2}, {lhist, lin}} {
		for _, reg := range []asm.Register{asm.R1, asm.R7} {
			g := &gen{alias: map[string]string{}}
			g.emit(asm.LoadMem(reg, asm.R1, 0, asm.DWord))
			g.bucket(tc.typ, reg, -8)
			g.emit(asm.LoadMem(asm.R0, asm.RFP, -8, asm.DWord), asm.Return())
			for i, in := range g.insns {
				if target, ok := g.alias[in.Reference()]; ok {
					g.insns[i] = in.WithReference(target)
				}
			}
			p, err := vm.LoadInstructions(g.insns)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range values {
				mem := binary.NativeEndian.AppendUint64(nil, uint64(v))
				got, err := p.Run(mem, vm.RunOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if int64(got) != tc.ref(v) {
					t.Errorf("%v bucket of %d in %v: %d, want %d", tc.typ.Kind, v, reg, got, tc.ref(v))
				}
			}
		}
	}
}

// Keys and records written whole are not cleared first, an aggregation's
// first value is as large as the map's values, and a constant that fits
// 32 bits takes one slot.
func TestNoRedundantStores(t *testing.T) {
	p := compile(t, `interval:s:1 { @c[pid] = count(); @p[comm] = count(); $x = pid > 5 ? -1 : 2; @s[$x] = comm; }`)
	for _, in := range insns(p, 0) {
		if in.OpCode == stImm(asm.RFP, 0, 0).OpCode && in.Constant == 0 {
			t.Errorf("a stack slot is cleared: %v\n%v", in, insns(p, 0))
		}
		if in.OpCode.IsDWordLoad() && in.Src == 0 {
			t.Errorf("a 64-bit load of a small constant: %v", in)
		}
	}
}

// The peephole pass parks a helper's result from R0 directly, drops a
// reload of what was just stored, and lets the context stay in R1 when
// nothing reads it after a call.
func TestPeephole(t *testing.T) {
	g := &gen{alias: map[string]string{}}
	g.emit(
		asm.Mov.Reg(ctxReg, asm.R1),
		asm.LoadMem(asm.R7, ctxReg, 8, asm.DWord),
		asm.StoreMem(asm.RFP, -8, asm.R7, asm.DWord),
		asm.FnKtimeGetNs.Call(),
		asm.Mov.Reg(asm.R7, asm.R0),
		asm.StoreMem(asm.RFP, -16, asm.R7, asm.DWord),
		asm.LoadMem(asm.R8, asm.RFP, -16, asm.DWord),
		asm.Mov.Reg(asm.R0, asm.R8),
		asm.Return(),
	)
	g.pos = make([]ast.Span, len(g.insns))
	g.peephole(true)
	want := asm.Instructions{
		asm.LoadMem(asm.R7, asm.R1, 8, asm.DWord),
		asm.StoreMem(asm.RFP, -8, asm.R7, asm.DWord),
		asm.FnKtimeGetNs.Call(),
		asm.StoreMem(asm.RFP, -16, asm.R0, asm.DWord),
		asm.Mov.Reg(asm.R8, asm.R0),
		asm.Mov.Reg(asm.R0, asm.R8),
		asm.Return(),
	}
	if g.insns.String() != want.String() || len(g.pos) != len(g.insns) {
		t.Errorf("got\n%v\nwant\n%v", g.insns, want)
	}
	// A value still read later keeps its register.
	g = &gen{alias: map[string]string{}}
	g.emit(
		asm.FnKtimeGetNs.Call(),
		asm.Mov.Reg(asm.R7, asm.R0),
		asm.StoreMem(asm.RFP, -16, asm.R7, asm.DWord),
		asm.FnKtimeGetNs.Call(),
		asm.Mov.Reg(asm.R0, asm.R7),
		asm.Return(),
	)
	g.pos = make([]ast.Span, len(g.insns))
	before := g.insns.String()
	g.peephole(false)
	if g.insns.String() != before {
		t.Errorf("a live register was folded away:\n%v", g.insns)
	}
}
