#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif

#ifndef __ksym
#define __ksym __attribute__((section(".ksyms")))
#endif

#ifndef __weak
#define __weak __attribute__((weak))
#endif

#ifndef __bpf_fastcall
#if __has_attribute(bpf_fastcall)
#define __bpf_fastcall __attribute__((bpf_fastcall))
#else
#define __bpf_fastcall
#endif
#endif

struct list {
	struct list *next;
	struct list *prev;
};

struct b;

struct a {
	struct b *pb;
};

struct c;

struct b {
	struct a a;
	struct c *pc;
};

struct node;

typedef struct node node_t;

struct node {
	node_t *next;
	int v;
};

union u {
	struct b b;
	int x;
};

union fu;

struct q;

struct p {
	struct q *q;
};

struct q {
	struct p *p;
};


/* BPF kfuncs */
#ifndef BPF_NO_KFUNC_PROTOTYPES
#endif

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
