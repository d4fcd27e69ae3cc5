package attach

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/wagglebpf/waggle/internal/kerneltest"
)

// readFormatFixture reads a format file copied from a 6.18 kernel's tracefs
// (or, for synthetic.format, written by hand to hold the shapes this
// kernel does not use: __rel_loc, symbolic array lengths, structs by
// value, "field special:", multi-dimensional arrays).
func readFormatFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "tracepoint_formats", name+".format"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

var commonFields = []TracepointField{
	{Name: "common_type", Decl: "unsigned short common_type", CType: "unsigned short", ElemType: "unsigned short", Offset: 0, Size: 2, Common: true, ElemSize: 2},
	{Name: "common_flags", Decl: "unsigned char common_flags", CType: "unsigned char", ElemType: "unsigned char", Offset: 2, Size: 1, Common: true, ElemSize: 1},
	{Name: "common_preempt_count", Decl: "unsigned char common_preempt_count", CType: "unsigned char", ElemType: "unsigned char", Offset: 3, Size: 1, Common: true, ElemSize: 1},
	{Name: "common_pid", Decl: "int common_pid", CType: "int", ElemType: "int", Offset: 4, Size: 4, Signed: true, Common: true, ElemSize: 4},
}

func withCommon(fields ...TracepointField) []TracepointField {
	return append(append([]TracepointField(nil), commonFields...), fields...)
}

func TestParseTracepointFormat(t *testing.T) {
	tests := []struct {
		file string
		want TracepointFormat
	}{
		{"sys_enter_openat", TracepointFormat{ID: 782, Name: "sys_enter_openat", Fields: withCommon(
			TracepointField{Name: "__syscall_nr", Decl: "int __syscall_nr", CType: "int", ElemType: "int", Offset: 8, Size: 4, Signed: true, ElemSize: 4},
			// The kernel declares "int dfd" but stores a long: Size wins.
			TracepointField{Name: "dfd", Decl: "int dfd", CType: "int", ElemType: "int", Offset: 16, Size: 8, ElemSize: 8},
			TracepointField{Name: "filename", Decl: "const char * filename", CType: "const char *", ElemType: "const char *", Offset: 24, Size: 8, ElemSize: 8},
			TracepointField{Name: "flags", Decl: "int flags", CType: "int", ElemType: "int", Offset: 32, Size: 8, ElemSize: 8},
			TracepointField{Name: "mode", Decl: "umode_t mode", CType: "umode_t", ElemType: "umode_t", Offset: 40, Size: 8, ElemSize: 8},
		)}},
		{"sched_process_exec", TracepointFormat{ID: 365, Name: "sched_process_exec", Fields: withCommon(
			TracepointField{Name: "filename", Decl: "__data_loc char[] filename", CType: "__data_loc char[]", ElemType: "char", Offset: 8, Size: 4, DataLoc: true, ElemSize: 1},
			TracepointField{Name: "pid", Decl: "pid_t pid", CType: "pid_t", ElemType: "pid_t", Offset: 12, Size: 4, Signed: true, ElemSize: 4},
			TracepointField{Name: "old_pid", Decl: "pid_t old_pid", CType: "pid_t", ElemType: "pid_t", Offset: 16, Size: 4, Signed: true, ElemSize: 4},
		)}},
		{"kernel_stack", TracepointFormat{ID: 4, Name: "kernel_stack", Fields: withCommon(
			TracepointField{Name: "size", Decl: "int size", CType: "int", ElemType: "int", Offset: 8, Size: 4, Signed: true, ElemSize: 4},
			TracepointField{Name: "caller", Decl: "unsigned long caller[8]", CType: "unsigned long[8]", ElemType: "unsigned long", Offset: 16, Size: 64, ArrayLen: 8, ElemSize: 8},
		)}},
		{"print", TracepointFormat{ID: 5, Name: "print", Fields: withCommon(
			TracepointField{Name: "ip", Decl: "unsigned long ip", CType: "unsigned long", ElemType: "unsigned long", Offset: 8, Size: 8, ElemSize: 8},
			TracepointField{Name: "buf", Decl: "char buf[]", CType: "char[]", ElemType: "char", Offset: 16, Size: 0, ElemSize: 1},
		)}},
		{"ipi_send_cpumask", TracepointFormat{ID: 0, Name: "ipi_send_cpumask", Fields: withCommon(
			TracepointField{Name: "cpumask", Decl: "__data_loc cpumask_t cpumask", CType: "__data_loc cpumask_t", ElemType: "cpumask_t", Offset: 8, Size: 4, DataLoc: true},
			TracepointField{Name: "callsite", Decl: "void * callsite", CType: "void *", ElemType: "void *", Offset: 16, Size: 8, ElemSize: 8},
			TracepointField{Name: "callback", Decl: "void * callback", CType: "void *", ElemType: "void *", Offset: 24, Size: 8, ElemSize: 8},
		)}},
		{"synthetic", TracepointFormat{ID: 4242, Name: "synthetic_shapes", Fields: withCommon(
			TracepointField{Name: "foo", Decl: "__rel_loc char[] foo", CType: "__rel_loc char[]", ElemType: "char", Offset: 8, Size: 4, RelLoc: true, ElemSize: 1},
			TracepointField{Name: "comm", Decl: "char comm[TASK_COMM_LEN]", CType: "char[TASK_COMM_LEN]", ElemType: "char", Offset: 12, Size: 16, ArrayLen: 16, ElemSize: 1},
			TracepointField{Name: "saddr_v6", Decl: "__u8 saddr_v6[sizeof(struct in6_addr)]", CType: "__u8[sizeof(struct in6_addr)]", ElemType: "__u8", Offset: 28, Size: 16, ArrayLen: 16, ElemSize: 1},
			TracepointField{Name: "ts", Decl: "struct timespec64 ts", CType: "struct timespec64", ElemType: "struct timespec64", Offset: 48, Size: 16, ElemSize: 16},
			TracepointField{Name: "matrix", Decl: "u16 matrix[2][4]", CType: "u16[2][4]", ElemType: "u16[4]", Offset: 64, Size: 16, ArrayLen: 2, ElemSize: 8},
			TracepointField{Name: "old_style", Decl: "long old_style", CType: "long", ElemType: "long", Offset: 80, Size: 8, ElemSize: 8},
			TracepointField{Name: "delta", Decl: "s64 delta", CType: "s64", ElemType: "s64", Offset: 88, Size: 8, Signed: true, ElemSize: 8},
			// The element type's size is unknown, so the length is too.
			TracepointField{Name: "blob", Decl: "struct opaque blob[BLOB_LEN]", CType: "struct opaque[BLOB_LEN]", ElemType: "struct opaque", Offset: 96, Size: 24},
			TracepointField{Name: "argv", Decl: "const char *const * argv", CType: "const char *const *", ElemType: "const char *const *", Offset: 120, Size: 8, ElemSize: 8},
		)}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := readFormatFixture(t, tt.file)
			if tt.file == "ipi_send_cpumask" {
				tt.want.ID = mustFormatID(t, data)
			}
			got, err := ParseTracepointFormat(data)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != tt.want.ID || got.Name != tt.want.Name || len(got.Fields) != len(tt.want.Fields) {
				t.Fatalf("got %s ID %d with %d fields, want %s ID %d with %d", got.Name, got.ID, len(got.Fields), tt.want.Name, tt.want.ID, len(tt.want.Fields))
			}
			for i, f := range got.Fields {
				if !reflect.DeepEqual(f, tt.want.Fields[i]) {
					t.Errorf("field %d:\n got %+v\nwant %+v", i, f, tt.want.Fields[i])
				}
			}
		})
	}
}

// mustFormatID reads the ID line of a fixture whose ID is not worth
// pinning in the test.
func mustFormatID(t *testing.T, data []byte) uint32 {
	t.Helper()
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "ID: "); ok {
			id, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				t.Fatal(err)
			}
			return uint32(id)
		}
	}
	t.Fatal("no ID line")
	return 0
}

func TestTracepointFieldHelpers(t *testing.T) {
	f, err := ParseTracepointFormat(readFormatFixture(t, "synthetic"))
	if err != nil {
		t.Fatal(err)
	}
	for name, array := range map[string]bool{"foo": true, "comm": true, "ts": false, "delta": false, "matrix": true, "argv": false} {
		fl, ok := f.Field(name)
		if !ok {
			t.Errorf("Field(%q) not found", name)
			continue
		}
		if fl.IsArray() != array {
			t.Errorf("%s.IsArray() = %v, want %v", name, fl.IsArray(), array)
		}
	}
	if _, ok := f.Field("nope"); ok {
		t.Error("Field(\"nope\") found")
	}
}

func TestParseTracepointFormatErrors(t *testing.T) {
	const head = "name: e\nID: 1\nformat:\n"
	tests := []struct{ in, want string }{
		{"", `no "name:" line`},
		{"ID: 1\nformat:\n", `no "name:" line`},
		{"name: e\nformat:\n", `no "ID:" line`},
		{"name: e\nID: 1\n", `no "format:" section`},
		{"name:\nID: 1\nformat:\n", "line 1: empty name"},
		{"name: e\nID: x\nformat:\n", `line 2: bad ID "x"`},
		{"name: e\nID: 4294967296\nformat:\n", "bad ID"},
		{head + "\tfield:int x;\toffset:0;\n", "field x: missing offset or size"},
		{head + "\tfield:int x;\tsize:4;\n", "field x: missing offset or size"},
		{head + "\tfield:int x;\toffset:-1;\tsize:4;\n", `field x: bad offset "-1"`},
		{head + "\tfield:int x;\toffset:0;\tsize:4;\tsigned:2;\n", `field x: bad signed "2"`},
		{head + "\tfield:int;\toffset:0;\tsize:4;\n", `"int": no type`},
		{head + "\tfield:int 9x;\toffset:0;\tsize:4;\n", "no field name"},
		{head + "\tfield:x];\toffset:0;\tsize:4;\n", "unbalanced"},
		{head + "\tfield:__data_loc [] x;\toffset:0;\tsize:4;\n", "no element type"},
		{head + "\tfield:;\toffset:0;\tsize:4;\n", "no field name"},
		{head + "\tfield:int x;\toffset 0;\tsize:4;\n", "is not KEY:VALUE"},
		{head + "\tfield:int x;\toffset:0;\tsize:99999999999;\n", "bad size"},
	}
	for _, tt := range tests {
		_, err := ParseTracepointFormat([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseTracepointFormat(%q) error = %v, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestParseTracepointFormatTolerates(t *testing.T) {
	// Unknown keys, unknown header lines and CRLF endings are skipped;
	// fields are only read inside the format section; nothing is read
	// after print fmt.
	in := "name: e\r\nID: 7\r\nflags: 3\r\n\tfield:int early;\toffset:0;\tsize:4;\r\nformat:\r\n" +
		"\tfield:int x;\toffset:8;\tsize:4;\tsigned:1;\tnewkey:5;\r\n" +
		"print fmt: \"%d\", REC->x\r\n\tfield:int late;\toffset:12;\tsize:4;\r\n"
	f, err := ParseTracepointFormat([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "e" || f.ID != 7 || len(f.Fields) != 1 || f.Fields[0].Name != "x" || !f.Fields[0].Signed {
		t.Errorf("got %+v", f)
	}
}

// TestParseAllTracepointFormatsKernel parses every format file this kernel
// has and checks each against what else the kernel says: the event's id
// file and, where the kernel's BTF describes the record as struct
// trace_event_raw_NAME, the field offsets.
func TestParseAllTracepointFormatsKernel(t *testing.T) {
	kerneltest.Require(t)
	ensureTracefs(t)
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		spec = nil
		t.Logf("no kernel BTF, offsets not cross-checked: %v", err)
	}
	files, err := filepath.Glob(filepath.Join(TracefsPath, "events", "*", "*", "format"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 100 {
		t.Fatalf("only %d format files under %s", len(files), TracefsPath)
	}
	var checkedOffsets, dataLocs, arrays int
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		f, err := ParseTracepointFormat(data)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		dir := filepath.Dir(path)
		if f.Name != filepath.Base(dir) {
			t.Errorf("%s: name %q", path, f.Name)
		}
		if id, err := os.ReadFile(filepath.Join(dir, "id")); err == nil && strings.TrimSpace(string(id)) != strconv.FormatUint(uint64(f.ID), 10) {
			t.Errorf("%s: ID %d, id file says %s", path, f.ID, strings.TrimSpace(string(id)))
		}
		if len(f.Fields) < 4 || !f.Fields[0].Common || f.Fields[0].Name != "common_type" {
			t.Errorf("%s: fields do not start with the common header: %+v", path, f.Fields)
		}
		for _, fl := range f.Fields {
			if fl.DataLoc || fl.RelLoc {
				dataLocs++
				if fl.Size != 4 {
					t.Errorf("%s: %s is a dynamic array with a %d-byte descriptor", path, fl.Name, fl.Size)
				}
			}
			if fl.ArrayLen > 0 {
				arrays++
				if fl.ArrayLen*fl.ElemSize != fl.Size {
					t.Errorf("%s: %s: %d × %d != size %d", path, fl.Name, fl.ArrayLen, fl.ElemSize, fl.Size)
				}
			}
			if fl.Decl != strings.TrimSpace(declOf(fl)) {
				t.Errorf("%s: %q does not rebuild as %q", path, fl.Decl, declOf(fl))
			}
		}
		if spec != nil {
			checkedOffsets += crossCheckBTF(t, spec, path, f)
		}
	}
	t.Logf("%d formats, %d dynamic arrays, %d fixed arrays, %d offsets checked against BTF", len(files), dataLocs, arrays, checkedOffsets)
	if dataLocs == 0 || arrays == 0 {
		t.Error("no __data_loc or array fields seen: the kernel's formats changed shape")
	}
	if spec != nil && checkedOffsets < 1000 {
		t.Errorf("only %d offsets cross-checked against BTF", checkedOffsets)
	}
}

// declOf puts a field's parts back together the way the kernel writes
// them, to show that nothing of the declaration was lost.
func declOf(fl TracepointField) string {
	if i := strings.IndexByte(fl.CType, '['); i >= 0 && !fl.DataLoc && !fl.RelLoc {
		return fl.CType[:i] + " " + fl.Name + fl.CType[i:]
	}
	return fl.CType + " " + fl.Name
}

// crossCheckBTF compares field offsets with struct trace_event_raw_NAME,
// the kernel's own C definition of the record, when BTF has one by that
// name (events defined by a shared class use the class's name instead).
// __data_loc fields appear there as __data_loc_NAME.
func crossCheckBTF(t *testing.T, spec *btf.Spec, path string, f *TracepointFormat) int {
	t.Helper()
	var s *btf.Struct
	if err := spec.TypeByName("trace_event_raw_"+f.Name, &s); err != nil {
		return 0
	}
	offsets := map[string]int{}
	for _, m := range s.Members {
		offsets[m.Name] = int(m.Offset.Bytes())
	}
	n := 0
	for _, fl := range f.Fields {
		if fl.Common {
			continue
		}
		off, ok := offsets[fl.Name]
		if !ok {
			off, ok = offsets["__data_loc_"+fl.Name]
		}
		if !ok {
			off, ok = offsets["__rel_loc_"+fl.Name]
		}
		if !ok {
			continue
		}
		n++
		if off != fl.Offset {
			t.Errorf("%s: %s at offset %d, BTF says %d", path, fl.Name, fl.Offset, off)
		}
	}
	return n
}

func TestReadTracepointFormatKernel(t *testing.T) {
	kerneltest.Require(t)
	ensureTracefs(t)

	f, err := ReadTracepointFormat("syscalls", "sys_enter_openat")
	if err != nil {
		t.Fatal(err)
	}
	fl, ok := f.Field("filename")
	if !ok || fl.CType != "const char *" || fl.Offset != 24 || fl.Size != 8 || fl.Common {
		t.Errorf("sys_enter_openat filename = %+v, %v; want const char * at 24, size 8", fl, ok)
	}

	f, err = ReadTracepointFormat("sched", "sched_process_exec")
	if err != nil {
		t.Fatal(err)
	}
	fl, ok = f.Field("filename")
	if !ok || !fl.DataLoc || fl.CType != "__data_loc char[]" || fl.ElemType != "char" || fl.Size != 4 {
		t.Errorf("sched_process_exec filename = %+v, %v; want __data_loc char[]", fl, ok)
	}

	_, err = ReadTracepointFormat("syscalls", "sys_enter_nope")
	if err == nil || err.Error() != "tracepoint syscalls:sys_enter_nope does not exist" {
		t.Errorf("missing tracepoint: error %v", err)
	}
	var nf *TracepointNotFoundError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &nf) || nf.Group != "syscalls" {
		t.Errorf("missing tracepoint error %v is not a *TracepointNotFoundError matching fs.ErrNotExist", err)
	}
	if _, err := ReadTracepointFormat("nogroup", "x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing group: error %v", err)
	}
}

func TestReadTracepointFormatBadNames(t *testing.T) {
	for _, gn := range [][2]string{{"", "x"}, {"x", ""}, {"..", "x"}, {"syscalls", "../sched/sched_switch"}, {"a/b", "c"}, {"a", "b\x00"}} {
		_, err := ReadTracepointFormat(gn[0], gn[1])
		if err == nil || !strings.Contains(err.Error(), "invalid name") {
			t.Errorf("ReadTracepointFormat(%q, %q) error = %v, want invalid name", gn[0], gn[1], err)
		}
	}
}

// tracepointFormatFuzzSeeds are the fixtures plus cut-down variants that
// reach the error paths.
func tracepointFormatFuzzSeeds(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{}
	for _, name := range []string{"sys_enter_openat", "sched_process_exec", "sched_switch", "kernel_stack", "print", "ipi_send_cpumask", "synthetic"} {
		seeds[name] = readFormatFixture(t, name)
	}
	seeds["truncated"] = seeds["sched_switch"][:200]
	seeds["no-id"] = []byte("name: x\nformat:\n\tfield:int a;\toffset:0;\tsize:4;\tsigned:1;\n")
	return seeds
}

func TestTracepointFormatFuzzSeedsCurrent(t *testing.T) {
	checkFuzzSeeds(t, "FuzzParseTracepointFormat", tracepointFormatFuzzSeeds(t))
}

func FuzzParseTracepointFormat(f *testing.F) {
	for _, s := range tracepointFormatFuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tf, err := ParseTracepointFormat(data)
		if err != nil {
			return
		}
		if tf.Name == "" {
			t.Fatal("parsed without a name")
		}
		for _, fl := range tf.Fields {
			if fl.Name == "" || fl.CType == "" || fl.ElemType == "" || !strings.Contains(fl.Decl, fl.Name) {
				t.Fatalf("field with missing parts: %+v", fl)
			}
			if fl.Offset < 0 || fl.Size < 0 || fl.ArrayLen < 0 || fl.ElemSize < 0 {
				t.Fatalf("negative layout: %+v", fl)
			}
			if fl.ArrayLen > 0 && fl.ArrayLen*fl.ElemSize > fl.Size {
				t.Fatalf("array larger than its field: %+v", fl)
			}
		}
	})
}
