package main

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// usym and uaddr in a traced process: uaddr resolves in the process that
// -p names (the target is position independent, so its addresses are
// only known there), usym names the address through the process's
// mappings, in printf, as a map key and as a map value.
func TestTraceE2EUserSymbols(t *testing.T) {
	requireKernel(t)
	bin := e2eLoopBinary(t)
	pid := e2eStart(t, bin).Process.Pid
	time.Sleep(100 * time.Millisecond)

	prog := fmt.Sprintf(`uprobe:%[1]s:waggle_tick {
	printf("%%s %%s\n", usym(uaddr("waggle_tick")), usym(uaddr("%[1]s:main")));
	@[usym(uaddr("waggle_tick") + 3)] = count();
	@v = usym(uaddr("waggle_tick"));
	printf("%%d\n", uaddr("waggle_tick") > 0x10000);
	exit();
}`, bin)
	r := e2eMust(t, "trace", "-p", strconv.Itoa(pid), "-e", prog)
	for _, want := range []string{"waggle_tick main", "@v: waggle_tick", "1"} {
		if !e2eHasLine(r.stdout, want) {
			t.Errorf("no line %q in\n%s", want, r)
		}
	}
	// The target ticks on its own: a second tick may fire before exit()
	// takes effect, so the count is 1 or more.
	if !regexp.MustCompile(`(?m)^@\[waggle_tick\]: [1-9][0-9]*$`).MatchString(r.stdout) {
		t.Errorf("no @[waggle_tick] count in\n%s", r)
	}
}

// ustack in a uprobe: the stack map's frames, named through the
// process's mappings, in bpftrace and perf mode and as a map key. At the
// entry of waggle_tick, before its frame is set up, the innermost frame
// is the function itself at offset 0.
func TestTraceE2EUserStack(t *testing.T) {
	requireKernel(t)
	bin := e2eLoopBinary(t)
	e2eStart(t, bin)
	time.Sleep(100 * time.Millisecond)

	prog := fmt.Sprintf(`uprobe:%s:waggle_tick { printf("%%s|%%s\n", ustack(1), ustack(perf, 1)); @[ustack(1)] = count(); exit(); }`, bin)
	r := e2eMust(t, "trace", "-e", prog)
	for _, want := range []string{
		"        waggle_tick+0",
		"|",
		"@[",
		"]: 1",
	} {
		if !e2eHasLine(r.stdout, want) {
			t.Errorf("no line %q in\n%s", want, r)
		}
	}
	perf := regexp.MustCompile(`(?m)^\t[0-9a-f]+ waggle_tick\+0 \(` + regexp.QuoteMeta(bin) + `\)$`)
	if !perf.MatchString(r.stdout) {
		t.Errorf("no perf-mode frame %q in\n%s", perf, r)
	}
}

// With -p the run ends when the process exits, and the maps print after
// it: ustack (and usym) keys still name what the process had mapped.
func TestTraceE2EUserSymbolsAfterExit(t *testing.T) {
	requireKernel(t)
	bin := e2eLoopBinary(t)
	target := e2eStart(t, bin)
	time.Sleep(100 * time.Millisecond)

	// No uaddr here: with -p it reads the process's mappings while
	// compiling, which would hide whether the run itself does.
	prog := fmt.Sprintf(`uprobe:%s:waggle_tick { @[ustack(1)] = count(); }`, bin)
	bg := startWaggle(t, "trace", "-p", strconv.Itoa(target.Process.Pid), "-e", prog)
	time.Sleep(300 * time.Millisecond)
	target.Process.Kill()
	target.Wait()
	r := bg.stop(t)
	if r.code != 0 {
		t.Fatalf("waggle failed\n%s", r)
	}
	for _, want := range []string{"        waggle_tick+0"} {
		if !e2eHasLine(r.stdout, want) {
			t.Errorf("no line %q in\n%s", want, r)
		}
	}
}
