package vm

import (
	"errors"
	"fmt"
)

// Causes of a [*RunError], for use with [errors.Is].
var (
	// ErrOutOfBounds means a load, store or atomic touched memory outside
	// every region, or a store hit a read-only region.
	ErrOutOfBounds = errors.New("out-of-bounds memory access")
	// ErrMisaligned means an atomic operation's address was not a multiple
	// of its size (the ISA requires natural alignment).
	ErrMisaligned = errors.New("misaligned atomic")
	// ErrBudget means the program would have executed more instructions
	// than RunOptions.MaxSteps allows.
	ErrBudget = errors.New("instruction budget exceeded")
	// ErrCallDepth means a bpf-to-bpf call would nest deeper than
	// MaxCallDepth frames.
	ErrCallDepth = errors.New("call depth exceeded")
	// ErrUnknownHelper means the program called a helper id that
	// RunOptions.Helpers does not provide.
	ErrUnknownHelper = errors.New("unknown helper")
	// ErrFellOff means control ran past the last instruction, which a
	// verified program never does.
	ErrFellOff = errors.New("fell off the end of the program")
	// ErrNotSupported marks valid bytecode that this runtime cannot run
	// yet (map references, kfunc calls).
	ErrNotSupported = errors.New("not supported")
)

// RunError is the error [Program.Run] returns when a program stops
// abnormally. Its message names the instruction index so that it can be
// matched with a disassembly, and, for memory faults, the address, the
// access size and the region nearest to the address, which is usually
// enough to see an off-by-one at a glance.
type RunError struct {
	PC   int    // index of the failing instruction, in 8-byte slots
	Addr uint64 // faulting address (memory faults only)
	Size int    // access size in bytes (memory faults only)
	Err  error  // the cause: one of the Err variables, or a helper's error
	msg  string
}

func (e *RunError) Error() string { return fmt.Sprintf("vm: pc %d: %s", e.PC, e.msg) }

// Unwrap returns the cause, so that errors.Is(err, ErrOutOfBounds) works.
func (e *RunError) Unwrap() error { return e.Err }

// LoadError is the error [Load] returns for bytecode that is structurally
// invalid. PC is the index of the offending 8-byte slot.
type LoadError struct {
	PC  int
	Msg string
	Err error // ErrNotSupported for valid but unsupported forms, else nil
}

func (e *LoadError) Error() string { return fmt.Sprintf("vm: pc %d: %s", e.PC, e.Msg) }

// Unwrap returns the cause, if any.
func (e *LoadError) Unwrap() error { return e.Err }
