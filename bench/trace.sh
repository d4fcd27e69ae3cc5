#!/bin/sh
# Side by side: waggle trace and bpftrace on issue 3's two scripts.
# Wall time with hyperfine, peak RSS with GNU time. Run as root from anywhere:
#   sh bench/trace.sh
# The Go benchmarks (BenchmarkTrace, BenchmarkTraceInsns) measure the same
# and also count the loaded programs' instructions; see README.md.
set -eu
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$dir/waggle" ./cmd/waggle
ulimit -l unlimited 2>/dev/null || true # bpftrace 0.17 wants it; runs without

begin='BEGIN { exit(); }'
openat='tracepoint:syscalls:sys_enter_openat { @[comm] = count(); } interval:ms:100 { exit(); }'

for script in "$begin" "$openat"; do
	# -N: no shell in between, so the figures are the tools' own.
	hyperfine -N -w 3 -r 20 \
		-n waggle "$dir/waggle trace -e '$script'" \
		-n bpftrace "bpftrace -e '$script'"
	if [ -x /usr/bin/time ]; then
		for tool in "$dir/waggle trace" bpftrace; do
			peak=0
			for _ in 1 2 3 4 5; do
				# shellcheck disable=SC2086 # $tool is a command and its argument
				/usr/bin/time -f %M -o "$dir/rss" $tool -e "$script" >/dev/null 2>&1
				kib=$(tail -n 1 "$dir/rss")
				[ "$kib" -gt "$peak" ] && peak=$kib
			done
			echo "peak RSS, max of 5: ${tool##*/}: $peak KiB"
		done
	else
		echo "no /usr/bin/time (apt-get install time): no peak RSS"
	fi
done
