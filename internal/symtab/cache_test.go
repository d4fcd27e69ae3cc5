package symtab

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/wagglebpf/waggle/internal/procmaps"
)

// startDeletedTarget runs a copy of the USDT fixture (a PIE with a
// .symtab; "wait" keeps it up to 5 s) and deletes the copy once the
// process has mapped it: its symbols are then reachable only through
// /proc/PID/map_files, while it lives. It returns the process and the
// address of main+off in it.
func startDeletedTarget(t *testing.T, off uint64) (*exec.Cmd, uint64) {
	t.Helper()
	src, err := os.Open("../../attach/testdata/usdt/usdt_target")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(t.TempDir(), "waggle_target")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	cmd := exec.Command(bin, "wait")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot run the fixture: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// main is at 0x1070 in the file, in the segment mapped from offset
	// 0x1000 (TestELFTableSymtab).
	const mainOff = 0x1070
	for range 500 {
		ms, _ := procmaps.Read(cmd.Process.Pid)
		for _, m := range ms {
			if m.Path == bin && m.Executable() && mainOff >= m.Offset && mainOff-m.Offset < m.End-m.Start {
				if err := os.Remove(bin); err != nil {
					t.Fatal(err)
				}
				return cmd, m.Start + mainOff - m.Offset + off
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("the fixture never mapped its code")
	return nil, 0
}

func requireMapFiles(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/map_files", os.Getpid())); err != nil || os.Geteuid() != 0 {
		t.Skip("needs root for /proc/PID/map_files")
	}
}

// A snapshot Keep takes as the process exits resolves its addresses once
// it is gone, even in a file that was deleted meanwhile; without it,
// nothing does.
func TestResolverKeep(t *testing.T) {
	requireMapFiles(t)
	cmd, addr := startDeletedTarget(t, 5)
	pid := cmd.Process.Pid

	r := NewResolver()
	p, err := r.Keep(pid)
	if err != nil {
		t.Fatalf("Keep: %v", err)
	}
	if !p.Final {
		t.Error("Keep's snapshot is not Final")
	}
	cmd.Process.Kill()
	cmd.Wait()

	sym, off, ok := r.Lookup(pid, addr)
	if !ok || sym.Name != "main" || off != 5 {
		t.Errorf("after exit: Lookup(%#x) = %+v+%d, %v; want main+5", addr, sym, off, ok)
	}
	// The pid is not read again, even when a lookup misses long after.
	r.refresh = 0
	if _, _, ok := r.Lookup(pid, 8); ok {
		t.Error("address 8 resolved")
	}
	if got, _ := r.Process(pid); got != p {
		t.Error("a lookup replaced the final snapshot")
	}

	// What is not kept is lost with the process.
	if _, _, ok := NewResolver().Lookup(pid, addr); ok {
		t.Error("an exited process resolved without a snapshot")
	}
}

// A plain snapshot of a deleted file works too while the file is read
// before the exit; Keep's point is to read it then.
func TestResolverKeepReadsUnreachableFiles(t *testing.T) {
	requireMapFiles(t)
	cmd, addr := startDeletedTarget(t, 0)
	pid := cmd.Process.Pid
	r := NewResolver()
	p, err := r.Keep(pid)
	if err != nil {
		t.Fatal(err)
	}
	i, ok := findIndex(p.maps, addr)
	if !ok || p.files[i] == nil {
		t.Fatalf("no file for %#x", addr)
	}
	e := p.files[i]
	e.mu.Lock()
	loaded := e.table != nil
	e.mu.Unlock()
	if !loaded {
		t.Error("Keep did not read the deleted file's symbols")
	}
	// libc is reachable by its path: read on first use only.
	for j, f := range p.files {
		if f != nil && f != e && !f.key.vdso && !p.maps[j].Deleted && f.reachable() {
			f.mu.Lock()
			read := f.table != nil
			f.mu.Unlock()
			if read {
				t.Errorf("Keep read %s, which stays reachable", p.maps[j].Path)
			}
		}
	}
}

// A process that cannot be read is not tried again for a while: a map of
// many stacks of exited processes costs one failed open per process, not
// one per frame.
func TestResolverRemembersFailures(t *testing.T) {
	const gone = 1 << 30 // above pid_max
	r := NewResolver()
	if _, _, ok := r.Lookup(gone, 0x1000); ok {
		t.Fatal("resolved in a process that does not exist")
	}
	p := r.procs[gone]
	if p == nil || p.err == nil {
		t.Fatalf("no placeholder for the failed pid: %+v", p)
	}
	if _, err := r.Process(gone); err != p.err {
		t.Errorf("Process(gone) = %v, want the remembered %v", err, p.err)
	}
	if r.procs[gone] != p {
		t.Error("the placeholder was replaced within the refresh interval")
	}
	r.refresh = 0
	r.Process(gone)
	if r.procs[gone] == p {
		t.Error("the pid was not tried again after the refresh interval")
	}

	// A failure does not replace what was read while the process ran.
	self := os.Getpid()
	live, err := r.Snapshot(self)
	if err != nil {
		t.Fatal(err)
	}
	r.failed(self, errors.New("gone"))
	if r.procs[self] != live {
		t.Error("a failed read replaced a snapshot")
	}
}

// The cache is bounded: the oldest live snapshots go first, final ones
// last, and files no snapshot maps are dropped.
func TestResolverBounds(t *testing.T) {
	r := NewResolver()
	r.maxProcs, r.maxFiles, r.pruneAt = 3, 2, 2
	self := os.Getpid()
	final, err := r.Snapshot(self)
	if err != nil {
		t.Fatal(err)
	}
	final.Final = true
	mapped := len(r.files)
	if mapped == 0 {
		t.Fatal("the test binary maps no file")
	}
	for pid := 1 << 30; pid < 1<<30+10; pid++ {
		r.Process(pid) // placeholders
		time.Sleep(time.Millisecond)
	}
	if len(r.procs) != 3 {
		t.Errorf("%d processes kept, want 3", len(r.procs))
	}
	if r.procs[self] != final {
		t.Error("the final snapshot was evicted before placeholders")
	}
	for _, pid := range []int{1<<30 + 8, 1<<30 + 9} {
		if r.procs[pid] == nil {
			t.Errorf("pid %d, among the newest, was evicted", pid)
		}
	}

	// Files read for uaddr alone, not mapped by a kept snapshot, go.
	dir := t.TempDir()
	for i := range 5 {
		path := filepath.Join(dir, fmt.Sprint(i))
		if err := os.WriteFile(path, []byte{byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := r.fileByPath(path); err != nil {
			t.Fatal(err)
		}
		r.mu.Lock()
		r.trim()
		r.mu.Unlock()
	}
	if n := len(r.files); n > max(2*mapped, mapped+2) {
		t.Errorf("%d files cached, want at most %d", n, max(2*mapped, mapped+2))
	}
	for _, e := range final.files {
		if e != nil && r.files[e.key] != e {
			t.Errorf("a file of the kept snapshot was dropped")
		}
	}
	// Only final snapshots: the oldest of them goes.
	r.procs = map[int]*Process{}
	for pid := 1; pid <= 4; pid++ {
		r.procs[pid] = &Process{PID: pid, Taken: time.Unix(int64(pid), 0), Final: true}
	}
	r.mu.Lock()
	r.trim()
	r.mu.Unlock()
	if r.procs[1] != nil || len(r.procs) != 3 {
		t.Errorf("evicting among final snapshots kept %v", r.procs)
	}
}
