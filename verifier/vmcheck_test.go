package verifier_test

// What the verifier accepts, the VM must be able to run without a fault.
// The VM checks every memory access at run time, so a program that our
// verifier accepts and that then touches memory it may not is a soundness
// bug the VM can see. (It cannot see all of them: reads of uninitialised
// registers or stack are zeros to it, and an access that strays into
// another part of the same region, another value of the same map or the
// headroom of a packet context, is not a fault to it.)

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/wagglebpf/waggle/verifier"
	"github.com/wagglebpf/waggle/vm"
)

// vmRuns is how many inputs each accepted program is run with.
const vmRuns = 4

// vmMaxSteps bounds a run; a verified program must end well within it.
const vmMaxSteps = 1 << 24

// vmProgram loads an entry into the VM, with its maps.
func vmProgram(e *entry) (*vm.Program, []vm.Map, error) {
	if e.spec != nil {
		c, err := vm.LoadCollection(e.spec, vm.CollectionOptions{Programs: []string{e.prog}})
		if err != nil {
			return nil, nil, err
		}
		p := c.Programs[e.prog]
		return p, p.Maps(), nil
	}
	maps, err := newVMMaps(e.insns, e.maps)
	if err != nil {
		return nil, nil, err
	}
	p, err := vm.LoadInstructionsWithMaps(e.insns, maps)
	if err != nil {
		return nil, nil, err
	}
	return p, p.Maps(), nil
}

// newVMMaps creates the maps insns refers to.
func newVMMaps(insns asm.Instructions, infos map[string]verifier.MapInfo) (map[string]vm.Map, error) {
	maps := map[string]vm.Map{}
	for _, ins := range insns {
		name := ins.Reference()
		if !ins.IsLoadFromMap() || name == "" || maps[name] != nil {
			continue
		}
		mi, ok := infos[name]
		if !ok {
			return nil, fmt.Errorf("no map %q", name)
		}
		m, err := vm.NewMap(vm.MapSpec{Name: name, Type: vm.MapType(mi.Type), KeySize: mi.KeySize, ValueSize: mi.ValueSize, MaxEntries: mi.MaxEntries})
		if err != nil {
			return nil, fmt.Errorf("map %s: %w", name, err)
		}
		maps[name] = m
	}
	return maps, nil
}

// fillMaps gives the program something to find: the zero key (which
// hand-written programs look up) and a few small ones, with random values.
func fillMaps(maps []vm.Map, rng *rand.Rand) {
	for _, m := range maps {
		s := m.Spec()
		switch s.Type {
		case vm.Hash, vm.LRUHash, vm.PerCPUHash, vm.Array, vm.PerCPUArray:
		default:
			continue
		}
		if s.KeySize == 0 || s.KeySize > 64 {
			continue
		}
		vsize := int(s.ValueSize)
		if s.Type == vm.PerCPUHash || s.Type == vm.PerCPUArray {
			vsize = ((vsize + 7) &^ 7) * max(s.CPUs, 1)
		}
		for i := range 4 {
			key := make([]byte, s.KeySize)
			if s.KeySize >= 4 {
				binary.LittleEndian.PutUint32(key, uint32(i))
			}
			val := make([]byte, vsize)
			for j := range val {
				val[j] = byte(rng.Uint32())
			}
			m.Update(key, val, 0) // the map may be full, or read-only: fine
		}
	}
}

// vmInput makes the i-th context for a program of type typ.
func vmInput(typ ebpf.ProgramType, ctxBytes int, i int, rng *rand.Rand) (*vm.Context, error) {
	random := func(n int) []byte {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		return b
	}
	pktSizes := []int{0, 14, 60, 1514}
	switch typ {
	case ebpf.XDP:
		return vm.NewXDPContext(vm.XDPMD{Packet: random(pktSizes[i%len(pktSizes)]), IngressIfindex: 1})
	case ebpf.SocketFilter, ebpf.SchedCLS, ebpf.SchedACT, ebpf.CGroupSKB:
		return vm.NewSkBuffContext(vm.SkBuff{Packet: random(pktSizes[i%len(pktSizes)]), Protocol: 0x0800, Ifindex: 1})
	}
	// Raw contexts: exactly as large as the verifier says the program
	// may touch, so that anything beyond faults.
	if i == 0 {
		return vm.RawContext(make([]byte, ctxBytes)), nil
	}
	return vm.RawContext(random(ctxBytes)), nil
}

// vmOutcome is what running a program taught us.
type vmOutcome struct {
	faults []string // safety violations: test failures
	notes  []string // runs cut short by what the VM lacks
}

// runInVM runs p with vmRuns inputs; seed makes the inputs reproducible.
func runInVM(p *vm.Program, maps []vm.Map, typ ebpf.ProgramType, ctxBytes int, seed uint64) vmOutcome {
	var out vmOutcome
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	fillMaps(maps, rng)
	task := &vm.Task{PID: 1234, TGID: 1234, UID: 1000, GID: 1000, Comm: "waggle"}
	for i := range vmRuns {
		ctx, err := vmInput(typ, ctxBytes, i, rng)
		if err != nil {
			out.notes = append(out.notes, "context: "+err.Error())
			continue
		}
		helpers := vm.MapHelpers()
		for id, h := range vm.KernelHelpers(vm.HelperConfig{Rand: rng.Uint32, Task: task}) {
			helpers[id] = h
		}
		for id, h := range ctx.Helpers() {
			helpers[id] = h
		}
		_, err = ctx.Run(p, vm.RunOptions{Helpers: helpers, MaxSteps: vmMaxSteps})
		switch {
		case err == nil:
		case errors.Is(err, vm.ErrUnknownHelper) || errors.Is(err, vm.ErrNotSupported):
			out.notes = append(out.notes, err.Error())
		case errors.Is(err, vm.ErrBudget):
			out.faults = append(out.faults, fmt.Sprintf("run %d did not end within %d instructions: %v", i, vmMaxSteps, err))
		default:
			out.faults = append(out.faults, fmt.Sprintf("run %d: %v", i, err))
		}
		if len(out.faults) > 0 {
			break
		}
	}
	return out
}

func TestAcceptedRunInVM(t *testing.T) {
	entries, omitted := corpus(t)
	for _, o := range omitted {
		t.Logf("omitted: %s", o)
	}
	ran, faulted := 0, 0
	notes := map[string]int{}
	for i, e := range entries {
		rep, _ := e.ours()
		if rep == nil || !rep.Accepted {
			continue
		}
		p, maps, err := vmProgram(e)
		if err != nil {
			// The verifier accepted what the VM cannot even load: the
			// VM lacks something, or the verifier let a malformed
			// program through.
			if errors.Is(err, vm.ErrNotSupported) {
				notes["load: "+err.Error()]++
				continue
			}
			t.Errorf("%s: we accept it, but the VM cannot load it: %v\n%s", e.key(), err, e.bytecode())
			continue
		}
		ran++
		res := runInVM(p, maps, e.typ, rep.ContextBytes, uint64(i))
		for _, n := range res.notes {
			notes[n]++
		}
		if len(res.faults) > 0 {
			faulted++
			t.Errorf("soundness: %s is accepted (context bytes %d) but faults in the VM:\n  %s\n%s", e.key(), rep.ContextBytes, strings.Join(res.faults, "\n  "), e.bytecode())
		}
	}
	t.Logf("%d accepted programs run %d times each in the VM; %d faulted", ran, vmRuns, faulted)
	if len(notes) > 0 {
		keys := make([]string, 0, len(notes))
		for k := range notes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "\n  %dx %s", notes[k], k)
		}
		t.Logf("runs cut short by what the VM lacks:%s", b.String())
	}
}

// The fuzz target: programs are bytecode, a program type and flags. Map
// loads (lddw src 1 and 2) name handMaps by their immediate, modulo the
// number of maps, in sorted order; fuzzMapIndex is the inverse.

var fuzzTypes = []ebpf.ProgramType{ebpf.XDP, ebpf.SocketFilter, ebpf.Kprobe, ebpf.TracePoint, ebpf.SchedCLS, ebpf.CGroupSKB, ebpf.RawTracepoint, ebpf.PerfEvent, ebpf.CGroupSock, ebpf.CGroupSysctl}

var fuzzMapNames = slices.Sorted(maps.Keys(handMaps))

// bindFuzzMaps gives the map loads of decoded bytecode their names.
func bindFuzzMaps(insns asm.Instructions) {
	for i := range insns {
		ins := &insns[i]
		if !ins.IsLoadFromMap() {
			continue
		}
		idx := uint32(ins.Constant) % uint32(len(fuzzMapNames))
		ins.Constant = int64(uint64(ins.Constant) &^ 0xffffffff)
		insns[i] = ins.WithReference(fuzzMapNames[idx])
	}
}

// fuzzVMCode rewrites the map loads of fuzzer bytecode (lddw src 1 and 2)
// to index the map table it returns, as vm.LoadWithMaps wants.
func fuzzVMCode(code []byte) ([]byte, []vm.Map, error) {
	raw := append([]byte(nil), code...)
	var table []vm.Map
	index := map[string]int{}
	for i := 0; i+asm.InstructionSize <= len(raw); i += asm.InstructionSize {
		if raw[i] != 0x18 {
			continue
		}
		if src := raw[i+1] >> 4; src == 1 || src == 2 {
			imm := binary.LittleEndian.Uint32(raw[i+4:])
			name := fuzzMapNames[imm%uint32(len(fuzzMapNames))]
			idx, ok := index[name]
			if !ok {
				mi := handMaps[name]
				m, err := vm.NewMap(vm.MapSpec{Name: name, Type: vm.MapType(mi.Type), KeySize: mi.KeySize, ValueSize: mi.ValueSize, MaxEntries: mi.MaxEntries})
				if err != nil {
					return nil, nil, fmt.Errorf("map %s: %w", name, err)
				}
				idx = len(table)
				index[name] = idx
				table = append(table, m)
			}
			binary.LittleEndian.PutUint32(raw[i+4:], uint32(idx))
		}
		i += asm.InstructionSize // the second slot
	}
	return raw, table, nil
}

// fuzzEncode is the inverse of bindFuzzMaps and decode: bytecode whose
// map loads carry the indexes of their maps. It is how the seeds in
// testdata/fuzz/FuzzVerifyThenRun were made.
func fuzzEncode(insns asm.Instructions) ([]byte, error) {
	cp := fixAtomics(insns)
	for i := range cp {
		ins := &cp[i]
		if !ins.IsLoadFromMap() {
			continue
		}
		idx := sort.SearchStrings(fuzzMapNames, ins.Reference())
		if idx == len(fuzzMapNames) || fuzzMapNames[idx] != ins.Reference() {
			return nil, fmt.Errorf("map %q is not a fuzz map", ins.Reference())
		}
		cp[i] = ins.WithReference("")
		cp[i].Constant = int64(uint64(ins.Constant)&^0xffffffff | uint64(idx))
	}
	var buf bytes.Buffer
	if err := cp.Marshal(&buf, binary.LittleEndian); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// hasDivision reports whether insns divide: the kernel does not track
// bounds through BPF_DIV and BPF_MOD, so it refuses much that is safe
// there, and comparing such programs with it finds nothing.
func hasDivision(insns asm.Instructions) bool {
	for _, ins := range insns {
		if ins.OpCode.Class().IsALU() {
			switch ins.OpCode.ALUOp() {
			case asm.Div, asm.Mod, asm.SDiv, asm.SMod:
				return true
			}
		}
	}
	return false
}

// ignored reports whether the kernel's reason contains one of substrings.
func ignored(reason string, substrings []string) bool {
	for _, s := range substrings {
		if s != "" && strings.Contains(reason, s) {
			return true
		}
	}
	return false
}

// FuzzVerifyThenRun: the verifier must not fail internally, and what it
// accepts must load into the VM and run there without a fault.
//
// With WAGGLE_FUZZ_KERNEL set (and root), what it accepts must also be
// accepted by the kernel, except programs that divide (see hasDivision)
// and rejections whose reason contains one of the |-separated strings of
// WAGGLE_FUZZ_KERNEL_IGNORE: once a difference is known, ignoring it lets
// the fuzzer find the next one. Kernel rejections that are not about
// safety, found this way: "infinite loop detected" and "program is too
// large" for loops the kernel cannot bound (termination is checked by
// running the program), "prohibited for !root" (Spectre v1 rules for
// unprivileged programs).
func FuzzVerifyThenRun(f *testing.F) {
	askKernel := os.Getenv("WAGGLE_FUZZ_KERNEL") != "" && os.Geteuid() == 0
	var ignore []string
	if s := os.Getenv("WAGGLE_FUZZ_KERNEL_IGNORE"); s != "" {
		ignore = strings.Split(s, "|")
	}
	f.Fuzz(func(t *testing.T, code []byte, typ uint8, flags uint8) {
		if len(code) > 512*asm.InstructionSize {
			return
		}
		insns, err := decode(code)
		if err != nil || len(insns) == 0 {
			return
		}
		bindFuzzMaps(insns)
		pt := fuzzTypes[int(typ)%len(fuzzTypes)]
		unpriv := flags&1 != 0
		rep, err := verifier.Verify(insns, pt, handMaps, verifier.Options{Unprivileged: unpriv, MaxInsnsProcessed: 10_000})
		if err != nil {
			return
		}
		if !rep.Accepted {
			if strings.Contains(rep.Rejection.Reason, "internal verifier error") {
				t.Fatalf("%s\n%v", rep.Rejection.Reason, insns)
			}
			return
		}
		raw, table, err := fuzzVMCode(code)
		if err != nil {
			t.Fatalf("accepted, but its maps: %v", err)
		}
		// The VM loads the bytecode itself, not a re-encoding: cilium/ebpf
		// refuses to encode some of what the fuzzer makes (helper ids it
		// does not know in dead code, say), and the VM's own structural
		// checks are part of what is measured.
		p, err := vm.LoadWithMaps(raw, table)
		if err != nil {
			if errors.Is(err, vm.ErrNotSupported) {
				return
			}
			t.Fatalf("accepted as %s, but the VM cannot load it: %v\n%v", pt, err, insns)
		}
		res := runInVM(p, p.Maps(), pt, rep.ContextBytes, uint64(len(code)))
		if len(res.faults) > 0 {
			t.Fatalf("accepted as %s (unprivileged %v, context bytes %d), but faults in the VM:\n  %s\n%v", pt, unpriv, rep.ContextBytes, strings.Join(res.faults, "\n  "), insns)
		}
		if askKernel && !hasDivision(insns) {
			k := kernelLoadInsns(pt, 0, insns, handMaps, unpriv)
			if k.na == "" && !k.accepted && !ignored(k.last, ignore) {
				t.Fatalf("accepted as %s (unprivileged %v), but the kernel rejects it: %s\n%v", pt, unpriv, k.last, insns)
			}
		}
	})
}
