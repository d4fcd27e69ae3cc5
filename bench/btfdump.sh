#!/bin/sh
# Side by side: waggle btf dump and bpftool btf dump on this machine's
# kernel BTF (/sys/kernel/btf/vmlinux), as a C header and as the raw
# listing. Wall time with hyperfine, peak RSS with GNU time. Run from
# anywhere (no root needed):
#   sh bench/btfdump.sh
# Debian's bpftool (v7.1) writes the header in type ID order; waggle sorts
# it by default as bpftool v7.5 does, so both orders of waggle's are timed.
set -eu
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$dir/waggle" ./cmd/waggle
vmlinux=/sys/kernel/btf/vmlinux

# medians prints each command's median wall time from hyperfine's JSON.
medians() {
	awk -F'"' '/"command":/ { cmd = $4 } /"median":/ { split($3, v, /[:,]/); printf "median: %-22s %.1f ms\n", cmd, v[2] * 1000 }' "$1"
}

# -N: no shell in between; the output goes to /dev/null.
hyperfine -N -w 5 -r 40 --export-json "$dir/c.json" \
	-n "bpftool format c" "bpftool btf dump file $vmlinux format c" \
	-n "waggle (sorted)" "$dir/waggle btf dump" \
	-n "waggle --unsorted" "$dir/waggle btf dump --unsorted"
medians "$dir/c.json"
hyperfine -N -w 5 -r 40 --export-json "$dir/raw.json" \
	-n "bpftool format raw" "bpftool btf dump file $vmlinux format raw" \
	-n "waggle --format raw" "$dir/waggle btf dump --format raw"
medians "$dir/raw.json"

if [ -x /usr/bin/time ]; then
	for cmd in "bpftool btf dump file $vmlinux format c" "$dir/waggle btf dump" "$dir/waggle btf dump --unsorted" \
		"bpftool btf dump file $vmlinux format raw" "$dir/waggle btf dump --format raw"; do
		peak=0
		for _ in 1 2 3 4 5; do
			# shellcheck disable=SC2086 # $cmd is a command and its arguments
			/usr/bin/time -f %M -o "$dir/rss" $cmd >/dev/null
			kib=$(tail -n 1 "$dir/rss")
			[ "$kib" -gt "$peak" ] && peak=$kib
		done
		echo "peak RSS, max of 5: ${cmd#"$dir/"}: $peak KiB"
	done
else
	echo "no /usr/bin/time (apt-get install time): no peak RSS"
fi
