package parser

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/lang/ast"
)

// parseOK parses src and fails the test on any syntax error or malformed
// span.
func parseOK(t *testing.T, src string) *ast.Program {
	t.Helper()
	prog, err := Parse("test.bt", []byte(src))
	if err != nil {
		t.Fatalf("Parse(%q):\n%v", src, err)
	}
	if problems := checkSpans([]byte(src), prog, true); len(problems) > 0 {
		t.Fatalf("Parse(%q): bad spans:\n%s", src, strings.Join(problems, "\n"))
	}
	return prog
}

// body parses stmts as the block of a BEGIN probe.
func body(t *testing.T, stmts string) *ast.Block {
	t.Helper()
	prog := parseOK(t, "BEGIN { "+stmts+" }")
	if len(prog.Probes) != 1 {
		t.Fatalf("%q: %d probes", stmts, len(prog.Probes))
	}
	return prog.Probes[0].Body
}

func TestExpressions(t *testing.T) {
	tests := []struct{ src, want string }{
		// Literals and names.
		{`1`, `1`},
		{`1_000_000`, `1000000`},
		{`0x1f`, `31`},
		{`0XFF`, `255`},
		{`017`, `15`},
		{`0`, `0`},
		{`2e3`, `2000`},
		{`1e6`, `1000000`},
		{`10ns`, `10`},
		{`3us`, `3000`},
		{`5ms`, `5000000`},
		{`2s`, `2000000000`},
		{`1m`, `60000000000`},
		{`1h`, `3600000000000`},
		{`1d`, `86400000000000`},
		{`100UL`, `100`},
		{`7u`, `7`},
		{`9ll`, `9`},
		{`18446744073709551615`, `18446744073709551615`},
		{`0xffffffffffffffff`, `18446744073709551615`},
		{`"hi"`, `"hi"`},
		{`"a\n\t\r\\\"b"`, `"a\n\t\r\\\"b"`},
		{`"\x41\x4a\101\0\12"`, `"AJA\x00\n"`},
		{"\"tab\tkept\"", `"tab\tkept"`},
		{`true`, `true`},
		{`false`, `false`},
		{`$1`, `$1`},
		{`$12`, `$12`},
		{`$#`, `$#`},
		{`$name`, `$name`},
		{`$_x1`, `$_x1`},
		{`@`, `@`},
		{`@name`, `@name`},
		{`@[1]`, `(@ 1)`},
		{`@m[1, "a", $x]`, `(@m 1 "a" $x)`},
		{`@m[(1, 2)]`, `(@m (tuple 1 2))`},
		{`pid`, `pid`},
		{`arg0`, `arg0`},
		{`args.filename`, `(. args filename)`},
		{`args->filename`, `(-> args filename)`},

		// Tuples and parentheses.
		{`(1, 2)`, `(tuple 1 2)`},
		{`(1, "a", (2, 3))`, `(tuple 1 "a" (tuple 2 3))`},
		{`(1,)`, `(tuple 1)`},
		{`()`, `(tuple)`},
		{`((1))`, `1`},
		{`(1, (2, 3)).1.0`, `(.0 (.1 (tuple 1 (tuple 2 3))))`},
		{`$t.0`, `(.0 $t)`},
		{`$kv.0.1`, `(.1 (.0 $kv))`},

		// Postfix.
		{`f()`, `(call f)`},
		{`f(a, b + 1)`, `(call f a (+ b 1))`},
		{`printf("%d\n", pid)`, `(call printf "%d\n" pid)`},
		{`x.f.g`, `(. (. x f) g)`},
		{`x->f->g`, `(-> (-> x f) g)`},
		{`x.if`, `(. x if)`},
		{`x[1][2]`, `([] ([] x 1) 2)`},
		{`@m[1][2]`, `([] (@m 1) 2)`},
		{`@m[1].f`, `(. (@m 1) f)`},
		{`$x++`, `($x ++)`},
		{`$x--`, `($x --)`},
		{`@m[1]++`, `((@m 1) ++)`},
		{`++$x`, `(++ $x)`},
		{`--@m[k]`, `(-- (@m k))`},
		{`sizeof(uint64)`, `(sizeof type uint64)`},
		{`sizeof(struct task_struct)`, `(sizeof type struct task_struct)`},
		{`sizeof(struct task_struct *)`, `(sizeof type struct task_struct *)`},
		{`sizeof($x)`, `(sizeof $x)`},
		{`sizeof(pid_t)`, `(sizeof pid_t)`},
		{`sizeof(foo *)`, `(sizeof type foo *)`},
		{`sizeof(a * b)`, `(sizeof (* a b))`},
		{`offsetof(struct X, a)`, `(offsetof type struct X a)`},
		{`offsetof(struct X, a.b.c)`, `(offsetof type struct X a.b.c)`},
		{`offsetof(*curtask, comm)`, `(offsetof (* curtask) comm)`},

		// Unary operators and casts.
		{`!a`, `(! a)`},
		{`~a`, `(~ a)`},
		{`-1`, `(- 1)`},
		{`- -1`, `(- (- 1))`},
		{`*$p`, `(* $p)`},
		{`**$p`, `(* (* $p))`},
		{`&$x`, `(& $x)`},
		{`-x.f`, `(- (. x f))`},
		{`*p->f`, `(* (-> p f))`},
		{`!a && b`, `(&& (! a) b)`},
		{`-a * b`, `(* (- a) b)`},
		{`(uint32)x`, `(cast uint32 x)`},
		{`(uint32) x.f`, `(cast uint32 (. x f))`},
		{`(uint32)x + 1`, `(+ (cast uint32 x) 1)`},
		{`(int8 *)$p`, `(cast int8 * $p)`},
		{`(struct task_struct *)curtask`, `(cast struct task_struct * curtask)`},
		{`(struct x **)arg0`, `(cast struct x ** arg0)`},
		{`(union u *)arg0`, `(cast union u * arg0)`},
		{`(enum e)1`, `(cast enum e 1)`},
		{`(uint8[8])12345`, `(cast uint8[8] 12345)`},
		{`(uint8[])$x`, `(cast uint8[] $x)`},
		{`(string)$x`, `(cast string $x)`},
		{`(unsigned long long)x`, `(cast unsigned long long x)`},
		{`(unsigned)x`, `(cast unsigned x)`},
		{`(const char *)arg0`, `(cast char * arg0)`},
		{`(char * const *)arg0`, `(cast char ** arg0)`},
		{`(pid_t)arg0`, `(cast pid_t arg0)`},
		{`(pid_t)-1`, `(cast pid_t (- 1))`},
		{`(foo)$x`, `(cast foo $x)`},
		{`(foo *)$x`, `(cast foo * $x)`},
		{`(foo **)$x`, `(cast foo ** $x)`},
		{`(x) - 1`, `(- x 1)`},
		{`(x) * y`, `(* x y)`},
		{`(pid)`, `pid`},
		{`((struct sock *)arg0)->sk_state`, `(-> (cast struct sock * arg0) sk_state)`},
		{`(uint64)(int32)-1`, `(cast uint64 (cast int32 (- 1)))`},

		// Binary operators: C precedence, left associativity.
		{`1 + 2 * 3`, `(+ 1 (* 2 3))`},
		{`1 * 2 + 3`, `(+ (* 1 2) 3)`},
		{`1 - 2 - 3`, `(- (- 1 2) 3)`},
		{`a / b / c`, `(/ (/ a b) c)`},
		{`a % b * c`, `(* (% a b) c)`},
		{`a << 1 + 2`, `(<< a (+ 1 2))`},
		{`a >> b >> c`, `(>> (>> a b) c)`},
		{`a < b == c < d`, `(== (< a b) (< c d))`},
		{`a <= b != c >= d`, `(!= (<= a b) (>= c d))`},
		{`a > b << 1`, `(> a (<< b 1))`},
		{`a & b == c`, `(& a (== b c))`},
		{`a | b ^ c & d`, `(| a (^ b (& c d)))`},
		{`a || b && c | d`, `(|| a (&& b (| c d)))`},
		{`a && b || c && d`, `(|| (&& a b) (&& c d))`},
		{`(a + b) * c`, `(* (+ a b) c)`},
		{`comm == "bash"`, `(== comm "bash")`},
		{`(nsecs - @start[tid]) / 1000`, `(/ (- nsecs (@start tid)) 1000)`},

		// Conditionals.
		{`a ? b : c`, `(? a b c)`},
		{`a ? b : c ? d : e`, `(? a b (? c d e))`},
		{`a ? b ? c : d : e`, `(? a (? b c d) e)`},
		{`a ?: b`, `(?: a b)`},
		{`a ?: b ?: c`, `(?: a (?: b c))`},
		{`a == b ? c + 1 : d`, `(? (== a b) (+ c 1) d)`},
		{`a || b ? c : d`, `(? (|| a b) c d)`},
	}
	for _, tt := range tests {
		b := body(t, tt.src+";")
		if len(b.Stmts) != 1 {
			t.Errorf("%s: %d statements", tt.src, len(b.Stmts))
			continue
		}
		es, ok := b.Stmts[0].(*ast.ExprStmt)
		if !ok {
			t.Errorf("%s: got %T", tt.src, b.Stmts[0])
			continue
		}
		if got := sexpr(es.X); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.src, got, tt.want)
		}
	}
}

func TestStatements(t *testing.T) {
	tests := []struct{ src, want string }{
		{`@x = 1`, `{(= @x 1)}`},
		{`@x = 1;`, `{(= @x 1)}`},
		{`$x = 1; @y[pid] = $x`, `{(= $x 1); (= (@y pid) $x)}`},
		{`@ = count()`, `{(= @ (call count))}`},
		{`@x += 1; @x -= 1; @x *= 2; @x /= 2; @x %= 3`, `{(+= @x 1); (-= @x 1); (*= @x 2); (/= @x 2); (%= @x 3)}`},
		{`$x &= 1; $x |= 2; $x ^= 3; $x <<= 4; $x >>= 5`, `{(&= $x 1); (|= $x 2); (^= $x 3); (<<= $x 4); (>>= $x 5)}`},
		{`$x++; $x--; ++@y; --@y[1]`, `{($x ++); ($x --); (++ @y); (-- (@y 1))}`},
		{`let $x`, `{(let $x)}`},
		{`let $x;`, `{(let $x)}`},
		{`let $x = 1`, `{(let $x = 1)}`},
		{`let $x: uint32`, `{(let $x : uint32)}`},
		{`let $x: uint32 = 1; $x = 2`, `{(let $x : uint32 = 1); (= $x 2)}`},
		{`let $s: string[16] = "a"`, `{(let $s : string[16] = "a")}`},
		{`let $p: struct task_struct * = curtask`, `{(let $p : struct task_struct * = curtask)}`},
		{`printf("x"); exit()`, `{(call printf "x"); (call exit)}`},
		{`return`, `{return}`},
		{`return;`, `{return}`},
		{`return 1`, `{(return 1)}`},
		{`break; continue`, `{break; continue}`},
		{`if (a) { b() }`, `{(if a {(call b)})}`},
		{`if (a) { } else { $c = 1 }`, `{(if a {} else {(= $c 1)})}`},
		{`if (a) { $x = 1; } else if (b) { $x = 2 } else { $x = 3 }`, `{(if a {(= $x 1)} else (if b {(= $x 2)} else {(= $x 3)}))}`},
		{`if (a) {} @x = 1`, `{(if a {}); (= @x 1)}`},
		{`if (a) {}; @x = 1`, `{(if a {}); (= @x 1)}`},
		{`while ($i < 10) { $i++ }`, `{(while (< $i 10) {($i ++)})}`},
		{`unroll(3) { @x++ }`, `{(unroll 3 {(@x ++)})}`},
		{`unroll ($1) { }`, `{(unroll $1 {})}`},
		{`for ($kv : @m) { print($kv.0) }`, `{(for $kv : @m {(call print (.0 $kv))})}`},
		{`for ($i : 0..10) { }`, `{(for $i : 0..10 {})}`},
		{`for ($i : $a..-$b) { }`, `{(for $i : $a..(- $b) {})}`},
		{`for ($i : 1..ncpus) { }`, `{(for $i : 1..ncpus {})}`},
		{`{ @a = 1; { @b = 2 } }`, `{{(= @a 1); {(= @b 2)}}}`},
		{`;; @x = 1;; ;`, `{(= @x 1)}`},
		{`$a == 1 ? print("t") : print("f")`, `{(? (== $a 1) (call print "t") (call print "f"))}`},
		{`@x[1, 2] = (3, 4)`, `{(= (@x 1 2) (tuple 3 4))}`},
		{`delete(@m, tid); clear(@m)`, `{(call delete @m tid); (call clear @m)}`},
	}
	for _, tt := range tests {
		if got := sexpr(body(t, tt.src)); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.src, got, tt.want)
		}
	}
}

func TestAttachPoints(t *testing.T) {
	tests := []struct {
		src      string
		provider string
		parts    []string
		raw      string
	}{
		{"BEGIN {}", "BEGIN", nil, "BEGIN"},
		{"begin{}", "begin", nil, "begin"},
		{"END {}", "END", nil, "END"},
		{"end\n{}", "end", nil, "end"},
		{"kprobe:do_sys_open {}", "kprobe", []string{"do_sys_open"}, "kprobe:do_sys_open"},
		{"kprobe:do_sys_open+0x10 {}", "kprobe", []string{"do_sys_open+0x10"}, "kprobe:do_sys_open+0x10"},
		{"kprobe:kvm:x86_emulate_insn {}", "kprobe", []string{"kvm", "x86_emulate_insn"}, ""},
		{"k:tcp_* {}", "k", []string{"tcp_*"}, ""},
		{"kprobe:vfs_rea? {}", "kprobe", []string{"vfs_rea?"}, ""},
		{"kprobe:lookup_fast.constprop.* {}", "kprobe", []string{"lookup_fast.constprop.*"}, ""},
		{"tracepoint:syscalls:sys_enter_* {}", "tracepoint", []string{"syscalls", "sys_enter_*"}, ""},
		{"t:block:block_rq_issue{}", "t", []string{"block", "block_rq_issue"}, ""},
		{"uprobe:/usr/lib/libc.so.6:malloc {}", "uprobe", []string{"/usr/lib/libc.so.6", "malloc"}, ""},
		{"uprobe:./testprogs/uprobe_test:uprobeFunction1 {}", "uprobe", []string{"./testprogs/uprobe_test", "uprobeFunction1"}, ""},
		{"uprobe:libc:malloc {}", "uprobe", []string{"libc", "malloc"}, ""},
		{"uprobe:$1:main {}", "uprobe", []string{"$1", "main"}, ""},
		{`uprobe:"/path with:colon":sym {}`, "uprobe", []string{"/path with:colon", "sym"}, `uprobe:"/path with:colon":sym`},
		{`uprobe:/bin/x:"ns::f(int)" {}`, "uprobe", []string{"/bin/x", "ns::f(int)"}, ""},
		{`uprobe:/bin/x:"a\"b" {}`, "uprobe", []string{"/bin/x", `a"b`}, ""},
		{`uprobe:/bin/x:cpp:"ns::f" {}`, "uprobe", []string{"/bin/x", "cpp", "ns::f"}, ""},
		{`kprobe:f\:g {}`, "kprobe", []string{"f:g"}, `kprobe:f\:g`},
		{"interval:s:1 {}", "interval", []string{"s", "1"}, ""},
		{"interval:1s {}", "interval", []string{"1s"}, ""},
		{"i:ms:100{}", "i", []string{"ms", "100"}, ""},
		{"profile:hz:99 {}", "profile", []string{"hz", "99"}, ""},
		{"software:faults: {}", "software", []string{"faults", ""}, ""},
		{"software:cpu-clock:1000 {}", "software", []string{"cpu-clock", "1000"}, ""},
		{"hardware:cache-misses:1e6 {}", "hardware", []string{"cache-misses", "1e6"}, ""},
		{"watchpoint:0x10000000:8:rw {}", "watchpoint", []string{"0x10000000", "8", "rw"}, ""},
		{"watchpoint:increment+arg1:4:w {}", "watchpoint", []string{"increment+arg1", "4", "w"}, ""},
		{"usdt:/root/tick:loop {}", "usdt", []string{"/root/tick", "loop"}, ""},
		{"usdt:*:loop {}", "usdt", []string{"*", "loop"}, ""},
		{"fentry:bpf:123:* {}", "fentry", []string{"bpf", "123", "*"}, ""},
		{"iter:task_file:/sys/fs/bpf/files {}", "iter", []string{"task_file", "/sys/fs/bpf/files"}, ""},
		{"kprobe: {}", "kprobe", []string{""}, ""},
		// As in bpftrace, a '/' after a field belongs to it: without a
		// space this is an attach point, not a predicate.
		{"kprobe:f/pid/ {}", "kprobe", []string{"f/pid/"}, ""},
	}
	for _, tt := range tests {
		prog := parseOK(t, tt.src)
		ap := prog.Probes[0].Attach[0]
		raw := tt.raw
		if raw == "" {
			raw = tt.src[:strings.IndexAny(tt.src, " {\n")]
		}
		if ap.Provider != tt.provider || !slices.Equal(ap.Parts, tt.parts) || ap.Raw != raw {
			t.Errorf("%s: got provider %q parts %q raw %q, want %q %q %q", tt.src, ap.Provider, ap.Parts, ap.Raw, tt.provider, tt.parts, raw)
		}
		if got := tt.src[ap.Start.Offset:ap.End.Offset]; got != ap.Raw {
			t.Errorf("%s: span covers %q", tt.src, got)
		}
	}
}

func TestProbeLists(t *testing.T) {
	tests := []struct {
		src    string
		attach []string
		pred   string
	}{
		{"BEGIN,END {}", []string{"BEGIN", "END"}, "nil"},
		{"a:b,c:d,\n  e:f {}", []string{"a:b", "c:d", "e:f"}, "nil"},
		{"kprobe:f, // first\n/* second */ kprobe:g {}", []string{"kprobe:f", "kprobe:g"}, "nil"},
		{"tracepoint:syscalls:sys_exit_open,\ntracepoint:syscalls:sys_exit_openat\n/@filename[tid]/\n{}", []string{"tracepoint:syscalls:sys_exit_open", "tracepoint:syscalls:sys_exit_openat"}, "(@filename tid)"},
		{"kprobe:f /pid == 1/ {}", []string{"kprobe:f"}, "(== pid 1)"},
		{"BEGIN/pid/{}", []string{"BEGIN"}, "pid"},
		{"BEGIN / a / b / {}", []string{"BEGIN"}, "(/ a b)"},
		{"BEGIN /a / b/\n{}", []string{"BEGIN"}, "(/ a b)"},
		{"BEGIN /(a / b)/ {}", []string{"BEGIN"}, "(/ a b)"},
		{"BEGIN /f(a / b)/ {}", []string{"BEGIN"}, "(call f (/ a b))"},
		{"BEGIN /@x[a / b] / 2 > 0/ {}", []string{"BEGIN"}, "(> (/ (@x (/ a b)) 2) 0)"},
		{"BEGIN /a /* c */ / {}", []string{"BEGIN"}, "a"},
		{"BEGIN /$x == -1/ {}", []string{"BEGIN"}, "(== $x (- 1))"},
		{"BEGIN /a ? b : c/ {}", []string{"BEGIN"}, "(? a b c)"},
		{"kprobe:f\n/ @start[tid] != 0 &&\n  retval > 10 /\n{}", []string{"kprobe:f"}, "(&& (!= (@start tid) 0) (> retval 10))"},
	}
	for _, tt := range tests {
		prog := parseOK(t, tt.src)
		p := prog.Probes[0]
		var raws []string
		for _, a := range p.Attach {
			raws = append(raws, a.Raw)
		}
		if !slices.Equal(raws, tt.attach) {
			t.Errorf("%q: attach points %q, want %q", tt.src, raws, tt.attach)
		}
		if got := sexpr(p.Pred); got != tt.pred {
			t.Errorf("%q: predicate %s, want %s", tt.src, got, tt.pred)
		}
	}
}

func TestPreamble(t *testing.T) {
	src := `#!/usr/bin/env bpftrace
#include <linux/sched.h>
#include "local.h"
#define RED "\033[31m"
#define TWO \
	2
#ifndef BPFTRACE_HAVE_BTF
#endif
struct S { int x; char name[16]; struct { int y; } inner; };
union U { int i; char c[4]; }
enum E { A = 1, B = '}' };
struct fwd;
config = {
	max_map_keys = 2;
	stack_mode = perf;
	license = "GPL";
	print_maps_on_exit = false
};
let @a = lruhash(100);
let @b = percpuhash(10);
let @ = hash(1);
BEGIN { }
`
	prog := parseOK(t, src)
	if want := []string{"#include <linux/sched.h>", `#include "local.h"`}; !slices.Equal(prog.Includes, want) {
		t.Errorf("includes %q, want %q", prog.Includes, want)
	}
	var cdefs []string
	for _, c := range prog.CDefs {
		cdefs = append(cdefs, c.Text)
	}
	wantCDefs := []string{
		`#define RED "\033[31m"`,
		"#define TWO \\\n\t2",
		"#ifndef BPFTRACE_HAVE_BTF",
		"#endif",
		"struct S { int x; char name[16]; struct { int y; } inner; };",
		"union U { int i; char c[4]; }",
		"enum E { A = 1, B = '}' };",
		"struct fwd;",
	}
	if !slices.Equal(cdefs, wantCDefs) {
		t.Errorf("C definitions:\n%q\nwant\n%q", cdefs, wantCDefs)
	}
	var config []string
	for _, c := range prog.Config {
		config = append(config, c.Name+"="+sexpr(c.Value))
	}
	if want := []string{"max_map_keys=2", "stack_mode=perf", `license="GPL"`, "print_maps_on_exit=false"}; !slices.Equal(config, want) {
		t.Errorf("config %q, want %q", config, want)
	}
	var maps []string
	for _, m := range prog.Maps {
		maps = append(maps, fmt.Sprintf("%s=%s%s", m.Name, m.Kind, sexpr(m.Args[0])))
	}
	if want := []string{"@a=lruhash100", "@b=percpuhash10", "@=hash1"}; !slices.Equal(maps, want) {
		t.Errorf("maps %q, want %q", maps, want)
	}
	if len(prog.Probes) != 1 {
		t.Errorf("%d probes", len(prog.Probes))
	}
}

func TestEmptyScripts(t *testing.T) {
	for _, src := range []string{"", " \n\t", "// nothing\n", "/* nothing */", "#!/usr/bin/env bpftrace\n"} {
		prog := parseOK(t, src)
		if len(prog.Probes) != 0 {
			t.Errorf("%q: %d probes", src, len(prog.Probes))
		}
	}
}

// TestSpans checks that nodes cover exactly their text: the code generator
// reports verifier rejections at these spans.
func TestSpans(t *testing.T) {
	src := "kprobe:f,\n  BEGIN /pid/ {\n\t$x = (a + b) * c;\n\t@m[1, \"k\"]++;\n\tif (x) { return } else { exit(1) }\n\tfor ($i : 0..10) { }\n}\n"
	prog := parseOK(t, src)
	text := func(n ast.Node) string {
		s := n.Pos()
		return src[s.Start.Offset:s.End.Offset]
	}
	p := prog.Probes[0]
	b := p.Body
	assign := b.Stmts[0].(*ast.AssignStmt)
	mul := assign.Value.(*ast.Binary)
	inc := b.Stmts[1].(*ast.ExprStmt).X.(*ast.Unary)
	ifs := b.Stmts[2].(*ast.IfStmt)
	checks := []struct {
		n    ast.Node
		want string
	}{
		{p.Attach[0], "kprobe:f"},
		{p.Attach[1], "BEGIN"},
		{p.Pred, "pid"},
		{assign, "$x = (a + b) * c"},
		{mul, "(a + b) * c"},
		{mul.X, "(a + b)"},
		{mul.X.(*ast.Binary).X, "a"},
		{inc, `@m[1, "k"]++`},
		{inc.X, `@m[1, "k"]`},
		{ifs, "if (x) { return } else { exit(1) }"},
		{ifs.Then, "{ return }"},
		{ifs.Then.Stmts[0], "return"},
		{ifs.Else, "{ exit(1) }"},
		{b.Stmts[3], "for ($i : 0..10) { }"},
		{b, src[strings.IndexByte(src, '{') : len(src)-1]},
		{p, src[:len(src)-1]},
	}
	for _, c := range checks {
		if got := text(c.n); got != c.want {
			t.Errorf("%T covers %q, want %q", c.n, got, c.want)
		}
	}
	if s := p.Body.Stmts[0].Pos(); s.Start.Line != 3 || s.Start.Col != 2 || s.End.Line != 3 || s.End.Col != 18 {
		t.Errorf("assignment at %s-%s, want 3:2-3:18", s.Start, s.End)
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct{ src, at, msg string }{
		{"BEGIN { @x = count(; }", "1:20", "unexpected ';', expected an expression"},
		{"BEGIN { printf(\"x\" pid); }", "1:20", "unexpected identifier 'pid', expected ',' or ')'"},
		{"BEGIN { @x = (1 + 2; }", "1:20", "unexpected ';', expected ')'"},
		{"BEGIN { @x = (1, 2; }", "1:19", "unexpected ';', expected ',' or ')'"},
		{"BEGIN { @x[1 = 2; }", "1:14", "unexpected '=', expected ',' or ']'"},
		{"BEGIN { @x = 1 @y = 2 }", "1:16", "unexpected map '@y', expected ';' or '}'"},
		{"BEGIN { $x = $y = 1 }", "1:17", "unexpected '=', expected ';' or '}'"},
		{"BEGIN { if x { } }", "1:12", "unexpected identifier 'x', expected '('"},
		{"BEGIN { if (x) y(); }", "1:16", "unexpected identifier 'y', expected '{'"},
		{"BEGIN { if (x) { } else y }", "1:25", "unexpected identifier 'y', expected '{' or 'if' after 'else'"},
		{"BEGIN { for (i : @m) { } }", "1:14", "unexpected identifier 'i', expected a scratch variable"},
		{"BEGIN { for ($i : 1 + 2) { } }", "1:21", "unexpected '+', expected '..' or ')'"},
		{"BEGIN { for ($i : @m[1]) { } }", "1:19", "a for loop iterates over a map (@m) or a range (lo..hi)"},
		{"BEGIN { let x = 1 }", "1:13", "unexpected identifier 'x', expected a scratch variable"},
		{"BEGIN { let @m = hash(1); }", "1:13", "map declarations are only allowed at the top of the script"},
		{"BEGIN { pid = 1 }", "1:9", "cannot assign to this expression; only maps and scratch variables can be assigned"},
		{"BEGIN { $t.0 = 1 }", "1:9", "tuples are immutable once created; create a new tuple and assign it instead"},
		{"BEGIN { arg0++ }", "1:9", "the ++ operator must be applied to a map or variable"},
		{"BEGIN { --f() }", "1:9", "the -- operator must be applied to a map or variable"},
		{"BEGIN { $x = (uint32); }", "1:22", "unexpected ';', expected an expression"},
		{"BEGIN { $x = (uint8[0])1; }", "1:21", "array length 0 is out of range"},
		{"BEGIN { $x = sizeof(struct); }", "1:27", "unexpected ')', expected a struct name"},
		{"BEGIN { $x = offsetof(struct s); }", "1:31", "unexpected ')', expected ','"},
		{"BEGIN { $x = a.; }", "1:16", "unexpected ';', expected a field name"},
		{"BEGIN { $x = a.0x1; }", "1:16", "invalid tuple index '0x1'"},
		{"BEGIN { config = 1 }", "1:9", "the config block is only allowed at the top of the script"},
		{"BEGIN {\n#include <x.h>\n}", "2:1", "preprocessor directives are only allowed at the top of the script"},
		{"BEGIN { $x = \"abc }", "1:14", "unterminated string"},
		{"BEGIN { $x = \"a\\qb\"; }", "1:16", "invalid escape sequence '\\q'"},
		{"BEGIN { $x = \"\\x\"; }", "1:15", "invalid escape sequence '\\x'"},
		{"BEGIN { $x = \"\\777\"; }", "1:15", "octal escape sequence out of range '\\777'"},
		{"BEGIN { $x = 12abc; }", "1:14", "invalid integer literal '12abc'"},
		{"BEGIN { $x = 1_; }", "1:14", "invalid integer literal '1_'"},
		{"BEGIN { $x = 0x; }", "1:14", "invalid hexadecimal literal '0x'"},
		{"BEGIN { $x = 0x1g; }", "1:14", "invalid hexadecimal literal '0x1g'"},
		{"BEGIN { $x = 09; }", "1:14", "invalid digit '9' in octal literal '09'"},
		{"BEGIN { $x = 0b101; }", "1:14", "invalid integer literal '0b101': binary literals are not supported"},
		{"BEGIN { $x = 1.5; }", "1:14", "floating-point literals are not supported: '1.5'"},
		{"BEGIN { $x = 18446744073709551616; }", "1:14", "integer literal '18446744073709551616' does not fit in 64 bits"},
		{"BEGIN { $x = 0x10000000000000000; }", "1:14", "integer literal '0x10000000000000000' does not fit in 64 bits"},
		{"BEGIN { $x = 100000000000d; }", "1:14", "integer literal '100000000000d' does not fit in 64 bits"},
		{"BEGIN { $x = 1e20; }", "1:14", "integer literal '1e20' does not fit in 64 bits"},
		{"BEGIN { $x = 5sec; }", "1:14", "invalid integer literal '5sec'"},
		{"BEGIN { $x = $0; }", "1:14", "invalid positional parameter '$0': parameters are numbered from $1"},
		{"BEGIN { $x = $99999999999; }", "1:14", "positional parameter '$99999999999' is out of range"},
		{"BEGIN { $x = $; }", "1:14", "invalid character '$': expected a variable name, a parameter number or '#' after it"},
		{"BEGIN { $x = `1; }", "1:14", "invalid character '`'"},
		{"BEGIN { $x = é; }", "1:14", "invalid character 'é'"},
		{"BEGIN { /* never closed", "1:9", "unterminated comment"},
		{"BEGIN { @x = 1;", "1:16", "unexpected end of file, expected '}' to close the block opened at 1:7"},
		{"BEGIN { if (x) { @x = 1; }", "1:27", "unexpected end of file, expected '}' to close the block opened at 1:7"},
		{"}", "1:1", "unexpected '}': no block is open"},
		{"BEGIN { } }", "1:11", "unexpected '}': no block is open"},
		{"123 { }", "1:1", "unexpected integer '123', expected a probe"},
		{"kprobe:f", "1:9", "missing block: expected ',', a predicate or '{'"},
		{"kprobe:f /pid/", "1:15", "missing block: expected '{' after the predicate"},
		{"kprobe:f /pid/\nkprobe:g { }", "1:15", "missing block: expected '{' after the predicate"},
		{"kprobe:f /pid { }", "1:15", "unexpected '{', expected '/' to close the predicate"},
		{"kprobe:f /pid/ x { }", "1:18", "unexpected '{', expected '/' to close the predicate"}, // pid / x
		{"kprobe:f, { }", "1:11", "unexpected '{', expected an attach point after ','"},
		{"kprobe:f(x) { }", "1:9", "unexpected '(' in attach point 'kprobe:f'"},
		{"kprobe:f=1 { }", "1:9", "unexpected '=' in attach point 'kprobe:f'"},
		{"kprobe:f/pid == 1/ { }", "1:14", "unexpected '==' after attach point 'kprobe:f/pid': a '/' right after a field is part of it, so put a space before the predicate"},
		{"kprobe:\"abc { }", "1:8", "unterminated string in attach point"},
		{"struct S { int a;", "1:1", "unterminated C definition: missing '}'"},
		{"config { a = 1 }", "1:8", "unexpected '{', expected '='"},
		{"config = { 1 = 2 }", "1:12", "unexpected integer '1', expected a config variable name"},
		{"config = { a = 1 b = 2 }", "1:18", "unexpected identifier 'b', expected ';' or '}'"},
		{"BEGIN { } config = { a = 1 }", "1:11", "the config block must come before the probes"},
		{"BEGIN { } let @a = hash(1);", "1:11", "map declarations must come before the probes"},
		{"let $x = 1;", "1:5", "scratch variables can only be declared inside a probe"},
		{"let @x = 1;", "1:10", "unexpected integer '1', expected a map kind such as hash(1024)"},
		{"let @x = hash(1)\nBEGIN { }", "2:1", "unexpected identifier 'BEGIN', expected ';' after the map declaration"},
	}
	for _, tt := range tests {
		_, err := Parse("test.bt", []byte(tt.src))
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Errorf("%q: no error, want %s: %s", tt.src, tt.at, tt.msg)
			continue
		}
		e := list[0]
		if at := fmt.Sprintf("%d:%d", e.Pos.Line, e.Pos.Col); at != tt.at || e.Msg != tt.msg {
			t.Errorf("%q:\n got %s: %s\nwant %s: %s", tt.src, at, e.Msg, tt.at, tt.msg)
		}
	}
}

// TestRecovery checks that independent mistakes are all reported, once
// each, and that the rest of the script is still parsed.
func TestRecovery(t *testing.T) {
	src := `BEGIN {
	@a = (1;
	@b = 2;
	@c = );
	if (x { @d = 1 }
	@e = 3
}
kprobe:f(x) { @f = ; }
END { @g = 4 }
`
	prog, err := Parse("test.bt", []byte(src))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("got %v", err)
	}
	var got []string
	for _, e := range list {
		got = append(got, fmt.Sprintf("%d:%d", e.Pos.Line, e.Pos.Col))
	}
	want := []string{"2:9", "4:7", "5:8", "8:9", "8:20"}
	if !slices.Equal(got, want) {
		t.Errorf("errors at %q, want %q:\n%v", got, want, err)
	}
	if len(prog.Probes) != 3 {
		t.Fatalf("%d probes, want 3", len(prog.Probes))
	}
	if got := sexpr(prog.Probes[0].Body); got != "{(= @b 2); (= @e 3)}" {
		t.Errorf("first probe: %s", got)
	}
	if got := sexpr(prog.Probes[2].Body); got != "{(= @g 4)}" {
		t.Errorf("last probe: %s", got)
	}
	if problems := checkSpans([]byte(src), prog, false); len(problems) > 0 {
		t.Errorf("bad spans after recovery:\n%s", strings.Join(problems, "\n"))
	}
}

func TestErrorLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("BEGIN {\n")
	for range 25 {
		b.WriteString("\t@x = );\n")
	}
	b.WriteString("}\n")
	_, err := Parse("test.bt", []byte(b.String()))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != maxErrors {
		t.Fatalf("got %d errors, want %d", len(list), maxErrors)
	}
}

func TestDeepNesting(t *testing.T) {
	for _, src := range []string{
		"BEGIN { $x = " + strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000) + "; }",
		"BEGIN { $x = " + strings.Repeat("-", 5000) + "1; }",
		"BEGIN " + strings.Repeat("{", 5000) + strings.Repeat("}", 5000),
		"BEGIN { $x = " + strings.Repeat("a ? ", 5000) + "1" + strings.Repeat(" : 1", 5000) + "; }",
	} {
		_, err := Parse("test.bt", []byte(src))
		if err == nil || !strings.Contains(err.Error(), "nested too deeply") {
			t.Errorf("%.30q...: got %v", src, err)
		}
	}
	// Nesting within the limit is fine.
	parseOK(t, "BEGIN { $x = "+strings.Repeat("(", 100)+"1"+strings.Repeat(")", 100)+"; }")
}
