package btfprint

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

func entry(key []byte, values ...[]byte) Entry { return Entry{Key: key, Values: values} }

var (
	tKeyPidComm = st("key_t", 20, mem("pid", tU32, 0), mem("comm", charArray(16), 4))
	tHist       = st("hist", 26*4, mem("slots", array(tU32T, 26), 0))
)

func pidComm(pid uint32, comm string) []byte { return newBuf(20).u32(0, pid).str(4, comm) }

func histData(slots map[int]uint32) []byte {
	b := newBuf(26 * 4)
	for k, v := range slots {
		b.u32(4*k, v)
	}
	return b
}

func printMap(t *testing.T, m Map, opt MapOptions) string {
	t.Helper()
	var out bytes.Buffer
	if err := PrintMap(&out, m, opt); err != nil {
		t.Fatalf("PrintMap: %v", err)
	}
	return out.String()
}

func TestPrintMapText(t *testing.T) {
	for _, c := range []struct {
		name string
		m    Map
		opt  MapOptions
		want string
	}{
		{
			name: "sorted by value, ties by numeric key",
			m: Map{Name: "counts", Key: tU32, Value: tU64, Entries: []Entry{
				entry(u32b(1), u64b(5)), entry(u32b(300), u64b(5)), entry(u32b(2), u64b(3)), entry(u32b(4), u64b(10)),
			}},
			want: "@counts[2]: 3\n@counts[1]: 5\n@counts[300]: 5\n@counts[4]: 10\n",
		},
		{
			name: "signed values",
			m: Map{Name: "@delta", Key: tU32, Value: tS64, Entries: []Entry{
				entry(u32b(1), u64b(3)), entry(u32b(2), u64b(uint64(0xfffffffffffffffb))),
			}},
			want: "@delta[2]: -5\n@delta[1]: 3\n",
		},
		{
			name: "struct key prints as a tuple",
			m: Map{Name: "m", Key: tKeyPidComm, Value: tU64, Entries: []Entry{
				entry(pidComm(1, "bash"), u64b(5)), entry(pidComm(2, "sshd"), u64b(1)),
			}},
			want: "@m[2, sshd]: 1\n@m[1, bash]: 5\n",
		},
		{
			name: "other values sorted by key",
			m: Map{Name: "names", Key: tU32, Value: charArray(8), Entries: []Entry{
				entry(u32b(10), []byte("b\x00\x00\x00\x00\x00\x00\x00")), entry(u32b(2), []byte("a\x00\x00\x00\x00\x00\x00\x00")),
			}},
			want: "@names[2]: a\n@names[10]: b\n",
		},
		{
			name: "string keys",
			m: Map{Name: "by_comm", Key: charArray(4), Value: tU32, Entries: []Entry{
				entry([]byte("zz\x00\x00"), u32b(1)), entry([]byte("aa\x00\x00"), u32b(1)),
			}},
			want: "@by_comm[aa]: 1\n@by_comm[zz]: 1\n",
		},
		{
			name: "struct values",
			m: Map{Name: "last", Key: tU32, Value: tInner, Entries: []Entry{
				entry(u32b(1), newBuf(4).u16(0, 2).u16(2, 3)),
			}},
			want: "@last[1]: { .p = 2, .q = 3 }\n",
		},
		{
			name: "array skips zero entries",
			m: Map{Name: "arr", Key: tU32, Value: tU64, Array: true, Entries: []Entry{
				entry(u32b(0), u64b(0)), entry(u32b(1), u64b(5)), entry(u32b(2), u64b(0)), entry(u32b(3), u64b(2)),
			}},
			want: "@arr[3]: 2\n@arr[1]: 5\n",
		},
		{
			name: "all-zero array prints nothing",
			m: Map{Name: "arr", Key: tU32, Value: tU64, Array: true, Entries: []Entry{
				entry(u32b(0), u64b(0)), entry(u32b(1), u64b(0)),
			}},
			want: "",
		},
		{
			name: "empty map prints nothing",
			m:    Map{Name: "empty", Key: tU32, Value: tU64},
			want: "",
		},
		{
			name: "single-entry array is a scalar",
			m:    Map{Name: "total", Key: tU32, Value: tU64, Array: true, Entries: []Entry{entry(u32b(0), u64b(42))}},
			want: "@total: 42\n",
		},
		{
			name: "single-entry hash keeps its key",
			m:    Map{Name: "one", Key: tU32, Value: tU64, Entries: []Entry{entry(u32b(0), u64b(42))}},
			want: "@one[0]: 42\n",
		},
		{
			name: "per-CPU integers summed",
			m: Map{Name: "pc", Key: tU32, Value: tU64, PerCPU: true, Entries: []Entry{
				entry(u32b(1), u64b(3), u64b(4)), entry(u32b(2), u64b(1), u64b(0)),
			}},
			want: "@pc[2]: 1\n@pc[1]: 7\n",
		},
		{
			name: "per-CPU sum wraps at the integer's width",
			m: Map{Name: "pc", Key: tU32, Value: tU32, PerCPU: true, Entries: []Entry{
				entry(u32b(1), u32b(0xffffffff), u32b(2)),
			}},
			want: "@pc[1]: 1\n",
		},
		{
			name: "per-CPU printed per CPU",
			m: Map{Name: "pc", Key: tU32, Value: tU64, PerCPU: true, Entries: []Entry{
				entry(u32b(1), u64b(3), u64b(4)), entry(u32b(2), u64b(1), u64b(0)),
			}},
			opt:  MapOptions{PerCPU: true},
			want: "@pc[2, cpu=0]: 1\n@pc[2, cpu=1]: 0\n@pc[1, cpu=0]: 3\n@pc[1, cpu=1]: 4\n",
		},
		{
			name: "per-CPU scalar array printed per CPU skips zero CPUs",
			m:    Map{Name: "tot", Key: tU32, Value: tU64, PerCPU: true, Array: true, Entries: []Entry{entry(u32b(0), u64b(3), u64b(0), u64b(5))}},
			opt:  MapOptions{PerCPU: true},
			want: "@tot[cpu=0]: 3\n@tot[cpu=2]: 5\n",
		},
		{
			name: "per-CPU array entry is zero only if its sum is",
			m: Map{Name: "arr", Key: tU32, Value: tU64, PerCPU: true, Array: true, Entries: []Entry{
				entry(u32b(0), u64b(0), u64b(0)), entry(u32b(1), u64b(0), u64b(6)),
			}},
			want: "@arr[1]: 6\n",
		},
		{
			name: "no BTF: hex",
			m: Map{Name: "raw", Entries: []Entry{
				entry([]byte{1, 0, 0, 0}, []byte{5, 0}),
			}},
			want: "@raw[01 00 00 00]: 05 00\n",
		},
		{
			name: "no BTF, per-CPU: one line per CPU",
			m: Map{Name: "raw", PerCPU: true, Entries: []Entry{
				entry([]byte{1, 0, 0, 0}, []byte{5, 0}, []byte{6, 0}),
			}},
			want: "@raw[01 00 00 00, cpu=0]: 05 00\n@raw[01 00 00 00, cpu=1]: 06 00\n",
		},
		{
			name: "keyed histograms sorted by total",
			m: Map{Name: "lat", Key: tU32, Value: tHist, Entries: []Entry{
				entry(u32b(7), histData(map[int]uint32{1: 2, 3: 4})),
				entry(u32b(9), histData(map[int]uint32{0: 1})),
			}},
			want: "@lat[9]:\n" +
				"[0, 2)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n" +
				"\n" +
				"@lat[7]:\n" +
				"[2, 4)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n" +
				"[4, 8)                 0 |                                                    |\n" +
				"[8, 16)                4 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n" +
				"\n",
		},
		{
			name: "empty histogram in a hash map prints its header only",
			m:    Map{Name: "lat", Key: tU32, Value: tHist, Entries: []Entry{entry(u32b(7), histData(nil))}},
			want: "@lat[7]:\n\n",
		},
		{
			name: "per-CPU histogram summed",
			m: Map{Name: "h", Key: tU32, Value: tHist, PerCPU: true, Array: true, Entries: []Entry{
				entry(u32b(0), histData(map[int]uint32{2: 1}), histData(map[int]uint32{2: 1, 4: 4})),
			}},
			want: "@h:\n" +
				"[4, 8)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n" +
				"[8, 16)                0 |                                                    |\n" +
				"[16, 32)               4 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n" +
				"\n",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := printMap(t, c.m, c.opt); got != c.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}

func TestPerCPUStructSum(t *testing.T) {
	if !littleEndian {
		t.Skip("expected bytes are little-endian")
	}
	// Integers add member by member and element by element; everything
	// that has no sum comes from CPU 0.
	stats := st("stats", 40,
		mem("count", tU64, 0),
		bitmem("flags", tU32, 64, 4),
		mem("state", tColor, 12),
		mem("name", charArray(4), 16),
		mem("per", array(tU16, 2), 20),
		mem("u", &btf.Union{Size: 4, Members: []btf.Member{mem("w", tU32, 0)}}, 24),
		mem("ok", tBool, 28),
		mem("ptr", &btf.Pointer{Target: tU32}, 32),
	)
	cpu := func(count uint64, flags uint32, state uint32, name string, p0, p1 uint16, w uint32, ok uint8, ptr uint64) []byte {
		return newBuf(40).u64(0, count).u32(8, flags).u32(12, state).str(16, name).
			u16(20, p0).u16(22, p1).u32(24, w).u8(28, ok).u64(32, ptr)
	}
	m := Map{Name: "s", Key: tU32, Value: stats, PerCPU: true, Entries: []Entry{entry(u32b(1),
		cpu(1, 3, 1, "ab", 1, 2, 10, 0, 0x10),
		cpu(2, 5, 2, "cd", 3, 4, 20, 1, 0x20),
		cpu(4, 7, 0, "ef", 5, 6, 30, 1, 0x30),
	)}}
	want := "@s[1]: { .count = 7, .flags = 3, .state = GREEN, .name = ab, .per = [9,12], .u = { .w = 10 }, .ok = false, .ptr = 0x10 }\n"
	if got := printMap(t, m, MapOptions{}); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestPrintMapJSON(t *testing.T) {
	for _, c := range []struct {
		name string
		m    Map
		opt  MapOptions
		raw  string // exact bytes, when set
		want string // meaning
	}{
		{
			name: "ordinary map",
			m: Map{Name: "counts", Key: tU32, Value: tU64, Entries: []Entry{
				entry(u32b(1), u64b(5)), entry(u32b(2), u64b(3)),
			}},
			raw: `{"type": "map", "data": {"@counts": {"2": 3, "1": 5}}}` + "\n",
		},
		{
			name: "scalar",
			m:    Map{Name: "total", Key: tU32, Value: tU64, Array: true, Entries: []Entry{entry(u32b(0), u64b(42))}},
			raw:  `{"type": "map", "data": {"@total": 42}}` + "\n",
		},
		{
			name: "tuple key",
			m:    Map{Name: "m", Key: tKeyPidComm, Value: tU64, Entries: []Entry{entry(pidComm(1, "bash"), u64b(18446744073709551615))}},
			raw:  `{"type": "map", "data": {"@m": {"1,bash": 18446744073709551615}}}` + "\n",
		},
		{
			name: "struct values and enum names",
			m: Map{Name: "st", Key: tU32, Value: st("v", 8, mem("c", tColor, 0), mem("n", tU32, 4)), Entries: []Entry{
				entry(u32b(3), newBuf(8).u32(0, 1).u32(4, 9)),
			}},
			want: `{"type": "map", "data": {"@st": {"3": {"c": "GREEN", "n": 9}}}}`,
		},
		{
			name: "per CPU",
			m:    Map{Name: "pc", Key: tU32, Value: tU64, PerCPU: true, Entries: []Entry{entry(u32b(1), u64b(3), u64b(4))}},
			opt:  MapOptions{JSON: true, PerCPU: true},
			raw:  `{"type": "map", "data": {"@pc": {"1,cpu=0": 3, "1,cpu=1": 4}}}` + "\n",
		},
		{
			name: "per CPU scalar",
			m:    Map{Name: "t", Key: tU32, Value: tU64, PerCPU: true, Array: true, Entries: []Entry{entry(u32b(0), u64b(3), u64b(4))}},
			opt:  MapOptions{JSON: true, PerCPU: true},
			want: `{"type": "map", "data": {"@t": {"cpu=0": 3, "cpu=1": 4}}}`,
		},
		{
			name: "hist",
			m: Map{Name: "lat", Key: tU32, Value: tHist, Array: true, Entries: []Entry{
				entry(u32b(0), histData(map[int]uint32{0: 3, 2: 5, 10: 1})),
			}},
			want: `{"type": "hist", "data": {"@lat": [
				{"min": 0, "max": 1, "count": 3},
				{"min": 2, "max": 3, "count": 0},
				{"min": 4, "max": 7, "count": 5},
				{"min": 8, "max": 15, "count": 0},
				{"min": 16, "max": 31, "count": 0},
				{"min": 32, "max": 63, "count": 0},
				{"min": 64, "max": 127, "count": 0},
				{"min": 128, "max": 255, "count": 0},
				{"min": 256, "max": 511, "count": 0},
				{"min": 512, "max": 1023, "count": 0},
				{"min": 1024, "max": 2047, "count": 1}]}}`,
		},
		{
			name: "keyed hist",
			m: Map{Name: "lat", Key: tKeyPidComm, Value: tHist, Entries: []Entry{
				entry(pidComm(1, "bash"), histData(map[int]uint32{1: 3})),
				entry(pidComm(2, "sh"), histData(map[int]uint32{1: 1})),
			}},
			raw: `{"type": "hist", "data": {"@lat": {"2,sh": [{"min": 2, "max": 3, "count": 1}], ` +
				`"1,bash": [{"min": 2, "max": 3, "count": 3}]}}}` + "\n",
		},
		{
			name: "empty hist",
			m:    Map{Name: "lat", Key: tU32, Value: tHist, Entries: []Entry{entry(u32b(1), histData(nil))}},
			raw:  `{"type": "hist", "data": {"@lat": {"1": []}}}` + "\n",
		},
		{
			name: "no BTF",
			m:    Map{Name: "raw", Entries: []Entry{entry([]byte{1, 0}, []byte{0xff})}},
			raw:  `{"type": "map", "data": {"@raw": {"01 00": "ff"}}}` + "\n",
		},
		{
			name: "name escaped",
			m:    Map{Name: `we"ird`, Key: tU32, Value: tU32, Entries: []Entry{entry(u32b(1), u32b(1))}},
			raw:  `{"type": "map", "data": {"@we\"ird": {"1": 1}}}` + "\n",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			opt := c.opt
			opt.JSON = true
			got := printMap(t, c.m, opt)
			if c.raw != "" && got != c.raw {
				t.Errorf("got  %s\nwant %s", got, c.raw)
			}
			if c.want != "" {
				jsonEqual(t, got, c.want)
			}
			if strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") {
				t.Errorf("want exactly one line, got %q", got)
			}
		})
	}
	var out bytes.Buffer
	if err := PrintMap(&out, Map{Name: "z", Key: tU32, Value: tU64, Array: true, Entries: []Entry{entry(u32b(0), u64b(0))}}, MapOptions{JSON: true}); err != nil || out.Len() != 0 {
		t.Errorf("all-zero array in JSON: err %v, output %q; want nothing", err, out.String())
	}
}

func TestPrintMapErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		m     Map
		short bool
	}{
		{name: "short value", m: Map{Name: "m", Key: tU32, Value: tU64, Entries: []Entry{entry(u32b(1), u64b(1)), entry(u32b(2), []byte{1})}}, short: true},
		{name: "short per-CPU value", m: Map{Name: "m", Key: tU32, Value: tU64, PerCPU: true, Entries: []Entry{entry(u32b(2), u64b(1), []byte{1})}}, short: true},
		{name: "short key", m: Map{Name: "m", Key: tU64, Value: tU64, Entries: []Entry{entry(u32b(1), u64b(1))}}, short: true},
		{name: "no values", m: Map{Name: "m", Key: tU32, Value: tU64, Entries: []Entry{{Key: u32b(1)}}}},
		{name: "unsized value type", m: Map{Name: "m", Key: tU32, Value: &btf.FuncProto{}, Entries: []Entry{entry(u32b(1), u64b(1))}}},
		{name: "bad value type", m: Map{Name: "m", Key: tU32, Value: &btf.Int{Name: "odd", Size: 3}, Entries: []Entry{entry(u32b(1), u64b(1))}}},
	} {
		for _, asJSON := range []bool{false, true} {
			var out bytes.Buffer
			err := PrintMap(&out, c.m, MapOptions{JSON: asJSON})
			if err == nil {
				t.Errorf("%s (json %v): no error", c.name, asJSON)
				continue
			}
			if c.short && !errors.Is(err, ErrShortData) {
				t.Errorf("%s: error %q does not wrap ErrShortData", c.name, err)
			}
			if !strings.Contains(err.Error(), "map m") {
				t.Errorf("%s: error %q does not name the map", c.name, err)
			}
			if out.Len() != 0 {
				t.Errorf("%s: wrote %q despite the error", c.name, out.String())
			}
		}
	}
}
