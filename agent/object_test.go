package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wagglebpf/waggle/agent/agentpb"
	"github.com/wagglebpf/waggle/internal/kerneltest"
	"github.com/wagglebpf/waggle/objectrun"
	"github.com/wagglebpf/waggle/session"
)

var kernelAddr = regexp.MustCompile(`0xffff[0-9a-f]{12}`)

const openatFixture = "../testdata/openat.bpf.o"

// opener is a shell that opens /etc/hostname three times each time it is
// poked: the same process, so the same events, for every run that
// traces it.
type opener struct {
	pid  int
	poke func()
}

func startOpener(t *testing.T, rounds int) *opener {
	t.Helper()
	script := "read x"
	for range rounds {
		script += "; : </etc/hostname; : </etc/hostname; : </etc/hostname; read x"
	}
	cmd := exec.Command("/bin/sh", "-c", script)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return &opener{pid: cmd.Process.Pid, poke: func() { io.WriteString(in, "\n") }}
}

// runTraced runs a program that traces o with run, pokes o once the
// program is attached, and stops the run (Ctrl-C) once three events have
// been printed. during is called while the program runs.
func runTraced(t *testing.T, o *opener, run func(ctx context.Context, stdout, stderr io.Writer) error, during func()) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, &out, &errOut) }()
	waitFor(t, "the program to be attached", func() bool {
		select {
		case err := <-done:
			t.Fatalf("the run ended early: %v\nstderr: %s", err, errOut.String())
		default:
		}
		return strings.Contains(errOut.String(), "Attached 1 program")
	})
	o.poke()
	waitFor(t, "three events", func() bool { return strings.Count(out.String(), "/etc/hostname") == 3 })
	if during != nil {
		during()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\nstderr: %s", err, errOut.String())
	}
	return out.String(), errOut.String()
}

func TestRemoteObjectPrintsWhatLocalPrints(t *testing.T) {
	kerneltest.Require(t)
	session.MountTracefs(io.Discard)
	o := startOpener(t, 2)
	set := []string{fmt.Sprintf("target_pid=%d", o.pid)}

	opts := objectrun.Defaults()
	opts.Sets = set
	localOut, localErr := runTraced(t, o, func(ctx context.Context, stdout, stderr io.Writer) error {
		return objectrun.RunFile(ctx, openatFixture, opts, stdout, stderr)
	}, nil)

	ta := startAgent(t, Config{})
	c := ta.dial(t, DialOptions{})
	prog, err := os.ReadFile(openatFixture)
	if err != nil {
		t.Fatal(err)
	}
	start := &agentpb.Start{Program: prog, Name: openatFixture, Options: &agentpb.RunOptions{Object: &agentpb.ObjectOptions{Set: set}}}
	var session uint64
	remoteOut, remoteErr := runTraced(t, o, func(ctx context.Context, stdout, stderr io.Writer) error {
		res, err := c.Run(ctx, start, stdout, stderr)
		session = res.Session
		return err
	}, func() {
		list := ta.srv.Sessions()
		if len(list) != 1 {
			t.Fatalf("%d sessions", len(list))
		}
		maps, err := c.ReadMaps(context.Background(), &agentpb.ReadMapsRequest{SessionId: list[0].Id})
		want := fmt.Sprintf("@counts[%d, sh]: 3\n", o.pid)
		if err != nil || len(maps) != 1 || maps[0].Name != "counts" || string(maps[0].Text) != want || len(maps[0].Entries) != 1 {
			t.Errorf("ReadMaps during the run = %v, %v; want counts as %q", maps, err, want)
		}
	})
	if session == 0 {
		t.Error("no session ID")
	}
	if remoteOut != localOut || remoteErr != localErr {
		t.Errorf("remote output differs from local:\nremote stdout:\n%s\nlocal stdout:\n%s\nremote stderr:\n%s\nlocal stderr:\n%s", remoteOut, localOut, remoteErr, localErr)
	}
	if !strings.Contains(localOut, "@counts[") {
		t.Errorf("the maps were not printed at the end:\n%s", localOut)
	}
	if log := ta.log.String(); !strings.Contains(log, "program=../testdata/openat.bpf.o kind=elf size=") || !strings.Contains(log, `msg="session ended"`) {
		t.Errorf("the load and the end are not logged:\n%s", log)
	}
}

func TestRemoteObjectErrorsAreLocalErrors(t *testing.T) {
	kerneltest.Require(t)
	ta := startAgent(t, Config{})
	c := ta.dial(t, DialOptions{})
	whole, err := os.ReadFile(openatFixture)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "truncated.bpf.o")
	if err := os.WriteFile(truncated, whole[:len(whole)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	notELF := filepath.Join(t.TempDir(), "script.bt")
	if err := os.WriteFile(notELF, []byte("BEGIN { exit(); }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		kind agentpb.ProgramKind
		sets []string
	}{
		{"../testdata/reject.bpf.o", 0, nil},
		{truncated, 0, nil},
		{notELF, agentpb.ProgramKind_PROGRAM_KIND_ELF, nil},
		{openatFixture, 0, []string{"no_such_variable=1"}},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			opts := objectrun.Defaults()
			opts.Sets = tc.sets
			var localStderr strings.Builder
			localErr := objectrun.RunFile(context.Background(), tc.file, opts, io.Discard, &localStderr)
			if localErr == nil {
				t.Fatal("the local run succeeded")
			}
			prog, _ := os.ReadFile(tc.file)
			var remoteStderr strings.Builder
			res, err := c.Run(context.Background(), &agentpb.Start{Program: prog, Name: tc.file, Kind: tc.kind,
				Options: &agentpb.RunOptions{Object: &agentpb.ObjectOptions{Set: tc.sets}}}, io.Discard, &remoteStderr)
			var re *RunError
			// Verifier logs show kernel addresses of maps, which differ
			// between any two loads.
			if !errors.As(err, &re) || kernelAddr.ReplaceAllString(re.Msg, "ADDR") != kernelAddr.ReplaceAllString(localErr.Error(), "ADDR") || res.Code != 1 {
				t.Errorf("remote: %v (status %d)\nlocal:  %v (status 1)", err, res.Code, localErr)
			}
			if remoteStderr.String() != localStderr.String() {
				t.Errorf("stderr differs: remote %q, local %q", remoteStderr.String(), localStderr.String())
			}
		})
	}
}

func TestRemoteObjectClientCrashLeavesNothing(t *testing.T) {
	kerneltest.Require(t)
	session.MountTracefs(io.Discard)
	before := kerneltest.Snapshot()
	ta := startAgent(t, Config{})
	prog, err := os.ReadFile(openatFixture)
	if err != nil {
		t.Fatal(err)
	}
	conn, stream := rawStream(t, ta.addr)
	if err := stream.Send(&agentpb.RunRequest{Msg: &agentpb.RunRequest_Start{Start: &agentpb.Start{Program: prog, Name: "openat.bpf.o"}}}); err != nil {
		t.Fatal(err)
	}
	for attached := false; !attached; {
		m, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		attached = strings.Contains(string(m.GetOutput().GetData()), "Attached 1 program")
	}
	if loaded := kerneltest.Snapshot().New(before); len(loaded.Programs) == 0 || len(loaded.Links) == 0 {
		t.Fatalf("nothing is loaded and attached while the session runs: %+v", loaded)
	}
	conn.Close()
	waitFor(t, "the session to end", func() bool { return len(ta.srv.Sessions()) == 0 })
	// kerneltest's cleanup checks that nothing stayed in the kernel.
}
