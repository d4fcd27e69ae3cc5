package inspect

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/internal/kerneltest"
)

// cgroupFixture is a cgroup this test creates, with a program attached
// through a link (ingress) and one attached the old way (egress, multi).
type cgroupFixture struct {
	dir, child             string
	linkProg, attachedProg uint32
	link                   uint32
}

func makeCgroup(t *testing.T) *cgroupFixture {
	t.Helper()
	root, err := attach.CgroupV2Root()
	if err != nil {
		kerneltest.Skip(t, err.Error())
	}
	f := &cgroupFixture{dir: filepath.Join(root, fmt.Sprintf("waggle-inspect-%d", os.Getpid()))}
	f.child = filepath.Join(f.dir, "child")
	if err := os.MkdirAll(f.child, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Remove(f.child)
		os.Remove(f.dir)
	})
	in := loadProg(t, "wgl_cg_in", ebpf.CGroupSKB, ebpf.AttachCGroupInetIngress, 1)
	out := loadProg(t, "wgl_cg_out", ebpf.CGroupSKB, ebpf.AttachCGroupInetEgress, 1)
	l, err := link.AttachCgroup(link.CgroupOptions{Path: f.dir, Attach: ebpf.AttachCGroupInetIngress, Program: in})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	dirFile, err := os.Open(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer dirFile.Close()
	opts := link.RawAttachProgramOptions{Target: int(dirFile.Fd()), Program: out, Attach: ebpf.AttachCGroupInetEgress, Flags: bpfFAllowMulti}
	if err := link.RawAttachProgram(opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d, err := os.Open(f.dir)
		if err != nil {
			return
		}
		defer d.Close()
		link.RawDetachProgram(link.RawDetachProgramOptions{Target: int(d.Fd()), Program: out, Attach: ebpf.AttachCGroupInetEgress})
	})
	f.linkProg, f.attachedProg, f.link = progID(t, in), progID(t, out), linkID(t, l)
	return f
}

func TestCgroupTree(t *testing.T) {
	kerneltest.Require(t)
	f := makeCgroup(t)
	list, err := CgroupTree(f.dir, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []CgroupAttachment{
		{Cgroup: f.dir, AttachType: "cgroup_inet_ingress", ProgID: f.linkProg, ProgName: "wgl_cg_in", LinkID: f.link, Flags: "multi"},
		{Cgroup: f.dir, AttachType: "cgroup_inet_egress", ProgID: f.attachedProg, ProgName: "wgl_cg_out", Flags: "multi"},
	}
	if fmt.Sprint(list) != fmt.Sprint(want) {
		t.Errorf("cgroup tree %s:\n got %+v\nwant %+v", f.dir, list, want)
	}
	// The child inherits both: they show for it only as effective.
	eff, err := CgroupTree(f.child, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(eff) != 2 || eff[0].Cgroup != f.child || eff[0].ProgID != f.linkProg || eff[1].ProgID != f.attachedProg {
		t.Errorf("effective programs of %s: %+v", f.child, eff)
	}
	if own, err := CgroupTree(f.child, false); err != nil || len(own) != 0 {
		t.Errorf("programs attached to %s itself: %+v %v", f.child, own, err)
	}

	// The link's attach point names the directory.
	progs, err := Programs(ProgSelector{ID: f.linkProg})
	if err != nil {
		t.Fatal(err)
	}
	if len(progs) != 1 || len(progs[0].Attach) != 1 || progs[0].Attach[0].Hook() != "cgroup "+f.dir+" [cgroup_inet_ingress]" {
		t.Errorf("cgroup link attach point: %+v", progs)
	}

	// Detaching the link takes the program off the cgroup.
	if err := DetachLink(f.link); err != nil {
		t.Fatal(err)
	}
	list, err = CgroupTree(f.dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ProgID != f.attachedProg {
		t.Errorf("after detaching link %d: %+v", f.link, list)
	}
}

func TestCgroupTreeNotCgroup(t *testing.T) {
	_, err := CgroupTree(t.TempDir(), false)
	if err == nil || !strings.Contains(err.Error(), "not in a cgroup v2 hierarchy") {
		t.Errorf("a plain directory: %v", err)
	}
	if _, err := CgroupTree("/nonexistent/cgroup", false); err == nil {
		t.Error("a missing directory is not an error")
	}
}

// A detached link stays listed, without its hook.
func TestDetachedLinkListing(t *testing.T) {
	kerneltest.Require(t)
	f := makeCgroup(t)
	if err := DetachLink(f.link); err != nil {
		t.Fatal(err)
	}
	links, err := Links(f.link)
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 1 || links[0].Attach.Hook() != "cgroup (detached) [cgroup_inet_ingress]" {
		t.Errorf("detached link: %+v", links)
	}
}
