package compiled_test

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/wagglebpf/waggle/lang/compiled"
	"github.com/wagglebpf/waggle/lang/driver"
)

// A script compiled on one machine, written to a file, and run later
// from the file, as `waggle trace --compile -o prog.wgl` and
// `waggle run prog.wgl` do. driver.Run checks what the program assumes
// of the machine before loading it, and relocates its field offsets.
func Example() {
	src := []byte(`BEGIN { printf("hello from %s\n", str($1)); exit(); }`)
	p, err := driver.Build("hello.bt", src, driver.Args{Params: []string{"the host"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	var file bytes.Buffer
	if err := compiled.Encode(&file, p); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}

	// Later, perhaps on another machine.
	q, err := compiled.Decode(file.Bytes())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	code, err := driver.Run(context.Background(), q, driver.Options{Stdout: os.Stdout, Stderr: os.Stderr, Quiet: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println("the script chose exit code", code)
}
