package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/wagglebpf/waggle/verifier"
)

// verifyBench is one program that BenchmarkVerify verifies with waggle's
// verifier and loads into the kernel's.
type verifyBench struct {
	name string
	spec func(b *testing.B) (*ebpf.CollectionSpec, string) // the collection and its program's name
}

// verifyBenches: the largest programs of testdata, then generated
// straight-line socket filters of 1k, 10k and 100k instructions.
var verifyBenches = []verifyBench{
	{"uprobe_on_enter", fixtureProgram("uprobe.bpf.o", "on_enter")},
	{"openat_perf", fixtureProgram("openat_perf.bpf.o", "trace_openat_perf")},
	{"openat", fixtureProgram("openat.bpf.o", "trace_openat")},
	{"net_sock_count", fixtureProgram("net.bpf.o", "sock_count")},
	{"straight_1k", straightLine(1_000)},
	{"straight_10k", straightLine(10_000)},
	{"straight_100k", straightLine(100_000)},
}

func fixtureProgram(file, prog string) func(b *testing.B) (*ebpf.CollectionSpec, string) {
	return func(b *testing.B) (*ebpf.CollectionSpec, string) {
		spec, err := ebpf.LoadCollectionSpec(filepath.Join("..", "testdata", file))
		if err != nil {
			b.Fatal(err)
		}
		for name := range spec.Programs {
			if name != prog {
				delete(spec.Programs, name)
			}
		}
		if spec.Programs[prog] == nil {
			b.Fatalf("%s has no program %s", file, prog)
		}
		return spec, prog
	}
}

// straightLine returns a socket filter of n instruction slots with no
// loop: r7 += 1 and a stack spill and fill of r7, in turn, with a lookup
// in an array map and a NULL check every 100 slots. Both outcomes of the
// NULL check leave r0 = 0, so that the two paths meet in equal states and
// either verifier prunes one at once: the work is linear in n.
func straightLine(n int) func(b *testing.B) (*ebpf.CollectionSpec, string) {
	return func(b *testing.B) (*ebpf.CollectionSpec, string) {
		insns := asm.Instructions{
			asm.Mov.Imm(asm.R6, 0),
			asm.Mov.Imm(asm.R7, 0),
			asm.StoreImm(asm.RFP, -16, 0, asm.Word), // the map key
		}
		size := func() int { return int(insns.Size() / asm.InstructionSize) }
		for i := 0; size() < n-2; i++ {
			left := n - 2 - size()
			switch {
			case i%50 == 49 && left >= 10:
				insns = append(insns,
					asm.LoadMapPtr(asm.R1, 0).WithReference("m"),
					asm.Mov.Reg(asm.R2, asm.RFP),
					asm.Add.Imm(asm.R2, -16),
					asm.FnMapLookupElem.Call(),
					asm.JEq.Imm(asm.R0, 0, fmt.Sprintf("null%d", i)),
					asm.LoadMem(asm.R0, asm.R0, 0, asm.DWord),
					asm.Add.Reg(asm.R6, asm.R0),
					asm.Mov.Imm(asm.R0, 0),
				)
				// The jump lands on the next instruction, named below.
				insns = append(insns, asm.Add.Imm(asm.R7, 1).WithSymbol(fmt.Sprintf("null%d", i)))
			case i%2 == 0 || left < 2:
				insns = append(insns, asm.Add.Imm(asm.R7, 1))
			default:
				insns = append(insns,
					asm.StoreMem(asm.RFP, -8, asm.R7, asm.DWord),
					asm.LoadMem(asm.R7, asm.RFP, -8, asm.DWord))
			}
		}
		insns = append(insns, asm.Mov.Imm(asm.R0, 0), asm.Return())
		if size() != n {
			b.Fatalf("generated %d slots, want %d", size(), n)
		}
		name := fmt.Sprintf("straight_%d", n)
		return &ebpf.CollectionSpec{
			Maps: map[string]*ebpf.MapSpec{
				"m": {Name: "m", Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1},
			},
			Programs: map[string]*ebpf.ProgramSpec{
				name: {Name: name, Type: ebpf.SocketFilter, License: "GPL", Instructions: insns},
			},
		}, name
	}
}

// kernelVerify is the kernel verifier's figures for one program: the
// median "verification time" its log reports over kernelLoads loads, and
// the instructions it processed.
type kernelVerify struct {
	usec      float64
	processed int
	err       error // why there are no figures
}

const kernelLoads = 9

var (
	kernelMu      sync.Mutex
	kernelResults = map[string]kernelVerify{}
	verifTimeRe   = regexp.MustCompile(`verification time (\d+) usec`)
	processedRe   = regexp.MustCompile(`processed (\d+) insns`)
)

// kernelVerifyTime loads the program into the kernel kernelLoads times
// with the verifier's statistics log, once per benchmark run (the
// benchmark function runs several times while it sizes b.N).
func kernelVerifyTime(name string, spec *ebpf.CollectionSpec) kernelVerify {
	kernelMu.Lock()
	defer kernelMu.Unlock()
	if r, ok := kernelResults[name]; ok {
		return r
	}
	r := measureKernel(spec)
	kernelResults[name] = r
	return r
}

func measureKernel(spec *ebpf.CollectionSpec) kernelVerify {
	if os.Geteuid() != 0 {
		return kernelVerify{err: errors.New("needs root to load BPF programs")}
	}
	var times []float64
	var processed int
	for range kernelLoads {
		coll, err := ebpf.NewCollectionWithOptions(spec.Copy(), ebpf.CollectionOptions{
			Programs: ebpf.ProgramOptions{LogLevel: ebpf.LogLevelStats, LogSizeStart: 1 << 16},
		})
		if err != nil {
			return kernelVerify{err: fmt.Errorf("the kernel refuses it: %w", err)}
		}
		var log string
		for _, p := range coll.Programs {
			log = p.VerifierLog
		}
		coll.Close()
		m := verifTimeRe.FindStringSubmatch(log)
		if m == nil {
			return kernelVerify{err: fmt.Errorf("no verification time in the kernel's log %q", log)}
		}
		us, _ := strconv.ParseFloat(m[1], 64)
		times = append(times, us)
		if m := processedRe.FindStringSubmatch(log); m != nil {
			processed, _ = strconv.Atoi(m[1])
		}
	}
	return kernelVerify{usec: median(times), processed: processed}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkVerify verifies each program of verifyBenches with waggle's
// verifier (ns/op, B/op and allocs/op are its own; waggle-us is the median
// of the iterations) and reports, side by side, the kernel verifier's
// median "verification time" for the same program (kernel-us, from
// ebpf.LogLevelStats) and their ratio. The kernel figures need root and
// are left out, with the reason logged, without it.
func BenchmarkVerify(b *testing.B) {
	for _, vb := range verifyBenches {
		b.Run(vb.name, func(b *testing.B) {
			spec, name := vb.spec(b)
			ps := spec.Programs[name]
			rep, err := verifier.VerifySpec(spec, ps, verifier.Options{})
			if err != nil {
				b.Fatal(err)
			}
			if !rep.Accepted {
				b.Skipf("waggle's verifier rejects %s: %v", name, rep.Rejection)
			}
			k := kernelVerifyTime(vb.name, spec)

			b.ReportAllocs()
			var times []float64
			for b.Loop() {
				start := time.Now()
				if _, err := verifier.VerifySpec(spec, ps, verifier.Options{}); err != nil {
					b.Fatal(err)
				}
				times = append(times, float64(time.Since(start).Nanoseconds())/1e3)
			}
			ours := median(times)
			b.ReportMetric(float64(ps.Instructions.Size()/asm.InstructionSize), "insns")
			b.ReportMetric(float64(rep.InsnsProcessed), "processed")
			b.ReportMetric(ours, "waggle-us")
			if k.err != nil {
				b.Logf("kernel verifier: skipped: %v", k.err)
				return
			}
			b.ReportMetric(float64(k.processed), "kernel-processed")
			b.ReportMetric(k.usec, "kernel-us")
			b.ReportMetric(k.usec/ours, "kernel/waggle")
		})
	}
}
