package agent

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wagglebpf/waggle/agent/agentpb"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // its certificate, PEM
}

var serial int64

func newCA(t testing.TB, dir, name string) *testCA {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	cert, key := sign(t, tmpl, nil, nil)
	file := filepath.Join(dir, name+".pem")
	writePEM(t, file, "CERTIFICATE", cert.Raw)
	return &testCA{cert: cert, key: key, file: file}
}

// sign makes a key and a certificate from tmpl, valid for an hour, signed
// by parent (nil: self-signed).
func sign(t testing.TB, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// issue makes a leaf certificate for name (a server's also for 127.0.0.1)
// and returns the files of the certificate and its key.
func (ca *testCA) issue(t testing.TB, dir, name string, server bool) (certFile, keyFile string) {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: name, Organization: []string{"waggle tests"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		DNSNames:    []string{name},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	cert, key := sign(t, tmpl, ca.cert, ca.key)
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", cert.Raw)
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	return certFile, keyFile
}

func writePEM(t testing.TB, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mkdirMode(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, file string) {
	t.Helper()
	if err := os.WriteFile(file, []byte("not a socket"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// mtls is an agent on 127.0.0.1 with mutual TLS, and the files of a
// client that it trusts and of one it does not.
type mtls struct {
	*testAgent
	ca                   *testCA
	clientCert, clientKy string
	otherCert, otherKey  string
	other                *testCA
}

func startMTLS(t testing.TB) *mtls {
	t.Helper()
	return startMTLSWith(t, Config{})
}

// startMTLSWith is startMTLS with the rest of the agent's configuration
// (runners, policy) from cfg.
func startMTLSWith(t testing.TB, cfg Config) *mtls {
	t.Helper()
	dir := t.TempDir()
	ca := newCA(t, dir, "agents-ca")
	clientsCA := newCA(t, dir, "clients-ca")
	other := newCA(t, dir, "other-ca")
	srvCert, srvKey := ca.issue(t, dir, "agent.test", true)
	clientCert, clientKey := clientsCA.issue(t, dir, "host1", false)
	otherCert, otherKey := other.issue(t, dir, "intruder", false)
	serverTLS, err := ServerTLS(srvCert, srvKey, clientsCA.file)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen, cfg.TLS = []string{"tcp://127.0.0.1:0"}, serverTLS
	ta := startAgent(t, cfg)
	return &mtls{testAgent: ta, ca: ca, clientCert: clientCert, clientKy: clientKey, otherCert: otherCert, otherKey: otherKey, other: other}
}

func (m *mtls) clientTLS(t testing.TB, cert, key string) *tls.Config {
	t.Helper()
	c, err := ClientTLS(cert, key, m.ca.file, "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMutualTLS(t *testing.T) {
	m := startMTLS(t)
	c := m.dial(t, DialOptions{TLS: m.clientTLS(t, m.clientCert, m.clientKy)})
	script := fakeProgram("out over mTLS", "lines 500", "err done")
	var stdout, stderr bytes.Buffer
	if _, err := c.Run(context.Background(), &agentpb.Start{Program: script}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if wantOut, wantErr, _, _ := local(script); stdout.String() != wantOut || stderr.String() != wantErr {
		t.Errorf("remote output over mTLS differs from local")
	}
	if log := m.log.String(); !strings.Contains(log, `client="x509:CN=host1,O=waggle tests [dns:host1] from 127.0.0.1:`) {
		t.Errorf("the load is not logged with the certificate's identity:\n%s", log)
	}

	info, err := c.Info(context.Background())
	if err != nil || info.KernelRelease == "" || info.Machine == "" || info.Limits.GetMaxSessions() != DefaultMaxSessions {
		t.Errorf("Info = %v, %v", info, err)
	}

	want, err := os.ReadFile(btfDir + "/vmlinux")
	if err != nil {
		t.Skipf("no kernel BTF to compare: %v", err)
	}
	var got bytes.Buffer
	if n, err := c.KernelBTF(context.Background(), "", &got); err != nil || n != int64(len(want)) || !bytes.Equal(got.Bytes(), want) {
		t.Errorf("KernelBTF copied %d bytes (%v), not the kernel's %d", n, err, len(want))
	}
	if sum := sha256.Sum256(want); info.KernelBtfSize != int64(len(want)) || info.KernelBtfSha256 != hex.EncodeToString(sum[:]) {
		t.Errorf("Info reports BTF of %d bytes, sha256 %s", info.KernelBtfSize, info.KernelBtfSha256)
	}
	for module, wantErr := range map[string]string{"../vmlinux": "is not a kernel module name", "no_such_module": "the kernel has no BTF for module no_such_module"} {
		if _, err := c.KernelBTF(context.Background(), module, io.Discard); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("KernelBTF(%q): %v, want %q", module, err, wantErr)
		}
	}
}

// forceCert makes a client send its certificate even when the agent asks
// for ones from other CAs (Go's client would otherwise send none).
func forceCert(c *tls.Config) *tls.Config {
	cert := c.Certificates[0]
	c.Certificates = nil
	c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	return c
}

// --allow-client narrows the clients the CA vouches for to those named.
func TestAllowClient(t *testing.T) {
	for _, tc := range []struct {
		allow []string
		ok    bool
	}{{[]string{"host2", "host1"}, true}, {[]string{"host2"}, false}} {
		m := startMTLSWith(t, Config{Policy: Policy{AllowClients: tc.allow}})
		c := m.dial(t, DialOptions{TLS: m.clientTLS(t, m.clientCert, m.clientKy)})
		_, err := c.Run(context.Background(), &agentpb.Start{Program: fakeProgram("out hi")}, io.Discard, io.Discard)
		if (err == nil) != tc.ok {
			t.Errorf("allowing %v: host1's run: %v", tc.allow, err)
		}
		if !tc.ok {
			waitFor(t, "the refusal in the log", func() bool {
				return strings.Contains(m.log.String(), "is not among the allowed clients (--allow-client)")
			})
			if n := m.fake.calls.Load(); n != 0 {
				t.Errorf("%d programs ran for a client not allowed", n)
			}
		}
	}
}

func TestUnauthenticatedClientsAreRefused(t *testing.T) {
	m := startMTLS(t)
	noCert := &tls.Config{RootCAs: m.clientTLS(t, m.clientCert, m.clientKy).RootCAs, MinVersion: tls.VersionTLS13}
	// What the client reads depends on timing (TLS 1.3 clients finish their
	// handshake before the agent checks their certificate): the agent's log
	// says why it refused.
	for _, tc := range []struct {
		name   string
		o      DialOptions
		logged string
	}{
		{"no client certificate", DialOptions{TLS: noCert}, "client didn't provide a certificate"},
		{"certificate from another CA", DialOptions{TLS: forceCert(m.clientTLS(t, m.otherCert, m.otherKey))}, "certificate signed by unknown authority"},
		{"plain TCP", DialOptions{InsecureLoopback: true}, "first record does not look like a TLS handshake"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := m.dial(t, tc.o)
			_, err := c.Run(context.Background(), &agentpb.Start{Program: fakeProgram("out should not run")}, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "cannot use the agent at tcp://127.0.0.1:") {
				t.Errorf("run: %v, want a refusal", err)
			}
			if _, err := c.Info(context.Background()); err == nil {
				t.Error("Info answered an unauthenticated client")
			}
			waitFor(t, "the refusal in the agent's log: "+tc.logged, func() bool { return strings.Contains(m.log.String(), tc.logged) })
		})
	}
	// And a client that does not trust the agent's certificate hangs up.
	untrusting := &tls.Config{RootCAs: x509.NewCertPool(), Certificates: m.clientTLS(t, m.clientCert, m.clientKy).Certificates, MinVersion: tls.VersionTLS13}
	if _, err := m.dial(t, DialOptions{TLS: untrusting}).Info(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("a client that does not trust the agent: %v", err)
	}
	if n := m.fake.calls.Load(); n != 0 {
		t.Errorf("%d programs ran for unauthenticated clients", n)
	}
	if n := strings.Count(m.log.String(), `msg="refused connection" transport=tls`); n < 3 {
		t.Errorf("refused handshakes are not logged:\n%s", m.log.String())
	}
}
