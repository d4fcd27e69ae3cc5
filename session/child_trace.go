package session

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// traceOptions are what a command watched for its exit reports: its
// execs (only the command, not the shell that parks it, is of interest)
// and its exit, before its memory is released. Nothing else (no system
// calls, no forks) stops it.
const traceOptions = unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_TRACEEXIT

// si_code values of SIGCHLD (<asm-generic/siginfo.h>), which x/sys/unix
// does not name.
const (
	cldExited  = 1
	cldKilled  = 2
	cldDumped  = 3
	cldTrapped = 4
)

// seize makes the calling thread the tracer of pid without stopping it.
// Every later ptrace request for pid must come from the same thread.
func seize(pid int) error {
	_, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(pid), 0, traceOptions, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// traceToExit follows pid, traced by the calling thread with
// traceOptions, until it exits, and returns then, without reaping it:
// the exit status stays for cmd.Wait. At its exit stop it calls atExit
// (if the process has exec'd by then, or execed says it had already) and
// detaches. Signals are passed on as they come; a stop signal stops it as
// it would untraced.
//
// It returns early only if waiting fails for another reason than a
// signal, which for a child not yet reaped does not happen.
func traceToExit(pid int, execed bool, atExit func(int)) {
	for {
		// WNOWAIT: an exit is seen here but left to cmd.Wait.
		code, _, err := waitChild(pid, unix.WEXITED|unix.WSTOPPED|unix.WALL|unix.WNOWAIT)
		if err == unix.EINTR {
			continue
		}
		if err != nil || code == cldExited || code == cldKilled || code == cldDumped {
			return
		}
		// Take the stop; without WEXITED this never reaps the process,
		// even if it was killed in between.
		code, status, err := waitChild(pid, unix.WSTOPPED|unix.WALL|unix.WNOHANG)
		if err != nil || code != cldTrapped {
			continue
		}
		sig, event := status&0xff, status>>8
		switch event {
		case unix.PTRACE_EVENT_EXEC:
			execed = true
			unix.PtraceCont(pid, 0)
		case unix.PTRACE_EVENT_EXIT:
			if execed && atExit != nil {
				atExit(pid)
				atExit = nil
			}
			if unix.PtraceDetach(pid) == nil {
				return
			}
			// Killed meanwhile: its exit is next.
		case unix.PTRACE_EVENT_STOP:
			// A seized process in group-stop: it stays stopped until
			// SIGCONT, as without a tracer. Other PTRACE_EVENT_STOPs
			// (the end of a group-stop) let it run.
			if isStopSignal(sig) {
				ptraceListen(pid)
			} else {
				unix.PtraceCont(pid, 0)
			}
		case 0:
			// A signal on its way to the process: pass it on. A process
			// traced since its start (not seized) reports a group-stop
			// this way too, without siginfo; it is let run, as it cannot
			// stay stopped and still see SIGCONT.
			if !hasSiginfo(pid) {
				sig = 0
			}
			unix.PtraceCont(pid, sig)
		default:
			unix.PtraceCont(pid, 0)
		}
	}
}

func isStopSignal(sig int) bool {
	switch unix.Signal(sig) {
	case unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		return true
	}
	return false
}

func ptraceListen(pid int) {
	unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_LISTEN, uintptr(pid), 0, 0, 0, 0)
}

// hasSiginfo tells a signal-delivery-stop (which has the signal's
// siginfo) from a group-stop (which has none: EINVAL).
func hasSiginfo(pid int) bool {
	var si unix.Siginfo
	_, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETSIGINFO, uintptr(pid), 0, uintptr(unsafe.Pointer(&si)), 0, 0)
	return !errors.Is(errno, unix.EINVAL)
}

// waitChild is waitid(P_PID, pid) returning si_code and si_status (for a
// ptrace stop, the signal and the event above it: status>>8). code is 0
// when WNOHANG found nothing.
func waitChild(pid, options int) (code, status int, err error) {
	var si unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &si, options, nil); err != nil {
		return 0, 0, err
	}
	// si_pid, si_uid and si_status follow si_signo, si_errno and si_code,
	// aligned as a pointer: at 16 on 64-bit machines, at 12 on 32-bit
	// ones.
	off := 3 * unsafe.Sizeof(int32(0))
	if unsafe.Sizeof(uintptr(0)) == 8 {
		off = 16
	}
	b := (*[unsafe.Sizeof(si)]byte)(unsafe.Pointer(&si))
	if *(*int32)(unsafe.Pointer(&b[off])) == 0 {
		return 0, 0, nil // WNOHANG, nothing to report
	}
	return int(si.Code), int(*(*int32)(unsafe.Pointer(&b[off+8]))), nil
}
