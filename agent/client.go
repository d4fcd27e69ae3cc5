package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/wagglebpf/waggle/agent/agentpb"
)

// DialOptions say how a client reaches an agent.
type DialOptions struct {
	// TLS is the client side of mutual TLS (ClientTLS), for tcp://.
	TLS *tls.Config
	// InsecureLoopback allows tcp:// without TLS to a loopback address.
	InsecureLoopback bool
	// MaxProgramSize bounds the programs this client sends (0: the
	// agent's default limit).
	MaxProgramSize int64
	// StopGrace is how long Run waits for the agent to end a session
	// after asking it to stop, before it drops the connection (which
	// ends the session too). Zero means 30 seconds.
	StopGrace time.Duration
}

// Client talks to one agent.
type Client struct {
	addr  Address
	conn  *grpc.ClientConn
	rpc   agentpb.AgentClient
	grace time.Duration
}

// Dial prepares a connection to the agent at addr (unix:///PATH or
// tcp://HOST:PORT). It does not connect yet: the first call does, and
// reports an agent that cannot be reached or refuses this client.
func Dial(addr string, o DialOptions) (*Client, error) {
	a, err := ParseAddress(addr)
	if err != nil {
		return nil, err
	}
	var creds credentials.TransportCredentials
	target := "unix://" + a.Path
	if a.Network == "tcp" {
		target = "passthrough:///" + a.HostPort
		switch {
		case o.TLS != nil:
			creds = credentials.NewTLS(o.TLS)
		case !o.InsecureLoopback:
			return nil, fmt.Errorf("%s: TCP needs mutual TLS (--tls-cert, --tls-key, --ca); plain TCP is allowed only with --insecure-loopback to a loopback address", a)
		case !a.Loopback():
			return nil, fmt.Errorf("%s: --insecure-loopback allows plain TCP only to a loopback address (127.0.0.1, ::1, localhost); anything else needs mutual TLS", a)
		}
	}
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	size := o.MaxProgramSize
	if size <= 0 {
		size = DefaultMaxProgramSize
	}
	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallSendMsgSize(int(size)+messageOverhead),
			grpc.MaxCallRecvMsgSize(1<<30),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a, err)
	}
	grace := o.StopGrace
	if grace == 0 {
		grace = 30 * time.Second
	}
	return &Client{addr: a, conn: conn, rpc: agentpb.NewAgentClient(conn), grace: grace}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Info describes the agent's machine and kernel.
func (c *Client) Info(ctx context.Context) (*agentpb.InfoResponse, error) {
	resp, err := c.rpc.Info(ctx, &agentpb.InfoRequest{})
	return resp, c.explain(err)
}

// KernelBTF copies the target kernel's BTF (module "" for vmlinux) to w
// and returns how many bytes it wrote.
func (c *Client) KernelBTF(ctx context.Context, module string, w io.Writer) (int64, error) {
	stream, err := c.rpc.KernelBTF(ctx, &agentpb.KernelBTFRequest{Module: module})
	if err != nil {
		return 0, c.explain(err)
	}
	var n int64
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, c.explain(err)
		}
		m, err := w.Write(chunk.Data)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
}

// Sessions lists the sessions running in the agent.
func (c *Client) Sessions(ctx context.Context) ([]*agentpb.SessionInfo, error) {
	resp, err := c.rpc.ListSessions(ctx, &agentpb.ListSessionsRequest{})
	if err != nil {
		return nil, c.explain(err)
	}
	return resp.Sessions, nil
}

// StopSession stops a session and waits for it to end.
func (c *Client) StopSession(ctx context.Context, id uint64) (*agentpb.StopSessionResponse, error) {
	resp, err := c.rpc.StopSession(ctx, &agentpb.StopSessionRequest{Id: id})
	return resp, c.explain(err)
}

// ReadMaps reads the maps of a running session.
func (c *Client) ReadMaps(ctx context.Context, req *agentpb.ReadMapsRequest) ([]*agentpb.MapContents, error) {
	resp, err := c.rpc.ReadMaps(ctx, req)
	if err != nil {
		return nil, c.explain(err)
	}
	return resp.Maps, nil
}

// RunError is a remote run that failed: the error the local command would
// have printed, and its exit status.
type RunError struct {
	Code int
	Msg  string
	// Formatted errors carry their own position prefix (FILE:LINE:COL)
	// and print as they are, without the command's name.
	Formatted bool
}

func (e *RunError) Error() string { return e.Msg }

// Result is how a remote run ended.
type Result struct {
	// Session is the session's ID in the agent.
	Session uint64
	// Code is the exit status the local command would have.
	Code int
	// Detached is true when Run returned once the agent had attached a
	// detached session's program, which runs on.
	Detached bool
}

// Run runs a program in the agent and copies what it prints to stdout and
// stderr as it comes. When ctx ends (Ctrl-C), the agent is asked to stop
// the session as a local run stops on Ctrl-C, and Run goes on copying
// until the session has ended. A run that fails returns a *RunError with
// the remote error and status; a run started with Detach returns once
// the agent says the program is attached, having copied what it printed
// until then (load errors are reported as for any run).
func (c *Client) Run(ctx context.Context, start *agentpb.Start, stdout, stderr io.Writer) (Result, error) {
	var res Result
	// The stream outlives ctx: cancelling it would drop the connection
	// instead of stopping the session cleanly.
	streamCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stream, err := c.rpc.Run(streamCtx)
	if err != nil {
		return res, c.explain(err)
	}
	if err := stream.Send(&agentpb.RunRequest{Msg: &agentpb.RunRequest_Start{Start: start}}); err != nil && err != io.EOF {
		return res, c.explain(err)
	}
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-streamCtx.Done():
			return
		}
		stream.Send(&agentpb.RunRequest{Msg: &agentpb.RunRequest_Stop{Stop: &agentpb.Stop{}}})
		close(stopped)
		select {
		case <-time.After(c.grace):
			cancel()
		case <-streamCtx.Done():
		}
	}()
	for {
		m, err := stream.Recv()
		if err != nil {
			select {
			case <-stopped:
				if status.Code(err) == codes.Canceled {
					return res, fmt.Errorf("%s: the session did not end within %s of the stop request; the connection was dropped, which ends it", c.addr, c.grace)
				}
			default:
			}
			if err == io.EOF {
				return res, fmt.Errorf("%s: the agent ended the run without an exit status", c.addr)
			}
			return res, c.explain(err)
		}
		switch msg := m.Msg.(type) {
		case *agentpb.RunResponse_Started:
			res.Session = msg.Started.SessionId
		case *agentpb.RunResponse_Attached:
			if start.Detach {
				res.Detached = true
				return res, nil
			}
		case *agentpb.RunResponse_Output:
			w := stdout
			if msg.Output.Stream == agentpb.Stream_STREAM_STDERR {
				w = stderr
			}
			if _, err := w.Write(msg.Output.Data); err != nil {
				return res, err
			}
		case *agentpb.RunResponse_Exit:
			res.Code = int(msg.Exit.Code)
			if msg.Exit.Error != "" {
				return res, &RunError{Code: res.Code, Msg: msg.Exit.Error, Formatted: msg.Exit.ErrorFormatted}
			}
			return res, nil
		}
	}
}

// RemoteRun dials addr, runs start there with Client.Run, and closes the
// connection: the whole of `--remote` for a command.
func RemoteRun(ctx context.Context, addr string, o DialOptions, start *agentpb.Start, stdout, stderr io.Writer) (Result, error) {
	c, err := Dial(addr, o)
	if err != nil {
		return Result{Code: 1}, err
	}
	defer c.Close()
	res, err := c.Run(ctx, start, stdout, stderr)
	if err != nil && res.Code == 0 {
		res.Code = 1
	}
	return res, err
}

// explain turns a gRPC failure into a sentence. What the agent refused
// (bad options, limits) reads as the local command's error would; failing
// to reach it names the address.
func (c *Client) explain(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.ResourceExhausted:
		if strings.Contains(st.Message(), "received message larger than max") {
			return fmt.Errorf("agent at %s: the program is larger than the agent accepts (its --max-program-size): %s", c.addr, st.Message())
		}
		return fmt.Errorf("agent at %s: %s", c.addr, st.Message())
	case codes.InvalidArgument:
		return errors.New(st.Message())
	case codes.Unavailable:
		return fmt.Errorf("cannot use the agent at %s (is it running, and does it accept this client?): %s", c.addr, st.Message())
	case codes.Unimplemented, codes.NotFound, codes.FailedPrecondition, codes.Unauthenticated, codes.PermissionDenied:
		return fmt.Errorf("agent at %s: %s", c.addr, st.Message())
	}
	return fmt.Errorf("agent at %s: %s (%s)", c.addr, st.Message(), st.Code())
}
