package attach

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSyscallPrefixFor(t *testing.T) {
	for goarch, want := range map[string]string{
		"amd64":   "__x64_sys_",
		"386":     "__ia32_sys_",
		"arm64":   "__arm64_sys_",
		"riscv64": "__riscv_sys_",
		"s390x":   "__s390x_sys_",
		// No syscall wrappers (or, on powerpc, wrappers named sys_*).
		"arm":      "sys_",
		"ppc64le":  "sys_",
		"mips64le": "sys_",
		"loong64":  "sys_",
		"wasm":     "sys_",
	} {
		if got := syscallPrefixFor(goarch); got != want {
			t.Errorf("syscallPrefixFor(%s) = %q, want %q", goarch, got, want)
		}
	}
	if SyscallPrefix() != syscallPrefixFor(runtime.GOARCH) {
		t.Errorf("SyscallPrefix() = %q, not the %s prefix", SyscallPrefix(), runtime.GOARCH)
	}
	if got, want := SyscallFunction("openat"), SyscallPrefix()+"openat"; got != want {
		t.Errorf("SyscallFunction(openat) = %q, want %q", got, want)
	}
}

const fakeKallsyms = `0000000000000000 T _text
ffffffff81001000 T __x64_sys_read
ffffffff81001100 T sys_read
ffffffff81001200 t sys_write
ffffffff81001300 D __x64_sys_write
ffffffff81001400 W __x64_sys_ni_thing
ffffffff81001500 T __arm64_sys_close	[somemod]
ffffffff81001600 T __x64_sys_readv.cold
ffffffff81001700 T __ia32_sys_read
`

func TestSyscallKsyscallTarget(t *testing.T) {
	tests := []struct {
		name, goarch, want, wantErr string
	}{
		{name: "read", goarch: "amd64", want: "__x64_sys_read"},
		// The wrapper named __x64_sys_write is data, not a function.
		{name: "write", goarch: "amd64", want: "sys_write"},
		{name: "ni_thing", goarch: "amd64", want: "__x64_sys_ni_thing"},
		{name: "close", goarch: "arm64", want: "__arm64_sys_close"},
		// armv7 user space on an arm64 kernel.
		{name: "close", goarch: "arm", want: "__arm64_sys_close"},
		{name: "read", goarch: "arm", want: "sys_read"},
		// 386 on a 64-bit kernel prefers the native entry point.
		{name: "read", goarch: "386", want: "__x64_sys_read"},
		{name: "read", goarch: "riscv64", want: "sys_read"},
		{name: "readv", goarch: "amd64",
			wantErr: "syscall readv: no kernel function __x64_sys_readv or sys_readv in /proc/kallsyms"},
		{name: "nope", goarch: "386",
			wantErr: "syscall nope: no kernel function __x64_sys_nope, __ia32_sys_nope or sys_nope in /proc/kallsyms"},
		{name: "nope", goarch: "mips",
			wantErr: "syscall nope: no kernel function sys_nope in /proc/kallsyms"},
		{name: "", goarch: "amd64", wantErr: "syscall name is empty"},
		{name: "re ad", goarch: "amd64", wantErr: "white space"},
	}
	for _, tc := range tests {
		got, err := ksyscallTargetFor(tc.name, strings.NewReader(fakeKallsyms), tc.goarch)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s on %s: got %q, %v; want error %q", tc.name, tc.goarch, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s on %s = %q, %v; want %q", tc.name, tc.goarch, got, err, tc.want)
		}
	}
}

func TestSyscallKsyscallTargetReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := KsyscallTarget("read", iotest.ErrReader(boom))
	if !errors.Is(err, boom) {
		t.Errorf("error %v does not wrap the read error", err)
	}
}

// TestSyscallKsyscallTargetKernel asks the running kernel. The symbols are listed
// even when kptr_restrict hides their addresses.
func TestSyscallKsyscallTargetKernel(t *testing.T) {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		t.Skipf("cannot read kallsyms: %v", err)
	}
	defer f.Close()
	got, err := KsyscallTarget("openat", f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(got, "sys_openat") {
		t.Errorf("KsyscallTarget(openat) = %q", got)
	}
	t.Logf("openat -> %s", got)
}
