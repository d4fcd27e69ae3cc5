package agent

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// ServerTLS is the agent's side of mutual TLS: its certificate and key,
// and the CA bundle that client certificates must chain to.
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, pool, err := loadTLSFiles(certFile, keyFile, clientCAFile, "--client-ca")
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS13,
	}, nil
}

// ClientTLS is a client's side of mutual TLS: its certificate and key, and
// the CA bundle the agent's certificate must chain to. serverName, when
// set, is the name the agent's certificate must carry instead of the host
// in the address.
func ClientTLS(certFile, keyFile, caFile, serverName string) (*tls.Config, error) {
	cert, pool, err := loadTLSFiles(certFile, keyFile, caFile, "--ca")
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ServerName:   serverName,
		MinVersion:   tls.VersionTLS13,
	}, nil
}

// loadTLSFiles reads a certificate, its key and a CA bundle given with
// --tls-cert, --tls-key and caFlag.
func loadTLSFiles(certFile, keyFile, caFile, caFlag string) (tls.Certificate, *x509.CertPool, error) {
	if certFile == "" || keyFile == "" || caFile == "" {
		return tls.Certificate{}, nil, fmt.Errorf("mutual TLS needs --tls-cert, --tls-key and %s together", caFlag)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("%s: %w", caFlag, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return tls.Certificate{}, nil, fmt.Errorf("%s: %s holds no PEM certificate", caFlag, caFile)
	}
	return cert, pool, nil
}
