package sema

import (
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/lang/ast"
)

const usdtFixture = "../../attach/testdata/usdt/usdt_target"

// TestProcessErrors checks the messages of func, usdt probes and their
// arguments, cgroup_path, cat, system, signal and getopt.
func TestProcessErrors(t *testing.T) {
	unsafe := Options{NCPUs: 2, Unsafe: true}
	cases := []struct {
		src  string
		opts Options
		want string
	}{
		{`BEGIN { printf("%s", func); }`, defaultOpts, "The func builtin can not be used with 'BEGIN' probes"},
		{`interval:s:1 { printf("%s", func); }`, defaultOpts, "The func builtin can not be used with 'interval' probes"},
		{`BEGIN { system("ls"); }`, defaultOpts, "system() is an unsafe function being used in safe mode"},
		{`BEGIN { system(); }`, unsafe, "system() needs a format string"},
		{`BEGIN { system(comm); }`, unsafe, "system()'s format must be a string literal"},
		{`BEGIN { system("%d"); }`, unsafe, "system(): "},
		{`BEGIN { cat("%s %d", "a"); }`, defaultOpts, "cat(): "},
		{`BEGIN { cat("/x", (1, @h)); } BEGIN { @h = hist(1); }`, defaultOpts, "cannot be"},
		{`BEGIN { cat("/x", printf("")); }`, defaultOpts, "none cannot be formatted by cat()"},
		{`BEGIN { signal(9); }`, defaultOpts, "signal() is an unsafe function being used in safe mode"},
		{`BEGIN { signal(9); }`, unsafe, `signal can not be used with "BEGIN" probes`},
		{`profile:hz:99 { signal("SIGWHAT"); }`, unsafe, "SIGWHAT is not a valid signal"},
		{`profile:hz:99 { signal("9"); }`, unsafe, "9 is not a valid signal"},
		{`profile:hz:99 { signal(0); }`, unsafe, "0 is not a valid signal, allowed range: [1,64]"},
		{`profile:hz:99 { signal(-2); }`, unsafe, "signal only accepts literal strings and positive integers"},
		{`profile:hz:99 { signal(comm); }`, unsafe, "signal only accepts literal strings and positive integers"},
		{`profile:hz:99 { signal(); }`, unsafe, "signal() takes 1 argument"},
		{`BEGIN { print(cgroup_path()); }`, defaultOpts, "cgroup_path() takes 1 or 2 arguments"},
		{`BEGIN { print(cgroup_path(comm)); }`, defaultOpts, "cgroup_path() expects an integer cgroup id, not string[16]"},
		{`BEGIN { print(cgroup_path(1, comm)); }`, defaultOpts, "cgroup_path()'s hierarchy filter must be a string literal"},
		{`BEGIN { print(getopt(comm)); }`, defaultOpts, "First argument to 'getopt' must be a string literal."},
		{`BEGIN { print(getopt("a", comm)); }`, defaultOpts, "Second argument to 'getopt' must be a string literal, integer literal, or a boolean literal."},
		{`BEGIN { print(getopt("a", -comm)); }`, defaultOpts, "Second argument to 'getopt' must be"},
		{`BEGIN { print(getopt("a", 1, 2)); }`, defaultOpts, "getopt()'s description must be a string literal"},
		{`BEGIN { print(getopt()); }`, defaultOpts, "getopt() takes 1 to 3 arguments"},
		{`BEGIN { print(getopt("")); }`, defaultOpts, "a named argument's name cannot be empty"},
		{`BEGIN { print(getopt("a=b")); }`, defaultOpts, "cannot be empty, start with '-' or hold '='"},
		{`BEGIN { print(getopt("a", 1)); } END { print(getopt("a", "x")); }`, defaultOpts,
			"Command line option 'a' needs to have the same default value in all places it is used. Previous default value: 1"},
		{`BEGIN { print(getopt("n", 1)); }`, Options{NamedArgs: map[string]string{"n": "x"}}, "named argument --n=x: expected an integer"},
		{`BEGIN { print(getopt("n", 1)); }`, Options{NamedArgs: map[string]string{"n": ""}}, "named argument --n=: expected an integer"},
		{`BEGIN { print(getopt("b")); }`, Options{NamedArgs: map[string]string{"b": "yes"}}, "named argument --b=yes: expected a boolean"},
		{`BEGIN { print(getopt("n", 18446744073709551615)); }`, defaultOpts, `getopt("n")'s default does not fit in an int64`},
		{`usdt:` + usdtFixture + `:waggle:kinds { print(arg5); }`, defaultOpts, "usdt probe waggle:kinds has 5 arguments (arg0 to arg4): there is no arg5"},
		{`usdt:` + usdtFixture + `:waggle:start { print(arg0); }`, defaultOpts, "usdt probe waggle:start has no arguments: there is no arg0"},
		{`usdt:` + usdtFixture + `:waggle:kinds { print(arg12); }`, defaultOpts, "usdt probes have at most 12 arguments"},
		{`usdt:` + usdtFixture + `:waggle:kinds { print(func); }`, defaultOpts, "The func builtin can not be used with 'usdt' probes"},
		{`usdt:` + usdtFixture + `:waggle:kinds { print(retval); }`, defaultOpts, "retval is only available"},
		{`usdt:` + usdtFixture + `:waggle:nosuch { }`, defaultOpts, `usdt: no probe "waggle:nosuch" in ` + usdtFixture + ` (it has waggle:kinds, waggle:start, waggle:tick)`},
		{`usdt:` + usdtFixture + `:nosuch:* { }`, defaultOpts, `usdt: no probe "nosuch:*"`},
		{`usdt:` + usdtFixture + ` { }`, defaultOpts, "usdt probes are written usdt:BINARY:[PROVIDER:]NAME"},
		{`usdt:a:b:c:d { }`, defaultOpts, "usdt probes are written usdt:BINARY:[PROVIDER:]NAME"},
		{`usdt:` + usdtFixture + `:waggle: { }`, defaultOpts, "usdt probes are written usdt:BINARY:[PROVIDER:]NAME"},
		{`usdt:*:tick { }`, defaultOpts, "usdt:*:tick needs a process to look in: give one with -p PID"},
		{`usdt:/nonexistent/waggle-usdt:tick { }`, defaultOpts, "/nonexistent/waggle-usdt"},
		{`usdt:/etc/passwd:tick { }`, defaultOpts, "usdt"},
	}
	for _, c := range cases {
		prog := parse(t, c.src)
		_, err := Check(prog, c.opts)
		if err == nil {
			t.Errorf("%s: no error, want %q", c.src, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant %q", c.src, err, c.want)
		}
	}
}

// TestProcessTypes checks the types the builtins of process.go give.
func TestProcessTypes(t *testing.T) {
	named := map[string]string{"b": "", "n": "0x10", "s": "hello", "f": "false", "neg": "-5"}
	info, prog := mustCheck(t, `BEGIN { $b = getopt("b"); $n = getopt("n", 1); $s = getopt("s", "x"); $f = getopt("f", true);
		$d = getopt("d", "default"); $neg = getopt("neg", 2); $m = getopt("m", -7); $c = cgroup_path(cgroup, "unified");
		cat("/proc/%d/status", pid); }
		usdt:`+usdtFixture+`:waggle:kinds { @a = arg0 + arg4; }
		usdt:`+usdtFixture+`:tick, U:`+usdtFixture+`:waggle:start { @p[probe] = count(); }
		profile:hz:99 { signal("SIGUSR1"); signal("USR2"); signal(10); signal(pid % 3 + 1); }`,
		Options{NCPUs: 2, Unsafe: true, NamedArgs: named})
	_ = prog
	want := map[string]struct {
		set  bool
		b    bool
		n    int64
		s    string
		kind ast.Kind
	}{
		"b":   {set: true, b: true, kind: ast.KindBool},
		"n":   {set: true, n: 16, kind: ast.KindInt},
		"s":   {set: true, s: "hello", kind: ast.KindString},
		"f":   {set: true, b: false, kind: ast.KindBool},
		"d":   {s: "default", kind: ast.KindString},
		"neg": {set: true, n: -5, kind: ast.KindInt},
		"m":   {n: -7, kind: ast.KindInt},
	}
	for name, w := range want {
		g := info.Getopts[name]
		if g == nil {
			t.Errorf("getopt(%q) not recorded", name)
			continue
		}
		if g.Set != w.set || g.Bool != w.b || g.Int != w.n || g.Str != w.s || g.Type.Kind != w.kind {
			t.Errorf("getopt(%q) = %+v, want %+v", name, g, w)
		}
	}
	var usdt []string
	for _, inst := range info.Instances {
		if inst.Kind == ProbeUsdt {
			usdt = append(usdt, inst.Name)
			if inst.USDT == nil || inst.USDT.Offset == 0 {
				t.Errorf("%s: no probe site", inst.Name)
			}
		}
	}
	if len(usdt) != 3 || !strings.HasSuffix(usdt[0], ":waggle:kinds") || !strings.HasSuffix(usdt[1], ":waggle:tick") || !strings.HasSuffix(usdt[2], ":waggle:start") {
		t.Errorf("usdt instances %q", usdt)
	}
}

func TestSignalNumber(t *testing.T) {
	for s, want := range map[string]int{"SIGKILL": 9, "KILL": 9, "SIGTERM": 15, "USR1": 10, "9": 9, "64": 64} {
		if n, ok := SignalNumber(s); !ok || n != want {
			t.Errorf("SignalNumber(%q) = %d, %v, want %d", s, n, ok, want)
		}
	}
	for _, s := range []string{"", "SIG", "sigkill", "65", "0", "-1", "SIGNOPE"} {
		if n, ok := SignalNumber(s); ok {
			t.Errorf("SignalNumber(%q) = %d, want none", s, n)
		}
	}
}

func TestUSDTArgIndex(t *testing.T) {
	for s, want := range map[string]int{"arg0": 0, "arg5": 5, "arg11": 11, "arg12": 12} {
		if n, ok := usdtArgIndex(s); !ok || n != want {
			t.Errorf("usdtArgIndex(%q) = %d, %v", s, n, ok)
		}
	}
	for _, s := range []string{"arg", "args", "arg01", "arg-1", "argx", "arg99999999999999999999"} {
		if _, ok := usdtArgIndex(s); ok {
			t.Errorf("usdtArgIndex(%q) accepted", s)
		}
	}
}
