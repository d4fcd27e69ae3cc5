package sema

import (
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/lang/ast"
)

// inBegin wraps statements in a BEGIN probe; a script that already has a
// probe (it contains '{') is used as it is.
func inBegin(src string) string {
	if strings.Contains(src, "{") {
		return src
	}
	return "BEGIN { " + src + " }"
}

// TestExprTypes checks the type the checker gives to expressions: the
// last expression written exactly as expr in the script.
func TestExprTypes(t *testing.T) {
	tests := []struct {
		src    string
		expr   string
		want   string
		params []string
	}{
		// Literals and scratch variables.
		{src: `$x = 1;`, expr: `$x`, want: "int64"},
		{src: `$x = 0xffffffffffffffff;`, expr: `0xffffffffffffffff`, want: "uint64"},
		{src: `$x = 1_000_000;`, expr: `$x`, want: "int64"},
		{src: `$x = 5ms;`, expr: `5ms`, want: "int64"},
		{src: `$s = "abc";`, expr: `$s`, want: "string[4]"},
		{src: `$s = "";`, expr: `""`, want: "string[1]"},
		{src: `$b = true;`, expr: `$b`, want: "bool"},
		{src: `$x = 1; $y = $x;`, expr: `$y`, want: "int64"},
		// A variable keeps the widest type assigned to it.
		{src: `$s = "a"; $s = comm;`, expr: `$s`, want: "string[16]"},
		{src: `$s = comm; $s = "a";`, expr: `$s`, want: "string[16]"},
		{src: `$x = (uint8)1; $x = 2;`, expr: `$x`, want: "int64"},
		{src: `let $v: uint16 = 5; $w = $v;`, expr: `$w`, want: "uint16"},
		{src: `let $v: string = "a"; $w = $v;`, expr: `$w`, want: "string[64]"},
		{src: `let $v; $w = $v;`, expr: `$w`, want: "int64"},
		{src: `let $v = comm; $w = $v;`, expr: `$w`, want: "string[16]"},
		// Builtins.
		{src: `$c = comm;`, expr: `comm`, want: "string[16]"},
		{src: `$p = pid;`, expr: `pid`, want: "uint64"},
		{src: `$p = tid + uid + gid + cpu + nsecs + elapsed + cgroup + rand + ncpus + cpid;`, expr: `$p`, want: "uint64"},
		{src: `$p = curtask;`, expr: `curtask`, want: "struct task_struct *"},
		{src: `$p = probe;`, expr: `probe`, want: "string[6]"},
		{src: `interval:s:1 { $p = probe; }`, expr: `probe`, want: "string[13]"},
		{src: `i:ms:100 { $p = probe; }`, expr: `probe`, want: "string[16]"}, // interval:ms:100
		{src: `kprobe:vfs_read { $a = arg0; }`, expr: `arg0`, want: "uint64"},
		{src: `kprobe:vfs_read { $a = arg5; }`, expr: `arg5`, want: "uint64"},
		{src: `uprobe:/bin/sh:main { $a = arg1; }`, expr: `arg1`, want: "uint64"},
		{src: `rawtracepoint:sched_switch { $a = arg2; }`, expr: `arg2`, want: "uint64"},
		{src: `kretprobe:vfs_read { $r = retval; }`, expr: `retval`, want: "int64"},
		{src: `uretprobe:/bin/sh:main { $r = retval; }`, expr: `retval`, want: "int64"},
		{src: `kprobe:vfs_read { $f = func; }`, expr: `func`, want: "string[9]"},
		{src: `uprobe:/bin/sh:main { $f = func; }`, expr: `func`, want: "string[5]"},
		// Casts.
		{src: `$c = (uint8)5;`, expr: `(uint8)5`, want: "uint8"},
		{src: `$c = (int16)pid;`, expr: `(int16)pid`, want: "int16"},
		{src: `$c = (u32)pid;`, expr: `$c`, want: "uint32"},
		{src: `$c = (s64)pid;`, expr: `$c`, want: "int64"},
		{src: `$c = (char)65;`, expr: `$c`, want: "int8"},
		{src: `$c = (bool)pid;`, expr: `$c`, want: "bool"},
		// Operators.
		{src: `$x = pid + 1;`, expr: `pid + 1`, want: "uint64"}, // C: an unsigned 64-bit operand makes it unsigned,
		{src: `$x = pid * tid;`, expr: `pid * tid`, want: "uint64"},
		{src: `$x = (uint8)1 + (uint8)2;`, expr: `$x`, want: "int64"}, // C: narrow unsigned operands promote to signed,
		{src: `$x = -pid;`, expr: `-pid`, want: "int64"},
		{src: `$x = ~1;`, expr: `~1`, want: "int64"},
		{src: `$x = !pid;`, expr: `!pid`, want: "bool"},
		{src: `$x = pid < 5;`, expr: `pid < 5`, want: "bool"},
		{src: `$x = pid == 5 && tid != 3 || true;`, expr: `$x`, want: "bool"},
		{src: `$x = comm == "bash";`, expr: `comm == "bash"`, want: "bool"},
		{src: `$x = comm != "a";`, expr: `$x`, want: "bool"},
		{src: `$x = 1; $x += 2;`, expr: `$x`, want: "int64"},
		{src: `$x = 1; $x++;`, expr: `$x++`, want: "int64"},
		{src: `$x = pid ? 1 : 2;`, expr: `$x`, want: "int64"},
		{src: `$x = pid ? "a" : "bcd";`, expr: `pid ? "a" : "bcd"`, want: "string[4]"},
		{src: `$x = pid ?: 7;`, expr: `$x`, want: "int64"},
		{src: `$x = sizeof(uint32);`, expr: `$x`, want: "uint64"},
		{src: `$x = sizeof(comm);`, expr: `$x`, want: "uint64"},
		// Tuples; their integers are stored as 64 bits.
		{src: `$t = (1, "ab", comm);`, expr: `$t`, want: "(int64,string[3],string[16])"},
		{src: `$t = (pid, (uint8)2, true);`, expr: `$t`, want: "(uint64,uint64,bool)"},
		{src: `$t = (1, "ab", comm); $e = $t.1;`, expr: `$t.1`, want: "string[3]"},
		{src: `$t = (1, "ab"); $t = (2, "abcd");`, expr: `$t`, want: "(int64,string[5])"},
		// str(): max_strlen by default, n+1 bytes with a smaller length.
		{src: `kprobe:f { $s = str(arg0); }`, expr: `str(arg0)`, want: "string[64]"},
		{src: `kprobe:f { $s = str(arg0, 10); }`, expr: `str(arg0, 10)`, want: "string[11]"},
		{src: `kprobe:f { $s = str(arg0, 10); }`, expr: `10`, want: "int64"},
		{src: `kprobe:f { $s = str(arg0, 500); }`, expr: `$s`, want: "string[64]"},
		{src: `kprobe:f { $s = str(arg0, 63); }`, expr: `$s`, want: "string[64]"},
		{src: `kprobe:f { $s = str(arg0, 62); }`, expr: `$s`, want: "string[63]"},
		{src: `kprobe:f { $s = str(arg0, 0x7fffffffffffffff); }`, expr: `$s`, want: "string[64]"},
		{src: `kprobe:f { $s = str(arg0, arg1); }`, expr: `$s`, want: "string[64]"},
		{src: `config = { max_strlen = 128 } kprobe:f { $s = str(arg0); }`, expr: `$s`, want: "string[128]"},
		{src: `config = { max_strlen = 16 } BEGIN { $s = str(comm); }`, expr: `$s`, want: "string[16]"},
		{src: `$s = str(comm);`, expr: `str(comm)`, want: "string[16]"},
		// Positional parameters: strings when they do not read as numbers.
		{src: `$p = $1;`, expr: `$1`, want: "string[6]", params: []string{"hello"}},
		{src: `$p = $1;`, expr: `$1`, want: "int64", params: []string{"42"}},
		{src: `$p = $1;`, expr: `$1`, want: "int64", params: []string{"0x10"}},
		{src: `$p = $2;`, expr: `$2`, want: "int64", params: []string{"a"}},
		{src: `$p = $#;`, expr: `$#`, want: "int64"},
		// Maps read in expressions, also before the probe that assigns them.
		{src: `@x = 1; $y = @x;`, expr: `$y`, want: "int64"},
		{src: `BEGIN { $y = @late[1]; } END { @late[2] = comm; }`, expr: `$y`, want: "string[16]"},
		{src: `@c = count(); $y = @c;`, expr: `$y`, want: "uint64"},
		{src: `@s = sum(-1); $y = @s;`, expr: `$y`, want: "int64"},
		{src: `@s = sum(pid); $y = @s;`, expr: `$y`, want: "uint64"},
		{src: `@m = max((uint8)3); $y = @m;`, expr: `$y`, want: "uint64"},
		{src: `@m = min(-3); $y = @m;`, expr: `$y`, want: "int64"},
		{src: `@m[1] = 1; $y = has_key(@m, 1);`, expr: `$y`, want: "bool"},
		// Aggregating calls and statements have types of their own.
		{src: `@c = count();`, expr: `count()`, want: "count_t"},
		{src: `@h = hist(pid);`, expr: `@h`, want: "hist_t"},
		{src: `@l = lhist(pid, 0, 100, 10);`, expr: `lhist(pid, 0, 100, 10)`, want: "lhist_t"},
		{src: `printf("%d\n", pid);`, expr: `printf("%d\n", pid)`, want: "none"},
		{src: `exit();`, expr: `exit()`, want: "none"},
		{src: `return 3;`, expr: `3`, want: "int64"},
	}
	for _, tt := range tests {
		src := inBegin(tt.src)
		t.Run(src, func(t *testing.T) {
			_, prog := mustCheck(t, src, Options{NCPUs: 2, Params: tt.params})
			if got := typeAt(t, prog, tt.expr).String(); got != tt.want {
				t.Errorf("%s: got %s, want %s", tt.expr, got, tt.want)
			}
			if u := untyped(prog); len(u) > 0 {
				t.Errorf("expressions without a type: %v", u)
			}
		})
	}
}

// TestCastMarked checks that explicit casts are marked, since bpftrace
// prints a cast integer as written.
func TestCastMarked(t *testing.T) {
	_, prog := mustCheck(t, `BEGIN { $a = (uint8)1; $b = 1; }`, defaultOpts)
	if ty := typeAt(t, prog, `(uint8)1`); !ty.Cast {
		t.Error("(uint8)1 is not marked as a cast")
	}
	if ty := typeAt(t, prog, `1`); ty.Cast {
		t.Error("the literal 1 is marked as a cast")
	}
	if ast.Uint8.Cast {
		t.Fatal("the checker marked the shared ast.Uint8 as a cast")
	}
}

// TestMaps checks what Info.Maps says about each map after all probes.
func TestMaps(t *testing.T) {
	tests := []struct {
		src        string
		name       string
		key, value string // key "" for a map without keys
		perCPU     bool
		kind       string
		maxEntries int
	}{
		{src: `@x = 1;`, name: "@x", value: "int64"},
		{src: `@x = comm;`, name: "@x", value: "string[16]"},
		{src: `@x = (1, comm);`, name: "@x", value: "(int64,string[16])"},
		{src: `@x[pid] = 1;`, name: "@x", key: "uint64", value: "int64"},
		// Integer keys are stored as 64 bits, as bpftrace does.
		{src: `@x[(uint8)1] = 1;`, name: "@x", key: "uint64", value: "int64"},
		{src: `@x[(int16)1] = 1;`, name: "@x", key: "int64", value: "int64"},
		{src: `@x[pid, comm] = 1;`, name: "@x", key: "(uint64,string[16])", value: "int64"},
		{src: `@x[(1, "a")] = 1;`, name: "@x", key: "(int64,string[2])", value: "int64"},
		{src: `@[comm] = count();`, name: "@", key: "string[16]", value: "count_t", perCPU: true},
		// Keys and values widen across assignments and probes.
		{src: `BEGIN { @s["a"] = 1; } END { @s["abcd"] = 2; }`, name: "@s", key: "string[5]", value: "int64"},
		{src: `BEGIN { @v = "a"; } END { @v = comm; }`, name: "@v", value: "string[16]"},
		{src: `@v = (uint8)1; @v = pid;`, name: "@v", value: "uint64"},
		{src: `@v = (uint8)1; @v = -1;`, name: "@v", value: "int64"},
		{src: `@v[1] = 1; @v[pid] = 2;`, name: "@v", key: "int64", value: "int64"},
		// ++ and compound assignment make plain integer maps.
		{src: `@i++;`, name: "@i", value: "int64"},
		{src: `@i[comm]--;`, name: "@i", key: "string[16]", value: "int64"},
		{src: `@j += 5;`, name: "@j", value: "int64"},
		// Aggregations live in per-CPU maps.
		{src: `@a = count();`, name: "@a", value: "count_t", perCPU: true},
		{src: `@a = sum(pid);`, name: "@a", value: "sum_t", perCPU: true},
		{src: `@a = avg(pid);`, name: "@a", value: "avg_t", perCPU: true},
		{src: `@a = min(pid);`, name: "@a", value: "min_t", perCPU: true},
		{src: `@a = max(pid);`, name: "@a", value: "max_t", perCPU: true},
		{src: `@a = stats(pid);`, name: "@a", value: "stats_t", perCPU: true},
		{src: `@a[cpu] = hist(pid);`, name: "@a", key: "uint64", value: "hist_t", perCPU: true},
		{src: `@a = hist(pid, 0);`, name: "@a", value: "hist_t", perCPU: true},
		{src: `@a = lhist(pid, 0, 100, 10);`, name: "@a", value: "lhist_t", perCPU: true},
		// Declared maps keep their kind and size.
		{src: `let @d = hash(100); BEGIN { @d[1] = 2; }`, name: "@d", key: "int64", value: "int64", kind: "hash", maxEntries: 100},
		{src: `let @d = lruhash(10); BEGIN { @d[comm] = count(); }`, name: "@d", key: "string[16]", value: "count_t", perCPU: true, kind: "lruhash", maxEntries: 10},
		{src: `let @d = percpuhash(8); BEGIN { @d[1] = 2; }`, name: "@d", key: "int64", value: "int64", perCPU: true, kind: "percpuhash", maxEntries: 8},
		{src: `let @d = percpulruhash(8); BEGIN { @d[1] = 2; }`, name: "@d", key: "int64", value: "int64", perCPU: true, kind: "percpulruhash", maxEntries: 8},
		{src: `let @d = percpuarray(1); BEGIN { @d = count(); }`, name: "@d", value: "count_t", perCPU: true, kind: "percpuarray", maxEntries: 1},
	}
	for _, tt := range tests {
		src := inBegin(tt.src)
		t.Run(src, func(t *testing.T) {
			info, _ := mustCheck(t, src, defaultOpts)
			mi := info.Maps[tt.name]
			if mi == nil {
				t.Fatalf("no map %s in %v", tt.name, info.MapNames())
			}
			key := ""
			if mi.Key != nil {
				key = mi.Key.String()
			}
			if key != tt.key || mi.Value.String() != tt.value {
				t.Errorf("%s: key %q value %s, want key %q value %s", tt.name, key, mi.Value, tt.key, tt.value)
			}
			if mi.PerCPU != tt.perCPU || mi.Kind != tt.kind || mi.MaxEntries != tt.maxEntries {
				t.Errorf("%s: percpu=%v kind=%q entries=%d, want %v %q %d", tt.name, mi.PerCPU, mi.Kind, mi.MaxEntries, tt.perCPU, tt.kind, tt.maxEntries)
			}
			if mi.Name != tt.name || mi.First == nil {
				t.Errorf("%s: name %q, first %v", tt.name, mi.Name, mi.First)
			}
		})
	}
}

// TestAggregationTypes checks the parameters aggregation types carry:
// signedness of sum/min/max and the lhist bounds.
func TestAggregationTypes(t *testing.T) {
	info, _ := mustCheck(t, `BEGIN {
		@su = sum((uint8)1); @ss = sum(-1);
		@mu = min(pid); @ms = min((int32)1);
		@xu = max(pid); @xs = max(-pid);
		@av = avg(pid); @st = stats(pid);
		@l = lhist(pid, 10, 1000, 5);
		@l2[comm] = lhist(pid, 10, 1000, 5);
	}`, defaultOpts)
	signed := map[string]bool{"@su": false, "@ss": true, "@mu": false, "@ms": true, "@xu": false, "@xs": true, "@av": true, "@st": true}
	for name, want := range signed {
		if got := info.Maps[name].Value.Signed; got != want {
			t.Errorf("%s (%s): signed %v, want %v", name, info.Maps[name].Value, got, want)
		}
	}
	for _, name := range []string{"@l", "@l2"} {
		v := info.Maps[name].Value
		if v.Kind != ast.KindLHist || v.Min != 10 || v.Max != 1000 || v.Step != 5 {
			t.Errorf("%s: %s min %d max %d step %d, want lhist 10 1000 5", name, v, v.Min, v.Max, v.Step)
		}
	}
	if got := info.MapNames(); strings.Join(got, " ") != "@av @l @l2 @ms @mu @ss @st @su @xs @xu" {
		t.Errorf("MapNames: %v", got)
	}
}

// TestConfig checks the config block's settings and their defaults.
func TestConfig(t *testing.T) {
	info, _ := mustCheck(t, `BEGIN { exit(); }`, defaultOpts)
	if info.Config != DefaultConfig {
		t.Errorf("default config %+v, want %+v", info.Config, DefaultConfig)
	}
	tests := []struct {
		src  string
		want Config
	}{
		{`config = { max_strlen = 32 }`, Config{MaxStrlen: 32, MaxMapKeys: 4096, PrintMapsOnExit: true, MissingProbesErr: true}},
		{`config = { BPFTRACE_MAX_STRLEN = 100 }`, Config{MaxStrlen: 100, MaxMapKeys: 4096, PrintMapsOnExit: true, MissingProbesErr: true}},
		{`config = { max_map_keys = 10; print_maps_on_exit = false }`, Config{MaxStrlen: 64, MaxMapKeys: 10, PrintMapsOnExit: false, MissingProbesErr: true}},
		{`config = { print_maps_on_exit = 0 }`, Config{MaxStrlen: 64, MaxMapKeys: 4096, PrintMapsOnExit: false, MissingProbesErr: true}},
		{`config = { missing_probes = "warn" }`, Config{MaxStrlen: 64, MaxMapKeys: 4096, PrintMapsOnExit: true, MissingProbesErr: false}},
		{`config = { missing_probes = ignore }`, Config{MaxStrlen: 64, MaxMapKeys: 4096, PrintMapsOnExit: true, MissingProbesErr: false}},
		{`config = { missing_probes = "error" }`, Config{MaxStrlen: 64, MaxMapKeys: 4096, PrintMapsOnExit: true, MissingProbesErr: true}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			info, _ := mustCheck(t, tt.src+" BEGIN { exit(); }", defaultOpts)
			if info.Config != tt.want {
				t.Errorf("config %+v, want %+v", info.Config, tt.want)
			}
		})
	}
}

// TestParamsKept checks that Info carries the positional parameters.
func TestParamsKept(t *testing.T) {
	info, _ := mustCheck(t, `BEGIN { print($1); }`, Options{NCPUs: 2, Params: []string{"x", "y"}})
	if strings.Join(info.Params, ",") != "x,y" {
		t.Errorf("Params %v", info.Params)
	}
}

// TestScopes checks where scratch variables are visible.
func TestScopes(t *testing.T) {
	// Assigned before the if: visible and updated inside it.
	_, prog := mustCheck(t, `BEGIN { $x = 1; if (pid) { $x = 2; } $y = $x; }`, defaultOpts)
	if got := typeAt(t, prog, `$y`).String(); got != "int64" {
		t.Errorf("$y: %s", got)
	}
	// Each probe starts with no variables: $x is a string in one and an
	// integer in the other.
	_, prog = mustCheck(t, `BEGIN { $x = 1; } END { $x = "s"; $y = $x; }`, defaultOpts)
	if got := typeAt(t, prog, `$y`).String(); got != "string[2]" {
		t.Errorf("$y: %s", got)
	}
	// Declared with let, the same name in sibling blocks is two variables.
	mustCheck(t, `BEGIN { if (pid) { let $x = 1; } else { let $x = "s"; } }`, defaultOpts)
	// First assigned in a block without let, a variable is the probe's, as
	// bpftrace's tools expect (tcpconnect sets $saddr in if and else).
	_, prog = mustCheck(t, `BEGIN { if (pid) { $x = 1; } else { $x = 2; } $y = $x; }`, defaultOpts)
	if got := typeAt(t, prog, `$y`).String(); got != "int64" {
		t.Errorf("$y: %s", got)
	}
	// Loop bodies see the loop's variable.
	mustCheck(t, `BEGIN { $i = 0; while ($i < 10) { $i++; if ($i == 5) { break; } continue; } unroll (3) { $i--; } }`, defaultOpts)
}

// TestRetype checks that Retype types the shared tree for one instance
// and succeeds on a checked program.
func TestRetype(t *testing.T) {
	info, prog := mustCheck(t, `kprobe:a, kretprobe:b { @[probe] = count(); }`, defaultOpts)
	if len(info.Instances) != 2 {
		t.Fatalf("%d instances", len(info.Instances))
	}
	for i, want := range []string{"string[9]", "string[12]"} { // kprobe:a, kretprobe:b
		if err := info.Retype(info.Instances[i], defaultOpts); err != nil {
			t.Fatal(err)
		}
		if got := typeAt(t, prog, "probe").String(); got != want {
			t.Errorf("instance %s: probe is %s, want %s", info.Instances[i].Name, got, want)
		}
	}
}

// TestTypeOf checks the exported resolution of written types.
func TestTypeOf(t *testing.T) {
	tests := []struct {
		in   ast.TypeExpr
		want string
	}{
		{ast.TypeExpr{Name: "uint32"}, "uint32"},
		{ast.TypeExpr{Name: "unsigned long"}, "uint64"},
		{ast.TypeExpr{Name: "int"}, "int32"},
		{ast.TypeExpr{Name: "bool"}, "bool"},
		{ast.TypeExpr{Name: "string"}, "string[64]"},
		{ast.TypeExpr{Name: "char", Array: 16}, "string[16]"},
	}
	for _, tt := range tests {
		got, err := (&Info{Config: DefaultConfig}).TypeOf(&tt.in)
		if err != nil || got.String() != tt.want {
			t.Errorf("TypeOf(%s) = %v, %v; want %s", tt.in.String(), got, err, tt.want)
		}
	}
	for _, bad := range []ast.TypeExpr{{Name: "struct waggle_no_such_struct"}, {Name: "uint32", Array: 4}, {Name: "uint8", Array: ast.ArrayUnsized}, {Name: "float"}} {
		if got, err := (&Info{Config: DefaultConfig}).TypeOf(&bad); err == nil {
			t.Errorf("TypeOf(%s) = %s, want an error", bad.String(), got)
		}
	}
}
