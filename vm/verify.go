package vm

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/wagglebpf/waggle/verifier"
)

// The verifier gate.
//
// [Load] and [LoadInstructions] only check a program's structure: whatever
// it does at run time is bounded by the interpreter's checks, so a bad
// program faults instead of corrupting anything. [LoadVerified] and
// [LoadCollection] also prove the program correct with waggle's static
// verifier (package verifier) for its program type before they load it,
// and refuse it with a [*VerifyError] when the proof fails, as the kernel
// refuses a program its verifier rejects. The interpreter keeps its
// run-time checks either way. The JIT (package vm/jit) makes the context,
// packet and stack accesses of a verified program that the verifier
// proved in bounds without checks, as the kernel's JIT does, for runs
// whose context's packet pointers lie inside the memory passed to Run (a
// context from NewXDPContext or NewSkBuffContext); other runs, and the
// rest of a run once a helper moves those pointers elsewhere, keep every
// check, so that a bad access is still an error and never a fault.

// VerifyError is the error of a program that waggle's verifier refused.
// Report.Rejection says which instruction failed, why, and on which path.
type VerifyError struct {
	Program string           // the program's name; "" for a program loaded on its own
	Section string           // its ELF section, if any
	Type    ebpf.ProgramType // the type it was verified as
	Report  *verifier.Report // the verifier's report; Report.Rejection is set
}

func (e *VerifyError) Error() string {
	what := "program"
	if e.Program != "" {
		what += " " + e.Program
	}
	if e.Section != "" {
		what += fmt.Sprintf(" (section %s)", e.Section)
	}
	return fmt.Sprintf("vm: %s rejected by the verifier as %s: %v", what, e.Type, e.Report.Rejection)
}

// Unwrap returns the verifier's *verifier.Rejection.
func (e *VerifyError) Unwrap() error {
	if e.Report == nil || e.Report.Rejection == nil {
		return nil
	}
	return e.Report.Rejection
}

// LoadVerified verifies insns as a program of type typ with waggle's
// verifier and, if it is accepted, loads it like
// [LoadInstructionsWithMaps]. Map references are resolved by name in maps,
// for the verifier (which checks each helper call against the map's type
// and sizes) and for the program. A refused program is a [*VerifyError];
// other errors are malformed input. The program's [Program.Verified]
// returns the verifier's report, and its runs are given a context of at
// least Report.ContextBytes (see [Program.Run]).
func LoadVerified(insns asm.Instructions, typ ebpf.ProgramType, maps map[string]Map, opts verifier.Options) (*Program, error) {
	infos := make(map[string]verifier.MapInfo, len(maps))
	for name, m := range maps {
		infos[name] = mapInfo(m.Spec())
	}
	rep, err := verifier.Verify(insns, typ, infos, opts)
	if err != nil {
		return nil, fmt.Errorf("vm: verifier: %w", err)
	}
	if !rep.Accepted {
		return nil, &VerifyError{Type: typ, Report: rep}
	}
	p, err := LoadInstructionsWithMaps(insns, maps)
	if err != nil {
		return nil, err
	}
	p.verified = rep
	return p, nil
}

// verifySpec verifies a program of a collection spec as the kernel would
// see it, for LoadCollection.
func verifySpec(spec *ebpf.CollectionSpec, name string, opts verifier.Options) (*verifier.Report, error) {
	ps := spec.Programs[name]
	rep, err := verifier.VerifySpec(spec, ps, opts)
	if err != nil {
		return nil, fmt.Errorf("vm: program %s (section %s): verifier: %w", name, ps.SectionName, err)
	}
	if !rep.Accepted {
		return nil, &VerifyError{Program: name, Section: ps.SectionName, Type: ps.Type, Report: rep}
	}
	return rep, nil
}

func mapInfo(s MapSpec) verifier.MapInfo {
	return verifier.MapInfo{Type: ebpf.MapType(s.Type), KeySize: s.KeySize, ValueSize: s.ValueSize, MaxEntries: s.MaxEntries}
}

// Verified returns the verifier's report for a program that
// [LoadVerified] or [LoadCollection] verified, nil for one loaded without
// verification.
func (p *Program) Verified() *verifier.Report { return p.verified }

// contextBytes is the smallest memory a run may hand the program: what the
// verifier proved it may read of its context.
func (p *Program) contextBytes() int {
	if p.verified == nil {
		return 0
	}
	return p.verified.ContextBytes
}
