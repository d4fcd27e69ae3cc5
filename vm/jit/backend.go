package jit

import (
	"fmt"
	"runtime"

	"github.com/wagglebpf/waggle/vm/internal/jitabi"
)

// Assembly is the output of a back end: position-independent machine code
// and what Go needs to run it.
type Assembly struct {
	Arch  string         // GOARCH name of the machine code
	Text  []byte         // the code; offset 0 is the entry sequence
	Start uint32         // offset of the first BPF instruction's code
	Exits []jitabi.Exit  // the exit table (jitabi.State.ExitID indexes it)
	PCs   []int32        // offset where each BPF instruction's code starts; -1 for lddw second slots
	Notes map[int]string // optional comments by offset, for listings (stubs, exits)
	// CoarseBudget is set when the code accounts the budget coarsely
	// (asked for with jitabi's Options.CoarseBudget, and implemented by
	// the back end; see jitabi's package comment).
	CoarseBudget bool
	// UsesProofs is set when some accesses are made without checks
	// because the verifier proved them (jitabi.Program.Proven); Returns
	// then maps each native offset where a local call returns to the pc
	// there, for Go to read the call frames (see jitabi.ProofCode).
	UsesProofs bool
	Returns    map[uint32]int32
	// Lookahead is set when the code accounts the budget exactly with
	// charges deferred and checked ahead by Bias (see jitabi's Budget
	// section): its ExitBudget exits are places where the interpreter can
	// take the run over, and its other exits may owe charges (Exit.Owed).
	Lookahead bool
	Bias      int64
}

// backend is one architecture's code generator.
type backend struct {
	// compile translates p.
	compile func(p *jitabi.Program, opts jitabi.Options) (*Assembly, error)
	// disasm decodes the instruction at text[off:], whose address is
	// pc, and returns its text and length (at least 1, also for bytes
	// that do not decode).
	disasm func(text []byte, off int, pc uint64) (string, int)
}

// backends by GOARCH name. Code generators register themselves in plain
// Go files that build everywhere, with a package-level
//
//	var _ = register("amd64", &backend{...})
//
// (package-level initializers all run before the init below reads them).
var backends = map[string]*backend{}

func register(arch string, b *backend) bool {
	backends[arch] = b
	return true
}

// enter is the trampoline of this architecture, set (var _ =
// setEnter(...)) in enter_<arch>.go; nil elsewhere. See the package
// comment for its contract.
var enter func(st *jitabi.State, code, resume uintptr)

func setEnter(f func(st *jitabi.State, code, resume uintptr)) bool {
	enter = f
	return true
}

// Supported reports whether programs run as native code on this machine:
// there is a back end for its architecture and a way to execute its code.
func Supported() bool {
	return enter != nil && execSupported && backends[runtime.GOARCH] != nil
}

// Arches returns the architectures that code can be generated for (and
// listed with [Listing]) on any host.
func Arches() []string {
	var a []string
	for name := range backends {
		a = append(a, name)
	}
	return a
}

func backendFor(arch string) (*backend, error) {
	if arch == "" {
		arch = runtime.GOARCH
	}
	b := backends[arch]
	if b == nil {
		return nil, fmt.Errorf("jit: no back end for %s", arch)
	}
	return b, nil
}

func init() {
	if Supported() {
		jitabi.Compile = func(p *jitabi.Program, opts jitabi.Options) (jitabi.Code, error) {
			return load(p, opts)
		}
	}
}
