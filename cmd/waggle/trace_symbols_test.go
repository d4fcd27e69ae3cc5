package main

import (
	"fmt"
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
	for _, want := range []string{"waggle_tick main", "@[waggle_tick]: 1", "@v: waggle_tick", "1"} {
		if !e2eHasLine(r.stdout, want) {
			t.Errorf("no line %q in\n%s", want, r)
		}
	}
}
