package compiled_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
	"github.com/wagglebpf/waggle/attach"
	"github.com/wagglebpf/waggle/lang/compiled"
)

// The compiling machine, as a test describes it: amd64, 4 CPUs, a ring
// buffer, one tracepoint field, one symbol of each kind, an enum, a
// sizeof, a record printed whole and a usdt site.
func assumed() *compiled.Program {
	return &compiled.Program{Assumes: compiled.Assumptions{
		Arch: "amd64", Kernel: "6.1.0", NCPUs: 4, RingBuf: true,
		Tracepoints:   []compiled.Tracepoint{{Group: "syscalls", Event: "sys_enter_openat", Fields: []compiled.TracepointField{{Name: "filename", Offset: 24, Size: 8}}}},
		KernelSymbols: []compiled.Symbol{{Name: "vfs_read", Addr: 0xffffffff81000000}},
		UserSymbols:   []compiled.Symbol{{Name: "/bin/sh:main", Addr: 0x1234}},
		Enums:         []compiled.Enum{{Name: "E_ONE", Value: 1}},
		Sizes:         []compiled.TypeSize{{Type: "struct pair", Value: 16}, {Type: "struct pair", Path: []string{"b"}, Value: 8}},
		Records:       []compiled.Record{{Type: "struct pair", Size: 16, Members: []compiled.Member{{Path: "a", BitOffset: 0, Size: 4}, {Path: "b", BitOffset: 64, Size: 8}}}},
		USDT:          []compiled.USDTSite{{Path: "/bin/app", Provider: "app", Name: "start", Offset: 0x500, ArgSpec: "-4@%edi"}},
	}}
}

// pairBTF is a kernel whose struct pair has b at byteB and whose E_ONE
// is one.
func pairBTF(t *testing.T, byteB uint32, one uint64) func() (*btf.Spec, error) {
	i32 := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	i64 := &btf.Int{Name: "long", Size: 8, Encoding: btf.Signed}
	pair := &btf.Struct{Name: "pair", Size: byteB + 8, Members: []btf.Member{{Name: "a", Type: i32}, {Name: "b", Type: i64, Offset: btf.Bits(byteB * 8)}}}
	enum := &btf.Enum{Name: "e", Size: 4, Values: []btf.EnumValue{{Name: "E_ONE", Value: one}}}
	spec := specOf(t, pair, enum)
	return func() (*btf.Spec, error) { return spec, nil }
}

// matching is a target that has everything assumed.
func matching(t *testing.T) compiled.Target {
	return compiled.Target{
		Arch: "amd64", NCPUs: 4,
		BTF: pairBTF(t, 8, 1),
		TracepointFormat: func(group, event string) (*attach.TracepointFormat, error) {
			return &attach.TracepointFormat{Name: event, Fields: []attach.TracepointField{{Name: "filename", Offset: 24, Size: 8}}}, nil
		},
		KernelSymbol: func(name string) (uint64, error) { return 0xffffffff81000000, nil },
		UserSymbol:   func(spec string, pid int) (uint64, error) { return 0x1234, nil },
		USDTProbes: func(path string) ([]attach.USDTProbe, error) {
			return []attach.USDTProbe{{Path: path, Provider: "app", Name: "start", Offset: 0x500, ArgSpec: "-4@%edi"}}, nil
		},
	}
}

func TestCheck(t *testing.T) {
	if err := assumed().Check(matching(t)); err != nil {
		t.Fatalf("a matching target: %v", err)
	}
	if err := assumed().Check(compiled.Target{}); err != nil {
		t.Fatalf("a target that tells nothing: %v", err)
	}
	cases := []struct {
		name   string
		change func(*compiled.Target)
		want   string
	}{
		{"arch", func(tg *compiled.Target) { tg.Arch = "arm64" }, "the program was compiled for amd64; this machine is arm64"},
		{"cpus", func(tg *compiled.Target) { tg.NCPUs = 8 }, "compiled for 4 possible CPUs (ncpus, or an aggregation read whole in a probe), this machine has 8"},
		{"ring buffer", func(tg *compiled.Target) { tg.NoRingBuf = true }, "BPF ring buffer, which this kernel lacks"},
		{"tracepoint field", func(tg *compiled.Target) {
			tg.TracepointFormat = func(group, event string) (*attach.TracepointFormat, error) {
				return &attach.TracepointFormat{Fields: []attach.TracepointField{{Name: "filename", Offset: 16, Size: 8}}}, nil
			}
		}, "tracepoint syscalls:sys_enter_openat: field filename is 8 bytes at offset 16 on this kernel, 8 bytes at offset 24 where it was compiled (Linux 6.1.0)"},
		{"tracepoint gone", func(tg *compiled.Target) {
			tg.TracepointFormat = func(group, event string) (*attach.TracepointFormat, error) {
				return nil, &attach.TracepointNotFoundError{Group: group, Name: event}
			}
		}, "tracepoint syscalls:sys_enter_openat, whose fields the program reads, does not exist on this kernel"},
		{"tracepoint field gone", func(tg *compiled.Target) {
			tg.TracepointFormat = func(group, event string) (*attach.TracepointFormat, error) { return &attach.TracepointFormat{}, nil }
		}, "tracepoint syscalls:sys_enter_openat has no field filename on this kernel"},
		{"kaddr", func(tg *compiled.Target) {
			tg.KernelSymbol = func(string) (uint64, error) { return 0xffffffff82000000, nil }
		}, `kaddr("vfs_read") was compiled in as 0xffffffff81000000, this kernel has it at 0xffffffff82000000`},
		{"uaddr", func(tg *compiled.Target) {
			tg.UserSymbol = func(string, int) (uint64, error) { return 0, errors.New("no such file") }
		}, `uaddr("/bin/sh:main") was compiled in as 0x1234, and it cannot be resolved here: no such file`},
		{"enum", func(tg *compiled.Target) { tg.BTF = pairBTF(t, 8, 2) }, "enum constant E_ONE is 2 on this kernel, 1 where it was compiled"},
		{"offsetof", func(tg *compiled.Target) { tg.BTF = pairBTF(t, 16, 1) }, "offsetof(struct pair, b) is 16 on this kernel, 8 where it was compiled"},
		{"sizeof", func(tg *compiled.Target) { tg.BTF = pairBTF(t, 16, 1) }, "sizeof(struct pair) is 24 on this kernel, 16 where it was compiled"},
		{"record", func(tg *compiled.Target) { tg.BTF = pairBTF(t, 16, 1) }, "the program prints struct pair whole, and it is 24 bytes on this kernel, 16 where it was compiled"},
		{"usdt", func(tg *compiled.Target) {
			tg.USDTProbes = func(path string) ([]attach.USDTProbe, error) {
				return []attach.USDTProbe{{Provider: "app", Name: "start", Offset: 0x500, ArgSpec: "-8@%rdi"}}, nil
			}
		}, "usdt:/bin/app:app:start: the probe site at file offset 0x500 has other arguments or another semaphore"},
		{"usdt moved", func(tg *compiled.Target) {
			tg.USDTProbes = func(path string) ([]attach.USDTProbe, error) {
				return []attach.USDTProbe{{Provider: "app", Name: "start", Offset: 0x600}}, nil
			}
		}, "usdt:/bin/app:app:start: this machine's file has no probe site at file offset 0x500"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			target := matching(t)
			c.change(&target)
			err := assumed().Check(target)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// A record whose size is the same but whose members moved is refused
// too: it would print the wrong bytes.
func TestCheckRecordMembers(t *testing.T) {
	p := &compiled.Program{Assumes: compiled.Assumptions{Arch: "amd64",
		Records: []compiled.Record{{Type: "struct pair", Size: 16, Members: []compiled.Member{{Path: "a", BitOffset: 32, Size: 4}, {Path: "b", BitOffset: 64, Size: 8}}}}}}
	err := p.Check(compiled.Target{BTF: pairBTF(t, 8, 1)})
	if err == nil || !strings.Contains(err.Error(), "its member a is at bit 0 (4 bytes) on this kernel, at bit 32 (4 bytes) where it was compiled") {
		t.Fatalf("error %v", err)
	}
}
