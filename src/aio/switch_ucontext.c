/*
 * switch_ucontext.c - the portable context switch, on ucontext (aio layer).
 *
 * Built instead of the assembly switch when configured with
 * -DCONCUR_UCONTEXT=ON (for other architectures, and exercised in CI so it
 * keeps working).  A "stack pointer" here is a pointer to a ucontext_t: a
 * task's initial one is made by cc__ucontext_prepare at the top of its
 * stack; a running context saves itself into a ucontext_t on its own stack
 * inside cc__switch, which stays valid while that context is switched out.
 * swapcontext also saves and restores the signal mask (a system call), which
 * is why this is ~25x slower than the assembly switch.
 */
#include <stdint.h>
#include <stdlib.h>
#include <ucontext.h>

#include "aio/task.h"

void cc__switch(void **save_sp, void *load_sp)
{
    ucontext_t here;

    *save_sp = &here;
    swapcontext(&here, (ucontext_t *)load_sp);
}

static void uc_entry(unsigned hi, unsigned lo, unsigned ehi, unsigned elo)
{
    cc__task *t = (cc__task *)(((uintptr_t)hi << 32) | lo);
    void (*entry)(cc__task *) =
        (void (*)(cc__task *))(((uintptr_t)ehi << 32) | elo);

    entry(t);
    abort(); /* entry never returns */
}

void *cc__ucontext_prepare(cc__stack *s, void *top, cc__task *t,
                           void (*entry)(cc__task *))
{
    /* the context record goes right below the task record */
    uintptr_t at = ((uintptr_t)top - sizeof(ucontext_t)) & ~(uintptr_t)63;
    ucontext_t *uc = (ucontext_t *)at;
    uintptr_t tp = (uintptr_t)t;
    uintptr_t ep = (uintptr_t)entry;

    getcontext(uc);
    uc->uc_stack.ss_sp = s->base;
    uc->uc_stack.ss_size = at - (uintptr_t)s->base;
    uc->uc_link = NULL;
    makecontext(uc, (void (*)(void))uc_entry, 4, (unsigned)(tp >> 32),
                (unsigned)tp, (unsigned)(ep >> 32), (unsigned)ep);
    return uc;
}
