// cgroup programs: cgroup_skb/egress packet counter and cgroup/sysctl access counter.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "counter.h"

char LICENSE[] SEC("license") = "GPL";

COUNTER(egress_packets);
COUNTER(sysctl_reads);

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
	bump(&egress_packets);
	return 1;
}

SEC("cgroup/sysctl")
int count_sysctl(struct bpf_sysctl *ctx)
{
	bump(&sysctl_reads);
	return 1;
}
