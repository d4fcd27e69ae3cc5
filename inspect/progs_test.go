package inspect

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/internal/kerneltest"
)

// tracingFixture loads programs attached to a tracepoint through a link,
// a tracepoint through a bare perf event, a raw tracepoint and a uprobe.
type tracingFixture struct {
	openat, getpid, rawtp, uprobe uint32
	openatLink, rawtpLink         uint32
	getpidFD                      int
	exe                           string
}

func loadTracing(t *testing.T) *tracingFixture {
	t.Helper()
	if _, err := attach.EnsureTracefs(); err != nil {
		kerneltest.Skip(t, err.Error())
	}
	var f tracingFixture
	coll, err := ebpf.LoadCollection("../testdata/openat.bpf.o")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		coll.Close()
		coll = nil
		runtime.GC() // cilium/ebpf unmaps .bss and .rodata from a GC cleanup
	})
	openat := coll.Programs["trace_openat"]
	l, err := link.Tracepoint("syscalls", "sys_enter_openat", openat, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	f.openat = progID(t, openat)
	f.openatLink = linkID(t, l)

	getpid := loadProg(t, "wgl_getpid", ebpf.TracePoint, ebpf.AttachNone, 0)
	f.getpid = progID(t, getpid)
	f.getpidFD = attachPerfTracepoint(t, getpid, "syscalls", "sys_enter_getpid")

	rawtp := loadProg(t, "wgl_rawtp", ebpf.RawTracepoint, ebpf.AttachNone, 0)
	rl, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sched_switch", Program: rawtp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rl.Close() })
	f.rawtp = progID(t, rawtp)
	f.rawtpLink = linkID(t, rl)

	up := loadProg(t, "wgl_uprobe", ebpf.Kprobe, ebpf.AttachNone, 0)
	f.exe, err = attach.ResolveBinary("libc.so.6", 0)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := link.OpenExecutable(f.exe)
	if err != nil {
		t.Fatal(err)
	}
	ul, err := ex.Uprobe("getpid", up, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ul.Close() })
	f.uprobe = progID(t, up)
	return &f
}

func linkID(t *testing.T, l link.Link) uint32 {
	t.Helper()
	info, err := l.Info()
	if err != nil {
		t.Fatal(err)
	}
	return uint32(info.ID)
}

func TestProgramsShowAttachPointsAndOwners(t *testing.T) {
	kerneltest.Require(t)
	f := loadTracing(t)
	progs, err := Programs(ProgSelector{})
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	for _, c := range []struct {
		id           uint32
		kind, target string
		link         uint32
	}{
		{f.openat, "tracepoint", "syscalls:sys_enter_openat", f.openatLink},
		{f.getpid, "tracepoint", "syscalls:sys_enter_getpid", 0},
		{f.rawtp, "raw_tracepoint", "sched_switch", f.rawtpLink},
		{f.uprobe, "uprobe", "", 0},
	} {
		p := progByID(progs, c.id)
		if p == nil {
			t.Errorf("program %d is not listed", c.id)
			continue
		}
		if !hasPid(p.Pids, self) {
			t.Errorf("program %d (%s): pids %v lack this process %d", c.id, p.Name, p.Pids, self)
		}
		a := findAttach(p.Attach, c.kind, c.target)
		if a == nil {
			t.Errorf("program %d (%s): attach points %v lack %s %s", c.id, p.Name, p.Attach, c.kind, c.target)
			continue
		}
		if c.link != 0 && (len(a.LinkIDs) != 1 || a.LinkIDs[0] != c.link) {
			t.Errorf("program %d: %v: want link %d", c.id, a, c.link)
		}
		if c.id == f.getpid {
			if len(a.LinkIDs) != 0 || len(a.PerfFDs) != 1 || a.PerfFDs[0].PID != self || a.PerfFDs[0].FD != f.getpidFD {
				t.Errorf("the perf event attachment %+v is not this process's fd %d", a, f.getpidFD)
			}
		}
		if c.id == f.uprobe && !strings.HasPrefix(a.Target, f.exe+"+0x") {
			t.Errorf("uprobe target %q is not %s+offset", a.Target, f.exe)
		}
	}
	p := progByID(progs, f.openat)
	if p == nil {
		return
	}
	if p.Type != "tracepoint" || p.Name != "trace_openat" || len(p.Tag) != 16 || p.Insns == 0 || p.VerifiedInsns == 0 ||
		p.Memlock == 0 || len(p.MapIDs) == 0 || p.BTFID == 0 || p.LoadedAt.IsZero() {
		t.Errorf("trace_openat: incomplete %+v", p)
	}
	if g := progByID(progs, f.getpid); g != nil && (g.Insns != 2 || g.Name != "wgl_getpid" || g.Type != "tracepoint") {
		t.Errorf("wgl_getpid: %+v", g)
	}
}

func TestProgramSelectors(t *testing.T) {
	kerneltest.Require(t)
	p := loadProg(t, "wgl_select", ebpf.SocketFilter, ebpf.AttachNone, 0)
	id := progID(t, p)
	info, _ := p.Info()
	for _, sel := range []ProgSelector{{ID: id}, {Name: "wgl_select"}, {Tag: info.Tag}} {
		ps, err := Programs(sel)
		if err != nil {
			t.Errorf("%s: %v", sel, err)
			continue
		}
		if progByID(ps, id) == nil {
			t.Errorf("%s: program %d not among %d", sel, id, len(ps))
		}
		for _, q := range ps {
			if sel.Name != "" && q.Name != sel.Name || sel.Tag != "" && q.Tag != sel.Tag {
				t.Errorf("%s picked %d (%s, %s)", sel, q.ID, q.Name, q.Tag)
			}
		}
	}
	// Pinned, through a pin this test makes (in a directory it creates).
	dir := filepath.Join(BPFFSPath, "waggle-inspect-test")
	path := filepath.Join(dir, "prog")
	t.Cleanup(func() { os.Remove(path); os.Remove(dir) })
	if err := PinProgram(ProgSelector{ID: id}, path); err != nil {
		t.Fatal(err)
	}
	ps, err := Programs(ProgSelector{Pinned: path})
	if err != nil || len(ps) != 1 || ps[0].ID != id {
		t.Fatalf("pinned %s: %v %v", path, ps, err)
	}
	if len(ps[0].Pinned) != 1 || ps[0].Pinned[0] != path {
		t.Errorf("pinned paths %v, want [%s]", ps[0].Pinned, path)
	}
	if err := PinProgram(ProgSelector{ID: id}, path); err == nil || !strings.Contains(err.Error(), "already pinned") {
		t.Errorf("pinning twice: %v", err)
	}
	if err := PinProgram(ProgSelector{ID: id}, filepath.Join(t.TempDir(), "x")); err == nil || !strings.Contains(err.Error(), "not on a BPF filesystem") {
		t.Errorf("pinning outside bpffs: %v", err)
	}

	// Missing programs are one clear sentence.
	if _, err := Programs(ProgSelector{ID: 0xfffffff0}); !errors.Is(err, ErrNoProgram) || !strings.Contains(err.Error(), "no BPF program with ID 4294967280") {
		t.Errorf("missing ID: %v", err)
	}
	if _, err := Programs(ProgSelector{Name: "wgl_no_such_prog"}); !errors.Is(err, ErrNoProgram) {
		t.Errorf("missing name: %v", err)
	}
	if _, err := Programs(ProgSelector{Pinned: filepath.Join(dir, "nothing")}); !errors.Is(err, ErrNoProgram) {
		t.Errorf("missing pin: %v", err)
	}
}

func TestParseProgSelector(t *testing.T) {
	for _, c := range []struct {
		args []string
		want ProgSelector
		rest int
		err  string
	}{
		{[]string{"5"}, ProgSelector{ID: 5}, 0, ""},
		{[]string{"id", "7", "/sys/fs/bpf/x"}, ProgSelector{ID: 7}, 1, ""},
		{[]string{"name", "foo"}, ProgSelector{Name: "foo"}, 0, ""},
		{[]string{"tag", "0123456789ABCDEF"}, ProgSelector{Tag: "0123456789abcdef"}, 0, ""},
		{[]string{"pinned", "/sys/fs/bpf/p"}, ProgSelector{Pinned: "/sys/fs/bpf/p"}, 0, ""},
		{[]string{"/sys/fs/bpf/p", "x"}, ProgSelector{Pinned: "/sys/fs/bpf/p"}, 1, ""},
		{nil, ProgSelector{}, 0, "no program given"},
		{[]string{"id"}, ProgSelector{}, 0, `"id" needs a value`},
		{[]string{"id", "x"}, ProgSelector{}, 0, "not a program ID"},
		{[]string{"0"}, ProgSelector{}, 0, "is not a program"},
		{[]string{"tag", "xyz"}, ProgSelector{}, 0, "16 hex digits"},
		{[]string{"bogus"}, ProgSelector{}, 0, "is not a program"},
	} {
		got, rest, err := ParseProgSelector(c.args)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want || len(rest) != c.rest {
			t.Errorf("%q: %+v rest %q err %v, want %+v", c.args, got, rest, err, c.want)
		}
	}
}

func FuzzParseProgSelector(f *testing.F) {
	f.Add("id", "5", "")
	f.Add("tag", "0123456789abcdef", "x")
	f.Add("pinned", "", "")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		sel, rest, err := ParseProgSelector([]string{a, b, c})
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
			return
		}
		if sel.IsZero() || len(rest) > 2 {
			t.Errorf("%q %q %q: %+v rest %q", a, b, c, sel, rest)
		}
	})
}

func TestLinksAndPerfList(t *testing.T) {
	kerneltest.Require(t)
	f := loadTracing(t)
	links, err := Links()
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	var seen int
	for _, l := range links {
		switch l.ID {
		case f.openatLink:
			seen++
			if l.Type != "perf_event" || l.ProgID != f.openat || l.ProgName != "trace_openat" ||
				l.Attach.Hook() != "tracepoint syscalls:sys_enter_openat" || !hasPid(l.Pids, self) {
				t.Errorf("openat link: %+v", l)
			}
		case f.rawtpLink:
			seen++
			if l.Type != "raw_tracepoint" || l.ProgID != f.rawtp || l.Attach.Hook() != "raw_tracepoint sched_switch" {
				t.Errorf("raw tracepoint link: %+v", l)
			}
		}
	}
	if seen != 2 {
		t.Errorf("found %d of this test's 2 links in %d", seen, len(links))
	}
	one, err := Links(f.rawtpLink)
	if err != nil || len(one) != 1 || one[0].ID != f.rawtpLink {
		t.Errorf("Links(%d): %v %v", f.rawtpLink, one, err)
	}
	if _, err := Links(0xfffffff0); !errors.Is(err, ErrNoLink) {
		t.Errorf("missing link: %v", err)
	}

	perf, err := PerfAttachments()
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32]string{
		f.getpid: "tracepoint syscalls:sys_enter_getpid",
		f.openat: "tracepoint syscalls:sys_enter_openat",
		f.rawtp:  "raw_tracepoint sched_switch",
		f.uprobe: "uprobe " + f.exe + "+0x",
	}
	for _, pa := range perf {
		w, ok := want[pa.ProgID]
		if !ok || pa.PID != self {
			continue
		}
		if got := pa.Kind + " " + pa.Target; !strings.HasPrefix(got, w) || pa.Comm == "" || pa.FD <= 0 {
			t.Errorf("perf attachment %+v, want %s", pa, w)
		}
		if pa.ProgID == f.getpid && pa.FD != f.getpidFD {
			t.Errorf("getpid's perf event is fd %d, listed as %d", f.getpidFD, pa.FD)
		}
		delete(want, pa.ProgID)
	}
	if len(want) > 0 {
		t.Errorf("perf list lacks %v", want)
	}
}

func TestDetachUnsupported(t *testing.T) {
	kerneltest.Require(t)
	f := loadTracing(t)
	err := DetachLink(f.openatLink)
	if err == nil || !strings.Contains(err.Error(), "perf_event link, which the kernel cannot detach") {
		t.Errorf("detaching a perf event link: %v", err)
	}
	if err := DetachLink(0xfffffff0); !errors.Is(err, ErrNoLink) {
		t.Errorf("detaching a missing link: %v", err)
	}
}
