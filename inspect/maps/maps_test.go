package maps

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/wagglebpf/waggle/internal/kerneltest"
)

// runsOn says how many times the fixture's program ran on CPU 0 and 1.
func runsOn(t *testing.T, runs int) (cpu0, cpu1 int) {
	n, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	if n > 1 {
		return runs, 1
	}
	return runs, 0
}

func TestListFindsFixtureMaps(t *testing.T) {
	kerneltest.Require(t)
	f := loadFixture(t, 1)
	infos, err := List(ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[uint32]Info{}
	for _, i := range infos {
		byID[i.ID] = i
	}
	want := map[string]struct {
		typ         string
		key, value  uint32
		max         uint32
		btf         bool
		flagsSubset []string
	}{
		"by_task":   {"hash", 20, 24, 64, true, nil},
		"counts":    {"hash", 4, 8, 10240, true, nil},
		"per_cpu":   {"percpu_array", 4, 8, 4, true, nil},
		"pc_hash":   {"percpu_hash", 4, 24, 16, true, nil},
		"lat_hist":  {"array", 4, 32, 2, true, nil},
		"raw_sizes": {"hash", 4, 8, 16, false, nil},
		".bss":      {"array", 4, 8, 1, true, []string{"mmapable"}},
	}
	self := os.Getpid()
	for name, w := range want {
		info, ok := byID[f.ids[name]]
		if !ok {
			t.Errorf("%s (ID %d) is not in the list", name, f.ids[name])
			continue
		}
		if info.Name != name || info.Type != w.typ || info.KeySize != w.key || info.ValueSize != w.value || info.MaxEntries != w.max {
			t.Errorf("%s: listed as %+v", name, info)
		}
		if (info.BTFID != 0) != w.btf {
			t.Errorf("%s: BTF ID %d, want BTF %v", name, info.BTFID, w.btf)
		}
		for _, fl := range w.flagsSubset {
			if !slices.Contains(info.FlagNames, fl) {
				t.Errorf("%s: flags %v lack %s", name, info.FlagNames, fl)
			}
		}
		if info.Memlock == 0 {
			t.Errorf("%s: no memlock", name)
		}
		found := false
		for _, p := range info.PIDs {
			found = found || p.PID == self
		}
		if !found {
			t.Errorf("%s: holders %v do not include this process (%d)", name, info.PIDs, self)
		}
		if info.KeyType != "" || info.ValueType != "" {
			t.Errorf("%s: List named types without being asked: %q %q", name, info.KeyType, info.ValueType)
		}
	}
	// Listing opens every map: it must not have counted itself as a
	// holder of maps nobody else holds.
	for _, i := range infos {
		if len(i.PIDs) > 1 && i.PIDs[0].PID == i.PIDs[1].PID {
			t.Errorf("map %d: holders listed twice: %v", i.ID, i.PIDs)
		}
	}
}

func TestShowNamesTypes(t *testing.T) {
	kerneltest.Require(t)
	f := loadFixture(t, 1)
	infos, err := Show(Ref{Name: "by_task"}, ListOptions{Types: true})
	if err != nil {
		t.Fatal(err)
	}
	var got *Info
	for i := range infos {
		if infos[i].ID == f.ids["by_task"] {
			got = &infos[i]
		}
	}
	if got == nil {
		t.Fatalf("show name by_task: %+v lacks ID %d", infos, f.ids["by_task"])
	}
	if got.KeyType != "struct task_key" || got.ValueType != "struct task_val" {
		t.Errorf("types %q, %q", got.KeyType, got.ValueType)
	}
	raw, err := Show(Ref{ID: f.ids["raw_sizes"]}, ListOptions{Types: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 1 || raw[0].KeyType != "" || raw[0].ValueType != "" {
		t.Errorf("a map without BTF shows types: %+v", raw)
	}
}

// dump dumps the fixture's map name in a form.
func dump(t *testing.T, f *fixture, name string, opt DumpOptions) string {
	t.Helper()
	h, err := OpenHandle(Ref{ID: f.ids[name]})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c, err := h.Dump()
	if err != nil {
		t.Fatalf("dump %s: %v", name, err)
	}
	var b bytes.Buffer
	if err := c.Write(&b, opt); err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
	return b.String()
}

// TestDumpWrittenByProgram dumps what the fixture's program wrote, decoded
// through the maps' BTF.
func TestDumpWrittenByProgram(t *testing.T) {
	kerneltest.Require(t)
	const runs = 3
	f := loadFixture(t, runs)
	c0, c1 := runsOn(t, runs)
	total := c0 + c1

	check := func(name string, opt DumpOptions, want string) {
		t.Helper()
		if got := dump(t, f, name, opt); got != want {
			t.Errorf("dump %s %+v:\n%s\nwant:\n%s", name, opt, got, want)
		}
	}
	check("by_task", DumpOptions{}, fmt.Sprintf(
		"@by_task[7, init]: { .count = 1, .delta = 0, .state = TASK_DONE, .tag = ok }\n"+
			"@by_task[42, waggle]: { .count = %d, .delta = %d, .state = TASK_RUNNING, .tag = ok }\n", 3*total, -5*total))
	check("counts", DumpOptions{}, fmt.Sprintf("@counts[1]: %d\n", 10*total))
	// Sorted by value, as bpftrace sorts maps of integers.
	check("per_cpu", DumpOptions{}, fmt.Sprintf("@per_cpu[0]: 0\n@per_cpu[2]: 0\n@per_cpu[3]: 0\n@per_cpu[1]: %d\n", c0+2*c1))
	check("raw_sizes", DumpOptions{}, "key: 01 00 00 00  value: 2a 00 00 00 00 00 00 00\nFound 1 element\n")
	check(".bss", DumpOptions{}, fmt.Sprintf("@.bss[00 00 00 00]: { .runs = %d }\n", total))
	check("lat_hist", DumpOptions{}, "@lat_hist[1]:\n\n@lat_hist[0]:\n"+
		fmt.Sprintf("[2, 4)     %13d |@@@@@@@@@@@@@@@@@@@@                                |\n", 2*total)+
		"[4, 8)                 0 |                                                    |\n"+
		fmt.Sprintf("[8, 16)    %13d |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n", 5*total))

	// JSON lines come in the kernel's order.
	lines := strings.SplitAfter(dump(t, f, "by_task", DumpOptions{JSON: true}), "\n")
	slices.Sort(lines)
	if got, want := strings.Join(lines, ""), fmt.Sprintf(
		`{"key": {"pid": 42, "comm": "waggle"}, "value": {"count": %d, "delta": %d, "state": "TASK_RUNNING", "tag": "ok"}}`+"\n"+
			`{"key": {"pid": 7, "comm": "init"}, "value": {"count": 1, "delta": 0, "state": "TASK_DONE", "tag": "ok"}}`+"\n", 3*total, -5*total); got != want {
		t.Errorf("dump by_task as JSON (sorted):\n%s\nwant:\n%s", got, want)
	}
	check("raw_sizes", DumpOptions{JSON: true}, `{"key_hex": "01 00 00 00", "value_hex": "2a 00 00 00 00 00 00 00"}`+"\n")

	if c1 == 0 {
		t.Log("one possible CPU: per-CPU values are checked on CPU 0 only")
		return
	}
	ncpu, _ := ebpf.PossibleCPU()
	perCPU := dump(t, f, "per_cpu", DumpOptions{PerCPU: true})
	for _, line := range []string{fmt.Sprintf("@per_cpu[1, cpu=0]: %d\n", c0), fmt.Sprintf("@per_cpu[1, cpu=1]: %d\n", 2*c1)} {
		if !strings.Contains(perCPU, line) {
			t.Errorf("per-CPU dump lacks %q:\n%s", line, perCPU)
		}
	}
	js := dump(t, f, "pc_hash", DumpOptions{JSON: true})
	var entry struct {
		Key    uint32
		Values []struct{ Count uint64 }
	}
	if err := json.Unmarshal([]byte(js), &entry); err != nil {
		t.Fatalf("%v: %s", err, js)
	}
	if len(entry.Values) != ncpu || entry.Values[0].Count != uint64(2*c0) || entry.Values[1].Count != uint64(2*c1) {
		t.Errorf("pc_hash JSON: %s", js)
	}
	if got := dump(t, f, "pc_hash", DumpOptions{}); !strings.HasPrefix(got, fmt.Sprintf("@pc_hash[0]: { .count = %d,", 2*total)) {
		t.Errorf("pc_hash is not summed over CPUs: %s", got)
	}
}

func TestUpdateLookupDelete(t *testing.T) {
	kerneltest.Require(t)
	f := loadFixture(t, 1)
	h, err := OpenHandle(Ref{Name: "counts"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.ID != f.ids["counts"] || h.Key == nil || h.Value == nil {
		t.Fatalf("opened %+v", h)
	}
	key := parseKey(t, h, "5")
	if err := h.Update(key, parseValue(t, h, "0x1234"), ebpf.UpdateNoExist); err != nil {
		t.Fatal(err)
	}
	err = h.Update(key, parseValue(t, h, "1"), ebpf.UpdateNoExist)
	if err == nil || err.Error() != fmt.Sprintf("map %d (counts) already has key 5 (noexist only creates)", h.ID) {
		t.Errorf("noexist on an existing key: %v", err)
	}
	if err := h.Update(parseKey(t, h, "hex", "06", "00", "00", "00"), parseValue(t, h, "7", "0", "0", "0", "0", "0", "0", "0"), ebpf.UpdateAny); err != nil {
		t.Fatal(err)
	}
	lookup := func(words ...string) string {
		c, err := h.Lookup(parseKey(t, h, words...))
		if err != nil {
			return err.Error()
		}
		var b bytes.Buffer
		if err := c.Write(&b, DumpOptions{}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if got := lookup("5"); got != "@counts[5]: 4660\n" {
		t.Errorf("lookup 5: %q", got)
	}
	if got := lookup("6"); got != "@counts[6]: 7\n" {
		t.Errorf("lookup 6: %q", got)
	}
	if err := h.Delete(key); err != nil {
		t.Fatal(err)
	}
	if got, want := lookup("5"), fmt.Sprintf("map %d (counts) has no key 5", h.ID); got != want {
		t.Errorf("lookup after delete: %q, want %q", got, want)
	}
	if err := h.Delete(key); !errors.Is(err, ErrNoKey) {
		t.Errorf("delete twice: %v", err)
	}
	if err := h.Update(key, parseValue(t, h, "1"), ebpf.UpdateExist); !errors.Is(err, ErrNoKey) {
		t.Errorf("exist on a missing key: %v", err)
	}

	// getnext walks every key once.
	seen := map[string]bool{}
	var k []byte
	for {
		next, ok, err := h.NextKey(k)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if seen[string(next)] {
			t.Fatalf("getnext returned % x twice", next)
		}
		seen[string(next)] = true
		k = next
	}
	if len(seen) != 2 { // 1 from the program, 6 from above
		t.Errorf("getnext walked %d keys", len(seen))
	}

	// A struct key and value as JSON, then as words.
	bt, err := OpenHandle(Ref{ID: f.ids["by_task"]})
	if err != nil {
		t.Fatal(err)
	}
	defer bt.Close()
	if err := bt.Update(parseKey(t, bt, `{"pid": 9, "comm": "sh"}`), parseValue(t, bt, `{"count": 2, "delta": -1, "state": "TASK_DONE"}`), ebpf.UpdateAny); err != nil {
		t.Fatal(err)
	}
	c, err := bt.Lookup(parseKey(t, bt, "9", "sh"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	c.Write(&b, DumpOptions{JSON: true})
	if want := `{"key": {"pid": 9, "comm": "sh"}, "value": {"count": 2, "delta": -1, "state": "TASK_DONE", "tag": ""}}` + "\n"; b.String() != want {
		t.Errorf("by_task lookup: %s", b.String())
	}

	// A per-CPU map gets the value on every CPU.
	pc, err := OpenHandle(Ref{ID: f.ids["per_cpu"]})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := pc.Update(parseKey(t, pc, "2"), parseValue(t, pc, "11"), ebpf.UpdateAny); err != nil {
		t.Fatal(err)
	}
	c, err = pc.Lookup(parseKey(t, pc, "2"))
	if err != nil {
		t.Fatal(err)
	}
	ncpu, _ := ebpf.PossibleCPU()
	if len(c.Entries) != 1 || len(c.Entries[0].Values) != ncpu {
		t.Fatalf("per-CPU lookup: %+v", c.Entries)
	}
	for cpu, v := range c.Entries[0].Values {
		if v[0] != 11 {
			t.Errorf("CPU %d holds % x", cpu, v)
		}
	}
	if err := pc.Update(parseKey(t, pc, "9"), parseValue(t, pc, "1"), ebpf.UpdateAny); err == nil || !strings.Contains(err.Error(), "(per_cpu) holds keys 0 to 3 only: 9 is past its end") {
		t.Errorf("update past the end of an array: %v", err)
	}
	if err := pc.Delete(parseKey(t, pc, "2")); err == nil || !strings.Contains(err.Error(), "entries of array maps cannot be deleted") {
		t.Errorf("delete from an array: %v", err)
	}
}

func parseKey(t *testing.T, h *Handle, words ...string) []byte {
	t.Helper()
	b, err := h.ParseKey(words)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseValue(t *testing.T, h *Handle, words ...string) []byte {
	t.Helper()
	b, err := h.ParseValue(words)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMapWithoutBTF dumps a map created without BTF, per-CPU included, in
// bpftool's layout.
func TestMapWithoutBTF(t *testing.T) {
	kerneltest.Require(t)
	m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "nobtf", Type: ebpf.Hash, KeySize: 20, ValueSize: 4, MaxEntries: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	key := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
	if err := m.Put(key, []byte{0xaa, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	id, err := mapID(m)
	if err != nil {
		t.Fatal(err)
	}
	h, err := OpenHandle(Ref{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.Key != nil || h.Value != nil {
		t.Fatalf("types of a map without BTF: %v %v", h.Key, h.Value)
	}
	c, err := h.Dump()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	c.Write(&b, DumpOptions{})
	want := "key:\n01 02 03 04 05 06 07 08  09 0a 0b 0c 0d 0e 0f 10\n11 12 13 14\nvalue:\naa 00 00 00\nFound 1 element\n"
	if b.String() != want {
		t.Errorf("dump:\n%s\nwant:\n%s", b.String(), want)
	}

	pm, err := ebpf.NewMap(&ebpf.MapSpec{Name: "nobtf_pc", Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	pid, _ := mapID(pm)
	ph, err := OpenHandle(Ref{ID: pid})
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	if err := ph.Update(parseKey(t, ph, "0", "0", "0", "0"), parseValue(t, ph, "hex", "01020304"), ebpf.UpdateAny); err != nil {
		t.Fatal(err)
	}
	c, err = ph.Dump()
	if err != nil {
		t.Fatal(err)
	}
	b.Reset()
	c.Write(&b, DumpOptions{})
	ncpu, _ := ebpf.PossibleCPU()
	want = "key:\n00 00 00 00\n"
	for cpu := range ncpu {
		want += fmt.Sprintf("value (CPU %02d): 01 02 03 04\n", cpu)
	}
	want += "Found 1 element\n"
	if b.String() != want {
		t.Errorf("per-CPU dump:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestPin(t *testing.T) {
	kerneltest.Require(t)
	f := loadFixture(t, 1)
	dir, err := os.MkdirTemp("/sys/fs/bpf", "waggle-test-")
	if err != nil {
		kerneltest.Skip(t, "no BPF file system at /sys/fs/bpf: "+err.Error())
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "counts")
	h, err := OpenHandle(Ref{ID: f.ids["counts"]})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.Pin(path); err != nil {
		t.Fatal(err)
	}
	if err := h.Pin(path); err == nil || !strings.Contains(err.Error(), "something is pinned there already") {
		t.Errorf("pinning twice: %v", err)
	}
	if err := h.Pin(filepath.Join(t.TempDir(), "x")); err == nil || !strings.Contains(err.Error(), "is not in a BPF file system") {
		t.Errorf("pinning outside bpffs: %v", err)
	}
	infos, err := Show(Ref{Pinned: path}, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].ID != f.ids["counts"] || !slices.Equal(infos[0].Pinned, []string{path}) {
		t.Errorf("show pinned %s: %+v", path, infos)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	kerneltest.Require(t)
	ids, err := IDs()
	if err != nil {
		t.Fatal(err)
	}
	unused := uint32(1)
	for slices.Contains(ids, unused) {
		unused++
	}
	_, err = OpenHandle(Ref{ID: unused})
	if !errors.Is(err, ErrNotFound) || err.Error() != fmt.Sprintf("no map with ID %d is loaded (waggle map list shows the loaded maps)", unused) {
		t.Errorf("missing ID: %v", err)
	}
	if _, err := OpenHandle(Ref{Name: "waggle_no_such"}); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `no map is named "waggle_no_such"`) {
		t.Errorf("missing name: %v", err)
	}
	if _, err := OpenHandle(Ref{Pinned: "/sys/fs/bpf/waggle-no-such"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing pin: %v", err)
	}

	rb, err := ebpf.NewMap(&ebpf.MapSpec{Name: "rb", Type: ebpf.RingBuf, MaxEntries: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	id, _ := mapID(rb)
	h, err := OpenHandle(Ref{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.Dump(); err == nil || !strings.Contains(err.Error(), "is a ringbuf: its records are consumed as they come") {
		t.Errorf("dump of a ring buffer: %v", err)
	}

	// Two maps of one name: Open wants one.
	a, _ := ebpf.NewMap(&ebpf.MapSpec{Name: "twin", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	b, _ := ebpf.NewMap(&ebpf.MapSpec{Name: "twin", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	defer a.Close()
	defer b.Close()
	if _, err := Open(Ref{Name: "twin"}); err == nil || !strings.Contains(err.Error(), `2 maps are named "twin"`) {
		t.Errorf("ambiguous name: %v", err)
	}
	if infos, err := Show(Ref{Name: "twin"}, ListOptions{}); err != nil || len(infos) != 2 {
		t.Errorf("show of a shared name: %d maps, %v", len(infos), err)
	}
}
