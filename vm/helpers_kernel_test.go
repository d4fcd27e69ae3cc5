package vm_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/wagglebpf/waggle/internal/kerneltest"
	"github.com/wagglebpf/waggle/vm"
)

// Negative errnos as a helper returns them in r0.
const (
	eFAULT = uint64(math.MaxUint64 - 14 + 1)
	eINVAL = uint64(math.MaxUint64 - 22 + 1)
	eNOSPC = uint64(math.MaxUint64 - 28 + 1)
	eRANGE = uint64(math.MaxUint64 - 34 + 1)
)

// at is the VM address of offset off in the memory passed to Run.
func at(off int) uint64 { return vm.MemAddr + uint64(off) }

// callHelper runs a program that loads args into r1-r5, calls helper id
// and exits, over mem, and returns r0.
func callHelper(t *testing.T, helpers map[int32]vm.HelperFunc, id int32, mem []byte, args ...uint64) (uint64, error) {
	t.Helper()
	var insns asm.Instructions
	for i, a := range args {
		insns = append(insns, asm.LoadImm(asm.R1+asm.Register(i), int64(a), asm.DWord))
	}
	insns = append(insns, asm.FnMapLookupElem.Call(), asm.Return())
	insns[len(insns)-2].Constant = int64(id)
	p, err := vm.LoadInstructions(insns)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return p.Run(mem, vm.RunOptions{Helpers: helpers})
}

// mustCall is callHelper for calls that must not stop the program.
func mustCall(t *testing.T, helpers map[int32]vm.HelperFunc, id int32, mem []byte, args ...uint64) uint64 {
	t.Helper()
	r0, err := callHelper(t, helpers, id, mem, args...)
	if err != nil {
		t.Fatalf("helper %d: %v", id, err)
	}
	return r0
}

func TestKernelHelpersClocksAndIdentity(t *testing.T) {
	h := vm.KernelHelpers(vm.HelperConfig{
		Monotonic: func() uint64 { return 1_234_567_891 },
		HZ:        100,
		Rand:      func() uint32 { return 0xdeadbeef },
		CPU:       3,
		Task:      &vm.Task{PID: 10, TGID: 20, UID: 1000, GID: 100, Comm: "bash"},
	})
	for _, tc := range []struct {
		name string
		id   int32
		want uint64
	}{
		{"ktime_get_ns", vm.HelperKtimeGetNS, 1_234_567_891},
		{"ktime_get_boot_ns defaults to monotonic", vm.HelperKtimeGetBootNS, 1_234_567_891},
		{"ktime_get_coarse_ns is the last tick", vm.HelperKtimeGetCoarseNS, 1_230_000_000},
		{"jiffies64", vm.HelperJiffies64, 123},
		{"get_prandom_u32", vm.HelperGetPrandomU32, 0xdeadbeef},
		{"get_smp_processor_id", vm.HelperGetSmpProcessorID, 3},
		{"get_numa_node_id", vm.HelperGetNumaNodeID, 0},
		{"get_current_pid_tgid", vm.HelperGetCurrentPidTgid, 20<<32 | 10},
		{"get_current_uid_gid", vm.HelperGetCurrentUidGid, 100<<32 | 1000},
	} {
		if got := mustCall(t, h, tc.id, nil); got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, got, tc.want)
		}
	}

	none := vm.KernelHelpers(vm.HelperConfig{})
	for _, id := range []int32{vm.HelperGetCurrentPidTgid, vm.HelperGetCurrentUidGid} {
		if got := mustCall(t, none, id, nil); got != eINVAL {
			t.Errorf("helper %d with no task = %#x, want -EINVAL", id, got)
		}
	}
	// The default clock is monotonic and moves.
	a, b := mustCall(t, none, vm.HelperKtimeGetNS, nil), mustCall(t, none, vm.HelperKtimeGetNS, nil)
	if b < a {
		t.Errorf("ktime_get_ns went back: %d then %d", a, b)
	}
}

func TestGetCurrentComm(t *testing.T) {
	for _, tc := range []struct {
		comm string
		size int
		want string
	}{
		{"bash", 16, "bash" + strings.Repeat("\x00", 12)},
		{"bash", 3, "ba\x00"},
		{"a-very-long-command-name", 16, "a-very-long-com\x00"},
		{"a-very-long-command-name", 32, "a-very-long-com" + strings.Repeat("\x00", 17)},
	} {
		h := vm.KernelHelpers(vm.HelperConfig{Task: &vm.Task{Comm: tc.comm}})
		mem := bytes.Repeat([]byte{0xff}, 40)
		if r0 := mustCall(t, h, vm.HelperGetCurrentComm, mem, at(4), uint64(tc.size)); r0 != 0 {
			t.Errorf("comm %q size %d: r0 = %#x", tc.comm, tc.size, r0)
		}
		if got := string(mem[4 : 4+tc.size]); got != tc.want {
			t.Errorf("comm %q size %d: buffer %q, want %q", tc.comm, tc.size, got, tc.want)
		}
		if mem[3] != 0xff || mem[4+tc.size] != 0xff {
			t.Errorf("comm %q size %d wrote outside its buffer: % x", tc.comm, tc.size, mem)
		}
	}
	// No current task: the kernel zeroes the buffer and returns -EINVAL.
	mem := bytes.Repeat([]byte{0xff}, 16)
	if r0 := mustCall(t, vm.KernelHelpers(vm.HelperConfig{}), vm.HelperGetCurrentComm, mem, at(0), 16); r0 != eINVAL || !bytes.Equal(mem, make([]byte, 16)) {
		t.Errorf("no task: r0 = %#x, buffer % x", r0, mem)
	}
	// A buffer outside the program's memory is a fault, not a return value.
	_, err := callHelper(t, vm.KernelHelpers(vm.HelperConfig{}), vm.HelperGetCurrentComm, mem, at(8), 16)
	if !errors.Is(err, vm.ErrOutOfBounds) {
		t.Errorf("comm into a bad buffer: %v, want ErrOutOfBounds", err)
	}
}

func TestProbeRead(t *testing.T) {
	h := vm.KernelHelpers(vm.HelperConfig{})
	for _, id := range []int32{vm.HelperProbeRead, vm.HelperProbeReadKernel, vm.HelperProbeReadUser} {
		mem := make([]byte, 32)
		copy(mem, "0123456789")
		if r0 := mustCall(t, h, id, mem, at(16), 8, at(2)); r0 != 0 || string(mem[16:24]) != "23456789" {
			t.Errorf("helper %d: r0 = %#x, dst %q", id, r0, mem[16:24])
		}
		// A source that runs off its region faults: -EFAULT, dst zeroed.
		for i := 16; i < 32; i++ {
			mem[i] = 0xff
		}
		if r0 := mustCall(t, h, id, mem, at(16), 8, at(28)); r0 != eFAULT || !bytes.Equal(mem[16:24], make([]byte, 8)) {
			t.Errorf("helper %d, source off the end: r0 = %#x, dst % x", id, r0, mem[16:24])
		}
		for i := 16; i < 32; i++ {
			mem[i] = 0xff
		}
		if r0 := mustCall(t, h, id, mem, at(16), 8, 8); r0 != eFAULT || !bytes.Equal(mem[16:24], make([]byte, 8)) {
			t.Errorf("helper %d, NULL source: r0 = %#x, dst % x", id, r0, mem[16:24])
		}
		if r0 := mustCall(t, h, id, mem, 0, 0, 0); r0 != 0 {
			t.Errorf("helper %d, size 0: r0 = %#x", id, r0)
		}
		if _, err := callHelper(t, h, id, mem, at(30), 8, at(0)); !errors.Is(err, vm.ErrOutOfBounds) {
			t.Errorf("helper %d, bad destination: %v, want ErrOutOfBounds", id, err)
		}
	}
}

func TestProbeReadStr(t *testing.T) {
	h := vm.KernelHelpers(vm.HelperConfig{})
	fill := func(mem []byte) {
		for i := 32; i < len(mem); i++ {
			mem[i] = 0xff
		}
	}
	for _, id := range []int32{vm.HelperProbeReadStr, vm.HelperProbeReadKernelStr, vm.HelperProbeReadUserStr} {
		mem := make([]byte, 64)
		copy(mem, "hello\x00junk")
		copy(mem[20:], "abcdefghijkl") // runs to the end of mem's first 32 bytes, unterminated
		fill(mem)
		// Success: the length with the NUL; dst past the NUL untouched.
		if r0 := mustCall(t, h, id, mem, at(32), 16, at(0)); r0 != 6 || string(mem[32:38]) != "hello\x00" || mem[38] != 0xff {
			t.Errorf("helper %d: r0 = %d, dst %q", id, r0, mem[32:48])
		}
		// Truncated: size bytes, the last one NUL.
		fill(mem)
		if r0 := mustCall(t, h, id, mem, at(32), 3, at(0)); r0 != 3 || string(mem[32:35]) != "he\x00" {
			t.Errorf("helper %d truncated: r0 = %d, dst %q", id, r0, mem[32:36])
		}
		// A bad source: -EFAULT and the whole of dst zeroed.
		fill(mem)
		if r0 := mustCall(t, h, id, mem, at(32), 16, 16); r0 != eFAULT || !bytes.Equal(mem[32:48], make([]byte, 16)) {
			t.Errorf("helper %d bad source: r0 = %#x, dst % x", id, r0, mem[32:48])
		}
	}
	// A string that runs off the end of its region faults part-way.
	mem := make([]byte, 40)
	copy(mem[36:], "abcd")
	if r0 := mustCall(t, h, vm.HelperProbeReadStr, mem, at(0), 16, at(36)); r0 != eFAULT || !bytes.Equal(mem[:16], make([]byte, 16)) {
		t.Errorf("string off the end of memory: r0 = %#x, dst % x", r0, mem[:16])
	}
	// Exactly filling the region with its NUL last is fine.
	copy(mem[36:], "abc\x00")
	if r0 := mustCall(t, h, vm.HelperProbeReadStr, mem, at(0), 16, at(36)); r0 != 4 || string(mem[:4]) != "abc\x00" {
		t.Errorf("string ending at the end of memory: r0 = %#x, dst %q", r0, mem[:4])
	}
}

func TestStrtol(t *testing.T) {
	const (
		maxI = uint64(math.MaxInt64)
		minI = uint64(1) << 63
	)
	h := vm.KernelHelpers(vm.HelperConfig{})
	for _, tc := range []struct {
		in      string
		len     int // -1: len(in)
		flags   uint64
		signed  bool
		ret     uint64
		wantRes uint64
	}{
		{"123", -1, 10, true, 3, 123},
		{"  -42xyz", -1, 0, true, 5, uint64(math.MaxUint64 - 41)},
		{"\t\n+5", -1, 0, true, eINVAL, 0}, // no '+' in the kernel's grammar
		{"\xa07", -1, 0, true, 2, 7},       // the kernel's isspace has Latin-1 NBSP
		{"0x1f", -1, 0, true, 4, 31},
		{"0X1F", -1, 16, true, 4, 31},
		{"1f", -1, 16, true, 2, 31},
		{"0xg", -1, 0, true, 1, 0}, // base 0: "0x" without a hex digit is octal 0
		{"0xg", -1, 16, true, eINVAL, 0},
		{"017", -1, 0, true, 3, 15},
		{"089", -1, 0, true, 1, 0},
		{"089", -1, 10, true, 3, 89},
		{"777", -1, 8, true, 3, 511},
		{"", 0, 10, true, eINVAL, 0},
		{"   ", -1, 0, true, eINVAL, 0},
		{"-", -1, 0, true, eINVAL, 0},
		{"- 5", -1, 0, true, eINVAL, 0},
		{"abc", -1, 10, true, eINVAL, 0},
		{"12", -1, 2, true, eINVAL, 0},
		{"12", -1, 0x20 | 10, true, eINVAL, 0},
		{"12345", 3, 10, true, 3, 123},
		{"12\x0034", -1, 10, true, 2, 12},
		{"9223372036854775807", -1, 10, true, 19, maxI},
		{"9223372036854775808", -1, 10, true, eRANGE, 0},
		{"-9223372036854775808", -1, 10, true, 20, minI},
		{"-9223372036854775809", -1, 10, true, eRANGE, 0},
		{"-0", -1, 10, true, 2, 0},
		{"18446744073709551615", -1, 10, false, 20, math.MaxUint64},
		{"18446744073709551616", -1, 10, false, eRANGE, 0},
		{"ffffffffffffffff", -1, 16, false, 16, math.MaxUint64},
		{"1ffffffffffffffff", -1, 16, false, eRANGE, 0},
		{"-1", -1, 10, false, eINVAL, 0},
		{"-0", -1, 10, false, eINVAL, 0},
		{" 42", -1, 0, false, 3, 42},
		// Only 63 bytes after the sign are looked at.
		{"  " + strings.Repeat("0", 70) + "1", -1, 10, false, 65, 0},
		{"-" + strings.Repeat("0", 62) + "12", -1, 10, true, 64, uint64(math.MaxUint64)},
	} {
		n := tc.len
		if n < 0 {
			n = len(tc.in)
		}
		mem := make([]byte, 8+len(tc.in)+1)
		for i := range 8 {
			mem[i] = 0xaa
		}
		copy(mem[8:], tc.in)
		id := int32(vm.HelperStrtoul)
		if tc.signed {
			id = vm.HelperStrtol
		}
		r0 := mustCall(t, h, id, mem, at(8), uint64(n), tc.flags, at(0))
		res := binary.LittleEndian.Uint64(mem)
		if r0 != tc.ret || res != tc.wantRes {
			t.Errorf("strto%s(%q, %d, %#x) = %#x, *res = %#x; want %#x, %#x", map[bool]string{true: "l", false: "ul"}[tc.signed],
				tc.in, n, tc.flags, r0, res, tc.ret, tc.wantRes)
		}
	}
}

// snprintfCall runs bpf_snprintf(str, size, fmt, data, 8*len(args)) with
// the format and a string arena in memory, and returns r0 and the output.
// Arguments equal to strArg+i are replaced by the address of strs[i].
const strArg = 0xf00000000000

func snprintfCall(t *testing.T, format string, size int, strs []string, args ...uint64) (uint64, string) {
	t.Helper()
	mem := make([]byte, 2048)
	copy(mem[256:], format+"\x00")
	off := 512
	addrs := map[uint64]uint64{}
	for i, s := range strs {
		copy(mem[off:], s)
		addrs[strArg+uint64(i)] = at(off)
		off += len(s) + 1
	}
	for i, a := range args {
		if v, ok := addrs[a]; ok {
			a = v
		}
		binary.LittleEndian.PutUint64(mem[128+8*i:], a)
	}
	data := at(128)
	if len(args) == 0 {
		data = 0
	}
	r0 := mustCall(t, vm.KernelHelpers(vm.HelperConfig{}), vm.HelperSnprintf, mem, at(0), uint64(size), at(256), data, uint64(8*len(args)))
	out := mem[:size]
	if i := bytes.IndexByte(out, 0); i >= 0 {
		out = out[:i]
	}
	return r0, string(out)
}

func TestSnprintf(t *testing.T) {
	neg := func(v int64) uint64 { return uint64(v) }
	ip := string([]byte{192, 168, 0, 1})
	ip6 := string([]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	for _, tc := range []struct {
		format string
		strs   []string
		args   []uint64
		want   string
	}{
		{"plain", nil, nil, "plain"},
		{"100%%", nil, nil, "100%"},
		{"%d %i %u %x %X", nil, []uint64{neg(-1), neg(-2), neg(-1), 0x1_0000_00ab, 0xab}, "-1 -2 4294967295 ab AB"},
		{"%ld %lu %lx", nil, []uint64{neg(-1), neg(-1), neg(-1)}, "-1 18446744073709551615 ffffffffffffffff"},
		{"%lld %llu %llx", nil, []uint64{minInt64, 1 << 40, 0xabc}, "-9223372036854775808 1099511627776 abc"},
		{"%5d|%-5d|%05d|%+d|% d|%+u|%08x", nil, []uint64{7, 7, 7, 7, 7, 7, 0xbeef}, "    7|7    |00007|+7| 7|7|0000beef"},
		{"%-4d|%05d", nil, []uint64{neg(-3), neg(-3)}, "-3  |-0003"},
		{"%c%c%3c", nil, []uint64{'o', 'k', '!'}, "ok  !"},
		{"[%s] [%5s] [%-5s]", []string{"hi", "ab", "cd"}, []uint64{strArg, strArg + 1, strArg + 2}, "[hi] [   ab] [cd   ]"},
		{"%s.", nil, []uint64{8}, "."}, // an unreadable string prints as empty
		{"%pks %pus", []string{"k", "u"}, []uint64{strArg, strArg + 1}, "k u"},
		{"%p %px %pK", nil, []uint64{0x1234, 0xabc, 1}, "0000000000001234 0000000000000abc 0000000000000001"},
		{"%ps %pS %pB", nil, []uint64{0x10, 0x20, 0x30}, "0x10 0x20 0x30"},
		{"%pI4 %pi4", []string{ip}, []uint64{strArg, strArg}, "192.168.0.1 192.168.000.001"},
		{"%pI6 %pi6", []string{ip6}, []uint64{strArg, strArg}, "2001:0db8:0000:0000:0000:0000:0000:0001 20010db8000000000000000000000001"},
		{"%d%d%d%d%d%d%d%d%d%d%d%d", nil, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2}, "123456789012"},
	} {
		r0, got := snprintfCall(t, tc.format, 200, tc.strs, tc.args...)
		if got != tc.want || r0 != uint64(len(tc.want)+1) {
			t.Errorf("snprintf(%q) = %d, %q; want %d, %q", tc.format, r0, got, len(tc.want)+1, tc.want)
		}
	}
	// Truncation: str_size bytes with a NUL, r0 the untruncated length + 1.
	if r0, got := snprintfCall(t, "abcdef", 4, nil); r0 != 7 || got != "abc" {
		t.Errorf("truncated snprintf = %d, %q", r0, got)
	}
	// Widths are clamped (to 65536) so that a program cannot make the VM
	// allocate without bound.
	if r0, got := snprintfCall(t, "%99999999999d", 4, nil, 5); r0 != 65537 || got != "   " {
		t.Errorf("huge width: %d, %q", r0, got)
	}
	if r0, _ := snprintfCall(t, "abcdef", 0, nil); r0 != 7 {
		t.Errorf("snprintf into 0 bytes = %d", r0)
	}
	for _, tc := range []struct {
		format string
		args   []uint64
		want   uint64
	}{
		{"%q", []uint64{1}, eINVAL},
		{"%d", nil, eINVAL},            // more specifiers than arguments
		{"%d %d", []uint64{1}, eINVAL}, // likewise
		{"%.2d", []uint64{1}, eINVAL},  // no precision
		{"%hd", []uint64{1}, eINVAL},   // no h
		{"%lllu", []uint64{1}, eINVAL}, // at most ll
		{"%ls", []uint64{1}, eINVAL},
		{"%sx", []uint64{1}, eINVAL}, // %s must not be followed by an alphanumeric
		{"%pa", []uint64{1}, eINVAL},
		{"%pI5", []uint64{1}, eINVAL},
		{"tab\tok %d\n", []uint64{1}, 0}, // whitespace is allowed
		{"bell\a", nil, eINVAL},          // other control characters are not
		{"trailing %", []uint64{1}, eINVAL},
	} {
		r0, _ := snprintfCall(t, tc.format, 64, nil, tc.args...)
		if tc.want == 0 {
			if int64(r0) <= 0 {
				t.Errorf("snprintf(%q) = %#x, want success", tc.format, r0)
			}
		} else if r0 != tc.want {
			t.Errorf("snprintf(%q) = %#x, want %#x", tc.format, r0, tc.want)
		}
	}
	// data_len must be a multiple of 8 and at most 12 arguments.
	h := vm.KernelHelpers(vm.HelperConfig{})
	mem := make([]byte, 256)
	copy(mem[128:], "x\x00")
	for _, n := range []uint64{4, 13 * 8} {
		if r0 := mustCall(t, h, vm.HelperSnprintf, mem, at(0), 16, at(128), at(0), n); r0 != eINVAL {
			t.Errorf("snprintf with data_len %d = %#x, want -EINVAL", n, r0)
		}
	}
	if r0 := mustCall(t, h, vm.HelperSnprintf, mem, at(0), 16, at(128), 0, 8); r0 != eINVAL {
		t.Errorf("snprintf with NULL data = %#x, want -EINVAL", r0)
	}
	// Strings share the kernel's 512-byte argument buffer.
	long := strings.Repeat("a", 400)
	r0, got := snprintfCall(t, "%s|%s", 1000, []string{long, long}, strArg, strArg+1)
	if want := long + "|" + long[:110]; got != want || r0 != uint64(len(want)+1) {
		t.Errorf("two long strings: %d, %d bytes; want %d bytes", r0, len(got), len(want))
	}
	if r0, _ := snprintfCall(t, "%s%s%c", 1000, []string{strings.Repeat("b", 600), "c"}, strArg, strArg+1, 'x'); r0 != eNOSPC {
		t.Errorf("arguments overflowing the buffer: %#x, want -ENOSPC", r0)
	}
}

const minInt64 = uint64(1) << 63

func TestTracePrintk(t *testing.T) {
	var out bytes.Buffer
	h := vm.KernelHelpers(vm.HelperConfig{TracePrintk: &out})
	mem := make([]byte, 256)
	format := "pid %d comm %s x=%llx\n\x00"
	copy(mem, format)
	copy(mem[128:], "bash\x00")
	r0 := mustCall(t, h, vm.HelperTracePrintk, mem, at(0), uint64(len(format)), 42, at(128), 0xabcdef)
	want := "pid 42 comm bash x=abcdef\n"
	if out.String() != want || r0 != uint64(len(want)) {
		t.Errorf("trace_printk wrote %q, returned %d; want %q, %d", out.String(), r0, want, len(want))
	}

	out.Reset()
	for _, tc := range []struct {
		format string
		size   int
	}{
		{"%d %d %d %d\x00", 0},  // at most 3 arguments
		{"no nul", 0},           // fmt_size must include a NUL
		{"abc\x00", 3},          // likewise, within fmt_size
		{"ctl\x01\x00", 0},      // unprintable
		{"%s%z\x00", 0},         // unknown conversion
		{"high\xc3\xa9\x00", 0}, // not ASCII
	} {
		copy(mem, tc.format)
		size := tc.size
		if size == 0 {
			size = len(tc.format)
		}
		if r0 := mustCall(t, h, vm.HelperTracePrintk, mem, at(0), uint64(size), 1, 2, 3); r0 != eINVAL {
			t.Errorf("trace_printk(%q, %d) = %#x, want -EINVAL", tc.format, size, r0)
		}
	}
	if out.Len() != 0 {
		t.Errorf("failed trace_printk calls wrote %q", out.String())
	}

	// Output is capped at the kernel's 1023 bytes; r0 is the full length.
	copy(mem[128:], strings.Repeat("z", 100)+"\x00")
	format = "%s%s%s" + strings.Repeat(".", 900) + "\x00"
	big := make([]byte, 1024)
	copy(big, format)
	copy(big[1000:], "0123456789\x00")
	r0 = mustCall(t, h, vm.HelperTracePrintk, big, at(0), uint64(len(format)), at(1000), at(1000), at(1000))
	if r0 != 930 || out.Len() != 930 {
		t.Errorf("trace_printk of 930 bytes: r0 %d, wrote %d", r0, out.Len())
	}
	out.Reset()
	copy(big, "%s%s"+strings.Repeat("-", 1010)+"\x00")
	mem2 := append(big, []byte("0123456789\x00")...)
	r0 = mustCall(t, h, vm.HelperTracePrintk, mem2, at(0), 1015, at(1024), at(1024), 0)
	if r0 != 1030 || out.Len() != 1023 {
		t.Errorf("trace_printk of 1030 bytes: r0 %d, wrote %d; want 1030, 1023", r0, out.Len())
	}

	// Without a writer, output is discarded but the result is the same.
	r0 = mustCall(t, vm.KernelHelpers(vm.HelperConfig{}), vm.HelperTracePrintk, []byte("hi %d\x00"), at(0), 6, 7)
	if r0 != 4 {
		t.Errorf("trace_printk with no writer = %d, want 4", r0)
	}
}

func TestLoopArguments(t *testing.T) {
	h := vm.KernelHelpers(vm.HelperConfig{})
	// A callback that is not one of the program's functions stops it.
	if _, err := callHelper(t, h, vm.HelperLoop, nil, 1, 0, 0, 0); err == nil || !strings.Contains(err.Error(), "is not the address of a function") {
		t.Errorf("bpf_loop with a bad callback: %v", err)
	}
	// Flags and too many loops fail as in the kernel, before any call.
	if r, err := callHelper(t, h, vm.HelperLoop, nil, 1, 0, 0, 1); err != nil || int64(r) != -22 {
		t.Errorf("bpf_loop with flags: %d, %v; want -EINVAL", int64(r), err)
	}
	if r, err := callHelper(t, h, vm.HelperLoop, nil, 1<<23+1, 0, 0, 0); err != nil || int64(r) != -7 {
		t.Errorf("bpf_loop with 1<<23+1 loops: %d, %v; want -E2BIG", int64(r), err)
	}
}

func TestHostTask(t *testing.T) {
	task := vm.HostTask()
	if task.PID == 0 || task.TGID != task.PID || task.Comm == "" {
		t.Errorf("HostTask() = %+v", task)
	}
}

// printkProg builds a program that puts format (NUL added) and str on the
// stack and calls bpf_trace_printk(format, len, a1, a2, a3), where an
// argument equal to strArg is the address of str. It returns the helper's
// result. The same bytecode runs in the VM and, as XDP, in the kernel.
func printkProg(format, str string, args [3]uint64) asm.Instructions {
	var insns asm.Instructions
	put := func(s string, top int16) int16 { // stores s, 8-aligned, ending at fp+top
		b := []byte(s + "\x00")
		for len(b)%8 != 0 {
			b = append(b, 0)
		}
		start := top - int16(len(b))
		for i := 0; i < len(b); i += 8 {
			insns = append(insns,
				asm.LoadImm(asm.R1, int64(binary.LittleEndian.Uint64(b[i:])), asm.DWord),
				asm.StoreMem(asm.R10, start+int16(i), asm.R1, asm.DWord))
		}
		return start
	}
	strOff := put(str, 0)
	fmtOff := put(format, strOff)
	insns = append(insns,
		asm.Mov.Reg(asm.R1, asm.R10),
		asm.Add.Imm(asm.R1, int32(fmtOff)),
		asm.Mov.Imm(asm.R2, int32(len(format)+1)))
	for i, a := range args {
		r := asm.R3 + asm.Register(i)
		if a == strArg {
			insns = append(insns, asm.Mov.Reg(r, asm.R10), asm.Add.Imm(r, int32(strOff)))
		} else {
			insns = append(insns, asm.LoadImm(r, int64(a), asm.DWord))
		}
	}
	return append(insns, asm.FnTracePrintk.Call(), asm.Return())
}

// TestTracePrintkMatchesKernel runs the same trace_printk calls in the VM
// and in the kernel (BPF_PROG_TEST_RUN of an XDP program, whose 32-bit
// return value is the helper's result) and compares: the kernel decides
// which formats are valid and how long their output is.
func TestTracePrintkMatchesKernel(t *testing.T) {
	kerneltest.Require(t)
	ip := string([]byte{10, 0, 0, 1})
	for _, tc := range []struct {
		format, str string
		args        [3]uint64
	}{
		{"plain\n", "", [3]uint64{}},
		{"%d %u %x", "", [3]uint64{uint64(math.MaxUint64), uint64(math.MaxUint64), 0xabc}},
		{"%ld %lu %llx", "", [3]uint64{uint64(math.MaxUint64), uint64(math.MaxUint64), 1 << 40}},
		{"%5d|%-6d|%07x", "", [3]uint64{1, 2, 3}},
		{"%+d|% d|%+u", "", [3]uint64{1, 2, 3}},
		{"%s|%8s|%-8s", "hello", [3]uint64{strArg, strArg, strArg}},
		{"%pks %c%c", "kern", [3]uint64{strArg, 'a', 'b'}},
		{"%pI4 %pi4", ip, [3]uint64{strArg, strArg}},
		{"%p %px %pK", "", [3]uint64{0x1234, 0x5678, 0}},
		{"100%% %i", "", [3]uint64{7}},
		{"%d %d %d %d", "", [3]uint64{1, 2, 3}},
		{"%q", "", [3]uint64{1}},
		{"%.2d", "", [3]uint64{1}},
		{"%hd", "", [3]uint64{1}},
		{"%lllu", "", [3]uint64{1}},
		{"%sx", "str", [3]uint64{strArg}},
		{"%pa", "", [3]uint64{1}},
		{"bell\a", "", [3]uint64{}},
		{"tab\t%d\n", "", [3]uint64{9}},
		{"trailing %", "", [3]uint64{}},
	} {
		insns := printkProg(tc.format, tc.str, tc.args)
		p, err := vm.LoadInstructions(insns)
		if err != nil {
			t.Fatalf("%q: %v", tc.format, err)
		}
		var out bytes.Buffer
		r0, err := p.Run(make([]byte, 64), vm.RunOptions{Helpers: vm.KernelHelpers(vm.HelperConfig{TracePrintk: &out})})
		if err != nil {
			t.Fatalf("%q in the VM: %v", tc.format, err)
		}
		kp, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.XDP, License: "GPL", Instructions: insns})
		if err != nil {
			t.Fatalf("%q: kernel load: %v", tc.format, err)
		}
		kr0, err := kp.Run(&ebpf.RunOptions{Data: make([]byte, 64)})
		kp.Close()
		if err != nil {
			t.Fatalf("%q: kernel run: %v", tc.format, err)
		}
		t.Logf("trace_printk(%q) = %d in both", tc.format, int32(kr0))
		if uint32(r0) != kr0 {
			t.Errorf("trace_printk(%q): VM %d (%q), kernel %d", tc.format, int32(r0), out.String(), int32(kr0))
		}
	}
}

// bpf_loop runs its callback with the index until it returns non-zero.
func TestLoopHelper(t *testing.T) {
	// main: r6 = &sum on the stack; bpf_loop(10, cb, r6, 0); r0 = result << 32 | sum
	// cb(i, ctx): *ctx += i; return i == 4
	insns := asm.Instructions{
		asm.StoreImm(asm.RFP, -8, 0, asm.Word),
		asm.Mov.Imm(asm.R7, 0),
		asm.StoreMem(asm.RFP, -16, asm.R7, asm.DWord),
		asm.Mov.Imm(asm.R1, 10),
		asm.Instruction{OpCode: asm.LoadImmOp(asm.DWord), Dst: asm.R2, Src: asm.PseudoFunc, Constant: -1}.WithReference("cb"),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, -16),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnLoop.Call(),
		asm.LSh.Imm(asm.R0, 32),
		asm.LoadMem(asm.R1, asm.RFP, -16, asm.DWord),
		asm.Or.Reg(asm.R0, asm.R1),
		asm.Return(),
		asm.LoadMem(asm.R3, asm.R2, 0, asm.DWord).WithSymbol("cb"),
		asm.Add.Reg(asm.R3, asm.R1),
		asm.StoreMem(asm.R2, 0, asm.R3, asm.DWord),
		asm.Mov.Imm(asm.R0, 0),
		asm.JNE.Imm(asm.R1, 4, "out"),
		asm.Mov.Imm(asm.R0, 1),
		asm.Return().WithSymbol("out"),
	}
	p, err := vm.LoadInstructions(insns)
	if err != nil {
		t.Fatal(err)
	}
	r0, err := p.Run(nil, vm.RunOptions{Helpers: vm.KernelHelpers(vm.HelperConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	// Iterations 0..4 ran (5 of them); the sum is 0+1+2+3+4.
	if iters, sum := r0>>32, r0&0xffffffff; iters != 5 || sum != 10 {
		t.Errorf("bpf_loop: %d iterations, sum %d; want 5 and 10", iters, sum)
	}
}
