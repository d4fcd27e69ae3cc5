# strcmp.s for the kernel verifier: the same loop with a byte budget of
# len(mem)/2 in r7 (one more instruction a byte, sub + jne in place of
# ja), since the verifier cannot know the strings are NUL-terminated and
# would follow the loop past the end of the packet.
# r0 = the difference of the first differing bytes (0 if none differ).
mov %r3, %r2
rsh %r3, 1
mov %r4, %r1
add %r4, %r3
mov %r7, %r3
loop:
ldxb %r5, [%r1+0]
ldxb %r6, [%r4+0]
jne %r5, %r6, differ
jeq %r5, 0, equal
add %r1, 1
add %r4, 1
sub %r7, 1
jne %r7, 0, loop
equal:
mov %r0, 0
exit
differ:
mov %r0, %r5
sub %r0, %r6
exit
