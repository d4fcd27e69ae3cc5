// Package jit compiles programs of package vm to native code and runs them
// behind vm's own API: importing it makes vm.RunOptions{Engine: vm.JIT}
// run native code, and [Compile] compiles a program ahead of its first run
// with explicit [Options]. The interpreter stays the reference: native
// code gives the same r0, the same memory and map effects, the same
// errors (same *vm.RunError, same pc and address) and even the same
// instruction count, and vm falls back to the interpreter where there is
// no back end.
//
// # Structure
//
// The arch-neutral part is here: the public API (jit.go), executable
// memory (mapped writable, filled, then made executable and never both;
// unmapped when the code becomes unreachable or is closed; exec_*.go), the
// analysis that every back end needs (labels.go) and the registry of back
// ends (backend.go). A back end is a code generator that turns a
// jitabi.Program into an [Assembly] plus a disassembler, in plain Go so
// that it builds and is tested on every host; the architecture's
// trampoline (enter_<arch>.s, with its Go declaration in enter_<arch>.go)
// is what makes the generated code runnable on that architecture.
// amd64_*.go is the x86-64 back end; arm64_*.go the AArch64 one.
//
// # The contract
//
// Package vm/internal/jitabi documents what native code must do: the
// state block, the region table, BPF call frames, the exit table and the
// budget. In short, native code keeps BPF registers in machine registers,
// translates every memory access through the run's region table (leaving
// with an exit, never faulting, when an address is outside it), keeps the
// BPF call stack in the state block, and leaves to Go for helpers, legacy
// packet loads, faults and budget checks.
//
// Two things make the code fast where it matters. Accesses of a program
// that waggle's verifier accepted (vm.LoadVerified, vm.LoadCollection)
// that it proved to stay in the context, the packet or the stack are made
// with no check at all, as the kernel's JIT makes them: Go makes sure,
// before each run and after each helper call, that the context's packet
// pointers lie inside the run's memory, which is what those proofs need
// in the VM, and lets the interpreter run (or take the run over) when they
// do not. And exact code checks the budget ahead: it owes the charges of
// jumps that fall through and makes them at once, where control merges or
// leaves, checking only there that enough is left for what comes before
// the next check; when the run's budget gets that low the interpreter
// finishes it, so that counts and budget errors stay the interpreter's.
//
// The trampoline is entered as
//
//	enter(st *jitabi.State, code, resume uintptr)
//
// with code the address of the first byte of the generated text (where
// each back end puts its entry sequence: load the state, jump to resume)
// and resume the absolute address to continue at. The trampoline runs on
// the goroutine stack, with a frame large enough for everything native
// code keeps there (the amd64 back end keeps a small scratch area: see
// amd64.go); native code returns to it with a plain return.
package jit
