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

struct outer {
	int kind;
	union {
		int i;
		struct {
			short int lo;
			short int hi;
		} parts;
	};
	enum {
		OA = 0,
		OB = 1,
	} e;
	struct {
		int x;
	} *p;
};

enum {
	TOP_A = 1,
	TOP_B = 2,
};

typedef struct {
	int a;
} anon_t;

typedef union {
	long int l;
} anon_u;


/* BPF kfuncs */
#ifndef BPF_NO_KFUNC_PROTOTYPES
#endif

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
