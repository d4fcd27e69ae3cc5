package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wagglebpf/waggle/agent/agentpb"
)

// startAgentProcess runs `waggle agent` on a Unix socket in a fresh
// directory and returns its address and its log.
func startAgentProcess(t *testing.T, args ...string) (addr string, cmd *exec.Cmd, log *syncBuffer) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	addr = "unix://" + sock
	log = newSyncBuffer()
	cmd = exec.Command(waggleBin, append([]string{"agent", "--listen", addr}, args...)...)
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			return addr, cmd, log
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not listen within 20s:\n%s", log)
		}
	}
}

func TestAgentCommand(t *testing.T) {
	requireKernel(t)
	addr, agentCmd, log := startAgentProcess(t)

	r := waggle(t, "agent", "info", "--remote", addr)
	if r.code != 0 || !regexp.MustCompile(`(?m)^kernel +\S+ (x86_64|aarch64)$`).MatchString(r.stdout) || !strings.Contains(r.stdout, "runs         elf") {
		t.Errorf("agent info:\n%s", r)
	}
	if r := waggle(t, "agent", "info", "-o", "json", "--remote", addr); r.code != 0 || !strings.Contains(r.stdout, `"kernelRelease":`) {
		t.Errorf("agent info -o json:\n%s", r)
	}

	// The kernel's BTF, byte for byte.
	btfFile := filepath.Join(t.TempDir(), "vmlinux.btf")
	if r := waggle(t, "agent", "btf", "-o", btfFile, "--remote", addr); r.code != 0 {
		t.Errorf("agent btf:\n%s", r)
	}
	got, _ := os.ReadFile(btfFile)
	want, _ := os.ReadFile("/sys/kernel/btf/vmlinux")
	if len(want) == 0 || !bytes.Equal(got, want) {
		t.Errorf("agent btf wrote %d bytes, not the kernel's %d", len(got), len(want))
	}

	// A remote run prints what the local one prints, with its status.
	rf := &remoteFlags{remote: addr}
	prog, err := os.ReadFile(fixture("iter.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := runRemote(context.Background(), rf, &agentpb.Start{Program: prog, Name: fixture("iter.bpf.o")}, &stdout, &stderr); err != nil {
		t.Fatalf("remote run: %v\n%s", err, stderr.String())
	}
	local := waggle(t, "run", fixture("iter.bpf.o"))
	// The iterator walks every task, this test's own process included.
	firstTask := regexp.MustCompile(`(?m)^` + strconv.Itoa(os.Getpid()) + ` \S+$`)
	if stderr.String() != local.stderr || !firstTask.MatchString(stdout.String()) || !firstTask.MatchString(local.stdout) {
		t.Errorf("remote run:\n%s%s\nlocal:\n%s", stdout.String(), stderr.String(), local)
	}
	stderr.Reset()
	start := &agentpb.Start{Program: prog, Name: fixture("iter.bpf.o"), Options: &agentpb.RunOptions{Object: &agentpb.ObjectOptions{Set: []string{"nope=1"}}}}
	err = runRemote(context.Background(), rf, start, &stdout, &stderr)
	local = waggle(t, "run", fixture("iter.bpf.o"), "--set", "nope=1")
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != local.code || "waggle: "+ee.Error()+"\n" != local.stderr {
		t.Errorf("remote error %v, local:\n%s", err, local)
	}

	// A detached session is listed, then stopped.
	prog, _ = os.ReadFile(fixture("openat.bpf.o"))
	stderr.Reset()
	if err := runRemote(context.Background(), rf, &agentpb.Start{Program: prog, Name: "openat.bpf.o", Detach: true}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`session (\d+) runs detached on `).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("detached run said %q", stderr.String())
	}
	var list result
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if list = waggle(t, "agent", "sessions", "--remote", addr); strings.Contains(list.stdout, "detached") {
			break
		}
	}
	if !regexp.MustCompile(`(?m)^` + m[1] + ` +openat\.bpf\.o +elf +\S+ \S+ +detached +uid=0\(root\) pid=\d+$`).MatchString(list.stdout) {
		t.Errorf("agent sessions:\n%s", list)
	}
	// Its maps are readable once it is loaded (empty: nothing opened a
	// file yet, or counts).
	var maps result
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if maps = waggle(t, "agent", "maps", m[1], "--remote", addr); maps.code == 0 {
			break
		}
	}
	if maps.code != 0 || maps.stderr != "" {
		t.Errorf("agent maps:\n%s", maps)
	}
	if r := waggle(t, "agent", "stop", m[1], "--remote", addr); r.code != 0 || !strings.Contains(r.stdout, "Attached 1 program") {
		t.Errorf("agent stop:\n%s", r)
	}
	if r := waggle(t, "agent", "stop", m[1], "--remote", addr); r.code != 1 || !strings.Contains(r.stderr, "no session "+m[1]+" is running") {
		t.Errorf("stopping it again:\n%s", r)
	}

	// SIGTERM: a clean exit, every load logged with its client.
	agentCmd.Process.Signal(syscall.SIGTERM)
	if err := agentCmd.Wait(); err != nil {
		t.Errorf("the agent exited with %v after SIGTERM:\n%s", err, log)
	}
	if n := strings.Count(log.String(), "msg=load"); n != 3 || !strings.Contains(log.String(), `client="uid=0(root) pid=`+strconv.Itoa(os.Getpid())) {
		t.Errorf("%d loads logged, want 3 with this process as the client:\n%s", n, log)
	}
}

func TestAgentCommandRefusesUnsafeSetups(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"agent", "--listen", "tcp://0.0.0.0:7070"}, "waggle: tcp://0.0.0.0:7070: TCP needs mutual TLS (--tls-cert, --tls-key, --client-ca)"},
		{[]string{"agent", "--listen", "tcp://0.0.0.0:7070", "--insecure-loopback"}, "only on a loopback address"},
		{[]string{"agent", "--listen", "unix:///tmp/waggle-agent.sock"}, "the socket's directory /tmp is writable by other users"},
		{[]string{"agent", "--tls-cert", "x.pem"}, "mutual TLS needs --tls-cert, --tls-key and --client-ca together"},
		{[]string{"agent", "--max-program-size", "2G"}, "--max-program-size 2G: expected a size from 1 byte to 1G"},
		{[]string{"agent", "info", "--remote", "tcp://192.0.2.1:7070"}, "TCP needs mutual TLS (--tls-cert, --tls-key, --ca)"},
		{[]string{"agent", "stop", "x"}, `"x" is not a session ID`},
	} {
		r := waggle(t, tc.args...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("waggle %v:\n%s\nwant exit 1 and %q", tc.args, r, tc.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "4096": 4096, "16M": 16 << 20, "16MiB": 16 << 20, "512k": 512 << 10, "1G": 1 << 30, "2MB": 2 << 20} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "1.5M", "2G", "M", "16X"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted it", in)
		}
	}
}

// TestDeployFilesUseRealFlags parses the command lines of the systemd unit
// and the DaemonSet with the agent's own flags, and checks that both grant
// the same capabilities.
func TestDeployFilesUseRealFlags(t *testing.T) {
	unit, err := os.ReadFile("../../deploy/systemd/waggle-agent.service")
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile("../../deploy/kubernetes/waggle-agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	execStart := regexp.MustCompile(`(?m)^ExecStart=(?:[^\\\n]*\\\n)*[^\n]*$`).Find(unit)
	if execStart == nil {
		t.Fatal("no ExecStart in the unit")
	}
	unitArgs := strings.Fields(strings.ReplaceAll(strings.TrimPrefix(string(execStart), "ExecStart="), "\\\n", " "))
	var podArgs []string
	args := regexp.MustCompile(`(?s)args:\n((?:\s+- [^\n]+\n)+)`).FindSubmatch(manifest)
	if args == nil {
		t.Fatal("no args in the manifest")
	}
	for _, line := range strings.Split(strings.TrimSpace(string(args[1])), "\n") {
		podArgs = append(podArgs, strings.TrimPrefix(strings.TrimSpace(line), "- "))
	}
	for name, argv := range map[string][]string{"systemd": unitArgs[1:], "kubernetes": podArgs} {
		if len(argv) == 0 || argv[0] != "agent" {
			t.Errorf("%s: the command is %v, not waggle agent", name, argv)
			continue
		}
		if err := newAgentCommand().ParseFlags(argv[1:]); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	bounding := regexp.MustCompile(`(?m)^CapabilityBoundingSet=(.*)$`).FindSubmatch(unit)
	added := regexp.MustCompile(`add: \[(.*)\]`).FindSubmatch(manifest)
	if bounding == nil || added == nil {
		t.Fatal("capabilities not found")
	}
	var unitCaps, podCaps []string
	for _, c := range strings.Fields(string(bounding[1])) {
		unitCaps = append(unitCaps, strings.TrimPrefix(c, "CAP_"))
	}
	for _, c := range strings.Split(string(added[1]), ",") {
		podCaps = append(podCaps, strings.Trim(c, `" `))
	}
	if strings.Join(unitCaps, " ") != strings.Join(podCaps, " ") {
		t.Errorf("the unit grants %v, the DaemonSet %v", unitCaps, podCaps)
	}
}
