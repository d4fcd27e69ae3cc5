package procmaps

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

const sample = `55d4c7a00000-55d4c7a28000 r--p 00000000 08:01 1048602                    /usr/bin/bash
55d4c7a28000-55d4c7b03000 r-xp 00028000 08:01 1048602                    /usr/bin/bash
55d4c8e1e000-55d4c8f81000 rw-p 00000000 00:00 0                          [heap]
7f3b1c000000-7f3b1c021000 rw-p 00000000 00:00 0 
7f3b1d228000-7f3b1d37d000 r-xp 00028000 fd:01 3935                       /usr/lib/x86_64-linux-gnu/libc.so.6
7f3b1d400000-7f3b1d401000 r-xp 00000000 103:02 77                        /tmp/my lib (v2).so (deleted)
7f3b1d500000-7f3b1d501000 rw-p 00000000 00:00 0                          [anon:my arena]
7ffd1a9f3000-7ffd1a9f5000 r-xp 00000000 00:00 0                          [vdso]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
`

func TestParse(t *testing.T) {
	ms, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	want := []Mapping{
		{Start: 0x55d4c7a00000, End: 0x55d4c7a28000, Perms: "r--p", Major: 8, Minor: 1, Inode: 1048602, Path: "/usr/bin/bash"},
		{Start: 0x55d4c7a28000, End: 0x55d4c7b03000, Perms: "r-xp", Offset: 0x28000, Major: 8, Minor: 1, Inode: 1048602, Path: "/usr/bin/bash"},
		{Start: 0x55d4c8e1e000, End: 0x55d4c8f81000, Perms: "rw-p", Path: "[heap]"},
		{Start: 0x7f3b1c000000, End: 0x7f3b1c021000, Perms: "rw-p"},
		{Start: 0x7f3b1d228000, End: 0x7f3b1d37d000, Perms: "r-xp", Offset: 0x28000, Major: 0xfd, Minor: 1, Inode: 3935, Path: "/usr/lib/x86_64-linux-gnu/libc.so.6"},
		{Start: 0x7f3b1d400000, End: 0x7f3b1d401000, Perms: "r-xp", Major: 0x103, Minor: 2, Inode: 77, Path: "/tmp/my lib (v2).so", Deleted: true},
		{Start: 0x7f3b1d500000, End: 0x7f3b1d501000, Perms: "rw-p", Path: "[anon:my arena]"},
		{Start: 0x7ffd1a9f3000, End: 0x7ffd1a9f5000, Perms: "r-xp", Path: "[vdso]"},
		{Start: 0xffffffffff600000, End: 0xffffffffff601000, Perms: "--xp", Path: "[vsyscall]"},
	}
	if !reflect.DeepEqual(ms, want) {
		t.Fatalf("got\n%v\nwant\n%v", ms, want)
	}
	if !ms[1].Executable() || ms[0].Executable() || !ms[1].IsFile() || ms[7].IsFile() || ms[3].IsFile() {
		t.Error("Executable/IsFile wrong")
	}
	if got := ms[4].FileOffset(0x7f3b1d228010); got != 0x28010 {
		t.Errorf("FileOffset = %#x", got)
	}
	for _, tc := range []struct {
		addr uint64
		want int // index, or -1
	}{
		{0x55d4c7a00000, 0}, {0x55d4c7a27fff, 0}, {0x55d4c7a28000, 1}, {0x55d4c7b03000, -1},
		{0x1000, -1}, {0x7f3b1d37cfff, 4}, {0xffffffffff600fff, 8}, {0xffffffffffffffff, -1},
	} {
		m, ok := Find(ms, tc.addr)
		switch {
		case tc.want < 0 && ok:
			t.Errorf("Find(%#x) = %v, want none", tc.addr, m)
		case tc.want >= 0 && (!ok || m != ms[tc.want]):
			t.Errorf("Find(%#x) = %v, %v; want %v", tc.addr, m, ok, ms[tc.want])
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"zz-10 r-xp 0 00:00 0", `line 1: bad start address "zz"`},
		{"10 r-xp 0 00:00 0", `line 1: bad address range "10"`},
		{"20-10 r-xp 0 00:00 0", `ends before it starts`},
		{"10-20 r-x 0 00:00 0", `bad permissions "r-x"`},
		{"10-20 r-xp", `missing offset`},
		{"10-20 r-xp 0 0000 0", `bad device "0000"`},
		{"10-20 r-xp 0 00:00 x", `bad inode "x"`},
		{"10-20 r-xp 0 00:00 0 relative/path", `bad path "relative/path"`},
		{"10-20 r-xp 0 00:00 0\n15-30 r-xp 0 00:00 0", `line 2: mapping 15-30 overlaps`},
	} {
		_, err := Parse(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestReadSelf(t *testing.T) {
	ms, err := Read(0)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, m := range ms {
		if m.Path == exe && m.Executable() {
			found = true
		}
	}
	if !found {
		t.Errorf("no executable mapping of %s in /proc/self/maps", exe)
	}
	if _, err := Read(1 << 30); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Read of a missing process: %v", err)
	}
}

// FuzzParse checks that Parse never panics, and that what it accepts
// formats back to text that parses to the same mappings.
func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add("0-1 ---p 0 0:0 0 /a (deleted)\n")
	f.Add("10-20 r-xp 0 00:00 0 [x]\n")
	f.Fuzz(func(t *testing.T, in string) {
		ms, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		var b strings.Builder
		for _, m := range ms {
			if strings.ContainsAny(m.Path, "\n") || strings.ContainsAny(m.Perms, " \n") {
				return // lines we cannot write back unambiguously
			}
			b.WriteString(m.String() + "\n")
		}
		again, err := Parse(strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("formatted mappings do not parse: %v\n%s", err, b.String())
		}
		if !reflect.DeepEqual(ms, again) && !(len(ms) == 0 && len(again) == 0) {
			t.Fatalf("round trip changed the mappings:\n%v\n%v", ms, again)
		}
	})
}
