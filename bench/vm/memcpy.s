# Copies the first half of mem onto the second half, 32 bytes a round
# (four 8-byte loads and stores); len(mem) is a multiple of 64.
# r0 = the number of bytes copied.
mov %r3, %r2
rsh %r3, 1
mov %r4, %r1
mov %r5, %r1
add %r5, %r3
mov %r0, 0
loop:
jge %r0, %r3, done
ldxdw %r6, [%r4+0]
stxdw [%r5+0], %r6
ldxdw %r7, [%r4+8]
stxdw [%r5+8], %r7
ldxdw %r8, [%r4+16]
stxdw [%r5+16], %r8
ldxdw %r9, [%r4+24]
stxdw [%r5+24], %r9
add %r4, 32
add %r5, 32
add %r0, 32
ja loop
done:
exit
