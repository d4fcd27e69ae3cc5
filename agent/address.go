package agent

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/wagglebpf/waggle/attach"
)

// DefaultAddress is where the agent listens, and clients connect, when no
// address is given.
const DefaultAddress = "unix:///run/waggle/agent.sock"

// Address is where an agent listens: a Unix socket or a TCP host and port.
type Address struct {
	// Network is "unix" or "tcp".
	Network string
	// Path is the socket's absolute path (unix); HostPort is "host:port"
	// (tcp).
	Path     string
	HostPort string
}

// ParseAddress reads unix:///PATH or tcp://HOST:PORT.
func ParseAddress(s string) (Address, error) {
	switch {
	case strings.HasPrefix(s, "unix://"):
		path := strings.TrimPrefix(s, "unix://")
		if !strings.HasPrefix(path, "/") {
			return Address{}, fmt.Errorf("address %q: a Unix socket path must be absolute, as in unix:///run/waggle/agent.sock", attach.Shorten(s))
		}
		if path != filepath.Clean(path) || strings.HasSuffix(path, "/") {
			return Address{}, fmt.Errorf("address %q: the socket path is not in its clean form (%s)", attach.Shorten(s), attach.Shorten(filepath.Clean(path)))
		}
		if len(path) > 107 {
			// sun_path holds 108 bytes with the terminating NUL.
			return Address{}, fmt.Errorf("address %q: a Unix socket path is at most 107 bytes long", attach.Shorten(s))
		}
		return Address{Network: "unix", Path: path}, nil
	case strings.HasPrefix(s, "tcp://"):
		hp := strings.TrimPrefix(s, "tcp://")
		host, port, err := net.SplitHostPort(hp)
		if err != nil || port == "" || strings.ContainsAny(hp, "/?#@") {
			return Address{}, fmt.Errorf("address %q: expected tcp://HOST:PORT, as in tcp://10.0.0.5:7070", attach.Shorten(s))
		}
		if _, err := net.LookupPort("tcp", port); err != nil {
			return Address{}, fmt.Errorf("address %q: %q is not a TCP port", attach.Shorten(s), attach.Shorten(port))
		}
		return Address{Network: "tcp", HostPort: net.JoinHostPort(host, port)}, nil
	}
	return Address{}, fmt.Errorf("address %q: expected unix:///PATH or tcp://HOST:PORT", attach.Shorten(s))
}

func (a Address) String() string {
	if a.Network == "unix" {
		return "unix://" + a.Path
	}
	return "tcp://" + a.HostPort
}

// Loopback reports whether a TCP address can only be reached from this
// machine: a loopback IP, or "localhost".
func (a Address) Loopback() bool {
	if a.Network != "tcp" {
		return false
	}
	host, _, err := net.SplitHostPort(a.HostPort)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
