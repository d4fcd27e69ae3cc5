package ctypes

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Include takes the constants of a header a script includes
// ("#include <sys/socket.h>"): the object-like #defines of the file and of
// the headers it includes, when they are installed under /usr/include.
// Types come from BTF, so the rest of a header is not needed; conditional
// blocks are not evaluated, and the first definition of a name wins. A
// header that is not installed is tolerated: kernel-internal headers
// (net/sock.h, linux/sched.h) never are, and for those the few ABI
// constants that bpftrace's tools take from them are known here.
func (d *Defs) Include(line string) {
	name := includeName(line)
	if name == "" {
		return
	}
	seen := map[string]bool{}
	d.scanHeader(name, seen, 0)
	for k, v := range kernelHeaderConsts[name] {
		if _, ok := d.consts[k]; !ok {
			d.consts[k] = Const{Int: v}
		}
	}
}

// includeName is the header of an #include line: <a/b.h> or "a/b.h".
func includeName(line string) string {
	s := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#"))
	s = strings.TrimSpace(strings.TrimPrefix(s, "include"))
	if len(s) < 3 {
		return ""
	}
	if (s[0] == '<' && strings.HasSuffix(s, ">")) || (s[0] == '"' && strings.HasSuffix(s, `"`)) {
		return s[1 : len(s)-1]
	}
	return ""
}

// includeDirs are where installed headers live, the machine's own
// multiarch directory first.
func includeDirs() []string {
	arch := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu", "arm": "arm-linux-gnueabihf", "riscv64": "riscv64-linux-gnu"}[runtime.GOARCH]
	dirs := []string{"/usr/local/include"}
	if arch != "" {
		dirs = append(dirs, "/usr/include/"+arch)
	}
	return append(dirs, "/usr/include")
}

func (d *Defs) scanHeader(name string, seen map[string]bool, depth int) {
	if depth > 12 || seen[name] || strings.Contains(name, "..") {
		return
	}
	seen[name] = true
	for _, dir := range includeDirs() {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if !strings.HasPrefix(line, "#") {
				continue
			}
			word := strings.TrimSpace(line[1:])
			switch {
			case strings.HasPrefix(word, "include"):
				if inc := includeName(line); inc != "" {
					d.scanHeader(inc, seen, depth+1)
				}
			case strings.HasPrefix(word, "define"):
				// Comments after a definition are common in headers.
				if i := strings.Index(word, "/*"); i >= 0 {
					word = word[:i]
				}
				// The first definition wins, and only constants are kept.
				name, c, err := d.parseDefine(strings.TrimPrefix(word, "define"))
				if _, seen := d.consts[name]; err == nil && c.Err == nil && !seen {
					d.consts[name] = c
				}
			}
		}
		return
	}
}

// kernelHeaderConsts are ABI constants of kernel-internal headers, which
// are not installed with the C library: socket families and task states.
var kernelHeaderConsts = map[string]map[string]int64{
	"linux/socket.h": socketFamilies,
	"net/sock.h":     socketFamilies,
	"linux/sched.h": {
		"TASK_RUNNING": 0, "TASK_INTERRUPTIBLE": 1, "TASK_UNINTERRUPTIBLE": 2,
		"__TASK_STOPPED": 4, "__TASK_TRACED": 8, "EXIT_DEAD": 16, "EXIT_ZOMBIE": 32,
	},
}

var socketFamilies = map[string]int64{
	"AF_UNSPEC": 0, "AF_UNIX": 1, "AF_LOCAL": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16, "AF_PACKET": 17,
}
