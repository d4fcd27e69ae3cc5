package metrics

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/wagglebpf/waggle/internal/kerneltest"
)

func TestProgramStats(t *testing.T) {
	kerneltest.Require(t)
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "waggle_test", Type: ebpf.SocketFilter, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	src, err := NewProgramSource("programs", []Program{{Program: prog, Name: "a_longer_name_than_the_kernels", Object: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	e := New(Options{Prefix: "p"})
	if err := e.Add(src); err != nil {
		t.Fatal(err)
	}

	stats, err := EnableStats()
	if err != nil {
		t.Fatal(err)
	}
	const runs = 5
	if _, err := prog.Run(&ebpf.RunOptions{Data: make([]byte, 14), Repeat: runs}); err != nil {
		stats.Close()
		t.Fatal(err)
	}
	fams := scrape(t, e)
	stats.Close()
	info, _ := prog.Info()
	id, _ := info.ID()
	labels := "id=" + strconv.Itoa(int(id)) + ",name=a_longer_name_than_the_kernels,object=test,type=SocketFilter"
	if got := value(find(t, fams, "p_program_runs_total", labels)); got != runs {
		t.Errorf("runs %v, want %d", got, runs)
	}
	if got := value(find(t, fams, "p_program_run_seconds_total", labels)); !(got > 0) {
		t.Errorf("run time %v, want more than 0", got)
	}
	if got := value(find(t, fams, "p_bpf_stats_enabled", "")); got != 1 {
		t.Errorf("stats enabled %v while held", got)
	}
	if err := stats.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}

	// Once let go (and unless the sysctl keeps them on), nothing counts.
	if data, _ := os.ReadFile("/proc/sys/kernel/bpf_stats_enabled"); strings.TrimSpace(string(data)) == "0" {
		fams = scrape(t, e)
		if got := value(find(t, fams, "p_bpf_stats_enabled", "")); got != 0 {
			t.Errorf("stats enabled %v after Close", got)
		}
		if fams["p_program_runs_total"] != nil {
			t.Errorf("run counts exported while statistics are off")
		}
	}
}
