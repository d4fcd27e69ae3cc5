package jit_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/vm"
	"github.com/wagglebpf/waggle/vm/jit"
)

// mapOutcome is what both engines must agree on for programs with maps.
func runMaps(t *testing.T, p *vm.Program, maps []vm.Map, mem []byte, e vm.Engine) (uint64, []byte, map[string]string, error) {
	t.Helper()
	mem = bytes.Clone(mem)
	h := vm.MapHelpers()
	for id, f := range vm.KernelHelpers(vm.HelperConfig{}) {
		h[id] = f
	}
	r0, err := p.Run(mem, vm.RunOptions{Helpers: h, Engine: e})
	state := map[string]string{}
	for _, m := range maps {
		m.Iterate(func(k, v []byte) bool {
			state[string(k)] = string(v)
			return true
		})
	}
	return r0, mem, state, err
}

func mustLoad(t *testing.T, insns asm.Instructions, maps map[string]vm.Map) *vm.Program {
	t.Helper()
	p, err := vm.LoadInstructionsWithMaps(insns, maps)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMapsTailCallsCallbacks runs programs that use maps (lookups whose
// value pointers are then written through), a tail call and a bpf_loop
// callback in both engines, and compares r0, memory and map contents.
func TestMapsTailCallsCallbacks(t *testing.T) {
	requireJIT(t)
	hash, err := vm.NewMap(vm.MapSpec{Name: "h", Type: vm.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	if err != nil {
		t.Fatal(err)
	}
	arr, err := vm.NewMap(vm.MapSpec{Name: "a", Type: vm.Array, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	if err != nil {
		t.Fatal(err)
	}
	progs, err := vm.NewMap(vm.MapSpec{Name: "p", Type: vm.ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 2})
	if err != nil {
		t.Fatal(err)
	}
	maps := map[string]vm.Map{"h": hash, "a": arr, "p": progs}

	// The tail call target: r0 = ctx[0] + 1000, and count in a[1].
	target := mustLoad(t, asm.Instructions{
		asm.LoadMem(asm.R6, asm.R1, 0, asm.Byte),
		asm.StoreImm(asm.R10, -4, 1, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference("a"),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
		asm.Add.Imm(asm.R1, 1),
		asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
		asm.Mov.Reg(asm.R0, asm.R6).WithSymbol("out"),
		asm.Add.Imm(asm.R0, 1000),
		asm.Return(),
	}, maps)
	if err := progs.(*vm.ProgramArrayMap).Set(0, target); err != nil {
		t.Fatal(err)
	}

	main := mustLoad(t, asm.Instructions{
		asm.Mov.Reg(asm.R9, asm.R1),
		// for i in 0..9: h[i&3] += i  (update then lookup and add)
		asm.Mov.Imm(asm.R7, 0),
		asm.StoreMem(asm.R10, -4, asm.R7, asm.Word).WithSymbol("loop"),
		asm.LoadMapPtr(asm.R1, 0).WithReference("h"),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.JNE.Imm(asm.R0, 0, "have"),
		asm.Mov.Imm(asm.R1, 0),
		asm.StoreMem(asm.R10, -16, asm.R1, asm.DWord),
		asm.LoadMapPtr(asm.R1, 0).WithReference("h"),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, -4),
		asm.Mov.Reg(asm.R3, asm.R10),
		asm.Add.Imm(asm.R3, -16),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnMapUpdateElem.Call(),
		asm.Ja.Label("loop"),
		asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord).WithSymbol("have"),
		asm.Add.Reg(asm.R1, asm.R7),
		asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
		asm.Add.Imm(asm.R7, 1),
		asm.JLT.Imm(asm.R7, 10, "loop"),
		// bpf_loop(5, cb, &ctx-on-stack, 0): cb adds its index to *ctx.
		asm.Mov.Imm(asm.R1, 7),
		asm.StoreMem(asm.R10, -24, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R1, 5),
		asm.Instruction{OpCode: asm.LoadImmOp(asm.DWord), Dst: asm.R2, Src: asm.PseudoFunc, Constant: -1}.WithReference("cb"),
		asm.Mov.Reg(asm.R3, asm.R10),
		asm.Add.Imm(asm.R3, -24),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnLoop.Call(),
		asm.LoadMem(asm.R8, asm.R10, -24, asm.DWord),
		asm.StoreMem(asm.R9, 8, asm.R8, asm.DWord),
		// tail call p[0] with the context
		asm.Mov.Reg(asm.R1, asm.R9),
		asm.LoadMapPtr(asm.R2, 0).WithReference("p"),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnTailCall.Call(),
		asm.Mov.Imm(asm.R0, 1),
		asm.Return(),
		// the callback
		asm.LoadMem(asm.R3, asm.R2, 0, asm.DWord).WithSymbol("cb"),
		asm.Add.Reg(asm.R3, asm.R1),
		asm.StoreMem(asm.R2, 0, asm.R3, asm.DWord),
		asm.Mov.Imm(asm.R0, 0),
		asm.Return(),
	}, maps)

	mem := make([]byte, 16)
	mem[0] = 42
	all := []vm.Map{hash, arr}
	r0i, memi, si, erri := runMaps(t, main, all, mem, vm.Interpreter)
	for _, m := range all { // start the JIT run from the same state
		m.Iterate(func(k, v []byte) bool { m.Delete(k); return true })
	}
	arr.Update([]byte{1, 0, 0, 0}, make([]byte, 8), 0)
	r0j, memj, sj, errj := runMaps(t, main, all, mem, vm.JIT)
	if erri != nil || errj != nil {
		t.Fatalf("errors: interpreter %v, jit %v", erri, errj)
	}
	if r0i != 1042 || r0j != r0i || !bytes.Equal(memi, memj) || len(si) != len(sj) {
		t.Fatalf("interpreter r0 %d mem % x maps %q\njit r0 %d mem % x maps %q", r0i, memi, si, r0j, memj, sj)
	}
	for k, v := range si {
		if sj[k] != v {
			t.Fatalf("map entry %q: interpreter %q, jit %q", k, v, sj[k])
		}
	}
	if got := binary.LittleEndian.Uint64(memj[8:]); got != 7+0+1+2+3+4 {
		t.Errorf("bpf_loop sum = %d", got)
	}
}

// TestLongRunDoesNotBlock runs a long native loop while another goroutine
// asks for garbage collections: native code must come back to Go often
// enough for them to finish, and the run must still count every
// instruction.
func TestLongRunDoesNotBlock(t *testing.T) {
	requireJIT(t)
	p := mustLoad(t, asm.Instructions{
		asm.Mov.Imm(asm.R0, 0),
		asm.LoadImm(asm.R1, 2_000_000_000, asm.DWord),
		asm.Add.Imm(asm.R0, 1).WithSymbol("l"),
		asm.JLT.Reg(asm.R0, asm.R1, "l"),
		asm.Return(),
	}, nil)
	done := make(chan struct{})
	var gcs int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			runtime.GC()
			gcs++
		}
	}()
	res, err := p.Execute(nil, vm.RunOptions{Engine: vm.JIT, MaxSteps: 1 << 40})
	close(done)
	wg.Wait()
	if err != nil || res.R0 != 2_000_000_000 || res.Steps != 3+2*2_000_000_000 {
		t.Fatalf("r0 %d steps %d err %v", res.R0, res.Steps, err)
	}
	// Native code that held the world would let the first GC finish only
	// after the run, and the loop would stop there: a second one shows
	// that collections completed while native code ran. (No time limit:
	// tests do not assert times, and under qemu everything is slow.)
	if gcs < 2 {
		t.Errorf("%d GCs completed during a run of %d instructions: native code blocks the collector", gcs, res.Steps)
	}
	t.Logf("%d GCs completed during a run of %d instructions", gcs, res.Steps)

	// The same loop against a small budget fails as the interpreter does.
	i, ei := p.Execute(nil, vm.RunOptions{MaxSteps: 1 << 20})
	j, ej := p.Execute(nil, vm.RunOptions{MaxSteps: 1 << 20, Engine: vm.JIT})
	if !errors.Is(ej, vm.ErrBudget) || ei.Error() != ej.Error() || i.Steps != j.Steps {
		t.Fatalf("budget: interpreter %v (%d steps), jit %v (%d steps)", ei, i.Steps, ej, j.Steps)
	}
}

// TestConcurrentRuns runs one compiled program from many goroutines.
func TestConcurrentRuns(t *testing.T) {
	requireJIT(t)
	p := mustLoad(t, asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.DWord),
		asm.Mov.Imm(asm.R0, 0),
		asm.Add.Reg(asm.R0, asm.R2).WithSymbol("l"),
		asm.Add.Imm(asm.R2, -1),
		asm.JNE.Imm(asm.R2, 0, "l"),
		asm.StoreMem(asm.R10, -8, asm.R0, asm.DWord),
		asm.LoadMem(asm.R0, asm.R10, -8, asm.DWord),
		asm.Return(),
	}, nil)
	if _, err := jit.Compile(p, jit.Options{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				n := uint64(g*1000 + i + 1)
				mem := binary.LittleEndian.AppendUint64(nil, n)
				r0, err := p.Run(mem, vm.RunOptions{Engine: vm.JIT})
				if err != nil || r0 != n*(n+1)/2 {
					t.Errorf("n %d: r0 %d err %v", n, r0, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestListing checks the disassembly names each BPF instruction.
func TestListing(t *testing.T) {
	p := mustLoad(t, asm.Instructions{asm.Mov.Imm(asm.R0, 7), asm.Return()}, nil)
	for _, arch := range jit.Arches() {
		l, err := jit.Listing(p, arch, jit.Options{})
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		if !bytes.Contains([]byte(l), []byte("; pc 1")) {
			t.Errorf("%s listing lacks pc markers:\n%s", arch, l)
		}
	}
}
