/*
 * switch_aarch64.S - the coroutine context switch for AArch64 (aio layer).
 *
 *   void cc__switch(void **save_sp, void *load_sp);
 *
 * Saves the callee-saved registers x19-x30 and d8-d15 and the FPCR in a
 * 176-byte frame on the current stack, stores sp in *save_sp, switches to
 * load_sp and restores the same frame.  A new coroutine's frame (made by
 * cc__stack_prepare) has lr = cc__task_trampoline, x19 = the task and
 * x20 = its entry function.
 */
    .text
    .globl  cc__switch
    .hidden cc__switch
    .type   cc__switch, %function
cc__switch:
    sub     sp, sp, #176
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mrs     x9, fpcr
    str     x9, [sp, #160]
    mov     x9, sp
    str     x9, [x0]
    mov     sp, x1
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    ldr     x9, [sp, #160]
    msr     fpcr, x9
    add     sp, sp, #176
    ret
    .size   cc__switch, .-cc__switch

    .globl  cc__task_trampoline
    .hidden cc__task_trampoline
    .type   cc__task_trampoline, %function
cc__task_trampoline:
    mov     x0, x19
    blr     x20
    brk     #0
    .size   cc__task_trampoline, .-cc__task_trampoline

    .section .note.GNU-stack,"",%progbits
