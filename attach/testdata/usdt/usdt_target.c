// Target for the USDT tests (attach/usdt_test.go): USDT probes made with
// SystemTap's <sys/sdt.h>; waggle:tick (in usdt_sema.c, since sdt.h turns
// semaphores on per file) has a semaphore. Rebuild with
// ./build.sh (needs gcc and systemtap-sdt-dev); the binaries are committed
// so that the tests need neither.
//
//	usdt_target         fires waggle:tick whenever its semaphore is set, at
//	                    most 5 times within about a second; prints "fired N"
//	usdt_target wait    waits up to 5 s for the semaphore, prints its value
#include <sys/sdt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern unsigned short waggle_tick_semaphore;
#define WAGGLE_TICK_ENABLED() __builtin_expect(waggle_tick_semaphore, 0)
void waggle_fire(int n, long total, const char *name);

struct point {
	long x, y;
};

int global_counter = 7;
volatile struct point origin = {3, -4};

__attribute__((noinline)) void waggle_kinds(volatile struct point *p, signed char c, short s)
{
	STAP_PROBE5(waggle, kinds, p->y, c, s, global_counter, 42);
}

int main(int argc, char **argv)
{
	STAP_PROBE(waggle, start);
	waggle_kinds(&origin, -1, 300);
	if (argc > 1 && strcmp(argv[1], "wait") == 0) {
		for (int i = 0; i < 1000 && !waggle_tick_semaphore; i++)
			usleep(5000);
		printf("semaphore %u\n", waggle_tick_semaphore);
		return 0;
	}
	int fired = 0;
	long total = 0;
	for (int i = 0; i < 200 && fired < 5; i++) {
		if (WAGGLE_TICK_ENABLED()) {
			total += 10;
			waggle_fire(fired, total, "tick");
			fired++;
		}
		usleep(5000);
	}
	printf("fired %d\n", fired);
	return 0;
}
