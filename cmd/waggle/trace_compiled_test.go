package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// compileTo runs waggle trace --compile and returns the file it wrote.
func compileTo(t *testing.T, args ...string) string {
	t.Helper()
	wgl := filepath.Join(t.TempDir(), "prog.wgl")
	r := waggle(t, append([]string{"trace", "--compile", "-o", wgl}, args...)...)
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("compile: %s", r)
	}
	return wgl
}

// A compiled program runs with the script's output and exit code, from
// waggle trace and from waggle run, in text and JSON.
func TestCompiledProgramRuns(t *testing.T) {
	requireKernel(t)
	prog := `BEGIN { printf("%s %d\n", str($1), $2); @m[$1, 2] = sum(5); @h = lhist(42, 0, 100, 10); print((1, "x")); exit(4); }`
	wgl := compileTo(t, "-e", prog, "one", "22")
	for _, c := range []struct {
		name            string
		script, program []string
	}{
		{"trace", []string{"trace", "-e", prog, "one", "22"}, []string{"trace", wgl}},
		{"trace json", []string{"trace", "-f", "json", "-e", prog, "one", "22"}, []string{"trace", "-f", "json", wgl}},
		{"run", []string{"trace", "-e", prog, "one", "22"}, []string{"run", wgl}},
		{"run json", []string{"trace", "-f", "json", "-e", prog, "one", "22"}, []string{"run", wgl, "-o", "json"}},
		{"same parameters", []string{"trace", "-e", prog, "one", "22"}, []string{"trace", wgl, "one", "22"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			want, got := waggle(t, c.script...), waggle(t, c.program...)
			if got.code != 4 || got.code != want.code || got.stdout != want.stdout {
				t.Errorf("compiled:\n%s\nscript:\n%s", got, want)
			}
			if !strings.Contains(got.stdout, "one 22") {
				t.Errorf("the positional parameters were not compiled in:\n%s", got)
			}
		})
	}
}

func TestCompiledProgramRefusals(t *testing.T) {
	dir := t.TempDir()
	wgl := compileTo(t, "-e", `BEGIN { printf("%s\n", str($1)); exit(); }`, "a")
	newer := filepath.Join(dir, "newer.wgl")
	data, err := os.ReadFile(wgl)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(data[8:], 9)
	if err := os.WriteFile(newer, data, 0o644); err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(dir, "damaged.wgl")
	binary.LittleEndian.PutUint32(data[8:], 1)
	if err := os.WriteFile(damaged, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"trace", "--compile", "-e", "BEGIN { exit(); }"}, "--compile: name the file to write with -o FILE"},
		{[]string{"trace", "--compile", "-o", filepath.Join(dir, "x.wgl"), "-c", "true", "-e", "BEGIN { exit(); }"}, "are chosen when the compiled program runs"},
		{[]string{"trace", "--compile", "-o", filepath.Join(dir, "x.wgl"), "-e", "BEGIN { nosuch(); }"}, "stdin:1:9"},
		{[]string{"trace", wgl, "b"}, `positional parameters are compiled in ("a")`},
		{[]string{"trace", "-k", wgl}, "was compiled without -k"},
		{[]string{"trace", "-d", "ast", wgl}, "a compiled program has no syntax tree"},
		{[]string{"trace", "--compile", "-o", filepath.Join(dir, "y.wgl"), wgl}, "is compiled already"},
		{[]string{"trace", newer}, "format version 9 is newer than this waggle reads (version 1)"},
		{[]string{"run", newer}, "format version 9 is newer than this waggle reads (version 1)"},
		{[]string{"run", damaged}, "compiled program is damaged"},
		{[]string{"run", wgl, "--iface", "lo"}, "--iface applies to BPF objects, not to compiled bpftrace programs"},
		{[]string{"run", "--unsafe", fixture("maps.bpf.o")}, "--unsafe applies to compiled bpftrace programs"},
	}
	for _, c := range cases {
		r := waggle(t, c.args...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("waggle %v: want an error containing %q\n%s", c.args, c.want, r)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.wgl")); !os.IsNotExist(err) {
		t.Errorf("a failed compile left a file behind: %v", err)
	}
}

// A program compiled with --unsafe runs only where --unsafe is given too.
func TestCompiledUnsafe(t *testing.T) {
	requireKernel(t)
	wgl := compileTo(t, "--unsafe", "-e", `BEGIN { system("echo from system"); exit(); }`)
	if r := waggle(t, "run", wgl); r.code == 0 || !strings.Contains(r.stderr, "run it with --unsafe") {
		t.Errorf("without --unsafe:\n%s", r)
	}
	for _, args := range [][]string{{"run", "--unsafe", wgl}, {"trace", "--unsafe", wgl}} {
		if r := waggle(t, args...); r.code != 0 || !strings.Contains(r.stdout, "from system") {
			t.Errorf("waggle %v:\n%s", args, r)
		}
	}
}

// Ctrl-C stops a compiled program as it stops a script: maps printed.
func TestCompiledProgramStopsOnSignal(t *testing.T) {
	requireKernel(t)
	wgl := compileTo(t, "-e", `interval:ms:10 { @ticks = count(); }`)
	bg := startWaggle(t, "run", wgl)
	r := bg.stop(t)
	if r.code != 0 || !strings.Contains(r.stdout, "@ticks: ") {
		t.Errorf("stopped with SIGINT:\n%s", r)
	}
}
