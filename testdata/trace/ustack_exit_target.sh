#!/bin/sh
# The -c command of testdata/trace/ustack_exit.test: builds a small C
# program and runs it in place of this shell (so with the pid -c gave it,
# cpid). The program deletes its own file and directory, calls libc's
# getpid through two functions of its own and qsort with a comparison
# function of its own, and exits: waggle prints the stacks and symbols
# it captured after the process and its file are gone.
set -e
d=$(mktemp -d "${TMPDIR:-/tmp}/waggle-ustack-exit.XXXXXX")
cat >"$d/t.c" <<'C'
#include <stdlib.h>
#include <unistd.h>

static int waggle_exit_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

__attribute__((noinline)) int waggle_exit_leaf(void)
{
	return getpid();
}

__attribute__((noinline)) int waggle_exit_mid(void)
{
	int r = waggle_exit_leaf();
	__asm__ volatile("" ::: "memory");
	return r + 1;
}

int main(int argc, char **argv)
{
	int v[] = {3, 1, 2};

	unlink(argv[0]);
	rmdir(argv[1]);
	qsort(v, 3, sizeof v[0], waggle_exit_cmp);
	return waggle_exit_mid() > 0 ? 0 : 1;
}
C
cc -O0 -fno-omit-frame-pointer -o "$d/waggle_exit" "$d/t.c"
rm "$d/t.c"
exec "$d/waggle_exit" "$d"
