package vm_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/cilium/ebpf/asm"

	"github.com/wagglebpf/waggle/vm"
)

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func newMap(t *testing.T, spec vm.MapSpec) vm.Map {
	t.Helper()
	m, err := vm.NewMap(spec)
	if err != nil {
		t.Fatalf("NewMap(%+v): %v", spec, err)
	}
	return m
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("%s: %v, want success", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Errorf("%s: %v, want %v", what, err, want)
	}
}

func TestHashMapSemantics(t *testing.T) {
	m := newMap(t, vm.MapSpec{Type: vm.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 2})
	steps := []struct {
		op    string
		key   uint32
		val   uint64
		flags uint64
		want  error
	}{
		{"update", 1, 10, vm.UpdateExist, vm.ErrKeyNotExist},
		{"update", 1, 10, vm.UpdateNoExist, nil},
		{"update", 1, 11, vm.UpdateNoExist, vm.ErrKeyExist},
		{"update", 1, 12, vm.UpdateExist, nil},
		{"update", 2, 20, vm.UpdateAny, nil},
		{"update", 3, 30, vm.UpdateAny, vm.ErrMapFull},
		{"update", 2, 21, vm.UpdateAny, nil}, // replacing in a full map is fine
		{"update", 2, 21, 4, vm.ErrInvalidFlags},
		{"lookup", 1, 12, 0, nil},
		{"lookup", 2, 21, 0, nil},
		{"lookup", 3, 0, 0, vm.ErrKeyNotExist},
		{"delete", 3, 0, 0, vm.ErrKeyNotExist},
		{"delete", 1, 0, 0, nil},
		{"lookup", 1, 0, 0, vm.ErrKeyNotExist},
		{"update", 3, 30, vm.UpdateAny, nil}, // the freed slot is reused
		{"lookup", 3, 30, 0, nil},
	}
	for i, s := range steps {
		what := fmt.Sprintf("step %d: %s %d", i, s.op, s.key)
		switch s.op {
		case "update":
			wantErr(t, what, m.Update(u32(s.key), u64(s.val), s.flags), s.want)
		case "delete":
			wantErr(t, what, m.Delete(u32(s.key)), s.want)
		case "lookup":
			v, err := m.Lookup(u32(s.key))
			wantErr(t, what, err, s.want)
			if err == nil && binary.LittleEndian.Uint64(v) != s.val {
				t.Errorf("%s = %d, want %d", what, binary.LittleEndian.Uint64(v), s.val)
			}
		}
	}
	// The errors carry the kernel's errno.
	if err := m.Update(u32(9), u64(0), vm.UpdateAny); !errors.Is(err, syscall.E2BIG) {
		t.Errorf("full map: %v, want E2BIG", err)
	}
	if err := m.Update(u32(3), u64(0), vm.UpdateAny); err != nil {
		t.Fatal(err)
	}
	var keys []uint32
	for k, err := m.NextKey(nil); err == nil; k, err = m.NextKey(k) {
		keys = append(keys, binary.LittleEndian.Uint32(k))
	}
	if len(keys) != 2 {
		t.Errorf("NextKey walk: %v, want 2 keys", keys)
	}
	n := 0
	m.Iterate(func(k, v []byte) bool { n++; return true })
	if n != 2 {
		t.Errorf("Iterate visited %d, want 2", n)
	}
	wantErr(t, "short key", m.Update([]byte{1}, u64(0), 0), syscall.EINVAL)
}

func TestArrayMapSemantics(t *testing.T) {
	m := newMap(t, vm.MapSpec{Type: vm.Array, KeySize: 4, ValueSize: 4, MaxEntries: 3})
	wantErr(t, "update 2", m.Update(u32(2), u32(7), vm.UpdateAny), nil)
	wantErr(t, "update exist", m.Update(u32(2), u32(8), vm.UpdateExist), nil)
	wantErr(t, "update noexist", m.Update(u32(1), u32(7), vm.UpdateNoExist), vm.ErrKeyExist)
	wantErr(t, "update past end", m.Update(u32(3), u32(7), vm.UpdateAny), vm.ErrMapFull)
	wantErr(t, "delete", m.Delete(u32(1)), syscall.EINVAL)
	_, err := m.Lookup(u32(3))
	wantErr(t, "lookup past end", err, vm.ErrKeyNotExist)
	v, err := m.Lookup(u32(2))
	if err != nil || !bytes.Equal(v, u32(8)) {
		t.Errorf("lookup 2 = %v, %v", v, err)
	}
	v, _ = m.Lookup(u32(0))
	if !bytes.Equal(v, u32(0)) {
		t.Errorf("untouched element = %v, want zero", v)
	}
	var keys []uint32
	for k, err := m.NextKey(nil); err == nil; k, err = m.NextKey(k) {
		keys = append(keys, binary.LittleEndian.Uint32(k))
	}
	if fmt.Sprint(keys) != "[0 1 2]" {
		t.Errorf("keys %v", keys)
	}
	if k, err := m.NextKey(u32(99)); err != nil || binary.LittleEndian.Uint32(k) != 0 {
		t.Errorf("NextKey of a missing key = %v, %v; want the first", k, err)
	}
}

func TestLRUEvictionOrder(t *testing.T) {
	m := newMap(t, vm.MapSpec{Type: vm.LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 3})
	for k := uint32(1); k <= 3; k++ {
		if err := m.Update(u32(k), u64(uint64(k)), vm.UpdateAny); err != nil {
			t.Fatal(err)
		}
	}
	// A program's lookup of 1 makes 2 the least recently used.
	lookup := asm.Instructions{
		asm.StoreImm(asm.R10, -4, 1, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference("lru"),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.Return(),
	}
	p, err := vm.LoadInstructionsWithMaps(lookup, map[string]vm.Map{"lru": m})
	if err != nil {
		t.Fatal(err)
	}
	if r0, err := p.Run(nil, vm.RunOptions{Helpers: vm.MapHelpers()}); err != nil || r0 == 0 {
		t.Fatalf("lookup: %#x, %v", r0, err)
	}
	// Updating 3 makes it recent too: 2 goes first, then 1.
	if err := m.Update(u32(3), u64(33), vm.UpdateExist); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ insert, evicted uint32 }{{4, 2}, {5, 1}, {6, 3}} {
		if err := m.Update(u32(c.insert), u64(0), vm.UpdateAny); err != nil {
			t.Fatalf("insert %d: %v", c.insert, err)
		}
		if _, err := m.Lookup(u32(c.evicted)); !errors.Is(err, vm.ErrKeyNotExist) {
			t.Errorf("after inserting %d, %d should be evicted: %v", c.insert, c.evicted, err)
		}
	}
	// NOEXIST on a present key still fails in an LRU map.
	wantErr(t, "noexist", m.Update(u32(6), u64(0), vm.UpdateNoExist), vm.ErrKeyExist)
}

func TestStackQueue(t *testing.T) {
	for _, typ := range []vm.MapType{vm.Queue, vm.Stack} {
		t.Run(typ.String(), func(t *testing.T) {
			q := newMap(t, vm.MapSpec{Type: typ, ValueSize: 4, MaxEntries: 3}).(*vm.QueueMap)
			if _, err := q.Pop(); !errors.Is(err, vm.ErrKeyNotExist) {
				t.Errorf("pop empty: %v", err)
			}
			for i := uint32(1); i <= 3; i++ {
				wantErr(t, "push", q.Push(u32(i), vm.UpdateAny), nil)
			}
			wantErr(t, "push full", q.Push(u32(4), vm.UpdateAny), vm.ErrMapFull)
			wantErr(t, "push bad flags", q.Push(u32(4), vm.UpdateNoExist), vm.ErrInvalidFlags)
			// BPF_EXIST drops the oldest (1) for both kinds.
			wantErr(t, "push exist", q.Push(u32(4), vm.UpdateExist), nil)
			want := "[2 3 4]"
			if typ == vm.Stack {
				want = "[4 3 2]"
			}
			if v, _ := q.Peek(); binary.LittleEndian.Uint32(v) != uint32(want[1]-'0') {
				t.Errorf("peek = %v", v)
			}
			var got []uint32
			for {
				v, err := q.Pop()
				if err != nil {
					break
				}
				got = append(got, binary.LittleEndian.Uint32(v))
			}
			if fmt.Sprint(got) != want {
				t.Errorf("popped %v, want %s", got, want)
			}
		})
	}
}

// counterProg counts runs per key (the key is in r6 at entry... here a
// constant) with the lookup-or-insert idiom.
func counterProg(key int32) asm.Instructions {
	return asm.Instructions{
		asm.StoreImm(asm.R10, -4, int64(key), asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference("counts"),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.JNE.Imm(asm.R0, 0, "found"),
		stDW(asm.R10, -16, 1),
		asm.LoadMapPtr(asm.R1, 0).WithReference("counts"),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, -4),
		asm.Mov.Reg(asm.R3, asm.R10),
		asm.Add.Imm(asm.R3, -16),
		asm.Mov.Imm(asm.R4, int32(vm.UpdateNoExist)),
		asm.FnMapUpdateElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		// Lost the race to insert: someone else did; count there.
		asm.Ja.Label("retry"),
		asm.Mov.Imm(asm.R1, 1).WithSymbol("found"),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
		asm.LoadMapPtr(asm.R1, 0).WithReference("counts").WithSymbol("retry"),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.JNE.Imm(asm.R0, 0, "found"),
		asm.Mov.Imm(asm.R0, 1),
		asm.Return(),
	}
}

func TestProgramCounter(t *testing.T) {
	m := newMap(t, vm.MapSpec{Type: vm.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	p, err := vm.LoadInstructionsWithMaps(counterProg(5), map[string]vm.Map{"counts": m})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r0, err := p.Run(nil, vm.RunOptions{Helpers: vm.MapHelpers()}); err != nil || r0 != 0 {
			t.Fatalf("run: %d, %v", r0, err)
		}
	}
	v, err := m.Lookup(u32(5))
	if err != nil || binary.LittleEndian.Uint64(v) != 3 {
		t.Errorf("count = %v, %v; want 3", v, err)
	}
}

func TestMapValuePointers(t *testing.T) {
	arr := newMap(t, vm.MapSpec{Type: vm.Array, KeySize: 4, ValueSize: 16, MaxEntries: 4})
	data := newMap(t, vm.MapSpec{Name: ".data", Type: vm.Array, KeySize: 4, ValueSize: 16, MaxEntries: 1})
	ro := newMap(t, vm.MapSpec{Name: ".rodata", Type: vm.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1, Flags: vm.FlagRdonlyProg})
	ro.Update(u32(0), u64(41), vm.UpdateAny)
	maps := map[string]vm.Map{"arr": arr, ".data": data, ".rodata": ro}
	p, err := vm.LoadInstructionsWithMaps(asm.Instructions{
		// arr[2].second = 0x1234 through the pointer lookup returns.
		asm.StoreImm(asm.R10, -4, 2, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference("arr"),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		stDW(asm.R0, 8, 0x1234),
		// .data+8 = .rodata + 1, globals style (lddw src 2).
		asm.LoadMapValue(asm.R1, 0, 0).WithReference(".rodata"),
		asm.LoadMem(asm.R2, asm.R1, 0, asm.DWord),
		asm.Add.Imm(asm.R2, 1),
		asm.LoadMapValue(asm.R3, 0, 8).WithReference(".data"),
		asm.StoreMem(asm.R3, 0, asm.R2, asm.DWord),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	}, maps)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(nil, vm.RunOptions{Helpers: vm.MapHelpers()}); err != nil {
		t.Fatal(err)
	}
	v, _ := arr.Lookup(u32(2))
	if binary.LittleEndian.Uint64(v[8:]) != 0x1234 {
		t.Errorf("arr[2] = %x", v)
	}
	v, _ = data.Lookup(u32(0))
	if binary.LittleEndian.Uint64(v[8:]) != 42 {
		t.Errorf(".data = %x", v)
	}
	// A store to .rodata faults.
	p, err = vm.LoadInstructionsWithMaps(asm.Instructions{
		asm.LoadMapValue(asm.R1, 0, 0).WithReference(".rodata"),
		stDW(asm.R1, 0, 1),
		asm.Return(),
	}, maps)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(nil, vm.RunOptions{}); !errors.Is(err, vm.ErrOutOfBounds) || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("store to .rodata: %v", err)
	}
	// Direct value access needs a single-entry array, as in the kernel.
	_, err = vm.LoadInstructionsWithMaps(asm.Instructions{asm.LoadMapValue(asm.R1, 0, 0).WithReference("arr"), asm.Return()}, maps)
	if err == nil {
		t.Error("direct value of a 4-entry array loaded")
	}
	_, err = vm.LoadInstructionsWithMaps(asm.Instructions{asm.LoadMapPtr(asm.R1, 0).WithReference("nope"), asm.Return()}, maps)
	if !errors.Is(err, vm.ErrNoMap) {
		t.Errorf("unknown map name: %v", err)
	}
}

func TestNullLookupFaults(t *testing.T) {
	m := newMap(t, vm.MapSpec{Type: vm.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	p, err := vm.LoadInstructionsWithMaps(asm.Instructions{
		asm.StoreImm(asm.R10, -4, 1, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference("m"),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, -4),
		asm.FnMapLookupElem.Call(),
		stDW(asm.R0, 0, 1), // no NULL check
		asm.Return(),
	}, map[string]vm.Map{"m": m})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Run(nil, vm.RunOptions{Helpers: vm.MapHelpers()})
	var re *vm.RunError
	if !errors.As(err, &re) || !errors.Is(err, vm.ErrOutOfBounds) || re.Addr != 0 || re.PC != 6 {
		t.Fatalf("NULL store: %v", err)
	}
	// A map handle is not a pointer either.
	p, _ = vm.LoadInstructionsWithMaps(asm.Instructions{
		asm.LoadMapPtr(asm.R1, 0).WithReference("m"),
		asm.LoadMem(asm.R0, asm.R1, 0, asm.DWord),
		asm.Return(),
	}, map[string]vm.Map{"m": m})
	if _, err := p.Run(nil, vm.RunOptions{}); !errors.Is(err, vm.ErrOutOfBounds) {
		t.Errorf("load through a map handle: %v", err)
	}
	// Nor is any other number a map.
	p, _ = vm.LoadInstructions(asm.Instructions{
		asm.Mov.Imm(asm.R1, 12),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.FnMapLookupElem.Call(),
		asm.Return(),
	})
	if _, err := p.Run(nil, vm.RunOptions{Helpers: vm.MapHelpers()}); !errors.Is(err, vm.ErrNoMap) {
		t.Errorf("lookup in a non-map: %v", err)
	}
}

func TestPerCPUIsolation(t *testing.T) {
	arr := newMap(t, vm.MapSpec{Type: vm.PerCPUArray, KeySize: 4, ValueSize: 4, MaxEntries: 1, CPUs: 3})
	hash := newMap(t, vm.MapSpec{Type: vm.PerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: 4, CPUs: 3})
	hash.Update(u32(0), make([]byte, 24), vm.UpdateAny)
	for _, m := range []vm.Map{arr, hash} {
		size := asm.Word
		if m == hash {
			size = asm.DWord
		}
		p, err := vm.LoadInstructionsWithMaps(asm.Instructions{
			asm.StoreImm(asm.R10, -4, 0, asm.Word),
			asm.LoadMapPtr(asm.R1, 0).WithReference("m"),
			asm.Mov.Reg(asm.R2, asm.R10),
			asm.Add.Imm(asm.R2, -4),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, "out"),
			asm.LoadMem(asm.R1, asm.R0, 0, size),
			asm.Add.Imm(asm.R1, 1),
			asm.StoreMem(asm.R0, 0, asm.R1, size),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
			asm.Return(),
		}, map[string]vm.Map{"m": m})
		if err != nil {
			t.Fatal(err)
		}
		for _, cpu := range []int{0, 2, 2, 2, 0} {
			if _, err := p.Run(nil, vm.RunOptions{Helpers: vm.MapHelpers(), CPU: cpu}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := p.Run(nil, vm.RunOptions{Helpers: vm.MapHelpers(), CPU: 3}); err == nil {
			t.Error("CPU 3 of 3 accepted")
		}
		v, _ := m.Lookup(u32(0))
		// Each CPU's value is padded to 8 bytes, as from bpf().
		if len(v) != 24 || v[0] != 2 || v[8] != 0 || v[16] != 3 {
			t.Errorf("%s values % x, want 2, 0, 3", m.Spec().Type, v)
		}
	}
	// map_lookup_percpu_elem reads another CPU's value.
	p, _ := vm.LoadInstructionsWithMaps(asm.Instructions{
		asm.StoreImm(asm.R10, -4, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference("m"),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, -4),
		asm.Mov.Imm(asm.R3, 2),
		asm.FnMapLookupPercpuElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.LoadMem(asm.R0, asm.R0, 0, asm.Word),
		asm.Return().WithSymbol("out"),
	}, map[string]vm.Map{"m": arr})
	if r0, err := p.Run(nil, vm.RunOptions{Helpers: vm.MapHelpers()}); r0 != 3 || err != nil {
		t.Errorf("percpu lookup of CPU 2 = %d, %v", r0, err)
	}
}

func TestRingBufProgram(t *testing.T) {
	rb := newMap(t, vm.MapSpec{Type: vm.RingBuf, MaxEntries: 4096}).(*vm.RingBufMap)
	p, err := vm.LoadInstructionsWithMaps(asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMapPtr(asm.R1, 0).WithReference("events"),
		asm.Mov.Imm(asm.R2, 16),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnRingbufReserve.Call(),
		asm.JEq.Imm(asm.R0, 0, "full"),
		asm.LoadMem(asm.R1, asm.R6, 0, asm.DWord),
		asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
		stDW(asm.R0, 8, 0x77),
		asm.Mov.Reg(asm.R1, asm.R0),
		asm.Mov.Imm(asm.R2, 0),
		asm.FnRingbufSubmit.Call(),
		asm.Mov.Imm(asm.R0, 0),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 1).WithSymbol("full"),
		asm.Return(),
	}, map[string]vm.Map{"events": rb})
	if err != nil {
		t.Fatal(err)
	}
	// 4096 bytes hold 170 records of 24 bytes; the rest are dropped.
	full := 0
	for i := range 200 {
		r0, err := p.Run(u64(uint64(i)), vm.RunOptions{Helpers: vm.MapHelpers()})
		if err != nil {
			t.Fatal(err)
		}
		full += int(r0)
	}
	if full != 30 || rb.Lost() != 30 {
		t.Errorf("dropped %d (Lost %d), want 30", full, rb.Lost())
	}
	for i := range 170 {
		b, ok := rb.Read()
		if !ok || len(b) != 16 || binary.LittleEndian.Uint64(b) != uint64(i) || b[8] != 0x77 {
			t.Fatalf("record %d = % x, %v", i, b, ok)
		}
	}
	if _, ok := rb.Read(); ok {
		t.Error("more records than written")
	}
	// After reading, there is room again, across the end of the buffer.
	for i := range 100 {
		if r0, err := p.Run(u64(uint64(i)), vm.RunOptions{Helpers: vm.MapHelpers()}); r0 != 0 || err != nil {
			t.Fatalf("run after drain: %d, %v", r0, err)
		}
		if b, ok := rb.Read(); !ok || binary.LittleEndian.Uint64(b) != uint64(i) {
			t.Fatalf("wrapped record %d = %x, %v", i, b, ok)
		}
	}
}

func TestPerfEventOutput(t *testing.T) {
	pe := newMap(t, vm.MapSpec{Type: vm.PerfEventArray, CPUs: 2, PerfBufferSize: 64}).(*vm.PerfEventArrayMap)
	p, err := vm.LoadInstructionsWithMaps(asm.Instructions{
		stDW(asm.R10, -8, 0x55),
		asm.LoadMapPtr(asm.R2, 0).WithReference("pe"),
		asm.LoadImm(asm.R3, 0xffffffff, asm.DWord), // BPF_F_CURRENT_CPU
		asm.Mov.Reg(asm.R4, asm.R10),
		asm.Add.Imm(asm.R4, -8),
		asm.Mov.Imm(asm.R5, 8),
		asm.FnPerfEventOutput.Call(),
		asm.Return(),
	}, map[string]vm.Map{"pe": pe})
	if err != nil {
		t.Fatal(err)
	}
	// 64 bytes hold three 8-byte samples (24 bytes each with headers).
	var rets []int64
	for range 3 {
		r0, err := p.Run(nil, vm.RunOptions{Helpers: vm.MapHelpers(), CPU: 1})
		if err != nil {
			t.Fatal(err)
		}
		rets = append(rets, int64(r0))
	}
	if fmt.Sprint(rets) != fmt.Sprint([]int64{0, 0, -int64(syscall.ENOSPC)}) {
		t.Errorf("returns %v", rets)
	}
	for i, want := range []vm.PerfRecord{{CPU: 1, Sample: u64(0x55)}, {CPU: 1, Sample: u64(0x55)}, {CPU: 1, LostSamples: 1}} {
		got, ok := pe.Read()
		if !ok || got.CPU != want.CPU || !bytes.Equal(got.Sample, want.Sample) || got.LostSamples != want.LostSamples {
			t.Errorf("record %d = %+v, want %+v", i, got, want)
		}
	}
}

func TestTailCalls(t *testing.T) {
	progs := newMap(t, vm.MapSpec{Type: vm.ProgramArray, MaxEntries: 4}).(*vm.ProgramArrayMap)
	count := newMap(t, vm.MapSpec{Type: vm.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	maps := map[string]vm.Map{"progs": progs, "count": count}
	// self counts its runs in count[0] and tail-calls itself; when that
	// fails, it returns 42.
	self, err := vm.LoadInstructionsWithMaps(asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMapValue(asm.R2, 0, 0).WithReference("count"),
		asm.Mov.Imm(asm.R3, 1),
		asm.StoreXAdd(asm.R2, asm.R3, asm.DWord),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.LoadMapPtr(asm.R2, 0).WithReference("progs"),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnTailCall.Call(),
		asm.Mov.Imm(asm.R0, 42),
		asm.Return(),
	}, maps)
	if err != nil {
		t.Fatal(err)
	}
	progs.Set(0, self)
	r0, err := self.Run([]byte{1}, vm.RunOptions{Helpers: vm.MapHelpers()})
	v, _ := count.Lookup(u32(0))
	if r0 != 42 || err != nil || binary.LittleEndian.Uint64(v) != 1+vm.MaxTailCalls {
		t.Errorf("self tail calls: r0 %d, err %v, runs %d; want 42, nil, %d", r0, err, binary.LittleEndian.Uint64(v), 1+vm.MaxTailCalls)
	}

	// A tail call into another program replaces the caller; the context
	// (r1) carries over.
	other, err := vm.LoadInstructions(asm.Instructions{
		asm.LoadMem(asm.R0, asm.R1, 0, asm.Byte),
		asm.Add.Imm(asm.R0, 100),
		asm.Return(),
	})
	if err != nil {
		t.Fatal(err)
	}
	progs.Set(1, other)
	caller, err := vm.LoadInstructionsWithMaps(asm.Instructions{
		asm.LoadMapPtr(asm.R2, 0).WithReference("progs"),
		asm.Mov.Imm(asm.R3, 1),
		asm.FnTailCall.Call(),
		asm.Mov.Imm(asm.R0, 1),
		asm.Return(),
	}, maps)
	if err != nil {
		t.Fatal(err)
	}
	if r0, err := caller.Run([]byte{7}, vm.RunOptions{Helpers: vm.MapHelpers()}); r0 != 107 || err != nil {
		t.Errorf("tail call into other: %d, %v; want 107", r0, err)
	}
	// An empty slot: the call fails and the caller goes on.
	progs.Set(1, nil)
	if r0, err := caller.Run([]byte{7}, vm.RunOptions{Helpers: vm.MapHelpers()}); r0 != 1 || err != nil {
		t.Errorf("tail call into empty slot: %d, %v; want 1", r0, err)
	}
}

func TestForEachMapElem(t *testing.T) {
	m := newMap(t, vm.MapSpec{Type: vm.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	for k := uint32(1); k <= 5; k++ {
		m.Update(u32(k), u64(uint64(k*10)), vm.UpdateAny)
	}
	callback := asm.Instruction{OpCode: asm.LoadImmOp(asm.DWord), Dst: asm.R2, Src: asm.PseudoFunc, Constant: -1}.WithReference("cb")
	insns := asm.Instructions{
		stDW(asm.R10, -8, 0), // the sum, which the callback adds to
		asm.LoadMapPtr(asm.R1, 0).WithReference("m"),
		callback,
		asm.Mov.Reg(asm.R3, asm.R10),
		asm.Add.Imm(asm.R3, -8),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnForEachMapElem.Call(),
		asm.LoadMem(asm.R1, asm.R10, -8, asm.DWord),
		asm.Mul.Imm(asm.R1, 1000),
		asm.Add.Reg(asm.R0, asm.R1), // r0 = sum*1000 + visited
		asm.Return(),
		// cb(map, key, value, ctx): *ctx += *value + *key; stop after key 4.
		asm.LoadMem(asm.R5, asm.R3, 0, asm.DWord).WithSymbol("cb"),
		asm.LoadMem(asm.R6, asm.R2, 0, asm.Word),
		asm.Add.Reg(asm.R5, asm.R6),
		asm.LoadMem(asm.R0, asm.R4, 0, asm.DWord),
		asm.Add.Reg(asm.R0, asm.R5),
		asm.StoreMem(asm.R4, 0, asm.R0, asm.DWord),
		asm.Mov.Imm(asm.R0, 0),
		asm.JNE.Imm(asm.R6, 4, "cont"),
		asm.Mov.Imm(asm.R0, 1),
		asm.Return().WithSymbol("cont"),
	}
	p, err := vm.LoadInstructionsWithMaps(insns, map[string]vm.Map{"m": m})
	if err != nil {
		t.Fatal(err)
	}
	r0, err := p.Run(nil, vm.RunOptions{Helpers: vm.MapHelpers()})
	// Slots fill in order, so iteration is keys 1-5; it stops after 4.
	if err != nil || r0 != (11+22+33+44)*1000+4 {
		t.Errorf("for_each: %d, %v; want %d", r0, err, (11+22+33+44)*1000+4)
	}

	// A callback that faults stops the whole program with its error.
	insns[len(insns)-10] = asm.LoadMem(asm.R5, asm.R1, 0, asm.DWord).WithSymbol("cb") // through the map handle
	p, err = vm.LoadInstructionsWithMaps(insns, map[string]vm.Map{"m": m})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(nil, vm.RunOptions{Helpers: vm.MapHelpers()}); !errors.Is(err, vm.ErrOutOfBounds) {
		t.Errorf("faulting callback: %v", err)
	}
	// A number that is not a function of the program is refused.
	bad := asm.Instructions{
		asm.LoadMapPtr(asm.R1, 0).WithReference("m"),
		asm.Mov.Imm(asm.R2, 3),
		asm.Mov.Imm(asm.R3, 0),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnForEachMapElem.Call(),
		asm.Return(),
	}
	p, _ = vm.LoadInstructionsWithMaps(bad, map[string]vm.Map{"m": m})
	if _, err := p.Run(nil, vm.RunOptions{Helpers: vm.MapHelpers()}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("forged callback: %v", err)
	}
}

func TestQueueHelpers(t *testing.T) {
	q := newMap(t, vm.MapSpec{Type: vm.Stack, ValueSize: 8, MaxEntries: 2}).(*vm.QueueMap)
	p, err := vm.LoadInstructionsWithMaps(asm.Instructions{
		// push(mem[0]) with BPF_EXIST, then peek into the stack and return it.
		asm.LoadMapPtr(asm.R6, 0).WithReference("q"),
		asm.Mov.Reg(asm.R2, asm.R1),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R3, int32(vm.UpdateExist)),
		asm.FnMapPushElem.Call(),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, -8),
		asm.FnMapPeekElem.Call(),
		asm.LoadMem(asm.R0, asm.R10, -8, asm.DWord),
		asm.Return(),
	}, map[string]vm.Map{"q": q})
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 3; i++ {
		if r0, err := p.Run(u64(i), vm.RunOptions{Helpers: vm.MapHelpers()}); r0 != i || err != nil {
			t.Fatalf("push %d: %d, %v", i, r0, err)
		}
	}
	a, _ := q.Pop()
	b, _ := q.Pop()
	if _, err := q.Pop(); !errors.Is(err, vm.ErrKeyNotExist) || binary.LittleEndian.Uint64(a) != 3 || binary.LittleEndian.Uint64(b) != 2 {
		t.Errorf("stack after 3 pushes into 2: %v %v %v", a, b, err)
	}
}

// TestMapConcurrency runs programs on several goroutines while Go updates,
// deletes and walks the same map. Run it with -race.
func TestMapConcurrency(t *testing.T) {
	m := newMap(t, vm.MapSpec{Type: vm.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 64})
	const workers, runs = 4, 500
	progs := make([]*vm.Program, workers)
	for w := range progs {
		p, err := vm.LoadInstructionsWithMaps(counterProg(int32(w)), map[string]vm.Map{"counts": m})
		if err != nil {
			t.Fatal(err)
		}
		progs[w] = p
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range runs {
				if _, err := progs[w].Run(nil, vm.RunOptions{Helpers: vm.MapHelpers()}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	var gw sync.WaitGroup
	gw.Add(1)
	go func() {
		defer gw.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k := uint32(100 + i%20)
			m.Update(u32(k), u64(uint64(i)), vm.UpdateAny)
			if i%3 == 0 {
				m.Delete(u32(k))
			}
			for k, err := m.NextKey(nil); err == nil; k, err = m.NextKey(k) {
			}
		}
	}()
	wg.Wait()
	close(stop)
	gw.Wait()
	for w := range workers {
		v, err := m.Lookup(u32(uint32(w)))
		if err != nil || binary.LittleEndian.Uint64(v) != runs {
			t.Errorf("worker %d count = %v, %v; want %d", w, v, err, runs)
		}
	}
}

// TestRawBytecodeMaps loads raw bytecode whose lddw src 1 and src 5
// immediates index the map table given to LoadWithMaps.
func TestRawBytecodeMaps(t *testing.T) {
	a := newMap(t, vm.MapSpec{Type: vm.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	b := newMap(t, vm.MapSpec{Type: vm.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	b.Update(u32(0), u64(9), vm.UpdateAny)
	code := coreCat(
		coreRaw(0x18, 1, 5, 0, 1), coreRaw(0, 0, 0, 0, 0), // r1 = map 1 (src 5)
		coreRaw(0x62, 10, 0, -4, 0),                       // *(u32 *)(r10-4) = 0
		coreRaw(0xbf, 2, 10, 0, 0),                        // r2 = r10
		coreRaw(0x07, 2, 0, 0, -4),                        // r2 -= 4
		coreRaw(0x85, 0, 0, 0, 1),                         // lookup
		coreRaw(0x79, 0, 0, 0, 0),                         // r0 = *(u64 *)r0
		coreRaw(0x18, 1, 6, 0, 0), coreRaw(0, 0, 0, 0, 0), // r1 = &map 0 value (src 6)
		coreRaw(0x7b, 1, 0, 0, 0), // *(u64 *)r1 = r0
		coreExit,
	)
	p, err := vm.LoadWithMaps(code, []vm.Map{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if r0, err := p.Run(nil, vm.RunOptions{Helpers: vm.MapHelpers()}); r0 != 9 || err != nil {
		t.Fatalf("run: %d, %v", r0, err)
	}
	if v, _ := a.Lookup(u32(0)); binary.LittleEndian.Uint64(v) != 9 {
		t.Errorf("map 0 = %x", v)
	}
	if _, err := vm.LoadWithMaps(code, []vm.Map{a}); !errors.Is(err, vm.ErrNoMap) {
		t.Errorf("index past the table: %v", err)
	}
}

// stDW is a 64-bit store of an immediate, which cilium/ebpf's asm.StoreImm
// refuses to build although the ISA has it.
func stDW(dst asm.Register, off int16, v int64) asm.Instruction {
	return asm.Instruction{OpCode: asm.StoreImmOp(asm.DWord), Dst: dst, Offset: off, Constant: v}
}

func TestRingBufDiscardAndQuery(t *testing.T) {
	rb := newMap(t, vm.MapSpec{Type: vm.RingBuf, MaxEntries: 8192}).(*vm.RingBufMap)
	// Reserve two records, discard the first, submit the second, and
	// return the available data (two records of 16 bytes).
	p, err := vm.LoadInstructionsWithMaps(asm.Instructions{
		asm.LoadMapPtr(asm.R1, 0).WithReference("rb"),
		asm.Mov.Imm(asm.R2, 8),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnRingbufReserve.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.Mov.Reg(asm.R6, asm.R0),
		asm.LoadMapPtr(asm.R1, 0).WithReference("rb"),
		asm.Mov.Imm(asm.R2, 8),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnRingbufReserve.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		stDW(asm.R0, 0, 2),
		asm.Mov.Reg(asm.R7, asm.R0),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, 0),
		asm.FnRingbufDiscard.Call(),
		asm.Mov.Reg(asm.R1, asm.R7),
		asm.Mov.Imm(asm.R2, 0),
		asm.FnRingbufSubmit.Call(),
		asm.LoadMapPtr(asm.R1, 0).WithReference("rb"),
		asm.Mov.Imm(asm.R2, 0), // BPF_RB_AVAIL_DATA
		asm.FnRingbufQuery.Call(),
		asm.Return().WithSymbol("out"),
	}, map[string]vm.Map{"rb": rb})
	if err != nil {
		t.Fatal(err)
	}
	if r0, err := p.Run(nil, vm.RunOptions{Helpers: vm.MapHelpers()}); r0 != 32 || err != nil {
		t.Fatalf("run: %d, %v; want 32", r0, err)
	}
	if b, ok := rb.Read(); !ok || !bytes.Equal(b, u64(2)) {
		t.Errorf("read %x, %v; want the submitted record only", b, ok)
	}
	if _, ok := rb.Read(); ok {
		t.Error("discarded record was read")
	}
	// Submitting twice, or something never reserved, stops the program.
	p, _ = vm.LoadInstructionsWithMaps(asm.Instructions{
		asm.LoadMapValue(asm.R1, 0, 0).WithReference("g"),
		asm.Mov.Imm(asm.R2, 0),
		asm.FnRingbufSubmit.Call(),
		asm.Return(),
	}, map[string]vm.Map{"rb": rb, "g": newMap(t, vm.MapSpec{Type: vm.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})})
	if _, err := p.Run(nil, vm.RunOptions{Helpers: vm.MapHelpers()}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("submit of a non-record: %v", err)
	}
}

func BenchmarkHashLookup(b *testing.B) {
	m, _ := vm.NewMap(vm.MapSpec{Type: vm.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	p, err := vm.LoadInstructionsWithMaps(counterProg(3), map[string]vm.Map{"counts": m})
	if err != nil {
		b.Fatal(err)
	}
	opts := vm.RunOptions{Helpers: vm.MapHelpers()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Run(nil, opts); err != nil {
			b.Fatal(err)
		}
	}
}
