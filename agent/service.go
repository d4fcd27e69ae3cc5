package agent

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/wagglebpf/waggle/agent/agentpb"
	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/lang/parser"
)

// liveSession is one program running in the agent.
type liveSession struct {
	id       uint64
	client   Identity
	name     string
	kind     agentpb.ProgramKind
	sum      string
	size     int64
	started  time.Time
	deadline time.Time // zero: no lifetime
	detach   bool

	out  *outbox
	maps *mapSlot
	// ctx ends when the session must stop; cancel ends it with a reason.
	ctx    context.Context
	cancel context.CancelCauseFunc
	// done is closed once the runner has returned and the session is
	// unregistered: nothing of it is left in the kernel.
	done chan struct{}

	mu       sync.Mutex
	attached bool
	stopping bool
	// loaded: the runner has said the program is attached.
	loaded bool
	// collected is set when StopSession stops it: its caller hears the
	// exit, so the session need not be kept once it has ended.
	collected bool
	exit      *agentpb.Exit
}

// stop asks the session to end, as Ctrl-C ends a local run.
func (s *liveSession) stop(reason string) {
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	s.cancel(errors.New(reason))
}

// clientGone is called when the client streaming the session's output has
// gone: its output goes to the tail from now on, and unless detached the
// session ends.
func (s *liveSession) clientGone() {
	s.mu.Lock()
	s.attached = false
	s.mu.Unlock()
	s.out.abandon()
	if !s.detach {
		s.stop("the client went away")
	}
}

func (s *liveSession) info() *agentpb.SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	si := &agentpb.SessionInfo{
		Id: s.id, Client: s.client.String(), ProgramName: s.name, Kind: s.kind,
		ProgramSha256: s.sum, ProgramSize: s.size, Started: timestamppb.New(s.started),
		Detach: s.detach, Attached: s.attached, Stopping: s.stopping, Loaded: s.loaded,
	}
	if !s.deadline.IsZero() {
		si.Deadline = timestamppb.New(s.deadline)
	}
	si.Exit = s.exit
	return si
}

// service implements the gRPC service on a Server.
type service struct {
	agentpb.UnimplementedAgentServer
	srv *Server
}

func (v *service) Run(stream agentpb.Agent_RunServer) error {
	srv := v.srv
	client := identityFrom(stream.Context())
	if client.Transport == "unknown" {
		return status.Error(codes.Unauthenticated, "the connection was not authenticated")
	}
	start, err := recvStart(stream, srv.cfg.MaxProgramSize)
	if err == nil {
		err = checkStart(start, srv.cfg.MaxProgramSize)
		if errors.Is(err, errTooLarge) {
			err = status.Error(codes.ResourceExhausted, err.Error())
		} else if err != nil {
			err = status.Error(codes.InvalidArgument, err.Error())
		}
	}
	var runner Runner
	var kind agentpb.ProgramKind
	if err == nil {
		runner, kind, err = srv.pickRunner(start)
	}
	var sess *liveSession
	if err == nil {
		sess, err = srv.register(start, kind, client)
	}
	if err != nil {
		srv.log.Warn("refused run", "client", client.String(), "reason", status.Convert(err).Message())
		return err
	}
	job := &Job{
		Session: sess.id, Name: start.Name, Program: start.Program, Options: start.Options,
		Stdout:  writer{sess.out, agentpb.Stream_STREAM_STDOUT},
		Stderr:  writer{sess.out, agentpb.Stream_STREAM_STDERR},
		maps:    sess.maps,
		metrics: srv.cfg.Metrics,
		attached: sync.OnceFunc(func() {
			sess.mu.Lock()
			sess.loaded = true
			sess.mu.Unlock()
			sess.out.mark()
		}),
	}
	srv.log.Info("load", "session", sess.id, "client", client.String(), "program", sess.name,
		"kind", describeKind(kind), "size", sess.size, "sha256", sess.sum, "detach", sess.detach,
		"options", describeOptions(start.Options))
	if err := stream.Send(&agentpb.RunResponse{Msg: &agentpb.RunResponse_Started{Started: &agentpb.Started{SessionId: sess.id}}}); err != nil {
		sess.cancel(nil)
		srv.unregister(sess, false)
		srv.running.Done()
		return err
	}
	srv.launch(sess, runner, job)
	go receive(stream, sess, srv.log)

	for {
		segs, done := sess.out.take()
		for _, seg := range segs {
			m := &agentpb.RunResponse{Msg: &agentpb.RunResponse_Output{Output: &agentpb.Output{Stream: seg.stream, Data: seg.data}}}
			if seg.stream == agentpb.Stream_STREAM_UNSPECIFIED {
				m = &agentpb.RunResponse{Msg: &agentpb.RunResponse_Attached{Attached: &agentpb.Attached{}}}
			}
			if err := stream.Send(m); err != nil {
				sess.clientGone()
				break
			}
		}
		if done {
			break
		}
	}
	if !sess.detach {
		// The handler ends after the session, so that a client that got
		// an answer (or a test) knows nothing of it is left in the kernel.
		<-sess.done
	}
	select {
	case <-sess.done:
	default:
		// Detached, and its client has gone: the session runs on.
		return status.Error(codes.Canceled, "the client went away")
	}
	sess.mu.Lock()
	exit := sess.exit
	sess.mu.Unlock()
	return stream.Send(&agentpb.RunResponse{Msg: &agentpb.RunResponse_Exit{Exit: exit}})
}

// recvStart waits for the first message of a run, which must be a Start.
func recvStart(stream agentpb.Agent_RunServer, maxSize int64) (*agentpb.Start, error) {
	type result struct {
		m   *agentpb.RunRequest
		err error
	}
	got := make(chan result, 1)
	go func() {
		m, err := stream.Recv()
		got <- result{m, err}
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	var r result
	select {
	case r = <-got:
	case <-timer.C:
		return nil, status.Errorf(codes.DeadlineExceeded, "no Start message within %s", startTimeout)
	}
	switch {
	case r.err == io.EOF:
		return nil, status.Error(codes.InvalidArgument, "the client ended the run before sending a Start message")
	case status.Code(r.err) == codes.ResourceExhausted:
		return nil, status.Errorf(codes.ResourceExhausted, "the program is larger than the agent's limit of %d bytes (--max-program-size)", maxSize)
	case r.err != nil:
		return nil, r.err
	case r.m.GetStart() == nil:
		return nil, status.Error(codes.InvalidArgument, "a run must begin with a Start message")
	}
	return r.m.GetStart(), nil
}

// receive reads what the client sends after its Start: Stop messages,
// then the end of the stream.
func receive(stream agentpb.Agent_RunServer, sess *liveSession, log *slog.Logger) {
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			// The client closed its side and still reads the output.
			return
		}
		if err != nil {
			sess.clientGone()
			return
		}
		if m.GetStop() != nil {
			log.Info("stop requested", "session", sess.id, "client", sess.client.String())
			sess.stop("stopped by the client")
		}
	}
}

// pickRunner chooses the runner for a program: the one for its declared
// kind (which then reports a program that is not of that kind, as the
// local command does), or the first that recognises its first bytes.
func (s *Server) pickRunner(st *agentpb.Start) (Runner, agentpb.ProgramKind, error) {
	if st.Kind != agentpb.ProgramKind_PROGRAM_KIND_UNSPECIFIED {
		r := s.cfg.Runners[st.Kind]
		if r == nil {
			return nil, 0, status.Errorf(codes.Unimplemented, "this agent cannot run %s programs", describeKind(st.Kind))
		}
		return r, st.Kind, nil
	}
	for _, k := range []agentpb.ProgramKind{agentpb.ProgramKind_PROGRAM_KIND_ELF, agentpb.ProgramKind_PROGRAM_KIND_COMPILED} {
		if r := s.cfg.Runners[k]; r != nil && r.Accepts(st.Program) {
			return r, k, nil
		}
	}
	return nil, 0, status.Errorf(codes.InvalidArgument, "%s is neither a BPF ELF object nor a program this agent can run", st.Name)
}

// register adds a session, within the limit on sessions.
func (s *Server) register(st *agentpb.Start, kind agentpb.ProgramKind, client Identity) (*liveSession, error) {
	sum := sha256.Sum256(st.Program)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, status.Error(codes.Unavailable, "the agent is shutting down")
	}
	if len(s.sessions) >= s.cfg.MaxSessions {
		return nil, status.Errorf(codes.ResourceExhausted, "the agent runs %d sessions already, its limit (--max-sessions)", len(s.sessions))
	}
	s.nextID++
	sess := &liveSession{
		id: s.nextID, client: client, name: st.Name, kind: kind,
		sum: hex.EncodeToString(sum[:]), size: int64(len(st.Program)),
		started: time.Now(), detach: st.Detach,
		out: newOutbox(), maps: &mapSlot{}, done: make(chan struct{}),
		attached: true,
	}
	if s.cfg.SessionLifetime > 0 {
		sess.deadline = sess.started.Add(s.cfg.SessionLifetime)
	}
	// Made here, under the lock, so that Shutdown can stop a session that
	// is not launched yet.
	sess.ctx, sess.cancel = context.WithCancelCause(s.ctx)
	s.sessions[sess.id] = sess
	s.running.Add(1)
	return sess, nil
}

// unregister removes a session that ended; keep keeps it among the
// ended sessions for StopSession to collect.
func (s *Server) unregister(sess *liveSession, keep bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, sess.id)
	if keep {
		if len(s.ended) == maxEnded {
			s.ended = s.ended[1:]
		}
		s.ended = append(s.ended, sess)
	}
}

// maxEnded bounds the ended sessions kept for collection.
const maxEnded = 64

// collectEnded removes and returns the ended session id, or nil.
func (s *Server) collectEnded(id uint64) *liveSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, sess := range s.ended {
		if sess.id == id {
			s.ended = slices.Delete(s.ended, i, i+1)
			return sess
		}
	}
	return nil
}

// launch runs the job on its own goroutine. When the runner returns, the
// exit is recorded, the output closed and the session unregistered.
func (s *Server) launch(sess *liveSession, runner Runner, job *Job) {
	ctx, cancel := sess.ctx, sess.cancel
	var lifetime *time.Timer
	if s.cfg.SessionLifetime > 0 {
		lifetime = time.AfterFunc(s.cfg.SessionLifetime, func() {
			note := fmt.Sprintf("waggle: the session reached its lifetime of %s (--session-lifetime); stopping\n", s.cfg.SessionLifetime)
			sess.out.write(agentpb.Stream_STREAM_STDERR, []byte(note), false)
			sess.stop("its lifetime ended")
		})
	}
	go func() {
		defer s.running.Done()
		code, err := runGuarded(ctx, runner, job, s.log)
		if lifetime != nil {
			lifetime.Stop()
		}
		exit := exitFor(code, err)
		sess.mu.Lock()
		sess.exit = exit
		// Nobody heard how a detached session ended if its client had
		// gone: it is kept for waggle agent stop to collect.
		keep := sess.detach && !sess.attached && !sess.collected
		sess.mu.Unlock()
		sess.out.close()
		reason := context.Cause(ctx)
		cancel(nil)
		s.unregister(sess, keep)
		close(sess.done)
		attrs := []any{"session", sess.id, "client", sess.client.String(), "program", sess.name,
			"exit", exit.Code, "seconds", time.Since(sess.started).Round(time.Millisecond).Seconds()}
		if reason != nil {
			attrs = append(attrs, "stopped", reason.Error())
		}
		if exit.Error != "" {
			attrs = append(attrs, "error", exit.Error)
		}
		s.log.Info("session ended", attrs...)
	}()
}

// runGuarded runs the job, turning a panic into an error: one session's
// failure must not take down the others. The runner's own deferred
// teardown runs while the panic unwinds.
func runGuarded(ctx context.Context, r Runner, job *Job, log *slog.Logger) (code int, err error) {
	defer func() {
		if p := recover(); p != nil {
			code, err = 1, internalError(log, "run", p)
		}
	}()
	return r.Run(ctx, job)
}

func internalError(log *slog.Logger, where string, p any) error {
	log.Error("panic", "in", where, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	return status.Errorf(codes.Internal, "internal error in the agent: %v", p)
}

// exitFor is the Exit a runner's result makes.
func exitFor(code int, err error) *agentpb.Exit {
	e := &agentpb.Exit{Code: int32(code)}
	if err != nil {
		if st, ok := status.FromError(err); ok {
			e.Error = st.Message()
		} else {
			e.Error = err.Error()
		}
		var scripted parser.ErrorList
		e.ErrorFormatted = errors.As(err, &scripted)
		if code == 0 {
			e.Code = 1
		}
	}
	return e
}

func (v *service) ListSessions(ctx context.Context, _ *agentpb.ListSessionsRequest) (*agentpb.ListSessionsResponse, error) {
	return &agentpb.ListSessionsResponse{Sessions: v.srv.AllSessions()}, nil
}

// AllSessions describes the running sessions and the ended ones kept for
// collection (those with Exit set), by ID.
func (s *Server) AllSessions() []*agentpb.SessionInfo {
	all := s.Sessions()
	s.mu.Lock()
	ended := slices.Clone(s.ended)
	s.mu.Unlock()
	for _, sess := range ended {
		all = append(all, sess.info())
	}
	slices.SortFunc(all, func(a, b *agentpb.SessionInfo) int { return cmp.Compare(a.Id, b.Id) })
	return all
}

// Sessions describes the running sessions, in the order they started.
func (s *Server) Sessions() []*agentpb.SessionInfo {
	s.mu.Lock()
	all := slices.Sorted(maps.Keys(s.sessions))
	list := make([]*liveSession, len(all))
	for i, id := range all {
		list[i] = s.sessions[id]
	}
	s.mu.Unlock()
	out := make([]*agentpb.SessionInfo, len(list))
	for i, sess := range list {
		out[i] = sess.info()
	}
	return out
}

func (s *Server) session(id uint64) (*liveSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[id]
	if sess == nil {
		return nil, status.Errorf(codes.NotFound, "no session %d is running", id)
	}
	return sess, nil
}

func (v *service) StopSession(ctx context.Context, req *agentpb.StopSessionRequest) (*agentpb.StopSessionResponse, error) {
	client := identityFrom(ctx)
	sess, err := v.srv.session(req.Id)
	if err != nil {
		// Not running: it may have ended, detached, with nobody told.
		if sess = v.srv.collectEnded(req.Id); sess == nil {
			return nil, err
		}
		v.srv.log.Info("collected ended session", "session", sess.id, "client", client.String())
		return sess.ending(), nil
	}
	v.srv.log.Info("stop requested", "session", sess.id, "client", client.String())
	sess.mu.Lock()
	sess.collected = true
	sess.mu.Unlock()
	sess.stop("stopped by " + client.String())
	select {
	case <-sess.done:
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	// It may have ended by itself, and been kept, just before the stop.
	v.srv.collectEnded(req.Id)
	return sess.ending(), nil
}

// ending is how an ended session ended, for StopSession.
func (s *liveSession) ending() *agentpb.StopSessionResponse {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &agentpb.StopSessionResponse{Exit: s.exit, OutputTail: s.out.lastOutput()}
}

func (v *service) ReadMaps(ctx context.Context, req *agentpb.ReadMapsRequest) (*agentpb.ReadMapsResponse, error) {
	switch req.Format {
	case "", "text", "json":
	default:
		return nil, status.Errorf(codes.InvalidArgument, "format %q: expected text or json", attach.Shorten(req.Format))
	}
	if len(req.Names) > maxListLen {
		return nil, status.Errorf(codes.InvalidArgument, "%d map names, more than %d", len(req.Names), maxListLen)
	}
	for _, n := range req.Names {
		if err := checkText("map name", n, maxStringLen); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
	}
	dumps, err := v.srv.ReadMaps(ctx, req.SessionId, MapQuery{Names: req.Names, JSON: req.Format == "json", PerCPU: req.PerCpu})
	if err != nil {
		return nil, err
	}
	resp := &agentpb.ReadMapsResponse{}
	for _, d := range dumps {
		mc := &agentpb.MapContents{Name: d.Name, PerCpu: d.PerCPU, Text: d.Text}
		for _, e := range d.Entries {
			mc.Entries = append(mc.Entries, &agentpb.MapEntry{Key: e.Key, Values: e.Values})
		}
		resp.Maps = append(resp.Maps, mc)
	}
	return resp, nil
}

// ReadMaps reads the maps of a running session. The metrics exporter reads
// them through this.
func (s *Server) ReadMaps(ctx context.Context, id uint64, q MapQuery) ([]MapDump, error) {
	sess, err := s.session(id)
	if err != nil {
		return nil, err
	}
	dumps, ok, err := sess.maps.readMaps(ctx, q)
	switch {
	case !ok:
		return nil, status.Errorf(codes.FailedPrecondition, "session %d has no maps to read: its program is still loading, or already ending", id)
	case err != nil:
		return nil, status.Errorf(codes.Unknown, "session %d: %v", id, err)
	}
	return dumps, nil
}

// describeOptions summarises run options for the load log.
func describeOptions(o *agentpb.RunOptions) string {
	return prototext.MarshalOptions{}.Format(o)
}
