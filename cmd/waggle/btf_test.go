package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/wagglebpf/waggle/internal/kerneltest"
)

// TestBTFDumpCLI dumps an object file's BTF in each form, with bpftool's
// words and waggle's flags, and checks the errors users meet.
func TestBTFDumpCLI(t *testing.T) {
	const obj = "../../testdata/maps.bpf.o"
	c := waggle(t, "btf", "dump", "file", obj, "format", "c")
	if c.code != 0 || !strings.Contains(c.stdout, "struct task_key {\n\t__u32 pid;\n\tchar comm[16];\n};") ||
		!strings.HasPrefix(c.stdout, "#ifndef __VMLINUX_H__\n") {
		t.Fatalf("btf dump file %s format c\n%s", obj, c)
	}
	if r := waggle(t, "btf", "dump", obj); r.stdout != c.stdout {
		t.Errorf("a bare FILE with the default format differs from file FILE format c\n%s", r)
	}

	raw := waggle(t, "btf", "dump", obj, "--format", "raw", "--type", "task_key")
	if raw.code != 0 || raw.stdout != "[8] STRUCT 'task_key' size=20 vlen=2\n\t'pid' type_id=9 bits_offset=0\n\t'comm' type_id=12 bits_offset=32\n" {
		t.Errorf("--format raw --type task_key\n%s", raw)
	}
	js := waggle(t, "btf", "dump", obj, "-o", "json")
	var doc struct {
		Types []struct {
			ID   int    `json:"id"`
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"types"`
	}
	if js.code != 0 || json.Unmarshal([]byte(js.stdout), &doc) != nil || len(doc.Types) == 0 || doc.Types[7].Name != "task_key" {
		t.Errorf("-o json\n%s", js)
	}
	one := waggle(t, "btf", "dump", obj, "--type", "task_key")
	if one.code != 0 || strings.Contains(one.stdout, "task_val") || !strings.Contains(one.stdout, "typedef unsigned int __u32;") {
		t.Errorf("--type task_key in C\n%s", one)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"btf", "dump", obj, "--format", "c", "-o", "json"}, "a C header has no JSON form"},
		{[]string{"btf", "dump", obj, "--format", "xml"}, "--format xml: expected c or raw"},
		{[]string{"btf", "dump", obj, "format"}, "format needs a value"},
		{[]string{"btf", "dump", obj, "--type", "no_such_type"}, "--type no_such_type: no type of that name"},
		{[]string{"btf", "dump", obj, "--type", "by_task"}, "--type by_task names a var, which a header does not define"},
		{[]string{"btf", "dump", "/nonexistent.o"}, "cannot read /nonexistent.o: no such file or directory"},
		{[]string{"btf", "dump", "../../testdata/maps.bpf.c"}, "not BTF"},
		{[]string{"btf", "dump", "module", "no_such_module_xyz"}, `no kernel module "no_such_module_xyz" with BTF`},
		{[]string{"btf", "dump", "id", "x"}, `"x" is not a BTF object ID`},
		{[]string{"btf", "dump", "a", "b", "c"}, "SOURCE is FILE, file FILE, N, id N or module NAME"},
		{[]string{"btf", "show", "pid", "3"}, `unexpected "pid"`},
	} {
		r := waggle(t, tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("waggle %s: want one line with %q\n%s", strings.Join(tc.args, " "), tc.want, r)
		}
	}
}

// TestBTFKernelCLI dumps the running kernel's BTF, by default and by ID,
// lists the kernel's BTF objects and compares the header with bpftool's.
func TestBTFKernelCLI(t *testing.T) {
	requireKernel(t)
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		kerneltest.Skip(t, "the kernel exposes no BTF: "+err.Error())
	}
	list := waggle(t, "btf", "list", "-o", "json")
	var vmlinuxID float64
	for _, line := range strings.Split(strings.TrimSpace(list.stdout), "\n") {
		var o map[string]any
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("btf list -o json: %v\n%s", err, list)
		}
		if o["name"] == "vmlinux" && o["kernel"] == true {
			vmlinuxID = o["id"].(float64)
		}
	}
	if list.code != 0 || vmlinuxID == 0 {
		t.Fatalf("no vmlinux in btf list -o json\n%s", list)
	}
	text := waggle(t, "btf", "list")
	if !strings.HasPrefix(text.stdout, "ID ") || !strings.Contains(text.stdout, " vmlinux ") {
		t.Errorf("btf list\n%s", text)
	}
	id := strconv.FormatFloat(vmlinuxID, 'f', 0, 64)
	show := waggle(t, "btf", "show", "id", id)
	if show.code != 0 || !strings.Contains(show.stdout, "vmlinux") || !strings.Contains(show.stdout, "kernel") {
		t.Errorf("btf show id %s\n%s", id, show)
	}
	if r := waggle(t, "btf", "show", "2147483000"); r.code == 0 || !strings.Contains(r.stderr, "no BTF object with ID 2147483000") {
		t.Errorf("btf show of a missing ID\n%s", r)
	}

	def := waggle(t, "btf", "dump")
	byID := waggle(t, "btf", "dump", id)
	if def.code != 0 || byID.stdout != def.stdout || !strings.Contains(def.stdout, "struct task_struct {") {
		t.Fatalf("btf dump and btf dump %s differ or fail\n%.2000s", id, def)
	}
	bpftool, err := exec.LookPath("bpftool")
	if err != nil {
		kerneltest.Skip(t, "bpftool is not installed (apt-get install bpftool)")
	}
	want, err := exec.Command(bpftool, "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "raw").Output()
	if err != nil {
		t.Fatal(err)
	}
	if r := waggle(t, "btf", "dump", "--format", "raw"); r.stdout != string(want) {
		t.Errorf("btf dump --format raw differs from bpftool's listing")
	}
}

// TestBTFUnprivileged runs waggle btf as nobody: the kernel's BTF file is
// readable by all, listing BTF objects is not, and says so in a sentence.
func TestBTFUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run waggle as another user")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		kerneltest.Skip(t, "the kernel exposes no BTF: "+err.Error())
	}
	// A copy of the binary that nobody may run.
	dir, err := os.MkdirTemp("", "waggle-btf-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	data, err := os.ReadFile(waggleBin)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "waggle")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	asNobody := func(args ...string) (string, string, error) {
		cmd := exec.Command(bin, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	out, stderr, err := asNobody("btf", "dump", "--type", "task_struct")
	if err != nil || !strings.Contains(out, "struct task_struct {") {
		t.Errorf("btf dump as nobody: %v\n%s", err, stderr)
	}
	_, stderr, err = asNobody("btf", "list")
	if err == nil || !strings.Contains(stderr, "cannot list the kernel's BTF objects: this needs root or CAP_SYS_ADMIN") ||
		strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("btf list as nobody: %v\n%s", err, stderr)
	}
}
