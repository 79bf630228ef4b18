// Probes for the emulator tests: each Key Locker instruction in every
// encoding the emulator decodes. A probe is
//     void probe(klfs_probe_state *state, const uint8_t *handle)
// and runs: copy the handle to the stack (and, for RIP-relative forms, to
// .Lrip_handle), push state->rflags_in, load XMM0-15 from the state, the
// form's setup (pointing its base/index registers at the handle), POPFQ, the
// instruction, PUSHFQ, then save RFLAGS, the ENCODEKEY destination and
// XMM0-15 to the state. Each probe also adds a klfs_probe_form entry to the
// table between klfs_probe_forms_start and klfs_probe_forms_end.
//
// Register roles inside a probe:
//   rbp        frame pointer; -48(%rbp) holds the state pointer
//   rsp        at the instruction, (%rsp) is the handle's 64-byte stack copy
//   rdi, rsi   state and handle on entry; free once XMM0-15 are loaded
//   others     whatever the form's setup puts there (base, index, the
//              ENCODEKEY source and destination)
//   xmm0-15    the state's registers

// klfs_probe_state offsets (assembler symbols: the setup strings use them).
        .set    STATE_XMM, 0
        .set    STATE_RFLAGS_IN, 256
        .set    STATE_RFLAGS_OUT, 264
        .set    STATE_SOURCE, 272
        .set    STATE_DESTINATION, 280

// During the setup, 8(%rsp) is the handle copy (RFLAGS is on top).
        .set    HANDLE_IN_SETUP, 8

        .section .data.rel.ro.klfs_probe_forms, "aw"
        .p2align 3
        .globl  klfs_probe_forms_start
klfs_probe_forms_start:

        .bss
        .p2align 4
.Lrip_handle:
        .zero   64

        .text

.macro  XMM_STATE op, first, last
.irp    i, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
.ifc \op, load
        movdqu  STATE_XMM + 16 * \i(%rdi), %xmm\i
.else
        movdqu  %xmm\i, STATE_XMM + 16 * \i(%rdi)
.endif
.endr
.endm

// One probe and its table entry. `setup` and `instruction` are assembly
// text (statements separated by ';'); `result` is what lands in
// state->destination ($0 when the instruction has no r32 result).
.macro  PROBE label, name, kind, xmm_destination, setup, instruction, result, rip_copy
        .pushsection .rodata.str1.1, "aMS", @progbits, 1
.L\label\()_name:
        .asciz  "\name"
        .popsection
        .pushsection .data.rel.ro.klfs_probe_forms, "aw"
        .quad   .L\label\()_name, \label
        .long   \kind, \xmm_destination
        .popsection

        .type   \label, @function
        .p2align 4
\label:
        push    %rbp
        mov     %rsp, %rbp
        push    %rbx
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        push    %rdi
        sub     $64, %rsp
        movdqu  0x00(%rsi), %xmm0
        movdqu  0x10(%rsi), %xmm1
        movdqu  0x20(%rsi), %xmm2
        movdqu  0x30(%rsi), %xmm3
        movdqu  %xmm0, 0x00(%rsp)
        movdqu  %xmm1, 0x10(%rsp)
        movdqu  %xmm2, 0x20(%rsp)
        movdqu  %xmm3, 0x30(%rsp)
.if \rip_copy
        movdqu  %xmm0, .Lrip_handle + 0x00(%rip)
        movdqu  %xmm1, .Lrip_handle + 0x10(%rip)
        movdqu  %xmm2, .Lrip_handle + 0x20(%rip)
        movdqu  %xmm3, .Lrip_handle + 0x30(%rip)
.endif
        pushq   STATE_RFLAGS_IN(%rdi)
        XMM_STATE load
        \setup
        popfq
        \instruction
        pushfq
        pushq   \result
        mov     -48(%rbp), %rdi
        popq    STATE_DESTINATION(%rdi)
        popq    STATE_RFLAGS_OUT(%rdi)
        XMM_STATE store
        lea     -40(%rbp), %rsp
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %rbx
        pop     %rbp
        ret
        .size   \label, . - \label
.endm

// ENCODEKEY with source and destination registers; the source gets
// state->source (all 64 bits: the instruction must use only the low 32),
// the destination all ones (its upper half must come back zero).
.macro  ENCODEKEY_FORM insn, kind, form, source, destination
        PROBE   probe_\insn\()_\form, "\insn \form", \kind, 0, \
                "mov STATE_SOURCE(%rdi), %\source; mov $-1, %\destination", \
                "\insn %\source\()d, %\destination\()d", %\destination, 0
.endm

// Every ENCODEKEY register form: no REX, REX.R, REX.B, both, and one
// register as source and destination. ENCODEKEY_FORM builds r32 names with
// the "d" suffix, which only r8-r15 have; the others are spelled out.
.macro  ENCODEKEY_FORMS insn, kind
        PROBE   probe_\insn\()_no_rex, "\insn no_rex", \kind, 0, \
                "mov STATE_SOURCE(%rdi), %rcx; mov $-1, %rdx", \
                "\insn %ecx, %edx", %rdx, 0
        PROBE   probe_\insn\()_rex_r_destination, "\insn rex_r_destination", \kind, 0, \
                "mov STATE_SOURCE(%rdi), %rax; mov $-1, %r11", \
                "\insn %eax, %r11d", %r11, 0
        PROBE   probe_\insn\()_rex_b_source, "\insn rex_b_source", \kind, 0, \
                "mov STATE_SOURCE(%rdi), %r15; mov $-1, %rbx", \
                "\insn %r15d, %ebx", %rbx, 0
        ENCODEKEY_FORM \insn, \kind, rex_rb_r9_r14, r9, r14
        ENCODEKEY_FORM \insn, \kind, rex_rb_r8_r12, r8, r12
        PROBE   probe_\insn\()_same_register, "\insn same_register", \kind, 0, \
                "mov STATE_SOURCE(%rdi), %rsi", \
                "\insn %esi, %esi", %rsi, 0
.endm

// One memory form of an AES*KL instruction: `mem` is the operand, `dest`
// the XMM register of the one-block forms (unused by the wide ones).
.macro  AES_FORM insn, kind, wide, form, dest, setup, mem, rip_copy=0
.if \wide
        PROBE   probe_\insn\()_\form, "\insn \form", \kind, 0, "\setup", "\insn \mem", $0, \rip_copy
.else
        PROBE   probe_\insn\()_\form, "\insn \form", \kind, \dest, "\setup", "\insn \mem, %xmm\dest", $0, \rip_copy
.endif
.endm

// Every memory form for one AES*KL instruction. `opcode` and `reg_field`
// spell the raw encoding of the form the assembler never emits.
.macro  AES_FORMS insn, kind, wide, opcode, reg_field
        AES_FORM \insn, \kind, \wide, no_rex, 2, \
                "lea HANDLE_IN_SETUP(%rsp), %rax", "(%rax)"
        AES_FORM \insn, \kind, \wide, rex_r_xmm9, 9, \
                "lea HANDLE_IN_SETUP(%rsp), %rsi", "(%rsi)"
        AES_FORM \insn, \kind, \wide, rex_r_xmm15, 15, \
                "lea HANDLE_IN_SETUP(%rsp), %rbx", "(%rbx)"
        AES_FORM \insn, \kind, \wide, rex_b_r11, 1, \
                "lea HANDLE_IN_SETUP(%rsp), %r11", "(%r11)"
        AES_FORM \insn, \kind, \wide, rex_b_r12_sib, 3, \
                "lea HANDLE_IN_SETUP(%rsp), %r12", "(%r12)"
        AES_FORM \insn, \kind, \wide, rex_b_r13_disp8, 4, \
                "lea HANDLE_IN_SETUP(%rsp), %r13", "(%r13)"
        AES_FORM \insn, \kind, \wide, rsp_sib_no_index, 5, \
                "", "(%rsp)"
.irp    scale, 1, 2, 4, 8
        AES_FORM \insn, \kind, \wide, sib_scale_\scale, 6, \
                "mov $3, %rcx; lea HANDLE_IN_SETUP - 3 * \scale(%rsp), %rbx", \
                "(%rbx,%rcx,\scale)"
.endr
        AES_FORM \insn, \kind, \wide, rex_x_index_r10, 7, \
                "mov $5, %r10; lea HANDLE_IN_SETUP - 40(%rsp), %rdx", "(%rdx,%r10,8)"
        AES_FORM \insn, \kind, \wide, rex_x_index_r12, 8, \
                "mov $2, %r12; lea HANDLE_IN_SETUP - 8(%rsp), %rax", "(%rax,%r12,4)"
        AES_FORM \insn, \kind, \wide, disp8_negative, 10, \
                "lea HANDLE_IN_SETUP + 0x70(%rsp), %rcx", "-0x70(%rcx)"
        AES_FORM \insn, \kind, \wide, disp32, 11, \
                "lea HANDLE_IN_SETUP - 0x12345(%rsp), %rdx", "0x12345(%rdx)"
        AES_FORM \insn, \kind, \wide, rex_bx_negative_index_disp32, 12, \
                "mov $-2, %r9; lea HANDLE_IN_SETUP + 0x4000(%rsp), %r15", \
                "-0x4000 + 16(%r15,%r9,8)"
        AES_FORM \insn, \kind, \wide, rip_relative, 0, \
                "", ".Lrip_handle(%rip)", 1
        AES_FORM \insn, \kind, \wide, sib_no_base_disp32, 13, \
                "lea HANDLE_IN_SETUP - 0x1000(%rsp), %rcx; shr $1, %rcx", \
                "0x1000(,%rcx,2)"
        // mod 00, SIB base 101: no base even under REX.B (r13 would be the
        // base with mod 01/10), so r13 holds garbage here.
        PROBE   probe_\insn\()_sib_no_base_rex_b, "\insn sib_no_base_rex_b", \kind, 2, \
                "lea HANDLE_IN_SETUP - 0x20(%rsp), %rcx; mov $0x5a5a5a5a5a5a, %r13", \
                ".byte 0xF3, 0x41, 0x0F, 0x38, \opcode, (\reg_field << 3) | 4, 0x0D, 0x20, 0, 0, 0", \
                $0, 0
.endm

        ENCODEKEY_FORMS encodekey128, 0
        ENCODEKEY_FORMS encodekey256, 1
        AES_FORMS aesenc128kl, 2, 0, 0xDC, 2
        AES_FORMS aesdec128kl, 3, 0, 0xDD, 2
        AES_FORMS aesenc256kl, 4, 0, 0xDE, 2
        AES_FORMS aesdec256kl, 5, 0, 0xDF, 2
        AES_FORMS aesencwide128kl, 6, 1, 0xD8, 0
        AES_FORMS aesdecwide128kl, 7, 1, 0xD8, 1
        AES_FORMS aesencwide256kl, 8, 1, 0xD8, 2
        AES_FORMS aesdecwide256kl, 9, 1, 0xD8, 3

        .section .data.rel.ro.klfs_probe_forms, "aw"
        .globl  klfs_probe_forms_end
klfs_probe_forms_end:

        .section .note.GNU-stack,"",@progbits
