package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/inspect"
	"github.com/wagglebpf/waggle/inspect/maps"
)

// mapFixture loads testdata/maps.bpf.o into this process and runs its
// program twice on CPU 0, so that its maps hold known values. It returns
// the maps' IDs by name.
func mapFixture(t *testing.T) map[string]uint32 {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpec(fixture("maps.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		coll.Close()
		coll = nil
		runtime.GC() // cilium/ebpf unmaps .bss from a GC cleanup
	})
	ids := map[string]uint32{}
	for name, m := range coll.Maps {
		info, err := m.Info()
		if err != nil {
			t.Fatal(err)
		}
		id, _ := info.ID()
		ids[name] = uint32(id)
	}
	for range 2 {
		if _, err := coll.Programs["fill"].Run(&ebpf.RunOptions{Context: make([]byte, 8), Flags: unix.BPF_F_TEST_RUN_ON_CPU}); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func idArg(id uint32) string { return strconv.FormatUint(uint64(id), 10) }

// TestMapListCLI finds the fixture's maps in both forms of the listing,
// held by this process.
func TestMapListCLI(t *testing.T) {
	requireKernel(t)
	ids := mapFixture(t)
	r := waggle(t, "map", "list")
	if r.code != 0 {
		t.Fatalf("map list\n%s", r)
	}
	self := fmt.Sprintf("(%d)", os.Getpid())
	lines := strings.Split(r.stdout, "\n")
	if !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "MAX ENTRIES") {
		t.Errorf("header: %q", lines[0])
	}
	for name, want := range map[string]string{
		"by_task":   "by_task hash 20 24 64 -",
		"per_cpu":   "per_cpu percpu_array 4 8 4 -",
		"raw_sizes": "raw_sizes hash 4 8 16 -",
		".bss":      ".bss array 4 8 1 mmapable",
	} {
		var line string
		for _, l := range lines {
			if strings.HasPrefix(l, idArg(ids[name])+" ") {
				line = strings.Join(strings.Fields(l), " ")
			}
		}
		if !strings.Contains(line, want) || !strings.Contains(line, self) {
			t.Errorf("%s: line %q, want %q held by %s", name, line, want, self)
		}
	}

	r = waggle(t, "map", "list", "-o", "json")
	if r.code != 0 {
		t.Fatalf("map list -o json\n%s", r)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var info maps.Info
		if err := json.Unmarshal([]byte(line), &info); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if info.ID != ids["lat_hist"] {
			continue
		}
		seen++
		if info.Name != "lat_hist" || info.Type != "array" || info.ValueSize != 32 || info.BTFID == 0 ||
			len(info.PIDs) == 0 || info.PIDs[0] != (inspect.Process{PID: os.Getpid(), Comm: info.PIDs[0].Comm}) {
			t.Errorf("lat_hist: %s", line)
		}
	}
	if seen != 1 {
		t.Errorf("lat_hist listed %d times in\n%s", seen, r.stdout)
	}
}

// normalizeIDs replaces the fixture's map IDs in text with NAME_ID.
func normalizeIDs(s string, ids map[string]uint32) string {
	for name, id := range ids {
		s = regexp.MustCompile(`\b`+idArg(id)+`\b`).ReplaceAllString(s, strings.TrimPrefix(name, ".")+"_ID")
	}
	return s
}

// TestMapDumpCLI runs the element commands on the fixture's maps and
// compares their text with a golden file; IDs are normalised.
func TestMapDumpCLI(t *testing.T) {
	requireKernel(t)
	ids := mapFixture(t)
	byTask, counts := idArg(ids["by_task"]), idArg(ids["counts"])
	var out strings.Builder
	run := func(args ...string) {
		t.Helper()
		r := waggle(t, args...)
		fmt.Fprintf(&out, "$ waggle %s\n%s", strings.Join(args, " "), r.stdout)
		if r.stderr != "" {
			fmt.Fprintf(&out, "[stderr] %s", r.stderr)
		}
		if r.code != 0 {
			fmt.Fprintf(&out, "[exit %d]\n", r.code)
		}
	}
	run("map", "dump", "id", byTask)
	run("map", "dump", "name", "lat_hist")
	run("map", "dump", "name", "per_cpu")
	run("map", "dump", "name", "raw_sizes")
	run("map", "dump", "name", "raw_sizes", "-o", "json")
	run("map", "dump", "name", ".bss")
	run("map", "lookup", "id", byTask, "key", "42", "waggle")
	run("map", "lookup", "id", byTask, "key", `{"pid": 42, "comm": "waggle"}`, "-o", "json")
	// Negative numbers are values, not flags.
	run("map", "update", "id", byTask, "key", "9", "sh", "value", "1", "-1", "TASK_DONE", "x", "noexist")
	run("map", "update", "id", byTask, "key", "9", "sh", "value", "1", "-1", "TASK_DONE", "x", "noexist")
	run("map", "lookup", "id", byTask, "key", "9", "sh")
	run("map", "delete", "id", byTask, "key", "9", "sh")
	run("map", "delete", "id", byTask, "key", "9", "sh")
	run("map", "update", "id", counts, "key", "5", "value", "-1")
	run("map", "update", "id", counts, "key", "hex", "05", "00", "00", "00", "value", "7", "0", "0", "0", "0", "0", "0", "0")
	run("map", "lookup", "id", counts, "key", "5")
	run("map", "getnext", "name", "lat_hist")
	run("map", "getnext", "name", "lat_hist", "key", "0", "-o", "json")
	run("map", "getnext", "name", "lat_hist", "key", "1")
	run("map", "lookup", "id", counts, "key", "five")
	run("map", "lookup", "id", counts)
	run("map", "dump", "name", "waggle_no_such")
	golden(t, "map_cli.golden", normalizeIDs(out.String(), ids))
}

// TestMapPinCLI pins a map and finds the pin in the listing.
func TestMapPinCLI(t *testing.T) {
	requireKernel(t)
	ids := mapFixture(t)
	dir, err := os.MkdirTemp("/sys/fs/bpf", "waggle-test-")
	if err != nil {
		t.Fatalf("needs a BPF file system at /sys/fs/bpf: %v", err)
	}
	defer os.RemoveAll(dir)
	pin := filepath.Join(dir, "counts")
	if r := waggle(t, "map", "pin", "id", idArg(ids["counts"]), pin); r.code != 0 || r.stdout != "" {
		t.Fatalf("map pin\n%s", r)
	}
	r := waggle(t, "map", "show", "pinned", pin)
	if r.code != 0 || !strings.Contains(r.stdout, pin) || !strings.Contains(r.stdout, "4 (__u32)") || !strings.Contains(r.stdout, "8 (__u64)") {
		t.Errorf("map show pinned\n%s", r)
	}
	if r := waggle(t, "map", "dump", pin); r.code != 0 || r.stdout != "@counts[1]: 20\n" {
		t.Errorf("map dump PATH\n%s", r)
	}
	if err := os.Remove(pin); err != nil {
		t.Fatal(err)
	}
}

// TestMapWithoutPrivileges runs map list as nobody: one sentence, exit 1.
func TestMapWithoutPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		r := waggle(t, "map", "list")
		if r.code != 1 || !strings.Contains(r.stderr, "listing BPF maps needs root (CAP_SYS_ADMIN): run waggle with sudo") {
			t.Errorf("want the privileges sentence\n%s", r)
		}
		return
	}
	os.Chmod(filepath.Dir(waggleBin), 0o755)
	cmd := exec.Command(waggleBin, "map", "list")
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("want exit 1, got %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if want := "waggle: listing BPF maps needs root (CAP_SYS_ADMIN): run waggle with sudo: operation not permitted\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
}

// TestMapListText checks the layout of the listing against a golden file.
func TestMapListText(t *testing.T) {
	infos := []maps.Info{
		{ID: 7, Type: "hash", Name: "counts", KeySize: 4, ValueSize: 8, MaxEntries: 10240, Memlock: 918544, BTFID: 55,
			PIDs: []inspect.Process{{PID: 100, Comm: "waggle"}, {PID: 2001, Comm: "bash"}}},
		{ID: 12, Type: "array", Name: "maps.rodata", KeySize: 4, ValueSize: 64, MaxEntries: 1, Flags: 1<<7 | 1<<10,
			FlagNames: []string{"rdonly_prog", "mmapable"}, Frozen: true, Memlock: 8192, BTFID: 56, Pinned: []string{"/sys/fs/bpf/rodata"}},
		{ID: 1234, Type: "percpu_hash", Name: "", KeySize: 20, ValueSize: 24, MaxEntries: 16, Memlock: 2944},
	}
	var b bytes.Buffer
	if err := writeMapInfos(&b, infos, false, false); err != nil {
		t.Fatal(err)
	}
	infos[0].KeyType, infos[0].ValueType = "__u32", "__u64"
	b.WriteString("\n")
	if err := writeMapInfos(&b, infos[:1], false, true); err != nil {
		t.Fatal(err)
	}
	golden(t, "map_list.golden", b.String())
}
