package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wagglebpf/waggle/agent/agentpb"
	"github.com/wagglebpf/waggle/internal/kerneltest"
	"github.com/wagglebpf/waggle/objectrun"
	"github.com/wagglebpf/waggle/session"
)

// lineCounter counts the lines written through it to /dev/null: output
// redirected away, one write(2) per Write as on a real stdout.
type lineCounter struct {
	n    atomic.Int64
	null *os.File
}

func newLineCounter(b *testing.B) *lineCounter {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { null.Close() })
	return &lineCounter{null: null}
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n.Add(int64(bytes.Count(p, []byte{'\n'})))
	return c.null.Write(p)
}

// BenchmarkStream measures lines per second from a program that prints
// 64-byte lines as fast as it can: printed locally, and streamed from an
// agent over a Unix socket and over mutual TLS on loopback, all to
// /dev/null. Every line must arrive.
func BenchmarkStream(b *testing.B) {
	const lines = 200_000
	script := fakeProgram(fmt.Sprintf("flood %d", lines))
	run := func(b *testing.B, do func(stdout io.Writer) error) {
		b.SetBytes(lines * 64)
		start := time.Now()
		for range b.N {
			c := newLineCounter(b)
			if err := do(c); err != nil {
				b.Fatal(err)
			}
			if c.n.Load() != lines {
				b.Fatalf("%d lines arrived of %d", c.n.Load(), lines)
			}
		}
		b.ReportMetric(float64(lines*b.N)/time.Since(start).Seconds(), "lines/s")
	}
	b.Run("local", func(b *testing.B) {
		run(b, func(stdout io.Writer) error {
			_, err := fakeScript(context.Background(), nil, string(script[len("FAKE\n"):]), stdout, io.Discard)
			return err
		})
	})
	b.Run("unix", func(b *testing.B) {
		ta := startAgent(b, Config{})
		c := ta.dial(b, DialOptions{})
		run(b, func(stdout io.Writer) error {
			_, err := c.Run(context.Background(), &agentpb.Start{Program: script}, stdout, io.Discard)
			return err
		})
	})
	b.Run("mtls", func(b *testing.B) {
		m := startMTLS(b)
		c := m.dial(b, DialOptions{TLS: m.clientTLS(b, m.clientCert, m.clientKy)})
		run(b, func(stdout io.Writer) error {
			_, err := c.Run(context.Background(), &agentpb.Start{Program: script}, stdout, io.Discard)
			return err
		})
	})
}

// BenchmarkObjectEvents runs testdata/openat.bpf.o for a second on a shell
// that opens a file in a loop, and reports the events printed per second:
// locally, and from an agent over a Unix socket and over mutual TLS.
func BenchmarkObjectEvents(b *testing.B) {
	kerneltest.Require(b)
	session.MountTracefs(io.Discard)
	busy := exec.Command("/bin/sh", "-c", "while :; do : </etc/hostname; done")
	if err := busy.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		busy.Process.Kill()
		busy.Wait()
	}()
	set := []string{fmt.Sprintf("target_pid=%d", busy.Process.Pid)}
	prog, err := os.ReadFile(openatFixture)
	if err != nil {
		b.Fatal(err)
	}
	start := &agentpb.Start{Program: prog, Name: "openat.bpf.o", Options: &agentpb.RunOptions{Object: &agentpb.ObjectOptions{Set: set}}}
	run := func(b *testing.B, do func(ctx context.Context, stdout io.Writer) error) {
		var events int64
		var elapsed time.Duration
		for range b.N {
			c := newLineCounter(b)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			t0 := time.Now()
			err := do(ctx, c)
			elapsed += time.Since(t0)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			events += c.n.Load()
		}
		b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
	}
	b.Run("local", func(b *testing.B) {
		o := objectrun.Defaults()
		o.Sets = set
		run(b, func(ctx context.Context, stdout io.Writer) error {
			return objectrun.RunFile(ctx, openatFixture, o, stdout, io.Discard)
		})
	})
	b.Run("unix", func(b *testing.B) {
		ta := startAgent(b, Config{})
		c := ta.dial(b, DialOptions{})
		run(b, func(ctx context.Context, stdout io.Writer) error {
			_, err := c.Run(ctx, start, stdout, io.Discard)
			return err
		})
	})
	b.Run("mtls", func(b *testing.B) {
		m := startMTLS(b)
		c := m.dial(b, DialOptions{TLS: m.clientTLS(b, m.clientCert, m.clientKy)})
		run(b, func(ctx context.Context, stdout io.Writer) error {
			_, err := c.Run(ctx, start, stdout, io.Discard)
			return err
		})
	})
}
