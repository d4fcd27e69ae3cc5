// A valid program in an unknown section, for "cannot attach / unknown section" error tests.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("nonsense/thing")
int mystery(void *ctx)
{
	return 0;
}
