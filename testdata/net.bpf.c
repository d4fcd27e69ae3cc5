// XDP, tc and socket-filter programs counting IPv4 UDP packets to port 4242 (BPF_PROG_TEST_RUN / attach tests).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "counter.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef TC_ACT_OK
#define TC_ACT_OK 0
#endif
#define ETH_P_IP 0x0800
#define DPORT 4242

COUNTER(xdp_packets);
COUNTER(tc_packets);
COUNTER(sock_packets);

/* Direct packet access, shared by XDP and tc. */
static __always_inline int is_match(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *udp;

	if ((void *)(eth + 1) > data_end)
		return 0;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return 0;
	if (ip->protocol != IPPROTO_UDP || ip->ihl < 5)
		return 0;
	udp = (void *)ip + ip->ihl * 4;
	if ((void *)(udp + 1) > data_end)
		return 0;
	return udp->dest == bpf_htons(DPORT);
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	if (is_match((void *)(long)ctx->data, (void *)(long)ctx->data_end))
		bump(&xdp_packets);
	return XDP_PASS;
}

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	if (is_match((void *)(long)skb->data, (void *)(long)skb->data_end))
		bump(&tc_packets);
	return TC_ACT_OK;
}

/* Socket filter on an AF_PACKET socket: the packet starts at the Ethernet header. */
SEC("socket")
int sock_count(struct __sk_buff *skb)
{
	__u16 proto, dport;
	__u8 vihl, l4;
	__u32 off;

	if (bpf_skb_load_bytes(skb, offsetof(struct ethhdr, h_proto), &proto, sizeof(proto)))
		return skb->len;
	if (proto != bpf_htons(ETH_P_IP))
		return skb->len;
	off = sizeof(struct ethhdr);
	if (bpf_skb_load_bytes(skb, off, &vihl, 1) ||
	    bpf_skb_load_bytes(skb, off + offsetof(struct iphdr, protocol), &l4, 1))
		return skb->len;
	if (l4 != IPPROTO_UDP || (vihl & 0xf) < 5)
		return skb->len;
	off += (vihl & 0xf) * 4;
	if (bpf_skb_load_bytes(skb, off + offsetof(struct udphdr, dest), &dport, sizeof(dport)))
		return skb->len;
	if (dport == bpf_htons(DPORT))
		bump(&sock_packets);
	return skb->len;
}
