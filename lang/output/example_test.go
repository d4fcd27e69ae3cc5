package output_test

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
	"github.com/wagglebpf/waggle/lang/output"
)

// u64s lays out 8-byte integers in the host's order, as the kernel hands
// them over.
func u64s(vs ...uint64) []byte {
	b := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.NativeEndian.PutUint64(b[8*i:], v)
	}
	return b
}

// A program's printf record, then its maps, printed as bpftrace prints
// them.
func ExamplePrinter() {
	comm := &ast.Type{Kind: ast.KindString, Size: 16}
	prog := &output.Program{
		Formats: []output.Format{{Text: "%-8s %5d\n", Args: []*ast.Type{comm, ast.Int64}}},
	}
	p := &output.Printer{Out: os.Stdout, Program: prog}

	// printf("%-8s %5d\n", comm, pid): kind, format index, then the
	// arguments laid out as a tuple.
	name := make([]byte, 16)
	copy(name, "bash")
	rec := append(u64s(uint64(layout.RecordPrintf), 0), append(name, u64s(4242)...)...)
	if _, err := p.Record(rec); err != nil {
		fmt.Println(err)
	}

	// @[comm] = count(), one count per CPU.
	key := make([]byte, 16)
	copy(key, "sshd")
	counts := output.Map{Name: "@", Key: comm, Value: &ast.Type{Kind: ast.KindCount}, Entries: []output.Entry{
		{Key: key, Values: [][]byte{u64s(2), u64s(1)}},
		{Key: name, Values: [][]byte{u64s(7), u64s(5)}},
	}}
	// @us = hist(latency): one entry per bucket, the bucket index after
	// the (empty) key.
	hist := output.Map{Name: "@us", Value: &ast.Type{Kind: ast.KindHist}, Entries: []output.Entry{
		{Key: u64s(5), Values: [][]byte{u64s(3), u64s(1)}},  // [8, 16)
		{Key: u64s(7), Values: [][]byte{u64s(0), u64s(12)}}, // [32, 64)
	}}
	// At exit, p.Exit prints two newlines and then every map in order of
	// name; print(@m) prints one map.
	for _, m := range []output.Map{counts, hist} {
		if err := p.PrintMap(m, 0, 0); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// bash      4242
	// @[sshd]: 3
	// @[bash]: 12
	// @us:
	// [8, 16)                4 |@@@@@@@@@@@@@@@@@                                   |
	// [16, 32)               0 |                                                    |
	// [32, 64)              12 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
}

func ExampleCheckFormat() {
	err := output.CheckFormat("%s has pid %d\n", []*ast.Type{ast.Int64, ast.Int64})
	fmt.Println(err)
	err = output.CheckFormat("%s has pid %d\n", []*ast.Type{{Kind: ast.KindString, Size: 16}})
	fmt.Println(err)
	err = output.CheckFormat("%d\n", []*ast.Type{{Kind: ast.KindString, Size: 16}})
	fmt.Println(err)
	// Output:
	// <nil>
	// not enough arguments for format string (1 supplied, 2 expected)
	// unsupported format specifier for type 'string[16]': d
}
