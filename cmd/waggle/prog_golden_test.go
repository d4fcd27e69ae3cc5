package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/wagglebpf/waggle/inspect"
)

// renumber gives the kernel's IDs small stable stand-ins, in order of
// first appearance, so that listings can be compared with golden files.
type renumber struct {
	m    map[uint32]uint32
	next uint32
}

func newRenumber(first uint32) *renumber { return &renumber{m: map[uint32]uint32{}, next: first - 1} }

func (r *renumber) id(x uint32) uint32 {
	if x == 0 {
		return 0
	}
	if v, ok := r.m[x]; ok {
		return v
	}
	r.next++
	r.m[x] = r.next
	return r.next
}

func (r *renumber) ids(xs []uint32) []uint32 {
	out := make([]uint32, len(xs))
	for i, x := range xs {
		out[i] = r.id(x)
	}
	return out
}

// goldenIDs holds the stand-ins of one test and what else varies from run
// to run: the test's pid, the cgroup directory.
type goldenIDs struct {
	progs, links, maps *renumber
	cgroup             string
}

var goldenTime = time.Date(2025, 6, 7, 8, 9, 10, 0, time.Local)

func (g *goldenIDs) pids(ps []inspect.Process) []inspect.Process {
	out := make([]inspect.Process, len(ps))
	for i := range ps {
		out[i] = inspect.Process{PID: 4242, Comm: "waggle.test"}
	}
	return out
}

func (g *goldenIDs) attach(as []inspect.AttachPoint) []inspect.AttachPoint {
	out := make([]inspect.AttachPoint, len(as))
	for i, a := range as {
		a.LinkIDs = g.links.ids(a.LinkIDs)
		a.Target = strings.ReplaceAll(a.Target, g.cgroup, "/sys/fs/cgroup/waggle-test")
		for j := range a.PerfFDs {
			a.PerfFDs[j].Process = inspect.Process{PID: 4242, Comm: "waggle.test"}
		}
		out[i] = a
	}
	return out
}

func (g *goldenIDs) prog(p inspect.ProgInfo) inspect.ProgInfo {
	p.ID = g.progs.id(p.ID)
	p.LoadedAt = goldenTime
	p.MapIDs = g.maps.ids(p.MapIDs)
	p.Pids = g.pids(p.Pids)
	p.Attach = g.attach(p.Attach)
	p.JitedBytes = 99 // differs between architectures
	return p
}

func TestProgTextGolden(t *testing.T) {
	requireKernel(t)
	f := loadCLIFixture(t)
	g := &goldenIDs{progs: newRenumber(100), links: newRenumber(10), maps: newRenumber(500), cgroup: f.cgroup}
	g.progs.id(f.tp)
	g.progs.id(f.cg)
	g.links.id(f.tpLink)
	g.links.id(f.cgLink)

	var b bytes.Buffer
	var progs []inspect.ProgInfo
	for _, id := range []uint32{f.tp, f.cg} {
		ps, err := inspect.Programs(inspect.ProgSelector{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		progs = append(progs, g.prog(ps[0]))
	}
	fmt.Fprintln(&b, "$ waggle prog list")
	writeProgTable(&b, progs, false)
	fmt.Fprintln(&b, "\n$ waggle prog list (with run statistics)")
	withStats := append([]inspect.ProgInfo(nil), progs...)
	withStats[0].RunCount, withStats[0].RunTimeNs = 12, 34567
	writeProgTable(&b, withStats, true)
	fmt.Fprintf(&b, "\n$ waggle prog show id %d\n", progs[0].ID)
	withStats[0].RecursionMisses = 1
	writeProgDetails(&b, withStats[:1])

	links, err := inspect.Links(f.tpLink, f.cgLink)
	if err != nil {
		t.Fatal(err)
	}
	for i := range links {
		l := &links[i]
		l.ID, l.ProgID, l.Pids = g.links.id(l.ID), g.progs.id(l.ProgID), g.pids(l.Pids)
		l.Attach = g.attach([]inspect.AttachPoint{l.Attach})[0]
	}
	fmt.Fprintln(&b, "\n$ waggle link list")
	writeLinkTable(&b, links)

	tree, err := inspect.CgroupTree(f.cgroup, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range tree {
		tree[i].Cgroup = "/sys/fs/cgroup/waggle-test"
		tree[i].ProgID, tree[i].LinkID = g.progs.id(tree[i].ProgID), g.links.id(tree[i].LinkID)
	}
	fmt.Fprintln(&b, "\n$ waggle cgroup tree /sys/fs/cgroup/waggle-test")
	writeCgroupTable(&b, tree)

	perf, err := inspect.PerfAttachments()
	if err != nil {
		t.Fatal(err)
	}
	var mine []inspect.PerfAttachment
	for _, p := range perf {
		if p.PID == os.Getpid() && p.ProgID == f.tp {
			p.PID, p.Comm, p.FD = 4242, "waggle.test", 7
			p.ProgID, p.LinkID = g.progs.id(p.ProgID), g.links.id(p.LinkID)
			mine = append(mine, p)
		}
	}
	fmt.Fprintln(&b, "\n$ waggle perf list")
	writePerfTable(&b, mine)

	// The network hooks and profiles are the renderers' part only: their
	// gathering is tested against the kernel in TestNetListCLI and
	// TestProgCLI.
	fmt.Fprintln(&b, "\n$ waggle net list")
	writeNetTable(&b, []inspect.NetAttachment{
		{Interface: "eth0", Ifindex: 2, Kind: "xdp", Hook: "driver", ProgID: 101, ProgName: "xdp_filter", LinkID: 11},
		{Interface: "eth0", Ifindex: 2, Kind: "tcx", Hook: "ingress", ProgID: 102, ProgName: "tc_count", LinkID: 12},
		{Interface: "eth0", Ifindex: 2, Kind: "tc", Hook: "egress", ProgID: 103, ProgName: "cls_main", Detail: "pref 49152 handle 0x1 prog.o:[tc] direct-action"},
		{Kind: "netns", Hook: "flow_dissector", ProgID: 104, ProgName: "dissect", LinkID: 13, Detail: "net:[4026531840]"},
	})
	fmt.Fprintln(&b, "\n$ waggle prog profile --duration 2s")
	writeProfile(&b, []inspect.RunStats{
		{ID: 101, Type: "tracepoint", Name: "trace_openat", RunCount: 2000, RunTimeNs: 1500000, MeanNs: 750, Seconds: 2},
		{ID: 102, Type: "xdp", Name: "xdp_filter", RunCount: 10, RunTimeNs: 800, MeanNs: 80, RecursionMisses: 1, Seconds: 2},
	})
	golden(t, "prog_listings.golden", b.String())
}

// The xlated dump of a clang-built program, with its BTF source lines and
// function prototype, helper calls named through kallsyms, and bytes.
func TestProgDumpGolden(t *testing.T) {
	requireKernel(t)
	if runtime.GOARCH != "amd64" {
		t.Skip("the kernel's rewrites (helper inlining) differ between architectures; the golden file is amd64's")
	}
	coll, err := ebpf.LoadCollection(fixture("openat.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		coll.Close()
		coll = nil
		runtime.GC() // cilium/ebpf unmaps .bss and .rodata from a GC cleanup
	})
	info, err := coll.Programs["trace_openat"].Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	out := mustRun(t, "prog", "dump", "xlated", "id", idArg(uint32(id)), "--opcodes")
	// Map IDs differ from run to run: number them in order.
	maps := newRenumber(1)
	re := regexp.MustCompile(`map\[id:(\d+)\]`)
	out = re.ReplaceAllStringFunc(out, func(s string) string {
		var n uint32
		fmt.Sscanf(s, "map[id:%d]", &n)
		return fmt.Sprintf("map[id:M%d]", maps.id(n))
	})
	// So do the map IDs in the bytes of 64-bit loads, and the helpers'
	// offsets from __bpf_call_base in calls (they change with the kernel
	// build): the bytes line after either.
	lines := strings.Split(out, "\n")
	for i := 1; i < len(lines); i++ {
		switch {
		case strings.Contains(lines[i-1], "map[id:"):
			lines[i] = "      (map load bytes)"
		case strings.Contains(lines[i-1], ": (85) call ") && !strings.Contains(lines[i-1], "call pc"):
			lines[i] = "      (call bytes)"
		}
	}
	golden(t, "prog_dump_xlated.golden", strings.Join(lines, "\n"))
}
