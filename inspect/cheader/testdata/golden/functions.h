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

typedef int (*cb_t)(void *, int);

typedef void fn_t(int n);

struct ops {
	void (*start)(struct ops *o);
	int (*table[4])(int);
	char * (*name)(void);
	int (*vf)(const char *fmt, ...);
};

struct decls {
	int (* (*getter)(int))(char);
	int (*pa)[4];
	int m[2][3];
	fn_t *f;
	cb_t cb;
};

typedef int (*noargs_t)(void);


/* BPF kfuncs */
#ifndef BPF_NO_KFUNC_PROTOTYPES
#endif

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
