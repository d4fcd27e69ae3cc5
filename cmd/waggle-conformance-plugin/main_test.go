package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/internal/conformance"
	"github.com/wagglebpf/waggle/vm"
)

// hexBytes encodes like the bpf_conformance runner: "%02x" and two spaces.
func hexBytes(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		fmt.Fprintf(&s, "%02x  ", c)
	}
	return s.String()
}

func runPlugin(args []string, stdin string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// TestProtocol runs suite files through the plugin's command line, the way
// the runner does: memory only when there is some, r0 parsed as hex.
func TestProtocol(t *testing.T) {
	dir, err := conformance.SuiteDir()
	if err != nil {
		t.Fatal(err)
	}
	engines := []string{"interp"}
	if vm.JITAvailable() {
		engines = append(engines, "jit")
	}
	for _, engine := range engines {
		for _, name := range []string{"lddw", "mem-len", "subnet", "callx", "call_unwind_fail", "call_local", "lock_cmpxchg", "stack", "ldxh-all"} {
			t.Run(engine+"/"+name, func(t *testing.T) {
				tc, err := conformance.ParseFile(filepath.Join(dir, name+".data"))
				if err != nil {
					t.Fatal(err)
				}
				args := []string{"--engine", engine}
				if len(tc.Mem) > 0 {
					args = append(args, hexBytes(tc.Mem))
				}
				code, out, errs := runPlugin(args, hexBytes(tc.Code)+"\n")
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errs)
				}
				r0, err := strconv.ParseUint(strings.TrimSpace(out), 16, 64)
				if err != nil {
					t.Fatalf("output %q is not hex: %v", out, err)
				}
				if r0 != tc.Result {
					t.Errorf("r0 = %#x, want %#x", r0, tc.Result)
				}
			})
		}
	}
}

func TestProtocolErrors(t *testing.T) {
	exit := "95 00 00 00 00 00 00 00"
	cases := []struct {
		args  []string
		stdin string
		want  string
	}{
		{nil, "", "no program on stdin"},
		{nil, "95 00 00", "not a whole number of 8-byte instructions"},
		{nil, "zz", "program on stdin: bad byte"},
		{[]string{"0g"}, exit, "memory argument: bad byte"},
		{[]string{"--elf"}, exit, "not supported"},
		{[]string{"--bogus"}, exit, "unknown option"},
		{[]string{"00", "11"}, exit, "unexpected argument"},
		{[]string{"--engine", "fast"}, exit, "want interp or jit"},
		{[]string{"--engine"}, exit, "--engine needs a value"},
		{nil, "ff 00 00 00 00 00 00 00", ""}, // an invalid opcode: the VM's message
		// ldxw r0, [r1+0] with no memory: r1 is 0, the load faults.
		{nil, "61 10 00 00 00 00 00 00 " + exit, ""},
	}
	for _, c := range cases {
		code, out, errs := runPlugin(c.args, c.stdin)
		if code == 0 || out != "" || !strings.Contains(errs, c.want) || errs == "" {
			t.Errorf("args %q stdin %q: exit %d, stdout %q, stderr %q; want a failure mentioning %q", c.args, c.stdin, code, out, errs, c.want)
		}
	}
	if code, out, _ := runPlugin([]string{"--max-steps", "100", "01 02"}, "b7 00 00 00 07 00 00 00 "+exit); code != 0 || out != "7\n" {
		t.Errorf("mov r0, 7: exit %d, output %q", code, out)
	}
}
