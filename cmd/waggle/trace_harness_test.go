package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// traceCase is one runtime test of `waggle trace`, read from
// testdata/trace/*.test. The format, one directive per line, cases
// separated by blank lines:
//
//	NAME          the case's name (starts a case)
//	PROG          the program, passed with -e; several PROG lines are
//	              joined with newlines (for #define and #include lines)
//	ARGS          extra arguments before -e, split on spaces
//	EXPECT        a line of output that must appear exactly
//	EXPECT_REGEX  a regular expression some line must match
//	EXPECT_NONE   a line that must not appear
//	EXPECT_ERR    a line that must appear on stderr
//	EXPECT_ERR_REGEX a regular expression some stderr line must match
//	EXPECT_ERR_NONE  text no stderr line may contain
//	AFTER         a shell command run once the probes are attached
//	TIMEOUT       seconds before the case fails (default 10)
//	EXIT          the expected exit status (default 0)
//	REQUIRES      a command that must exist, e.g. cc
//
// A case ends when the program exits by itself (exit(), -c, END).
type traceCase struct {
	file, name  string
	line        int
	prog        string
	args        []string
	expect      []string
	expectRegex []*regexp.Regexp
	expectNone  []string
	expectErr   []string
	expectErrRe []*regexp.Regexp
	errNone     []string
	after       string
	timeout     time.Duration
	exit        int
	requires    []string
}

func parseTraceCases(path string) ([]*traceCase, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var (
		cases []*traceCase
		cur   *traceCase
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, _ := strings.Cut(line, " ")
		if key == "NAME" {
			cur = &traceCase{file: filepath.Base(path), name: value, line: n, timeout: 10 * time.Second}
			cases = append(cases, cur)
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("%s:%d: %s before NAME", path, n, key)
		}
		switch key {
		case "PROG":
			if cur.prog != "" {
				cur.prog += "\n"
			}
			cur.prog += value
		case "ARGS":
			cur.args = strings.Fields(value)
		case "EXPECT":
			cur.expect = append(cur.expect, value)
		case "EXPECT_REGEX":
			re, err := regexp.Compile(value)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, n, err)
			}
			cur.expectRegex = append(cur.expectRegex, re)
		case "EXPECT_NONE":
			cur.expectNone = append(cur.expectNone, value)
		case "EXPECT_ERR_REGEX":
			re, err := regexp.Compile(value)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, n, err)
			}
			cur.expectErrRe = append(cur.expectErrRe, re)
		case "EXPECT_ERR_NONE":
			cur.errNone = append(cur.errNone, value)
		case "EXPECT_ERR":
			cur.expectErr = append(cur.expectErr, value)
		case "AFTER":
			cur.after = value
		case "TIMEOUT":
			s, err := strconv.Atoi(value)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: TIMEOUT %q", path, n, value)
			}
			cur.timeout = time.Duration(s) * time.Second
		case "EXIT":
			s, err := strconv.Atoi(value)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: EXIT %q", path, n, value)
			}
			cur.exit = s
		case "REQUIRES":
			cur.requires = append(cur.requires, value)
		default:
			return nil, fmt.Errorf("%s:%d: unknown directive %s", path, n, key)
		}
	}
	for _, c := range cases {
		if c.prog == "" {
			return nil, fmt.Errorf("%s:%d: case %q has no PROG", path, c.line, c.name)
		}
	}
	return cases, sc.Err()
}

func TestTraceRuntime(t *testing.T) { traceRuntime(t, false) }

// TestTraceRuntimeCompiled runs the same cases compiled to a .wgl file
// first, then run from it: the output must be the same.
func TestTraceRuntimeCompiled(t *testing.T) { traceRuntime(t, true) }

func traceRuntime(t *testing.T, compiled bool) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "trace", "*.test"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no runtime test files: %v", err)
	}
	requireKernel(t)
	for _, f := range files {
		cases, err := parseTraceCases(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			t.Run(strings.TrimSuffix(c.file, ".test")+"/"+c.name, func(t *testing.T) { runTraceCaseAs(t, c, compiled) })
		}
	}
}

func runTraceCase(t *testing.T, c *traceCase) { runTraceCaseAs(t, c, false) }

// runTraceCaseAs runs a case; compiled runs it in two steps, as
// `waggle trace --compile -o prog.wgl` (with the arguments that are
// compiled in) and then `waggle trace ARGS prog.wgl`, which must behave as
// the script does. A case that fails to compile is judged on the compile
// step's output.
func runTraceCaseAs(t *testing.T, c *traceCase, compiled bool) {
	for _, r := range c.requires {
		if _, err := exec.LookPath(r); err != nil {
			t.Fatalf("%s:%d needs %s", c.file, c.line, r)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	args := append(append([]string{"trace"}, c.args...), "-e", c.prog)
	if compiled {
		wgl := filepath.Join(t.TempDir(), "prog.wgl")
		cargs := append(append([]string{"trace", "--compile", "-o", wgl}, compileTimeArgs(c.args)...), "-e", c.prog)
		cmd := exec.CommandContext(ctx, waggleBin, cargs...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			report := fmt.Sprintf("%s:%d %s (compiling)\n--- stdout\n%s--- stderr\n%s", c.file, c.line, c.prog, stdout.String(), stderr.String())
			checkTraceResult(t, ctx, c, ee.ExitCode(), stdout.String(), stderr.String(), report)
			return
		} else if err != nil {
			t.Fatal(err)
		}
		args = append(append([]string{"trace"}, c.args...), wgl)
	}
	cmd := exec.CommandContext(ctx, waggleBin, args...)
	stdout := newSyncBuffer()
	var stderr bytes.Buffer
	cmd.Stdout = stdout
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	// Attached when "Attached N probes" appears on stderr; AFTER runs
	// then.
	stderrDone := make(chan struct{})
	attached := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := false
		for sc.Scan() {
			stderr.WriteString(sc.Text() + "\n")
			if !once && strings.HasPrefix(sc.Text(), "Attached ") {
				once = true
				close(attached)
			}
		}
		close(stderrDone)
	}()
	if c.after != "" {
		select {
		case <-attached:
		case <-time.After(c.timeout):
		}
		if out, err := exec.CommandContext(ctx, "sh", "-c", c.after).CombinedOutput(); err != nil {
			t.Logf("AFTER %q: %v\n%s", c.after, err, out)
		}
	}
	err = cmd.Wait()
	<-stderrDone
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	out := stdout.String()
	report := fmt.Sprintf("%s:%d %s\n--- stdout\n%s--- stderr\n%s", c.file, c.line, c.prog, out, stderr.String())
	checkTraceResult(t, ctx, c, code, out, stderr.String(), report)
}

// compileTimeArgs drops from a case's arguments those chosen when a
// compiled program runs.
func compileTimeArgs(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-c", "-f", "-o":
			i++
		case "-q", "--dry-run", "-v":
		default:
			out = append(out, args[i])
		}
	}
	return out
}

// checkTraceResult judges what a run printed and how it ended.
func checkTraceResult(t *testing.T, ctx context.Context, c *traceCase, code int, out, stderrText, report string) {
	t.Helper()
	if ctx.Err() != nil {
		t.Fatalf("timed out after %v\n%s", c.timeout, report)
	}
	if strings.Contains(stderrText, "panic:") {
		t.Fatalf("panic\n%s", report)
	}
	if code != c.exit {
		t.Fatalf("exit %d, want %d\n%s", code, c.exit, report)
	}
	lines := strings.Split(out, "\n")
	has := func(want string) bool {
		for _, l := range lines {
			if l == want {
				return true
			}
		}
		return false
	}
	for _, want := range c.expect {
		if !has(want) {
			t.Errorf("no line %q\n%s", want, report)
		}
	}
	for _, re := range c.expectRegex {
		found := false
		for _, l := range lines {
			if re.MatchString(l) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no line matches %q\n%s", re, report)
		}
	}
	errLines := strings.Split(stderrText, "\n")
	for _, want := range c.expectErr {
		found := false
		for _, l := range errLines {
			found = found || l == want
		}
		if !found {
			t.Errorf("no stderr line %q\n%s", want, report)
		}
	}
	for _, bad := range c.expectNone {
		if has(bad) {
			t.Errorf("unexpected line %q\n%s", bad, report)
		}
	}
	for _, re := range c.expectErrRe {
		if !slices.ContainsFunc(errLines, re.MatchString) {
			t.Errorf("no stderr line matches %q\n%s", re, report)
		}
	}
	for _, bad := range c.errNone {
		if strings.Contains(stderrText, bad) {
			t.Errorf("stderr contains %q\n%s", bad, report)
		}
	}
}
