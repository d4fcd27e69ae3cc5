package session

import (
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/wagglebpf/waggle/attach"
)

func TestNeedsTracefs(t *testing.T) {
	plan := func(kinds ...attach.Kind) *Plan {
		p := &Plan{Targets: map[string]attach.Target{}}
		for i, k := range kinds {
			p.Targets[strconv.Itoa(i)] = attach.Target{Kind: k}
		}
		return p
	}
	empty := &ebpf.CollectionSpec{}
	kconfig := &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{".kconfig": {Name: ".kconfig"}}}
	kconfigVar := &ebpf.CollectionSpec{Variables: map[string]*ebpf.VariableSpec{"LINUX_HAS_SYSCALL_WRAPPER": {SectionName: ".kconfig"}}}
	for _, tc := range []struct {
		name string
		spec *ebpf.CollectionSpec
		plan *Plan
		want bool
	}{
		{"network only", empty, plan(attach.KindXDP, attach.KindTC, attach.KindSocket), false},
		{"cgroup, perf, raw tp, iter", empty, plan(attach.KindCgroup, attach.KindPerfEvent, attach.KindRawTracepoint, attach.KindIter), false},
		{"tracepoint", empty, plan(attach.KindXDP, attach.KindTracepoint), true},
		{"uprobe", empty, plan(attach.KindUprobe), true},
		{"ksyscall", empty, plan(attach.KindKsyscall), true},
		{".kconfig map", kconfig, plan(attach.KindXDP), true},
		{".kconfig variable", kconfigVar, plan(attach.KindXDP), true},
	} {
		if got := NeedsTracefs(tc.spec, tc.plan); got != tc.want {
			t.Errorf("%s: NeedsTracefs = %v, want %v", tc.name, got, tc.want)
		}
	}
	// The fixtures: net.bpf.o and cgroup.bpf.o need none, openat.bpf.o does.
	for name, want := range map[string]bool{"net.bpf.o": false, "cgroup.bpf.o": false, "openat.bpf.o": true} {
		spec := loadSpec(t, name)
		p, err := MakePlan(spec, PlanOptions{Probe: noProbe(t)})
		if err != nil {
			t.Fatal(err)
		}
		if got := NeedsTracefs(spec, p); got != want {
			t.Errorf("%s: NeedsTracefs = %v, want %v", name, got, want)
		}
	}
}

// ErrPrivileges follows "waggle: " in the commands' output.
func TestErrPrivilegesReadsAfterPrefix(t *testing.T) {
	msg := ErrPrivileges.Error()
	if strings.HasPrefix(msg, "waggle") {
		t.Errorf("%q would print as \"waggle: waggle ...\"", msg)
	}
	for _, want := range []string{"root", "CAP_BPF", "CAP_PERFMON", "sudo"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not mention %s", msg, want)
		}
	}
}
