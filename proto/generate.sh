#!/usr/bin/env bash
# Regenerates agent/agentpb from proto/waggle/agent/v1/agent.proto.
#
# Needs protoc (Debian: apt-get install protobuf-compiler, 3.21) and the two
# Go plugins at the versions the committed code was made with:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
# Run from anywhere: proto/generate.sh
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$(go env GOPATH)/bin:$PATH"

for tool in protoc protoc-gen-go protoc-gen-go-grpc; do
	command -v "$tool" >/dev/null || { echo "generate.sh: $tool is not installed (see the comment at the top)" >&2; exit 1; }
done

protoc -I . \
	--go_out=.. --go_opt=module=github.com/wagglebpf/waggle \
	--go-grpc_out=.. --go-grpc_opt=module=github.com/wagglebpf/waggle \
	waggle/agent/v1/agent.proto
