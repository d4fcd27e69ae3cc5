#!/bin/sh
# Rebuilds the USDT fixtures. Needs: apt-get install gcc systemtap-sdt-dev clang lld
set -eu
cd "$(dirname "$0")"
SDT=$(dirname "$(find /usr/include -name sdt.h -path '*sys/sdt.h' | head -1)")/..
gcc -O2 -g0 -o usdt_target usdt_target.c usdt_sema.c
# The arm64 and i386 objects are only parsed, never run.
clang --target=aarch64-linux-gnu -O2 -ffreestanding -nostdlib -static -fuse-ld=lld -I"$SDT" -o usdt_arm64 usdt_arm64.c
clang --target=i386-linux-gnu -O2 -ffreestanding -nostdlib -static -fuse-ld=lld -I"$SDT" -o usdt_i386 usdt_arm64.c
