package main

import (
	"bufio"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSplitNamedArgs(t *testing.T) {
	cases := []struct {
		args  []string
		dash  int
		pos   []string
		named map[string]string
	}{
		{[]string{"1", "two"}, -1, []string{"1", "two"}, nil},
		// -e 'PROG' -- --aa=20 --bb 7: pflag took the "--".
		{[]string{"--aa=20", "--bb", "7"}, 0, []string{"7"}, map[string]string{"aa": "20", "bb": ""}},
		// script.bt p1 -- --aa=x=y: flag parsing stopped at the file.
		{[]string{"script.bt", "p1", "--", "--aa=x=y", "p2"}, -1, []string{"script.bt", "p1", "p2"}, map[string]string{"aa": "x=y"}},
		// Before "--", --x is positional.
		{[]string{"--x", "--", "--y"}, -1, []string{"--x"}, map[string]string{"y": ""}},
	}
	for _, c := range cases {
		pos, named, err := splitNamedArgs(c.args, c.dash)
		if err != nil || !reflect.DeepEqual(pos, c.pos) || !reflect.DeepEqual(named, c.named) {
			t.Errorf("splitNamedArgs(%q, %d) = %q, %v, %v; want %q, %v", c.args, c.dash, pos, named, err, c.pos, c.named)
		}
	}
	if _, _, err := splitNamedArgs([]string{"--", "--=1"}, -1); err == nil {
		t.Error("--=1 accepted")
	}
}

// TestTraceGetopt runs getopt() with named arguments after "--".
func TestTraceGetopt(t *testing.T) {
	requireKernel(t)
	prog := `BEGIN { print((getopt("aa", 1), getopt("bb"), getopt("cc", "x"), getopt("dd", true), getopt("ee", -3))); exit(); }`
	r := waggle(t, "trace", "-e", prog, "--", "--aa=20", "--bb", "--cc=hello world", "--dd=false")
	if r.code != 0 || !strings.Contains(r.stdout, "(20, true, hello world, false, -3)\n") {
		t.Errorf("named arguments:\n%s", r)
	}
	r = waggle(t, "trace", "-e", prog)
	if r.code != 0 || !strings.Contains(r.stdout, "(1, false, x, true, -3)\n") {
		t.Errorf("defaults:\n%s", r)
	}
	r = waggle(t, "trace", "-e", prog, "--", "--aa=1", "--zz=2")
	if r.code == 0 || !strings.Contains(r.stderr, "unexpected named argument --zz: the script reads --aa, --bb, --cc, --dd, --ee") {
		t.Errorf("unknown named argument:\n%s", r)
	}
	r = waggle(t, "trace", "-e", prog, "--", "--aa=twenty")
	if r.code == 0 || !strings.Contains(r.stderr, "named argument --aa=twenty: expected an integer") {
		t.Errorf("bad integer:\n%s", r)
	}
	// Positional parameters still work around named ones.
	r = waggle(t, "trace", "-e", `BEGIN { printf("%s %d %d\n", $1, $2, getopt("n", 0)); exit(); }`, "p1", "--", "--n=5", "7")
	if r.code != 0 || !strings.Contains(r.stdout, "p1 7 5\n") {
		t.Errorf("positional and named:\n%s", r)
	}
}

// TestTraceUSDTPid attaches usdt:*:NAME to a running process (-p): the
// probe is found in the files the process maps and its semaphore is set,
// which the fixture waits for.
func TestTraceUSDTPid(t *testing.T) {
	requireKernel(t)
	target := exec.Command("../../attach/testdata/usdt/usdt_target", "wait")
	out, err := target.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	defer target.Process.Kill()
	// Let the process map its files before waggle looks.
	time.Sleep(200 * time.Millisecond)
	done := make(chan result, 1)
	go func() {
		done <- waggle(t, "trace", "-p", strconv.Itoa(target.Process.Pid), "-e", `usdt:*:waggle:tick { @ = count(); } interval:s:3 { exit(); }`)
	}()
	line, _ := bufio.NewReader(out).ReadString('\n')
	target.Wait()
	r := <-done
	if line != "semaphore 1\n" {
		t.Errorf("the target saw %q, want the semaphore set\n%s", line, r)
	}
	// The target exits as soon as it sees the semaphore, which the kernel
	// sets while the probe is being attached: the attach may then find
	// the process gone.
	if r.code != 0 && !strings.Contains(r.stderr, "no such process") {
		t.Errorf("waggle:\n%s", r)
	}
}
