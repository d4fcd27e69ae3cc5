// Target for uprobe.bpf.c: calls waggle_target 9 times, then getpid once. Build: cc -O1 -o target uprobe_target.c
#include <unistd.h>

__attribute__((noinline)) int waggle_target(int x)
{
	asm volatile("" ::: "memory");
	return x * 2;
}

int main(void)
{
	static const int xs[] = {0, 1, 2, 3, 5, 8, 100, 1000, 1000};
	volatile int sink = 0;

	for (unsigned i = 0; i < sizeof(xs) / sizeof(xs[0]); i++)
		sink += waggle_target(xs[i]);
	getpid();
	return 0;
}
