#!/usr/bin/env bash
# Events a second printed by one bpftrace script, run locally with waggle
# trace and through an agent over a Unix socket (waggle trace --remote),
# side by side: the script prints one line per openat(2) of a shell that
# opens a file in a loop. Run as root from the repository:
#   bash bench/agent/trace_rate.sh [SECONDS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-5}
rounds=${2:-3}
dir=$(mktemp -d)
chmod 700 "$dir"
go build -o "$dir/waggle" ./cmd/waggle
sh -c 'while :; do : </etc/hostname; done' &
busy=$!
sock="unix://$dir/agent.sock"
"$dir/waggle" agent --listen "$sock" 2>"$dir/agent.log" &
agent=$!
trap 'kill $busy $agent 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do [ -S "$dir/agent.sock" ] && break; sleep 0.1; done
script="tracepoint:syscalls:sys_enter_openat /pid == $busy/ { printf(\"%d %s\\n\", pid, str(args.filename)); }"
rate() { # rate NAME ARGS...: lines a second over $secs
	local name=$1
	shift
	local n
	n=$(timeout -s INT "$secs" "$dir/waggle" trace "$@" -e "$script" 2>/dev/null | grep -c /etc/hostname || true)
	echo "$name: $((n / secs)) events/s"
}
for r in $(seq "$rounds"); do
	rate "round $r local " 
	rate "round $r remote" --remote "$sock"
done
