package cheader

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/internal/kerneltest"
)

const vmlinuxPath = "/sys/kernel/btf/vmlinux"

func loadVmlinux(t *testing.T) *BTF {
	t.Helper()
	if _, err := os.Stat(vmlinuxPath); err != nil {
		kerneltest.Skip(t, "the kernel exposes no BTF: "+err.Error())
	}
	b, err := Load(vmlinuxPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var dupSuffixRE = regexp.MustCompile(`___[0-9]+\b`)

// definitionSet is the multiset of a header's top-level definitions, by
// kind and name (the first line) and with their whole text, for comparing
// headers whose order differs: forward declarations (which depend on the
// order) are left out, and so are the ___N suffixes of clashing names
// (which go to whichever definition comes second).
func definitionSet(h string) map[string]int {
	set := map[string]int{}
	for _, chunk := range strings.Split(h, "\n\n") {
		chunk = strings.TrimSpace(chunk)
		if chunk == "" || strings.HasPrefix(chunk, "#") || strings.HasPrefix(chunk, "/*") {
			continue
		}
		if !strings.Contains(chunk, "\n") && !strings.HasPrefix(chunk, "typedef") && strings.HasSuffix(chunk, ";") {
			continue // struct foo;
		}
		set[dupSuffixRE.ReplaceAllString(chunk, "")]++
	}
	return set
}

func firstLine(s string) string { return strings.SplitN(s, "\n", 2)[0] }

// TestVmlinuxAgainstBpftool dumps this machine's kernel BTF and compares
// it with bpftool's dump of it: in ID order the same text (apart from what
// newer bpftools add), sorted the same set of definitions, and the same
// raw listing.
func TestVmlinuxAgainstBpftool(t *testing.T) {
	bpftool := needTool(t, "bpftool")
	b := loadVmlinux(t)
	want := bpftoolC(t, bpftool, vmlinuxPath)

	unsorted := renderC(t, b, Options{Unsorted: true})
	if w, g := normalizeForBpftool(want, unsorted), normalizeForBpftool(unsorted, want); w != g {
		t.Errorf("header in ID order differs from bpftool's:\n%s", lineDiff(w, g))
	}

	wantSet := definitionSet(want)
	gotSet := definitionSet(normalizeForBpftool(renderC(t, b, Options{}), want))
	var missing, extra []string
	for d, n := range wantSet {
		if gotSet[d] < n {
			missing = append(missing, firstLine(d))
		}
	}
	for d, n := range gotSet {
		if wantSet[d] < n {
			extra = append(extra, firstLine(d))
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra) > 0 {
		t.Errorf("sorted header: %d of bpftool's definitions missing (first: %.10q), %d not in bpftool's (first: %.10q)",
			len(missing), missing, len(extra), extra)
	}
	if len(wantSet) < 1000 {
		t.Errorf("bpftool's header has only %d definitions", len(wantSet))
	}

	out, err := exec.Command(bpftool, "btf", "dump", "file", vmlinuxPath, "format", "raw").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := renderRaw(t, b, false); got != string(out) {
		t.Errorf("raw listing differs from bpftool's:\n%s", lineDiff(string(out), got))
	}
}

// TestVmlinuxCompiles compiles the header of this machine's kernel with
// clang for the BPF target, with assertions that every struct and union
// has the kernel's size and member offsets, then builds every BPF fixture
// of testdata against it (instead of bpftool's vmlinux.h).
func TestVmlinuxCompiles(t *testing.T) {
	clang := needTool(t, "clang")
	b := loadVmlinux(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vmlinux.h"), []byte(renderC(t, b, Options{})), 0o644); err != nil {
		t.Fatal(err)
	}
	compileBPF(t, clang, dir, "layout.c", "#include \"vmlinux.h\"\n"+layoutAsserts(b, true)+"int use;\n")
	if err := os.WriteFile(filepath.Join(dir, "unsorted.h"), []byte(renderC(t, b, Options{Unsorted: true})), 0o644); err != nil {
		t.Fatal(err)
	}
	compileBPF(t, clang, dir, "unsorted.c", "#include \"unsorted.h\"\n"+layoutAsserts(b, false)+"int use;\n")

	// The fixtures, with their local headers, next to our vmlinux.h so
	// that #include "vmlinux.h" finds it.
	fixtures, _ := filepath.Glob("../../testdata/*.bpf.c")
	headers, _ := filepath.Glob("../../testdata/*.h")
	if len(fixtures) == 0 {
		t.Fatal("no BPF fixtures in testdata")
	}
	for _, h := range headers {
		if filepath.Base(h) == "vmlinux.h" {
			continue
		}
		data, err := os.ReadFile(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(h)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat("/usr/include/bpf/bpf_helpers.h"); err != nil {
		kerneltest.Skip(t, "libbpf's headers are not installed (apt-get install libbpf-dev)")
	}
	for _, f := range fixtures {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			compileBPF(t, clang, dir, filepath.Base(f), string(src), "-D__TARGET_ARCH_"+targetArch())
		})
	}
}

// targetArch is bpf_tracing.h's name for this machine's architecture, as
// testdata/build.sh chooses it.
func targetArch() string {
	switch runtimeArch {
	case "arm64":
		return "arm64"
	case "arm":
		return "arm"
	case "riscv64":
		return "riscv"
	case "s390x":
		return "s390"
	case "ppc64le", "ppc64":
		return "powerpc"
	case "loong64":
		return "loongarch"
	}
	return "x86"
}

var runtimeArch = runtime.GOARCH
