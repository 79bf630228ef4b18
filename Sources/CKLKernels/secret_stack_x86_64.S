// int klfs_call_on_stack(int (*body)(void *), void *argument, void *stack_top)
//   rdi: body   rsi: its argument   rdx: top of the stack to run it on,
//   16-byte aligned (secret_stack.c)   eax: body's result, passed through
//   rbp: the caller's stack pointer while body runs (callee-saved, so body
//   gives it back); rax: body, once rdi carries the argument
// Returns when body does, on the caller's stack. The CFI names rbp as the
// frame base so that debuggers and unwinders walk back across the switch.

        .text
        .globl  klfs_call_on_stack
        .type   klfs_call_on_stack, @function
        .p2align 4
klfs_call_on_stack:
        .cfi_startproc
        endbr64
        pushq   %rbp
        .cfi_def_cfa_offset 16
        .cfi_offset %rbp, -16
        movq    %rsp, %rbp
        .cfi_def_cfa_register %rbp
        movq    %rdx, %rsp
        movq    %rdi, %rax
        movq    %rsi, %rdi
        callq   *%rax
        movq    %rbp, %rsp
        .cfi_def_cfa_register %rsp
        popq    %rbp
        .cfi_def_cfa_offset 8
        retq
        .cfi_endproc
        .size   klfs_call_on_stack, . - klfs_call_on_stack

        .section .note.GNU-stack, "", @progbits
