package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/wagglebpf/waggle/agent"
	"github.com/wagglebpf/waggle/agent/agentpb"
	"github.com/wagglebpf/waggle/agent/metrics"
)

type agentFlags struct {
	listen           []string
	tlsCert, tlsKey  string
	clientCA         string
	insecureLoopback bool
	allowUIDs        []uint
	allowGIDs        []uint
	allowClients     []string
	socketGroup      string
	maxSessions      int
	maxProgramSize   string
	sessionLifetime  time.Duration
	logFormat        string
	allowUnsafe      bool
	metrics          string
	programStats     bool
}

func newAgentCommand() *cobra.Command {
	var f agentFlags
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the agent that loads programs sent by remote hosts, or talk to one",
		Long: `Run the waggle agent: a daemon on the target machine that accepts whole
compiled programs (BPF ELF objects, or the output of waggle trace --compile),
loads and attaches them, streams their output back, reads their maps, and
reports the kernel's features and BTF so that hosts can compile for it.

Clients connect through a Unix socket (the default; root, --allow-uid and
--allow-gid may connect) or TCP with mutual TLS. Every load is logged on
stderr with the client's identity. SIGTERM stops every session, detaching
and unloading its programs, then exits.`,
		Example: `  waggle agent
  waggle agent --listen tcp://0.0.0.0:7070 --tls-cert agent.pem --tls-key agent-key.pem --client-ca clients-ca.pem
  waggle agent info --remote unix:///run/waggle/agent.sock`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAgent(cmd.Context(), &f, cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.listen, "listen", []string{agent.DefaultAddress}, "where to listen: unix:///PATH or tcp://HOST:PORT (repeatable)")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "the agent's certificate (PEM), for tcp://")
	fl.StringVar(&f.tlsKey, "tls-key", "", "the agent's private key (PEM)")
	fl.StringVar(&f.clientCA, "client-ca", "", "CA certificates (PEM) that client certificates must chain to")
	fl.BoolVar(&f.insecureLoopback, "insecure-loopback", false, "allow tcp:// without TLS on a loopback address (clients are checked by user as on the Unix socket)")
	fl.UintSliceVar(&f.allowUIDs, "allow-uid", nil, "users besides root who may connect through the Unix socket: UID,...")
	fl.UintSliceVar(&f.allowGIDs, "allow-gid", nil, "groups whose members may connect through the Unix socket: GID,...")
	fl.StringArrayVar(&f.allowClients, "allow-client", nil, "with --client-ca: accept only client certificates with this common name or subject alternative name (repeatable)")
	fl.StringVar(&f.socketGroup, "socket-group", "", "group owning the Unix socket (mode 0660 instead of 0600); its members may connect")
	fl.IntVar(&f.maxSessions, "max-sessions", agent.DefaultMaxSessions, "sessions that may run at once")
	fl.StringVar(&f.maxProgramSize, "max-program-size", "16M", "largest program a client may send (bytes, or with K, M, G)")
	fl.DurationVar(&f.sessionLifetime, "session-lifetime", 0, "stop each session after this long (0: no limit)")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format on stderr: text or json")
	fl.StringVar(&f.metrics, "metrics", "", "serve the sessions' metrics for Prometheus at http://ADDR/metrics (e.g. "+metrics.DefaultListen+")")
	fl.BoolVar(&f.programStats, "program-stats", false, "with --metrics: turn the kernel's BPF statistics on, so that programs' run counts and times are exported")
	fl.BoolVar(&f.allowUnsafe, "allow-unsafe", false, "run compiled bpftrace programs that use system() or signal() (compiled with --unsafe)")

	cmd.AddCommand(newAgentInfoCommand(), newAgentSessionsCommand(), newAgentStopCommand(), newAgentMapsCommand(), newAgentBTFCommand())
	return cmd
}

func runAgent(ctx context.Context, f *agentFlags, stderr io.Writer) error {
	var logger *slog.Logger
	switch f.logFormat {
	case "text":
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	case "json":
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	default:
		return fmt.Errorf("--log-format %s: expected text or json", f.logFormat)
	}
	size, err := parseSize(f.maxProgramSize)
	if err != nil {
		return fmt.Errorf("--max-program-size %s: %w", f.maxProgramSize, err)
	}
	if f.maxSessions < 1 {
		return fmt.Errorf("--max-sessions %d: must be at least 1", f.maxSessions)
	}
	cfg := agent.Config{
		Listen:           f.listen,
		InsecureLoopback: f.insecureLoopback,
		SocketGroup:      f.socketGroup,
		MaxSessions:      f.maxSessions,
		MaxProgramSize:   size,
		SessionLifetime:  f.sessionLifetime,
		Logger:           logger,
		Version:          buildVersion(),
		AllowUnsafe:      f.allowUnsafe,
	}
	for _, u := range f.allowUIDs {
		cfg.Policy.AllowUIDs = append(cfg.Policy.AllowUIDs, uint32(u))
	}
	for _, g := range f.allowGIDs {
		cfg.Policy.AllowGIDs = append(cfg.Policy.AllowGIDs, uint32(g))
	}
	if len(f.allowClients) > 0 && f.clientCA == "" {
		return errors.New("--allow-client names clients by their certificates: give --tls-cert, --tls-key and --client-ca too")
	}
	cfg.Policy.AllowClients = f.allowClients
	if f.tlsCert != "" || f.tlsKey != "" || f.clientCA != "" {
		if cfg.TLS, err = agent.ServerTLS(f.tlsCert, f.tlsKey, f.clientCA); err != nil {
			return err
		}
	}
	if f.programStats && f.metrics == "" {
		return errors.New("--program-stats exports through --metrics: give --metrics ADDR too")
	}
	var metricsLn net.Listener
	var loggedErrs sync.Map
	if f.metrics != "" {
		// The port first: a busy one must not leave an agent running
		// without the metrics it was asked for.
		if metricsLn, err = net.Listen("tcp", f.metrics); err != nil {
			return fmt.Errorf("--metrics: %w", err)
		}
		defer metricsLn.Close()
		cfg.Metrics = metrics.New(metrics.Options{
			Prefix:      metrics.DefaultPrefix,
			SourceLabel: "session",
			OnError: func(source string, err error) {
				// Each distinct error once: they repeat at every scrape,
				// and the health metrics count them.
				if _, seen := loggedErrs.LoadOrStore(source+": "+err.Error(), true); !seen {
					logger.Warn("metrics", "session", source, "error", err)
				}
			},
		})
		if f.programStats {
			stats, err := metrics.EnableStats()
			if err != nil {
				return err
			}
			defer stats.Close()
		}
	}
	srv, err := agent.NewServer(cfg)
	if err != nil {
		return err
	}
	if _, err := srv.Listen(); err != nil {
		return err
	}
	if metricsLn != nil {
		hs := metricsServer(cfg.Metrics, "waggle agent")
		go hs.Serve(metricsLn)
		defer hs.Close()
		logger.Info("serving metrics", "address", "http://"+metricsLn.Addr().String()+"/metrics")
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: stopping every session")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if serveErr := <-served; err == nil {
		err = serveErr
	}
	return err
}

// parseSize reads a byte count with an optional K, M or G (binary) suffix.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s), "IB"), "B")
	switch {
	case strings.HasSuffix(num, "K"):
		mult = 1 << 10
	case strings.HasSuffix(num, "M"):
		mult = 1 << 20
	case strings.HasSuffix(num, "G"):
		mult = 1 << 30
	}
	if mult > 1 {
		num = num[:len(num)-1]
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 || n > (1<<30)/mult {
		return 0, errors.New("expected a size from 1 byte to 1G, such as 16M")
	}
	return n * mult, nil
}

// remoteFlags are how a client command reaches an agent; trace and run
// take them too for --remote.
type remoteFlags struct {
	remote           string
	tlsCert, tlsKey  string
	ca, serverName   string
	insecureLoopback bool
}

func addRemoteFlags(cmd *cobra.Command, f *remoteFlags, remoteDefault string) {
	fl := cmd.Flags()
	fl.StringVar(&f.remote, "remote", remoteDefault, "the agent's address: unix:///PATH or tcp://HOST:PORT")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "this client's certificate (PEM), for tcp://")
	fl.StringVar(&f.tlsKey, "tls-key", "", "this client's private key (PEM)")
	fl.StringVar(&f.ca, "ca", "", "CA certificates (PEM) the agent's certificate must chain to")
	fl.StringVar(&f.serverName, "server-name", "", "the name the agent's certificate must carry (default: the host in --remote)")
	fl.BoolVar(&f.insecureLoopback, "insecure-loopback", false, "connect with plain TCP to an agent on a loopback address")
}

func (f *remoteFlags) dialOptions() (agent.DialOptions, error) {
	o := agent.DialOptions{InsecureLoopback: f.insecureLoopback}
	if f.tlsCert != "" || f.tlsKey != "" || f.ca != "" {
		var err error
		if o.TLS, err = agent.ClientTLS(f.tlsCert, f.tlsKey, f.ca, f.serverName); err != nil {
			return o, err
		}
	}
	return o, nil
}

// withAgent calls fn with a client of the agent at f.remote.
func (f *remoteFlags) withAgent(fn func(*agent.Client) error) error {
	o, err := f.dialOptions()
	if err != nil {
		return err
	}
	c, err := agent.Dial(f.remote, o)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
}

// runRemote runs a program in the agent at f.remote as if it ran here:
// the same output, the same exit status, Ctrl-C stops it.
func runRemote(ctx context.Context, f *remoteFlags, start *agentpb.Start, stdout, stderr io.Writer) error {
	o, err := f.dialOptions()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := agent.RemoteRun(ctx, f.remote, o, start, stdout, stderr)
	var re *agent.RunError
	switch {
	case errors.As(err, &re) && re.Formatted:
		// Script errors carry their own FILE:LINE:COL prefix.
		fmt.Fprintln(stderr, re.Msg)
		return &exitError{code: res.Code, err: err, silent: true}
	case err != nil:
		return &exitError{code: res.Code, err: err}
	case res.Detached:
		fmt.Fprintf(stderr, "waggle: session %d runs detached on %s; stop it with: waggle agent stop --remote %s %d\n", res.Session, f.remote, f.remote, res.Session)
	case res.Code != 0:
		return &exitError{code: res.Code, err: fmt.Errorf("exit status %d", res.Code), silent: true}
	}
	return nil
}

func newAgentInfoCommand() *cobra.Command {
	var f remoteFlags
	var output string
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Describe an agent's machine: kernel, features, BTF, limits",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("-o %s: expected text or json", output)
			}
			var info *agentpb.InfoResponse
			if err := f.withAgent(func(c *agent.Client) (err error) {
				info, err = c.Info(cmd.Context())
				return err
			}); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if output == "json" {
				b, err := protojson.Marshal(info)
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "%s\n", b)
				return nil
			}
			printAgentInfo(w, info)
			return nil
		},
	}
	addRemoteFlags(cmd, &f, agent.DefaultAddress)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func printAgentInfo(w io.Writer, info *agentpb.InfoResponse) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "agent\t%s\n", info.AgentVersion)
	fmt.Fprintf(tw, "host\t%s\n", info.Hostname)
	fmt.Fprintf(tw, "kernel\t%s %s\n", info.KernelRelease, info.Machine)
	fmt.Fprintf(tw, "cpus\t%d possible\n", info.PossibleCpus)
	if info.KernelBtfSize > 0 {
		fmt.Fprintf(tw, "btf\t%d bytes, sha256 %s\n", info.KernelBtfSize, info.KernelBtfSha256)
	} else {
		fmt.Fprintf(tw, "btf\tnone\n")
	}
	var kinds []string
	for _, k := range info.ProgramKinds {
		kinds = append(kinds, strings.ToLower(strings.TrimPrefix(k.String(), "PROGRAM_KIND_")))
	}
	fmt.Fprintf(tw, "runs\t%s\n", strings.Join(kinds, ", "))
	if l := info.Limits; l != nil {
		life := "no session lifetime"
		if l.SessionLifetime != nil {
			life = "sessions end after " + l.SessionLifetime.AsDuration().String()
		}
		fmt.Fprintf(tw, "limits\t%d sessions, programs up to %d bytes, %s\n", l.MaxSessions, l.MaxProgramSize, life)
	}
	var yes, no []string
	for _, f := range info.Features {
		if f.Supported {
			yes = append(yes, f.Name)
		} else {
			no = append(no, f.Name)
		}
	}
	fmt.Fprintf(tw, "supported\t%s\n", strings.Join(yes, " "))
	fmt.Fprintf(tw, "unsupported\t%s\n", strings.Join(no, " "))
	tw.Flush()
}

func newAgentSessionsCommand() *cobra.Command {
	var f remoteFlags
	cmd := &cobra.Command{
		Use:     "sessions",
		Aliases: []string{"ls"},
		Short:   "List the sessions running in an agent",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var list []*agentpb.SessionInfo
			if err := f.withAgent(func(c *agent.Client) (err error) {
				list, err = c.Sessions(cmd.Context())
				return err
			}); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPROGRAM\tKIND\tSTARTED\tSTATE\tCLIENT")
			for _, s := range list {
				state := "running"
				switch {
				case s.Exit != nil:
					state = fmt.Sprintf("exited %d", s.Exit.Code)
				case s.Stopping:
					state = "stopping"
				case !s.Loaded:
					state = "loading"
				case s.Detach && !s.Attached:
					state = "detached"
				}
				kind := strings.ToLower(strings.TrimPrefix(s.Kind.String(), "PROGRAM_KIND_"))
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", s.Id, s.ProgramName, kind, s.Started.AsTime().Local().Format(time.DateTime), state, s.Client)
			}
			return tw.Flush()
		},
	}
	addRemoteFlags(cmd, &f, agent.DefaultAddress)
	return cmd
}

func parseSessionID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("%q is not a session ID (waggle agent sessions lists them)", s)
	}
	return id, nil
}

func newAgentStopCommand() *cobra.Command {
	var f remoteFlags
	cmd := &cobra.Command{
		Use:   "stop ID",
		Short: "Stop a session in an agent, or collect an ended detached one; print its last output",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseSessionID(args[0])
			if err != nil {
				return err
			}
			var resp *agentpb.StopSessionResponse
			if err := f.withAgent(func(c *agent.Client) (err error) {
				resp, err = c.StopSession(cmd.Context(), id)
				return err
			}); err != nil {
				return err
			}
			cmd.OutOrStdout().Write(resp.OutputTail)
			switch e := resp.Exit; {
			case e == nil:
			case e.Error != "":
				fmt.Fprintf(cmd.ErrOrStderr(), "waggle: session %d: %s\n", id, e.Error)
			case e.Code != 0:
				fmt.Fprintf(cmd.ErrOrStderr(), "waggle: session %d: exit status %d\n", id, e.Code)
			}
			return nil
		},
	}
	addRemoteFlags(cmd, &f, agent.DefaultAddress)
	return cmd
}

func newAgentMapsCommand() *cobra.Command {
	var f remoteFlags
	var format string
	var perCPU bool
	cmd := &cobra.Command{
		Use:   "maps ID [MAP...]",
		Short: "Print the maps of a session running in an agent",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseSessionID(args[0])
			if err != nil {
				return err
			}
			var maps []*agentpb.MapContents
			req := &agentpb.ReadMapsRequest{SessionId: id, Format: format, Names: args[1:], PerCpu: perCPU}
			if err := f.withAgent(func(c *agent.Client) (err error) {
				maps, err = c.ReadMaps(cmd.Context(), req)
				return err
			}); err != nil {
				return err
			}
			for _, m := range maps {
				cmd.OutOrStdout().Write(m.Text)
			}
			return nil
		},
	}
	addRemoteFlags(cmd, &f, agent.DefaultAddress)
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output format: text or json")
	cmd.Flags().BoolVar(&perCPU, "per-cpu", false, "print per-CPU map values per CPU instead of summed")
	return cmd
}

func newAgentBTFCommand() *cobra.Command {
	var f remoteFlags
	var out, module string
	cmd := &cobra.Command{
		Use:   "btf -o FILE",
		Short: "Copy an agent's kernel BTF (waggle trace --remote fetches it by itself)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("-o FILE is required: BTF is binary")
			}
			return f.withAgent(func(c *agent.Client) error {
				file, err := os.Create(out)
				if err != nil {
					return err
				}
				if _, err := c.KernelBTF(cmd.Context(), module, file); err != nil {
					file.Close()
					os.Remove(out)
					return err
				}
				return file.Close()
			})
		},
	}
	addRemoteFlags(cmd, &f, agent.DefaultAddress)
	cmd.Flags().StringVarP(&out, "output", "o", "", "the file to write")
	cmd.Flags().StringVar(&module, "module", "", "a module's BTF instead of vmlinux's")
	return cmd
}
