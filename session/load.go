package session

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/wagglebpf/waggle/attach"
)

// DefaultLogLines is how many lines of a verifier log an error shows
// when the whole log was not asked for.
const DefaultLogLines = 20

// LoadError is a program the kernel refused to load.
type LoadError struct {
	Program string
	Section string
	Type    ebpf.ProgramType
	// Log is the verifier's log, if it produced one.
	Log []string
	// FullLog shows all of Log instead of its last lines.
	FullLog bool
	Err     error
}

func (e *LoadError) Unwrap() error { return e.Err }

// Reason says why the kernel refused the program, without naming it.
func (e *LoadError) Reason() string {
	var ve *ebpf.VerifierError
	tracing := e.Type == ebpf.Tracing || e.Type == ebpf.LSM
	switch {
	case errors.As(e.Err, &ve) && len(e.Log) > 0:
		return fmt.Sprintf("rejected by the kernel verifier: %v", ve.Cause)
	case attach.IsPermission(e.Err) && tracing && privileged():
		return fmt.Sprintf("the kernel refused to load it (%v); fentry, fexit and tp_btf programs need BPF trampolines, which this kernel does not allow", rootCause(e.Err))
	}
	return e.unprefixed(explainPermission(rootCause(e.Err)).Error())
}

// unprefixed drops the "program NAME: " that cilium/ebpf puts before its
// errors (a root cause that joins several errors keeps it), since Error
// names the program already.
func (e *LoadError) unprefixed(msg string) string {
	for {
		rest, ok := strings.CutPrefix(msg, "program "+e.Program+": ")
		if !ok {
			return msg
		}
		msg = rest
	}
}

func (e *LoadError) Error() string {
	var b strings.Builder
	var ve *ebpf.VerifierError
	if errors.As(e.Err, &ve) && len(e.Log) > 0 {
		fmt.Fprintf(&b, "program %s (section %s) was %s", e.Program, e.Section, e.Reason())
	} else {
		fmt.Fprintf(&b, "program %s (section %s): %s", e.Program, e.Section, e.Reason())
	}
	if len(e.Log) == 0 {
		return b.String()
	}
	lines := e.Log
	if !e.FullLog && len(lines) > DefaultLogLines {
		fmt.Fprintf(&b, "\nlast %d of %d lines of the verifier log (-v shows all):", DefaultLogLines, len(lines))
		lines = lines[len(lines)-DefaultLogLines:]
	} else {
		b.WriteString("\nverifier log:")
	}
	for _, l := range lines {
		b.WriteString("\n  ")
		b.WriteString(l)
	}
	return b.String()
}

func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// Load creates the maps and loads the programs of spec into the kernel.
// A rejected program comes back as a *LoadError naming it.
func Load(spec *ebpf.CollectionSpec, fullLog bool) (*ebpf.Collection, error) {
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{})
	if err == nil {
		return coll, nil
	}
	prog := failedProgram(spec, err)
	if prog == "" {
		return nil, explainPermission(err)
	}
	ps := spec.Programs[prog]
	le := &LoadError{Program: prog, Section: ps.SectionName, Type: ps.Type, FullLog: fullLog, Err: err}
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		le.Log = trimLog(ve.Log)
	}
	return nil, le
}

// failedProgram finds which program an error from NewCollection is about;
// cilium/ebpf prefixes such errors with "program NAME:".
func failedProgram(spec *ebpf.CollectionSpec, err error) string {
	msg := err.Error()
	names := make([]string, 0, len(spec.Programs))
	for name := range spec.Programs {
		names = append(names, name)
	}
	// Longest first, so that "prog_a" does not claim "prog_ab".
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for _, name := range names {
		if strings.HasPrefix(msg, "program "+name+":") {
			return name
		}
	}
	return ""
}

func trimLog(log []string) []string {
	for len(log) > 0 && strings.TrimSpace(log[len(log)-1]) == "" {
		log = log[:len(log)-1]
	}
	return log
}
