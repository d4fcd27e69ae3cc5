#!/usr/bin/env bash
# Resident memory of an idle `waggle agent`: after start-up, and after one
# `waggle agent info` (which probes the kernel's features and hashes its
# BTF). Run as root from the repository: bench/agent/rss.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
go build -o "$dir/waggle" ./cmd/waggle
sock="unix://$dir/agent.sock"
"$dir/waggle" agent --listen "$sock" 2>"$dir/log" &
pid=$!
for _ in $(seq 50); do [ -S "$dir/agent.sock" ] && break; sleep 0.1; done
sleep 1
echo "idle:        $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
"$dir/waggle" agent info --remote "$sock" >/dev/null
sleep 1
echo "after info:  $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
