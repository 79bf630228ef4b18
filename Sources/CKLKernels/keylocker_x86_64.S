// The Key Locker instruction paths: ENCODEKEY, single and wide AES*KL, and
// the XTS bulk loop of the keylocker engine (DESIGN.md sections 2-3).
// System V AMD64 ABI, AT&T syntax. Every KL instruction is followed by a ZF
// check: ZF=1 means the handle was refused and the destination was not
// written. XMM registers that held keys, handles, data or tweaks are cleared
// before every return, the error paths included, so nothing outlives a call
// in a register.

        .text

// Clears XMM0..XMM\last.
.macro  CLEAR_XMM last
.irp    i, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
.if \i <= \last
        pxor    %xmm\i, %xmm\i
.endif
.endr
.endm

// ---------------------------------------------------------------------------
// uint32_t klfs_kl_encodekey256(uint32_t restrictions, const uint8_t key[32],
//                               uint8_t handle[64])
// uint32_t klfs_kl_encodekey128(uint32_t restrictions, const uint8_t key[16],
//                               uint8_t handle[48])
//   edi: restrictions (ENCODEKEY source)   rsi: raw key   rdx: handle out
//   eax: ENCODEKEY destination (IWKey NoBackup / KeySource), the return value
//   xmm0 (xmm1): the key on entry; xmm0-3 (xmm0-2): the handle on exit
// The instruction itself zeroes XMM4-6 (XMM3-6 for the 128-bit form); the
// key dies in XMM0/XMM1 when ENCODEKEY overwrites them with the handle.
// ---------------------------------------------------------------------------
.macro  ENCODEKEY_FUNCTION name, insn, key_registers, handle_registers
        .globl  \name
        .type   \name, @function
        .p2align 4
\name:
        movdqu  (%rsi), %xmm0
.if \key_registers == 2
        movdqu  16(%rsi), %xmm1
.endif
        \insn   %edi, %eax
        movdqu  %xmm0, (%rdx)
        movdqu  %xmm1, 16(%rdx)
        movdqu  %xmm2, 32(%rdx)
.if \handle_registers == 4
        movdqu  %xmm3, 48(%rdx)
.endif
        CLEAR_XMM 6
        ret
        .size   \name, . - \name
.endm

        ENCODEKEY_FUNCTION klfs_kl_encodekey256, encodekey256, 2, 4
        ENCODEKEY_FUNCTION klfs_kl_encodekey128, encodekey128, 1, 3

// ---------------------------------------------------------------------------
// int klfs_kl_aesenc256kl(const uint8_t handle[64], uint8_t block[16])
// int klfs_kl_aesdec256kl(const uint8_t handle[64], uint8_t block[16])
//   rdi: handle (the instruction's m512 operand)   rsi: block, in place
//   xmm0: the block   eax: KLFS_OK or KLFS_EHANDLE
// ---------------------------------------------------------------------------
.macro  ONE_BLOCK_FUNCTION name, insn
        .globl  \name
        .type   \name, @function
        .p2align 4
\name:
        movdqu  (%rsi), %xmm0
        \insn   (%rdi), %xmm0
        jz      1f
        movdqu  %xmm0, (%rsi)
        xorl    %eax, %eax
        pxor    %xmm0, %xmm0
        ret
1:      movl    $-1, %eax               // KLFS_EHANDLE, block untouched
        pxor    %xmm0, %xmm0
        ret
        .size   \name, . - \name
.endm

        ONE_BLOCK_FUNCTION klfs_kl_aesenc256kl, aesenc256kl
        ONE_BLOCK_FUNCTION klfs_kl_aesdec256kl, aesdec256kl

// Loads / stores the 8 blocks of a wide step: XMM0-7 <-> 128 bytes at \ptr.
.macro  LOAD_8_BLOCKS ptr
        movdqu  0x00(\ptr), %xmm0
        movdqu  0x10(\ptr), %xmm1
        movdqu  0x20(\ptr), %xmm2
        movdqu  0x30(\ptr), %xmm3
        movdqu  0x40(\ptr), %xmm4
        movdqu  0x50(\ptr), %xmm5
        movdqu  0x60(\ptr), %xmm6
        movdqu  0x70(\ptr), %xmm7
.endm

.macro  STORE_8_BLOCKS ptr
        movdqu  %xmm0, 0x00(\ptr)
        movdqu  %xmm1, 0x10(\ptr)
        movdqu  %xmm2, 0x20(\ptr)
        movdqu  %xmm3, 0x30(\ptr)
        movdqu  %xmm4, 0x40(\ptr)
        movdqu  %xmm5, 0x50(\ptr)
        movdqu  %xmm6, 0x60(\ptr)
        movdqu  %xmm7, 0x70(\ptr)
.endm

// ---------------------------------------------------------------------------
// int klfs_kl_aesencwide256kl(const uint8_t handle[64], uint8_t blocks[128])
// int klfs_kl_aesdecwide256kl(const uint8_t handle[64], uint8_t blocks[128])
//   rdi: handle (m512)   rsi: 8 blocks, in place   xmm0-7: the blocks
// ---------------------------------------------------------------------------
.macro  WIDE_FUNCTION name, insn
        .globl  \name
        .type   \name, @function
        .p2align 4
\name:
        LOAD_8_BLOCKS %rsi
        \insn   (%rdi)
        jz      1f
        STORE_8_BLOCKS %rsi
        xorl    %eax, %eax
        CLEAR_XMM 7
        ret
1:      movl    $-1, %eax               // KLFS_EHANDLE, blocks untouched
        CLEAR_XMM 7
        ret
        .size   \name, . - \name
.endm

        WIDE_FUNCTION klfs_kl_aesencwide256kl, aesencwide256kl
        WIDE_FUNCTION klfs_kl_aesdecwide256kl, aesdecwide256kl

// ---------------------------------------------------------------------------
// The XTS bulk step of the keylocker engine (a klfs_xts_cipher.crypt_blocks):
// int klfs_kl_xts_crypt_blocks(const void *handles, klfs_direction direction,
//                              const uint8_t *in, uint8_t *out, size_t blocks,
//                              uint8_t tweak[16])
// `handles` is keylocker.c's xts_handles; its first field points to the data
// key handle.
// Register roles:
//   rdi      on entry the xts_handles; then the data key handle, the m512
//            operand of every KL instruction
//   esi      direction on entry (0 encrypt, 1 decrypt)
//   rdx      input pointer, advances
//   rcx      output pointer, advances
//   r8       blocks left
//   r9       tweak in/out: the first tweak on entry, the next one on exit
//   eax      return value: KLFS_OK or KLFS_EHANDLE
//   xmm0-7   the 8 blocks of a wide step; outside it, xmm0 is the scratch
//            of the tweak doubling, xmm1 the carry mask, xmm2 the tail block
//   xmm8-15  the tweaks of those 8 blocks, T_i in xmm(8+i); in the tail
//            xmm8 is the tweak of the current block
// ---------------------------------------------------------------------------

        .section .rodata
        .p2align 4
// The per-dword carries of a GF(2^128) doubling, after PSHUFD 0x13 has moved
// bit 127's sign to dword 0 and bit 63's sign to dword 2: x^128 folds back
// as 0x87, bit 63 carries into bit 64.
.Ltweak_carry_mask:
        .long   0x87, 0, 1, 0
        .text

// \dst = \src * x in GF(2^128), IEEE 1619 little-endian order.
// xmm0 is scratch, xmm1 holds .Ltweak_carry_mask.
.macro  DOUBLE_TWEAK dst, src
        pshufd  $0x13, \src, %xmm0
        psrad   $31, %xmm0              // each dword: all ones if its source sign bit was set
        pand    %xmm1, %xmm0
        movdqa  \src, \dst
        paddq   \dst, \dst              // both 64-bit halves shifted left by 1
        pxor    %xmm0, \dst
.endm

// T1..T7 from T0, or the next T0..T7 from the last T7.
.macro  NEXT_7_TWEAKS
        DOUBLE_TWEAK %xmm9,  %xmm8
        DOUBLE_TWEAK %xmm10, %xmm9
        DOUBLE_TWEAK %xmm11, %xmm10
        DOUBLE_TWEAK %xmm12, %xmm11
        DOUBLE_TWEAK %xmm13, %xmm12
        DOUBLE_TWEAK %xmm14, %xmm13
        DOUBLE_TWEAK %xmm15, %xmm14
.endm

.macro  XOR_8_TWEAKS
        pxor    %xmm8,  %xmm0
        pxor    %xmm9,  %xmm1
        pxor    %xmm10, %xmm2
        pxor    %xmm11, %xmm3
        pxor    %xmm12, %xmm4
        pxor    %xmm13, %xmm5
        pxor    %xmm14, %xmm6
        pxor    %xmm15, %xmm7
.endm

// One direction of the bulk loop; encrypt and decrypt differ only in the
// two instructions.
.macro  XTS_BLOCKS label, wide_insn, one_insn
\label:
        movdqu  (%r9), %xmm8
        movdqa  .Ltweak_carry_mask(%rip), %xmm1
        NEXT_7_TWEAKS
        cmpq    $8, %r8
        jb      2f
1:      // 128 bytes per iteration: 8 blocks, one wide instruction.
        LOAD_8_BLOCKS %rdx
        XOR_8_TWEAKS
        \wide_insn (%rdi)
        jz      .Lxts_handle_refused
        XOR_8_TWEAKS
        STORE_8_BLOCKS %rcx
        movdqa  .Ltweak_carry_mask(%rip), %xmm1
        DOUBLE_TWEAK %xmm8, %xmm15
        NEXT_7_TWEAKS
        addq    $128, %rdx
        addq    $128, %rcx
        subq    $8, %r8
        cmpq    $8, %r8
        jae     1b
2:      // Fewer than 8 blocks left: one at a time through xmm2, tweak in xmm8.
        testq   %r8, %r8
        jz      .Lxts_done
3:      movdqu  (%rdx), %xmm2
        pxor    %xmm8, %xmm2
        \one_insn (%rdi), %xmm2
        jz      .Lxts_handle_refused
        pxor    %xmm8, %xmm2
        movdqu  %xmm2, (%rcx)
        DOUBLE_TWEAK %xmm8, %xmm8
        addq    $16, %rdx
        addq    $16, %rcx
        decq    %r8
        jnz     3b
        jmp     .Lxts_done
.endm

        .globl  klfs_kl_xts_crypt_blocks
        .type   klfs_kl_xts_crypt_blocks, @function
        .p2align 4
klfs_kl_xts_crypt_blocks:
        movq    (%rdi), %rdi            // xts_handles.data
        testl   %esi, %esi
        jnz     .Lxts_decrypt
        XTS_BLOCKS .Lxts_encrypt, aesencwide256kl, aesenc256kl
        XTS_BLOCKS .Lxts_decrypt, aesdecwide256kl, aesdec256kl
.Lxts_done:
        movdqu  %xmm8, (%r9)            // the tweak of the block after the last
        xorl    %eax, %eax
        CLEAR_XMM 15
        ret
.Lxts_handle_refused:
        movl    $-1, %eax               // KLFS_EHANDLE; the caller zeroes out
        CLEAR_XMM 15
        ret
        .size   klfs_kl_xts_crypt_blocks, . - klfs_kl_xts_crypt_blocks

        .section .note.GNU-stack,"",@progbits
