package codegen

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/lang/parser"
	"github.com/wagglebpf/waggle/lang/sema"
)

// compile runs the front end and the code generator on a script that
// needs no kernel (BEGIN, END, interval probes).
func compile(t *testing.T, src string) *Program {
	t.Helper()
	prog, err := parser.Parse("test.bt", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	info, err := sema.Check(prog, sema.Options{NCPUs: 2})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(info, Options{NCPUs: 2})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func insns(p *Program, i int) asm.Instructions {
	return p.Spec.Programs[p.Probes[i].Program].Instructions
}

// Deep expressions need more values at once than there are callee-saved
// registers: the allocator must spill pool registers to the stack.
func TestRegisterSpills(t *testing.T) {
	p := compile(t, `BEGIN { $a=1;$b=2;$c=3;$d=4;$e=5;$f=6;$g=7;$h=8;
		printf("%d\n", (($a+$b)*($c+$d)) - (($e+$f)*($g+$h)) + ((($a*$b)+($c*$d))*(($e*$f)+($g*$h)))); }`)
	spills := 0
	for _, in := range insns(p, 0) {
		if in.OpCode.Class().IsStore() && in.Dst == asm.RFP && (in.Src == asm.R7 || in.Src == asm.R8 || in.Src == asm.R9) {
			spills++
		}
	}
	// Constants go to the variables without registers; one store is the
	// printf argument, the others are spills (three for this expression).
	if spills < 3 {
		t.Errorf("%d stores of pool registers: the expression should have spilled", spills)
	}
	// A shallow expression needs no spill.
	p = compile(t, `BEGIN { printf("%d\n", 1 + 2); }`)
	for _, in := range insns(p, 0) {
		if in.OpCode.Class().IsStore() && in.Dst == asm.RFP && (in.Src == asm.R8 || in.Src == asm.R9) {
			t.Errorf("a shallow expression used a second pool register: %v", in)
		}
	}
}

// The verifier refuses unreachable instructions: nothing is emitted after
// return, break, continue or exit() until the next label.
func TestNoCodeAfterJumps(t *testing.T) {
	p := compile(t, `BEGIN { return; printf("never\n"); } END { $i = 0; while ($i < 3) { $i++; break; $i = 9; } exit(); printf("no\n"); }`)
	for i := range p.Probes {
		prog := insns(p, i)
		for j := 0; j+1 < len(prog); j++ {
			if prog[j].OpCode.JumpOp() == asm.Ja && prog[j+1].Symbol() == "" {
				t.Errorf("%s: instruction %d follows an unconditional jump without a label:\n%v", p.Probes[i].Instance.Name, j+1, prog)
			}
		}
	}
	if strings.Contains(insns(p, 0).String(), "Ringbuf") {
		t.Error("the printf after return was generated")
	}
}

// The context is saved only when the program reads it.
func TestContextPrologue(t *testing.T) {
	p := compile(t, `BEGIN { @x = count(); } interval:s:1 { printf("%d\n", pid); }`)
	for i := range p.Probes {
		first := insns(p, i)[0]
		if first.Dst == ctxReg && first.Src == asm.R1 {
			t.Errorf("%s saves a context it never reads", p.Probes[i].Instance.Name)
		}
	}
}

func TestMapsAndKernelNames(t *testing.T) {
	p := compile(t, `BEGIN { @a_very_long_map_name_indeed[1] = count(); @a_very_long_map_name_indeed_too = 1; @ = hist(5); @s[comm, 1] = sum(2); }`)
	seen := map[string]bool{}
	for _, m := range p.Maps {
		if len(m.BPFName) > 15 {
			t.Errorf("%s: kernel name %q is longer than 15 bytes", m.Name, m.BPFName)
		}
		if seen[m.BPFName] {
			t.Errorf("kernel name %q used twice", m.BPFName)
		}
		seen[m.BPFName] = true
		spec := p.Spec.Maps[m.BPFName]
		switch m.Name {
		case "@a_very_long_map_name_indeed", "@s":
			if spec.Type != ebpf.PerCPUHash {
				t.Errorf("%s: aggregation in a %v", m.Name, spec.Type)
			}
		case "@":
			// A hist without keys: the key is just the bucket index.
			if spec.KeySize != 8 || spec.Type != ebpf.PerCPUHash {
				t.Errorf("@: hist map key size %d type %v", spec.KeySize, spec.Type)
			}
		case "@a_very_long_map_name_indeed_too":
			if spec.Type != ebpf.Hash || spec.KeySize != 8 || spec.ValueSize != 8 {
				t.Errorf("scalar map: %+v", spec)
			}
		}
	}
	if p.Spec.Maps[EventsMap].Type != ebpf.RingBuf {
		t.Errorf("events map is a %v", p.Spec.Maps[EventsMap].Type)
	}
}

// Every instruction has a source position, for verifier messages.
func TestSourcesCoverEveryInstruction(t *testing.T) {
	p := compile(t, `BEGIN { $x = 1; if ($x > 0) { @m[$x] = count(); } printf("%d\n", $x); }`)
	pr := p.Probes[0]
	off := 0
	for _, in := range insns(p, 0) {
		if _, ok := pr.Sources[off]; !ok {
			t.Errorf("instruction at %d has no source position", off)
		}
		off += int(in.Size() / asm.InstructionSize)
	}
}

// FuzzCompile: whatever the checker accepts, the code generator compiles
// without panicking. Seeds are the checker's (testdata/fuzz/FuzzCompile).
func FuzzCompile(f *testing.F) {
	f.Add([]byte(`BEGIN { @x[comm, 1] = count(); printf("%d %s\n", pid, comm); exit(); }`))
	f.Add([]byte(`interval:ms:10 { $x = 1; while ($x < 10) { $x++; if ($x == 5) { break; } } @h = hist($x); @l = lhist($x, 0, 10, 1); }`))
	f.Add([]byte(`BEGIN { $t = (1, "a", (2, "b")); print($t.2.1); @m[$t.0] = $t.1; delete(@m[1]); print(len(@m)); }`))
	f.Fuzz(func(t *testing.T, src []byte) {
		prog, err := parser.Parse("fuzz.bt", src)
		if err != nil {
			return
		}
		// Stay hermetic: only probes that need no kernel lookups.
		for _, p := range prog.Probes {
			for _, ap := range p.Attach {
				switch strings.ToLower(ap.Provider) {
				case "begin", "end", "interval", "i", "profile", "p":
				default:
					return
				}
			}
		}
		info, err := sema.Check(prog, sema.Options{NCPUs: 2})
		if err != nil {
			return
		}
		Compile(info, Options{NCPUs: 2})
	})
}
