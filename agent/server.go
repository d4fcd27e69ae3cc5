package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/wagglebpf/waggle/agent/agentpb"
	"github.com/wagglebpf/waggle/agent/metrics"
)

// Defaults of the limits a Config leaves at zero.
const (
	DefaultMaxSessions    = 16
	DefaultMaxProgramSize = 16 << 20
)

const (
	// startTimeout is how long a client may take to send its Start.
	startTimeout = 30 * time.Second
	// handshakeTimeout bounds a connection's TLS or credential handshake.
	handshakeTimeout = 10 * time.Second
	// messageOverhead is what a Start may carry besides the program.
	messageOverhead = 1 << 20
)

// Config configures a Server.
type Config struct {
	// Listen are the addresses to listen on (ParseAddress); none means
	// DefaultAddress.
	Listen []string
	// TLS is the server side of mutual TLS (ServerTLS), for tcp://
	// addresses.
	TLS *tls.Config
	// InsecureLoopback allows tcp:// without TLS on a loopback address.
	// Clients are then identified by the user owning their socket, and
	// the Policy applies as on a Unix socket.
	InsecureLoopback bool
	// Policy says which local users may connect besides root.
	Policy Policy
	// SocketGroup, a group name or number, owns Unix sockets, which are
	// then mode 0660 instead of 0600, and its members may connect.
	SocketGroup string
	// MaxSessions bounds the sessions running at once.
	MaxSessions int
	// MaxProgramSize bounds the program a client may send, in bytes.
	MaxProgramSize int64
	// SessionLifetime stops a session this long after it started; zero
	// means no limit.
	SessionLifetime time.Duration
	// Runners run each kind of program; nil means an ObjectRunner for ELF
	// objects and a CompiledRunner for compiled bpftrace programs.
	Runners map[agentpb.ProgramKind]Runner
	// AllowUnsafe lets the default CompiledRunner run programs compiled
	// with --unsafe (system(), signal()).
	AllowUnsafe bool
	// Metrics, when set, exports what sessions run while they run: a
	// script's maps, and the run counts and times of an object's
	// programs, each source named by its session ID.
	Metrics *metrics.Exporter
	// Logger receives one line per load, session end and refusal; nil
	// discards them.
	Logger *slog.Logger
	// Version is reported by Info.
	Version string
}

// Server is the agent: it listens, authenticates clients, and runs their
// programs in sessions.
type Server struct {
	cfg       Config
	log       *slog.Logger
	socketGID int // -1: no SocketGroup
	facts     kernelFacts

	// ctx ends every session when the server shuts down.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	listeners []*listener
	sessions  map[uint64]*liveSession
	// ended are detached sessions that ended after their client had
	// gone, oldest first, kept until StopSession collects them.
	ended   []*liveSession
	nextID  uint64
	closing bool
	// running counts sessions whose runner has not returned.
	running sync.WaitGroup
}

type listener struct {
	addr Address
	ln   net.Listener
	grpc *grpc.Server
}

// NewServer checks cfg and returns a Server that is not listening yet.
func NewServer(cfg Config) (*Server, error) {
	if len(cfg.Listen) == 0 {
		cfg.Listen = []string{DefaultAddress}
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.MaxProgramSize == 0 {
		cfg.MaxProgramSize = DefaultMaxProgramSize
	}
	switch {
	case cfg.MaxSessions < 0:
		return nil, fmt.Errorf("--max-sessions %d: must be at least 1", cfg.MaxSessions)
	case cfg.MaxProgramSize < 0 || cfg.MaxProgramSize > 1<<30:
		return nil, fmt.Errorf("--max-program-size %d: must be between 1 byte and 1 GiB", cfg.MaxProgramSize)
	case cfg.SessionLifetime < 0:
		return nil, fmt.Errorf("--session-lifetime %s: must not be negative", cfg.SessionLifetime)
	}
	if cfg.Runners == nil {
		cfg.Runners = map[agentpb.ProgramKind]Runner{
			agentpb.ProgramKind_PROGRAM_KIND_ELF:      ObjectRunner{},
			agentpb.ProgramKind_PROGRAM_KIND_COMPILED: CompiledRunner{AllowUnsafe: cfg.AllowUnsafe},
		}
	}
	s := &Server{cfg: cfg, log: cfg.Logger, socketGID: -1, sessions: map[uint64]*liveSession{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if cfg.SocketGroup != "" {
		gid, err := lookupGroup(cfg.SocketGroup)
		if err != nil {
			return nil, err
		}
		s.socketGID = gid
		s.cfg.Policy.AllowGIDs = append(s.cfg.Policy.AllowGIDs, uint32(gid))
	}
	for _, a := range cfg.Listen {
		addr, err := ParseAddress(a)
		if err != nil {
			return nil, err
		}
		if err := checkTransport(addr, cfg); err != nil {
			return nil, err
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// checkTransport refuses a TCP address that would let an unauthenticated
// client in.
func checkTransport(addr Address, cfg Config) error {
	if addr.Network != "tcp" || cfg.TLS != nil {
		return nil
	}
	if !cfg.InsecureLoopback {
		return fmt.Errorf("%s: TCP needs mutual TLS (--tls-cert, --tls-key, --client-ca); plain TCP is allowed only with --insecure-loopback on a loopback address", addr)
	}
	if !addr.Loopback() {
		return fmt.Errorf("%s: --insecure-loopback allows plain TCP only on a loopback address (127.0.0.1, ::1, localhost); anything else needs mutual TLS", addr)
	}
	return nil
}

func lookupGroup(name string) (int, error) {
	if n, err := strconv.ParseUint(name, 10, 31); err == nil {
		return int(n), nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, fmt.Errorf("--socket-group %s: no such group", name)
	}
	n, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("--socket-group %s: group ID %q is not a number", name, g.Gid)
	}
	return n, nil
}

// Listen opens every configured address and returns them as bound (a TCP
// port 0 becomes the port the kernel chose).
func (s *Server) Listen() ([]Address, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.listeners) > 0 {
		return nil, errors.New("the agent is listening already")
	}
	var out []Address
	for _, a := range s.cfg.Listen {
		addr, _ := ParseAddress(a) // checked by NewServer
		l, err := s.listen(addr)
		if err != nil {
			for _, l := range s.listeners {
				l.ln.Close()
			}
			s.listeners = nil
			return nil, err
		}
		s.listeners = append(s.listeners, l)
		out = append(out, l.addr)
	}
	return out, nil
}

func (s *Server) listen(addr Address) (*listener, error) {
	var ln net.Listener
	var creds credentials.TransportCredentials
	var err error
	switch {
	case addr.Network == "unix":
		ln, err = s.listenUnix(addr.Path)
		creds = &peerCreds{transport: "unix", policy: s.cfg.Policy, log: s.log}
	case s.cfg.TLS != nil:
		ln, err = net.Listen("tcp", addr.HostPort)
		creds = &tlsCreds{credentials.NewTLS(s.cfg.TLS), s.cfg.Policy, s.log}
	default:
		ln, err = net.Listen("tcp", addr.HostPort)
		if err == nil && !(Address{Network: "tcp", HostPort: ln.Addr().String()}).Loopback() {
			ln.Close()
			return nil, fmt.Errorf("%s: the address resolved to %s, which is not a loopback address", addr, ln.Addr())
		}
		creds = &peerCreds{transport: "tcp", policy: s.cfg.Policy, log: s.log}
	}
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	if addr.Network == "tcp" {
		addr.HostPort = ln.Addr().String()
	}
	g := grpc.NewServer(
		grpc.Creds(creds),
		grpc.ConnectionTimeout(handshakeTimeout),
		grpc.MaxRecvMsgSize(int(s.cfg.MaxProgramSize)+messageOverhead),
		// A client that vanishes without closing its connection (a host
		// that lost power) is noticed within a minute.
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 20 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.ChainUnaryInterceptor(recoverUnary(s.log)),
		grpc.ChainStreamInterceptor(recoverStream(s.log)),
	)
	agentpb.RegisterAgentServer(g, &service{srv: s})
	return &listener{addr: addr, ln: ln, grpc: g}, nil
}

// listenUnix creates the socket in a directory only root (or the agent's
// user) can write, so nobody else can replace it, and gives it mode 0600,
// or 0660 with the socket group.
func (s *Server) listenUnix(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := checkSocketDir(dir); err != nil {
		return nil, err
	}
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket; remove it or choose another path", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("another agent is listening on %s", path)
		}
		// A socket nobody listens on is left from an agent that died.
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	mode := os.FileMode(0o600)
	if s.socketGID >= 0 {
		mode = 0o660
		if err := os.Chown(path, -1, s.socketGID); err != nil {
			ln.Close()
			return nil, fmt.Errorf("give %s to group %d: %w", path, s.socketGID, err)
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// checkSocketDir refuses a directory that another user could write in.
func checkSocketDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: cannot read its owner", dir)
	}
	if sys.Uid != 0 && int(sys.Uid) != os.Geteuid() {
		return fmt.Errorf("the socket's directory %s belongs to uid %d, who could replace the socket; use a directory owned by root, such as /run/waggle", dir, sys.Uid)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("the socket's directory %s is writable by other users (mode %04o), who could replace the socket; use a directory only root can write, such as /run/waggle", dir, st.Mode().Perm())
	}
	return nil
}

// Serve answers clients on every listener until Shutdown. It returns nil
// after Shutdown, or the first listener's failure.
func (s *Server) Serve() error {
	s.mu.Lock()
	ls := s.listeners
	s.mu.Unlock()
	if len(ls) == 0 {
		return errors.New("the agent is not listening: call Listen first")
	}
	errs := make(chan error, len(ls))
	for _, l := range ls {
		s.log.Info("listening", "address", l.addr.String())
		go func() { errs <- l.grpc.Serve(l.ln) }()
	}
	var first error
	for range ls {
		if err := <-errs; err != nil && first == nil && !errors.Is(err, grpc.ErrServerStopped) {
			first = fmt.Errorf("serve: %w", err)
			// One listener failing takes the agent down: stop the rest.
			go s.Shutdown(context.Background())
		}
	}
	return first
}

// Shutdown refuses new sessions, stops every running one, waits for them
// to end (their programs detached and unloaded) until ctx ends, then
// closes the listeners and connections.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	ls := s.listeners
	for _, sess := range s.sessions {
		sess.stop("the agent is shutting down")
	}
	s.mu.Unlock()

	ended := make(chan struct{})
	go func() {
		s.running.Wait()
		close(ended)
	}()
	var err error
	select {
	case <-ended:
	case <-ctx.Done():
		err = fmt.Errorf("sessions still ending at shutdown: %w", ctx.Err())
	}
	s.cancel()
	for _, l := range ls {
		stopped := make(chan struct{})
		go func() {
			l.grpc.GracefulStop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-ctx.Done():
			l.grpc.Stop()
		}
	}
	return err
}

// limits are the agent's limits as Info reports them.
func (s *Server) limits() *agentpb.Limits {
	l := &agentpb.Limits{MaxSessions: int32(s.cfg.MaxSessions), MaxProgramSize: s.cfg.MaxProgramSize}
	if s.cfg.SessionLifetime > 0 {
		l.SessionLifetime = durationpb.New(s.cfg.SessionLifetime)
	}
	return l
}

// recoverUnary turns a panic in a handler into an Internal error: a bug
// must not take down an agent that holds other clients' sessions.
func recoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = internalError(log, info.FullMethod, r)
			}
		}()
		return handler(ctx, req)
	}
}

func recoverStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = internalError(log, info.FullMethod, r)
			}
		}()
		return handler(srv, ss)
	}
}
