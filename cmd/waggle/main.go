// Command waggle loads, attaches and inspects eBPF programs without LLVM,
// kernel headers or a C loader.
package main

import (
	"fmt"
	"os"

	"github.com/wagglebpf/waggle/session"
)

func main() {
	// A -c command starts as a copy of waggle that waits for its probes.
	session.ExecChildIfRequested()
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "waggle: %v\n", err)
		os.Exit(exitCode(err))
	}
}
