package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/cilium/ebpf"
	"github.com/wagglebpf/waggle/agent/metrics"
	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/lang/codegen"
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

// exporting is what an export run has loaded: objects run by objectrun
// in goroutines of their own, scripts loaded here.
type exporting struct {
	exp  *metrics.Exporter
	sym  *metrics.Symbols
	runs []*objectRun
	// ended hears of each object run that returns.
	ended    chan *objectRun
	scripts  []*session.Session
	mu       sync.Mutex
	programs []metrics.Program
}

// objectRun is one object running through objectrun.RunFile.
type objectRun struct {
	name   string
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// programsSource names the source of program statistics.
const programsSource = "programs"

// stop waits for the object runs, which end with their context, and
// closes the scripts.
func (x *exporting) stop() error {
	var errs []error
	for _, r := range x.runs {
		r.cancel()
		<-r.done
		if r.err != nil && !errors.Is(r.err, context.Canceled) {
			errs = append(errs, fmt.Errorf("object %s: %w", r.name, r.err))
		}
	}
	for i := len(x.scripts) - 1; i >= 0; i-- {
		errs = append(errs, x.scripts[i].Close())
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
	x := &exporting{sym: &metrics.Symbols{}, ended: make(chan *objectRun, len(cfg.Objects))}
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
		if err := x.loadScript(&cfg.Scripts[i], f.verbose, stderr); err != nil {
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

	// The scripts' buffers are drained (what they print is dropped) until
	// a signal; Run then detaches their programs.
	var wg sync.WaitGroup
	runErrs := make([]error, len(x.scripts))
	for i, s := range x.scripts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, runErrs[i] = s.Run(ctx, session.RunOptions{})
		}()
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	case r := <-x.ended:
		// An object that stops on its own (an attach that failed) stops
		// the export: its metrics would be missing.
		if r.err == nil {
			r.err = errors.New("stopped")
		}
	}
	cancel()
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	srv.Shutdown(shutdown)
	wg.Wait()
	stopped = true
	errs := []error{x.stop()}
	for _, err := range runErrs {
		if err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
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
		if _, _, err := compileExportScript(&cfg.Scripts[i]); err != nil {
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
	opened := make(chan error, 1)
	opts.OnOpen = func(s *session.Session) func() {
		src, err := metrics.NewObjectSource(o.Name, o.Metrics, s.Spec, s.Collection.Maps, x.sym)
		if err == nil {
			err = x.exp.Add(src)
		}
		if err != nil {
			opened <- err
			return nil
		}
		x.mu.Lock()
		for _, name := range sortedKeys(s.Collection.Programs) {
			x.programs = append(x.programs, metrics.Program{Program: s.Collection.Programs[name], Name: name, Object: o.Name})
		}
		x.mu.Unlock()
		opened <- nil
		// Before the session closes its maps and programs, nothing may
		// read them any more.
		return func() {
			x.exp.Remove(programsSource)
			x.exp.Remove(o.Name)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &objectRun{name: o.Name, cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = objectrun.RunFile(ctx, o.Path, opts, io.Discard, stderr)
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
		return fmt.Errorf("object %s: %w", o.Name, r.err)
	}
}

func compileExportScript(sc *metrics.ScriptConfig) (*codegen.Program, string, error) {
	file, src := sc.Path, []byte(sc.Program)
	if sc.Path != "" {
		var err error
		if src, err = os.ReadFile(sc.Path); err != nil {
			return nil, "", fmt.Errorf("script %s: %w", sc.Name, err)
		}
	} else {
		file = sc.Name
	}
	p, err := driver.Compile(file, src, sc.Params, 0)
	if err != nil {
		return nil, "", err
	}
	for _, pr := range p.Probes {
		if pr.Instance.Kind == sema.ProbeUsdt {
			return nil, "", fmt.Errorf("script %s: probe %s: usdt probes are not supported by waggle export yet (use waggle trace)", sc.Name, pr.Instance.Name)
		}
	}
	return p, file, nil
}

// loadScript compiles, loads and attaches a script as `waggle trace`
// does, but exports its maps instead of printing them: BEGIN runs once
// when it is loaded; END probes are not run, and what the script prints
// is dropped.
func (x *exporting) loadScript(sc *metrics.ScriptConfig, verbose bool, stderr io.Writer) error {
	p, _, err := compileExportScript(sc)
	if err != nil {
		return err
	}
	if err := p.Relocate(nil); err != nil {
		return fmt.Errorf("script %s: %w", sc.Name, err)
	}
	for _, pr := range p.Probes {
		if pr.Target.NeedsTracefs() {
			session.MountTracefs(stderr)
			break
		}
	}
	s, err := session.Open(p.Spec, verbose, 0)
	if err != nil {
		return fmt.Errorf("script %s: %w", sc.Name, err)
	}
	x.scripts = append(x.scripts, s)
	if err := setStartTime(s); err != nil {
		return fmt.Errorf("script %s: %w", sc.Name, err)
	}
	probes := append([]*codegen.Probe(nil), p.Probes...)
	sort.SliceStable(probes, func(i, j int) bool {
		// BEGIN before anything else can fire.
		return probes[i].Instance.Kind == sema.ProbeBegin && probes[j].Instance.Kind != sema.ProbeBegin
	})
	for _, pr := range probes {
		prog := s.Collection.Programs[pr.Program]
		switch pr.Instance.Kind {
		case sema.ProbeEnd:
			continue
		case sema.ProbeBegin:
			// A raw tracepoint program's context is its argument array.
			if _, err := prog.Run(&ebpf.RunOptions{Context: make([]byte, 8)}); err != nil {
				return fmt.Errorf("script %s: run %s: %w", sc.Name, pr.Instance.Name, err)
			}
			continue
		}
		if err := s.Attach(pr.Program, pr.Target, attach.Options{}); err != nil {
			// The session's error names the generated program, which the
			// user never wrote.
			var ae *session.AttachError
			if errors.As(err, &ae) && ae.Unwrap() != nil {
				err = ae.Unwrap()
			}
			return fmt.Errorf("script %s: probe %s: %w", sc.Name, pr.Instance.Name, err)
		}
		if verbose {
			fmt.Fprintf(stderr, "waggle: %s: attached %s\n", sc.Name, pr.Instance.Name)
		}
		x.mu.Lock()
		x.programs = append(x.programs, metrics.Program{Program: prog, Name: pr.Instance.Name, Object: sc.Name})
		x.mu.Unlock()
	}
	maps, err := metrics.ScriptMaps(p, s.Collection.Maps)
	if err != nil {
		return fmt.Errorf("script %s: %w", sc.Name, err)
	}
	for _, name := range sortedKeys(sc.Labels) {
		i := slices.IndexFunc(maps, func(m metrics.ScriptMap) bool { return m.Name == name })
		if i < 0 {
			return fmt.Errorf("script %s: labels for %s, but the script has no map %s", sc.Name, name, name)
		}
		maps[i].Labels = sc.Labels[name]
	}
	src, err := metrics.NewScriptSource(sc.Name, maps, x.sym.Symbolizer(s.Collection.Maps[codegen.StacksMap]))
	if err != nil {
		return fmt.Errorf("script %s: %w", sc.Name, err)
	}
	return x.exp.Add(src)
}

// setStartTime stores the start time where elapsed reads it, as `waggle
// trace` does.
func setStartTime(s *session.Session) error {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return err
	}
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], uint64(ts.Nano()))
	return s.Collection.Maps[codegen.GlobalsMap].Put(uint32(codegen.GlobalStart), b[:])
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
