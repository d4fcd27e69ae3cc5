# Sieve of Eratosthenes over mem, one byte per number (mem starts zeroed);
# r0 = the number of primes below len(mem).
mov %r0, 0
mov %r3, 2
outer:
jge %r3, %r2, done
mov %r4, %r1
add %r4, %r3
ldxb %r5, [%r4+0]
jne %r5, 0, next
add %r0, 1
mov %r6, %r3
mul %r6, %r3
inner:
jge %r6, %r2, next
mov %r4, %r1
add %r4, %r6
stb [%r4+0], 1
add %r6, %r3
ja inner
next:
add %r3, 1
ja outer
done:
exit
