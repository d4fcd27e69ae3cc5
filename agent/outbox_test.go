package agent

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/wagglebpf/waggle/agent/agentpb"
)

func TestOutboxKeepsOrderAcrossStreams(t *testing.T) {
	o := newOutbox()
	out := writer{o, agentpb.Stream_STREAM_STDOUT}
	errw := writer{o, agentpb.Stream_STREAM_STDERR}
	var want bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 3000 {
			w, tag := out, "o"
			if i%7 == 0 {
				w, tag = errw, "e"
			}
			line := strings.Repeat(tag, i%200) + "\n"
			w.Write([]byte(line))
			want.WriteString(tag + ":" + line)
		}
		o.close()
	}()
	var got bytes.Buffer
	for {
		segs, done := o.take()
		for _, s := range segs {
			if len(s.data) > maxChunk {
				t.Fatalf("a segment of %d bytes, over %d", len(s.data), maxChunk)
			}
			tag := "o"
			if s.stream == agentpb.Stream_STREAM_STDERR {
				tag = "e"
			}
			for _, line := range strings.SplitAfter(string(s.data), "\n") {
				if line != "" {
					got.WriteString(tag + ":" + line)
				}
			}
		}
		if done {
			break
		}
	}
	wg.Wait()
	if got.String() != want.String() {
		t.Error("the output came out in another order, or some was lost")
	}
}

func TestOutboxTail(t *testing.T) {
	o := newOutbox()
	w := writer{o, agentpb.Stream_STREAM_STDOUT}
	w.Write([]byte("queued\n"))
	o.abandon()
	if _, done := o.take(); !done {
		t.Error("take after abandon is not done")
	}
	big := bytes.Repeat([]byte("0123456789"), tailSize/10+100)
	w.Write(big)
	w.Write([]byte("end\n"))
	tail := o.lastOutput()
	if len(tail) != tailSize || !bytes.HasSuffix(tail, []byte("789end\n")) {
		t.Errorf("tail of %d bytes ending %q", len(tail), tail[len(tail)-10:])
	}

	// A writer blocked on a full outbox is released by abandon.
	o = newOutbox()
	w = writer{o, agentpb.Stream_STREAM_STDOUT}
	released := make(chan struct{})
	go func() {
		w.Write(make([]byte, maxPending))
		w.Write([]byte("blocked\n"))
		close(released)
	}()
	o.abandon()
	<-released
	if !bytes.HasSuffix(o.lastOutput(), []byte("blocked\n")) {
		t.Error("the blocked write did not reach the tail")
	}
}

func TestParseAddress(t *testing.T) {
	for in, want := range map[string]Address{
		"unix:///run/waggle/agent.sock": {Network: "unix", Path: "/run/waggle/agent.sock"},
		"tcp://10.0.0.5:7070":           {Network: "tcp", HostPort: "10.0.0.5:7070"},
		"tcp://[::1]:7070":              {Network: "tcp", HostPort: "[::1]:7070"},
		"tcp://agent.example:https":     {Network: "tcp", HostPort: "agent.example:https"},
	} {
		got, err := ParseAddress(in)
		if err != nil || got != want {
			t.Errorf("ParseAddress(%q) = %+v, %v", in, got, err)
		}
		if err == nil && got.String() != in {
			t.Errorf("%q prints as %q", in, got.String())
		}
	}
	for _, in := range []string{"", "/run/a.sock", "unix://run/a.sock", "unix:///run/../a.sock", "unix:///" + strings.Repeat("a", 200),
		"tcp://10.0.0.5", "tcp://10.0.0.5:", "tcp://10.0.0.5:99999", "tcp://u@h:1", "http://h:1"} {
		if _, err := ParseAddress(in); err == nil {
			t.Errorf("ParseAddress(%q) accepted it", in)
		}
	}
	for in, want := range map[string]bool{"tcp://127.0.0.1:1": true, "tcp://[::1]:1": true, "tcp://localhost:1": true, "tcp://127.9.9.9:1": true,
		"tcp://10.0.0.1:1": false, "tcp://0.0.0.0:1": false, "tcp://[::]:1": false, "tcp://example.com:1": false} {
		a, err := ParseAddress(in)
		if err != nil || a.Loopback() != want {
			t.Errorf("%s: Loopback() = %v, %v; want %v", in, a.Loopback(), err, want)
		}
	}
}
