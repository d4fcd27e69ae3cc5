package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wagglebpf/waggle/internal/kerneltest"
)

// exportFixture is agent/metrics' test object: count_syscalls counts the
// system calls of the process targ_tgid names.
func exportFixture(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "agent", "metrics", "testdata", "metrics.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// writeExportConfig writes a configuration that counts this process's
// system calls twice: with the object (by tgid and syscall name) and with
// a script (getppid calls, by pid).
func writeExportConfig(t *testing.T) string {
	t.Helper()
	pid := os.Getpid()
	cfg := fmt.Sprintf(`
prefix: waggle
program_stats: true
objects:
  - name: demo
    path: %s
    set: {targ_tgid: %d}
    only: [count_syscalls]
    metrics:
      - name: syscalls_total
        type: counter
        map: syscalls
        labels: [{member: tgid}, {member: id, name: syscall, decoder: syscall}]
scripts:
  - name: calls
    program: 'tracepoint:syscalls:sys_enter_getppid /pid == $1/ { @calls[pid] = count(); @n = hist(7); }'
    params: ["%d"]
`, exportFixture(t), pid, pid)
	path := filepath.Join(t.TempDir(), "export.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var servingRe = regexp.MustCompile(`Serving http://([^/]+)/metrics`)

// exportAddr waits for waggle export to serve and returns its address.
// startWaggle has seen the object attached; the scripts are attached
// before export serves.
func exportAddr(t *testing.T, bg *background) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingRe.FindStringSubmatch(bg.stderr.String()); m != nil {
			return m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("waggle export does not serve after 30s:\n%s", bg.stderr)
	return ""
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v\n%s", u, resp.StatusCode, err, body)
	}
	return string(body)
}

// TestExportServesMaps runs waggle export, makes system calls it counts,
// and reads them back from /metrics; it then stops it with SIGINT, after
// which nothing may stay in the kernel.
func TestExportServesMaps(t *testing.T) {
	requireKernel(t)
	bg := startWaggle(t, "export", writeExportConfig(t), "--listen", "127.0.0.1:0")
	addr := exportAddr(t, bg)
	const n = 23
	for range n {
		syscall.Getppid()
	}
	text := get(t, "http://"+addr+"/metrics")
	pid := strconv.Itoa(os.Getpid())
	for _, want := range []string{
		`waggle_syscalls_total{syscall="getppid",tgid="` + pid + `"} 23`,
		`waggle_calls{pid="` + pid + `"} 23`,
		`waggle_n_bucket{le="7"} 23`,
		`waggle_n_bucket{le="3"} 0`,
		`waggle_exporter_scrape_errors_total{source="demo"} 0`,
		`waggle_bpf_stats_enabled 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !regexp.MustCompile(`waggle_program_runs_total\{id="\d+",name="count_syscalls",object="demo",type="TracePoint"\} [1-9]`).MatchString(text) {
		t.Errorf("/metrics lacks count_syscalls's run count")
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
	if r := bg.stop(t); r.code != 0 {
		t.Fatalf("waggle export: %s", r)
	}
}

func TestExportCheck(t *testing.T) {
	r := waggle(t, "export", writeExportConfig(t), "--check")
	if r.code != 0 || !strings.Contains(r.stderr, "1 object and 1 script check out") {
		t.Fatalf("--check: %s", r)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte(fmt.Sprintf(`
objects:
  - path: %s
    metrics: [{name: x, type: counter, map: syscalls, labels: [{member: pid}]}]
`, exportFixture(t))), 0o644)
	r = waggle(t, "export", bad, "--check")
	if r.code == 0 || !strings.Contains(r.stderr, "the key (struct syscall_key) has no member pid; it has: tgid, id") {
		t.Fatalf("--check of a bad label: %s", r)
	}
	os.WriteFile(bad, []byte("objects:\n  - path: x.o\n    metrics: [{name: x, type: countr, map: m}]\n"), 0o644)
	r = waggle(t, "export", bad)
	if r.code == 0 || !strings.Contains(r.stderr, `objects[0].metrics[0].type: "countr": expected counter, gauge or histogram`) {
		t.Fatalf("a bad type: %s", r)
	}
}

// TestExportPrometheus has a real Prometheus server scrape waggle export
// and checks, through PromQL, that it stored the counts this test made.
func TestExportPrometheus(t *testing.T) {
	promBin := prometheusBinary(t)
	requireKernel(t)
	bg := startWaggle(t, "export", writeExportConfig(t), "--listen", "127.0.0.1:0")
	target := exportAddr(t, bg)
	const n = 41
	for range n {
		syscall.Getppid()
	}

	pid := strconv.Itoa(os.Getpid())
	expectPromQL(t, startPrometheus(t, promBin, target), map[string]float64{
		`waggle_syscalls_total{syscall="getppid",tgid="` + pid + `"}`: n,
		`waggle_calls{pid="` + pid + `"}`:                             n,
		`sum(waggle_n_bucket{le="7"})`:                                n,
		`up{job="waggle"}`:                                            1,
	})
	if r := bg.stop(t); r.code != 0 {
		t.Fatalf("waggle export: %s", r)
	}
}

// prometheusBinary finds Debian's prometheus, or skips (fails in CI).
func prometheusBinary(t *testing.T) string {
	t.Helper()
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv(kerneltest.RequireEnv) != "" {
			t.Fatalf("prometheus is not installed (.ci/run installs Debian's prometheus package)")
		}
		t.Skip("prometheus is not installed (apt-get install prometheus)")
	}
	return promBin
}

// prometheusServer is a Prometheus server the test started.
type prometheusServer struct {
	web string // its HTTP address
	log *syncBuffer
}

// startPrometheus runs a Prometheus server on loopback that scrapes
// target (HOST:PORT) every second, until the test ends.
func startPrometheus(t *testing.T, promBin, target string) prometheusServer {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: waggle
    static_configs:
      - targets: [%q]
`, target)), 0o644)
	p := prometheusServer{web: freeAddr(t), log: newSyncBuffer()}
	cmd := exec.Command(promBin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+p.web, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return p
}

// expectPromQL waits (at most a minute in all) until each query's single
// result has the value wanted.
func expectPromQL(t *testing.T, p prometheusServer, queries map[string]float64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for q, want := range queries {
		var got float64
		var ok bool
		for time.Now().Before(deadline) {
			if got, ok = promQuery(p.web, q); ok && got == want {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		if got != want {
			t.Errorf("PromQL %s = %v (found: %v), want %v\nprometheus log:\n%s", q, got, ok, want, p.log.String())
		}
	}
}

// promQuery runs an instant query and returns the value of its single
// result; false when Prometheus is not ready or has no such result yet.
func promQuery(addr, q string) (float64, bool) {
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" || len(body.Data.Result) != 1 {
		return 0, false
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// freeAddr finds a free loopback port.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// A program that cannot attach, or a script that does not compile, stops
// waggle export with an error and leaves nothing behind.
func TestExportFailures(t *testing.T) {
	requireKernel(t)
	dir := t.TempDir()
	for _, c := range []struct{ cfg, want string }{
		{fmt.Sprintf(`
objects:
  - path: %s
    attach: {count_syscalls: "no_such_group:no_such_event"}
    metrics: [{name: s, type: counter, map: syscalls}]
`, exportFixture(t)), "no_such_group"},
		{`
scripts:
  - program: 'BEGIN { @x = count() '
`, "script:1:"},
		{`
scripts:
  - program: 'BEGIN { @x[1] = count() }'
    labels: {'@y': [n]}
`, "labels for @y, but the script has no map @y"},
		{fmt.Sprintf(`
objects:
  - path: %s
    only: [count_syscalls]
    metrics: [{name: s, type: counter, map: syscalls}]
scripts:
  - program: 'tracepoint:no_such_group:x { @x = count() }'
`, exportFixture(t)), "no_such_group"},
		// A script that exits stops the export: its metrics would stop.
		{`
scripts:
  - name: once
    program: 'BEGIN { @x = 1; exit(3); }'
`, "script once: exit(3)"},
	} {
		path := filepath.Join(dir, "c.yaml")
		os.WriteFile(path, []byte(c.cfg), 0o644)
		r := waggle(t, "export", path, "--listen", "127.0.0.1:0")
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s\n%s", c.cfg, r)
		}
	}
}
