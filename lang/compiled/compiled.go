// Package compiled reads and writes compiled tracing programs: the .wgl
// files that `waggle trace --compile -o prog.wgl` writes and that
// `waggle run prog.wgl`, `waggle trace prog.wgl` or an agent on another
// machine run later, without the script's compiler.
//
// A [Program] is everything lang/driver needs to load, attach, run and
// print a script exactly as `waggle trace` does: the bytecode and maps
// (a *codegen.Program the driver runs unchanged, so local and remote runs
// share one path), the probes and where they attach, the printf formats,
// the types of what maps and records hold, the source text for messages,
// the arguments bound at compile time, and the [Assumptions]: the facts
// of the compiling machine that the bytecode depends on.
//
// # What is bound when
//
// As in bpftrace, positional parameters ($1, $#), named arguments
// (getopt), -p PID (a filter compiled into every probe), -k (helper error
// checks), --unsafe, the script's config block and every constant are
// compiled in. What the runner decides: -f json, -o, -q, -c (cpid is a
// global set at run time), -v and --dry-run.
//
// Field offsets of kernel structs are not fixed: each carries a CO-RE
// relocation (lang/codegen's Reloc) that is recomputed against the BTF
// of the kernel the program is loaded on. Everything else the compiler
// read from the compiling machine is listed in [Assumptions] and checked
// against the target by [Program.Check].
//
// # File format
//
// A file is a 12-byte header, [Magic] (8 bytes) then the format version
// as a little-endian uint32, followed by one JSON document. JSON because
// every language reads it (the agent's clients need not be written in Go),
// Go's decoder is hardened against hostile input, and a file can be read
// with `tail -c +13 prog.wgl | jq`. Inside it, bytecode is in the
// kernel's own instruction encoding (little-endian) and C types in the
// kernel's BTF format, both base64, so that nothing is re-invented for
// either; script text that is not UTF-8 (printf("\xff")) is written as
// {"base64": "..."} where a JSON string could not hold it. An ELF object
// was the other candidate: cilium/ebpf cannot write one, and probes,
// formats and printed types are not ELF notions, so libbpf could not have
// run it anyway.
//
// A reader refuses files of another version with an error that says
// which, and documents with fields it does not know: any change to the
// document is a new version.
package compiled

import (
	"github.com/wagglebpf/waggle/lang/codegen"
)

// Magic starts every compiled program. The first byte is not ASCII, so a
// script is never mistaken for one; \r\n and \x1a catch transfers that
// mangle line ends or stop at a DOS end-of-file, as PNG's signature does.
const Magic = "\x89WGL\r\n\x1a\n"

// Version is the format version this package writes and reads.
const Version = 1

// HeaderSize is the length of the magic and the version.
const HeaderSize = len(Magic) + 4

// Program is a compiled script and what running it needs.
type Program struct {
	// Code is the compiled script: bytecode, maps, probes and the tables
	// that print what the programs send. Of a decoded program, Code.Info
	// holds only what running needs: Config, Params, NamedArgs, Unsafe,
	// and Instances without their probe bodies (each Instance's Probe and
	// Point carry their spans, for messages, and the attach point as
	// written; Format and Proto are not stored).
	Code *codegen.Program
	// File and Source are the script, for messages ("stdin" for -e).
	File   string
	Source []byte
	// Params are the positional parameters compiled in ($1 is Params[0]).
	Params []string
	// NamedArgs are the named arguments (-- --name=value) compiled in.
	NamedArgs map[string]string
	// PID is -p, compiled into every probe but BEGIN and END; 0 for none.
	PID int
	// Unsafe is --unsafe: the program may call system() and signal(),
	// and a runner must allow them too.
	Unsafe bool
	// HelperErrors is -k: failed probe reads are reported at run time.
	HelperErrors bool
	// Assumes lists what the programs take from the compiling machine.
	Assumes Assumptions

	decoded bool
}

// Decoded reports whether p was read from a file (Decode), rather than
// compiled on this machine: only then do its assumptions need checking.
func (p *Program) Decoded() bool { return p.decoded }
