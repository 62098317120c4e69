/*
 * switch_x86_64.S - the coroutine context switch for x86_64 SysV (aio layer).
 *
 *   void cc__switch(void **save_sp, void *load_sp);
 *
 * Pushes the callee-saved registers (rbp, rbx, r12-r15) and the floating-
 * point control state (MXCSR, x87 control word) on the current stack, stores
 * the stack pointer in *save_sp, switches to load_sp and pops the same frame
 * from there.  Everything else is caller-saved, so the C compiler has
 * already spilled it.  A new coroutine's stack is prepared by
 * cc__stack_prepare (stack.c) so that the first switch "returns" into
 * cc__task_trampoline with the task in r12 and its entry function in rbx.
 */
    .text
    .globl  cc__switch
    .hidden cc__switch
    .type   cc__switch, @function
cc__switch:
    .cfi_startproc
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    subq    $8, %rsp
    stmxcsr (%rsp)
    fnstcw  4(%rsp)
    movq    %rsp, (%rdi)
    movq    %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    addq    $8, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret
    .cfi_endproc
    .size   cc__switch, .-cc__switch

/* First code a new coroutine runs: entry(task), which never returns. */
    .globl  cc__task_trampoline
    .hidden cc__task_trampoline
    .type   cc__task_trampoline, @function
cc__task_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    movq    %r12, %rdi
    callq   *%rbx
    ud2
    .cfi_endproc
    .size   cc__task_trampoline, .-cc__task_trampoline

    .section .note.GNU-stack,"",@progbits
