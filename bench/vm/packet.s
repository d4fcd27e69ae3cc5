# Walks a buffer of packets, one per 128 bytes: Ethernet (with an optional
# 802.1Q tag), IPv4 (IHL checked and honoured, protocol TCP), TCP ports and
# data offset. r0 = the sum of source port + destination port + data offset
# over the TCP packets.
mov %r0, 0
mov %r9, %r1
add %r9, %r2
loop:
jge %r1, %r9, done
ldxh %r3, [%r1+12]
be16 %r3
mov %r4, %r1
add %r4, 14
jne %r3, 0x8100, untagged
ldxh %r3, [%r1+16]
be16 %r3
add %r4, 4
untagged:
jne %r3, 0x0800, next
ldxb %r5, [%r4+0]
mov %r6, %r5
rsh %r6, 4
jne %r6, 4, next
and %r5, 15
jlt %r5, 5, next
lsh %r5, 2
ldxb %r6, [%r4+9]
jne %r6, 6, next
ldxh %r7, [%r4+2]
be16 %r7
jlt %r7, %r5, next
add %r4, %r5
ldxh %r6, [%r4+0]
be16 %r6
ldxh %r7, [%r4+2]
be16 %r7
add %r0, %r6
add %r0, %r7
ldxb %r8, [%r4+12]
rsh %r8, 4
add %r0, %r8
next:
add %r1, 128
ja loop
done:
exit
