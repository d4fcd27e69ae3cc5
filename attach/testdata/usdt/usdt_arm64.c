// An arm64 binary with USDT probes, only parsed by the tests (never run):
// the argument specifications clang writes for arm64. Built by ./build.sh
// with clang and lld, freestanding.
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

unsigned short waggle_arm_semaphore __attribute__((unused)) __attribute__((section(".probes")));

struct point {
	long x, y;
};

volatile struct point origin = {3, -4};
int global_counter = 7;

__attribute__((noinline)) void arm_fire(int n, long total, const char *name, volatile struct point *p)
{
	STAP_PROBE5(waggle, arm, n, total, name, p->y, 42);
}

void _start(void)
{
	arm_fire(1, 2, "x", &origin);
	for (;;)
		;
}
