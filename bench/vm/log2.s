# Integer log2 (floor, of v|1) by binary search over 10000 values of a
# xorshift64 sequence from a constant seed. r0 = the sum of the logs.
mov %r0, 0
lddw %r6, 0x9e3779b97f4a7c15
mov %r9, 10000
loop:
mov %r3, %r6
lsh %r3, 13
xor %r6, %r3
mov %r3, %r6
rsh %r3, 7
xor %r6, %r3
mov %r3, %r6
lsh %r3, 17
xor %r6, %r3
mov %r5, 0
mov %r4, %r6
or %r4, 1
mov %r3, %r4
rsh %r3, 32
jeq %r3, 0, s32
mov %r4, %r3
add %r5, 32
s32:
mov %r3, %r4
rsh %r3, 16
jeq %r3, 0, s16
mov %r4, %r3
add %r5, 16
s16:
mov %r3, %r4
rsh %r3, 8
jeq %r3, 0, s8
mov %r4, %r3
add %r5, 8
s8:
mov %r3, %r4
rsh %r3, 4
jeq %r3, 0, s4
mov %r4, %r3
add %r5, 4
s4:
mov %r3, %r4
rsh %r3, 2
jeq %r3, 0, s2
mov %r4, %r3
add %r5, 2
s2:
mov %r3, %r4
rsh %r3, 1
jeq %r3, 0, s1
mov %r4, %r3
add %r5, 1
s1:
add %r0, %r5
sub %r9, 1
jne %r9, 0, loop
exit
