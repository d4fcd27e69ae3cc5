package agent

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wagglebpf/waggle/agent/agentpb"
)

const nobody = 65534

// dialAs connects to a Unix socket with the effective uid and gid of
// another user. Only the calling thread changes identity, and only for
// the connect(2): the kernel records the peer's credentials then.
func dialAs(t *testing.T, path string, uid, gid int) net.Conn {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to connect as another user")
	}
	type result struct {
		conn net.Conn
		err  error
	}
	got := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		// Raw syscalls change this thread only (Go's wrappers change every
		// thread). If restoring fails, the goroutine ends locked and its
		// thread is discarded with it.
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, ^uintptr(0), uintptr(gid), ^uintptr(0)); e != 0 {
			got <- result{err: e}
			return
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), uintptr(uid), ^uintptr(0)); e != 0 {
			got <- result{err: e}
			return
		}
		conn, err := net.Dial("unix", path)
		_, _, e1 := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), 0, ^uintptr(0))
		_, _, e2 := unix.RawSyscall(unix.SYS_SETRESGID, ^uintptr(0), 0, ^uintptr(0))
		if e1 == 0 && e2 == 0 {
			runtime.UnlockOSThread()
		}
		got <- result{conn, err}
	}()
	r := <-got
	if r.err != nil {
		t.Fatalf("connect as uid %d: %v", uid, r.err)
	}
	return r.conn
}

// clientOver is a client that uses conn as its connection.
func clientOver(t *testing.T, conn net.Conn) agentpb.AgentClient {
	t.Helper()
	used := false
	cc, err := grpc.NewClient("passthrough:///agent",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) {
			if used {
				return nil, io.EOF
			}
			used = true
			return conn, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return agentpb.NewAgentClient(cc)
}

// openSocket starts an agent whose socket file anyone may open, so that
// only the peer-credential check stands between other users and the
// agent.
func openSocket(t *testing.T, cfg Config) (*testAgent, string) {
	t.Helper()
	// t.TempDir's parents are mode 0700: other users cannot reach into them.
	dir, err := os.MkdirTemp("", "waggle-agent-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "agent.sock")
	cfg.Listen = []string{"unix://" + path}
	ta := startAgent(t, cfg)
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	return ta, path
}

func TestUnixSocketChecksThePeer(t *testing.T) {
	ta, path := openSocket(t, Config{})
	rpc := clientOver(t, dialAs(t, path, nobody, nobody))
	stream, err := rpc.Run(context.Background())
	if err == nil {
		err = stream.Send(&agentpb.RunRequest{Msg: &agentpb.RunRequest_Start{Start: &agentpb.Start{Program: fakeProgram("out should not run")}}})
		if err == nil {
			_, err = stream.Recv()
		}
	}
	if err == nil {
		t.Fatal("uid 65534 ran a program through the agent")
	}
	if n := ta.fake.calls.Load(); n != 0 {
		t.Errorf("%d programs ran for a user who is not allowed", n)
	}
	waitFor(t, "the refusal in the log", func() bool {
		return strings.Contains(ta.log.String(), `msg="refused connection" transport=unix peer="uid=65534(nobody) pid=`) &&
			strings.Contains(ta.log.String(), "uid 65534 is not allowed to use the agent")
	})
}

func TestAllowedUserMayConnect(t *testing.T) {
	for _, cfg := range []Config{
		{Policy: Policy{AllowUIDs: []uint32{nobody}}},
		{Policy: Policy{AllowGIDs: []uint32{nobody}}},
	} {
		ta, path := openSocket(t, cfg)
		rpc := clientOver(t, dialAs(t, path, nobody, nobody))
		if _, err := rpc.ListSessions(context.Background(), &agentpb.ListSessionsRequest{}); err != nil {
			t.Errorf("%+v: an allowed user was refused: %v", cfg.Policy, err)
		}
		if strings.Contains(ta.log.String(), "refused") {
			t.Errorf("%+v: refusal logged:\n%s", cfg.Policy, ta.log.String())
		}
	}
}

func TestSocketFileMode(t *testing.T) {
	ta := startAgent(t, Config{})
	a, _ := ParseAddress(ta.addr)
	st, err := os.Stat(a.Path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %s, want a socket with 0600", st.Mode())
	}

	tg := startAgent(t, Config{SocketGroup: "65534"})
	a, _ = ParseAddress(tg.addr)
	st, err = os.Stat(a.Path)
	if err != nil {
		t.Fatal(err)
	}
	if gid := st.Sys().(*syscall.Stat_t).Gid; st.Mode().Perm() != 0o660 || gid != nobody {
		t.Errorf("with --socket-group: mode %s group %d, want 0660 and group 65534", st.Mode(), gid)
	}
}

func TestFindSocketOwner(t *testing.T) {
	// Two lines of /proc/net/tcp as an x86 (little-endian) kernel writes
	// them: 127.0.0.1:40000 -> 127.0.0.1:7070 owned by uid 1000, and the
	// agent's end.
	const listing = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:9C40 0100007F:1B9E 01 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0000000000000000 20 4 30 10 -1
   1: 0100007F:1B9E 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 12346 1 0000000000000000 20 4 30 10 -1
`
	if !littleEndian() {
		t.Skip("the listing is written as a little-endian kernel writes it")
	}
	client := netip.MustParseAddrPort("127.0.0.1:40000")
	agent := netip.MustParseAddrPort("127.0.0.1:7070")
	uid, ok := findSocketOwner(strings.NewReader(listing), client, agent)
	if !ok || uid != 1000 {
		t.Errorf("owner %d, %v; want 1000", uid, ok)
	}
	if _, ok := findSocketOwner(strings.NewReader(listing), netip.MustParseAddrPort("127.0.0.1:40001"), agent); ok {
		t.Error("found an owner for a connection that is not listed")
	}
	six, err := parseProcAddr("0000000000000000FFFF00000100007F:1F90")
	if err != nil || six != netip.MustParseAddrPort("[::ffff:127.0.0.1]:8080") {
		t.Errorf("IPv6 address: %v, %v", six, err)
	}
	for _, bad := range []string{"", "0100007F", "0100007G:1F90", "0100007F:XYZ", "01:1F90"} {
		if _, err := parseProcAddr(bad); err == nil {
			t.Errorf("parseProcAddr(%q) accepted it", bad)
		}
	}
}

func littleEndian() bool { return binary.NativeEndian.Uint16([]byte{1, 0}) == 1 }
