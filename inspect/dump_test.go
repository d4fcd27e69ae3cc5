package inspect

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/internal/kerneltest"
	"github.com/wagglebpf/waggle/internal/nativedisasm"
)

func TestDumpXlatedWithSource(t *testing.T) {
	kerneltest.Require(t)
	f := loadTracing(t)
	d, err := DumpXlated(f.openat)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != f.openat || d.Name != "trace_openat" || d.Type != "tracepoint" || len(d.Tag) != 16 {
		t.Errorf("header %+v", d.ProgHeader)
	}
	progs, err := Programs(ProgSelector{ID: f.openat})
	if err != nil {
		t.Fatal(err)
	}
	slots := 0
	var sources, calls, mapLoads int
	for _, in := range d.Insns {
		if in.PC != slots {
			t.Errorf("instruction at pc %d, want %d", in.PC, slots)
		}
		slots += len(in.Bytes) / 8
		if in.Bytes[0] != in.Opcode {
			t.Errorf("pc %d: opcode %#x but bytes %x", in.PC, in.Opcode, in.Bytes)
		}
		if in.Source != nil {
			sources++
			if !strings.HasSuffix(in.Source.File, "openat.bpf.c") {
				t.Errorf("pc %d: source file %q", in.PC, in.Source.File)
			}
		}
		if strings.HasPrefix(in.Text, "call bpf_get_current_pid_tgid") {
			calls++
		}
		if strings.Contains(in.Text, "= map[id:") {
			mapLoads++
		}
	}
	if slots != progs[0].Insns {
		t.Errorf("dump has %d instruction slots, the program %d", slots, progs[0].Insns)
	}
	if d.Insns[0].Func != "int trace_openat(struct trace_event_raw_sys_enter *ctx)" {
		t.Errorf("first function %q", d.Insns[0].Func)
	}
	if sources < 5 || mapLoads == 0 {
		t.Errorf("%d instructions with source lines, %d map loads", sources, mapLoads)
	}
	// Helper calls are named through kallsyms, when it shows addresses.
	if loadKernelSyms().k != nil && calls != 1 {
		t.Errorf("%d calls to bpf_get_current_pid_tgid named", calls)
	}
}

func TestDumpJited(t *testing.T) {
	kerneltest.Require(t)
	if _, ok := nativedisasm.Arch(runtime.GOARCH); !ok {
		t.Skipf("no disassembler for %s", runtime.GOARCH)
	}
	f := loadTracing(t)
	d, err := DumpJited(f.openat)
	if err != nil {
		t.Fatal(err)
	}
	progs, err := Programs(ProgSelector{ID: f.openat})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Funcs) != 1 || d.Funcs[0].Name != "trace_openat" || d.Funcs[0].Addr == 0 {
		t.Fatalf("functions %+v", d.Funcs)
	}
	n, sources, named := 0, 0, 0
	for _, in := range d.Funcs[0].Insns {
		if in.Offset != n || in.Addr != d.Funcs[0].Addr+uint64(n) {
			t.Errorf("instruction at %#x, want offset %#x", in.Offset, n)
		}
		n += len(in.Bytes)
		if in.Source != nil {
			sources++
		}
		if strings.Contains(in.Text, "<bpf_get_current_pid_tgid>") {
			named++
		}
		if strings.HasPrefix(in.Text, ".byte") {
			t.Errorf("undecoded code at %#x: %x", in.Offset, in.Bytes)
		}
	}
	if uint32(n) != progs[0].JitedBytes {
		t.Errorf("disassembled %d bytes of %d", n, progs[0].JitedBytes)
	}
	if sources < 5 {
		t.Errorf("only %d instructions carry source lines", sources)
	}
	if loadKernelSyms().k != nil && named == 0 {
		t.Error("no call names bpf_get_current_pid_tgid")
	}
}

func TestDumpMissing(t *testing.T) {
	kerneltest.Require(t)
	if _, err := DumpXlated(0xfffffff0); !errors.Is(err, ErrNoProgram) {
		t.Errorf("xlated: %v", err)
	}
	if _, err := DumpJited(0xfffffff0); !errors.Is(err, ErrNoProgram) && runtime.GOARCH == "amd64" {
		t.Errorf("jited: %v", err)
	}
}

func TestFuncPrototype(t *testing.T) {
	u32 := &btf.Int{Name: "u32", Size: 4}
	ctx := &btf.Pointer{Target: &btf.Struct{Name: "xdp_md"}}
	for _, c := range []struct {
		f    *btf.Func
		want string
	}{
		{&btf.Func{Name: "f", Type: &btf.FuncProto{Return: &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed},
			Params: []btf.FuncParam{{Name: "ctx", Type: ctx}}}}, "int f(struct xdp_md *ctx)"},
		{&btf.Func{Name: "g", Type: &btf.FuncProto{Return: &btf.Pointer{Target: &btf.Void{}},
			Params: []btf.FuncParam{{Name: "p", Type: &btf.Pointer{Target: &btf.Const{Type: u32}}}, {Name: "", Type: u32}}}}, "void *g(const u32 *p, u32)"},
		{&btf.Func{Name: "h", Type: &btf.FuncProto{}}, "void h(void)"},
	} {
		if got := funcPrototype(c.f); got != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
}

func TestProfile(t *testing.T) {
	kerneltest.Require(t)
	p := loadProg(t, "wgl_profile", ebpf.SocketFilter, ebpf.AttachNone, 0)
	id := progID(t, p)
	// Run it while the profile holds statistics on, 100 runs at a time
	// (BPF_PROG_TEST_RUN counts as runs), and not before or after.
	stop, ran := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ran)
		for {
			select {
			case <-stop:
				return
			default:
				p.Benchmark(make([]byte, 64), 100, nil)
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	st, err := Profile(context.Background(), ProgSelector{ID: id}, 300*time.Millisecond)
	close(stop)
	<-ran
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].ID != id || st[0].Name != "wgl_profile" || st[0].Type != "socket_filter" {
		t.Fatalf("profile: %+v", st)
	}
	if st[0].RunCount < 100 || st[0].RunTimeNs == 0 || st[0].MeanNs != st[0].RunTimeNs/st[0].RunCount || st[0].Seconds < 0.25 {
		t.Errorf("profile: %+v", st[0])
	}
}

func TestStatsSysctl(t *testing.T) {
	kerneltest.Require(t)
	was := StatsEnabled()
	t.Cleanup(func() { SetStatsEnabled(was) })
	if err := SetStatsEnabled(true); err != nil {
		t.Fatal(err)
	}
	if !StatsEnabled() {
		t.Fatal("kernel.bpf_stats_enabled reads 0 after switching it on")
	}
	p := loadProg(t, "wgl_sysctl", ebpf.SocketFilter, ebpf.AttachNone, 0)
	if _, _, err := p.Benchmark(make([]byte, 64), 100, nil); err != nil {
		t.Fatal(err)
	}
	st, err := ReadRunStats(ProgSelector{ID: progID(t, p)})
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].RunCount < 100 || st[0].Seconds != 0 {
		t.Errorf("counters since statistics went on: %+v", st)
	}
	ps, err := Programs(ProgSelector{ID: progID(t, p)})
	if err != nil || len(ps) != 1 || ps[0].RunCount != st[0].RunCount || ps[0].MeanRunTime() == 0 {
		t.Errorf("prog list's run statistics: %+v %v", ps, err)
	}
	if err := SetStatsEnabled(false); err != nil || StatsEnabled() {
		t.Errorf("switching statistics off: %v", err)
	}
}
