package jit_test

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"

	"github.com/wagglebpf/waggle/vm"
	"github.com/wagglebpf/waggle/vm/jit"
)

// Inlined array map lookups (jitabi.ArrayMap): programs that look up keys
// in plain arrays (hits, keys past the end, key pointers that no region
// holds, keys in mem and in a caller's frame), in a hash map and a per-CPU
// array (which stay helper calls), run in both engines with several
// helper tables, comparing r0, steps, errors, memory and map contents.

type arrayMapFixture struct {
	maps  map[string]vm.Map
	names []string
}

func newArrayMapFixture(t *testing.T) *arrayMapFixture {
	t.Helper()
	specs := []vm.MapSpec{
		{Name: "arr", Type: vm.Array, KeySize: 4, ValueSize: 12, MaxEntries: 5},
		{Name: "arr2", Type: vm.Array, KeySize: 4, ValueSize: 8, MaxEntries: 3},
		{Name: "one", Type: vm.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1},
		{Name: "ro", Type: vm.Array, KeySize: 4, ValueSize: 8, MaxEntries: 2, Flags: vm.FlagRdonlyProg},
		{Name: "hash", Type: vm.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8},
		{Name: "pcpu", Type: vm.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 4, CPUs: 2},
	}
	f := &arrayMapFixture{maps: map[string]vm.Map{}}
	for _, s := range specs {
		m, err := vm.NewMap(s)
		if err != nil {
			t.Fatal(err)
		}
		f.maps[s.Name] = m
		f.names = append(f.names, s.Name)
	}
	return f
}

// reset gives every map known contents.
func (f *arrayMapFixture) reset(t *testing.T) {
	t.Helper()
	for _, name := range f.names {
		m := f.maps[name]
		s := m.Spec()
		n := s.MaxEntries
		if s.Type == vm.Hash {
			// Keys 0-2 present, the rest absent; the programs insert
			// and delete nothing, so the values stay where they are.
			n = 3
		}
		for k := range n {
			var key [4]byte
			binary.LittleEndian.PutUint32(key[:], k)
			v := make([]byte, len(mustLookupSize(m)))
			for i := range v {
				v[i] = byte(k*16 + uint32(i) + 1)
			}
			if err := m.Update(key[:], v, vm.UpdateAny); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func mustLookupSize(m vm.Map) []byte {
	s := m.Spec()
	if s.Type == vm.PerCPUArray {
		return make([]byte, (int(s.ValueSize)+7)&^7*s.CPUs)
	}
	return make([]byte, s.ValueSize)
}

func (f *arrayMapFixture) dump() string {
	var b strings.Builder
	for _, name := range f.names {
		var entries []string
		_ = f.maps[name].Iterate(func(k, v []byte) bool {
			entries = append(entries, fmt.Sprintf(" %x=%x", k, v))
			return true
		})
		sort.Strings(entries) // hash order varies
		fmt.Fprintf(&b, "%s:%s\n", name, strings.Join(entries, ""))
	}
	return b.String()
}

// lookupProg looks up a key in mapName and folds r0 and r1-r5 after the
// call into its result; a hit is read and written through. keySrc: 0 the
// key (mem[0:4]) copied to the stack; 1 mem itself; 2 the pointer in
// mem[8:16]; 3 4 bytes at r10-2 (straddling the top of the stack); 4 the
// stack key, looked up from a subprogram.
func lookupProg(mapName string, keySrc int) asm.Instructions {
	insns := asm.Instructions{
		asm.LoadMem(asm.R6, asm.R1, 0, asm.Word),
		asm.StoreMem(asm.RFP, -4, asm.R6, asm.Word),
	}
	switch keySrc {
	case 0, 4:
		insns = append(insns, asm.Mov.Reg(asm.R2, asm.RFP), asm.Add.Imm(asm.R2, -4))
	case 1:
		insns = append(insns, asm.Mov.Reg(asm.R2, asm.R1))
	case 2:
		insns = append(insns, asm.LoadMem(asm.R2, asm.R1, 8, asm.DWord))
	case 3:
		insns = append(insns, asm.Mov.Reg(asm.R2, asm.RFP), asm.Add.Imm(asm.R2, -2))
	}
	insns = append(insns,
		asm.Mov.Imm(asm.R3, 33),
		asm.Mov.Imm(asm.R4, 44),
		asm.Mov.Imm(asm.R5, 55),
	)
	if keySrc == 4 {
		insns = append(insns, asm.Call.Label("sub"))
	} else {
		insns = append(insns,
			asm.LoadMapPtr(asm.R1, 0).WithReference(mapName),
			asm.FnMapLookupElem.Call(),
		)
	}
	insns = append(insns,
		asm.Mov.Reg(asm.R9, asm.R0),
		asm.Add.Reg(asm.R0, asm.R1),
		asm.Add.Reg(asm.R0, asm.R2),
		asm.Add.Reg(asm.R0, asm.R3),
		asm.Add.Reg(asm.R0, asm.R4),
		asm.Add.Reg(asm.R0, asm.R5),
		asm.JEq.Imm(asm.R9, 0, "out"),
		asm.LoadMem(asm.R7, asm.R9, 0, asm.Word),
		asm.StoreImm(asm.R9, 4, 0x5555, asm.Word),
		asm.Xor.Reg(asm.R0, asm.R7),
		asm.Return().WithSymbol("out"),
	)
	if keySrc == 4 {
		insns = append(insns,
			asm.LoadMapPtr(asm.R1, 0).WithReference(mapName).WithSymbol("sub"),
			asm.FnMapLookupElem.Call(),
			asm.Return(),
		)
	}
	return insns
}

// loopProg looks keys 0-7 up in arr and arr2 in turn, counting in each
// value found and summing what it reads.
func loopProg() asm.Instructions {
	return asm.Instructions{
		asm.Mov.Imm(asm.R6, 0),
		asm.Mov.Imm(asm.R7, 0),
		asm.StoreMem(asm.RFP, -4, asm.R6, asm.Word).WithSymbol("loop"),
		asm.LoadMapPtr(asm.R1, 0).WithReference("arr"),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "second"),
		asm.LoadMem(asm.R8, asm.R0, 8, asm.Word),
		asm.Add.Reg(asm.R7, asm.R8),
		asm.Add.Imm(asm.R8, 1),
		asm.StoreMem(asm.R0, 8, asm.R8, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference("arr2").WithSymbol("second"),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "next"),
		asm.LoadMem(asm.R8, asm.R0, 0, asm.DWord),
		asm.Add.Reg(asm.R7, asm.R8),
		asm.Add.Imm(asm.R6, 1).WithSymbol("next"),
		asm.JLT.Imm(asm.R6, 8, "loop"),
		asm.Mov.Reg(asm.R0, asm.R7),
		asm.Return(),
	}
}

func TestArrayMapLookupInlined(t *testing.T) {
	requireJIT(t)
	f := newArrayMapFixture(t)

	var interpCalls, jitCalls int
	counting := func(n *int) map[int32]vm.HelperFunc {
		h := vm.MapHelpers()
		orig := h[1]
		h[1] = func(env *vm.Env, a [5]uint64) (uint64, error) {
			*n++
			return orig(env, a)
		}
		return h
	}
	helperSets := map[string]func(interp bool) map[int32]vm.HelperFunc{
		"map helpers": func(bool) map[int32]vm.HelperFunc { return vm.MapHelpers() },
		"none":        func(bool) map[int32]vm.HelperFunc { return nil },
		"replaced": func(bool) map[int32]vm.HelperFunc {
			h := vm.MapHelpers()
			h[1] = func(env *vm.Env, a [5]uint64) (uint64, error) { return a[0] ^ a[1], nil }
			return h
		},
		"wrapped": func(interp bool) map[int32]vm.HelperFunc {
			if interp {
				return counting(&interpCalls)
			}
			return counting(&jitCalls)
		},
	}

	type prog struct {
		name string
		p    *vm.Program
	}
	var progs []prog
	for _, name := range f.names {
		for keySrc := range 5 {
			progs = append(progs, prog{fmt.Sprintf("%s/key%d", name, keySrc), mustLoad(t, lookupProg(name, keySrc), f.maps)})
		}
	}
	progs = append(progs, prog{"loop", mustLoad(t, loopProg(), f.maps)})
	// r1 not a map at all.
	progs = append(progs, prog{"not a map", mustLoad(t, asm.Instructions{
		asm.LoadMapPtr(asm.R1, 0).WithReference("arr"),
		asm.Mov.Imm(asm.R1, 12345),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.StoreImm(asm.RFP, -4, 0, asm.Word),
		asm.FnMapLookupElem.Call(),
		asm.Return(),
	}, f.maps)})

	keys := []uint32{0, 1, 2, 3, 4, 5, 0x7fffffff, 0x80000000, 0xffffffff}
	ptrs := []uint64{0, 0xdeadbeef, vm.MemAddr + 4, vm.MemAddr + 14, 0x10000000 + 8*512 - 4}

	runOne := func(p *vm.Program, mem []byte, opts vm.RunOptions, e vm.Engine, helpers func(bool) map[int32]vm.HelperFunc) (outcome, string) {
		f.reset(t)
		opts.Helpers = helpers(e == vm.Interpreter)
		o := run(p, mem, opts, e)
		return o, f.dump()
	}
	n := 0
	for _, pr := range progs {
		for hname, helpers := range helperSets {
			for _, cpu := range []int{0, 1} {
				for ki, key := range keys {
					ptr := ptrs[ki%len(ptrs)]
					mem := make([]byte, 16)
					binary.LittleEndian.PutUint32(mem, key)
					binary.LittleEndian.PutUint64(mem[8:], ptr)
					opts := vm.RunOptions{CPU: cpu, MaxSteps: 1 << 16}
					for _, blind := range []bool{false, true} {
						var c *jit.Code
						if blind {
							var err error
							if c, err = jit.Compile(pr.p, jit.Options{ConstantBlinding: true}); err != nil {
								t.Fatal(err)
							}
						}
						interpCalls, jitCalls = 0, 0
						i, idump := runOne(pr.p, mem, opts, vm.Interpreter, helpers)
						j, jdump := runOne(pr.p, mem, opts, vm.JIT, helpers)
						if c != nil {
							c.Close()
						}
						n++
						what := fmt.Sprintf("%s, helpers %s, cpu %d, key %#x, ptr %#x, blind %v", pr.name, hname, cpu, key, ptr, blind)
						if i.r0 != j.r0 || i.steps != j.steps || i.err != j.err || string(i.mem) != string(j.mem) {
							t.Fatalf("%s: engines disagree\ninterpreter: %v\njit:         %v", what, i, j)
						}
						if idump != jdump {
							t.Fatalf("%s: maps differ\ninterpreter:\n%sjit:\n%s", what, idump, jdump)
						}
						if interpCalls != jitCalls {
							t.Fatalf("%s: a wrapped map_lookup_elem ran %d times in the interpreter, %d in the JIT", what, interpCalls, jitCalls)
						}
					}
				}
			}
		}
	}
	t.Logf("%d runs agree", n)
}

// TestArrayMapLookupListing checks that both back ends inline lookups for
// programs with array maps, and only for them.
func TestArrayMapLookupListing(t *testing.T) {
	f := newArrayMapFixture(t)
	for _, arch := range []string{"amd64", "arm64"} {
		for _, c := range []struct {
			m    string
			want bool
		}{{"arr", true}, {"one", true}, {"hash", false}, {"pcpu", false}} {
			p := mustLoad(t, lookupProg(c.m, 0), map[string]vm.Map{c.m: f.maps[c.m]})
			s, err := jit.Listing(p, arch, jit.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(s, "inline map_lookup_elem"); got != c.want {
				t.Errorf("%s, %s: inlined %v, want %v", arch, c.m, got, c.want)
			}
		}
	}
}

// BenchmarkArrayMapLookup runs loopProg (16 array lookups a run) in the
// JIT with vm.MapHelpers (lookups inlined) and with a wrapped
// map_lookup_elem (every lookup an exit to Go, as before inlining).
func BenchmarkArrayMapLookup(b *testing.B) {
	requireJIT(b)
	arr, _ := vm.NewMap(vm.MapSpec{Name: "arr", Type: vm.Array, KeySize: 4, ValueSize: 12, MaxEntries: 5})
	arr2, _ := vm.NewMap(vm.MapSpec{Name: "arr2", Type: vm.Array, KeySize: 4, ValueSize: 8, MaxEntries: 3})
	p, err := vm.LoadInstructionsWithMaps(loopProg(), map[string]vm.Map{"arr": arr, "arr2": arr2})
	if err != nil {
		b.Fatal(err)
	}
	wrapped := vm.MapHelpers()
	orig := wrapped[1]
	wrapped[1] = func(env *vm.Env, a [5]uint64) (uint64, error) { return orig(env, a) }
	for _, c := range []struct {
		name    string
		helpers map[int32]vm.HelperFunc
	}{{"inline", vm.MapHelpers()}, {"helper-exit", wrapped}} {
		b.Run(c.name, func(b *testing.B) {
			opts := vm.RunOptions{Engine: vm.JIT, Helpers: c.helpers}
			for b.Loop() {
				if _, err := p.Execute(nil, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
