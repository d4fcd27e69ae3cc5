package agent

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// Identity is who is at the other end of a connection, as the agent logs
// it with every load.
type Identity struct {
	// Transport is "unix", "tls" or "tcp" (plain TCP on loopback).
	Transport string
	// UID, GID and PID are the peer process's, for "unix" and "tcp"
	// (where PID is 0: TCP does not say); -1 when unknown.
	UID, GID, PID int
	// Subject and Names are the client certificate's subject and
	// subject alternative names, for "tls".
	Subject string
	Names   []string
	// Remote is the peer's address, for "tls" and "tcp".
	Remote string
}

func (id Identity) String() string {
	var b strings.Builder
	switch id.Transport {
	case "tls":
		fmt.Fprintf(&b, "x509:%s", id.Subject)
		if len(id.Names) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(id.Names, " "))
		}
	default:
		fmt.Fprintf(&b, "uid=%d", id.UID)
		if u, err := user.LookupId(strconv.Itoa(id.UID)); err == nil {
			fmt.Fprintf(&b, "(%s)", u.Username)
		}
		if id.PID > 0 {
			fmt.Fprintf(&b, " pid=%d", id.PID)
		}
	}
	if id.Remote != "" {
		fmt.Fprintf(&b, " from %s", id.Remote)
	}
	return b.String()
}

// Policy says which local users may connect through a Unix socket or
// plain loopback TCP. Root always may; loading eBPF is root-equivalent,
// so everyone else must be named.
type Policy struct {
	// AllowUIDs are users allowed besides root.
	AllowUIDs []uint32
	// AllowGIDs are groups whose members (primary or supplementary) are
	// allowed.
	AllowGIDs []uint32
	// AllowClients, when not empty, restricts TLS clients to certificates
	// whose common name or one of whose subject alternative names (DNS
	// name, IP address, URI or email address) is among them; any
	// certificate the client CA issued is accepted otherwise.
	AllowClients []string
}

// checkCert applies AllowClients to a verified client certificate.
func (p Policy) checkCert(cert *x509.Certificate) error {
	if len(p.AllowClients) == 0 {
		return nil
	}
	names := []string{cert.Subject.CommonName}
	names = append(names, cert.DNSNames...)
	names = append(names, cert.EmailAddresses...)
	for _, ip := range cert.IPAddresses {
		names = append(names, ip.String())
	}
	for _, u := range cert.URIs {
		names = append(names, u.String())
	}
	for _, n := range names {
		if n != "" && slices.Contains(p.AllowClients, n) {
			return nil
		}
	}
	return fmt.Errorf("the client certificate %s is not among the allowed clients (--allow-client)", certIdentity(cert))
}

func (p Policy) check(id Identity) error {
	if id.UID == 0 || (id.UID > 0 && slices.Contains(p.AllowUIDs, uint32(id.UID))) {
		return nil
	}
	if len(p.AllowGIDs) > 0 {
		if id.GID >= 0 && slices.Contains(p.AllowGIDs, uint32(id.GID)) {
			return nil
		}
		for _, g := range supplementaryGroups(id.PID) {
			if slices.Contains(p.AllowGIDs, g) {
				return nil
			}
		}
	}
	return fmt.Errorf("uid %d is not allowed to use the agent (only root, --allow-uid and --allow-gid are)", id.UID)
}

// supplementaryGroups reads a process's groups from /proc; none when pid
// is unknown or the process is gone.
func supplementaryGroups(pid int) []uint32 {
	if pid <= 0 {
		return nil
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []uint32
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Groups:")
		if !ok {
			continue
		}
		for _, g := range strings.Fields(rest) {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				out = append(out, uint32(n))
			}
		}
	}
	return out
}

// authInfo carries a connection's Identity from the handshake to the
// handlers.
type authInfo struct {
	credentials.CommonAuthInfo
	id Identity
}

func (a authInfo) AuthType() string { return "waggle-" + a.id.Transport }

// identityFrom is the Identity a handshake recorded for the RPC's
// connection.
func identityFrom(ctx context.Context) Identity {
	if p, ok := peer.FromContext(ctx); ok {
		if ai, ok := p.AuthInfo.(authInfo); ok {
			return ai.id
		}
	}
	// Every listener's credentials set an authInfo; reaching here is a
	// bug, and the caller refuses the request.
	return Identity{Transport: "unknown", UID: -1, GID: -1, PID: -1}
}

// peerCreds are the server credentials of a Unix socket or a plain
// loopback TCP listener: the peer's user is found through the kernel and
// checked against the policy before gRPC sees the connection.
type peerCreds struct {
	transport string // "unix" or "tcp"
	policy    Policy
	log       *slog.Logger
}

func (c *peerCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	var id Identity
	var err error
	if c.transport == "unix" {
		id, err = unixPeer(conn)
	} else {
		id, err = loopbackPeer(conn)
	}
	if err == nil {
		err = c.policy.check(id)
	}
	if err != nil {
		c.log.Warn("refused connection", "transport", c.transport, "peer", id.String(), "reason", err.Error())
		return nil, nil, err
	}
	level := credentials.PrivacyAndIntegrity
	if c.transport == "tcp" {
		level = credentials.NoSecurity
	}
	return conn, authInfo{credentials.CommonAuthInfo{SecurityLevel: level}, id}, nil
}

func (c *peerCreds) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("agent: peer credentials are for the server side")
}

func (c *peerCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "waggle-peer-" + c.transport}
}

func (c *peerCreds) Clone() credentials.TransportCredentials {
	cp := *c
	return &cp
}

func (c *peerCreds) OverrideServerName(string) error { return nil }

// unixPeer asks the kernel who connected (SO_PEERCRED).
func unixPeer(conn net.Conn) (Identity, error) {
	id := Identity{Transport: "unix", UID: -1, GID: -1, PID: -1}
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return id, fmt.Errorf("not a Unix socket connection (%T)", conn)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return id, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return id, err
	}
	if credErr != nil {
		return id, fmt.Errorf("read the peer's credentials: %w", credErr)
	}
	id.UID, id.GID, id.PID = int(cred.Uid), int(cred.Gid), int(cred.Pid)
	return id, nil
}

// loopbackPeer finds the user owning the other end of a loopback TCP
// connection in /proc/net/tcp{,6}: both ends are in this network
// namespace, so the kernel lists the client's socket with its owner.
func loopbackPeer(conn net.Conn) (Identity, error) {
	id := Identity{Transport: "tcp", UID: -1, GID: -1, Remote: conn.RemoteAddr().String()}
	remote, err1 := netip.ParseAddrPort(conn.RemoteAddr().String())
	local, err2 := netip.ParseAddrPort(conn.LocalAddr().String())
	if err1 != nil || err2 != nil {
		return id, fmt.Errorf("not a TCP connection (%s)", conn.RemoteAddr())
	}
	if !remote.Addr().Unmap().IsLoopback() {
		return id, fmt.Errorf("plain TCP is only for loopback clients, and %s is not one", remote)
	}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		uid, found := findSocketOwner(f, remote, local)
		f.Close()
		if found {
			id.UID = int(uid)
			return id, nil
		}
	}
	return id, fmt.Errorf("could not find who owns the client socket %s in /proc/net/tcp", remote)
}

// findSocketOwner scans a /proc/net/tcp listing for the socket whose local
// end is local and remote end is remote, and returns its owner's uid.
func findSocketOwner(r io.Reader, local, remote netip.AddrPort) (uint32, bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 || f[0] == "sl" {
			continue
		}
		l, err1 := parseProcAddr(f[1])
		rm, err2 := parseProcAddr(f[2])
		if err1 != nil || err2 != nil || !sameEndpoint(l, local) || !sameEndpoint(rm, remote) {
			continue
		}
		uid, err := strconv.ParseUint(f[7], 10, 32)
		if err != nil {
			continue
		}
		return uint32(uid), true
	}
	return 0, false
}

func sameEndpoint(a, b netip.AddrPort) bool {
	return a.Port() == b.Port() && a.Addr().Unmap() == b.Addr().Unmap()
}

// parseProcAddr reads "0100007F:1F90": the address as 32-bit words in the
// kernel's byte order, then the port in hex.
func parseProcAddr(s string) (netip.AddrPort, error) {
	addrHex, portHex, ok := strings.Cut(s, ":")
	if !ok || (len(addrHex) != 8 && len(addrHex) != 32) {
		return netip.AddrPort{}, fmt.Errorf("bad socket address %q", s)
	}
	raw, err := hex.DecodeString(addrHex)
	if err != nil {
		return netip.AddrPort{}, err
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// tlsCreds wraps gRPC's TLS credentials to log refused handshakes and to
// name the client by its verified certificate.
type tlsCreds struct {
	credentials.TransportCredentials
	policy Policy
	log    *slog.Logger
}

func (c *tlsCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, ai, err := c.TransportCredentials.ServerHandshake(raw)
	if err != nil {
		c.log.Warn("refused connection", "transport", "tls", "peer", raw.RemoteAddr().String(), "reason", err.Error())
		return nil, nil, err
	}
	info, ok := ai.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		conn.Close()
		c.log.Warn("refused connection", "transport", "tls", "peer", raw.RemoteAddr().String(), "reason", "no verified client certificate")
		return nil, nil, errors.New("no verified client certificate")
	}
	cert := info.State.VerifiedChains[0][0]
	if err := c.policy.checkCert(cert); err != nil {
		conn.Close()
		c.log.Warn("refused connection", "transport", "tls", "peer", raw.RemoteAddr().String(), "reason", err.Error())
		return nil, nil, err
	}
	id := certIdentity(cert)
	id.Remote = raw.RemoteAddr().String()
	return conn, authInfo{info.CommonAuthInfo, id}, nil
}

func (c *tlsCreds) Clone() credentials.TransportCredentials {
	return &tlsCreds{c.TransportCredentials.Clone(), c.policy, c.log}
}

func certIdentity(cert *x509.Certificate) Identity {
	id := Identity{Transport: "tls", UID: -1, GID: -1, PID: -1, Subject: cert.Subject.String()}
	for _, n := range cert.DNSNames {
		id.Names = append(id.Names, "dns:"+n)
	}
	for _, ip := range cert.IPAddresses {
		id.Names = append(id.Names, "ip:"+ip.String())
	}
	for _, u := range cert.URIs {
		id.Names = append(id.Names, "uri:"+u.String())
	}
	for _, e := range cert.EmailAddresses {
		id.Names = append(id.Names, "email:"+e)
	}
	return id
}
