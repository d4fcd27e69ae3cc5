#!/bin/sh
# Rebuilds the BPF test fixtures testdata/*.bpf.o from testdata/*.bpf.c.
# Needs: apt-get install clang llvm libbpf-dev bpftool   (and a kernel with /sys/kernel/btf/vmlinux)
# vmlinux.h is generated here and not committed. Objects keep their BTF/debug info (not stripped).
set -eu
cd "$(dirname "$0")"

CLANG=${CLANG:-clang}
BPFTOOL=${BPFTOOL:-bpftool}

case "$(uname -m)" in
x86_64) ARCH=x86 ;;
aarch64) ARCH=arm64 ;;
armv7* | armv6* | arm) ARCH=arm ;;
riscv64) ARCH=riscv ;;
s390x) ARCH=s390 ;;
ppc64le | ppc64) ARCH=powerpc ;;
loongarch64) ARCH=loongarch ;;
*) echo "build.sh: unsupported arch $(uname -m)" >&2; exit 1 ;;
esac

"$BPFTOOL" btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h

for src in *.bpf.c; do
	obj=${src%.c}.o
	echo "  CC $obj"
	"$CLANG" -g -O2 -target bpf -D__TARGET_ARCH_$ARCH -I . -c "$src" -o "$obj"
done
