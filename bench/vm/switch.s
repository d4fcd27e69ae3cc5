# A 64-way switch written as a chain of jeq, as a compiler lowers a sparse
# switch without a jump table, over 10000 values of an additive sequence
# (constants only, so the kernel verifier can follow every iteration).
# r0 = the sum of the cases' constants.
mov %r0, 0
mov %r6, 12345
mov %r9, 10000
loop:
add %r6, 40503
and %r6, 0xffff
mov %r7, %r6
rsh %r7, 7
xor %r7, %r6
and %r7, 63
jeq %r7, 0, c0
jeq %r7, 1, c1
jeq %r7, 2, c2
jeq %r7, 3, c3
jeq %r7, 4, c4
jeq %r7, 5, c5
jeq %r7, 6, c6
jeq %r7, 7, c7
jeq %r7, 8, c8
jeq %r7, 9, c9
jeq %r7, 10, c10
jeq %r7, 11, c11
jeq %r7, 12, c12
jeq %r7, 13, c13
jeq %r7, 14, c14
jeq %r7, 15, c15
jeq %r7, 16, c16
jeq %r7, 17, c17
jeq %r7, 18, c18
jeq %r7, 19, c19
jeq %r7, 20, c20
jeq %r7, 21, c21
jeq %r7, 22, c22
jeq %r7, 23, c23
jeq %r7, 24, c24
jeq %r7, 25, c25
jeq %r7, 26, c26
jeq %r7, 27, c27
jeq %r7, 28, c28
jeq %r7, 29, c29
jeq %r7, 30, c30
jeq %r7, 31, c31
jeq %r7, 32, c32
jeq %r7, 33, c33
jeq %r7, 34, c34
jeq %r7, 35, c35
jeq %r7, 36, c36
jeq %r7, 37, c37
jeq %r7, 38, c38
jeq %r7, 39, c39
jeq %r7, 40, c40
jeq %r7, 41, c41
jeq %r7, 42, c42
jeq %r7, 43, c43
jeq %r7, 44, c44
jeq %r7, 45, c45
jeq %r7, 46, c46
jeq %r7, 47, c47
jeq %r7, 48, c48
jeq %r7, 49, c49
jeq %r7, 50, c50
jeq %r7, 51, c51
jeq %r7, 52, c52
jeq %r7, 53, c53
jeq %r7, 54, c54
jeq %r7, 55, c55
jeq %r7, 56, c56
jeq %r7, 57, c57
jeq %r7, 58, c58
jeq %r7, 59, c59
jeq %r7, 60, c60
jeq %r7, 61, c61
jeq %r7, 62, c62
ja c63
c0:
add %r0, 332
ja next
c1:
add %r0, 971
ja next
c2:
add %r0, 155
ja next
c3:
add %r0, 405
ja next
c4:
add %r0, 667
ja next
c5:
add %r0, 50
ja next
c6:
add %r0, 75
ja next
c7:
add %r0, 841
ja next
c8:
add %r0, 549
ja next
c9:
add %r0, 97
ja next
c10:
add %r0, 375
ja next
c11:
add %r0, 597
ja next
c12:
add %r0, 60
ja next
c13:
add %r0, 932
ja next
c14:
add %r0, 520
ja next
c15:
add %r0, 220
ja next
c16:
add %r0, 39
ja next
c17:
add %r0, 89
ja next
c18:
add %r0, 445
ja next
c19:
add %r0, 429
ja next
c20:
add %r0, 72
ja next
c21:
add %r0, 247
ja next
c22:
add %r0, 93
ja next
c23:
add %r0, 565
ja next
c24:
add %r0, 435
ja next
c25:
add %r0, 61
ja next
c26:
add %r0, 847
ja next
c27:
add %r0, 580
ja next
c28:
add %r0, 127
ja next
c29:
add %r0, 971
ja next
c30:
add %r0, 229
ja next
c31:
add %r0, 646
ja next
c32:
add %r0, 643
ja next
c33:
add %r0, 597
ja next
c34:
add %r0, 971
ja next
c35:
add %r0, 64
ja next
c36:
add %r0, 591
ja next
c37:
add %r0, 600
ja next
c38:
add %r0, 407
ja next
c39:
add %r0, 51
ja next
c40:
add %r0, 1000
ja next
c41:
add %r0, 227
ja next
c42:
add %r0, 48
ja next
c43:
add %r0, 571
ja next
c44:
add %r0, 880
ja next
c45:
add %r0, 137
ja next
c46:
add %r0, 297
ja next
c47:
add %r0, 430
ja next
c48:
add %r0, 148
ja next
c49:
add %r0, 554
ja next
c50:
add %r0, 121
ja next
c51:
add %r0, 585
ja next
c52:
add %r0, 316
ja next
c53:
add %r0, 574
ja next
c54:
add %r0, 836
ja next
c55:
add %r0, 699
ja next
c56:
add %r0, 186
ja next
c57:
add %r0, 106
ja next
c58:
add %r0, 596
ja next
c59:
add %r0, 585
ja next
c60:
add %r0, 655
ja next
c61:
add %r0, 193
ja next
c62:
add %r0, 382
ja next
c63:
add %r0, 100
ja next
next:
sub %r9, 1
jne %r9, 0, loop
exit
