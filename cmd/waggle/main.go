// Command waggle loads, attaches and inspects eBPF programs without LLVM,
// kernel headers or a C loader.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/wagglebpf/waggle/lang/parser"
)

func main() {
	cmd := newRootCommand()
	if invokedAsBpftrace() {
		cmd = newBpftraceCommand()
	}
	if err := cmd.Execute(); err != nil {
		var (
			ee       *exitError
			scripted parser.ErrorList
		)
		switch {
		case errors.As(err, &ee) && ee.silent:
		case errors.As(err, &scripted):
			// Script errors carry their own FILE:LINE:COL prefix.
			fmt.Fprintln(os.Stderr, err)
		default:
			fmt.Fprintf(os.Stderr, "%s: %v\n", cmd.Name(), err)
		}
		os.Exit(exitCode(err))
	}
}
