package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/internal/conformance"
	"github.com/wagglebpf/waggle/internal/kerneltest"
	"github.com/wagglebpf/waggle/verifier"
	"github.com/wagglebpf/waggle/vm"
	"github.com/wagglebpf/waggle/vm/jit"
)

// vmBench is one program of bench/vm/ with the memory it runs over and
// the r0 it must return.
type vmBench struct {
	name string
	mem  func() []byte
	want uint64
	// reset restores mem between runs for programs that depend on its
	// starting contents (the sieve marks it).
	reset bool
}

var vmBenches = []vmBench{
	{name: "sieve", mem: func() []byte { return make([]byte, 1<<20) }, want: 82025, reset: true},
	{name: "memcpy", mem: func() []byte { return vmPattern(2 << 20) }, want: 1 << 20},
	{name: "strcmp", mem: func() []byte { return vmStrings(1 << 20) }, want: 1<<64 - 1}, // 'a' - 'b'
	{name: "switch", mem: func() []byte { return nil }, want: 4195874},
	{name: "log2", mem: func() []byte { return nil }, want: 620025},
	{name: "packet", mem: func() []byte { return vmPackets(1 << 20) }, want: 378636961},
}

// vmXDPSize is the input size of the XDP runs: an XDP test run's packet
// must fit in a page after 256 bytes of headroom and the skb_shared_info
// tailroom (3,520 bytes with 4 KiB pages); 3,456 is 27 packet slots and
// a multiple of 64 for memcpy.
const vmXDPSize = 3456

// vmSmallBenches are the programs of vmBenches over vmXDPSize bytes (the
// ones that read mem), for the like-for-like VM / kernel XDP comparison.
var vmSmallBenches = []vmBench{
	{name: "sieve", mem: func() []byte { return make([]byte, vmXDPSize) }, want: 482, reset: true},
	{name: "memcpy", mem: func() []byte { return vmPattern(vmXDPSize) }, want: vmXDPSize / 2},
	{name: "strcmp_kernel", mem: func() []byte { return vmStrings(vmXDPSize) }, want: 1<<64 - 1},
	{name: "switch", mem: func() []byte { return nil }, want: 4195874},
	{name: "log2", mem: func() []byte { return nil }, want: 620025},
	{name: "packet", mem: func() []byte { return vmPackets(vmXDPSize) }, want: 1527767},
}

func vmPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>9)
	}
	return b
}

// vmStrings is two n/2-byte strings that differ in their last byte.
func vmStrings(n int) []byte {
	half := n / 2
	b := make([]byte, 2*half)
	for i := range half - 1 {
		c := byte('a' + i%26)
		b[i], b[half+i] = c, c
	}
	b[half-2], b[2*half-2] = 'a', 'b'
	b[half-1], b[2*half-1] = 0, 0
	return b
}

// vmPackets is n bytes of 128-byte packet slots: IPv4/TCP with and
// without a VLAN tag and with IP options, and some UDP, IPv6 and ARP to
// skip. A shorter buffer is a prefix of a longer one.
func vmPackets(n int) []byte {
	r := rand.New(rand.NewPCG(4, 4))
	b := make([]byte, n)
	for p := 0; p < len(b); p += 128 {
		pkt := b[p : p+128]
		off := 12
		if r.IntN(4) == 0 {
			binary.BigEndian.PutUint16(pkt[off:], 0x8100)
			off += 4
		}
		kind := r.IntN(10)
		etype := uint16(0x0800)
		switch kind {
		case 0:
			etype = 0x86dd
		case 1:
			etype = 0x0806
		}
		binary.BigEndian.PutUint16(pkt[off:], etype)
		ip := pkt[off+2:]
		ihl := 5 + r.IntN(4)
		ip[0] = 0x40 | byte(ihl)
		ip[9] = 6
		if kind == 2 {
			ip[9] = 17
		}
		binary.BigEndian.PutUint16(ip[2:], uint16(ihl*4+20))
		tcp := ip[ihl*4:]
		binary.BigEndian.PutUint16(tcp[0:], uint16(r.IntN(65536)))
		binary.BigEndian.PutUint16(tcp[2:], uint16(r.IntN(65536)))
		tcp[12] = 5 << 4
	}
	return b
}

func vmProgram(tb testing.TB, name string) []byte {
	src, err := os.ReadFile(filepath.Join("vm", name+".s"))
	if err != nil {
		tb.Fatal(err)
	}
	code, err := conformance.Assemble(string(src))
	if err != nil {
		tb.Fatalf("%s.s: %v", name, err)
	}
	return code
}

// TestVMPrograms checks that each benchmark program runs in the VM and
// returns what it should, so that the benchmarks time correct code.
func TestVMPrograms(t *testing.T) {
	testVMPrograms(t, vmBenches)
	t.Run("small", func(t *testing.T) { testVMPrograms(t, vmSmallBenches) })
	t.Run("xdp", testVMXDPPrograms)
}

// testVMXDPPrograms checks that waggle's verifier accepts the XDP forms
// of the small memcpy and strcmp, which the verified benchmark modes time
// (it refuses the sieve's, as too long to follow, and the packet walk's,
// as the kernel does; switch and log2 read no memory), and that they
// return what they should in both engines over an XDP context.
func testVMXDPPrograms(t *testing.T) {
	for _, bc := range vmSmallBenches {
		if bc.name != "memcpy" && bc.name != "strcmp_kernel" {
			continue // refused (sieve, packet) or reading no memory
		}
		t.Run(bc.name, func(t *testing.T) {
			mem := bc.mem()
			p, err := vm.LoadVerified(vmXDPProgram(t, bc.name, len(mem)), ebpf.XDP, nil, verifier.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range []vm.Engine{vm.Interpreter, vm.JIT} {
				ctx, err := vm.NewXDPContext(vm.XDPMD{Packet: mem})
				if err != nil {
					t.Fatal(err)
				}
				res, err := p.Execute(ctx.Mem, vm.RunOptions{MaxSteps: 1 << 40, Engine: e})
				if err != nil {
					t.Fatal(err)
				}
				if res.R0 != bc.want {
					t.Fatalf("%v: r0 = %d, want %d", e, res.R0, bc.want)
				}
			}
		})
	}
}

func testVMPrograms(t *testing.T, benches []vmBench) {
	for _, bc := range benches {
		t.Run(bc.name, func(t *testing.T) {
			p, err := vm.Load(vmProgram(t, bc.name))
			if err != nil {
				t.Fatal(err)
			}
			res, err := p.Execute(bc.mem(), vm.RunOptions{MaxSteps: 1 << 40})
			if err != nil {
				t.Fatal(err)
			}
			if bc.want != 0 && res.R0 != bc.want {
				t.Fatalf("r0 = %d, want %d", res.R0, bc.want)
			}
			t.Logf("r0 = %d, %d instructions", res.R0, res.Steps)
		})
	}
}

// BenchmarkVM runs each program of bench/vm/ in the interpreter and the
// JIT and reports millions of eBPF instructions per second.
func BenchmarkVM(b *testing.B) {
	benchmarkVM(b, vmBenches, 1)
}

// BenchmarkVMSmall is BenchmarkVM over the vmXDPSize-byte inputs of
// BenchmarkVMKernelXDP.
func BenchmarkVMSmall(b *testing.B) {
	benchmarkVM(b, vmSmallBenches, 1)
}

// vmRepeat is the repeat count of BenchmarkVMSmallRepeat and of the
// kernel's test runs in BenchmarkVMKernelXDP.
const vmRepeat = 1000

// BenchmarkVMSmallRepeat is BenchmarkVMSmall with vm.RunOptions.Repeat
// set to vmRepeat, as BenchmarkVMKernelXDP runs the kernel's JIT: each
// call of Execute runs the program vmRepeat times over the same input, so
// that the cost of a call from Go is paid once for vmRepeat runs, as the
// cost of a bpf() call is in the kernel. ns/run is the time of one run.
// The sieve, which marks its input, is left out here as it is there.
func BenchmarkVMSmallRepeat(b *testing.B) {
	var benches []vmBench
	for _, bc := range vmSmallBenches {
		if !bc.reset {
			benches = append(benches, bc)
		}
	}
	benchmarkVM(b, benches, vmRepeat)
}

// vmModes are the ways benchmarkVM runs each program: the interpreter,
// the JIT (exact budget accounting, the default) and the JIT with
// jit.Options.CoarseBudget, each over the plain program; and the JIT,
// exact and coarse, over the program's XDP form loaded through waggle's
// verifier (see benchmarkVMRun).
var vmModes = []string{"interp", "jit", "jit-coarse", "jit-verified", "jit-verified-coarse"}

// benchmarkVM runs each program in each of vmModes, side by side:
// BenchmarkVM/<program>/<mode>. Every mode's M insn/s count the
// instructions the plain program executes over the input (the
// interpreter's exact count, not a coarse charge), so that they compare
// directly. The JIT modes skip where there is no JIT.
func benchmarkVM(b *testing.B, benches []vmBench, repeat int) {
	for _, bc := range benches {
		b.Run(bc.name, func(b *testing.B) {
			for _, mode := range vmModes {
				b.Run(mode, func(b *testing.B) { benchmarkVMRun(b, bc, mode, repeat) })
			}
		})
	}
}

// benchmarkVMRun times bc's program in one mode, repeat runs a call.
//
// The verified modes run the XDP form of the program (vmXDPProgram, what
// BenchmarkVMKernelXDP loads into the kernel), loaded with vm.LoadVerified
// as an XDP program and run over an XDP context (vm.NewXDPContext) that
// holds the input as its packet, so that the JIT makes the accesses that
// the verifier proved in bounds without checks, as the kernel's JIT does.
// They execute the XDP prologue's six instructions more than the plain
// program, which the M insn/s do not count, and skip when waggle's
// verifier refuses the program.
func benchmarkVMRun(b *testing.B, bc vmBench, mode string, repeat int) {
	e := vm.Interpreter
	if mode != "interp" {
		e = vm.JIT
		if !jit.Supported() {
			b.Skip("no JIT on this architecture")
		}
	}
	input := bc.mem()
	plain, err := vm.Load(vmProgram(b, bc.name))
	if err != nil {
		b.Fatal(err)
	}
	exact, err := plain.Execute(bytes.Clone(input), vm.RunOptions{MaxSteps: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	p, mem, pkt := plain, bytes.Clone(input), []byte(nil)
	if strings.HasPrefix(mode, "jit-verified") {
		if len(input) == 0 {
			b.Skip("reads no memory: the same code as the jit modes")
		}
		if p, err = vm.LoadVerified(vmXDPProgram(b, bc.name, len(input)), ebpf.XDP, nil, verifier.Options{}); err != nil {
			b.Skipf("%s as XDP: %v", bc.name, err)
		}
		ctx, err := vm.NewXDPContext(vm.XDPMD{Packet: input})
		if err != nil {
			b.Fatal(err)
		}
		mem, pkt = ctx.Mem, ctx.Packet()
	} else {
		pkt = mem
	}
	if e == vm.JIT {
		if _, err := jit.Compile(p, jit.Options{CoarseBudget: strings.HasSuffix(mode, "coarse")}); err != nil {
			b.Fatal(err)
		}
	}
	opts := vm.RunOptions{MaxSteps: 1 << 40, Engine: e, Repeat: repeat}
	var steps uint64
	for b.Loop() {
		if bc.reset {
			b.StopTimer()
			copy(pkt, input)
			b.StartTimer()
		}
		res, err := p.Execute(mem, opts)
		if err != nil {
			b.Fatal(err)
		}
		if bc.want != 0 && res.R0 != bc.want {
			b.Fatalf("r0 = %d, want %d", res.R0, bc.want)
		}
		steps += exact.Steps * uint64(repeat)
	}
	b.ReportMetric(float64(steps)/b.Elapsed().Seconds()/1e6, "Minsn/s")
	b.ReportMetric(float64(exact.Steps), "insn/op")
	if repeat > 1 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*repeat), "ns/run")
	}
}

// vmKernelProg loads code as a sleepable BPF_PROG_TYPE_SYSCALL program,
// whose test run gives r1 a pointer to the context bytes, as the VM gives
// r1 the address of mem.
func vmKernelProg(code []byte) (*ebpf.Program, error) {
	var insns asm.Instructions
	r := bytes.NewReader(code)
	for r.Len() > 0 {
		var ins asm.Instruction
		if err := ins.Unmarshal(r, binary.LittleEndian, "linux"); err != nil {
			return nil, err
		}
		insns = append(insns, ins)
	}
	return ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
		Type: ebpf.Syscall, Flags: unix.BPF_F_SLEEPABLE, License: "GPL", Instructions: insns,
	}, ebpf.ProgramOptions{LogSizeStart: 1 << 20})
}

// vmKernelTime is the mean wall time of one BPF_PROG_TEST_RUN of prog
// over ctx. Syscall programs accept no repeat count, so each run is its
// own bpf() call; the caller subtracts the time of an empty program.
func vmKernelTime(b *testing.B, prog *ebpf.Program, ctx []byte) (time.Duration, uint32) {
	opts := &ebpf.RunOptions{}
	if len(ctx) > 0 {
		opts.Context, opts.ContextOut = ctx, make([]byte, len(ctx))
	}
	r0, err := prog.Run(opts) // warm up
	if err != nil {
		b.Fatal(err)
	}
	const runs = 200
	start := time.Now()
	for range runs {
		if _, err := prog.Run(opts); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start) / runs, r0
}

// BenchmarkVMKernel runs the programs of bench/vm/ that the kernel's
// verifier accepts as syscall programs (same bytecode, same context
// bytes) through BPF_PROG_TEST_RUN, and reports the kernel JIT's speed in
// millions of instructions per second, counting the instructions the VM
// executes for the same input. Programs that index mem with a variable
// offset are refused (the verifier allows only constant context offsets)
// and are skipped with the verifier's reason.
func BenchmarkVMKernel(b *testing.B) {
	kerneltest.Require(b)
	empty, err := vmKernelProg([]byte{0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0})
	if err != nil {
		b.Fatal(err)
	}
	defer empty.Close()
	for _, bc := range vmBenches {
		b.Run(bc.name, func(b *testing.B) {
			code := vmProgram(b, bc.name)
			mem := bc.mem()
			if len(mem) > 0xffff {
				b.Skipf("%s needs %d bytes of context; a syscall program's test run takes at most 65535", bc.name, len(mem))
			}
			prog, err := vmKernelProg(code)
			if err != nil {
				var ve *ebpf.VerifierError
				if errors.As(err, &ve) {
					b.Skipf("the kernel rejects %s: %s", bc.name, strings.Join(ve.Log[max(0, len(ve.Log)-3):], " | "))
				}
				b.Skipf("the kernel rejects %s: %v", bc.name, err)
			}
			defer prog.Close()
			p, err := vm.Load(code)
			if err != nil {
				b.Fatal(err)
			}
			res, err := p.Execute(bytes.Clone(mem), vm.RunOptions{MaxSteps: 1 << 40})
			if err != nil {
				b.Fatal(err)
			}
			var total time.Duration
			for b.Loop() {
				base, _ := vmKernelTime(b, empty, mem)
				d, r0 := vmKernelTime(b, prog, mem)
				if r0 != uint32(res.R0) {
					b.Fatalf("kernel r0 = %#x, VM r0 = %#x", r0, res.R0)
				}
				total += d - base
			}
			per := total / time.Duration(b.N)
			b.ReportMetric(float64(res.Steps)/per.Seconds()/1e6, "Minsn/s")
			b.ReportMetric(float64(per.Nanoseconds()), "ns/run")
			b.ReportMetric(float64(res.Steps), "insn/op")
		})
	}
}

// hashLoopProgram counts 100,000 keys (i % 1024) into a hash map through
// the map helpers: lookup, then add in place or insert 1. r0 = the count
// of the last key.
func hashLoopProgram() asm.Instructions {
	return asm.Instructions{
		asm.Mov.Imm(asm.R6, 0), // i
		asm.StoreImm(asm.RFP, -16, 1, asm.Word),
		asm.StoreImm(asm.RFP, -12, 0, asm.Word),
		asm.Mov.Reg(asm.R7, asm.R6).WithSymbol("loop"),
		asm.And.Imm(asm.R7, 1023),
		asm.StoreMem(asm.RFP, -8, asm.R7, asm.DWord),
		asm.LoadMapPtr(asm.R1, 0).WithReference("counts"),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -8),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "insert"),
		asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
		asm.Add.Imm(asm.R1, 1),
		asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
		asm.Ja.Label("next"),
		asm.LoadMapPtr(asm.R1, 0).WithReference("counts").WithSymbol("insert"),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -8),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, -16),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnMapUpdateElem.Call(),
		asm.Add.Imm(asm.R6, 1).WithSymbol("next"),
		asm.JLT.Imm(asm.R6, 100000, "loop"),
		asm.LoadMapPtr(asm.R1, 0).WithReference("counts"),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -8),
		asm.FnMapLookupElem.Call(),
		asm.LoadMem(asm.R0, asm.R0, 0, asm.DWord),
		asm.Return(),
	}
}

// BenchmarkVMHashMap is the hash-map heavy loop: every tenth or so
// instruction is a helper call into the VM's hash map.
func BenchmarkVMHashMap(b *testing.B) {
	m, err := vm.NewMap(vm.MapSpec{Name: "counts", Type: vm.MapType(ebpf.Hash), KeySize: 8, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		b.Fatal(err)
	}
	p, err := vm.LoadInstructionsWithMaps(hashLoopProgram(), map[string]vm.Map{"counts": m})
	if err != nil {
		b.Fatal(err)
	}
	opts := vm.RunOptions{Helpers: vm.MapHelpers(), MaxSteps: 1 << 40}
	var steps uint64
	var r0 uint64
	for b.Loop() {
		res, err := p.Execute(nil, opts)
		if err != nil {
			b.Fatal(err)
		}
		steps += res.Steps
		r0 = res.R0
	}
	if r0 == 0 {
		b.Fatalf("r0 = %d", r0)
	}
	b.ReportMetric(float64(steps)/b.Elapsed().Seconds()/1e6, "Minsn/s")
	b.ReportMetric(float64(b.N)*100000/b.Elapsed().Seconds()/1e6, "Mlookups/s")
}

// vmXDPProgram is name's program as an XDP program over a packet of n
// bytes: a prologue loads data and data_end from the xdp_md context,
// refuses a packet shorter than n (one check, after which the verifier
// knows n bytes from data are readable and writable) and sets r1 = data,
// r2 = n, as the VM sets r1 = mem, r2 = len(mem); the body is the
// program's own, unchanged. Programs that do not read mem (n == 0) keep
// no prologue.
func vmXDPProgram(tb testing.TB, name string, n int) asm.Instructions {
	src, err := os.ReadFile(filepath.Join("vm", name+".s"))
	if err != nil {
		tb.Fatal(err)
	}
	text := string(src)
	if n > 0 {
		text = fmt.Sprintf(`ldxw %%r2, [%%r1+4]
ldxw %%r1, [%%r1+0]
mov %%r3, %%r1
add %%r3, %d
jgt %%r3, %%r2, xdp_short
mov %%r2, %d
`, n, n) + text + `
xdp_short:
mov %r0, 0
exit
`
	}
	code, err := conformance.Assemble(text)
	if err != nil {
		tb.Fatalf("%s.s (XDP): %v", name, err)
	}
	insns, err := vmInstructions(code)
	if err != nil {
		tb.Fatal(err)
	}
	return insns
}

func vmInstructions(code []byte) (asm.Instructions, error) {
	var insns asm.Instructions
	r := bytes.NewReader(code)
	for r.Len() > 0 {
		var ins asm.Instruction
		if err := ins.Unmarshal(r, binary.LittleEndian, "linux"); err != nil {
			return nil, err
		}
		insns = append(insns, ins)
	}
	return insns, nil
}

// BenchmarkVMKernelXDP runs every program of bench/vm/ as an XDP program
// (vmXDPProgram) over the vmXDPSize-byte inputs of BenchmarkVMSmall
// through BPF_PROG_TEST_RUN with a repeat count, whose duration the
// kernel measures around the runs alone. It reports the kernel JIT's
// speed in millions of instructions per second, counting the
// instructions the VM executes for the same input (not the prologue's
// six). The sieve marks its input, which the kernel does not restore
// between repeats, so it runs with repeat 1, once per bpf() call, and
// the kernel's own duration of each run is averaged.
func BenchmarkVMKernelXDP(b *testing.B) {
	kerneltest.Require(b)
	for _, bc := range vmSmallBenches {
		b.Run(bc.name, func(b *testing.B) {
			mem := bc.mem()
			n := len(mem)
			prog, err := ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
				Type: ebpf.XDP, License: "GPL", Instructions: vmXDPProgram(b, bc.name, n),
			}, ebpf.ProgramOptions{LogSizeStart: 1 << 20})
			if err != nil {
				var ve *ebpf.VerifierError
				if errors.As(err, &ve) {
					b.Skipf("the kernel rejects %s: %s", bc.name, strings.Join(ve.Log[max(0, len(ve.Log)-3):], " | "))
				}
				b.Skipf("the kernel rejects %s: %v", bc.name, err)
			}
			defer prog.Close()
			p, err := vm.Load(vmProgram(b, bc.name))
			if err != nil {
				b.Fatal(err)
			}
			res, err := p.Execute(bytes.Clone(mem), vm.RunOptions{MaxSteps: 1 << 40})
			if err != nil {
				b.Fatal(err)
			}
			if n == 0 {
				mem = make([]byte, 64) // an XDP test run needs a packet
			}
			repeat := vmRepeat
			if bc.reset {
				repeat = 1
			}
			var total time.Duration
			for b.Loop() {
				// Benchmark is BPF_PROG_TEST_RUN with Data and Repeat;
				// it returns the kernel's time per run.
				r0, d, err := prog.Benchmark(mem, repeat, nil)
				if err != nil {
					b.Fatal(err)
				}
				if r0 != uint32(res.R0) {
					b.Fatalf("kernel r0 = %#x, VM r0 = %#x", r0, res.R0)
				}
				total += d
			}
			per := total / time.Duration(b.N)
			b.ReportMetric(float64(res.Steps)/per.Seconds()/1e6, "Minsn/s")
			b.ReportMetric(float64(per.Nanoseconds()), "ns/run")
			b.ReportMetric(float64(res.Steps), "insn/op")
		})
	}
}

// BenchmarkVMCall measures the cost of calling a program from Go: an
// empty program (r0 = 0; exit) over no memory, in each engine; and, as
// .../<engine>-repeat, the cost of one more run within a call with
// vm.RunOptions.Repeat (ns/run).
func BenchmarkVMCall(b *testing.B) {
	for _, e := range []vm.Engine{vm.Interpreter, vm.JIT} {
		for _, repeat := range []int{1, vmRepeat} {
			name := e.String()
			if repeat > 1 {
				name += "-repeat"
			}
			b.Run(name, func(b *testing.B) {
				if e == vm.JIT && !jit.Supported() {
					b.Skip("no JIT on this architecture")
				}
				p, err := vm.Load([]byte{0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0})
				if err != nil {
					b.Fatal(err)
				}
				opts := vm.RunOptions{Engine: e, Repeat: repeat}
				if _, err := p.Run(nil, opts); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := p.Run(nil, opts); err != nil {
						b.Fatal(err)
					}
				}
				if repeat > 1 {
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*repeat), "ns/run")
				}
			})
		}
	}
}

// BenchmarkJITCompile measures how long the JIT takes to compile each
// program of bench/vm/ (code generation and mapping it executable), per
// 1,000 instructions.
func BenchmarkJITCompile(b *testing.B) {
	if !jit.Supported() {
		b.Skip("no JIT on this architecture")
	}
	progs := map[string][]byte{"mixed_10k": vmMixed(10000)}
	names := []string{}
	for _, bc := range vmBenches {
		progs[bc.name] = vmProgram(b, bc.name)
		names = append(names, bc.name)
	}
	for _, name := range append(names, "mixed_10k") {
		b.Run(name, func(b *testing.B) {
			p, err := vm.Load(progs[name])
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				c, err := jit.Compile(p, jit.Options{})
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
			per := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(per.Nanoseconds())/1e3/float64(p.Len())*1000, "us/1000insn")
			b.ReportMetric(float64(p.Len()), "insns")
		})
	}
}

// vmMixed is a straight program of about n instructions cycling through
// ALU, stack store and load, memory load and conditional jump forms, for
// the compile-time benchmark.
func vmMixed(n int) []byte {
	ins := func(op, regs byte, off int16, imm int32) []byte {
		b := []byte{op, regs, 0, 0, 0, 0, 0, 0}
		binary.LittleEndian.PutUint16(b[2:], uint16(off))
		binary.LittleEndian.PutUint32(b[4:], uint32(imm))
		return b
	}
	code := ins(0xb7, 0, 0, 0) // r0 = 0
	for i := 0; len(code)/8 < n-1; i++ {
		switch i % 6 {
		case 0:
			code = append(code, ins(0x07, 0, 0, int32(i))...) // r0 += i
		case 1:
			code = append(code, ins(0x7b, 0xa|0<<4, -8, 0)...) // *(u64 *)(r10-8) = r0
		case 2:
			code = append(code, ins(0x79, 2|0xa<<4, -8, 0)...) // r2 = *(u64 *)(r10-8)
		case 3:
			code = append(code, ins(0x2f, 0|2<<4, 0, 0)...) // r0 *= r2
		case 4:
			code = append(code, ins(0x15, 2, 1, 7)...) // if r2 == 7 goto +1
		case 5:
			code = append(code, ins(0xaf, 0|2<<4, 0, 0)...) // r0 ^= r2
		}
	}
	return append(code, ins(0x95, 0, 0, 0)...)
}
