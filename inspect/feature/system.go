package feature

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

func isNotSupported(err error) bool {
	return errors.Is(err, ebpf.ErrNotSupported)
}

// sysctl reads a sysctl's value from /proc/sys; ok is false when the
// kernel has no such setting.
func sysctl(path string) (string, bool) {
	b, err := os.ReadFile("/proc/sys/" + path)
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

// sysctlName is the dotted name of a /proc/sys path.
func sysctlName(path string) string {
	return strings.ReplaceAll(path, "/", ".")
}

// returnZero is the smallest program: r0 = 0; exit.
var returnZero = asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}

func (p *prober) system() []Answer {
	return []Answer{
		p.bpfSyscall(),
		p.jit(),
		setting("jit_harden", "net/core/bpf_jit_harden", map[string]string{
			"0": "JIT hardening is off", "1": "on for unprivileged programs", "2": "on for all programs",
		}),
		setting("jit_kallsyms", "net/core/bpf_jit_kallsyms", map[string]string{
			"0": "JIT-compiled programs are not in /proc/kallsyms", "1": "JIT-compiled programs are in /proc/kallsyms for root",
		}),
		jitLimit(),
		p.unprivileged(),
		p.stats(),
		bpffs(),
		tracefs(),
	}
}

// bpfSyscall creates and closes an array map: the least a kernel with
// bpf() can do.
func (p *prober) bpfSyscall() Answer {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err == nil {
		m.Close()
	}
	if errors.Is(err, unix.ENOSYS) {
		return Answer{Name: "bpf_syscall", Status: No, Reason: "the kernel has no bpf() system call (built without CONFIG_BPF_SYSCALL)"}
	}
	return p.classify("bpf_syscall", err, "")
}

// jit loads a program and asks the kernel whether it holds machine code
// for it.
func (p *prober) jit() Answer {
	value, _ := sysctl("net/core/bpf_jit_enable")
	a := Answer{Name: "jit", Value: "net.core.bpf_jit_enable=" + value}
	if value == "" {
		a.Value = ""
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SocketFilter, License: "GPL", Instructions: returnZero})
	if err != nil {
		b := p.classify("jit", err, "")
		b.Value, b.Status = a.Value, Unknown
		b.Reason = "no program could be loaded to look at: " + b.Reason
		return b
	}
	defer prog.Close()
	info, err := prog.Info()
	if err != nil {
		a.Status, a.Reason = Unknown, "the kernel does not describe loaded programs: "+cleanError(err)
		return a
	}
	if n, err := info.JitedSize(); err == nil && n > 0 {
		a.Status = Yes
		return a
	}
	switch value {
	case "0":
		a.Status, a.Reason = No, "programs are interpreted: net.core.bpf_jit_enable is 0"
	case "":
		a.Status, a.Reason = No, "programs are interpreted: the kernel has no JIT for this architecture"
	default:
		// The JIT is on, but the kernel hides machine code from us
		// (kernel.kptr_restrict, or no CAP_SYS_ADMIN/CAP_PERFMON).
		a.Status, a.Reason = Unknown, "the kernel does not show this process the JIT's output (kernel.kptr_restrict or privileges)"
	}
	return a
}

// setting reports a sysctl that switches something on: yes when nonzero.
func setting(name, path string, meanings map[string]string) Answer {
	value, ok := sysctl(path)
	a := Answer{Name: name, Value: sysctlName(path) + "=" + value}
	switch {
	case !ok:
		a.Value, a.Status, a.Reason = "", No, "the kernel has no "+sysctlName(path)+" setting"
	case value == "0":
		a.Status, a.Reason = No, meanings[value]
	default:
		a.Status = Yes
		if m, ok := meanings[value]; ok {
			a.Value += " (" + m + ")"
		}
	}
	return a
}

func jitLimit() Answer {
	value, ok := sysctl("net/core/bpf_jit_limit")
	if !ok {
		return Answer{Name: "jit_limit", Status: No, Reason: "the kernel has no net.core.bpf_jit_limit setting"}
	}
	a := Answer{Name: "jit_limit", Status: Yes, Value: "net.core.bpf_jit_limit=" + value}
	if n, err := strconv.ParseUint(value, 10, 64); err == nil {
		a.Value += fmt.Sprintf(" (%d MiB of JIT images for unprivileged programs)", n>>20)
	}
	return a
}

// progLoadAttr is the start of union bpf_attr for BPF_PROG_LOAD.
type progLoadAttr struct {
	ProgType    uint32
	InsnCnt     uint32
	Insns       uint64
	License     uint64
	LogLevel    uint32
	LogSize     uint32
	LogBuf      uint64
	KernVersion uint32
	ProgFlags   uint32
}

// unprivileged drops the effective capabilities of one OS thread and tries
// to load a socket filter from it, as an unprivileged user would. The
// thread is thrown away afterwards (its goroutine ends locked), so the
// rest of the process keeps its privileges. The load is bpf(2) itself
// (loadRaw): cilium/ebpf would run and cache its own feature probes on
// the unprivileged thread.
func (p *prober) unprivileged() Answer {
	value, _ := sysctl("kernel/unprivileged_bpf_disabled")
	a := Answer{Name: "unprivileged_bpf"}
	if value != "" {
		a.Value = "kernel.unprivileged_bpf_disabled=" + value
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			done <- fmt.Errorf("reading capabilities: %w", err)
			return
		}
		data[0].Effective, data[1].Effective = 0, 0
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			done <- fmt.Errorf("dropping capabilities: %w", err)
			return
		}
		fd, _, err := loadRaw(&ebpf.ProgramSpec{Type: ebpf.SocketFilter}, returnZero)
		if err == nil {
			unix.Close(fd)
		}
		done <- err
	}()
	err := <-done
	if err == nil {
		a.Status = Yes
		return a
	}
	if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EACCES) {
		a.Status, a.Reason = Unknown, cleanError(err)
		return a
	}
	a.Status = No
	switch value {
	case "1":
		a.Reason = "only privileged processes may use bpf(), until the next boot"
	case "2":
		a.Reason = "only privileged processes may use bpf() (root may set kernel.unprivileged_bpf_disabled to 0)"
	default:
		a.Reason = "the kernel refuses to load a socket filter without privileges (" + errnoText(err) + ")"
	}
	return a
}

// stats switches run-time statistics on through BPF_ENABLE_STATS and at
// once off again.
func (p *prober) stats() Answer {
	value, ok := sysctl("kernel/bpf_stats_enabled")
	a := Answer{Name: "bpf_stats"}
	if ok {
		a.Value = "kernel.bpf_stats_enabled=" + value
	}
	c, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err == nil {
		c.Close()
		a.Status = Yes
		return a
	}
	b := p.classify("bpf_stats", err, "")
	a.Status, a.Reason = b.Status, b.Reason
	if errors.Is(err, unix.EINVAL) {
		a.Status, a.Reason = No, "the kernel has no BPF_ENABLE_STATS command (Linux 5.8 added it)"
	}
	return a
}

// bpffsMagic and tracefsMagic identify the file systems (statfs f_type).
const (
	bpffsMagic   = 0xcafe4a11
	tracefsMagic = 0x74726163
)

func bpffs() Answer {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/bpf", &st); err == nil && st.Type == bpffsMagic {
		return Answer{Name: "bpffs", Status: Yes, Value: "/sys/fs/bpf"}
	}
	return Answer{Name: "bpffs", Status: No, Reason: "no BPF file system at /sys/fs/bpf, so nothing can be pinned there (mount -t bpf bpf /sys/fs/bpf)"}
}

func tracefs() Answer {
	for _, dir := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err == nil && st.Type == tracefsMagic {
			return Answer{Name: "tracefs", Status: Yes, Value: dir}
		}
	}
	return Answer{Name: "tracefs", Status: No, Reason: "tracefs is not mounted (waggle mounts it when a probe needs it, as root)"}
}
