package parser_test

import (
	"fmt"

	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/parser"
)

func ExampleParse() {
	prog, err := parser.Parse("-e", []byte(`kprobe:do_nanosleep /pid > 100/ { @[comm] = count(); }`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(ast.Dump(prog, 0))
	// Output:
	// Program "-e"
	//   Probe
	//     AttachPoint "kprobe:do_nanosleep" provider=kprobe parts=["do_nanosleep"]
	//     pred: Binary >
	//       Ident pid
	//       Int 100
	//     body: Block
	//       Assign =
	//         Map @
	//           Ident comm
	//         Call count
}

func ExampleParse_errors() {
	_, err := parser.Parse("script.bt", []byte("BEGIN { @x = count(; }\nEND { printf(\"%d\\n\" pid); }\n"))
	fmt.Println(err)
	// Output:
	// script.bt:1:20: error: unexpected ';', expected an expression
	// BEGIN { @x = count(; }
	//                    ^
	// script.bt:2:21: error: unexpected identifier 'pid', expected ',' or ')'
	// END { printf("%d\n" pid); }
	//                     ^~~
}
