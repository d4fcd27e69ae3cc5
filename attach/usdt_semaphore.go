package attach

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/internal/procmaps"
)

// USDTSemaphoreAddress returns where process pid has the semaphore of
// probe p: the mapping of p's file that holds the semaphore's file offset,
// moved to that offset.
func USDTSemaphoreAddress(pid int, p USDTProbe) (uint64, error) {
	if p.SemaphoreOffset == 0 {
		return 0, fmt.Errorf("usdt %s:%s has no semaphore", p.Provider, p.Name)
	}
	fi, err := os.Stat(p.Path)
	if err != nil {
		return 0, fmt.Errorf("usdt semaphore: %w", err)
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	ms, err := procmaps.Read(pid)
	if err != nil {
		return 0, fmt.Errorf("usdt semaphore: %w", err)
	}
	root, _ := processRoot(pid)
	for _, m := range ms {
		if !m.IsFile() || p.SemaphoreOffset < m.Offset || p.SemaphoreOffset-m.Offset >= m.End-m.Start {
			continue
		}
		// The same file: by device and inode, or (for overlay file
		// systems, whose listing shows the layer's inode) by path.
		same := st != nil && uint64(st.Ino) == m.Inode &&
			unix.Major(uint64(st.Dev)) == m.Major && unix.Minor(uint64(st.Dev)) == m.Minor
		if same || root+m.Path == p.Path || m.Path == strings.TrimPrefix(p.Path, root) {
			return m.Start + p.SemaphoreOffset - m.Offset, nil
		}
	}
	return 0, fmt.Errorf("usdt semaphore of %s:%s: process %d does not map %s", p.Provider, p.Name, pid, Shorten(p.Path))
}

// ReadUSDTSemaphore returns the value of probe p's semaphore in process
// pid.
func ReadUSDTSemaphore(pid int, p USDTProbe) (uint16, error) {
	return AddUSDTSemaphore(pid, p, 0)
}

// AddUSDTSemaphore adds delta to probe p's semaphore in process pid,
// through /proc/PID/mem, and returns the new value. This is how tools set
// semaphores on kernels without uprobe reference counters (before 4.20);
// AttachUSDT prefers the kernel's. The update is not atomic against the
// process itself, which only reads the semaphore; the value does not go
// below 0 or above 65535.
func AddUSDTSemaphore(pid int, p USDTProbe, delta int) (uint16, error) {
	addr, err := USDTSemaphoreAddress(pid, p)
	if err != nil {
		return 0, err
	}
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/mem", pid), os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("usdt semaphore: %w", err)
	}
	defer f.Close()
	var buf [2]byte
	if _, err := f.ReadAt(buf[:], int64(addr)); err != nil {
		return 0, fmt.Errorf("usdt semaphore: read process %d at %#x: %w", pid, addr, err)
	}
	v := int(binary.NativeEndian.Uint16(buf[:]))
	if delta == 0 {
		return uint16(v), nil
	}
	v = min(max(v+delta, 0), 0xffff)
	binary.NativeEndian.PutUint16(buf[:], uint16(v))
	if _, err := f.WriteAt(buf[:], int64(addr)); err != nil {
		return 0, fmt.Errorf("usdt semaphore: write process %d at %#x: %w", pid, addr, err)
	}
	return uint16(v), nil
}

// UprobeOptions returns the uprobe that implements probe p in process pid
// (0 for every process that runs the file): at the probe's file offset,
// with the kernel managing the semaphore (RefCtrOffset) if there is one.
func (p USDTProbe) UprobeOptions(pid int) *link.UprobeOptions {
	return &link.UprobeOptions{Address: p.Offset, PID: pid, RefCtrOffset: p.SemaphoreOffset}
}

// UprobeRefCtrAvailable reports whether the kernel can manage USDT
// semaphores itself (uprobes with ref_ctr_offset, Linux 4.20+).
func UprobeRefCtrAvailable() bool {
	_, err := os.Stat("/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset")
	return err == nil
}

// AttachUSDT attaches prog, a kprobe-type program, to the USDT probe site
// p in process pid, or in every process that runs the file when pid is 0.
// A semaphore is set by the kernel when it can (RefCtrOffset); otherwise,
// with a pid, it is incremented in the process's memory and decremented
// again when the link is closed.
func AttachUSDT(prog *ebpf.Program, p USDTProbe, pid int) (link.Link, error) {
	return attachUSDT(prog, p, pid, UprobeRefCtrAvailable())
}

func attachUSDT(prog *ebpf.Program, p USDTProbe, pid int, kernelRefCtr bool) (link.Link, error) {
	fail := func(err error) (link.Link, error) {
		return nil, fmt.Errorf("attach %s: %w", p, err)
	}
	if p.Offset == 0 {
		// cilium/ebpf reads Address 0 as "look the symbol up".
		return fail(errors.New("probe at file offset 0"))
	}
	ex, err := link.OpenExecutable(p.Path)
	if err != nil {
		return fail(err)
	}
	opts := p.UprobeOptions(pid)
	manual := p.SemaphoreOffset != 0 && !kernelRefCtr
	if manual {
		if pid == 0 {
			return fail(errors.New("the probe has a semaphore and this kernel cannot set it (uprobe ref_ctr_offset needs Linux 4.20); give a process (-p PID) to set it in"))
		}
		opts.RefCtrOffset = 0
	}
	l, err := ex.Uprobe(usdtEventName(p), prog, opts)
	if err != nil {
		return fail(err)
	}
	if !manual {
		return l, nil
	}
	if _, err := AddUSDTSemaphore(pid, p, 1); err != nil {
		l.Close()
		return fail(err)
	}
	return &usdtSemaphoreLink{Link: l, pid: pid, probe: p}, nil
}

// usdtEventName names the uprobe for tracefs (used only when the kernel
// lacks the uprobe PMU): letters, digits and '_'.
func usdtEventName(p USDTProbe) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, "usdt_"+p.Provider+"_"+p.Name)
}

// usdtSemaphoreLink undoes the semaphore increment of a probe attached
// without the kernel's reference counter.
type usdtSemaphoreLink struct {
	link.Link
	pid   int
	probe USDTProbe
}

func (l *usdtSemaphoreLink) Close() error {
	err := l.Link.Close()
	if _, serr := AddUSDTSemaphore(l.pid, l.probe, -1); serr != nil && !errors.Is(serr, os.ErrNotExist) &&
		!strings.Contains(serr.Error(), "does not exist") {
		err = errors.Join(err, serr)
	}
	return err
}
