// Command waggle-conformance-plugin runs one eBPF program in waggle's VM for
// the bpf_conformance runner (github.com/Alan-Jowett/bpf_conformance):
//
//	bpf_conformance_runner --test_file_directory ../shared/conformance \
//	    --plugin_path waggle-conformance-plugin
//
// The runner starts it as "waggle-conformance-plugin [MEMHEX] [options]" with
// the program on standard input as hex bytes (8 per instruction) and the
// program's memory, when the test has any, as the first argument, also hex
// bytes. The plugin prints r0 in hex and exits 0, or prints a message on
// standard error and exits 1. Helpers 0-5 are the suite's own.
// --engine jit runs the program as native code (where this architecture
// has a JIT), --engine interp (the default) in the interpreter.
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/wagglebpf/waggle/internal/conformance"
	"github.com/wagglebpf/waggle/vm"
	_ "github.com/wagglebpf/waggle/vm/jit" // the native engine, for --engine jit
)

const usage = `usage: waggle-conformance-plugin [MEMHEX] [--max-steps N] [--engine interp|jit] < PROGRAMHEX
Runs an eBPF program (hex bytes on stdin) in waggle's VM with memory MEMHEX
(hex bytes) and prints r0 in hex; the bpf_conformance runner's plugin protocol.`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "waggle-conformance-plugin: "+format+"\n", a...)
		return code
	}
	var memHex string
	haveMem := false
	maxSteps := uint64(0) // the VM's default budget
	engine := vm.Interpreter
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "--help":
			fmt.Fprintln(stdout, usage)
			return 0
		case a == "--elf":
			return fail(1, "ELF input (--elf) is not supported; run the runner without --elf to pass raw bytecode")
		case a == "--max-steps":
			if i+1 >= len(args) {
				return fail(2, "--max-steps needs a value")
			}
			i++
			n, err := strconv.ParseUint(args[i], 0, 64)
			if err != nil {
				return fail(2, "--max-steps %q: want a count of instructions", args[i])
			}
			maxSteps = n
		case a == "--engine":
			if i+1 >= len(args) {
				return fail(2, "--engine needs a value: interp or jit")
			}
			i++
			switch args[i] {
			case "interp":
				engine = vm.Interpreter
			case "jit":
				if !vm.JITAvailable() {
					return fail(2, "--engine jit: no JIT for this architecture")
				}
				engine = vm.JIT
			default:
				return fail(2, "--engine %q: want interp or jit", args[i])
			}
		case strings.HasPrefix(a, "-"):
			return fail(2, "unknown option %q\n%s", a, usage)
		case !haveMem:
			memHex, haveMem = a, true
		default:
			return fail(2, "unexpected argument %q (memory is already %q)\n%s", a, memHex, usage)
		}
	}

	input, err := io.ReadAll(stdin)
	if err != nil {
		return fail(1, "reading the program: %v", err)
	}
	code, err := conformance.ParseHexBytes(string(input))
	if err != nil {
		return fail(1, "program on stdin: %v", err)
	}
	if len(code) == 0 {
		return fail(1, "no program on stdin")
	}
	if len(code)%8 != 0 {
		return fail(1, "program is %d bytes, not a whole number of 8-byte instructions", len(code))
	}
	var mem []byte
	if haveMem {
		if mem, err = conformance.ParseHexBytes(memHex); err != nil {
			return fail(1, "memory argument: %v", err)
		}
		if len(mem) == 0 {
			mem = nil
		}
	}

	p, err := vm.Load(code)
	if err != nil {
		return fail(1, "%v", err)
	}
	r0, err := p.Run(mem, vm.RunOptions{
		Helpers:  conformance.Helpers[*vm.Env, vm.HelperFunc](),
		MaxSteps: maxSteps,
		Engine:   engine,
	})
	if err != nil {
		return fail(1, "%v", err)
	}
	fmt.Fprintf(stdout, "%x\n", r0)
	return 0
}
