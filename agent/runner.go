package agent

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/wagglebpf/waggle/agent/agentpb"
	"github.com/wagglebpf/waggle/agent/metrics"
	"github.com/wagglebpf/waggle/btfprint"
)

// Runner loads and runs one kind of program for a session. The agent
// gives it a Job and a context that ends when the session must stop (the
// client's Stop or disconnection, StopSession, the session's lifetime, the
// agent's shutdown); the runner then tears down as a local run does on
// Ctrl-C (detach, print the maps) and returns. Nothing it loaded may stay
// in the kernel after Run returns.
type Runner interface {
	// Accepts reports whether program is in this runner's format, judged
	// by its first bytes.
	Accepts(program []byte) bool
	// Run runs the job and returns the exit status the local command
	// would have, with the error it would print (nil when it would print
	// none).
	Run(ctx context.Context, job *Job) (exitCode int, err error)
}

// Job is one program to run.
type Job struct {
	// Session is the session's ID in the agent.
	Session uint64
	// Name is the program's file name as the client gave it, for
	// messages.
	Name    string
	Program []byte
	// Options are validated and never nil; Options.Object is never nil.
	Options *agentpb.RunOptions
	// Stdout and Stderr reach the client in the order written. Writes may
	// block while the client catches up; they never fail.
	Stdout, Stderr io.Writer

	maps     *mapSlot
	metrics  *metrics.Exporter
	attached func()
}

// Attached tells the client the program is loaded and attached: a
// detached client returns then. Runners call it once; later calls do
// nothing.
func (j *Job) Attached() {
	if j.attached != nil {
		j.attached()
	}
}

// symbols names addresses and cgroups in the labels of every session's
// metrics; it reads /proc/kallsyms once, on first use.
var symbols = &metrics.Symbols{}

// exportMetrics exports src while the session runs, when the agent
// exports metrics; the function it returns removes it. A source that
// cannot be exported is reported on the session's standard error and
// the run goes on without it.
func (j *Job) exportMetrics(src func(name string) (metrics.Source, error)) (remove func()) {
	if j.metrics == nil {
		return func() {}
	}
	name := strconv.FormatUint(j.Session, 10)
	s, err := src(name)
	if err == nil {
		err = j.metrics.Add(s)
	}
	if err != nil {
		fmt.Fprintf(j.Stderr, "waggle: agent metrics: %v\n", err)
		return func() {}
	}
	return func() { j.metrics.Remove(name) }
}

// MapReader reads the maps of a running session.
type MapReader func(ctx context.Context, q MapQuery) ([]MapDump, error)

// MapQuery says which maps to read and how to render them.
type MapQuery struct {
	// Names selects maps; empty means all.
	Names []string
	// JSON renders as bpftrace's -f json lines instead of text.
	JSON bool
	// PerCPU renders per-CPU values per CPU instead of summed.
	PerCPU bool
}

// MapDump is one map's contents.
type MapDump struct {
	Name   string
	PerCPU bool
	// Text is the map as the session prints it at exit.
	Text []byte
	// Entries are the raw keys and values.
	Entries []btfprint.Entry
}

// PublishMaps makes r answer ReadMaps for the job's session until the
// returned function is called. That function waits for reads in progress
// to finish, so the runner may close the maps right after it returns.
func (j *Job) PublishMaps(r MapReader) (withdraw func()) {
	if j.maps == nil {
		j.maps = &mapSlot{}
	}
	j.maps.mu.Lock()
	j.maps.read = r
	j.maps.mu.Unlock()
	return sync.OnceFunc(func() {
		j.maps.mu.Lock()
		j.maps.read = nil
		j.maps.mu.Unlock()
	})
}

// mapSlot holds a session's MapReader while its maps exist.
type mapSlot struct {
	mu   sync.RWMutex
	read MapReader
}

// readMaps calls the published reader, holding it published meanwhile;
// ok is false when none is.
func (s *mapSlot) readMaps(ctx context.Context, q MapQuery) (_ []MapDump, ok bool, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.read == nil {
		return nil, false, nil
	}
	dumps, err := s.read(ctx, q)
	return dumps, true, err
}
