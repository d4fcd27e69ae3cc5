package agent

import (
	"sync"

	"github.com/wagglebpf/waggle/agent/agentpb"
)

// Output flow: a runner writes to a session's stdout and stderr; the
// writes queue in an outbox in the order they were made, and the Run
// handler sends them to the client. A client that reads slowly slows the
// writer down (nothing is dropped), one that has gone leaves the writes
// to a bounded tail that StopSession returns.
const (
	// maxChunk is the most a single Output message carries.
	maxChunk = 64 << 10
	// maxPending is how much output may wait for the client before
	// writers block.
	maxPending = 1 << 20
	// tailSize is how much of a detached session's last output is kept.
	tailSize = 64 << 10
)

// segment is output of one stream, or with STREAM_UNSPECIFIED the mark
// that the program is attached (sent to the client as Attached).
type segment struct {
	stream agentpb.Stream
	data   []byte
}

type outbox struct {
	mu      sync.Mutex
	cond    sync.Cond
	segs    []segment
	pending int
	// closed: the runner has returned, no more writes come.
	closed bool
	// unread: no client reads any more; writes go to the tail.
	unread bool
	tail   []byte
}

func newOutbox() *outbox {
	o := &outbox{}
	o.cond.L = &o.mu
	return o
}

// writer is one stream of an outbox, an io.Writer.
type writer struct {
	o      *outbox
	stream agentpb.Stream
}

func (w writer) Write(p []byte) (int, error) {
	w.o.write(w.stream, p, true)
	return len(p), nil
}

// write queues p; with wait, it first waits while too much is pending.
// The agent's own notes do not wait: a client that stopped reading must
// not keep the agent from stopping its session.
func (o *outbox) write(stream agentpb.Stream, p []byte, wait bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for wait && !o.unread && o.pending >= maxPending {
		o.cond.Wait()
	}
	if o.unread {
		o.keepTail(p)
		return
	}
	for len(p) > 0 {
		n := len(p)
		last := len(o.segs) - 1
		if last >= 0 && o.segs[last].stream == stream && len(o.segs[last].data) < maxChunk {
			n = min(n, maxChunk-len(o.segs[last].data))
			o.segs[last].data = append(o.segs[last].data, p[:n]...)
		} else {
			n = min(n, maxChunk)
			o.segs = append(o.segs, segment{stream, append(make([]byte, 0, min(maxChunk, max(n, 4096))), p[:n]...)})
		}
		o.pending += n
		p = p[n:]
	}
	o.cond.Broadcast()
}

// mark queues the attached mark after the output written so far.
func (o *outbox) mark() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.unread {
		o.segs = append(o.segs, segment{stream: agentpb.Stream_STREAM_UNSPECIFIED})
		o.cond.Broadcast()
	}
}

// keepTail appends p to the tail, keeping its last tailSize bytes.
func (o *outbox) keepTail(p []byte) {
	if len(p) >= tailSize {
		o.tail = append(o.tail[:0], p[len(p)-tailSize:]...)
		return
	}
	if over := len(o.tail) + len(p) - tailSize; over > 0 {
		o.tail = append(o.tail[:0], o.tail[over:]...)
	}
	o.tail = append(o.tail, p...)
}

// take waits for output and returns all of it; done is true once the
// runner has returned and everything it wrote has been taken, or no
// client reads any more.
func (o *outbox) take() (segs []segment, done bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for len(o.segs) == 0 && !o.closed && !o.unread {
		o.cond.Wait()
	}
	if o.unread {
		return nil, true
	}
	segs, o.segs, o.pending = o.segs, nil, 0
	o.cond.Broadcast()
	return segs, len(segs) == 0 && o.closed
}

// close says the runner has returned.
func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.cond.Broadcast()
	o.mu.Unlock()
}

// abandon says no client reads any more: what waits goes to the tail, and
// so does every later write.
func (o *outbox) abandon() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.unread {
		return
	}
	o.unread = true
	for _, s := range o.segs {
		o.keepTail(s.data)
	}
	o.segs, o.pending = nil, 0
	o.cond.Broadcast()
}

// lastOutput is the tail kept since no client reads.
func (o *outbox) lastOutput() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]byte(nil), o.tail...)
}
