package vm

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kernel helper ids (enum bpf_func_id in include/uapi/linux/bpf.h) of the
// helpers that [KernelHelpers] provides.
const (
	HelperProbeRead          = 4
	HelperKtimeGetNS         = 5
	HelperTracePrintk        = 6
	HelperGetPrandomU32      = 7
	HelperGetSmpProcessorID  = 8
	HelperGetCurrentPidTgid  = 14
	HelperGetCurrentUidGid   = 15
	HelperGetCurrentComm     = 16
	HelperSkbLoadBytes       = 26
	HelperGetNumaNodeID      = 42
	HelperProbeReadStr       = 45
	HelperStrtol             = 105
	HelperStrtoul            = 106
	HelperProbeReadUser      = 112
	HelperProbeReadKernel    = 113
	HelperProbeReadUserStr   = 114
	HelperProbeReadKernelStr = 115
	HelperJiffies64          = 118
	HelperKtimeGetBootNS     = 125
	HelperKtimeGetCoarseNS   = 160
	HelperSnprintf           = 165
	HelperLoop               = 181
)

// Error numbers the kernel's helpers return, negated, in r0.
const (
	errnoE2BIG  = 7
	errnoEFAULT = 14
	errnoEINVAL = 22
	errnoENOSPC = 28
	errnoERANGE = 34
)

// negErrno is how a helper reports failure: -errno as a 64-bit register.
func negErrno(e int) uint64 { return uint64(-int64(e)) }

// Task is the identity of the "current" task that the get_current_*
// helpers report. In the kernel a program runs on behalf of whatever task
// the event interrupted; in user space nothing is current unless the
// embedder says so.
type Task struct {
	PID  uint32 // thread id (the kernel's pid), the low half of pid_tgid
	TGID uint32 // process id (the kernel's tgid), the high half
	UID  uint32
	GID  uint32
	Comm string // at most 15 bytes are seen, as with the kernel's TASK_COMM_LEN of 16
}

// HostTask returns the calling process as a [Task]: its pid (as both pid
// and tgid, since Go does not expose thread ids portably), uid, gid, and
// the base name of its executable as comm.
func HostTask() Task {
	uid, gid := os.Getuid(), os.Getgid()
	if uid < 0 { // not a Unix system: there is no identity to report
		uid, gid = 0, 0
	}
	pid := uint32(os.Getpid())
	return Task{PID: pid, TGID: pid, UID: uint32(uid), GID: uint32(gid), Comm: filepath.Base(os.Args[0])}
}

// HelperConfig is what the kernel knows implicitly and a user-space VM must
// be told: the clocks, a source of randomness, which CPU it runs on, which
// task is current, and where trace_printk output goes. The zero value is
// usable: real clocks, a real random source, CPU 0, no current task, and
// trace_printk output discarded.
type HelperConfig struct {
	// Monotonic returns CLOCK_MONOTONIC in nanoseconds, for ktime_get_ns,
	// ktime_get_coarse_ns and jiffies64. nil: the Go runtime's monotonic
	// clock, counted from when the process started (the kernel counts
	// from boot; programs only ever use differences).
	Monotonic func() uint64
	// Boottime returns CLOCK_BOOTTIME in nanoseconds, for
	// ktime_get_boot_ns. nil: Monotonic, since a user-space VM cannot
	// observe suspend.
	Boottime func() uint64
	// HZ is the jiffy rate for jiffies64 and the granularity of
	// ktime_get_coarse_ns. 0: 250, the default of most distributions.
	HZ uint64
	// Rand returns the values of get_prandom_u32. nil: math/rand/v2.
	Rand func() uint32
	// CPU is what get_smp_processor_id returns.
	CPU uint32
	// Task is the current task for get_current_pid_tgid, _uid_gid and
	// _comm. nil: no current task, for which the kernel returns -EINVAL
	// (as it does for a program run outside process context).
	Task *Task
	// TracePrintk receives the text of each bpf_trace_printk call, as
	// formatted (the kernel adds a trace_pipe header that is not
	// reproduced). nil: discarded. Writes are serialised, so one writer
	// may be shared by programs running concurrently.
	TracePrintk io.Writer
}

// processStart anchors the default monotonic clock: time.Since uses the
// runtime's monotonic reading, which never jumps with the wall clock.
var processStart = time.Now()

// KernelHelpers returns the kernel's helpers that need no maps, by their
// kernel ids, configured by cfg. Add the result's entries to
// RunOptions.Helpers; embedders may replace any of them.
//
// Arguments and return values follow the kernel exactly, including
// negative errno results as uint64. Where the kernel relies on its
// verifier to guarantee that an argument is valid memory (a destination
// buffer, a format string), the helper instead stops the program with an
// error wrapping [ErrOutOfBounds], because there is no verifier to have
// rejected it. Where the kernel checks at run time (the source of
// probe_read), the helper returns what the kernel returns.
//
// bpf_loop (181) calls its callback through [Env.CallLocal], within the
// run's call-depth limit and instruction budget.
func KernelHelpers(cfg HelperConfig) map[int32]HelperFunc {
	mono := cfg.Monotonic
	if mono == nil {
		mono = func() uint64 { return uint64(time.Since(processStart)) }
	}
	boot := cfg.Boottime
	if boot == nil {
		boot = mono
	}
	hz := cfg.HZ
	if hz == 0 {
		hz = 250
	}
	rnd := cfg.Rand
	if rnd == nil {
		rnd = rand.Uint32
	}
	cpu := cfg.CPU
	var task *Task
	if cfg.Task != nil {
		t := *cfg.Task // the caller may change theirs; runs see a fixed identity
		task = &t
	}
	var tp *tracePrinter
	if cfg.TracePrintk != nil {
		tp = &tracePrinter{w: cfg.TracePrintk}
	}

	probeRead := func(env *Env, a [5]uint64) (uint64, error) { return probeRead(env, a[0], a[1], a[2]) }
	probeReadStr := func(env *Env, a [5]uint64) (uint64, error) { return probeReadStr(env, a[0], a[1], a[2]) }
	return map[int32]HelperFunc{
		HelperKtimeGetNS:     func(*Env, [5]uint64) (uint64, error) { return mono(), nil },
		HelperKtimeGetBootNS: func(*Env, [5]uint64) (uint64, error) { return boot(), nil },
		HelperKtimeGetCoarseNS: func(*Env, [5]uint64) (uint64, error) {
			// The coarse clock is the time of the last tick.
			tick := max(1_000_000_000/hz, 1) // HZ above 1e9 is nonsense; do not divide by zero
			t := mono()
			return t - t%tick, nil
		},
		HelperJiffies64: func(*Env, [5]uint64) (uint64, error) {
			t := mono()
			// t*hz/1e9 without overflowing for t beyond ~2^64/hz.
			return t/1_000_000_000*hz + t%1_000_000_000*hz/1_000_000_000, nil
		},
		HelperGetPrandomU32:     func(*Env, [5]uint64) (uint64, error) { return uint64(rnd()), nil },
		HelperGetSmpProcessorID: func(*Env, [5]uint64) (uint64, error) { return uint64(cpu), nil },
		// A user-space VM has one memory node.
		HelperGetNumaNodeID: func(*Env, [5]uint64) (uint64, error) { return 0, nil },
		HelperGetCurrentPidTgid: func(*Env, [5]uint64) (uint64, error) {
			if task == nil {
				return negErrno(errnoEINVAL), nil
			}
			return uint64(task.TGID)<<32 | uint64(task.PID), nil
		},
		HelperGetCurrentUidGid: func(*Env, [5]uint64) (uint64, error) {
			if task == nil {
				return negErrno(errnoEINVAL), nil
			}
			return uint64(task.GID)<<32 | uint64(task.UID), nil
		},
		HelperGetCurrentComm: func(env *Env, a [5]uint64) (uint64, error) {
			return getCurrentComm(env, task, a[0], a[1])
		},
		HelperTracePrintk: func(env *Env, a [5]uint64) (uint64, error) {
			return tp.printk(env, a)
		},
		HelperProbeRead:          probeRead,
		HelperProbeReadKernel:    probeRead,
		HelperProbeReadUser:      probeRead,
		HelperProbeReadStr:       probeReadStr,
		HelperProbeReadKernelStr: probeReadStr,
		HelperProbeReadUserStr:   probeReadStr,
		HelperStrtol: func(env *Env, a [5]uint64) (uint64, error) {
			return strtoHelper(env, a, true)
		},
		HelperStrtoul: func(env *Env, a [5]uint64) (uint64, error) {
			return strtoHelper(env, a, false)
		},
		HelperSnprintf: snprintfHelper,
		HelperLoop:     loopHelper,
	}
}

// getCurrentComm is bpf_get_current_comm: strscpy_pad of the comm into
// buf, so the result is always NUL-terminated and the rest of buf zeroed.
func getCurrentComm(env *Env, task *Task, addr, size uint64) (uint64, error) {
	size = uint64(uint32(size))
	if size == 0 { // the verifier would reject it; the kernel never sees it
		return negErrno(errnoEINVAL), nil
	}
	buf, err := env.Bytes(addr, size, true)
	if err != nil {
		return 0, err
	}
	clear(buf)
	if task == nil {
		return negErrno(errnoEINVAL), nil
	}
	comm := task.Comm
	if len(comm) > 15 {
		comm = comm[:15]
	}
	copy(buf[:len(buf)-1], comm)
	return 0, nil
}

// probeRead is bpf_probe_read and its _kernel and _user variants. The VM
// has one address space, so they are the same: copy size bytes from src,
// or zero dst and return -EFAULT if src is not readable.
func probeRead(env *Env, dst, size, src uint64) (uint64, error) {
	size = uint64(uint32(size))
	if size == 0 {
		return 0, nil
	}
	d, err := env.Bytes(dst, size, true)
	if err != nil {
		return 0, err
	}
	s, err := env.Bytes(src, size, false)
	if err != nil {
		clear(d)
		return negErrno(errnoEFAULT), nil
	}
	copy(d, s)
	return 0, nil
}

// readable returns the longest readable prefix of [addr, addr+n). Regions
// are contiguous, so readability is monotone in the length and a binary
// search finds the end of the region from the outside.
func readable(env *Env, addr, n uint64) []byte {
	if b, err := env.Bytes(addr, n, false); err == nil {
		return b
	}
	lo, hi := uint64(0), n // lo is readable, hi is not
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if _, err := env.Bytes(addr, mid, false); err == nil {
			lo = mid
		} else {
			hi = mid
		}
	}
	b, _ := env.Bytes(addr, lo, false)
	return b
}

// copyStr is the kernel's strncpy_from_{kernel,user}_nofault: copy a
// NUL-terminated string of at most n bytes (NUL included) into dst,
// truncating with a NUL in the last byte, and return the bytes written
// including the NUL, or -EFAULT when the string runs off readable memory.
func copyStr(env *Env, dst []byte, src uint64) int64 {
	n := uint64(len(dst))
	if n == 0 {
		return 0
	}
	s := readable(env, src, n)
	for i, c := range s {
		dst[i] = c
		if c == 0 {
			return int64(i + 1)
		}
	}
	if uint64(len(s)) < n {
		return -errnoEFAULT
	}
	dst[n-1] = 0
	return int64(n)
}

// probeReadStr is bpf_probe_read_str and its variants. As in the kernel,
// dst past the NUL is left alone on success, and zeroed entirely on a
// fault so that a program ignoring the result never sees stale bytes.
func probeReadStr(env *Env, dst, size, src uint64) (uint64, error) {
	size = uint64(uint32(size))
	if size == 0 {
		return 0, nil
	}
	d, err := env.Bytes(dst, size, true)
	if err != nil {
		return 0, err
	}
	r := copyStr(env, d, src)
	if r < 0 {
		clear(d)
	}
	return uint64(r), nil
}

// strtoHelper is bpf_strtol (signed) and bpf_strtoul: it writes 0 to *res
// first, as the kernel does, and then the parsed value if there is one.
func strtoHelper(env *Env, a [5]uint64, signed bool) (uint64, error) {
	bufLen := a[1]
	res, err := env.Bytes(a[3], 8, true)
	if err != nil {
		return 0, err
	}
	clear(res)
	var buf []byte
	if bufLen != 0 {
		if buf, err = env.Bytes(a[0], bufLen, false); err != nil {
			return 0, err
		}
	}
	v, neg, n := parseStrtox(buf, a[2])
	if n < 0 {
		return uint64(n), nil
	}
	if signed {
		if neg {
			if int64(-v) > 0 {
				return negErrno(errnoERANGE), nil
			}
			v = -v
		} else if int64(v) < 0 {
			return negErrno(errnoERANGE), nil
		}
	} else if neg {
		return negErrno(errnoEINVAL), nil
	}
	binary.LittleEndian.PutUint64(res, v)
	return uint64(n), nil
}

// kernelIsSpace is the kernel's isspace (lib/ctype.c), which unlike C's
// also counts Latin-1's non-breaking space, 0xa0.
func kernelIsSpace(c byte) bool {
	return c == ' ' || c >= '\t' && c <= '\r' || c == 0xa0
}

// parseStrtox is the kernel's __bpf_strtoull: optional leading space, an
// optional '-', then at most 63 characters parsed with the kernel's
// _parse_integer_fixup_radix and _parse_integer. It returns the magnitude,
// whether there was a minus sign, and the bytes consumed, or a negative
// errno.
func parseStrtox(buf []byte, flags uint64) (uint64, bool, int64) {
	const baseMask = 0x1f
	base := flags & baseMask
	if len(buf) == 0 {
		return 0, false, -errnoEINVAL
	}
	if base != 0 && base != 8 && base != 10 && base != 16 || flags&^baseMask != 0 {
		return 0, false, -errnoEINVAL
	}
	i := 0
	for i < len(buf) && kernelIsSpace(buf[i]) {
		i++
	}
	neg := i < len(buf) && buf[i] == '-'
	if neg {
		i++
	}
	consumed := i
	if consumed == len(buf) {
		return 0, neg, -errnoEINVAL
	}
	// The kernel copies at most 63 bytes into a NUL-terminated buffer;
	// everything below sees a NUL after them.
	var str [64]byte
	copy(str[:63], buf[i:])
	s := str[:]
	lower := func(c byte) byte { return c | 0x20 }
	isXDigit := func(c byte) bool {
		return c >= '0' && c <= '9' || lower(c) >= 'a' && lower(c) <= 'f'
	}
	if base == 0 {
		switch {
		case s[0] != '0':
			base = 10
		case lower(s[1]) == 'x' && isXDigit(s[2]):
			base = 16
		default:
			base = 8
		}
	}
	p := 0
	if base == 16 && s[0] == '0' && lower(s[1]) == 'x' {
		p = 2
	}
	var v uint64
	digits, overflow := 0, false
	for ; p < len(s); p++ {
		c := s[p]
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case lower(c) >= 'a' && lower(c) <= 'f':
			d = uint64(lower(c)-'a') + 10
		default:
			d = 99
		}
		if d >= base {
			break
		}
		if v>>60 != 0 && v > (^uint64(0)-d)/base {
			overflow = true
		}
		v = v*base + d
		digits++
	}
	if overflow {
		return 0, neg, -errnoERANGE
	}
	if digits == 0 {
		return 0, neg, -errnoEINVAL
	}
	return v, neg, int64(consumed + p)
}

// tracePrinter serialises trace_printk output so that concurrent runs do
// not interleave within a line.
type tracePrinter struct {
	mu sync.Mutex
	w  io.Writer
}

// Limits of the kernel's bpf_bprintf_prepare (kernel/bpf/helpers.c).
const (
	maxBprintfBuf      = 1024 // MAX_BPRINTF_BUF: trace_printk's output buffer
	maxBprintfBinArgs  = 512  // MAX_BPRINTF_BIN_ARGS: room for the binary arguments
	maxTracePrintkArgs = 3    // MAX_TRACE_PRINTK_VARARGS
	maxSnprintfArgs    = 12   // MAX_BPRINTF_VARARGS
	maxFieldWidth      = 1 << 16
)

// printk is bpf_trace_printk(fmt, fmt_size, arg1, arg2, arg3). It returns
// what the kernel returns: the length of the formatted text, or a negative
// errno for a format the kernel rejects.
func (tp *tracePrinter) printk(env *Env, a [5]uint64) (uint64, error) {
	size := uint64(uint32(a[1]))
	if size == 0 {
		return negErrno(errnoEINVAL), nil
	}
	fb, err := env.Bytes(a[0], size, false)
	if err != nil {
		return 0, err
	}
	end := strings.IndexByte(string(fb), 0)
	if end < 0 {
		return negErrno(errnoEINVAL), nil
	}
	out, errno := bprintf(env, fb[:end], a[2:5])
	if errno != 0 {
		return negErrno(errno), nil
	}
	n := len(out)
	if len(out) > maxBprintfBuf-1 {
		out = out[:maxBprintfBuf-1]
	}
	if tp != nil {
		tp.mu.Lock()
		_, werr := tp.w.Write(out)
		tp.mu.Unlock()
		if werr != nil {
			return 0, fmt.Errorf("trace_printk: %w", werr)
		}
	}
	return uint64(n), nil
}

// snprintfHelper is bpf_snprintf(str, str_size, fmt, data, data_len): data
// is an array of u64 arguments; the result is the length of the full
// formatted text plus its NUL, whatever str_size truncated it to.
func snprintfHelper(env *Env, a [5]uint64) (uint64, error) {
	strSize, dataLen := uint64(uint32(a[1])), uint64(uint32(a[4]))
	if dataLen%8 != 0 || dataLen > maxSnprintfArgs*8 || dataLen != 0 && a[3] == 0 {
		return negErrno(errnoEINVAL), nil
	}
	var str []byte
	if strSize != 0 {
		var err error
		if str, err = env.Bytes(a[0], strSize, true); err != nil {
			return 0, err
		}
	}
	fb, err := env.CString(a[2], 0)
	if err != nil {
		return 0, err
	}
	args := make([]uint64, dataLen/8)
	if dataLen != 0 {
		d, err := env.Bytes(a[3], dataLen, false)
		if err != nil {
			return 0, err
		}
		for i := range args {
			args[i] = binary.LittleEndian.Uint64(d[8*i:])
		}
	}
	out, errno := bprintf(env, fb, args)
	if errno != 0 {
		return negErrno(errno), nil
	}
	if len(str) > 0 {
		n := copy(str[:len(str)-1], out)
		str[n] = 0
	}
	return uint64(len(out) + 1), nil
}

// bprintf formats like the kernel's bpf_bprintf_prepare followed by
// bstr_printf: flags "0+- " and a width but no precision; %d %i %u %x %X
// with l or ll; %c; %s, %pks and %pus (strings read from VM memory); %p,
// %pK, %px, %ps, %pS, %pB (pointers, printed as their value: the VM has no
// symbols and no reason to hash its virtual addresses); %pI4 %pi4 %pI6
// %pi6 (addresses read from VM memory). Widths above 65536 are clamped
// (the kernel clamps at 8388607) to bound what a program can make the VM
// allocate. It returns the text, or an errno where the kernel refuses the
// format.
func bprintf(env *Env, f []byte, args []uint64) ([]byte, int) {
	isPunct := func(c byte) bool { return c > ' ' && c < 0x7f && !isAlnum(c) }
	at := func(i int) byte { // the format seen as NUL-terminated
		if i < len(f) {
			return f[i]
		}
		return 0
	}
	bin := 0 // bytes used of the kernel's binary-argument buffer
	var out []byte
	nspec := 0
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c > 0x7e || c < ' ' && !kernelIsSpace(c) {
			return nil, errnoEINVAL
		}
		if c != '%' {
			out = append(out, c)
			continue
		}
		if at(i+1) == '%' {
			out = append(out, '%')
			i++
			continue
		}
		if nspec >= len(args) {
			return nil, errnoEINVAL
		}
		arg := args[nspec]
		i++
		flagStart := i
		for at(i) == '0' || at(i) == '+' || at(i) == '-' || at(i) == ' ' {
			i++
		}
		flags := string(f[flagStart:i])
		width := ""
		if at(i) >= '1' && at(i) <= '9' {
			ws := i
			i++
			for at(i) >= '0' && at(i) <= '9' {
				i++
			}
			// Go's fmt refuses widths over 1e6, and a huge width would
			// make the VM allocate that much; the kernel clamps at
			// 8388607, and output beyond a buffer is cut anyway.
			w, err := strconv.Atoi(string(f[ws:i]))
			if err != nil || w > maxFieldWidth {
				w = maxFieldWidth
			}
			width = strconv.Itoa(w)
		}
		// Flags and width mean the same to Go's fmt as to the kernel's
		// vsnprintf for signed numbers. The kernel ignores '+' and ' '
		// for unsigned ones and '0' for strings, which Go does not.
		spec := "%" + flags + width
		uspec := "%" + strings.NewReplacer("+", "", " ", "").Replace(flags) + width
		// A pointer with no width is 16 zero-padded hex digits.
		pspec := uspec + "x"
		if width == "" {
			pspec = uspec + "016x"
		}
		pad := func(s string) []byte {
			w, _ := strconv.Atoi(width)
			if len(s) >= w {
				return append(out, s...)
			}
			fill := strings.Repeat(" ", w-len(s))
			if strings.Contains(flags, "-") {
				return append(append(out, s...), fill...)
			}
			return append(append(out, fill...), s...)
		}
		alignArg := func(n int) bool {
			bin = (bin + 3) &^ 3
			if maxBprintfBinArgs-bin < n {
				return false
			}
			bin += n
			return true
		}
		str := func(addr uint64) (string, bool) {
			if bin == maxBprintfBinArgs {
				return "", false
			}
			buf := make([]byte, maxBprintfBinArgs-bin)
			n := copyStr(env, buf, addr)
			if n < 0 {
				n = 1
				buf[0] = 0
			}
			bin += int(n)
			return string(buf[:n-1]), true
		}
		switch at(i) {
		case 'p':
			nc := at(i + 1)
			switch {
			case nc == 0 || kernelIsSpace(nc) || isPunct(nc):
				if !alignArg(8) {
					return nil, errnoENOSPC
				}
				out = fmt.Appendf(out, pspec, arg)
			case (nc == 'k' || nc == 'u') && at(i+2) == 's':
				i += 2
				if n := at(i + 1); n != 0 && !kernelIsSpace(n) && !isPunct(n) {
					return nil, errnoEINVAL
				}
				s, ok := str(arg)
				if !ok {
					return nil, errnoENOSPC
				}
				out = pad(s)
			case nc == 'K' || nc == 'x':
				i++
				if !alignArg(8) {
					return nil, errnoENOSPC
				}
				out = fmt.Appendf(out, pspec, arg)
			case nc == 's' || nc == 'S' || nc == 'B':
				// Symbolised in the kernel; with no symbols, vsnprintf
				// prints the address in hex with 0x.
				i++
				if !alignArg(8) {
					return nil, errnoENOSPC
				}
				out = pad("0x" + strconv.FormatUint(arg, 16))
			case (nc == 'i' || nc == 'I') && (at(i+2) == '4' || at(i+2) == '6'):
				i += 2
				n := 4
				if at(i) == '6' {
					n = 16
				}
				ip := make([]byte, n)
				if b, err := env.Bytes(arg, uint64(n), false); err == nil {
					copy(ip, b)
				}
				s := formatIP(ip, nc == 'i')
				// Pre-formatted into the binary buffer, unaligned.
				if maxBprintfBinArgs-bin < n {
					return nil, errnoENOSPC
				}
				bin = min(bin+len(s)+1, maxBprintfBinArgs)
				out = pad(s)
			default:
				return nil, errnoEINVAL
			}
		case 's':
			if n := at(i + 1); n != 0 && !kernelIsSpace(n) && !isPunct(n) {
				return nil, errnoEINVAL
			}
			s, ok := str(arg)
			if !ok {
				return nil, errnoENOSPC
			}
			out = pad(s)
		case 'c':
			if bin == maxBprintfBinArgs {
				return nil, errnoENOSPC
			}
			bin++
			out = pad(string([]byte{byte(arg)}))
		default:
			long := 0
			for long < 2 && at(i) == 'l' {
				long++
				i++
			}
			verb := at(i)
			if verb != 'd' && verb != 'i' && verb != 'u' && verb != 'x' && verb != 'X' {
				return nil, errnoEINVAL
			}
			size := 4
			if long > 0 {
				size = 8 // long is 64 bits on every target the kernel's BPF JITs run on
			}
			if !alignArg(size) {
				return nil, errnoENOSPC
			}
			v := arg
			if size == 4 {
				v = uint64(uint32(v))
			}
			switch verb {
			case 'd', 'i':
				sv := int64(v)
				if size == 4 {
					sv = int64(int32(uint32(v)))
				}
				out = fmt.Appendf(out, spec+"d", sv)
			case 'u':
				out = fmt.Appendf(out, uspec+"d", v)
			default:
				out = fmt.Appendf(out, uspec+string(verb), v)
			}
		}
		nspec++
	}
	return out, 0
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// formatIP renders an address as the kernel's %pI4/%pI6 (lead zeros
// false) or %pi4/%pi6 (lead zeros true) do.
func formatIP(ip []byte, leadZeros bool) string {
	var sb strings.Builder
	if len(ip) == 4 {
		for i, b := range ip {
			if i > 0 {
				sb.WriteByte('.')
			}
			if leadZeros {
				fmt.Fprintf(&sb, "%03d", b)
			} else {
				fmt.Fprintf(&sb, "%d", b)
			}
		}
		return sb.String()
	}
	for i := 0; i < 16; i += 2 {
		if i > 0 && !leadZeros {
			sb.WriteByte(':')
		}
		fmt.Fprintf(&sb, "%02x%02x", ip[i], ip[i+1])
	}
	return sb.String()
}

// maxLoops is the kernel's limit on bpf_loop's iteration count (1 << 23).
const maxLoops = 1 << 23

// loopHelper is bpf_loop(nr_loops, callback_fn, callback_ctx, flags): the
// callback runs with (index, ctx) until it returns non-zero; the result is
// the number of iterations done, counting the one that stopped the loop.
func loopHelper(env *Env, a [5]uint64) (uint64, error) {
	n, fn, ctx, flags := a[0], a[1], a[2], a[3]
	if flags != 0 {
		return negErrno(errnoEINVAL), nil
	}
	if n > maxLoops {
		return negErrno(errnoE2BIG), nil
	}
	for i := uint64(0); i < n; i++ {
		ret, err := env.CallLocal(fn, i, ctx)
		if err != nil {
			return 0, err
		}
		if ret != 0 {
			return i + 1, nil
		}
	}
	return n, nil
}
