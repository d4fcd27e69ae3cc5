package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/cilium/ebpf/btf"

	"github.com/wagglebpf/waggle/agent"
	"github.com/wagglebpf/waggle/lang/driver"
)

// unameArch maps the machine names the kernel reports (uname -m) to Go's
// GOARCH names.
var unameArch = map[string]string{
	"x86_64": "amd64", "i386": "386", "i686": "386",
	"aarch64": "arm64", "arm64": "arm64", "armv6l": "arm", "armv7l": "arm", "armv8l": "arm",
	"riscv64": "riscv64", "ppc64le": "ppc64le", "s390x": "s390x",
	"loongarch64": "loong64", "mips64": "mips64",
}

// remoteTarget asks the agent at rf what compiling for its machine takes
// from it: its kernel's types (BTF) and its CPU count. The BTF is kept in
// the user's cache under its SHA-256, so that it crosses the network
// once per kernel.
func remoteTarget(ctx context.Context, rf *remoteFlags) (*driver.Target, error) {
	var data []byte
	var ncpus int
	err := rf.withAgent(func(c *agent.Client) error {
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if arch := unameArch[info.Machine]; arch != runtime.GOARCH {
			return fmt.Errorf("the agent's machine is %s, and this waggle compiles for %s: run waggle trace --compile -o FILE on a %s machine and send FILE with waggle run --remote", info.Machine, runtime.GOARCH, info.Machine)
		}
		ncpus = int(info.PossibleCpus)
		if info.KernelBtfSize == 0 {
			return nil // the agent's kernel has no BTF: nothing to compile against
		}
		data, err = cachedBTF(info.KernelBtfSha256, func() ([]byte, error) {
			var b bytes.Buffer
			_, err := c.KernelBTF(ctx, "", &b)
			return b.Bytes(), err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	t := &driver.Target{NCPUs: ncpus}
	if data != nil {
		t.KernelBTF = sync.OnceValues(func() (*btf.Spec, error) {
			spec, err := btf.LoadSpecFromReader(bytes.NewReader(data))
			if err != nil {
				return nil, fmt.Errorf("the agent's kernel BTF: %w", err)
			}
			return spec, nil
		})
	} else {
		t.KernelBTF = func() (*btf.Spec, error) {
			return nil, fmt.Errorf("the agent's kernel has no BTF (/sys/kernel/btf/vmlinux)")
		}
	}
	return t, nil
}

// cachedBTF returns the BTF whose SHA-256 is sum from the user's cache,
// or fetches it and stores it there. A cache that cannot be written only
// costs the next fetch.
func cachedBTF(sum string, fetch func() ([]byte, error)) ([]byte, error) {
	var path string
	if dir, err := os.UserCacheDir(); err == nil && len(sum) == sha256.Size*2 {
		path = filepath.Join(dir, "waggle", "btf", sum+".btf")
		if data, err := os.ReadFile(path); err == nil && sha256Hex(data) == sum {
			return data, nil
		}
	}
	data, err := fetch()
	if err != nil {
		return nil, err
	}
	if got := sha256Hex(data); sum != "" && got != sum {
		return nil, fmt.Errorf("the agent's kernel BTF arrived with SHA-256 %s, not the %s it announced", got, sum)
	}
	if path != "" && os.MkdirAll(filepath.Dir(path), 0o755) == nil {
		writeFileAtomic(path, data)
	}
	return data, nil
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
