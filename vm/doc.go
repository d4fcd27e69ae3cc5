// Package vm is a user-space eBPF runtime: it decodes and validates bytecode
// (RFC 9669, instruction set level v4) and runs it in an interpreter that
// cannot crash or corrupt the Go process that embeds it.
//
// A program sees a small virtual address space made of regions: a stack of
// 512 bytes per call frame, the memory passed to [Program.Run] (its address
// is in r1, its length in r2), and regions that helpers add through
// [Env.AddRegion]. Every load, store and atomic operation is checked against
// the region that holds its address; a bad access stops the program with a
// [*RunError] naming the instruction and the address. Addresses are virtual
// on purpose: a program never learns where the Go heap is, and a pointer it
// forges can only ever reach memory the embedder gave it.
//
// Bytecode is decoded once, in [Load], into a compact array of pre-validated
// instructions; the interpreter is then a single switch per instruction with
// no allocation, so it runs several hundred million instructions per second.
//
// A [*Program] is immutable after loading and may be run by several
// goroutines at once; each run has its own registers, stack and regions.
//
// Maps ([NewMap]) follow the kernel's semantics and are shared between
// programs and Go; [MapHelpers] and [KernelHelpers] are the kernel's helpers
// by id; [NewXDPContext], [NewSkBuffContext] and [RawContext] lay out
// program contexts; [LoadCollection] loads a whole clang-built object with
// its maps and globals. [LoadVerified] and [LoadCollection] first prove a
// program safe for its program type with waggle's static verifier (package
// verifier) and refuse it with a [*VerifyError] when the proof fails, as the
// kernel does; [Load] and [LoadInstructions] rely on the run-time checks
// alone. Not yet here: CO-RE relocations for the VM, the
// JIT (issue 7).
package vm
