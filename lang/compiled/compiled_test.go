package compiled_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/internal/kerneltest"
	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/codegen"
	"github.com/wagglebpf/waggle/lang/compiled"
	"github.com/wagglebpf/waggle/lang/ctypes"
	"github.com/wagglebpf/waggle/lang/driver"
)

// A script and what compiling it needs of this machine.
type script struct {
	name, src string
	needs     string // "", "btf" (kernel BTF), "tracefs" (root, tracefs)
	args      driver.Args
}

var scripts = []script{
	{name: "printf", src: `BEGIN { printf("%s %d %5.2s|\n", "hello", 42, "xyz"); exit(3); }`},
	{name: "maps", src: `BEGIN { @c = count(); @s[1, "a"] = sum(5); @a = avg(4); @mn = min(3); @st = stats(9); @h = hist(100); @l = lhist(7, 0, 100, 10); @t = (1, "two", 3); exit(); }`},
	{name: "strings", src: `BEGIN { $s = "abc"; if ($s == "abc") { printf("%s\n", strftime("%H", nsecs)); } print(("x", 1)); print(ksym(0)); exit(); }`},
	{name: "loops", src: `BEGIN { @m[1] = 2; @m[2] = 3; for ($kv : @m) { printf("%d\n", $kv.1); } for ($i : 0..3) { @n[$i] = 1; } printf("%d\n", len(@m)); exit(); }`},
	{name: "params", src: `BEGIN { printf("%s %d %d %s\n", str($1), $2, $#, getopt("depth", "d")); exit(); }`, args: driver.Args{Params: []string{"one", "2"}, NamedArgs: map[string]string{"depth": "7"}}},
	{name: "nonutf8", src: "BEGIN { printf(\"\xff\xfe %s\\n\", \"\xc3\"); exit(); }"},
	{name: "config", src: `config = { max_strlen = 32; print_maps_on_exit = false } BEGIN { @x = 1; exit(); }`},
	{name: "local struct", src: `struct pair { int a; long b; }; BEGIN { $p = (struct pair *)0; printf("%d\n", $p->b); exit(); }`},
	{name: "stack", src: `profile:hz:99 { @[kstack] = count(); } interval:s:1 { exit(); }`},
	{name: "helper errors", src: `BEGIN { printf("%d\n", *(int32 *)0); exit(); }`, args: driver.Args{HelperErrors: true}},
	{name: "unsafe", src: `BEGIN { system("true"); exit(); }`, args: driver.Args{Unsafe: true}},
	{name: "co-re", src: `BEGIN { printf("%d %d\n", curtask->pid, curtask->se.on_rq); exit(); }`, needs: "btf"},
	{name: "record", src: `BEGIN { print(curtask->se.load); @w = curtask->se.load; exit(); }`, needs: "btf"},
	{name: "kernel facts", src: `BEGIN { printf("%d %d %d %d\n", BPF_MAP_TYPE_HASH, sizeof(struct task_struct), offsetof(struct task_struct, pid), ncpus); exit(); }`, needs: "btf"},
	{name: "tracepoint", src: `tracepoint:syscalls:sys_enter_openat /args.flags > 0/ { printf("%s\n", str(args.filename)); } tracepoint:sched:sched_switch { @[args.prev_comm] = count(); }`, needs: "tracefs"},
	{name: "wildcard", src: `tracepoint:syscalls:sys_enter_openat* { @[probe] = count(); }`, needs: "tracefs"},
}

func build(t *testing.T, s script) *compiled.Program {
	t.Helper()
	switch s.needs {
	case "btf":
		if _, err := btf.LoadKernelSpec(); err != nil {
			t.Skipf("no kernel BTF: %v", err)
		}
	case "tracefs":
		if os.Geteuid() != 0 {
			kerneltest.Skip(t, "reading tracepoint formats needs root")
		}
		if _, err := attach.EnsureTracefs(); err != nil {
			kerneltest.Skip(t, fmt.Sprintf("tracefs: %v", err))
		}
	}
	p, err := driver.Build("test.bt", []byte(s.src), s.args)
	if err != nil {
		t.Fatalf("compile %s: %v", s.name, err)
	}
	return p
}

func encode(t *testing.T, p *compiled.Program) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := compiled.Encode(&b, p); err != nil {
		t.Fatalf("encode: %v", err)
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	for _, s := range scripts {
		t.Run(s.name, func(t *testing.T) {
			p := build(t, s)
			data := encode(t, p)
			if !compiled.IsCompiled(data) {
				t.Fatalf("encoded data does not start with the magic: %q", data[:12])
			}
			q, err := compiled.Decode(data)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !q.Decoded() || p.Decoded() {
				t.Errorf("Decoded: %v for the decoded program, %v for the compiled one", q.Decoded(), p.Decoded())
			}
			sameProgram(t, p, q)
			// What decoding gives back encodes to the same bytes: nothing
			// the encoder writes is lost.
			if again := encode(t, q); !bytes.Equal(again, data) {
				t.Errorf("re-encoding the decoded program differs:\n%s\n%s", data[compiled.HeaderSize:], again[compiled.HeaderSize:])
			}
		})
	}
}

// sameProgram compares everything the driver and the printer read.
func sameProgram(t *testing.T, p, q *compiled.Program) {
	t.Helper()
	if p.File != q.File || !bytes.Equal(p.Source, q.Source) || !slices.Equal(p.Params, q.Params) || !maps.Equal(p.NamedArgs, q.NamedArgs) ||
		p.PID != q.PID || p.Unsafe != q.Unsafe || p.HelperErrors != q.HelperErrors {
		t.Errorf("arguments differ: %+v / %+v", p, q)
	}
	if !reflect.DeepEqual(p.Assumes, q.Assumes) {
		t.Errorf("assumptions differ:\n%+v\n%+v", p.Assumes, q.Assumes)
	}
	a, b := p.Code, q.Code
	if a.Info.Config != b.Info.Config {
		t.Errorf("config %+v, decoded %+v", a.Info.Config, b.Info.Config)
	}
	if !slices.Equal(a.Info.Params, b.Info.Params) || a.Info.Unsafe != b.Info.Unsafe {
		t.Errorf("info params %v unsafe %v, decoded %v %v", a.Info.Params, a.Info.Unsafe, b.Info.Params, b.Info.Unsafe)
	}
	if len(a.Spec.Maps) != len(b.Spec.Maps) {
		t.Errorf("%d kernel maps, decoded %d", len(a.Spec.Maps), len(b.Spec.Maps))
	}
	for name, m := range a.Spec.Maps {
		n := b.Spec.Maps[name]
		if n == nil || m.Name != n.Name || m.Type != n.Type || m.KeySize != n.KeySize || m.ValueSize != n.ValueSize || m.MaxEntries != n.MaxEntries || m.Flags != n.Flags {
			t.Errorf("kernel map %s: %+v, decoded %+v", name, m, n)
		}
	}
	if len(a.Spec.Programs) != len(b.Spec.Programs) {
		t.Errorf("%d programs, decoded %d", len(a.Spec.Programs), len(b.Spec.Programs))
	}
	for name, ps := range a.Spec.Programs {
		qs := b.Spec.Programs[name]
		if qs == nil {
			t.Errorf("program %s lost", name)
			continue
		}
		if ps.Name != qs.Name || ps.Type != qs.Type || ps.AttachType != qs.AttachType || ps.AttachTo != qs.AttachTo || ps.License != qs.License {
			t.Errorf("program %s: %v %v %q %q, decoded %v %v %q %q", name, ps.Type, ps.AttachType, ps.AttachTo, ps.License, qs.Type, qs.AttachType, qs.AttachTo, qs.License)
		}
		sameInstructions(t, name, ps.Instructions, qs.Instructions)
	}
	if len(a.Probes) != len(b.Probes) {
		t.Fatalf("%d probes, decoded %d", len(a.Probes), len(b.Probes))
	}
	for i, pa := range a.Probes {
		pb := b.Probes[i]
		ia, ib := pa.Instance, pb.Instance
		if pa.Program != pb.Program || !reflect.DeepEqual(pa.Target, pb.Target) || !reflect.DeepEqual(pa.Sources, pb.Sources) {
			t.Errorf("probe %d: %s %+v, decoded %s %+v", i, pa.Program, pa.Target, pb.Program, pb.Target)
		}
		if ia.Kind != ib.Kind || ia.Name != ib.Name || ia.Group != ib.Group || ia.Event != ib.Event || ia.Func != ib.Func || ia.Offset != ib.Offset ||
			ia.Binary != ib.Binary || ia.Symbol != ib.Symbol || ia.PerfEvent != ib.PerfEvent || ia.Period != ib.Period || ia.Freq != ib.Freq || ia.OneCPU != ib.OneCPU {
			t.Errorf("probe %d instance: %+v, decoded %+v", i, ia, ib)
		}
		if ia.Probe.Span != ib.Probe.Span || ia.Point.Span != ib.Point.Span || ia.Point.Raw != ib.Point.Raw || ia.Point.Provider != ib.Point.Provider || !slices.Equal(ia.Point.Parts, ib.Point.Parts) {
			t.Errorf("probe %d position: %v %+v, decoded %v %+v", i, ia.Probe.Span, ia.Point, ib.Probe.Span, ib.Point)
		}
	}
	if len(a.Formats) != len(b.Formats) {
		t.Fatalf("%d formats, decoded %d", len(a.Formats), len(b.Formats))
	}
	for i, f := range a.Formats {
		g := b.Formats[i]
		if f.Text != g.Text || len(f.Args) != len(g.Args) {
			t.Errorf("format %d: %q %d args, decoded %q %d", i, f.Text, len(f.Args), g.Text, len(g.Args))
			continue
		}
		for j := range f.Args {
			sameType(t, fmt.Sprintf("format %d arg %d", i, j), f.Args[j], g.Args[j])
		}
	}
	if len(a.Maps) != len(b.Maps) {
		t.Fatalf("%d maps, decoded %d", len(a.Maps), len(b.Maps))
	}
	for i, m := range a.Maps {
		n := b.Maps[i]
		if m.Name != n.Name || m.BPFName != n.BPFName || m.PerCPU != n.PerCPU || m.Cell != n.Cell {
			t.Errorf("map %d: %+v, decoded %+v", i, m, n)
		}
		sameType(t, m.Name+" key", m.Key, n.Key)
		sameType(t, m.Name+" value", m.Value, n.Value)
	}
	if len(a.Values) != len(b.Values) {
		t.Fatalf("%d printed values, decoded %d", len(a.Values), len(b.Values))
	}
	for i := range a.Values {
		sameType(t, fmt.Sprintf("value %d", i), a.Values[i], b.Values[i])
	}
	if !reflect.DeepEqual(a.HelperErrors, b.HelperErrors) {
		t.Errorf("helper errors %+v, decoded %+v", a.HelperErrors, b.HelperErrors)
	}
}

func sameInstructions(t *testing.T, name string, a, b asm.Instructions) {
	t.Helper()
	if len(a) != len(b) {
		t.Errorf("program %s: %d instructions, decoded %d", name, len(a), len(b))
		return
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.OpCode != y.OpCode || x.Dst != y.Dst || x.Src != y.Src || x.Offset != y.Offset || x.Constant != y.Constant ||
			x.Symbol() != y.Symbol() || x.Reference() != y.Reference() {
			t.Errorf("program %s instruction %d: %v (%q -> %q), decoded %v (%q -> %q)", name, i, x, x.Symbol(), x.Reference(), y, y.Symbol(), y.Reference())
		}
		rx, ry := codegen.RelocOf(&x), codegen.RelocOf(&y)
		if (rx == nil) != (ry == nil) || rx != nil && (ctypes.TypeName(rx.Root) != ctypes.TypeName(ry.Root) || !slices.Equal(rx.Path, ry.Path) || rx.Local != ry.Local) {
			t.Errorf("program %s instruction %d: relocation %+v, decoded %+v", name, i, rx, ry)
		}
		fx, fy := btf.FuncMetadata(&x), btf.FuncMetadata(&y)
		if (fx == nil) != (fy == nil) || fx != nil && (fx.Name != fy.Name || fx.Linkage != fy.Linkage || fmt.Sprint(fx.Type) != fmt.Sprint(fy.Type)) {
			t.Errorf("program %s instruction %d: function %v, decoded %v", name, i, fx, fy)
		}
	}
}

// sameType compares two types field by field; C types are compared by
// their layout, and not at all behind a pointer (see the format's
// documentation: a pointer prints as an address).
func sameType(t *testing.T, what string, a, b *ast.Type) {
	t.Helper()
	if got, want := describeType(b, false), describeType(a, false); got != want {
		t.Errorf("%s: type %s, decoded %s", what, want, got)
	}
}

func describeType(t *ast.Type, underPtr bool) string {
	if t == nil {
		return "nil"
	}
	s := fmt.Sprintf("{%d %d %v %d %v %q %d %d %d %v", t.Kind, t.Size, t.Signed, t.Len, t.User, t.Name, t.Min, t.Max, t.Step, t.Cast)
	for _, e := range t.Elems {
		s += " " + describeType(e, underPtr)
	}
	if t.Elem != nil {
		s += " elem " + describeType(t.Elem, underPtr || t.Kind == ast.KindPtr)
	}
	if t.BTF != nil && !underPtr {
		s += " btf " + describeBTF(t.BTF, 0)
	}
	return s + "}"
}

func describeBTF(t btf.Type, depth int) string {
	if depth > 8 {
		return "..."
	}
	var ms []btf.Member
	switch v := btf.UnderlyingType(t).(type) {
	case *btf.Struct:
		ms = v.Members
	case *btf.Union:
		ms = v.Members
	case *btf.Pointer:
		return "*"
	default:
		return ctypes.TypeName(t)
	}
	parts := []string{ctypes.TypeName(t)}
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%s@%d:%d=%s", m.Name, m.Offset, m.BitfieldSize, describeBTF(m.Type, depth+1)))
	}
	return "(" + strings.Join(parts, " ") + ")"
}

// relocConstants lists the offsets of the relocated instructions.
func relocConstants(p *codegen.Program) []int64 {
	var out []int64
	for _, name := range slices.Sorted(maps.Keys(p.Spec.Programs)) {
		for _, ins := range p.Spec.Programs[name].Instructions {
			if codegen.RelocOf(&ins) != nil {
				out = append(out, ins.Constant)
			}
		}
	}
	return out
}

// targetBTF builds a "kernel" whose task_struct has other offsets: pid
// at 100, and se (a sched_entity with on_rq at 12) at 200.
func targetBTF(t *testing.T) *btf.Spec {
	t.Helper()
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	i32 := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	se := &btf.Struct{Name: "sched_entity", Size: 64, Members: []btf.Member{{Name: "on_rq", Type: u32, Offset: 12 * 8}}}
	task := &btf.Struct{Name: "task_struct", Size: 512, Members: []btf.Member{{Name: "pid", Type: i32, Offset: 100 * 8}, {Name: "se", Type: se, Offset: 200 * 8}}}
	return specOf(t, task)
}

func specOf(t *testing.T, types ...btf.Type) *btf.Spec {
	t.Helper()
	b, err := btf.NewBuilder(types, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// A decoded program keeps its CO-RE relocations: loaded on another
// kernel, its field offsets follow that kernel's BTF.
func TestDecodedProgramRelocates(t *testing.T) {
	p := build(t, script{name: "co-re", src: `BEGIN { printf("%d %d\n", curtask->pid, curtask->se.on_rq); exit(); }`, needs: "btf"})
	local := relocConstants(p.Code)
	if len(local) != 3 {
		t.Fatalf("%d relocated instructions (%v), want 3: pid, se, se.on_rq", len(local), local)
	}
	q, err := compiled.Decode(encode(t, p))
	if err != nil {
		t.Fatal(err)
	}
	if got := relocConstants(q.Code); !slices.Equal(got, local) {
		t.Fatalf("decoded offsets %v, compiled %v", got, local)
	}
	if err := q.Code.Relocate(targetBTF(t)); err != nil {
		t.Fatal(err)
	}
	if got := relocConstants(q.Code); !slices.Equal(got, []int64{100, 200, 12}) {
		t.Errorf("relocated offsets %v, want [100 200 12]", got)
	}
	// A kernel without the field is refused by name.
	q, err = compiled.Decode(encode(t, build(t, script{name: "tgid", src: `BEGIN { printf("%d\n", curtask->tgid); exit(); }`, needs: "btf"})))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Code.Relocate(targetBTF(t)); err == nil || !strings.Contains(err.Error(), `task_struct has no field "tgid"`) {
		t.Errorf("relocating a missing field: %v", err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	good := encode(t, build(t, scripts[0]))
	withVersion := func(v uint32) []byte {
		b := slices.Clone(good)
		binary.LittleEndian.PutUint32(b[len(compiled.Magic):], v)
		return b
	}
	doc := good[compiled.HeaderSize:]
	header := good[:compiled.HeaderSize]
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a compiled waggle program"},
		{"script", []byte("BEGIN { exit(); }"), "not a compiled waggle program"},
		{"elf", []byte("\x7fELF\x02\x01\x01"), "not a compiled waggle program"},
		{"header cut", good[:10], "ends inside its header"},
		{"newer", withVersion(2), "format version 2 is newer than this waggle reads (version 1)"},
		{"older", withVersion(0), "format version 0 is not one this waggle reads"},
		{"no document", header, "damaged"},
		{"cut", good[:len(good)/2], "damaged"},
		{"trailing", append(slices.Clone(good), []byte(`{"file": ""}`)...), "data follows its document"},
		{"unknown field", append(slices.Clone(header), []byte(`{"file": "x", "surprise": 1}`)...), `unknown field "surprise"`},
		{"bad kind", bytes.Replace(good, []byte(`"kind":"BEGIN"`), []byte(`"kind":"nonsense"`), 1), `unknown probe kind "nonsense"`},
		{"lost program", bytes.Replace(good, []byte(`"program":"p0_BEGIN"`), []byte(`"program":"p9"`), 1), `runs program "p9", which the file lacks`},
		{"odd code", bytes.Replace(good, []byte(`"code":"`), []byte(`"code":"AAAA`), 1), "not a whole number of instructions"},
		{"far position", bytes.Replace(good, []byte(`"at":[0,1,1,`), []byte(`"at":[0,1,99999999,`), 1), "is outside the"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := compiled.Decode(c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	_, err := compiled.Decode(withVersion(7))
	var ve *compiled.VersionError
	if !errors.As(err, &ve) || ve.Version != 7 {
		t.Errorf("a newer version is not a VersionError: %v", err)
	}
	if _, err := compiled.Decode(nil); !errors.Is(err, compiled.ErrNotCompiled) {
		t.Errorf("empty input: %v, want ErrNotCompiled", err)
	}
	if !bytes.Contains(doc, []byte(`"kind":"BEGIN"`)) {
		t.Fatalf("the cases above edit text the document no longer has:\n%s", doc)
	}
}

// Script text that is not UTF-8 survives, and UTF-8 text stays readable.
func TestNonUTF8Text(t *testing.T) {
	p := build(t, scripts[5])
	data := encode(t, p)
	if !bytes.Contains(data, []byte(`{"base64":`)) {
		t.Errorf("no base64 text in %s", data[compiled.HeaderSize:])
	}
	if !bytes.Contains(data, []byte(`"file":"test.bt"`)) {
		t.Errorf("the file name is not plain text in %s", data[compiled.HeaderSize:])
	}
	q, err := compiled.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if q.Code.Formats[0].Text != "\xff\xfe %s\n" || !bytes.Equal(q.Source, p.Source) {
		t.Errorf("format %q, source %q", q.Code.Formats[0].Text, q.Source)
	}
}

// A struct printed whole is stored with what it holds by value only:
// pointers in it point to void, not to the kernel's type graph.
func TestPrintedRecordsStayed(t *testing.T) {
	p := build(t, script{name: "big", src: `BEGIN { print(curtask->fs->pwd); print(curtask->se.load); exit(); }`, needs: "btf"})
	data := encode(t, p)
	if len(data) > 64<<10 {
		t.Errorf("compiled program of %d bytes: the C types were not cut at pointers", len(data))
	}
	q, err := compiled.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Code.Values {
		sameType(t, fmt.Sprintf("value %d", i), p.Code.Values[i], q.Code.Values[i])
	}
}

func TestCollect(t *testing.T) {
	p := build(t, scripts[13]) // kernel facts
	a := p.Assumes
	if len(a.Enums) != 1 || a.Enums[0].Name != "BPF_MAP_TYPE_HASH" || a.Enums[0].Value != 1 {
		t.Errorf("enums %+v, want BPF_MAP_TYPE_HASH = 1", a.Enums)
	}
	var names []string
	for _, s := range a.Sizes {
		names = append(names, fmt.Sprintf("%s%v", s.Type, s.Path))
	}
	sort.Strings(names)
	if !slices.Equal(names, []string{"struct task_struct[]", "struct task_struct[pid]"}) {
		t.Errorf("sizes %v", names)
	}
	if a.NCPUs == 0 {
		t.Errorf("ncpus is used but no CPU count is assumed")
	}
	if p := build(t, scripts[0]); p.Assumes.NCPUs != 0 || len(p.Assumes.Enums)+len(p.Assumes.Sizes)+len(p.Assumes.Records)+len(p.Assumes.Tracepoints) != 0 {
		t.Errorf("a script that needs nothing of the kernel assumes %+v", p.Assumes)
	}
	r := build(t, scripts[12]).Assumes.Records // record
	if len(r) != 1 || r[0].Type != "struct load_weight" || len(r[0].Members) < 2 {
		t.Errorf("records %+v, want struct load_weight", r)
	}
	tp := build(t, scripts[14]).Assumes.Tracepoints
	if len(tp) != 2 || tp[0].Event != "sys_enter_openat" || len(tp[0].Fields) != 2 || tp[0].Fields[0].Name != "filename" || tp[0].Fields[1].Name != "flags" ||
		tp[1].Event != "sched_switch" || len(tp[1].Fields) != 1 || tp[1].Fields[0].Name != "prev_comm" {
		t.Errorf("tracepoints %+v", tp)
	}
}

// TestWriteFuzzSeeds rewrites the seeds of FuzzDecode, one compiled
// program per script above, when WAGGLE_WRITE_SEEDS is set.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("WAGGLE_WRITE_SEEDS") == "" {
		t.Skip("set WAGGLE_WRITE_SEEDS=1 to rewrite testdata/fuzz/FuzzDecode")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range scripts {
		data := encode(t, build(t, s))
		name := strings.ReplaceAll(s.name, " ", "_")
		if err := os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
