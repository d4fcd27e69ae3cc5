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
// packet loads, faults and budget checks. The trampoline is entered as
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
