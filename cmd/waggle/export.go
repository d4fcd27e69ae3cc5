package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/wagglebpf/waggle/agent/metrics"
	"github.com/wagglebpf/waggle/lang/codegen"
	"github.com/wagglebpf/waggle/lang/compiled"
	"github.com/wagglebpf/waggle/lang/driver"
	"github.com/wagglebpf/waggle/lang/sema"
	"github.com/wagglebpf/waggle/objectrun"
	"github.com/wagglebpf/waggle/session"
)

type exportFlags struct {
	listen  string
	check   bool
	verbose bool
}

func newExportCommand() *cobra.Command {
	var f exportFlags
	cmd := &cobra.Command{
		Use:   "export CONFIG",
		Short: "Run BPF objects and bpftrace scripts and serve their maps as Prometheus metrics",
		Long: `Load the BPF objects and bpftrace scripts a YAML configuration names, attach
their programs, and serve their maps as Prometheus metrics on /metrics until
Ctrl-C or SIGTERM. Maps are read when Prometheus scrapes, not in between.

Objects are loaded and attached as 'waggle run' does; the configuration says
which of their maps become which metrics, with labels from the keys' BTF
members. Every map of a script becomes a metric named after it.`,
		Example: `  waggle export metrics.yaml
  waggle export metrics.yaml --listen :9435
  waggle export metrics.yaml --check`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(cmd.Context(), args[0], &f, cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "", "address to serve /metrics on (default: the configuration's listen, else "+metrics.DefaultListen+")")
	fl.BoolVar(&f.check, "check", false, "check the configuration against its objects and scripts, load nothing")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "explain decisions and show whole verifier logs")
	return cmd
}

// exporting is what an export run has started: objects run by objectrun
// and scripts run by lang/driver, each in a goroutine of its own.
type exporting struct {
	exp  *metrics.Exporter
	sym  *metrics.Symbols
	runs []*exportRun
	// ended hears of each run that returns.
	ended    chan *exportRun
	mu       sync.Mutex
	programs []metrics.Program
}

// exportRun is one object or script running.
type exportRun struct {
	name   string // "object NAME", "script NAME"
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// programsSource names the source of program statistics.
const programsSource = "programs"

// stop ends the runs, which end with their context, and waits for them.
func (x *exporting) stop() error {
	var errs []error
	for _, r := range x.runs {
		r.cancel()
		<-r.done
		if r.err != nil && !errors.Is(r.err, context.Canceled) {
			errs = append(errs, fmt.Errorf("%s: %w", r.name, r.err))
		}
	}
	return errors.Join(errs...)
}

func runExport(ctx context.Context, path string, f *exportFlags, stderr io.Writer) error {
	cfg, err := metrics.LoadConfig(path)
	if err != nil {
		return err
	}
	if f.check {
		if err := checkExport(cfg); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "%s: %d object%s and %d script%s check out\n", path, len(cfg.Objects), plural(len(cfg.Objects)), len(cfg.Scripts), plural(len(cfg.Scripts)))
		return nil
	}
	addr := f.listen
	if addr == "" {
		addr = cfg.Listen
	}
	if addr == "" {
		addr = metrics.DefaultListen
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := session.PrepareNoTracefs(); err != nil {
		return err
	}
	// The port first: a busy one must not cost loading everything.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	defer ln.Close()

	var logged sync.Map
	x := &exporting{sym: &metrics.Symbols{}, ended: make(chan *exportRun, len(cfg.Objects)+len(cfg.Scripts))}
	x.exp = metrics.New(metrics.Options{
		Prefix: cfg.PrefixOrDefault(),
		OnError: func(source string, err error) {
			// Each distinct error once: they repeat at every scrape, and
			// the health metrics count them.
			msg := source + ": " + err.Error()
			if _, seen := logged.LoadOrStore(msg, true); !seen {
				fmt.Fprintf(stderr, "waggle: %s\n", msg)
			}
		},
	})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			x.stop()
		}
	}()
	for i := range cfg.Objects {
		if err := x.startObject(ctx, &cfg.Objects[i], f.verbose, stderr); err != nil {
			return err
		}
	}
	for i := range cfg.Scripts {
		if err := x.startScript(ctx, &cfg.Scripts[i], f.verbose, stderr); err != nil {
			return err
		}
	}
	if cfg.ProgramStats {
		stats, err := metrics.EnableStats()
		if err != nil {
			return err
		}
		defer stats.Close()
		x.mu.Lock()
		src, err := metrics.NewProgramSource(programsSource, x.programs)
		x.mu.Unlock()
		if err == nil {
			err = x.exp.Add(src)
		}
		if err != nil {
			return err
		}
	}

	srv := metricsServer(x.exp, "waggle export")
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stderr, "Serving http://%s/metrics: %d object%s, %d script%s. Ctrl-C to stop.\n",
		ln.Addr(), len(cfg.Objects), plural(len(cfg.Objects)), len(cfg.Scripts), plural(len(cfg.Scripts)))

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	case r := <-x.ended:
		// A run that stops on its own (an attach that failed, a script's
		// exit()) stops the export: its metrics would be missing.
		if r.err == nil {
			r.err = errors.New("stopped")
		}
	}
	cancel()
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	srv.Shutdown(shutdown)
	stopped = true
	errs := []error{x.stop()}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("serve /metrics: %w", serveErr))
	}
	return errors.Join(errs...)
}

// checkExport loads the configuration's objects and compiles its scripts
// without loading them, and checks the metrics against the objects' maps.
func checkExport(cfg *metrics.Config) error {
	for _, o := range cfg.Objects {
		spec, err := session.LoadObject(o.Path)
		if err != nil {
			return fmt.Errorf("object %s: %w", o.Name, err)
		}
		if err := metrics.CheckObject(o.Name, o.Metrics, spec); err != nil {
			return err
		}
	}
	for i := range cfg.Scripts {
		if _, err := compileExportScript(&cfg.Scripts[i]); err != nil {
			return err
		}
	}
	return nil
}

// startObject runs an object as `waggle run` does (objectrun.RunFile),
// its events and maps at exit dropped, and exports its maps from the
// moment it is loaded until it is torn down.
func (x *exporting) startObject(ctx context.Context, o *metrics.ObjectConfig, verbose bool, stderr io.Writer) error {
	// The configuration is checked against the object before anything
	// is loaded.
	spec, err := session.LoadObject(o.Path)
	if err != nil {
		return fmt.Errorf("object %s: %w", o.Name, err)
	}
	if err := metrics.CheckObject(o.Name, o.Metrics, spec); err != nil {
		return err
	}
	opts := objectrun.Defaults()
	opts.Verbose = verbose
	for _, k := range sortedKeys(o.Set) {
		opts.Sets = append(opts.Sets, k+"="+o.Set[k])
	}
	for _, k := range sortedKeys(o.Attach) {
		opts.Attach = append(opts.Attach, k+"="+o.Attach[k])
	}
	opts.Only, opts.Skip = o.Only, o.Skip
	opts.Iface, opts.Cgroup, opts.PID = o.Iface, o.Cgroup, o.PID
	if o.Freq != 0 {
		opts.Freq = o.Freq
	}
	opts.Period = o.Period
	return x.startRun(ctx, "object "+o.Name, func(ctx context.Context, opened chan<- error) error {
		opts.OnOpen = func(s *session.Session) func() {
			src, err := metrics.NewObjectSource(o.Name, o.Metrics, s.Spec, s.Collection.Maps, x.sym)
			if err == nil {
				err = x.exp.Add(src)
			}
			if err != nil {
				opened <- err
				return nil
			}
			for _, name := range sortedKeys(s.Collection.Programs) {
				x.addProgram(metrics.Program{Program: s.Collection.Programs[name], Name: name, Object: o.Name})
			}
			opened <- nil
			// Before the session closes its maps and programs, nothing
			// may read them any more.
			return func() {
				x.exp.Remove(programsSource)
				x.exp.Remove(o.Name)
			}
		}
		return objectrun.RunFile(ctx, o.Path, opts, io.Discard, stderr)
	})
}

// startRun starts run in a goroutine of its own, until ctx ends, and
// waits until it has loaded what it exports (it sends nil on opened) or
// failed to (an error on opened, or its end).
func (x *exporting) startRun(ctx context.Context, name string, run func(ctx context.Context, opened chan<- error) error) error {
	opened := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	r := &exportRun{name: name, cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = run(ctx, opened)
		close(r.done)
		x.ended <- r
	}()
	select {
	case err := <-opened:
		if err != nil {
			cancel()
			<-r.done
			return err
		}
		x.runs = append(x.runs, r)
		return nil
	case <-r.done:
		cancel()
		if r.err == nil {
			r.err = errors.New("stopped before it was loaded")
		}
		return fmt.Errorf("%s: %w", name, r.err)
	}
}

func (x *exporting) addProgram(p metrics.Program) {
	x.mu.Lock()
	x.programs = append(x.programs, p)
	x.mu.Unlock()
}

func compileExportScript(sc *metrics.ScriptConfig) (*compiled.Program, error) {
	file, src := sc.Path, []byte(sc.Program)
	if sc.Path != "" {
		var err error
		if src, err = os.ReadFile(sc.Path); err != nil {
			return nil, fmt.Errorf("script %s: %w", sc.Name, err)
		}
	} else {
		file = sc.Name
	}
	return driver.Build(file, src, driver.Args{Params: sc.Params})
}

// startScript runs a script as `waggle trace` does (BEGIN when it starts,
// END when it stops, usdt probes too) and exports its maps instead of
// printing them: what it prints is dropped, its warnings go to stderr.
// A script that calls exit() stops the export.
func (x *exporting) startScript(ctx context.Context, sc *metrics.ScriptConfig, verbose bool, stderr io.Writer) error {
	lp, err := compileExportScript(sc)
	if err != nil {
		return err
	}
	return x.startRun(ctx, "script "+sc.Name, func(ctx context.Context, opened chan<- error) error {
		code, err := driver.Run(ctx, lp, driver.Options{
			Stdout: io.Discard, Stderr: stderr, Verbose: verbose, Quiet: true,
			OnOpen: func(r *driver.Running) func() {
				if err := x.exportScript(sc, lp, r); err != nil {
					opened <- fmt.Errorf("script %s: %w", sc.Name, err)
					return nil
				}
				opened <- nil
				return func() {
					x.exp.Remove(programsSource)
					x.exp.Remove(sc.Name)
				}
			},
		})
		if err == nil && code != 0 {
			err = fmt.Errorf("exit(%d)", code)
		}
		return err
	})
}

// exportScript adds a running script's maps and programs to the export.
func (x *exporting) exportScript(sc *metrics.ScriptConfig, lp *compiled.Program, r *driver.Running) error {
	maps, err := metrics.ScriptMaps(lp.Code, r.Maps())
	if err != nil {
		return err
	}
	for _, name := range sortedKeys(sc.Labels) {
		i := slices.IndexFunc(maps, func(m metrics.ScriptMap) bool { return m.Name == name })
		if i < 0 {
			return fmt.Errorf("labels for %s, but the script has no map %s", name, name)
		}
		maps[i].Labels = sc.Labels[name]
	}
	src, err := metrics.NewScriptSource(sc.Name, maps, x.sym.Symbolizer(r.Maps()[codegen.StacksMap]))
	if err != nil {
		return err
	}
	if err := x.exp.Add(src); err != nil {
		return err
	}
	for _, pr := range lp.Code.Probes {
		if k := pr.Instance.Kind; k != sema.ProbeBegin && k != sema.ProbeEnd {
			x.addProgram(metrics.Program{Program: r.Programs()[pr.Program], Name: pr.Instance.Name, Object: sc.Name})
		}
	}
	return nil
}

// metricsServer serves exp at /metrics, with the Go runtime's and the
// process's own metrics; what names the server on its index page.
func metricsServer(exp prometheus.Collector, what string) *http.Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(exp, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "%s: metrics at /metrics\n", what)
	})
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}
