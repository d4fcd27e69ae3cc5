package jit

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/wagglebpf/waggle/internal/nativedisasm"
	"github.com/wagglebpf/waggle/vm"
	"github.com/wagglebpf/waggle/vm/internal/jitabi"
)

// Options configure compilation.
type Options struct {
	// ConstantBlinding hides the program's immediates from the generated
	// code: each is emitted XORed with a random key and recovered at run
	// time, as the kernel does with bpf_jit_harden, so that bytecode from
	// an untrusted source cannot plant chosen instruction bytes in
	// executable memory. It costs an instruction or two per immediate.
	ConstantBlinding bool
	// CoarseBudget trades exact instruction counts for speed: the
	// instruction budget (RunOptions.MaxSteps) is charged only where
	// control enters a loop, a function or a call's return point, by the
	// longest path from there to the next such point, instead of on every
	// branch. A run still never executes more instructions than its
	// budget, and a run that neither engine stops for its budget has the
	// interpreter's r0, memory, map effects and error; but Result.Steps of
	// a successful run is an upper bound of the instructions executed
	// (exact when no branch is taken), a run that the interpreter
	// completes near its budget may stop with vm.ErrBudget, at the entry of
	// the loop or function it was in, and where the budget runs out the two
	// may stop at different points. Back ends that do not implement it
	// (arm64, for now) account exactly; [Code.CoarseBudget] tells.
	CoarseBudget bool
}

func (o Options) abi() jitabi.Options {
	return jitabi.Options{Blind: o.ConstantBlinding, CoarseBudget: o.CoarseBudget}
}

// Code is a program compiled to native code. It is bound to its program:
// runs of the program with Engine vm.JIT use it.
type Code struct {
	prog *vm.Program
	exec *execCode
}

// Compile compiles p for this machine and binds the code to p, replacing
// code compiled before (a program run with Engine vm.JIT is otherwise
// compiled with default options on its first run). It fails with an error
// when [Supported] is false.
func Compile(p *vm.Program, opts Options) (*Code, error) {
	if !Supported() {
		return nil, fmt.Errorf("jit: native code is not supported on %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	c, err := load(jitabi.Source(p), opts.abi())
	if err != nil {
		return nil, err
	}
	jitabi.Bind(p, c)
	return &Code{prog: p, exec: c}, nil
}

// Run runs the program as native code; see [vm.Program.Run].
func (c *Code) Run(mem []byte, opts vm.RunOptions) (uint64, error) {
	opts.Engine = vm.JIT
	return c.prog.Run(mem, opts)
}

// Execute runs the program as native code; see [vm.Program.Execute].
func (c *Code) Execute(mem []byte, opts vm.RunOptions) (vm.Result, error) {
	opts.Engine = vm.JIT
	return c.prog.Execute(mem, opts)
}

// CoarseBudget reports whether the code accounts the budget coarsely
// (see [Options].CoarseBudget).
func (c *Code) CoarseBudget() bool { return c.exec.asm.CoarseBudget }

// Program returns the program the code was compiled from.
func (c *Code) Program() *vm.Program { return c.prog }

// Text returns a copy of the machine code.
func (c *Code) Text() []byte { return append([]byte(nil), c.exec.asm.Text...) }

// Disassemble writes a listing of the machine code, each BPF
// instruction's code under its pc.
func (c *Code) Disassemble(w io.Writer) error {
	return writeListing(w, c.exec.asm, uint64(uintptr(unsafe.Pointer(unsafe.SliceData(c.exec.mem)))))
}

// Close unbinds the code from its program (later JIT runs compile afresh)
// and unmaps it. It must not be called while the program runs.
func (c *Code) Close() error {
	jitabi.Bind(c.prog, nil)
	c.exec.release()
	return nil
}

// disasmFor decodes one instruction of arch's code for a listing.
func disasmFor(arch string) func(text []byte, off int, pc uint64) (string, int) {
	return func(text []byte, off int, pc uint64) (string, int) {
		s, n, err := nativedisasm.One(arch, text, off, pc, nil)
		if err != nil {
			return "(" + err.Error() + ")", len(text) - off
		}
		return s, n
	}
}

// Listing generates code for p for arch ("" for this machine's; any
// architecture with a back end works on any host) and returns its
// disassembly, as [Code.Disassemble] writes it.
func Listing(p *vm.Program, arch string, opts Options) (string, error) {
	b, err := backendFor(arch)
	if err != nil {
		return "", err
	}
	a, err := b.compile(jitabi.Source(p), opts.abi())
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	err = writeListing(&sb, a, 0)
	return sb.String(), err
}

// execCode is code in executable memory; it implements jitabi.Code.
type execCode struct {
	asm  *Assembly
	mem  []byte
	base uintptr
	m    *mapping
}

// mapping owns executable memory and unmaps it once.
type mapping struct {
	once sync.Once
	mem  []byte
}

func (m *mapping) free() { m.once.Do(func() { unmapExec(m.mem) }) }

func load(p *jitabi.Program, opts jitabi.Options) (*execCode, error) {
	b, err := backendFor("")
	if err != nil {
		return nil, err
	}
	if enter == nil {
		return nil, errors.New("jit: no trampoline for this architecture")
	}
	a, err := b.compile(p, opts)
	if err != nil {
		return nil, err
	}
	mem, err := mapExec(a.Text)
	if err != nil {
		return nil, err
	}
	c := &execCode{asm: a, mem: mem, base: uintptr(unsafe.Pointer(unsafe.SliceData(mem))), m: &mapping{mem: mem}}
	// The code is unmapped when nothing can run it any more: a program
	// holds its code, and a run holds the program.
	runtime.AddCleanup(c, (*mapping).free, c.m)
	return c, nil
}

func (c *execCode) Enter(st *jitabi.State, resume uint32) {
	enter(st, c.base, c.base+uintptr(resume))
}

func (c *execCode) Start() uint32 { return c.asm.Start }

func (c *execCode) Entry() (func(st *jitabi.State, code, resume uintptr), uintptr) {
	return enter, c.base
}

func (c *execCode) CoarseBudget() bool { return c.asm.CoarseBudget }

func (c *execCode) Exits() []jitabi.Exit { return c.asm.Exits }

func (c *execCode) UsesProofs() bool { return c.asm.UsesProofs }

func (c *execCode) Lookahead() (int64, bool) { return c.asm.Bias, c.asm.Lookahead }

func (c *execCode) ReturnPC(ret uint64) (int, bool) {
	if ret < uint64(c.base) {
		return 0, false
	}
	pc, ok := c.asm.Returns[uint32(ret-uint64(c.base))]
	return int(pc), ok
}

// Release unmaps the code now instead of when it becomes unreachable.
func (c *execCode) Release() { c.release() }

func (c *execCode) release() { c.m.free() }

// blindKey returns a random key for constant blinding.
func blindKey() uint32 {
	var b [4]byte
	rand.Read(b[:])
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24 | 1
}

// writeListing disassembles a, giving addresses from base.
func writeListing(w io.Writer, a *Assembly, base uint64) error {
	b, err := backendFor(a.Arch)
	if err != nil {
		return err
	}
	starts := map[int]int{}
	for pc, off := range a.PCs {
		if off >= 0 {
			if _, ok := starts[int(off)]; !ok {
				starts[int(off)] = pc
			}
		}
	}
	var sb strings.Builder
	for off := 0; off < len(a.Text); {
		if pc, ok := starts[off]; ok {
			fmt.Fprintf(&sb, "; pc %d\n", pc)
		}
		if note, ok := a.Notes[off]; ok {
			fmt.Fprintf(&sb, "; %s\n", note)
		}
		text, n := b.disasm(a.Text, off, base+uint64(off))
		fmt.Fprintf(&sb, "  %6x:  %-30x %s\n", off, a.Text[off:off+n], text)
		off += n
	}
	_, err = io.WriteString(w, sb.String())
	return err
}
