package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/inspect/feature"
)

// TestFeatureCLI runs waggle feature against this kernel: every section in
// text and JSON, and one program type's helpers.
func TestFeatureCLI(t *testing.T) {
	requireKernel(t)
	r := waggle(t, "feature")
	if r.code != 0 {
		t.Fatalf("feature\n%s", r)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 {
			rows[f[0]+" "+f[1]] = strings.Join(f[2:], " ")
		}
	}
	if !strings.HasPrefix(r.stdout, "kernel ") {
		t.Errorf("no kernel line\n%s", r.stdout)
	}
	for _, want := range []string{"program_types xdp", "map_types ringbuf", "system bpf_syscall", "btf load", "attach uprobe", "attach tracepoint", "instructions bounded_loops"} {
		if got := rows[want]; got != "yes" {
			t.Errorf("%s: %q, want yes", want, got)
		}
	}
	if got := rows["instructions isa"]; !strings.HasPrefix(got, "yes v") {
		t.Errorf("isa: %q", got)
	}
	if !attach.KprobesAvailable() {
		if got := rows["attach kprobe"]; !strings.HasPrefix(got, "no ") || !strings.Contains(got, "CONFIG_KPROBES") {
			t.Errorf("attach kprobe on a kernel without kprobes: %q", got)
		}
	}
	if got := rows["helpers xdp"]; !strings.HasPrefix(got, "yes ") || !strings.HasSuffix(got, "helpers") {
		t.Errorf("helpers xdp: %q", got)
	}
	if !strings.Contains(r.stdout, "waggle feature helpers --prog-type TYPE lists the helpers of a program type.") {
		t.Errorf("no hint about listing helpers\n%s", r.stdout)
	}

	r = waggle(t, "feature", "--json")
	if r.code != 0 {
		t.Fatalf("feature --json\n%s", r)
	}
	var rep feature.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if len(rep.ProgramTypes) == 0 || len(rep.MapTypes) == 0 || len(rep.Attach) == 0 || len(rep.Helpers) == 0 || len(rep.Helpers[0].Helpers) < 100 {
		t.Errorf("JSON report lacks sections: %d program types, %d map types, %d attach, %d helper lists",
			len(rep.ProgramTypes), len(rep.MapTypes), len(rep.Attach), len(rep.Helpers))
	}

	r = waggle(t, "feature", "helpers", "--prog-type", "xdp", "-o", "text")
	if r.code != 0 {
		t.Fatalf("feature helpers --prog-type xdp\n%s", r)
	}
	for _, want := range []string{
		"xdp           bpf_xdp_adjust_head ",
		"xdp           bpf_skb_load_bytes ",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("no %q in\n%s", want, r.stdout)
		}
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == "bpf_skb_load_bytes" && strings.Join(f[2:], " ") != "no not allowed in this program type" {
			t.Errorf("bpf_skb_load_bytes in xdp: %q", line)
		}
		if strings.HasPrefix(line, "kprobe") {
			t.Errorf("asked for xdp, got %q", line)
		}
	}
}

func TestFeatureBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"feature", "bogus"}, `waggle: no section "bogus": the sections are system, btf, program_types, map_types, attach, instructions, helpers` + "\n"},
		{[]string{"feature", "--prog-type", "nope"}, `waggle: no program type "nope": the types are socket_filter, kprobe,`},
		{[]string{"feature", "-o", "yaml"}, "waggle: -o yaml: expected text or json\n"},
	} {
		r := waggle(t, c.args...)
		if r.code != 1 || !strings.HasPrefix(r.stderr, c.want) || r.stdout != "" {
			t.Errorf("waggle %v: want %q\n%s", c.args, c.want, r)
		}
	}
}

// TestFeatureWithoutPrivileges: as nobody, probes that need privileges
// are unknown with the reason, and the command still succeeds.
func TestFeatureWithoutPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs as root and drops to nobody")
	}
	os.Chmod(filepath.Dir(waggleBin), 0o755)
	cmd := exec.Command(waggleBin, "feature", "program_types", "system")
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "program_types  xdp") || !strings.Contains(stdout.String(), "unknown  probing needs root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)") {
		t.Errorf("as nobody:\n%s", stdout.String())
	}
}

// TestFeatureText checks the layout of the text form against golden
// files, for a report made up here (a real one depends on the kernel).
func TestFeatureText(t *testing.T) {
	r := &feature.Report{
		Kernel: "6.18.0", Machine: "x86_64",
		System: []feature.Answer{
			{Name: "jit", Status: feature.Yes, Value: "net.core.bpf_jit_enable=1"},
			{Name: "unprivileged_bpf", Status: feature.No, Value: "kernel.unprivileged_bpf_disabled=2", Reason: "only privileged processes may use bpf()"},
		},
		Attach: []feature.Answer{
			{Name: "kprobe", Status: feature.No, Reason: "the kernel has neither the kprobe PMU nor kprobe_events in tracefs: it was built without CONFIG_KPROBES"},
			{Name: "uprobe", Status: feature.Yes},
			{Name: "cgroup", Status: feature.Unknown, Reason: "no cgroup v2 hierarchy is mounted"},
		},
		Helpers: []feature.HelperList{
			{ProgramType: "xdp", Status: feature.Yes, Helpers: []feature.Answer{
				{Name: "bpf_map_lookup_elem", Status: feature.Yes},
				{Name: "bpf_skb_load_bytes", Status: feature.No, Reason: "not allowed in this program type"},
			}},
			{ProgramType: "lirc_mode2", Status: feature.No, Reason: "the program type: the kernel does not know this program type"},
		},
	}
	var b bytes.Buffer
	if err := writeFeatures(&b, r, false); err != nil {
		t.Fatal(err)
	}
	golden(t, "feature.golden", b.String())
	b.Reset()
	r.System, r.Attach = nil, nil
	if err := writeFeatures(&b, r, true); err != nil {
		t.Fatal(err)
	}
	golden(t, "feature_helpers.golden", b.String())
}
