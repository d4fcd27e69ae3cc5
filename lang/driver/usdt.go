package driver

import (
	"fmt"

	"github.com/cilium/ebpf/link"

	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/lang/codegen"
	"github.com/wagglebpf/waggle/session"
)

// usdtAttachment is a program attached to one usdt probe site.
type usdtAttachment struct {
	link.Link
	target attach.Target
}

func (a *usdtAttachment) Target() attach.Target { return a.target }
func (a *usdtAttachment) Close() error          { return a.Link.Close() }

// attachUSDT attaches pr's program to its usdt probe site in process pid
// (every process that runs the file when pid is 0), with the probe's
// semaphore set while it is attached (attach.AttachUSDT). The session
// detaches it with the rest.
func attachUSDT(s *session.Session, pr *codegen.Probe, pid int) error {
	site := pr.Instance.USDT
	if site == nil {
		return fmt.Errorf("usdt probe %s has no probe site", pr.Instance.Name)
	}
	prog := s.Collection.Programs[pr.Program]
	if prog == nil {
		return fmt.Errorf("program %s is not loaded", pr.Program)
	}
	l, err := attach.AttachUSDT(prog, *site, pid)
	if err != nil {
		return err
	}
	s.Attachments = append(s.Attachments, &usdtAttachment{Link: l, target: pr.Target})
	s.Programs = append(s.Programs, pr.Program)
	return nil
}
