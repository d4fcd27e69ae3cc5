// Package agentpb is the generated Go code of the waggle agent's gRPC
// service, proto/waggle/agent/v1/agent.proto. Do not edit it by hand:
// regenerate it with proto/generate.sh.
package agentpb
