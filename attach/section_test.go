package attach

import (
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
)

// TestParseSectionFixtures parses the section names of the committed BPF
// objects with the program and attach types cilium/ebpf's ELF reader gave
// them, which is exactly what `waggle run` does.
func TestParseSectionFixtures(t *testing.T) {
	tests := []struct {
		object, program string
		want            Target
		hasTarget       bool
	}{
		{"three.bpf.o", "tp_openat", Target{Kind: KindTracepoint, Section: "tracepoint/syscalls/sys_enter_openat", Group: "syscalls", Name: "sys_enter_openat"}, true},
		{"three.bpf.o", "tp_exec", Target{Kind: KindTracepoint, Section: "tracepoint/sched/sched_process_exec", Group: "sched", Name: "sched_process_exec"}, true},
		{"optional.bpf.o", "maybe", Target{Kind: KindTracepoint, Section: "?tracepoint/syscalls/sys_enter_openat", Group: "syscalls", Name: "sys_enter_openat"}, true},
		{"rawtp.bpf.o", "count_sys_enter", Target{Kind: KindRawTracepoint, Section: "raw_tp/sys_enter", Name: "sys_enter"}, true},
		{"alt.bpf.o", "exec_raw", Target{Kind: KindRawTracepoint, Section: "raw_tp/sched_process_exec", Name: "sched_process_exec"}, true},
		{"alt.bpf.o", "exec_btf", Target{Kind: KindTpBTF, Section: "tp_btf/sched_process_exec", Name: "sched_process_exec", AttachType: ebpf.AttachTraceRawTp}, true},
		{"alt.bpf.o", "unlink_fentry", Target{Kind: KindFentry, Section: "fentry/do_unlinkat", Name: "do_unlinkat", AttachType: ebpf.AttachTraceFEntry}, true},
		{"alt.bpf.o", "unlink_kprobe", Target{Kind: KindKprobe, Section: "kprobe/do_unlinkat", Name: "do_unlinkat"}, true},
		{"kprobe.bpf.o", "open_kprobe", Target{Kind: KindKprobe, Section: "kprobe/do_sys_openat2", Name: "do_sys_openat2"}, true},
		{"kprobe.bpf.o", "open_kretprobe", Target{Kind: KindKretprobe, Section: "kretprobe/do_sys_openat2", Name: "do_sys_openat2"}, true},
		{"kprobe.bpf.o", "openat_ksyscall", Target{Kind: KindKsyscall, Section: "ksyscall/openat", Name: "openat"}, true},
		{"uprobe.bpf.o", "on_enter", Target{Kind: KindUprobe, Section: "uprobe"}, false},
		{"uprobe.bpf.o", "on_return", Target{Kind: KindUretprobe, Section: "uretprobe"}, false},
		{"uprobe_libc.bpf.o", "count_getpid", Target{Kind: KindUprobe, Section: "uprobe/libc.so.6:getpid", Uprobe: UprobeTarget{Binary: "libc.so.6", Symbol: "getpid"}}, true},
		{"perf_event.bpf.o", "on_sample", Target{Kind: KindPerfEvent, Section: "perf_event"}, true},
		{"net.bpf.o", "sock_count", Target{Kind: KindSocket, Section: "socket"}, true},
		{"net.bpf.o", "xdp_count", Target{Kind: KindXDP, Section: "xdp", AttachType: ebpf.AttachXDP}, true},
		{"net.bpf.o", "tc_count", Target{Kind: KindTC, Section: "tc"}, true},
		{"cgroup.bpf.o", "count_egress", Target{Kind: KindCgroup, Section: "cgroup_skb/egress", AttachType: ebpf.AttachCGroupInetEgress}, true},
		{"cgroup.bpf.o", "count_sysctl", Target{Kind: KindCgroup, Section: "cgroup/sysctl", AttachType: ebpf.AttachCGroupSysctl}, true},
		{"iter.bpf.o", "dump_task", Target{Kind: KindIter, Section: "iter/task", Name: "task", AttachType: ebpf.AttachTraceIter}, true},
	}
	specs := map[string]*ebpf.CollectionSpec{}
	for _, tc := range tests {
		spec := specs[tc.object]
		if spec == nil {
			var err error
			spec, err = ebpf.LoadCollectionSpec("../testdata/" + tc.object)
			if err != nil {
				t.Fatal(err)
			}
			specs[tc.object] = spec
		}
		ps := spec.Programs[tc.program]
		if ps == nil {
			t.Errorf("%s: no program %s", tc.object, tc.program)
			continue
		}
		got, err := ParseSection(ps.SectionName, ps.Type, ps.AttachType)
		if err != nil {
			t.Errorf("%s/%s: ParseSection(%q, %v, %v): %v", tc.object, tc.program, ps.SectionName, ps.Type, ps.AttachType, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s/%s: ParseSection(%q, %v, %v)\n got  %+v\n want %+v", tc.object, tc.program, ps.SectionName, ps.Type, ps.AttachType, got, tc.want)
		}
		if got.HasTarget() != tc.hasTarget {
			t.Errorf("%s/%s: HasTarget() = %v, want %v", tc.object, tc.program, got.HasTarget(), tc.hasTarget)
		}
	}
}

func TestParseSectionFixtureUnknown(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpec("../testdata/bad_section.bpf.o")
	if err != nil {
		t.Fatal(err)
	}
	ps := spec.Programs["mystery"]
	if ps == nil {
		t.Fatal("bad_section.bpf.o has no program mystery")
	}
	_, err = ParseSection(ps.SectionName, ps.Type, ps.AttachType)
	var unknown *ErrUnknownSection
	if !errors.As(err, &unknown) || unknown.Section != "nonsense/thing" {
		t.Fatalf("ParseSection(%q) = %v, want *ErrUnknownSection for it", ps.SectionName, err)
	}
}

// TestParseSection covers every family with the program and attach types
// cilium/ebpf's section table (elf_sections.go, from libbpf) gives it.
func TestParseSection(t *testing.T) {
	tests := []struct {
		section string
		pt      ebpf.ProgramType
		at      ebpf.AttachType
		want    Target // Section is filled in from section
	}{
		// Tracepoints.
		{"tracepoint/syscalls/sys_enter_openat", ebpf.TracePoint, ebpf.AttachNone, Target{Kind: KindTracepoint, Group: "syscalls", Name: "sys_enter_openat"}},
		{"tp/sched/sched_switch", ebpf.TracePoint, ebpf.AttachNone, Target{Kind: KindTracepoint, Group: "sched", Name: "sched_switch"}},
		{"tracepoint", ebpf.TracePoint, ebpf.AttachNone, Target{Kind: KindTracepoint}},
		{"tp", ebpf.TracePoint, ebpf.AttachNone, Target{Kind: KindTracepoint}},
		{"tracepoint/", ebpf.TracePoint, ebpf.AttachNone, Target{Kind: KindTracepoint}},
		{"?tp/syscalls/sys_enter_close", ebpf.TracePoint, ebpf.AttachNone, Target{Kind: KindTracepoint, Group: "syscalls", Name: "sys_enter_close"}},

		// Raw tracepoints and BTF-typed ones.
		{"raw_tracepoint/sched_switch", ebpf.RawTracepoint, ebpf.AttachNone, Target{Kind: KindRawTracepoint, Name: "sched_switch"}},
		{"raw_tp/sys_enter", ebpf.RawTracepoint, ebpf.AttachNone, Target{Kind: KindRawTracepoint, Name: "sys_enter"}},
		{"raw_tp.w/sys_enter", ebpf.RawTracepointWritable, ebpf.AttachNone, Target{Kind: KindRawTracepoint, Name: "sys_enter"}},
		{"raw_tracepoint.w/sys_enter", ebpf.RawTracepointWritable, ebpf.AttachNone, Target{Kind: KindRawTracepoint, Name: "sys_enter"}},
		{"raw_tp", ebpf.RawTracepoint, ebpf.AttachNone, Target{Kind: KindRawTracepoint}},
		{"tp_btf/sched_switch", ebpf.Tracing, ebpf.AttachTraceRawTp, Target{Kind: KindTpBTF, Name: "sched_switch", AttachType: ebpf.AttachTraceRawTp}},

		// fentry, fexit, fmod_ret and their sleepable forms.
		{"fentry/do_unlinkat", ebpf.Tracing, ebpf.AttachTraceFEntry, Target{Kind: KindFentry, Name: "do_unlinkat", AttachType: ebpf.AttachTraceFEntry}},
		{"fentry.s/do_unlinkat", ebpf.Tracing, ebpf.AttachTraceFEntry, Target{Kind: KindFentry, Name: "do_unlinkat", AttachType: ebpf.AttachTraceFEntry}},
		{"fexit/do_unlinkat", ebpf.Tracing, ebpf.AttachTraceFExit, Target{Kind: KindFexit, Name: "do_unlinkat", AttachType: ebpf.AttachTraceFExit}},
		{"fexit.s/do_unlinkat", ebpf.Tracing, ebpf.AttachTraceFExit, Target{Kind: KindFexit, Name: "do_unlinkat", AttachType: ebpf.AttachTraceFExit}},
		{"fmod_ret/security_file_open", ebpf.Tracing, ebpf.AttachModifyReturn, Target{Kind: KindFmodRet, Name: "security_file_open", AttachType: ebpf.AttachModifyReturn}},
		{"fmod_ret.s/security_file_open", ebpf.Tracing, ebpf.AttachModifyReturn, Target{Kind: KindFmodRet, Name: "security_file_open", AttachType: ebpf.AttachModifyReturn}},

		// kprobes and syscall probes.
		{"kprobe/do_sys_openat2", ebpf.Kprobe, ebpf.AttachNone, Target{Kind: KindKprobe, Name: "do_sys_openat2"}},
		{"kprobe/do_sys_openat2+0x10", ebpf.Kprobe, ebpf.AttachNone, Target{Kind: KindKprobe, Name: "do_sys_openat2", Offset: 0x10}},
		{"kprobe/tcp_v4_connect+8", ebpf.Kprobe, ebpf.AttachNone, Target{Kind: KindKprobe, Name: "tcp_v4_connect", Offset: 8}},
		{"kprobe", ebpf.Kprobe, ebpf.AttachNone, Target{Kind: KindKprobe}},
		{"kretprobe/do_sys_openat2", ebpf.Kprobe, ebpf.AttachNone, Target{Kind: KindKretprobe, Name: "do_sys_openat2"}},
		{"kretprobe/do_sys_openat2+0", ebpf.Kprobe, ebpf.AttachNone, Target{Kind: KindKretprobe, Name: "do_sys_openat2"}},
		{"ksyscall/openat", ebpf.Kprobe, ebpf.AttachNone, Target{Kind: KindKsyscall, Name: "openat"}},
		{"kretsyscall/openat", ebpf.Kprobe, ebpf.AttachNone, Target{Kind: KindKretsyscall, Name: "openat"}},

		// uprobes.
		{"uprobe/libc.so.6:getpid", ebpf.Kprobe, ebpf.AttachNone, Target{Kind: KindUprobe, Uprobe: UprobeTarget{"libc.so.6", "getpid", 0}}},
		{"uprobe//bin/bash:readline+4", ebpf.Kprobe, ebpf.AttachNone, Target{Kind: KindUprobe, Uprobe: UprobeTarget{"/bin/bash", "readline", 4}}},
		{"uprobe/./app:0x401000", ebpf.Kprobe, ebpf.AttachNone, Target{Kind: KindUprobe, Uprobe: UprobeTarget{"./app", "", 0x401000}}},
		{"uprobe.s/libc:malloc", ebpf.Kprobe, ebpf.AttachNone, Target{Kind: KindUprobe, Uprobe: UprobeTarget{"libc", "malloc", 0}}},
		{"uretprobe//bin/bash:readline", ebpf.Kprobe, ebpf.AttachNone, Target{Kind: KindUretprobe, Uprobe: UprobeTarget{"/bin/bash", "readline", 0}}},
		{"uretprobe.s/libc:malloc+0x8", ebpf.Kprobe, ebpf.AttachNone, Target{Kind: KindUretprobe, Uprobe: UprobeTarget{"libc", "malloc", 8}}},
		{"uprobe", ebpf.Kprobe, ebpf.AttachNone, Target{Kind: KindUprobe}},

		// perf_event, socket, XDP, tc.
		{"perf_event", ebpf.PerfEvent, ebpf.AttachNone, Target{Kind: KindPerfEvent}},
		{"socket", ebpf.SocketFilter, ebpf.AttachNone, Target{Kind: KindSocket}},
		{"xdp", ebpf.XDP, ebpf.AttachXDP, Target{Kind: KindXDP, AttachType: ebpf.AttachXDP}},
		{"xdp.frags", ebpf.XDP, ebpf.AttachXDP, Target{Kind: KindXDP, AttachType: ebpf.AttachXDP}},
		{"?xdp", ebpf.XDP, ebpf.AttachXDP, Target{Kind: KindXDP, AttachType: ebpf.AttachXDP}},
		{"tc", ebpf.SchedCLS, ebpf.AttachNone, Target{Kind: KindTC}},
		{"classifier", ebpf.SchedCLS, ebpf.AttachNone, Target{Kind: KindTC}},
		{"tc/ingress", ebpf.SchedCLS, ebpf.AttachTCXIngress, Target{Kind: KindTC, AttachType: ebpf.AttachTCXIngress}},
		{"tc/egress", ebpf.SchedCLS, ebpf.AttachTCXEgress, Target{Kind: KindTC, Egress: true, AttachType: ebpf.AttachTCXEgress}},
		{"tcx/ingress", ebpf.SchedCLS, ebpf.AttachTCXIngress, Target{Kind: KindTC, AttachType: ebpf.AttachTCXIngress}},
		{"tcx/egress", ebpf.SchedCLS, ebpf.AttachTCXEgress, Target{Kind: KindTC, Egress: true, AttachType: ebpf.AttachTCXEgress}},

		// cgroup hooks are recognised by program type, whatever the name.
		// AttachNone is AttachCGroupInetIngress, so cgroup_skb/ingress
		// must be recognised by its program type alone.
		{"cgroup_skb/ingress", ebpf.CGroupSKB, ebpf.AttachCGroupInetIngress, Target{Kind: KindCgroup, AttachType: ebpf.AttachCGroupInetIngress}},
		{"cgroup_skb/egress", ebpf.CGroupSKB, ebpf.AttachCGroupInetEgress, Target{Kind: KindCgroup, AttachType: ebpf.AttachCGroupInetEgress}},
		{"cgroup/skb", ebpf.CGroupSKB, ebpf.AttachNone, Target{Kind: KindCgroup}},
		{"cgroup/sock_create", ebpf.CGroupSock, ebpf.AttachCGroupInetSockCreate, Target{Kind: KindCgroup, AttachType: ebpf.AttachCGroupInetSockCreate}},
		{"cgroup/connect4", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet4Connect, Target{Kind: KindCgroup, AttachType: ebpf.AttachCGroupInet4Connect}},
		{"cgroup/sysctl", ebpf.CGroupSysctl, ebpf.AttachCGroupSysctl, Target{Kind: KindCgroup, AttachType: ebpf.AttachCGroupSysctl}},
		{"cgroup/getsockopt", ebpf.CGroupSockopt, ebpf.AttachCGroupGetsockopt, Target{Kind: KindCgroup, AttachType: ebpf.AttachCGroupGetsockopt}},
		{"cgroup/dev", ebpf.CGroupDevice, ebpf.AttachCGroupDevice, Target{Kind: KindCgroup, AttachType: ebpf.AttachCGroupDevice}},
		{"sockops", ebpf.SockOps, ebpf.AttachCGroupSockOps, Target{Kind: KindCgroup, AttachType: ebpf.AttachCGroupSockOps}},
		{"?cgroup/sysctl", ebpf.CGroupSysctl, ebpf.AttachCGroupSysctl, Target{Kind: KindCgroup, AttachType: ebpf.AttachCGroupSysctl}},

		// Iterators.
		{"iter/task", ebpf.Tracing, ebpf.AttachTraceIter, Target{Kind: KindIter, Name: "task", AttachType: ebpf.AttachTraceIter}},
		{"iter.s/task_file", ebpf.Tracing, ebpf.AttachTraceIter, Target{Kind: KindIter, Name: "task_file", AttachType: ebpf.AttachTraceIter}},
	}
	for _, tc := range tests {
		got, err := ParseSection(tc.section, tc.pt, tc.at)
		if err != nil {
			t.Errorf("ParseSection(%q, %v, %v): %v", tc.section, tc.pt, tc.at, err)
			continue
		}
		want := tc.want
		want.Section = tc.section
		if got != want {
			t.Errorf("ParseSection(%q, %v, %v)\n got  %+v\n want %+v", tc.section, tc.pt, tc.at, got, want)
		}
	}
}

func TestParseSectionErrors(t *testing.T) {
	tests := []struct {
		section string
		pt      ebpf.ProgramType
		at      ebpf.AttachType
		wantErr string // "" means *ErrUnknownSection
	}{
		{"tracepoint/syscalls", ebpf.TracePoint, ebpf.AttachNone, `section "tracepoint/syscalls": a tracepoint is written tracepoint/GROUP/NAME`},
		{"tp/syscalls", ebpf.TracePoint, ebpf.AttachNone, "a tracepoint is written tp/GROUP/NAME"},
		{"tp/syscalls/", ebpf.TracePoint, ebpf.AttachNone, "GROUP/NAME"},
		{"tp//sys_enter_openat", ebpf.TracePoint, ebpf.AttachNone, "GROUP/NAME"},
		{"tracepoint/a/b/c", ebpf.TracePoint, ebpf.AttachNone, "GROUP/NAME"},
		{"tracepoint/a/b:c", ebpf.TracePoint, ebpf.AttachNone, "GROUP/NAME"},
		{"tracepoint/a:b/c", ebpf.TracePoint, ebpf.AttachNone, "GROUP/NAME"},
		{"?tracepoint/syscalls", ebpf.TracePoint, ebpf.AttachNone, `section "?tracepoint/syscalls"`},

		{"kretprobe/do_sys_openat2+8", ebpf.Kprobe, ebpf.AttachNone, "a kretprobe cannot have an offset"},
		{"kprobe/+8", ebpf.Kprobe, ebpf.AttachNone, "expected FUNCTION+OFFSET"},
		{"kprobe/f+", ebpf.Kprobe, ebpf.AttachNone, "expected FUNCTION+OFFSET"},
		{"kprobe/f+zz", ebpf.Kprobe, ebpf.AttachNone, "expected FUNCTION+OFFSET"},
		{"kprobe/f+-1", ebpf.Kprobe, ebpf.AttachNone, "expected FUNCTION+OFFSET"},
		{"kretprobe/f+x", ebpf.Kprobe, ebpf.AttachNone, "expected FUNCTION+OFFSET"},

		{"uprobe/bash", ebpf.Kprobe, ebpf.AttachNone, `section "uprobe/bash": uprobe target "bash": missing ":SYMBOL"`},
		{"uretprobe/:readline", ebpf.Kprobe, ebpf.AttachNone, "empty binary"},
		{"uprobe/bash:f+0xzz", ebpf.Kprobe, ebpf.AttachNone, "bad offset"},

		{"xdp/devmap", ebpf.XDP, ebpf.AttachXDPDevMap, ""},
		{"xdp/cpumap", ebpf.XDP, ebpf.AttachXDPCPUMap, ""},
		{"xdp.frags/devmap", ebpf.XDP, ebpf.AttachXDPDevMap, ""},
		{"tc/sideways", ebpf.SchedCLS, ebpf.AttachNone, ""},
		{"tcx/bogus", ebpf.SchedCLS, ebpf.AttachNone, ""},
		{"classifier/x", ebpf.SchedCLS, ebpf.AttachNone, ""},

		{"nonsense/thing", ebpf.UnspecifiedProgram, ebpf.AttachNone, ""},
		{"", ebpf.UnspecifiedProgram, ebpf.AttachNone, ""},
		{"?", ebpf.UnspecifiedProgram, ebpf.AttachNone, ""},
		{"lsm/file_open", ebpf.LSM, ebpf.AttachLSMMac, ""},
		{"kprobe.multi/do_*", ebpf.Kprobe, ebpf.AttachTraceKprobeMulti, ""},
		{"usdt/libc:malloc", ebpf.Kprobe, ebpf.AttachNone, ""},
		{"sk_msg", ebpf.SkMsg, ebpf.AttachSkMsgVerdict, ""},
		{"struct_ops/x", ebpf.StructOps, ebpf.AttachNone, ""},
		// A cgroup-ish name the loader did not recognise.
		{"cgroup/nonsense", ebpf.UnspecifiedProgram, ebpf.AttachNone, ""},
		// A cgroup program type without the attach type the loader would
		// have derived is not attachable.
		{"cgroup/sock_addr_somehow", ebpf.CGroupSockAddr, ebpf.AttachNone, ""},
	}
	for _, tc := range tests {
		_, err := ParseSection(tc.section, tc.pt, tc.at)
		if err == nil {
			t.Errorf("ParseSection(%q, %v, %v) succeeded, want an error", tc.section, tc.pt, tc.at)
			continue
		}
		var unknown *ErrUnknownSection
		isUnknown := errors.As(err, &unknown)
		if tc.wantErr == "" {
			if !isUnknown {
				t.Errorf("ParseSection(%q) = %v (%T), want *ErrUnknownSection", tc.section, err, err)
			} else if unknown.Section != tc.section {
				t.Errorf("ParseSection(%q): ErrUnknownSection.Section = %q", tc.section, unknown.Section)
			}
			continue
		}
		if isUnknown {
			t.Errorf("ParseSection(%q) = %v, want a specific error, not *ErrUnknownSection", tc.section, err)
		}
		if !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ParseSection(%q) = %q, want it to contain %q", tc.section, err, tc.wantErr)
		}
	}
}

func TestErrUnknownSectionMessage(t *testing.T) {
	_, err := ParseSection("nonsense/thing", ebpf.UnspecifiedProgram, ebpf.AttachNone)
	const want = `unknown section "nonsense/thing": waggle follows libbpf's section names (tracepoint/, raw_tp/, tp_btf/, fentry/, fexit/, kprobe/, kretprobe/, ksyscall/, uprobe/, uretprobe/, perf_event, socket, xdp, tc, tcx/, cgroup/, cgroup_skb/, iter/)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestKindString(t *testing.T) {
	seen := map[string]Kind{}
	for k := KindTracepoint; k <= KindIter; k++ {
		s := k.String()
		if s == "" || s == "unknown" {
			t.Errorf("Kind(%d) has no name", k)
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("Kind(%d) and Kind(%d) are both %q", prev, k, s)
		}
		seen[s] = k
	}
	for _, k := range []Kind{KindUnknown, KindIter + 1, -1} {
		if s := k.String(); s != "unknown" {
			t.Errorf("Kind(%d).String() = %q, want unknown", k, s)
		}
	}
}

func TestTargetString(t *testing.T) {
	tests := []struct {
		t    Target
		want string
	}{
		{Target{Kind: KindTracepoint, Group: "syscalls", Name: "sys_enter_openat"}, "tracepoint:syscalls:sys_enter_openat"},
		{Target{Kind: KindRawTracepoint, Name: "sys_enter"}, "raw_tracepoint:sys_enter"},
		{Target{Kind: KindTpBTF, Name: "sched_switch"}, "tp_btf:sched_switch"},
		{Target{Kind: KindFentry, Name: "do_unlinkat"}, "fentry:do_unlinkat"},
		{Target{Kind: KindFexit, Name: "do_unlinkat"}, "fexit:do_unlinkat"},
		{Target{Kind: KindFmodRet, Name: "f"}, "fmod_ret:f"},
		{Target{Kind: KindKprobe, Name: "do_sys_openat2"}, "kprobe:do_sys_openat2"},
		{Target{Kind: KindKprobe, Name: "do_sys_openat2", Offset: 16}, "kprobe:do_sys_openat2+0x10"},
		{Target{Kind: KindKretprobe, Name: "do_sys_openat2"}, "kretprobe:do_sys_openat2"},
		{Target{Kind: KindKsyscall, Name: "openat"}, "ksyscall:openat"},
		{Target{Kind: KindKretsyscall, Name: "openat"}, "kretsyscall:openat"},
		{Target{Kind: KindUprobe, Uprobe: UprobeTarget{"/bin/bash", "readline", 0}}, "uprobe:/bin/bash:readline"},
		{Target{Kind: KindUprobe, Uprobe: UprobeTarget{"/bin/bash", "readline", 4}}, "uprobe:/bin/bash:readline+0x4"},
		{Target{Kind: KindUretprobe, Uprobe: UprobeTarget{"./app", "", 0x401000}}, "uretprobe:./app:0x401000"},
		{Target{Kind: KindUprobe, Section: "uprobe"}, "uprobe"},
		{Target{Kind: KindPerfEvent}, "perf_event:cpu-clock"},
		{Target{Kind: KindPerfEvent, PerfEvent: "page-faults"}, "perf_event:page-faults"},
		{Target{Kind: KindSocket, Interface: "lo"}, "socket:lo"},
		{Target{Kind: KindXDP, Interface: "eth0"}, "xdp:eth0"},
		{Target{Kind: KindTC, Interface: "eth0"}, "tc:eth0:ingress"},
		{Target{Kind: KindTC, Interface: "eth0", Egress: true}, "tc:eth0:egress"},
		{Target{Kind: KindCgroup, AttachType: ebpf.AttachCGroupInetEgress}, "cgroup:CGroupInetEgress"},
		{Target{Kind: KindIter, Name: "task"}, "iter:task"},
		{Target{Section: "weird/section"}, "weird/section"},
	}
	for _, tc := range tests {
		if got := tc.t.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.t, got, tc.want)
		}
	}
}

// TestTargetStringOverride checks that what String prints after the kind
// is what Override reads back, for the kinds where a user writes it.
func TestTargetStringOverride(t *testing.T) {
	targets := []Target{
		{Kind: KindTracepoint, Group: "syscalls", Name: "sys_enter_openat"},
		{Kind: KindKprobe, Name: "do_sys_openat2", Offset: 16},
		{Kind: KindUprobe, Uprobe: UprobeTarget{"/bin/bash", "readline", 4}},
		{Kind: KindUretprobe, Uprobe: UprobeTarget{"./app", "", 0x401000}},
		{Kind: KindTC, Interface: "eth0", Egress: true},
		{Kind: KindPerfEvent, PerfEvent: "task-clock"},
	}
	for _, want := range targets {
		_, value, _ := strings.Cut(want.String(), ":")
		got, err := Target{Kind: want.Kind}.Override(value)
		if err != nil || got != want {
			t.Errorf("Override(%q) = %+v, %v; want %+v", value, got, err, want)
		}
	}
}

func TestHasTargetAndNeedsTracefs(t *testing.T) {
	tests := []struct {
		t                  Target
		hasTarget, tracefs bool
	}{
		{Target{Kind: KindTracepoint, Group: "g", Name: "n"}, true, true},
		{Target{Kind: KindTracepoint, Group: "g"}, false, true},
		{Target{Kind: KindTracepoint, Name: "n"}, false, true},
		{Target{Kind: KindRawTracepoint, Name: "n"}, true, false},
		{Target{Kind: KindRawTracepoint}, false, false},
		{Target{Kind: KindTpBTF}, true, false},
		{Target{Kind: KindFentry}, true, false},
		{Target{Kind: KindFexit}, true, false},
		{Target{Kind: KindFmodRet}, true, false},
		{Target{Kind: KindKprobe, Name: "f"}, true, true},
		{Target{Kind: KindKprobe}, false, true},
		{Target{Kind: KindKretprobe}, false, true},
		{Target{Kind: KindKsyscall, Name: "openat"}, true, true},
		{Target{Kind: KindKsyscall}, false, true},
		{Target{Kind: KindKretsyscall}, false, true},
		{Target{Kind: KindUprobe, Uprobe: UprobeTarget{"bash", "readline", 0}}, true, true},
		{Target{Kind: KindUprobe, Uprobe: UprobeTarget{"./app", "", 0x1000}}, true, true},
		// Address 0 is a target; attaching refuses it for what it is.
		{Target{Kind: KindUprobe, Uprobe: UprobeTarget{"./app", "", 0}}, true, true},
		{Target{Kind: KindUprobe}, false, true},
		{Target{Kind: KindUretprobe}, false, true},
		{Target{Kind: KindPerfEvent}, true, false},
		{Target{Kind: KindSocket}, true, false},
		{Target{Kind: KindXDP}, true, false},
		{Target{Kind: KindTC}, true, false},
		{Target{Kind: KindCgroup}, true, false},
		{Target{Kind: KindIter}, true, false},
	}
	for _, tc := range tests {
		if got := tc.t.HasTarget(); got != tc.hasTarget {
			t.Errorf("%+v.HasTarget() = %v, want %v", tc.t, got, tc.hasTarget)
		}
		if got := tc.t.NeedsTracefs(); got != tc.tracefs {
			t.Errorf("%+v.NeedsTracefs() = %v, want %v", tc.t, got, tc.tracefs)
		}
	}
}

func TestOverride(t *testing.T) {
	base := func(k Kind) Target { return Target{Kind: k, Section: k.String()} }
	tests := []struct {
		t     Target
		value string
		want  Target // Kind and Section are copied from t
	}{
		{base(KindTracepoint), "syscalls:sys_enter_openat", Target{Group: "syscalls", Name: "sys_enter_openat"}},
		{base(KindTracepoint), "syscalls/sys_enter_openat", Target{Group: "syscalls", Name: "sys_enter_openat"}},
		{Target{Kind: KindTracepoint, Group: "old", Name: "old"}, "sched:sched_switch", Target{Group: "sched", Name: "sched_switch"}},
		{base(KindRawTracepoint), "sys_enter", Target{Name: "sys_enter"}},
		{base(KindTpBTF), "sched_switch", Target{Name: "sched_switch"}},
		{base(KindFentry), "do_unlinkat", Target{Name: "do_unlinkat"}},
		{base(KindFexit), "do_unlinkat", Target{Name: "do_unlinkat"}},
		{base(KindFmodRet), "security_file_open", Target{Name: "security_file_open"}},
		{base(KindKprobe), "do_sys_openat2", Target{Name: "do_sys_openat2"}},
		{base(KindKprobe), "do_sys_openat2+0x10", Target{Name: "do_sys_openat2", Offset: 16}},
		{Target{Kind: KindKprobe, Name: "old", Offset: 8}, "new", Target{Name: "new"}},
		{base(KindKretprobe), "do_sys_openat2", Target{Name: "do_sys_openat2"}},
		{base(KindKsyscall), "openat", Target{Name: "openat"}},
		{base(KindKretsyscall), "openat", Target{Name: "openat"}},
		{base(KindUprobe), "/bin/bash:readline", Target{Uprobe: UprobeTarget{"/bin/bash", "readline", 0}}},
		{base(KindUretprobe), "libc:malloc+8", Target{Uprobe: UprobeTarget{"libc", "malloc", 8}}},
		{base(KindUprobe), "./app:0x401000", Target{Uprobe: UprobeTarget{"./app", "", 0x401000}}},
		{base(KindXDP), "eth0", Target{Interface: "eth0"}},
		{base(KindSocket), "lo", Target{Interface: "lo"}},
		{base(KindTC), "eth0", Target{Interface: "eth0"}},
		{base(KindTC), "eth0:ingress", Target{Interface: "eth0"}},
		{base(KindTC), "eth0:egress", Target{Interface: "eth0", Egress: true}},
		{Target{Kind: KindTC, Egress: true}, "eth0:ingress", Target{Interface: "eth0"}},
		{Target{Kind: KindTC, Egress: true}, "eth0", Target{Interface: "eth0"}},
		{base(KindPerfEvent), "cpu-clock", Target{PerfEvent: "cpu-clock"}},
		{base(KindPerfEvent), "page-faults", Target{PerfEvent: "page-faults"}},
		{base(KindPerfEvent), "cycles", Target{PerfEvent: "cycles"}},
	}
	for _, tc := range tests {
		got, err := tc.t.Override(tc.value)
		if err != nil {
			t.Errorf("%v.Override(%q): %v", tc.t.Kind, tc.value, err)
			continue
		}
		want := tc.want
		want.Kind, want.Section = tc.t.Kind, tc.t.Section
		if got != want {
			t.Errorf("%v.Override(%q)\n got  %+v\n want %+v", tc.t.Kind, tc.value, got, want)
		}
	}
}

func TestOverrideErrors(t *testing.T) {
	tests := []struct {
		kind    Kind
		value   string
		wantErr string
	}{
		{KindTracepoint, "", "empty attach target"},
		{KindRawTracepoint, "", "empty attach target"},
		{KindTracepoint, "syscalls", `tracepoint target "syscalls": expected GROUP:NAME`},
		{KindTracepoint, ":sys_enter_openat", "expected GROUP:NAME"},
		{KindTracepoint, "syscalls:", "expected GROUP:NAME"},
		{KindTracepoint, "a:b:c", "expected GROUP:NAME"},
		{KindTracepoint, "a/b/c", "expected GROUP:NAME"},
		{KindTracepoint, "a:b/c", "expected GROUP:NAME"},
		{KindKprobe, "+4", "expected FUNCTION+OFFSET"},
		{KindKprobe, "f+", "expected FUNCTION+OFFSET"},
		{KindKprobe, "f+q", "expected FUNCTION+OFFSET"},
		{KindKretprobe, "f+4", `kretprobe target "f+4": a kretprobe cannot have an offset`},
		{KindUprobe, "bash", `missing ":SYMBOL"`},
		{KindUretprobe, ":readline", "empty binary"},
		{KindTC, "eth0:sideways", `tc target "eth0:sideways": expected IFACE[:ingress|:egress]`},
		{KindTC, "eth0:ingress:egress", "expected IFACE[:ingress|:egress]"},
		{KindPerfEvent, "cpu-cycles", `perf event "cpu-cycles": expected one of branch-misses, cache-misses, context-switches, cpu-clock, cpu-migrations, cycles, instructions, page-faults, task-clock`},
		{KindPerfEvent, "CPU-CLOCK", "expected one of"},
		{KindCgroup, "/sys/fs/cgroup/x", "cgroup programs take their cgroup from --cgroup, not --attach"},
		{KindIter, "task", "iterator programs are bound to their iterator by the section name"},
	}
	for _, tc := range tests {
		orig := Target{Kind: tc.kind, Section: "s", Name: "orig", Group: "orig", Interface: "orig"}
		got, err := orig.Override(tc.value)
		if err == nil {
			t.Errorf("%v.Override(%q) = %+v, want an error", tc.kind, tc.value, got)
			continue
		}
		if !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%v.Override(%q) = %q, want it to contain %q", tc.kind, tc.value, err, tc.wantErr)
		}
		if got != orig {
			t.Errorf("%v.Override(%q) failed but changed the target to %+v", tc.kind, tc.value, got)
		}
	}
}

// FuzzParseSection feeds section names, loader-derived types and --attach
// values through ParseSection and Override. Neither may panic, and what
// they accept must be usable.
func FuzzParseSection(f *testing.F) {
	seeds := []struct {
		section string
		pt      ebpf.ProgramType
		at      ebpf.AttachType
		value   string
	}{
		{"tracepoint/syscalls/sys_enter_openat", ebpf.TracePoint, ebpf.AttachNone, "sched:sched_switch"},
		{"kprobe/do_sys_openat2+0x10", ebpf.Kprobe, ebpf.AttachNone, "f+8"},
		{"uprobe/libc.so.6:getpid", ebpf.Kprobe, ebpf.AttachNone, "./app:0x401000"},
		{"tc/egress", ebpf.SchedCLS, ebpf.AttachTCXEgress, "eth0:ingress"},
		{"cgroup/sysctl", ebpf.CGroupSysctl, ebpf.AttachCGroupSysctl, "x"},
		{"perf_event", ebpf.PerfEvent, ebpf.AttachNone, "page-faults"},
		{"?xdp/devmap", ebpf.XDP, ebpf.AttachXDPDevMap, "lo"},
	}
	for _, s := range seeds {
		f.Add(s.section, uint32(s.pt), uint32(s.at), s.value)
	}
	f.Fuzz(func(t *testing.T, section string, pt, at uint32, value string) {
		tg, err := ParseSection(section, ebpf.ProgramType(pt), ebpf.AttachType(at))
		if err != nil {
			var unknown *ErrUnknownSection
			if errors.As(err, &unknown) && unknown.Section != section {
				t.Fatalf("ErrUnknownSection.Section = %q for %q", unknown.Section, section)
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if tg.Kind == KindUnknown || tg.Section != section {
			t.Fatalf("ParseSection(%q) = %+v", section, tg)
		}
		checkTarget(t, tg)

		o, err := tg.Override(value)
		if err != nil {
			if o != tg {
				t.Fatalf("failed Override(%q) changed %+v to %+v", value, tg, o)
			}
			return
		}
		if o.Kind != tg.Kind || o.Section != tg.Section {
			t.Fatalf("Override(%q) changed kind or section: %+v -> %+v", value, tg, o)
		}
		checkTarget(t, o)
		switch o.Kind {
		case KindTracepoint, KindRawTracepoint, KindKprobe, KindKretprobe, KindKsyscall, KindKretsyscall, KindUprobe, KindUretprobe:
			if !o.HasTarget() {
				t.Fatalf("Override(%q) accepted %q but the target %+v has none", value, value, o)
			}
		}
	})
}

// checkTarget checks what must hold of any target ParseSection or Override
// returns.
func checkTarget(t *testing.T, tg Target) {
	t.Helper()
	if tg.String() == "" && tg.Section != "" {
		t.Fatalf("%+v.String() is empty", tg)
	}
	_ = tg.NeedsTracefs()
	if tg.Kind == KindTracepoint && tg.HasTarget() {
		if strings.ContainsAny(tg.Group, "/:") || strings.ContainsAny(tg.Name, "/:") {
			t.Fatalf("tracepoint %+v has '/' or ':' in its group or name", tg)
		}
	}
	if tg.Kind == KindKretprobe && tg.Offset != 0 {
		t.Fatalf("kretprobe %+v has an offset", tg)
	}
	if tg.Kind == KindPerfEvent && tg.PerfEvent != "" {
		if _, ok := perfEvents[tg.PerfEvent]; !ok {
			t.Fatalf("unknown perf event in %+v", tg)
		}
	}
}
