package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/spf13/cobra"
	"github.com/wagglebpf/waggle/vm"
)

type vmRunFlags struct {
	prog   string
	ctx    string
	repeat int
}

func newVMCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vm",
		Short: "Run eBPF programs in waggle's user-space runtime (no root, no kernel)",
	}
	cmd.AddCommand(newVMRunCommand())
	return cmd
}

func newVMRunCommand() *cobra.Command {
	var f vmRunFlags
	cmd := &cobra.Command{
		Use:   "run OBJECT.o|BYTECODE",
		Short: "Run one program in the interpreter and print r0 and the time per run",
		Long: `Run one eBPF program in waggle's user-space interpreter.

The program is an ELF object (pick the program with --prog when it has several) or
raw bytecode: 8-byte little-endian instructions, as a binary file or as hex text.
The memory the program gets (r1 = its address, r2 = its length) comes from --ctx.`,
		Example: `  waggle vm run prog.bin --ctx input.bin --repeat 1000
  waggle vm run filter.bpf.o --prog count --ctx packet.bin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVM(args[0], &f, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&f.prog, "prog", "", "program to run from an ELF object")
	cmd.Flags().StringVar(&f.ctx, "ctx", "", "file whose bytes are the program's memory (r1, r2)")
	cmd.Flags().IntVar(&f.repeat, "repeat", 1, "run this many times and report the mean time per run")
	return cmd
}

func runVM(path string, f *vmRunFlags, out io.Writer) error {
	if f.repeat < 1 {
		return fmt.Errorf("--repeat %d: must be at least 1", f.repeat)
	}
	prog, err := loadVMProgram(path, f.prog)
	if err != nil {
		return err
	}
	var mem []byte
	if f.ctx != "" {
		if mem, err = os.ReadFile(f.ctx); err != nil {
			return err
		}
	}
	// Each run gets a fresh copy: a program may write its memory.
	work := make([]byte, len(mem))
	var res vm.Result
	start := time.Now()
	for i := 0; i < f.repeat; i++ {
		copy(work, mem)
		if res, err = prog.Execute(work, vm.RunOptions{}); err != nil {
			return err
		}
	}
	elapsed := time.Since(start)
	fmt.Fprintf(out, "r0: %#x (%d)\n", res.R0, int64(res.R0))
	fmt.Fprintf(out, "instructions: %d per run\n", res.Steps)
	per := elapsed / time.Duration(f.repeat)
	fmt.Fprintf(out, "time: %v per run (%d runs)\n", per, f.repeat)
	if !bytes.Equal(work, mem) {
		fmt.Fprintf(out, "memory: changed\n")
	}
	return nil
}

// loadVMProgram reads an ELF object's program or raw bytecode.
func loadVMProgram(path, name string) (*vm.Program, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(data, []byte("\x7fELF")) {
		spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: not a usable BPF object: %w", path, err)
		}
		ps, err := pickProgram(spec, name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		p, err := vm.LoadInstructions(ps.Instructions)
		if err != nil {
			return nil, fmt.Errorf("%s: program %s: %w", path, ps.Name, err)
		}
		return p, nil
	}
	code := data
	if text := strings.Join(strings.Fields(string(data)), ""); len(text) > 0 && isHex(text) {
		text = strings.ReplaceAll(text, "0x", "")
		if code, err = hex.DecodeString(text); err != nil {
			return nil, fmt.Errorf("%s: hex bytecode: %w", path, err)
		}
	}
	if len(code) == 0 || len(code)%8 != 0 {
		return nil, fmt.Errorf("%s: bytecode is %d bytes, not a whole number of 8-byte instructions", path, len(code))
	}
	p, err := vm.Load(code)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

func isHex(s string) bool {
	s = strings.ReplaceAll(s, "0x", "")
	if len(s)%2 != 0 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

func pickProgram(spec *ebpf.CollectionSpec, name string) (*ebpf.ProgramSpec, error) {
	if name != "" {
		if ps := spec.Programs[name]; ps != nil {
			return ps, nil
		}
		return nil, fmt.Errorf("no program %q; it has: %s", name, strings.Join(sortedKeys(spec.Programs), ", "))
	}
	if len(spec.Programs) == 1 {
		for _, ps := range spec.Programs {
			return ps, nil
		}
	}
	names := sortedKeys(spec.Programs)
	sort.Strings(names)
	return nil, fmt.Errorf("%d programs (%s): choose one with --prog", len(names), strings.Join(names, ", "))
}
