package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/perf"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/wagglebpf/waggle/attach"
)

// Session is a loaded collection and what is attached from it. Close
// releases everything; nothing stays in the kernel afterwards.
type Session struct {
	Spec        *ebpf.CollectionSpec
	Collection  *ebpf.Collection
	Attachments []attach.Attachment
	// Names of the attached programs, parallel to Attachments.
	Programs []string

	readers []*reader
}

// Open loads spec into the kernel and opens a reader on every ring buffer
// and perf event array, before anything is attached: a perf event array
// has no buffers until its reader exists, and events sent earlier are lost.
// fullLog puts the whole verifier log into a rejection error instead of
// its last lines. perfPages sizes each per-CPU perf buffer (0: 64 pages).
func Open(spec *ebpf.CollectionSpec, fullLog bool, perfPages int) (*Session, error) {
	coll, err := Load(spec, fullLog)
	if err != nil {
		return nil, err
	}
	s := &Session{Spec: spec, Collection: coll}
	if s.readers, err = openReaders(s.EventSources(), perfPages); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Attach attaches the named program at t.
func (s *Session) Attach(name string, t attach.Target, opts attach.Options) error {
	prog := s.Collection.Programs[name]
	if prog == nil {
		return fmt.Errorf("program %s is not loaded", name)
	}
	a, err := attach.Attach(prog, t, opts)
	if err != nil {
		return newAttachError(name, t, err)
	}
	s.Attachments = append(s.Attachments, a)
	s.Programs = append(s.Programs, name)
	return nil
}

// AttachError is a program that could not be attached. Its text names the
// program; Unwrap gives the reason without the name.
type AttachError struct {
	Program string
	msg     string
	err     error
}

func (e *AttachError) Error() string { return e.msg }
func (e *AttachError) Unwrap() error { return e.err }

func newAttachError(name string, t attach.Target, err error) error {
	err = explainPermission(err)
	var tce *attach.TracepointContextError
	if errors.As(err, &tce) && privileged() {
		return &AttachError{Program: name, msg: tce.Describe(name), err: err}
	}
	msg := err.Error()
	// What the kernel or the ELF loader says may already name the program.
	if !strings.HasPrefix(msg, "program "+name+":") && !strings.HasPrefix(msg, "program "+name+" ") {
		msg = "program " + name + ": " + msg
	}
	return &AttachError{Program: name, msg: shortenTarget(msg, t), err: err}
}

// shortenTarget cuts the long parts of a target a user gave (a 120 KB
// --attach value) wherever a message repeats them.
func shortenTarget(msg string, t attach.Target) string {
	for _, s := range []string{t.Group + ":" + t.Name, t.Name, t.Group, t.Uprobe.Binary, t.Uprobe.Symbol, t.Interface, t.PerfEvent} {
		if len(s) > attach.MaxEcho {
			msg = strings.ReplaceAll(msg, s, attach.Shorten(s))
		}
	}
	return msg
}

// Detach closes every attachment, leaving the collection loaded so that
// its maps can still be read.
func (s *Session) Detach() error {
	var errs []error
	for i := len(s.Attachments) - 1; i >= 0; i-- {
		errs = append(errs, s.Attachments[i].Close())
	}
	s.Attachments, s.Programs = nil, nil
	return errors.Join(errs...)
}

// Close detaches everything, closes the readers and unloads the collection.
func (s *Session) Close() error {
	err := s.Detach()
	for _, r := range s.readers {
		r.Close()
	}
	s.readers = nil
	if s.Collection != nil {
		s.Collection.Close()
		s.Collection = nil
		// cilium/ebpf memory-maps .data, .rodata and .bss for the
		// collection's Variables and unmaps them only from a GC cleanup;
		// the kernel keeps those maps until then.
		runtime.GC()
	}
	return err
}

// EventSource is a map that streams records to user space.
type EventSource struct {
	Name string
	Map  *ebpf.Map
	Spec *ebpf.MapSpec
	// Perf is true for perf event arrays, false for ring buffers.
	Perf bool
}

// EventSources lists the ring buffers and perf event arrays of the
// collection, by name.
func (s *Session) EventSources() []EventSource {
	var out []EventSource
	for name, m := range s.Collection.Maps {
		switch m.Type() {
		case ebpf.RingBuf, ebpf.PerfEventArray:
			out = append(out, EventSource{Name: name, Map: m, Spec: s.Spec.Maps[name], Perf: m.Type() == ebpf.PerfEventArray})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Event is one record from an EventSource.
type Event struct {
	Source *EventSource
	CPU    int // perf only
	Data   []byte
}

// RunOptions say when a run stops and what happens meanwhile.
type RunOptions struct {
	// Duration stops the run after this long (0: no limit).
	Duration time.Duration
	// Interval calls OnInterval periodically (0: never).
	Interval   time.Duration
	OnInterval func()
	// Child is a -c command: it is released once Run starts reading
	// events, and its exit ends the run.
	Child *Child
	// OnEvent receives every record, on Run's goroutine.
	OnEvent func(Event)
	// OnIter receives the whole output of each iterator program, which
	// runs once, right after Run starts.
	OnIter func(program string, output []byte)
	// BeforeDrain runs once the programs are detached and before the
	// buffers are drained for the last time: what it makes the programs
	// send (bpftrace's END probes) is still read.
	BeforeDrain func()
}

// RunStats are counted during a run.
type RunStats struct {
	Events uint64
	// Lost counts perf records the kernel dropped, per source.
	Lost map[string]uint64
	// StoppedBy says why the run ended: "signal", "duration", "command",
	// "iterators".
	StoppedBy string
}

// Run streams events until SIGINT or SIGTERM, the duration passes, the
// child exits, or ctx is done; then it detaches every program and drains
// what the buffers still hold. The collection stays loaded so that maps
// can be printed; Close unloads it.
func (s *Session) Run(ctx context.Context, ro RunOptions) (RunStats, error) {
	stats := RunStats{Lost: map[string]uint64{}}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Iterators and the command's release come first, so that an error
	// there returns before any reader goroutine starts.
	onlyIterators := len(s.Attachments) > 0
	for i, a := range s.Attachments {
		it, ok := a.(attach.Iterator)
		if !ok {
			onlyIterators = false
			continue
		}
		if ro.OnIter != nil {
			var out bytes.Buffer
			if _, err := it.WriteTo(&out); err != nil {
				return stats, fmt.Errorf("program %s: %w", s.Programs[i], err)
			}
			ro.OnIter(s.Programs[i], out.Bytes())
		}
	}

	if ro.Child != nil {
		if err := ro.Child.Release(); err != nil {
			return stats, fmt.Errorf("-c: start command: %w", err)
		}
	}

	readers := s.readers
	events := make(chan Event, 1024)
	lost := make(chan lostReport, 16)
	var wg sync.WaitGroup
	for _, r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.pump(events, lost)
		}()
	}
	pumpsDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(pumpsDone)
	}()

	var timeout <-chan time.Time
	if ro.Duration > 0 {
		t := time.NewTimer(ro.Duration)
		defer t.Stop()
		timeout = t.C
	}
	var tick <-chan time.Time
	if ro.Interval > 0 && ro.OnInterval != nil {
		t := time.NewTicker(ro.Interval)
		defer t.Stop()
		tick = t.C
	}
	var childDone <-chan struct{}
	if ro.Child != nil {
		childDone = ro.Child.Done()
	}
	handle := func(ev Event) {
		stats.Events++
		if ro.OnEvent != nil {
			ro.OnEvent(ev)
		}
	}

	if onlyIterators && ro.Child == nil {
		stats.StoppedBy = "iterators"
	}
	// With no readers pumpsDone is closed already and must not end the run.
	readersDone := pumpsDone
	if len(readers) == 0 {
		readersDone = nil
	}
	for stats.StoppedBy == "" {
		select {
		case <-ctx.Done():
			stats.StoppedBy = "signal"
		case <-timeout:
			stats.StoppedBy = "duration"
		case <-childDone:
			stats.StoppedBy = "command"
		case <-tick:
			ro.OnInterval()
		case ev := <-events:
			handle(ev)
		case l := <-lost:
			stats.Lost[l.source] += l.n
		case <-readersDone:
			stats.StoppedBy = "readers"
		}
	}

	// Stop new events at their source, then take what the buffers hold.
	detachErr := s.Detach()
	if ro.BeforeDrain != nil {
		ro.BeforeDrain()
	}
	for _, r := range readers {
		r.flush()
	}
	for drained := false; !drained; {
		select {
		case ev := <-events:
			handle(ev)
		case l := <-lost:
			stats.Lost[l.source] += l.n
		case <-pumpsDone:
			// No pump sends any more: take what they queued before returning.
			for len(events) > 0 {
				handle(<-events)
			}
			for len(lost) > 0 {
				l := <-lost
				stats.Lost[l.source] += l.n
			}
			drained = true
		}
	}
	for _, r := range readers {
		if r.err != nil {
			return stats, fmt.Errorf("read %s: %w", r.src.Name, r.err)
		}
	}
	return stats, detachErr
}

type lostReport struct {
	source string
	n      uint64
}

// reader pumps one ring buffer or perf event array into a channel.
type reader struct {
	src  *EventSource
	ring *ringbuf.Reader
	perf *perf.Reader
	err  error
}

func openReaders(sources []EventSource, perfPages int) ([]*reader, error) {
	if perfPages <= 0 {
		perfPages = 64
	}
	var out []*reader
	for i := range sources {
		src := &sources[i]
		r := &reader{src: src}
		var err error
		if src.Perf {
			r.perf, err = perf.NewReader(src.Map, perfPages*os.Getpagesize())
		} else {
			r.ring, err = ringbuf.NewReader(src.Map)
		}
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, fmt.Errorf("open %s: %w", src.Name, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func (r *reader) pump(events chan<- Event, lost chan<- lostReport) {
	for {
		var ev Event
		var err error
		if r.perf != nil {
			var rec perf.Record
			rec, err = r.perf.Read()
			if err == nil {
				if rec.LostSamples > 0 {
					lost <- lostReport{r.src.Name, rec.LostSamples}
					continue
				}
				ev = Event{Source: r.src, CPU: rec.CPU, Data: rec.RawSample}
			}
		} else {
			var rec ringbuf.Record
			rec, err = r.ring.Read()
			if err == nil {
				ev = Event{Source: r.src, CPU: -1, Data: rec.RawSample}
			}
		}
		if err != nil {
			if !errors.Is(err, perf.ErrFlushed) && !errors.Is(err, ringbuf.ErrFlushed) &&
				!errors.Is(err, os.ErrClosed) && !errors.Is(err, perf.ErrClosed) && !errors.Is(err, ringbuf.ErrClosed) {
				r.err = err
			}
			return
		}
		events <- ev
	}
}

func (r *reader) flush() {
	if r.perf != nil {
		r.perf.Flush()
	} else {
		r.ring.Flush()
	}
}

func (r *reader) Close() error {
	if r.perf != nil {
		return r.perf.Close()
	}
	return r.ring.Close()
}
