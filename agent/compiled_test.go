package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/wagglebpf/waggle/agent/agentpb"
	"github.com/wagglebpf/waggle/internal/kerneltest"
	"github.com/wagglebpf/waggle/lang/compiled"
	"github.com/wagglebpf/waggle/lang/driver"
	"github.com/wagglebpf/waggle/session"
)

// realRunners are the agent's default runners: no fake in between.
func realRunners() map[agentpb.ProgramKind]Runner {
	return map[agentpb.ProgramKind]Runner{
		agentpb.ProgramKind_PROGRAM_KIND_ELF:      ObjectRunner{},
		agentpb.ProgramKind_PROGRAM_KIND_COMPILED: CompiledRunner{},
	}
}

// compileScript compiles a bpftrace script here, as waggle trace
// --compile does.
func compileScript(t *testing.T, src string) []byte {
	t.Helper()
	p, err := driver.Build("test.bt", []byte(src), driver.Args{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := compiled.Encode(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// runScriptLocally runs a compiled program as waggle trace prog.wgl does.
func runScriptLocally(t *testing.T, data []byte, asJSON bool) (stdout, stderr string, code int) {
	t.Helper()
	lp, err := compiled.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	var o, e bytes.Buffer
	code, err = driver.Run(context.Background(), lp, driver.Options{JSON: asJSON, Stdout: &o, Stderr: &e})
	if err != nil {
		t.Fatalf("local run: %v", err)
	}
	return o.String(), e.String(), code
}

// A script compiled on the host prints the same through the agent, over
// a Unix socket and over mutual TLS, in text and JSON, and exits with the
// code it chose.
func TestRemoteScriptPrintsWhatLocalPrints(t *testing.T) {
	kerneltest.Require(t)
	data := compileScript(t, `BEGIN { printf("hello %d %s\n", 5, "x"); @a[1, "x"] = 3; @h = hist(100); @s = sum(7); exit(4); }`)
	m := startMTLSWith(t, Config{Runners: realRunners()})
	clients := map[string]*Client{
		"unix": startAgent(t, Config{Runners: realRunners()}).dial(t, DialOptions{}),
		"mtls": m.dial(t, DialOptions{TLS: m.clientTLS(t, m.clientCert, m.clientKy)}),
	}
	for name, c := range clients {
		for _, format := range []string{"text", "json"} {
			wantOut, wantErr, wantCode := runScriptLocally(t, data, format == "json")
			var stdout, stderr bytes.Buffer
			res, err := c.Run(context.Background(), &agentpb.Start{Program: data, Name: "test.bt",
				Options: &agentpb.RunOptions{OutputFormat: format}}, &stdout, &stderr)
			if err != nil {
				t.Fatalf("%s, %s: %v", name, format, err)
			}
			if stdout.String() != wantOut || stderr.String() != wantErr || res.Code != wantCode || wantCode != 4 {
				t.Errorf("%s, %s: remote (exit %d)\n%s%s\nlocal (exit %d)\n%s%s", name, format, res.Code, stdout.String(), stderr.String(), wantCode, wantOut, wantErr)
			}
		}
	}
}

// A program compiled with --unsafe runs only where the agent allows it.
func TestRemoteScriptUnsafeNeedsTheAgentsConsent(t *testing.T) {
	kerneltest.Require(t)
	p, err := driver.Build("unsafe.bt", []byte(`BEGIN { system("echo hi"); exit(); }`), driver.Args{Unsafe: true})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := compiled.Encode(&b, p); err != nil {
		t.Fatal(err)
	}
	for _, allow := range []bool{false, true} {
		c := startAgent(t, Config{Runners: map[agentpb.ProgramKind]Runner{agentpb.ProgramKind_PROGRAM_KIND_COMPILED: CompiledRunner{AllowUnsafe: allow}}}).dial(t, DialOptions{})
		var stdout, stderr bytes.Buffer
		_, err := c.Run(context.Background(), &agentpb.Start{Program: b.Bytes(), Name: "unsafe.bt"}, &stdout, &stderr)
		switch {
		case !allow && (err == nil || !strings.Contains(err.Error(), "--allow-unsafe")):
			t.Errorf("an agent without --allow-unsafe: %v\n%s", err, stdout.String())
		case allow && (err != nil || !strings.HasPrefix(stdout.String(), "hi\n")):
			t.Errorf("an agent with --allow-unsafe: %v\n%s%s", err, stdout.String(), stderr.String())
		}
	}
}

// Stopping a remote script (Ctrl-C) prints its maps as a local stop
// does; a client that vanishes leaves nothing in the kernel.
func TestRemoteScriptStopAndCrash(t *testing.T) {
	kerneltest.Require(t)
	session.MountTracefs(io.Discard)
	data := compileScript(t, `BEGIN { @k = 7; } tracepoint:syscalls:sys_enter_getppid { @n = count(); }`)
	ta := startAgent(t, Config{Runners: realRunners()})
	c := ta.dial(t, DialOptions{})

	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, &agentpb.Start{Program: data, Name: "test.bt"}, &stdout, &stderr)
		done <- err
	}()
	waitFor(t, "the probes to be attached", func() bool { return strings.Contains(stderr.String(), "Attached 2 probes") })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stopped run: %v", err)
	}
	if !strings.HasPrefix(stdout.String(), "\n\n") || !strings.Contains(stdout.String(), "@k: 7\n") {
		t.Errorf("a stopped remote script printed %q", stdout.String())
	}

	before := kerneltest.Snapshot()
	conn, stream := rawStream(t, ta.addr)
	if err := stream.Send(&agentpb.RunRequest{Msg: &agentpb.RunRequest_Start{Start: &agentpb.Start{Program: data, Name: "test.bt"}}}); err != nil {
		t.Fatal(err)
	}
	for attached := false; !attached; {
		m, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		attached = strings.Contains(string(m.GetOutput().GetData()), "Attached 2 probes")
	}
	if loaded := kerneltest.Snapshot().New(before); len(loaded.Programs) == 0 {
		t.Fatalf("nothing is loaded while the session runs: %+v", loaded)
	}
	conn.Close()
	waitFor(t, "the session to end", func() bool { return len(ta.srv.Sessions()) == 0 })
	// kerneltest's cleanup checks that nothing stayed in the kernel.
}

// Scripts run side by side in one agent, each with its own output.
func TestRemoteScriptsSideBySide(t *testing.T) {
	kerneltest.Require(t)
	session.MountTracefs(io.Discard)
	c := startAgent(t, Config{Runners: realRunners()}).dial(t, DialOptions{})
	const n = 4
	var wg sync.WaitGroup
	outs := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		data := compileScript(t, fmt.Sprintf(`tracepoint:syscalls:sys_enter_getppid { @calls = count(); } interval:ms:200 { printf("script %%d\n", %d); exit(); }`, i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var stdout bytes.Buffer
			_, errs[i] = c.Run(context.Background(), &agentpb.Start{Program: data, Name: "side.bt"}, &stdout, io.Discard)
			outs[i] = stdout.String()
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || !strings.HasPrefix(outs[i], fmt.Sprintf("script %d\n", i)) {
			t.Errorf("script %d: %v, printed %q", i, errs[i], outs[i])
		}
	}
}
