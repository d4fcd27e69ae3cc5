// The probe of usdt_target with a semaphore.
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

unsigned short waggle_tick_semaphore __attribute__((unused)) __attribute__((section(".probes")));

__attribute__((noinline)) void waggle_fire(int n, long total, const char *name)
{
	STAP_PROBE3(waggle, tick, n, total, name);
}
