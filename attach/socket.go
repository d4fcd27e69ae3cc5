package attach

import (
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// socketAttachment is a packet socket bound to one interface with a socket
// filter program on it. The filter runs on every packet the interface sees;
// nothing reads the socket, and the kernel drops what would queue beyond
// its receive buffer.
type socketAttachment struct {
	t  Target
	fd int
}

func (s *socketAttachment) Target() Target { return s.t }

func (s *socketAttachment) Close() error {
	if s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}

func attachSocket(prog *ebpf.Program, t Target, opts Options) (Attachment, error) {
	ifc, err := iface(t, opts)
	if err != nil {
		return nil, err
	}
	t.Interface = ifc.Name
	proto := htons(unix.ETH_P_ALL)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(proto))
	if err != nil {
		return nil, fmt.Errorf("open packet socket: %w", err)
	}
	// Attach before binding so that no packet is queued unfiltered.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ATTACH_BPF, prog.FD()); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("SO_ATTACH_BPF: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifc.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind packet socket to %s: %w", ifc.Name, err)
	}
	return &socketAttachment{t: t, fd: fd}, nil
}

// htons converts v to network byte order, as the kernel expects
// sll_protocol and the socket protocol argument.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
