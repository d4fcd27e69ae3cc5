package output

import (
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wagglebpf/waggle/lang/ast"
	"github.com/wagglebpf/waggle/lang/layout"
)

// This file renders the values that the kernel sends as raw bytes or
// numbers and user space turns into text: strftime() times, buf()
// buffers, ntop() addresses, macaddr(), strerror(), syscall_name() and
// join().

// bootTime is the wall-clock time of boot: strftime() takes nanoseconds
// since boot, as bpftrace does, which it converts with the offset between
// CLOCK_REALTIME and CLOCK_BOOTTIME taken once.
var bootTime = sync.OnceValue(func() time.Time {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return time.Time{}
	}
	return time.Now().Add(-time.Duration(ts.Nano()))
})

// timestampText formats a strftime() value: nsecs since boot in the local
// zone, with bpftrace's %f for microseconds. bpftrace prints "(?)" when
// strftime(3) gives nothing.
func timestampText(format string, nsecs uint64) string {
	t := bootTime().Add(time.Duration(nsecs)).Local()
	s := strftime(format, t, true)
	if s == "" {
		return "(?)"
	}
	return s
}

// bufferPrim decodes a buf() value: the number of bytes read, then the
// bytes, at most t.Size of them.
func bufferPrim(t *ast.Type, b []byte) prim {
	n := hostOrder.Uint64(b)
	if n > uint64(t.Size) {
		n = uint64(t.Size)
	}
	data := b[layout.BufferHeader:]
	if uint64(len(data)) < n {
		n = uint64(len(data))
	}
	return prim{kind: pBytes, s: string(data[:n])}
}

// inetText prints an ntop() value as inet_ntop(3) does: an address family
// in 8 bytes, then the address. An unknown family prints as nothing, as
// in bpftrace.
func inetText(b []byte) string {
	if len(b) < layout.InetSize {
		// An older layout without the family: the length tells.
		switch len(b) {
		case 4:
			return ntop4(b)
		case 16:
			return ntop6(b)
		}
		return ""
	}
	addr := b[8:layout.InetSize]
	switch hostOrder.Uint64(b) {
	case layout.AFInet:
		return ntop4(addr)
	case layout.AFInet6:
		return ntop6(addr)
	}
	return ""
}

func ntop4(b []byte) string {
	return strconv.Itoa(int(b[0])) + "." + strconv.Itoa(int(b[1])) + "." + strconv.Itoa(int(b[2])) + "." + strconv.Itoa(int(b[3]))
}

// ntop6 is glibc's inet_ntop for IPv6: the longest run of two or more zero
// words (the first of equal runs) becomes "::", and an address whose first
// six words are zero, or five zero words then ffff, ends in dotted IPv4
// ("::1.2.3.4", "::ffff:1.2.3.4"); ::1 and :: stay as they are.
func ntop6(b []byte) string {
	var w [8]int
	for i := range w {
		w[i] = int(b[2*i])<<8 | int(b[2*i+1])
	}
	best, bestLen := -1, 0
	for i := 0; i < 8; {
		if w[i] != 0 {
			i++
			continue
		}
		j := i
		for j < 8 && w[j] == 0 {
			j++
		}
		if j-i > bestLen {
			best, bestLen = i, j-i
		}
		i = j
	}
	if bestLen < 2 {
		best = -1
	}
	var s strings.Builder
	for i := 0; i < 8; i++ {
		if best >= 0 && i >= best && i < best+bestLen {
			if i == best {
				s.WriteByte(':')
			}
			continue
		}
		if i > 0 {
			s.WriteByte(':')
		}
		if i == 6 && best == 0 && (bestLen == 6 || bestLen == 5 && w[5] == 0xffff) {
			s.WriteString(ntop4(b[12:16]))
			break
		}
		s.WriteString(strconv.FormatUint(uint64(w[i]), 16))
	}
	if best >= 0 && best+bestLen == 8 {
		s.WriteByte(':')
	}
	return s.String()
}

// macText prints a macaddr() value as bpftrace does: six upper-case hex
// pairs joined by colons.
func macText(b []byte) string {
	const hex = "0123456789ABCDEF"
	out := make([]byte, 0, 17)
	for i, c := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, hex[c>>4], hex[c&15])
	}
	return string(out)
}

// tableText is how the values of strerror() and syscall_name(), which the
// kernel sends as numbers, print; ok is false for other names.
func tableText(name string) (text func(uint64) string, ok bool) {
	switch name {
	case "strerror":
		return func(v uint64) string { return Strerror(int64(int32(v))) }, true
	case "syscall_name":
		return func(v uint64) string { return SyscallName(int64(v)) }, true
	}
	return nil, false
}

// Strerror is glibc's strerror(3) in the C locale.
func Strerror(n int64) string {
	if n >= 0 && n < int64(len(errnoText)) {
		return errnoText[n]
	}
	return "Unknown error " + strconv.FormatInt(n, 10)
}

var syscallTables = sync.OnceValue(func() map[string]map[int64]string {
	parse := func(s string) map[int64]string {
		m := map[int64]string{}
		for _, w := range strings.Fields(s) {
			num, name, _ := strings.Cut(w, ":")
			n, _ := strconv.ParseInt(num, 10, 64)
			m[n] = name
		}
		return m
	}
	return map[string]map[int64]string{"amd64": parse(syscallsAmd64), "arm64": parse(syscallsArm64)}
})

// SyscallName is the name of system call n on the machine waggle runs on
// (amd64 and arm64 have tables); a number without a name prints as the
// number.
func SyscallName(n int64) string {
	return syscallNameOn(runtime.GOARCH, n)
}

func syscallNameOn(arch string, n int64) string {
	if name, ok := syscallTables()[arch][n]; ok {
		return name
	}
	return strconv.FormatInt(n, 10)
}

// joinText joins the strings of a join() record: JoinArgs slots of
// JoinArgSize bytes, up to the first empty one.
func joinText(sep string, body []byte) string {
	var s strings.Builder
	for i := range layout.JoinArgs {
		off := i * layout.JoinArgSize
		if off >= len(body) || body[off] == 0 {
			break
		}
		arg := body[off:min(off+layout.JoinArgSize, len(body))]
		if n := strings.IndexByte(string(arg), 0); n >= 0 {
			arg = arg[:n]
		}
		if i > 0 {
			s.WriteString(sep)
		}
		s.Write(arg)
	}
	return s.String()
}

// join prints a join() record: the joined strings and a newline, or
// {"type": "join", "data": "..."}.
func (p *Printer) join(idx uint64, body []byte) error {
	f, err := p.format(idx)
	if err != nil {
		return err
	}
	if len(body) < layout.JoinArgs*layout.JoinArgSize {
		return recordErr("join record of %d bytes, need %d", len(body), layout.JoinArgs*layout.JoinArgSize)
	}
	return p.emit("join", joinText(f.Text, body), "\n")
}

// syscallsAmd64 is the Linux system call table of amd64: "number:name" words.
const syscallsAmd64 = "" +
	"0:read 1:write 2:open 3:close 4:stat 5:fstat 6:lstat 7:poll 8:lseek 9:mmap 10:mprotect " +
	"11:munmap 12:brk 13:rt_sigaction 14:rt_sigprocmask 15:rt_sigreturn 16:ioctl 17:pread64 " +
	"18:pwrite64 19:readv 20:writev 21:access 22:pipe 23:select 24:sched_yield 25:mremap " +
	"26:msync 27:mincore 28:madvise 29:shmget 30:shmat 31:shmctl 32:dup 33:dup2 34:pause " +
	"35:nanosleep 36:getitimer 37:alarm 38:setitimer 39:getpid 40:sendfile 41:socket " +
	"42:connect 43:accept 44:sendto 45:recvfrom 46:sendmsg 47:recvmsg 48:shutdown 49:bind " +
	"50:listen 51:getsockname 52:getpeername 53:socketpair 54:setsockopt 55:getsockopt " +
	"56:clone 57:fork 58:vfork 59:execve 60:exit 61:wait4 62:kill 63:uname 64:semget 65:semop " +
	"66:semctl 67:shmdt 68:msgget 69:msgsnd 70:msgrcv 71:msgctl 72:fcntl 73:flock 74:fsync " +
	"75:fdatasync 76:truncate 77:ftruncate 78:getdents 79:getcwd 80:chdir 81:fchdir 82:rename " +
	"83:mkdir 84:rmdir 85:creat 86:link 87:unlink 88:symlink 89:readlink 90:chmod 91:fchmod " +
	"92:chown 93:fchown 94:lchown 95:umask 96:gettimeofday 97:getrlimit 98:getrusage " +
	"99:sysinfo 100:times 101:ptrace 102:getuid 103:syslog 104:getgid 105:setuid 106:setgid " +
	"107:geteuid 108:getegid 109:setpgid 110:getppid 111:getpgrp 112:setsid 113:setreuid " +
	"114:setregid 115:getgroups 116:setgroups 117:setresuid 118:getresuid 119:setresgid " +
	"120:getresgid 121:getpgid 122:setfsuid 123:setfsgid 124:getsid 125:capget 126:capset " +
	"127:rt_sigpending 128:rt_sigtimedwait 129:rt_sigqueueinfo 130:rt_sigsuspend " +
	"131:sigaltstack 132:utime 133:mknod 134:uselib 135:personality 136:ustat 137:statfs " +
	"138:fstatfs 139:sysfs 140:getpriority 141:setpriority 142:sched_setparam " +
	"143:sched_getparam 144:sched_setscheduler 145:sched_getscheduler " +
	"146:sched_get_priority_max 147:sched_get_priority_min 148:sched_rr_get_interval 149:mlock " +
	"150:munlock 151:mlockall 152:munlockall 153:vhangup 154:modify_ldt 155:pivot_root " +
	"156:_sysctl 157:prctl 158:arch_prctl 159:adjtimex 160:setrlimit 161:chroot 162:sync " +
	"163:acct 164:settimeofday 165:mount 166:umount2 167:swapon 168:swapoff 169:reboot " +
	"170:sethostname 171:setdomainname 172:iopl 173:ioperm 174:create_module 175:init_module " +
	"176:delete_module 177:get_kernel_syms 178:query_module 179:quotactl 180:nfsservctl " +
	"181:getpmsg 182:putpmsg 183:afs_syscall 184:tuxcall 185:security 186:gettid 187:readahead " +
	"188:setxattr 189:lsetxattr 190:fsetxattr 191:getxattr 192:lgetxattr 193:fgetxattr " +
	"194:listxattr 195:llistxattr 196:flistxattr 197:removexattr 198:lremovexattr " +
	"199:fremovexattr 200:tkill 201:time 202:futex 203:sched_setaffinity 204:sched_getaffinity " +
	"205:set_thread_area 206:io_setup 207:io_destroy 208:io_getevents 209:io_submit " +
	"210:io_cancel 211:get_thread_area 212:lookup_dcookie 213:epoll_create 214:epoll_ctl_old " +
	"215:epoll_wait_old 216:remap_file_pages 217:getdents64 218:set_tid_address " +
	"219:restart_syscall 220:semtimedop 221:fadvise64 222:timer_create 223:timer_settime " +
	"224:timer_gettime 225:timer_getoverrun 226:timer_delete 227:clock_settime " +
	"228:clock_gettime 229:clock_getres 230:clock_nanosleep 231:exit_group 232:epoll_wait " +
	"233:epoll_ctl 234:tgkill 235:utimes 236:vserver 237:mbind 238:set_mempolicy " +
	"239:get_mempolicy 240:mq_open 241:mq_unlink 242:mq_timedsend 243:mq_timedreceive " +
	"244:mq_notify 245:mq_getsetattr 246:kexec_load 247:waitid 248:add_key 249:request_key " +
	"250:keyctl 251:ioprio_set 252:ioprio_get 253:inotify_init 254:inotify_add_watch " +
	"255:inotify_rm_watch 256:migrate_pages 257:openat 258:mkdirat 259:mknodat 260:fchownat " +
	"261:futimesat 262:newfstatat 263:unlinkat 264:renameat 265:linkat 266:symlinkat " +
	"267:readlinkat 268:fchmodat 269:faccessat 270:pselect6 271:ppoll 272:unshare " +
	"273:set_robust_list 274:get_robust_list 275:splice 276:tee 277:sync_file_range " +
	"278:vmsplice 279:move_pages 280:utimensat 281:epoll_pwait 282:signalfd 283:timerfd_create " +
	"284:eventfd 285:fallocate 286:timerfd_settime 287:timerfd_gettime 288:accept4 " +
	"289:signalfd4 290:eventfd2 291:epoll_create1 292:dup3 293:pipe2 294:inotify_init1 " +
	"295:preadv 296:pwritev 297:rt_tgsigqueueinfo 298:perf_event_open 299:recvmmsg " +
	"300:fanotify_init 301:fanotify_mark 302:prlimit64 303:name_to_handle_at " +
	"304:open_by_handle_at 305:clock_adjtime 306:syncfs 307:sendmmsg 308:setns 309:getcpu " +
	"310:process_vm_readv 311:process_vm_writev 312:kcmp 313:finit_module 314:sched_setattr " +
	"315:sched_getattr 316:renameat2 317:seccomp 318:getrandom 319:memfd_create " +
	"320:kexec_file_load 321:bpf 322:execveat 323:userfaultfd 324:membarrier 325:mlock2 " +
	"326:copy_file_range 327:preadv2 328:pwritev2 329:pkey_mprotect 330:pkey_alloc " +
	"331:pkey_free 332:statx 333:io_pgetevents 334:rseq 335:uretprobe 336:uprobe " +
	"424:pidfd_send_signal 425:io_uring_setup 426:io_uring_enter 427:io_uring_register " +
	"428:open_tree 429:move_mount 430:fsopen 431:fsconfig 432:fsmount 433:fspick " +
	"434:pidfd_open 435:clone3 436:close_range 437:openat2 438:pidfd_getfd 439:faccessat2 " +
	"440:process_madvise 441:epoll_pwait2 442:mount_setattr 443:quotactl_fd " +
	"444:landlock_create_ruleset 445:landlock_add_rule 446:landlock_restrict_self " +
	"447:memfd_secret 448:process_mrelease 449:futex_waitv 450:set_mempolicy_home_node " +
	"451:cachestat 452:fchmodat2 453:map_shadow_stack 454:futex_wake 455:futex_wait " +
	"456:futex_requeue 457:statmount 458:listmount 459:lsm_get_self_attr 460:lsm_set_self_attr " +
	"461:lsm_list_modules 462:mseal 463:setxattrat 464:getxattrat 465:listxattrat " +
	"466:removexattrat 467:open_tree_attr 468:file_getattr 469:file_setattr 470:listns " +
	"471:rseq_slice_yield "

// syscallsArm64 is the Linux system call table of arm64: "number:name" words.
const syscallsArm64 = "" +
	"0:io_setup 1:io_destroy 2:io_submit 3:io_cancel 4:io_getevents 5:setxattr 6:lsetxattr " +
	"7:fsetxattr 8:getxattr 9:lgetxattr 10:fgetxattr 11:listxattr 12:llistxattr 13:flistxattr " +
	"14:removexattr 15:lremovexattr 16:fremovexattr 17:getcwd 18:lookup_dcookie 19:eventfd2 " +
	"20:epoll_create1 21:epoll_ctl 22:epoll_pwait 23:dup 24:dup3 25:fcntl 26:inotify_init1 " +
	"27:inotify_add_watch 28:inotify_rm_watch 29:ioctl 30:ioprio_set 31:ioprio_get 32:flock " +
	"33:mknodat 34:mkdirat 35:unlinkat 36:symlinkat 37:linkat 38:renameat 39:umount2 40:mount " +
	"41:pivot_root 42:nfsservctl 43:statfs 44:fstatfs 45:truncate 46:ftruncate 47:fallocate " +
	"48:faccessat 49:chdir 50:fchdir 51:chroot 52:fchmod 53:fchmodat 54:fchownat 55:fchown " +
	"56:openat 57:close 58:vhangup 59:pipe2 60:quotactl 61:getdents64 62:lseek 63:read " +
	"64:write 65:readv 66:writev 67:pread64 68:pwrite64 69:preadv 70:pwritev 71:sendfile " +
	"72:pselect6 73:ppoll 74:signalfd4 75:vmsplice 76:splice 77:tee 78:readlinkat " +
	"79:newfstatat 80:fstat 81:sync 82:fsync 83:fdatasync 84:sync_file_range 85:timerfd_create " +
	"86:timerfd_settime 87:timerfd_gettime 88:utimensat 89:acct 90:capget 91:capset " +
	"92:personality 93:exit 94:exit_group 95:waitid 96:set_tid_address 97:unshare 98:futex " +
	"99:set_robust_list 100:get_robust_list 101:nanosleep 102:getitimer 103:setitimer " +
	"104:kexec_load 105:init_module 106:delete_module 107:timer_create 108:timer_gettime " +
	"109:timer_getoverrun 110:timer_settime 111:timer_delete 112:clock_settime " +
	"113:clock_gettime 114:clock_getres 115:clock_nanosleep 116:syslog 117:ptrace " +
	"118:sched_setparam 119:sched_setscheduler 120:sched_getscheduler 121:sched_getparam " +
	"122:sched_setaffinity 123:sched_getaffinity 124:sched_yield 125:sched_get_priority_max " +
	"126:sched_get_priority_min 127:sched_rr_get_interval 128:restart_syscall 129:kill " +
	"130:tkill 131:tgkill 132:sigaltstack 133:rt_sigsuspend 134:rt_sigaction " +
	"135:rt_sigprocmask 136:rt_sigpending 137:rt_sigtimedwait 138:rt_sigqueueinfo " +
	"139:rt_sigreturn 140:setpriority 141:getpriority 142:reboot 143:setregid 144:setgid " +
	"145:setreuid 146:setuid 147:setresuid 148:getresuid 149:setresgid 150:getresgid " +
	"151:setfsuid 152:setfsgid 153:times 154:setpgid 155:getpgid 156:getsid 157:setsid " +
	"158:getgroups 159:setgroups 160:uname 161:sethostname 162:setdomainname 163:getrlimit " +
	"164:setrlimit 165:getrusage 166:umask 167:prctl 168:getcpu 169:gettimeofday " +
	"170:settimeofday 171:adjtimex 172:getpid 173:getppid 174:getuid 175:geteuid 176:getgid " +
	"177:getegid 178:gettid 179:sysinfo 180:mq_open 181:mq_unlink 182:mq_timedsend " +
	"183:mq_timedreceive 184:mq_notify 185:mq_getsetattr 186:msgget 187:msgctl 188:msgrcv " +
	"189:msgsnd 190:semget 191:semctl 192:semtimedop 193:semop 194:shmget 195:shmctl 196:shmat " +
	"197:shmdt 198:socket 199:socketpair 200:bind 201:listen 202:accept 203:connect " +
	"204:getsockname 205:getpeername 206:sendto 207:recvfrom 208:setsockopt 209:getsockopt " +
	"210:shutdown 211:sendmsg 212:recvmsg 213:readahead 214:brk 215:munmap 216:mremap " +
	"217:add_key 218:request_key 219:keyctl 220:clone 221:execve 222:mmap 223:fadvise64 " +
	"224:swapon 225:swapoff 226:mprotect 227:msync 228:mlock 229:munlock 230:mlockall " +
	"231:munlockall 232:mincore 233:madvise 234:remap_file_pages 235:mbind 236:get_mempolicy " +
	"237:set_mempolicy 238:migrate_pages 239:move_pages 240:rt_tgsigqueueinfo " +
	"241:perf_event_open 242:accept4 243:recvmmsg 244:arch_specific_syscall 260:wait4 " +
	"261:prlimit64 262:fanotify_init 263:fanotify_mark 264:name_to_handle_at " +
	"265:open_by_handle_at 266:clock_adjtime 267:syncfs 268:setns 269:sendmmsg " +
	"270:process_vm_readv 271:process_vm_writev 272:kcmp 273:finit_module 274:sched_setattr " +
	"275:sched_getattr 276:renameat2 277:seccomp 278:getrandom 279:memfd_create 280:bpf " +
	"281:execveat 282:userfaultfd 283:membarrier 284:mlock2 285:copy_file_range 286:preadv2 " +
	"287:pwritev2 288:pkey_mprotect 289:pkey_alloc 290:pkey_free 291:statx 292:io_pgetevents " +
	"293:rseq 294:kexec_file_load 424:pidfd_send_signal 425:io_uring_setup 426:io_uring_enter " +
	"427:io_uring_register 428:open_tree 429:move_mount 430:fsopen 431:fsconfig 432:fsmount " +
	"433:fspick 434:pidfd_open 435:clone3 436:close_range 437:openat2 438:pidfd_getfd " +
	"439:faccessat2 440:process_madvise 441:epoll_pwait2 442:mount_setattr 443:quotactl_fd " +
	"444:landlock_create_ruleset 445:landlock_add_rule 446:landlock_restrict_self " +
	"447:memfd_secret 448:process_mrelease 449:futex_waitv 450:set_mempolicy_home_node " +
	"451:cachestat 452:fchmodat2 453:map_shadow_stack 454:futex_wake 455:futex_wait " +
	"456:futex_requeue 457:statmount 458:listmount 459:lsm_get_self_attr 460:lsm_set_self_attr " +
	"461:lsm_list_modules 462:mseal 463:setxattrat 464:getxattrat 465:listxattrat " +
	"466:removexattrat 467:open_tree_attr 468:file_getattr 469:file_setattr 470:listns " +
	"471:rseq_slice_yield "

// errnoText is glibc's strerror(3) text for errno 0 to 133, the same
// numbers on every Linux architecture waggle runs on.
var errnoText = [...]string{
	0:   "Success",
	1:   "Operation not permitted",
	2:   "No such file or directory",
	3:   "No such process",
	4:   "Interrupted system call",
	5:   "Input/output error",
	6:   "No such device or address",
	7:   "Argument list too long",
	8:   "Exec format error",
	9:   "Bad file descriptor",
	10:  "No child processes",
	11:  "Resource temporarily unavailable",
	12:  "Cannot allocate memory",
	13:  "Permission denied",
	14:  "Bad address",
	15:  "Block device required",
	16:  "Device or resource busy",
	17:  "File exists",
	18:  "Invalid cross-device link",
	19:  "No such device",
	20:  "Not a directory",
	21:  "Is a directory",
	22:  "Invalid argument",
	23:  "Too many open files in system",
	24:  "Too many open files",
	25:  "Inappropriate ioctl for device",
	26:  "Text file busy",
	27:  "File too large",
	28:  "No space left on device",
	29:  "Illegal seek",
	30:  "Read-only file system",
	31:  "Too many links",
	32:  "Broken pipe",
	33:  "Numerical argument out of domain",
	34:  "Numerical result out of range",
	35:  "Resource deadlock avoided",
	36:  "File name too long",
	37:  "No locks available",
	38:  "Function not implemented",
	39:  "Directory not empty",
	40:  "Too many levels of symbolic links",
	41:  "Unknown error 41",
	42:  "No message of desired type",
	43:  "Identifier removed",
	44:  "Channel number out of range",
	45:  "Level 2 not synchronized",
	46:  "Level 3 halted",
	47:  "Level 3 reset",
	48:  "Link number out of range",
	49:  "Protocol driver not attached",
	50:  "No CSI structure available",
	51:  "Level 2 halted",
	52:  "Invalid exchange",
	53:  "Invalid request descriptor",
	54:  "Exchange full",
	55:  "No anode",
	56:  "Invalid request code",
	57:  "Invalid slot",
	58:  "Unknown error 58",
	59:  "Bad font file format",
	60:  "Device not a stream",
	61:  "No data available",
	62:  "Timer expired",
	63:  "Out of streams resources",
	64:  "Machine is not on the network",
	65:  "Package not installed",
	66:  "Object is remote",
	67:  "Link has been severed",
	68:  "Advertise error",
	69:  "Srmount error",
	70:  "Communication error on send",
	71:  "Protocol error",
	72:  "Multihop attempted",
	73:  "RFS specific error",
	74:  "Bad message",
	75:  "Value too large for defined data type",
	76:  "Name not unique on network",
	77:  "File descriptor in bad state",
	78:  "Remote address changed",
	79:  "Can not access a needed shared library",
	80:  "Accessing a corrupted shared library",
	81:  ".lib section in a.out corrupted",
	82:  "Attempting to link in too many shared libraries",
	83:  "Cannot exec a shared library directly",
	84:  "Invalid or incomplete multibyte or wide character",
	85:  "Interrupted system call should be restarted",
	86:  "Streams pipe error",
	87:  "Too many users",
	88:  "Socket operation on non-socket",
	89:  "Destination address required",
	90:  "Message too long",
	91:  "Protocol wrong type for socket",
	92:  "Protocol not available",
	93:  "Protocol not supported",
	94:  "Socket type not supported",
	95:  "Operation not supported",
	96:  "Protocol family not supported",
	97:  "Address family not supported by protocol",
	98:  "Address already in use",
	99:  "Cannot assign requested address",
	100: "Network is down",
	101: "Network is unreachable",
	102: "Network dropped connection on reset",
	103: "Software caused connection abort",
	104: "Connection reset by peer",
	105: "No buffer space available",
	106: "Transport endpoint is already connected",
	107: "Transport endpoint is not connected",
	108: "Cannot send after transport endpoint shutdown",
	109: "Too many references: cannot splice",
	110: "Connection timed out",
	111: "Connection refused",
	112: "Host is down",
	113: "No route to host",
	114: "Operation already in progress",
	115: "Operation now in progress",
	116: "Stale file handle",
	117: "Structure needs cleaning",
	118: "Not a XENIX named type file",
	119: "No XENIX semaphores available",
	120: "Is a named type file",
	121: "Remote I/O error",
	122: "Disk quota exceeded",
	123: "No medium found",
	124: "Wrong medium type",
	125: "Operation canceled",
	126: "Required key not available",
	127: "Key has expired",
	128: "Key has been revoked",
	129: "Key was rejected by service",
	130: "Owner died",
	131: "State not recoverable",
	132: "Operation not possible due to RF-kill",
	133: "Memory page has hardware error",
}
