package driver

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/internal/kerneltest"
	"github.com/wagglebpf/waggle/lang/codegen"
	"github.com/wagglebpf/waggle/lang/compiled"
)

// Scripts modelled on bpftrace's tools that use only what the compiler
// supports today: each must compile and pass the kernel verifier.
var loadable = []string{
	"bashreadline.bt", "biolatency.bt", "biosnoop.bt", "bitesize.bt", "capable.bt", "cpuwalk.bt",
	"execsnoop.bt", "gethostlatency.bt", "killsnoop.bt", "loops.bt", "mdflush.bt", "naptime.bt",
	"oomkill.bt", "opensnoop.bt", "pidpersec.bt", "runqlat.bt", "runqlen.bt", "setuids.bt",
	"statsnoop.bt", "structs.bt", "swapin.bt", "syncsnoop.bt", "syscount.bt", "syslatency.bt",
	"tcpaccept.bt", "tcpconnect.bt", "tcplife.bt", "tcpretrans.bt", "threadsnoop.bt", "vfscount.bt", "vfsstat.bt",
	"writeback.bt", "xfsdist.bt",
}

// The others cannot compile here, for reasons of this machine; they must
// fail with a message that says why.
var notYet = map[string]string{
	// dcsnoop probes functions this kernel does not have.
	"dcsnoop.bt": "no kernel function matches",
	// This kernel's /proc/kallsyms lists no data symbols
	// (CONFIG_KALLSYMS_ALL is off), so kaddr("avenrun") cannot resolve.
	"loads.bt": "Failed to resolve kernel symbol: avenrun",
}

func TestToolScriptsLoad(t *testing.T) {
	kerneltest.Require(t)
	if _, err := attach.EnsureTracefs(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "parser", "testdata", "scripts")
	files, err := filepath.Glob(filepath.Join(dir, "*.bt"))
	if err != nil || len(files) != len(loadable)+len(notYet) {
		t.Fatalf("%d scripts in %s, the test knows %d: keep the lists in step", len(files), dir, len(loadable)+len(notYet))
	}
	for _, name := range loadable {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			p, err := Build(name, src, Args{})
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if _, err := Run(context.Background(), p, Options{DryRun: true, Stdout: io.Discard, Stderr: io.Discard}); err != nil {
				t.Fatalf("load: %v", err)
			}
		})
	}
	for name, want := range notYet {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Compile(name, src, nil, 0)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("want a compile error containing %q, got %v", want, err)
			}
		})
	}
}

func TestVerifierRejectionNamesTheLine(t *testing.T) {
	kerneltest.Require(t)
	src := []byte("BEGIN {\n  $i = 0;\n  while ($i < 1000000) { @[$i] = 1; $i++; }\n  exit();\n}\n")
	p, err := Build("loop.bt", src, Args{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), p, Options{DryRun: true, Stdout: io.Discard, Stderr: io.Discard})
	if err == nil {
		t.Fatal("a million-iteration loop passed the verifier")
	}
	msg := err.Error()
	for _, want := range []string{"loop.bt:3:", "the kernel verifier rejected probe BEGIN", "  while ($i < 1000000) { @[$i] = 1; $i++; }", "^"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

// Kernels before 5.8 have no ring buffer: records then go through perf
// buffers. This kernel has both, so the fallback is forced here.
func TestPerfBufferFallback(t *testing.T) {
	kerneltest.Require(t)
	src := []byte(`BEGIN { printf("via perf %d %s\n", 42, "buffers"); @x = 1; exit(7); } END { printf("end\n"); }`)
	p, err := compile("perf.bt", src, Args{}, codegen.Options{PerfEvents: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if typ := p.Spec.Maps["events"].Type.String(); typ != "PerfEventArray" {
		t.Fatalf("events map is a %s", typ)
	}
	var out strings.Builder
	code, err := Run(context.Background(), &compiled.Program{Code: p, File: "perf.bt", Source: src}, Options{Stdout: &out, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if code != 7 {
		t.Errorf("exit code %d, want 7", code)
	}
	if want := "via perf 42 buffers\nend\n\n\n@x: 1\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
}
