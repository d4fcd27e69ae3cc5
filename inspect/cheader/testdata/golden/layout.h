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

struct flags {
	unsigned int a: 1;
	unsigned int b: 3;
	char: 4;
	unsigned int c: 4;
	int x;
	long long unsigned int big: 40;
	short: 0;
	char last;
};

struct packed {
	char c;
	int i;
} __attribute__((packed));

struct natural {
	char c;
	long int l;
	char d;
};

struct gaps {
	int a;
	long: 0;
	int: 32;
	int b;
	char: 8;
	char c;
	long: 64;
	long: 64;
	long: 64;
	long: 64;
	long: 64;
};

struct overaligned {
	char c;
	long: 64;
	long int l;
	long: 64;
};

struct inner_packed {
	short int s;
	int i;
} __attribute__((packed));

struct holder {
	char c;
	struct inner_packed p;
	long: 0;
};

union bits {
	unsigned int lo: 4;
	unsigned int all: 32;
};

struct empty {};


/* BPF kfuncs */
#ifndef BPF_NO_KFUNC_PROTOTYPES
#endif

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
