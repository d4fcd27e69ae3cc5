# strcmp of two NUL-terminated strings: the first at mem, the second at
# mem + len(mem)/2. r0 = the difference of the first differing bytes.
mov %r3, %r2
rsh %r3, 1
mov %r4, %r1
add %r4, %r3
loop:
ldxb %r5, [%r1+0]
ldxb %r6, [%r4+0]
jne %r5, %r6, differ
jeq %r5, 0, equal
add %r1, 1
add %r4, 1
ja loop
differ:
mov %r0, %r5
sub %r0, %r6
exit
equal:
mov %r0, 0
exit
