// Command waggle loads, attaches and inspects eBPF programs without LLVM,
// kernel headers or a C loader.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "waggle: %v\n", err)
		os.Exit(exitCode(err))
	}
}
