package agent

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/wagglebpf/waggle/agent/agentpb"
	"github.com/wagglebpf/waggle/btfprint"
)

// fakeRunner runs "FAKE" programs: a script of one command per line that
// writes output, waits for the session to be stopped, or exits. It stands
// in for the kernel in the tests of transport and sessions.
type fakeRunner struct {
	calls atomic.Int32
	// running receives each session's ID when its runner starts; ended
	// receives the cause that stopped it (nil when it ended by itself).
	running chan uint64
	ended   chan error
}

func newFakeRunner() *fakeRunner {
	return &fakeRunner{running: make(chan uint64, 64), ended: make(chan error, 64)}
}

func (f *fakeRunner) Accepts(p []byte) bool { return bytes.HasPrefix(p, []byte("FAKE\n")) }

func (f *fakeRunner) Run(ctx context.Context, job *Job) (int, error) {
	f.calls.Add(1)
	f.running <- job.Session
	if !strings.Contains(string(job.Program), "\nnoattach") {
		// Attached at once, unless the program fails to load.
		job.Attached()
	}
	code, err := fakeScript(ctx, job, string(job.Program[len("FAKE\n"):]), job.Stdout, job.Stderr)
	f.ended <- context.Cause(ctx)
	return code, err
}

// fakeScript runs a fake program's commands:
//
//	out TEXT / err TEXT   write TEXT and a newline to stdout / stderr
//	lines N               write N numbered lines to stdout
//	flood N               write N 64-byte lines to stdout, as fast as it can
//	maps                  publish one map, "@hits", for ReadMaps
//	wait                  wait until the session is stopped, then write "stopped"
//	exit N [MESSAGE]      end with status N (and an error)
//	panic                 panic
func fakeScript(ctx context.Context, job *Job, script string, stdout, stderr io.Writer) (int, error) {
	for _, line := range strings.Split(script, "\n") {
		cmd, arg, _ := strings.Cut(line, " ")
		switch cmd {
		case "out":
			fmt.Fprintln(stdout, arg)
		case "err":
			fmt.Fprintln(stderr, arg)
		case "lines":
			n, _ := strconv.Atoi(arg)
			for i := range n {
				fmt.Fprintf(stdout, "line %d\n", i)
			}
		case "flood":
			n, _ := strconv.Atoi(arg)
			rec := []byte(strings.Repeat("x", 63) + "\n")
			for range n {
				stdout.Write(rec)
			}
		case "maps":
			if job != nil {
				withdraw := job.PublishMaps(func(_ context.Context, q MapQuery) ([]MapDump, error) {
					text := "@hits: 42\n"
					if q.JSON {
						text = `{"type": "map", "data": {"@hits": 42}}` + "\n"
					}
					return []MapDump{{Name: "hits", Text: []byte(text), Entries: []btfprint.Entry{{Key: []byte{0}, Values: [][]byte{{42}}}}}}, nil
				})
				defer withdraw()
			}
		case "wait":
			<-ctx.Done()
			fmt.Fprintln(stdout, "stopped")
		case "sleep":
			d, _ := time.ParseDuration(arg)
			time.Sleep(d)
		case "exit":
			codeText, msg, _ := strings.Cut(arg, " ")
			code, _ := strconv.Atoi(codeText)
			if msg != "" {
				return code, errors.New(msg)
			}
			return code, nil
		case "panic":
			panic("fake runner panics")
		}
	}
	return 0, nil
}

func fakeProgram(lines ...string) []byte {
	return []byte("FAKE\n" + strings.Join(lines, "\n"))
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds or the test has waited too long.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type testAgent struct {
	srv  *Server
	addr string
	log  *syncBuffer
	fake *fakeRunner
}

// socketPath is a Unix socket path in a fresh directory.
func socketPath(t testing.TB) string {
	return "unix://" + filepath.Join(t.TempDir(), "agent.sock")
}

// startAgent starts a server with cfg on cfg.Listen or a fresh Unix
// socket. Without cfg.Runners, the fake runner stands in for
// CompiledRunner, so that tests of the transport need no kernel.
func startAgent(t testing.TB, cfg Config) *testAgent {
	t.Helper()
	ta := &testAgent{log: &syncBuffer{}, fake: newFakeRunner()}
	if cfg.Listen == nil {
		cfg.Listen = []string{socketPath(t)}
	}
	if cfg.Runners == nil {
		cfg.Runners = map[agentpb.ProgramKind]Runner{
			agentpb.ProgramKind_PROGRAM_KIND_ELF:      ObjectRunner{},
			agentpb.ProgramKind_PROGRAM_KIND_COMPILED: ta.fake,
		}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(ta.log, nil))
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ta.srv, ta.addr = srv, addrs[0].String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		if n := len(srv.Sessions()); n != 0 {
			t.Errorf("%d sessions left after shutdown", n)
		}
	})
	return ta
}

func (ta *testAgent) dial(t testing.TB, o DialOptions) *Client {
	t.Helper()
	c, err := Dial(ta.addr, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// local runs a fake program as a local command would, for comparison.
func local(script []byte) (stdout, stderr string, code int, err error) {
	var o, e bytes.Buffer
	code, err = fakeScript(context.Background(), nil, string(script[len("FAKE\n"):]), &o, &e)
	return o.String(), e.String(), code, err
}

func TestRunOverUnixSocket(t *testing.T) {
	ta := startAgent(t, Config{})
	c := ta.dial(t, DialOptions{})
	for _, tc := range []struct {
		name   string
		script []byte
	}{
		{"output", fakeProgram("out hello", "err note", "lines 1000", "err done", "out bye")},
		{"status", fakeProgram("out partial", "exit 3")},
		{"error", fakeProgram("out partial", "exit 1 the program failed: no such tracepoint")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			res, err := c.Run(context.Background(), &agentpb.Start{Program: tc.script, Name: "x.wgl"}, &stdout, &stderr)
			wantOut, wantErr, wantCode, wantRunErr := local(tc.script)
			if stdout.String() != wantOut || stderr.String() != wantErr {
				t.Errorf("remote output differs from local:\nstdout %q\nwant   %q\nstderr %q\nwant   %q", trim(stdout.String()), trim(wantOut), stderr.String(), wantErr)
			}
			if res.Code != wantCode {
				t.Errorf("exit status %d, want %d", res.Code, wantCode)
			}
			var re *RunError
			switch {
			case wantRunErr == nil && err != nil:
				t.Errorf("unexpected error: %v", err)
			case wantRunErr != nil && (!errors.As(err, &re) || re.Msg != wantRunErr.Error() || re.Code != wantCode):
				t.Errorf("error %#v, want a RunError %q with status %d", err, wantRunErr, wantCode)
			}
		})
	}
	if got := ta.log.String(); !strings.Contains(got, "msg=load") || !strings.Contains(got, "client=\"uid=0(root) pid=") {
		t.Errorf("the load is not logged with the client's identity:\n%s", got)
	}
}

func trim(s string) string {
	if len(s) > 200 {
		return s[:100] + "..." + s[len(s)-100:]
	}
	return s
}

func TestCtrlCStopsTheRemoteSession(t *testing.T) {
	ta := startAgent(t, Config{})
	c := ta.dial(t, DialOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	var res Result
	go func() {
		var err error
		res, err = c.Run(ctx, &agentpb.Start{Program: fakeProgram("out attached", "wait", "out after")}, &stdout, &stderr)
		done <- err
	}()
	waitFor(t, "the program's first output", func() bool { return stdout.String() == "attached\n" })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); got != "attached\nstopped\nafter\n" {
		t.Errorf("output %q: the session did not run its teardown after the stop", got)
	}
	if res.Code != 0 {
		t.Errorf("exit status %d after Ctrl-C, want 0 as locally", res.Code)
	}
	if cause := <-ta.fake.ended; cause == nil || !strings.Contains(cause.Error(), "stopped by the client") {
		t.Errorf("the session stopped because of %v, want the client's stop", cause)
	}
}

// rawStream opens a Run stream on a connection the test controls.
func rawStream(t *testing.T, addr string) (*grpc.ClientConn, agentpb.Agent_RunClient) {
	t.Helper()
	a, err := ParseAddress(addr)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient("unix://"+a.Path, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	stream, err := agentpb.NewAgentClient(conn).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return conn, stream
}

func TestClientCrashStopsTheSession(t *testing.T) {
	ta := startAgent(t, Config{})
	conn, stream := rawStream(t, ta.addr)
	if err := stream.Send(&agentpb.RunRequest{Msg: &agentpb.RunRequest_Start{Start: &agentpb.Start{Program: fakeProgram("wait")}}}); err != nil {
		t.Fatal(err)
	}
	if m, err := stream.Recv(); err != nil || m.GetStarted() == nil {
		t.Fatalf("first answer %v, %v: want Started", m, err)
	}
	<-ta.fake.running
	if n := len(ta.srv.Sessions()); n != 1 {
		t.Fatalf("%d sessions, want 1", n)
	}
	conn.Close() // as a crashed client's kernel closes its socket
	select {
	case cause := <-ta.fake.ended:
		if cause == nil || !strings.Contains(cause.Error(), "client went away") {
			t.Errorf("the session stopped because of %v", cause)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the session still runs after its client's connection closed")
	}
	waitFor(t, "the session to be unregistered", func() bool { return len(ta.srv.Sessions()) == 0 })
}

func TestDetachedSessionOutlivesItsClient(t *testing.T) {
	ta := startAgent(t, Config{})
	c := ta.dial(t, DialOptions{})
	res, err := c.Run(context.Background(), &agentpb.Start{Program: fakeProgram("maps", "out before", "wait", "err the end"), Detach: true}, io.Discard, io.Discard)
	if err != nil || !res.Detached || res.Session == 0 {
		t.Fatalf("Run = %+v, %v; want a detached session", res, err)
	}
	c.Close()
	<-ta.fake.running
	c2 := ta.dial(t, DialOptions{})
	var list []*agentpb.SessionInfo
	waitFor(t, "the session to be listed without a client", func() bool {
		list, err = c2.Sessions(context.Background())
		return err == nil && len(list) == 1 && !list[0].Attached
	})
	if s := list[0]; s.Id != res.Session || !s.Detach || s.Client == "" || s.ProgramSha256 == "" {
		t.Errorf("listed %v", s)
	}
	maps, err := c2.ReadMaps(context.Background(), &agentpb.ReadMapsRequest{SessionId: res.Session, Format: "json"})
	if err != nil || len(maps) != 1 || string(maps[0].Text) != `{"type": "map", "data": {"@hits": 42}}`+"\n" || len(maps[0].Entries) != 1 {
		t.Errorf("ReadMaps = %v, %v", maps, err)
	}
	stop, err := c2.StopSession(context.Background(), res.Session)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(stop.OutputTail); !strings.HasSuffix(got, "stopped\nthe end\n") {
		t.Errorf("output tail %q, want the output written since the client left", got)
	}
	if list, _ := c2.Sessions(context.Background()); len(list) != 0 {
		t.Errorf("sessions after StopSession: %v", list)
	}
	if _, err := c2.StopSession(context.Background(), res.Session); err == nil || !strings.Contains(err.Error(), "no session") {
		t.Errorf("stopping an ended session: %v", err)
	}
}

// A detached run whose program fails to load reports the failure as any
// run does: the client waits for Attached, which never comes.
func TestDetachedRunThatFailsToLoad(t *testing.T) {
	ta := startAgent(t, Config{})
	c := ta.dial(t, DialOptions{})
	var stderr bytes.Buffer
	res, err := c.Run(context.Background(), &agentpb.Start{Program: fakeProgram("noattach", "err loading", "exit 1 cannot load"), Detach: true}, io.Discard, &stderr)
	var re *RunError
	if !errors.As(err, &re) || re.Msg != "cannot load" || res.Code != 1 || res.Detached || stderr.String() != "loading\n" {
		t.Errorf("Run = %+v, %v, stderr %q; want the load's failure", res, err, stderr.String())
	}
	if list := ta.srv.AllSessions(); len(list) != 0 {
		t.Errorf("a failed detached run is kept: %v", list)
	}
}

// A detached session that ends after its client has gone is kept, with
// its exit and its last output, until waggle agent stop collects it.
func TestEndedDetachedSessionIsKept(t *testing.T) {
	ta := startAgent(t, Config{})
	c := ta.dial(t, DialOptions{})
	res, err := c.Run(context.Background(), &agentpb.Start{Program: fakeProgram("out early", "sleep 300ms", "out late", "exit 3 it failed"), Detach: true}, io.Discard, io.Discard)
	if err != nil || !res.Detached {
		t.Fatalf("Run = %+v, %v; want a detached session", res, err)
	}
	c.Close()
	c2 := ta.dial(t, DialOptions{})
	var list []*agentpb.SessionInfo
	waitFor(t, "the session to end", func() bool {
		list, err = c2.Sessions(context.Background())
		return err == nil && len(list) == 1 && list[0].Exit != nil
	})
	if e := list[0].Exit; list[0].Id != res.Session || e.Code != 3 || e.Error != "it failed" {
		t.Errorf("listed %v", list[0])
	}
	if n := len(ta.srv.Sessions()); n != 0 {
		t.Errorf("%d sessions counted as running", n)
	}
	stop, err := c2.StopSession(context.Background(), res.Session)
	if err != nil || stop.Exit.GetCode() != 3 || !strings.HasSuffix(string(stop.OutputTail), "late\n") {
		t.Errorf("collecting it: %v, %v", stop, err)
	}
	if list, _ := c2.Sessions(context.Background()); len(list) != 0 {
		t.Errorf("sessions after collecting: %v", list)
	}
	if _, err := c2.StopSession(context.Background(), res.Session); err == nil || !strings.Contains(err.Error(), "no session") {
		t.Errorf("collecting it twice: %v", err)
	}
}

func TestMaxSessions(t *testing.T) {
	ta := startAgent(t, Config{MaxSessions: 2})
	c := ta.dial(t, DialOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Run(ctx, &agentpb.Start{Program: fakeProgram("wait")}, io.Discard, io.Discard)
		}()
	}
	<-ta.fake.running
	<-ta.fake.running
	_, err := c.Run(context.Background(), &agentpb.Start{Program: fakeProgram("out no")}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "runs 2 sessions already") {
		t.Errorf("a third session: %v, want the limit's refusal", err)
	}
	if n := ta.fake.calls.Load(); n != 2 {
		t.Errorf("%d programs ran, want 2", n)
	}
	cancel()
	wg.Wait()
}

func TestConcurrentSessions(t *testing.T) {
	ta := startAgent(t, Config{MaxSessions: 8})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := Dial(ta.addr, DialOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			script := fakeProgram(fmt.Sprintf("out client %d", i), "lines 2000", fmt.Sprintf("err client %d done", i))
			var stdout, stderr bytes.Buffer
			if _, err := c.Run(context.Background(), &agentpb.Start{Program: script}, &stdout, &stderr); err != nil {
				t.Error(err)
				return
			}
			wantOut, wantErr, _, _ := local(script)
			if stdout.String() != wantOut || stderr.String() != wantErr {
				t.Errorf("client %d got another session's output or lost some", i)
			}
		}()
	}
	wg.Wait()
	if n := ta.fake.calls.Load(); n != 8 {
		t.Errorf("%d sessions ran, want 8", n)
	}
}

func TestRefusedRunsLoadNothing(t *testing.T) {
	ta := startAgent(t, Config{MaxProgramSize: 4096})
	c := ta.dial(t, DialOptions{MaxProgramSize: 64 << 20})
	big := append(fakeProgram("out x"), bytes.Repeat([]byte("#"), 5000)...)
	huge := append(fakeProgram("out x"), bytes.Repeat([]byte("#"), 2<<20)...)
	for _, tc := range []struct {
		name  string
		start *agentpb.Start
		want  string
	}{
		{"empty", &agentpb.Start{}, "the program is empty"},
		{"over the limit", &agentpb.Start{Program: big}, "over the agent's limit of 4096 (--max-program-size)"},
		{"over the message limit", &agentpb.Start{Program: huge}, "larger than the agent accepts"},
		{"bad kind", &agentpb.Start{Program: fakeProgram(), Kind: 7}, "unknown program kind 7"},
		{"unknown format", &agentpb.Start{Program: []byte("#!/bin/sh\n"), Name: "x.sh"}, "x.sh is neither a BPF ELF object nor a program this agent can run"},
		{"bad option", &agentpb.Start{Program: fakeProgram(), Options: &agentpb.RunOptions{Object: &agentpb.ObjectOptions{PerfPages: ptr(int32(3))}}}, "--perf-pages 3: must be a power of two (1, 2, 4, 8, ...)"},
		{"bad format", &agentpb.Start{Program: fakeProgram(), Options: &agentpb.RunOptions{OutputFormat: "yaml"}}, `output format "yaml": expected text or json`},
		{"control characters", &agentpb.Start{Program: fakeProgram(), Name: "a\x1b[2Jb"}, "program name \"a\\x1b[2Jb\" holds a control character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Run(context.Background(), tc.start, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}

	// A Stop before any Start, and a stream closed before its Start.
	_, stream := rawStream(t, ta.addr)
	stream.Send(&agentpb.RunRequest{Msg: &agentpb.RunRequest_Stop{Stop: &agentpb.Stop{}}})
	if _, err := stream.Recv(); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "must begin with a Start") {
		t.Errorf("Stop first: %v", err)
	}
	_, stream = rawStream(t, ta.addr)
	stream.CloseSend()
	if _, err := stream.Recv(); status.Code(err) != codes.InvalidArgument {
		t.Errorf("no Start: %v", err)
	}

	// Bytes that are not HTTP/2 at all, then a client that connects and
	// sends nothing: the agent drops both and goes on serving.
	a, _ := ParseAddress(ta.addr)
	raw, err := net.Dial("unix", a.Path)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(20 * time.Second))
	raw.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01\x02garbage"))
	io.Copy(io.Discard, raw) // until the agent hangs up
	raw.Close()
	idle, err := net.Dial("unix", a.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()

	if n := ta.fake.calls.Load(); n != 0 {
		t.Errorf("%d programs ran; every request was invalid", n)
	}
	if n := strings.Count(ta.log.String(), "msg=\"refused run\""); n < 9 {
		t.Errorf("%d refusals logged, want every one:\n%s", n, ta.log.String())
	}
	var out bytes.Buffer
	if _, err := c.Run(context.Background(), &agentpb.Start{Program: fakeProgram("out still here")}, &out, io.Discard); err != nil || out.String() != "still here\n" {
		t.Errorf("after the bad requests: %q, %v", out.String(), err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestRunnerPanicIsContained(t *testing.T) {
	ta := startAgent(t, Config{})
	c := ta.dial(t, DialOptions{})
	_, err := c.Run(context.Background(), &agentpb.Start{Program: fakeProgram("out before", "panic")}, io.Discard, io.Discard)
	var re *RunError
	if !errors.As(err, &re) || re.Code != 1 || !strings.Contains(re.Msg, "internal error in the agent: fake runner panics") {
		t.Errorf("a panicking runner: %v", err)
	}
	var out bytes.Buffer
	if _, err := c.Run(context.Background(), &agentpb.Start{Program: fakeProgram("out alive")}, &out, io.Discard); err != nil || out.String() != "alive\n" {
		t.Errorf("the agent after a runner's panic: %q, %v", out.String(), err)
	}
}

func TestSessionLifetime(t *testing.T) {
	ta := startAgent(t, Config{SessionLifetime: 200 * time.Millisecond})
	c := ta.dial(t, DialOptions{})
	var stdout, stderr bytes.Buffer
	start := time.Now()
	res, err := c.Run(context.Background(), &agentpb.Start{Program: fakeProgram("wait")}, &stdout, &stderr)
	if err != nil || res.Code != 0 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if time.Since(start) < 200*time.Millisecond || stdout.String() != "stopped\n" {
		t.Errorf("the session ended after %s with %q", time.Since(start), stdout.String())
	}
	if !strings.Contains(stderr.String(), "reached its lifetime of 200ms (--session-lifetime)") {
		t.Errorf("stderr %q does not say why the session ended", stderr.String())
	}
}

func TestShutdownStopsSessions(t *testing.T) {
	ta := startAgent(t, Config{})
	c := ta.dial(t, DialOptions{})
	var stdout syncBuffer
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(context.Background(), &agentpb.Start{Program: fakeProgram("wait")}, &stdout, io.Discard)
		done <- err
	}()
	<-ta.fake.running
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := ta.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil || stdout.String() != "stopped\n" {
		t.Errorf("the client saw %q, %v; want the session's teardown and exit", stdout.String(), err)
	}
	if cause := <-ta.fake.ended; cause == nil || !strings.Contains(cause.Error(), "shutting down") {
		t.Errorf("stopped because of %v", cause)
	}
	if _, err := c.Run(context.Background(), &agentpb.Start{Program: fakeProgram()}, io.Discard, io.Discard); err == nil {
		t.Error("a run after shutdown was accepted")
	}
}

func TestListenRefusesUnsafePlaces(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	mkdirMode(t, open, 0o777)
	file := filepath.Join(dir, "file")
	writeFile(t, file)
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Listen: []string{"unix://" + open + "/a.sock"}}, "is writable by other users"},
		{Config{Listen: []string{"unix://" + file}}, "exists and is not a socket"},
		{Config{Listen: []string{"tcp://127.0.0.1:0"}}, "TCP needs mutual TLS"},
		{Config{Listen: []string{"tcp://0.0.0.0:0"}, InsecureLoopback: true}, "only on a loopback address"},
		{Config{Listen: []string{"tcp://192.0.2.1:7070"}, InsecureLoopback: true}, "only on a loopback address"},
		{Config{Listen: []string{"udp://127.0.0.1:1"}}, "expected unix:///PATH or tcp://HOST:PORT"},
		{Config{Listen: []string{"unix://relative.sock"}}, "must be absolute"},
	} {
		srv, err := NewServer(tc.cfg)
		if err == nil {
			_, err = srv.Listen()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error saying %q", tc.cfg.Listen, err, tc.want)
		}
	}

	// A second agent on the same socket, and one on a stale socket.
	ta := startAgent(t, Config{})
	srv, _ := NewServer(Config{Listen: []string{ta.addr}})
	if _, err := srv.Listen(); err == nil || !strings.Contains(err.Error(), "another agent is listening") {
		t.Errorf("second agent: %v", err)
	}
}

func TestClientRefusesPlainTCPToOtherHosts(t *testing.T) {
	for _, tc := range []struct {
		addr string
		o    DialOptions
		want string
	}{
		{"tcp://192.0.2.1:7070", DialOptions{}, "TCP needs mutual TLS"},
		{"tcp://192.0.2.1:7070", DialOptions{InsecureLoopback: true}, "only to a loopback address"},
	} {
		if _, err := Dial(tc.addr, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Dial(%s): %v, want %q", tc.addr, err, tc.want)
		}
	}
}

func TestInsecureLoopbackIdentifiesTheUser(t *testing.T) {
	ta := startAgent(t, Config{Listen: []string{"tcp://127.0.0.1:0"}, InsecureLoopback: true})
	c := ta.dial(t, DialOptions{InsecureLoopback: true})
	var out bytes.Buffer
	if _, err := c.Run(context.Background(), &agentpb.Start{Program: fakeProgram("out over tcp")}, &out, io.Discard); err != nil || out.String() != "over tcp\n" {
		t.Fatalf("run over loopback TCP: %q, %v", out.String(), err)
	}
	sc := bufio.NewScanner(strings.NewReader(ta.log.String()))
	found := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), "msg=load") && strings.Contains(sc.Text(), "client=\"uid=0(root) from 127.0.0.1:") {
			found = true
		}
	}
	if !found {
		t.Errorf("the load over loopback TCP is not logged with the socket owner's uid:\n%s", ta.log.String())
	}
}
