package attach

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseUprobeTarget(t *testing.T) {
	tests := []struct {
		in   string
		want UprobeTarget
	}{
		{"/bin/bash:readline", UprobeTarget{"/bin/bash", "readline", 0}},
		{"bash:readline+4", UprobeTarget{"bash", "readline", 4}},
		{"bash:readline+0", UprobeTarget{"bash", "readline", 0}},
		{"libc:malloc+0x1f", UprobeTarget{"libc", "malloc", 0x1f}},
		{"libc:malloc+0X1F", UprobeTarget{"libc", "malloc", 0x1f}},
		{"libc.so.6:malloc@GLIBC_2.2.5", UprobeTarget{"libc.so.6", "malloc@GLIBC_2.2.5", 0}},
		{"./app:0x401000", UprobeTarget{"./app", "", 0x401000}},
		{"./app:0X0", UprobeTarget{"./app", "", 0}},
		// libbpf splits at the first ':', so the symbol keeps the rest.
		{"/opt/app:ns::func", UprobeTarget{"/opt/app", "ns::func", 0}},
		{"/opt/app:ns::func+8", UprobeTarget{"/opt/app", "ns::func", 8}},
		// A '+' without a number after it is part of the name, as in libbpf.
		{"app:operator+", UprobeTarget{"app", "operator+", 0}},
		{"app:a+b", UprobeTarget{"app", "a+b", 0}},
		{"app:a+b+16", UprobeTarget{"app", "a+b", 16}},
		{"app:f+18446744073709551615", UprobeTarget{"app", "f", 1<<64 - 1}},
	}
	for _, tc := range tests {
		got, err := ParseUprobeTarget(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseUprobeTarget(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseUprobeTargetErrors(t *testing.T) {
	tests := []struct{ in, wantErr string }{
		{"", "empty"},
		{"bash", `missing ":SYMBOL"`},
		{":readline", "empty binary"},
		{"bash:", "empty symbol after"},
		{"bash:+4", "empty symbol before"},
		{"bash:f+0x", "bad offset"},
		{"bash:f+0xg", "bad offset"},
		{"bash:f+12z", "bad offset"},
		{"bash:f+1_000", "bad offset"},
		{"bash:f+-4", "negative"},
		{"bash:f+010", "leading zero"},
		{"bash:f+18446744073709551616", "64 bits"},
		{"bash:f+0x10000000000000000", "64 bits"},
		{"bash:0x", "bad address"},
		{"bash:0xzz", "bad address"},
		{"bash:0x10+4", "bad address"},
		{"ba\x00sh:f", "NUL"},
	}
	for _, tc := range tests {
		got, err := ParseUprobeTarget(tc.in)
		if err == nil {
			t.Errorf("ParseUprobeTarget(%q) = %+v, want error", tc.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "uprobe target") {
			t.Errorf("ParseUprobeTarget(%q) error %q, want it to mention %q", tc.in, err, tc.wantErr)
		}
	}
}

func TestUprobeTargetString(t *testing.T) {
	for in, want := range map[string]string{
		"bash:readline":      "bash:readline",
		"bash:readline+16":   "bash:readline+0x10",
		"bash:0x401000":      "bash:0x401000",
		"app:ns::f+0x8":      "app:ns::f+0x8",
		"app:operator+":      "app:operator+",
		"libc:malloc+0x1000": "libc:malloc+0x1000",
		// The symbol "+0" (found by the fuzzer) needs its offset spelled out.
		"0:+0+0":  "0:+0+0x0",
		"b:a+-+0": "b:a+-+0x0",
	} {
		tgt, err := ParseUprobeTarget(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := tgt.String(); got != want {
			t.Errorf("String() of %q = %q, want %q", in, got, want)
		}
		again, err := ParseUprobeTarget(tgt.String())
		if err != nil || again != tgt {
			t.Errorf("round trip of %q: %+v, %v", in, again, err)
		}
	}
}

func uprobeTargetFuzzSeeds() map[string]string {
	return map[string]string{
		"symbol":        "/bin/bash:readline",
		"symbol-offset": "libc.so.6:malloc+0x10",
		"address":       "./app:0x401000",
		"cxx":           "/opt/app:ns::func+8",
		"plus":          "app:operator+",
		"bad-offset":    "bash:f+0xzz",
		// Found by the fuzzer: the symbol "+0" did not survive String.
		"plus-zero-symbol": "0:+0+0",
	}
}

func TestUprobeTargetFuzzSeedsCurrent(t *testing.T) {
	checkFuzzSeeds(t, "FuzzParseUprobeTarget", uprobeTargetFuzzSeeds())
}

func FuzzParseUprobeTarget(f *testing.F) {
	for _, s := range uprobeTargetFuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tgt, err := ParseUprobeTarget(s)
		if err != nil {
			return
		}
		if tgt.Binary == "" || strings.ContainsRune(tgt.Binary, ':') {
			t.Fatalf("%q: bad binary in %+v", s, tgt)
		}
		again, err := ParseUprobeTarget(tgt.String())
		if err != nil || again != tgt {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, tgt, tgt.String(), again, err)
		}
	})
}

// skipWithoutGlibc skips tests that need the C library to be installed the
// usual way.
func skipWithoutGlibc(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(ldCachePath); err == nil {
		return
	}
	for _, dir := range defaultLibraryDirs(runtime.GOARCH) {
		if _, err := os.Stat(filepath.Join(dir, "libc.so.6")); err == nil {
			return
		}
	}
	t.Skip("no glibc on this machine: neither /etc/ld.so.cache nor libc.so.6 in the default directories")
}

func TestResolveBinaryLibrary(t *testing.T) {
	skipWithoutGlibc(t)
	t.Setenv("LD_LIBRARY_PATH", "")
	for _, name := range []string{"libc.so.6", "libc", "libc.so"} {
		p, err := ResolveBinary(name, 0)
		if err != nil {
			t.Errorf("ResolveBinary(%q): %v", name, err)
			continue
		}
		if !filepath.IsAbs(p) || !elfMatchesArch(p, runtime.GOARCH) {
			t.Errorf("ResolveBinary(%q) = %q: not an absolute path to a %s ELF object", name, p, runtime.GOARCH)
		}
		if base := filepath.Base(p); !strings.HasPrefix(base, "libc.so") && !strings.HasPrefix(base, "libc-") {
			t.Errorf("ResolveBinary(%q) = %q: not the C library", name, p)
		}
		t.Logf("%s -> %s", name, p)
	}
}

func TestResolveBinaryProgram(t *testing.T) {
	p, err := ResolveBinary("sh", 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		t.Errorf("ResolveBinary(sh) = %q: not an executable file (%v)", p, err)
	}

	// Not in PATH, but in /usr/bin, where libbpf also looks.
	t.Setenv("PATH", t.TempDir())
	if _, err := os.Stat("/usr/bin/sh"); err == nil {
		if p, err := ResolveBinary("sh", 0); err != nil || p != "/usr/bin/sh" {
			t.Errorf("ResolveBinary(sh) with a useless PATH = %q, %v", p, err)
		}
	}
}

func TestResolveBinaryPath(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	if p, err := ResolveBinary(sh, 0); err != nil || p != sh {
		t.Errorf("ResolveBinary(%q) = %q, %v", sh, p, err)
	}

	dir := t.TempDir()
	rel := filepath.Join(dir, "prog")
	if err := os.WriteFile(rel, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if p, err := ResolveBinary("./prog", 0); err != nil || p != "./prog" {
		t.Errorf("ResolveBinary(./prog) = %q, %v", p, err)
	}

	for name, wantErr := range map[string]string{
		"/":                       "not a regular file",
		dir + "/no/such/file":     "no such file",
		"./missing":               "no such file",
		"/dev/null":               "not a regular file",
		"":                        "empty binary name",
		"lib\x00c":                "NUL",
		"waggle-no-such-program":  "$PATH",
		"libwaggle-no-such.so.42": "/etc/ld.so.cache",
	} {
		p, err := ResolveBinary(name, 0)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("ResolveBinary(%q) = %q, %v; want error mentioning %q", name, p, err, wantErr)
		}
	}
}

func TestResolveBinaryNotFoundMessage(t *testing.T) {
	t.Setenv("LD_LIBRARY_PATH", "/opt/waggle-test-lib")
	_, err := ResolveBinary("libwaggle-no-such.so", 0)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	want := []string{`uprobe target "libwaggle-no-such.so": not found in`, "LD_LIBRARY_PATH (/opt/waggle-test-lib)", "/etc/ld.so.cache", "/lib, /usr/lib"}
	want = append(want, defaultLibraryDirs(runtime.GOARCH)...)
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not mention %q", msg, w)
		}
	}

	t.Setenv("PATH", "/opt/waggle-test-bin")
	_, err = ResolveBinary("libwaggle-no-such", 0)
	if err == nil {
		t.Fatal("no error")
	}
	// A lib* stem is tried as a library, then as a program.
	for _, w := range []string{"/etc/ld.so.cache", "$PATH (/opt/waggle-test-bin) or /usr/bin, /usr/sbin"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

// TestResolveBinaryLDLibraryPath checks the LD_LIBRARY_PATH search and that
// files the loader would skip (linker scripts, other architectures) are
// skipped.
func TestResolveBinaryLDLibraryPath(t *testing.T) {
	skipWithoutGlibc(t)
	t.Setenv("LD_LIBRARY_PATH", "")
	libc, err := ResolveBinary("libc.so.6", 0)
	if err != nil {
		t.Fatal(err)
	}
	script, good := t.TempDir(), t.TempDir()
	// Like /usr/lib/x86_64-linux-gnu/libc.so, a GNU ld script.
	if err := os.WriteFile(filepath.Join(script, "libwaggletest.so"), []byte("GROUP ( libc.so.6 )\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(libc, filepath.Join(good, "libwaggletest.so.1")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(libc, filepath.Join(good, "libwaggletest.so")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LD_LIBRARY_PATH", script+":"+good)
	for name, want := range map[string]string{
		"libwaggletest.so":   filepath.Join(good, "libwaggletest.so"),
		"libwaggletest.so.1": filepath.Join(good, "libwaggletest.so.1"),
		"libwaggletest":      filepath.Join(good, "libwaggletest.so"),
	} {
		if p, err := ResolveBinary(name, 0); err != nil || p != want {
			t.Errorf("ResolveBinary(%q) = %q, %v; want %q", name, p, err, want)
		}
	}
}

// TestResolveBinaryPid resolves libraries through the mappings of a running
// process. The test binary itself is static and maps no libc, so it starts
// a dynamically linked sleep.
func TestResolveBinaryPid(t *testing.T) {
	skipWithoutGlibc(t)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep program")
	}
	cmd := exec.Command(sleep, "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	pid := cmd.Process.Pid

	// Start returns after exec, but the dynamic loader may not have mapped
	// libc yet.
	var mappedLibc string
	for deadline := time.Now().Add(3 * time.Second); mappedLibc == "" && time.Now().Before(deadline); {
		f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "maps"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range mappedPaths(f) {
			if b := filepath.Base(p); strings.HasPrefix(b, "libc.so") || strings.HasPrefix(b, "libc-") {
				mappedLibc = p
			}
		}
		f.Close()
		if mappedLibc == "" {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if mappedLibc == "" {
		t.Skipf("%s maps no libc (statically linked?)", sleep)
	}

	for _, name := range []string{"libc", "libc.so", filepath.Base(mappedLibc)} {
		p, err := ResolveBinary(name, pid)
		if err != nil || p != mappedLibc {
			t.Errorf("ResolveBinary(%q, %d) = %q, %v; want the mapped %q", name, pid, p, err, mappedLibc)
		}
	}
	if p, err := ResolveBinary("sleep", pid); err != nil || filepath.Base(p) != "sleep" {
		t.Errorf("ResolveBinary(sleep, %d) = %q, %v", pid, p, err)
	}
	// An absolute path is looked up in the process's root, which is ours.
	if p, err := ResolveBinary(mappedLibc, pid); err != nil || p != mappedLibc {
		t.Errorf("ResolveBinary(%q, %d) = %q, %v", mappedLibc, pid, p, err)
	}
	// A library the process does not map is still found the usual way.
	if _, err := ResolveBinary("libc.so.6", pid); err != nil {
		t.Errorf("ResolveBinary(libc.so.6, %d): %v", pid, err)
	}
	_, err = ResolveBinary("libwaggle-no-such.so", pid)
	if err == nil || !strings.Contains(err.Error(), "the mappings of process "+strconv.Itoa(pid)) {
		t.Errorf("error %v does not mention the process's mappings", err)
	}
}

func TestResolveBinaryBadPid(t *testing.T) {
	if _, err := ResolveBinary("libc", -1); err == nil {
		t.Error("negative pid accepted")
	}
	// Larger than any pid_max.
	_, err := ResolveBinary("libc", 1<<30)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("ResolveBinary with a missing process: %v", err)
	}
}

func TestResolveMappedPaths(t *testing.T) {
	maps := `55d0c0a00000-55d0c0a02000 r--p 00000000 08:01 123 /usr/bin/sleep
55d0c0a02000-55d0c0a06000 r-xp 00002000 08:01 123 /usr/bin/sleep
55d0c1a00000-55d0c1a21000 rw-p 00000000 00:00 0 [heap]
7f0000000000-7f0000028000 r--p 00000000 08:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6
7f1000000000-7f1000001000 r--p 00000000 08:01 789 /opt/my app/libspace.so
7f2000000000-7f2000001000 r--p 00000000 08:01 790 /tmp/libgone.so (deleted)
7f3000000000-7f3000001000 rw-p 00000000 00:00 0
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]
`
	got := mappedPaths(strings.NewReader(maps))
	want := []string{"/usr/bin/sleep", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/opt/my app/libspace.so"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mappedPaths = %q, want %q", got, want)
	}
}

func TestResolveMatchMapped(t *testing.T) {
	paths := []string{
		"/usr/bin/bash",
		"/lib/x86_64-linux-gnu/libc-2.31.so",
		"/lib/x86_64-linux-gnu/libcap.so.2",
		"/lib/x86_64-linux-gnu/libcrypto.so.3",
		"/lib/x86_64-linux-gnu/libssl.so.3",
		"/lib/x86_64-linux-gnu/libz.so.1.2.13",
		"/opt/lib/libz.so.1",
	}
	tests := []struct {
		name string
		want []string
	}{
		{"libc", []string{"/lib/x86_64-linux-gnu/libc-2.31.so"}},
		{"libc.so", []string{"/lib/x86_64-linux-gnu/libc-2.31.so"}},
		{"libc.so.6", nil}, // versioned names match exactly only
		{"libssl.so.1.1", nil},
		{"libssl", []string{"/lib/x86_64-linux-gnu/libssl.so.3"}},
		{"libz", []string{"/lib/x86_64-linux-gnu/libz.so.1.2.13", "/opt/lib/libz.so.1"}},
		{"libz.so.1", []string{"/opt/lib/libz.so.1"}},
		{"bash", []string{"/usr/bin/bash"}},
		{"libcap", []string{"/lib/x86_64-linux-gnu/libcap.so.2"}},
	}
	for _, tc := range tests {
		if got := matchMapped(paths, tc.name); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("matchMapped(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestResolveLibraryNames(t *testing.T) {
	for base, want := range map[string]bool{
		"libc.so":       true,
		"libc.so.6":     true,
		"libc-2.36.so":  true,
		"libc-2.so":     true,
		"libc-.so":      false,
		"libc-x.so":     false,
		"libcap.so.2":   false,
		"libc.sox":      false,
		"libc-2.36.so1": false,
	} {
		if got := isVersionOfLibrary(base, "libc"); got != want {
			t.Errorf("isVersionOfLibrary(%q, libc) = %v, want %v", base, got, want)
		}
	}
	for name, want := range map[string]bool{
		"libc.so": true, "libc.so.6": true, "libc": false, "bash": false, "libfoo.socket": false, "x.so": true,
	} {
		if got := isLibraryName(name); got != want {
			t.Errorf("isLibraryName(%q) = %v, want %v", name, got, want)
		}
	}
	if got := splitSearchPath("/a::/b;/c", ":;"); !reflect.DeepEqual(got, []string{"/a", ".", "/b", "/c"}) {
		t.Errorf("splitSearchPath = %q", got)
	}
	if got := splitSearchPath("", ":"); got != nil {
		t.Errorf("splitSearchPath(\"\") = %q", got)
	}
}

func TestResolveDefaultLibraryDirs(t *testing.T) {
	tests := map[string][]string{
		"amd64": {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"},
		"arm64": {"/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"},
		"arm": {"/lib/arm-linux-gnueabihf", "/usr/lib/arm-linux-gnueabihf",
			"/lib/arm-linux-gnueabi", "/usr/lib/arm-linux-gnueabi", "/lib", "/usr/lib"},
		"386":  {"/lib/i386-linux-gnu", "/usr/lib/i386-linux-gnu", "/lib", "/usr/lib"},
		"wasm": {"/lib", "/usr/lib"},
	}
	for goarch, want := range tests {
		if got := defaultLibraryDirs(goarch); !reflect.DeepEqual(got, want) {
			t.Errorf("defaultLibraryDirs(%s) = %q, want %q", goarch, got, want)
		}
	}
}

func TestResolveELFArch(t *testing.T) {
	header := func(class elf.Class, data elf.Data, machine elf.Machine) []byte {
		h := make([]byte, 20)
		copy(h, elf.ELFMAG)
		h[elf.EI_CLASS], h[elf.EI_DATA] = byte(class), byte(data)
		var bo binary.ByteOrder = binary.LittleEndian
		if data == elf.ELFDATA2MSB {
			bo = binary.BigEndian
		}
		bo.PutUint16(h[18:], uint16(machine))
		return h
	}
	tests := []struct {
		hdr    []byte
		goarch string
		want   bool
	}{
		{header(elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_X86_64), "amd64", true},
		{header(elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_X86_64), "amd64", false}, // x32
		{header(elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_386), "amd64", false},
		{header(elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_386), "386", true},
		{header(elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_AARCH64), "arm64", true},
		{header(elf.ELFCLASS64, elf.ELFDATA2MSB, elf.EM_S390), "s390x", true},
		{header(elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_PPC64), "ppc64", false},
		{header(elf.ELFCLASS64, elf.ELFDATA2LSB, elf.EM_PPC64), "ppc64le", true},
		{header(elf.ELFCLASS32, elf.ELFDATA2LSB, elf.EM_ARM), "wasm", true},
		{[]byte("GROUP ( libc.so.6 )\n"), "amd64", false},
		{[]byte("\x7fELF"), "amd64", false},
	}
	for i, tc := range tests {
		if got := elfHeaderMatchesArch(tc.hdr, tc.goarch); got != tc.want {
			t.Errorf("case %d (%s): elfHeaderMatchesArch = %v, want %v", i, tc.goarch, got, tc.want)
		}
	}

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if !elfMatchesArch(exe, runtime.GOARCH) {
		t.Errorf("the test binary %s is not an ELF object for %s", exe, runtime.GOARCH)
	}
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	if elfMatchesArch(exe, other) {
		t.Errorf("the test binary %s passes as %s", exe, other)
	}
	if elfMatchesArch(filepath.Join(t.TempDir(), "missing"), runtime.GOARCH) {
		t.Error("a missing file passes")
	}
}

// TestResolveLibraryInCache checks the choice among cache entries: this
// architecture only, exact names before stems, baseline before hwcap
// builds, and stale entries skipped. The test binary stands in for the
// libraries because it is an ELF object for this architecture.
func TestResolveLibraryInCache(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.Symlink(exe, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	native := ldCacheArchFlags(runtime.GOARCH)
	if native == nil {
		t.Skipf("no ld.so.cache flags known for %s", runtime.GOARCH)
	}
	flags := native[0]
	foreign := int32(ldFlagELFLibc6 | ldFlagX8664Lib64)
	if runtime.GOARCH == "amd64" {
		foreign = ldFlagELFLibc6 | ldFlagAArch64Lib64
	}
	hwcap, baseline, versioned, other := file("hwcap.so"), file("baseline.so"), file("versioned.so"), file("other.so")
	entries := []LDCacheEntry{
		{Name: "libfoo.so.1", Path: other, Flags: foreign},
		{Name: "libfoo.so.1", Path: filepath.Join(dir, "stale.so"), Flags: flags},
		{Name: "libfoo.so.1", Path: hwcap, Flags: flags, Hwcap: 1 << 62},
		{Name: "libfoo.so.1", Path: baseline, Flags: flags},
		{Name: "libbar.so.2", Path: versioned, Flags: flags},
		{Name: "libbar.so", Path: "relative/libbar.so", Flags: flags},
	}
	r := binaryResolver{goarch: runtime.GOARCH}
	for name, want := range map[string]string{
		"libfoo.so.1": baseline,
		"libfoo":      baseline,
		"libbar.so":   versioned, // the exact entry is unusable: not absolute
		"libbar":      versioned,
		"libbaz.so":   "",
	} {
		got, ok := r.findLibraryInCache(entries, newLibraryMatcher(name))
		if got != want || ok != (want != "") {
			t.Errorf("findLibraryInCache(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	onlyHwcap := []LDCacheEntry{{Name: "libfoo.so.1", Path: hwcap, Flags: flags, Hwcap: 1 << 62}}
	if got, _ := r.findLibraryInCache(onlyHwcap, newLibraryMatcher("libfoo.so.1")); got != hwcap {
		t.Errorf("with only an hwcap build: %q, want %q", got, hwcap)
	}
}
