/*
 * stack.c - coroutine stacks: guarded, committed lazily, recycled (aio
 * layer).
 *
 * Default-size stacks are carved from large regions, one guard page below
 * each.  A region is only reserved (PROT_NONE, MAP_NORESERVE: no memory,
 * no commit charge) and made read-write COMMIT_BYTES at a time as its
 * slots are handed out: with vm.overcommit_memory=2, where MAP_NORESERVE
 * is ignored and every writable private page is charged, a region that
 * was read-write at once charged its whole 272 MiB.  The read-write part
 * grows from the region's start, so it stays one mapping.  A region that
 * cannot be mapped (RLIMIT_AS, a full address space) is tried again at
 * half the size, down to one slot; after a region that had to shrink,
 * the next one tries twice its size again.  The guard is installed with
 * madvise(MADV_GUARD_INSTALL) (Linux >= 6.13), which does not split the
 * mapping: 200,000 guarded stacks stay a handful of lines in /proc/self/maps.
 * Without it the guard is an mprotect(PROT_NONE) page, which splits the
 * mapping in two; vm.max_map_count (65530 by default) allows ~32k of those,
 * so past CC__MPROTECT_GUARDS_MAX stacks fall back to a canary word checked
 * when the task switches out and ends.  Memory is only committed when
 * touched, so a task that sleeps costs the pages it actually used.
 *
 * Freed stacks go to a per-thread pool (no lock, pages stay resident for
 * the next task).  When the loop has nothing to do, the pool is trimmed
 * down to POOL_KEEP: the extra stacks give their pages back
 * (MADV_DONTNEED) and go to a global list of spares kept outside the
 * stacks, so a released stack is not touched again until reused.
 * Releasing at idle time rather than on every task's end keeps a madvise
 * and a TLB flush out of bursts of short tasks (measured: 100,000 tasks
 * that each sleep 10 ms went from 0.58 s to ~0.4 s).
 *
 * Sizes.  The first CLASSES sizes asked for (the default one first, then
 * e.g. a server's handlers' 256 KiB) each get regions, pools and spares
 * of their own: a class's regions are REGION_BYTES however large its
 * stacks.  A stack of yet another size gets a mapping of its own,
 * unmapped when its task ends.  A SIGSEGV in the guard page of the running task is
 * reported with the task's name and spawn site before the default action
 * (a core dump) takes over.
 *
 * Under AddressSanitizer every stack is a LeakSanitizer root region: a
 * suspended task's stack is memory LeakSanitizer knows nothing of, and an
 * object only that stack points to was reported as leaked while the task
 * slept.  A slot is registered when it is first carved and stays so (it
 * is never unmapped); the guard page is left out, since a guard installed
 * by madvise leaves no trace in /proc/self/maps for the scan to avoid.
 * (Stale pointers in a pooled stack may then hide a leak; a trimmed
 * stack's pages are zero.)
 *
 * Under valgrind (a CONCUR_VALGRIND build, internal/vg.h) a stack is
 * registered with memcheck from cc__stack_get to cc__stack_put: unregistered,
 * every switch looked like a wild stack-pointer move, and memcheck marked
 * nearby heap as dead stack (invalid reads, and a future slab reported
 * "definitely lost" although the free list held all of it).  The alternate
 * signal stack needs nothing: valgrind sees sigaltstack itself.
 *
 * Across fork() (fork hooks, internal/atfork.h) region_mu and handler_mu
 * are held by the forking thread, so a child inherits consistent region
 * state and spares; the per-thread pools of the other threads are simply
 * lost to it.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#if defined(CONCUR_ASAN)
#include <sanitizer/lsan_interface.h>
#endif

#include "aio/task.h"
#include "internal/aio.h"
#include "internal/atfork.h"
#include "internal/mutex.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define DEFAULT_STACK (64u * 1024)       /* usable bytes of a default stack */
/* A region: 4,096 default stacks and their guard pages (272 MiB). */
#define REGION_BYTES ((size_t)4096 * (DEFAULT_STACK + 4096))
#define COMMIT_BYTES (4u * 1024 * 1024)  /* made read-write at a time */
#define CLASSES 4                        /* sizes carved from regions */
#define POOL_KEEP 256                    /* stacks a thread keeps resident,
                                            per class */
#define TRIM_BATCH 64                    /* stacks released per idle moment */
#define CC__MPROTECT_GUARDS_MAX 30000    /* leaves room under max_map_count */
#define CANARY 0x63616e6172793e3eULL     /* "canary>>" */

_Atomic bool cc__stack_debug; /* see cc_set_debug_stacks */

static size_t page_size;
static size_t default_size = DEFAULT_STACK;
static _Atomic int guard_mode;           /* 0 unknown, else CC__GUARD_* */
static _Atomic long mprotect_guards;
/* This process's pidfd for process_madvise, opened on first use.  A child
 * made by fork() inherits the parent's: cc__stack_fork_child drops it (the
 * kernel refuses guard advice for another process, so the child would lose
 * the batched installation otherwise). */
static _Atomic int madvise_pidfd = -1;

/* guards every class's region state and spares, and class creation */
static cc__mutex region_mu = CC__MUTEX_INIT;

/* A stack given back to the system (pages released, address range and
 * guard kept), listed out of band so that it is never touched again until
 * reused. */
typedef struct spare {
    char *base;
    uint8_t guard;
} spare;

/*
 * The stacks of one size.  `size` and `region_max` are written once, under
 * region_mu, before `nclasses` publishes the class (release; readers
 * acquire it); everything else is guarded by region_mu.
 */
typedef struct stack_class {
    size_t size;            /* usable bytes of each stack */
    size_t region_max;      /* slots of a full region (REGION_BYTES) */
    size_t region_try;      /* slots the next region tries */
    char *next;             /* the next never-used slot (its guard page) */
    size_t left;            /* never-used slots left in the region */
    size_t ready;           /* of those, read-write already */
    bool guarded;           /* their guards are installed */
    spare *spares;          /* released stacks, reused first */
    size_t nspares;
    size_t spares_cap;
} stack_class;

static stack_class classes[CLASSES];
static _Atomic unsigned nclasses;        /* classes in use; only grows */

/* A free stack's bookkeeping lives in its top 64 bytes, on the page the
 * task record used: storing it at the base would touch (and commit) a page
 * the task may never have used. */
typedef struct free_stack {
    char *next;      /* the next free stack's base */
    uint8_t guard;   /* the guard kind installed for this slot */
} free_stack;

/* A thread's free stacks of one class (no lock: its own). */
typedef struct stack_pool {
    char *head;
    unsigned len;
} stack_pool;

static __thread stack_pool pools[CLASSES];

static void release(stack_class *c, char *base, uint8_t guard);

static free_stack *node_of(char *base, size_t size)
{
    return (free_stack *)(void *)(base + size - 64);
}

/* Set up class c for stacks of `size` bytes; region_mu held (or, for the
 * default class, before any other thread can see the classes). */
static void class_init(stack_class *c, size_t size)
{
    size_t slot = page_size + size;

    c->size = size;
    c->region_max = REGION_BYTES / slot > 0 ? REGION_BYTES / slot : 1;
    c->region_try = c->region_max;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void stack_init(void)
{
    const char *env = getenv("CONCUR_STACK_SIZE");

    page_size = (size_t)sysconf(_SC_PAGESIZE);
    if (env != NULL) {
        long v = atol(env);

        if (v >= 16 * 1024)
            default_size = ((size_t)v + page_size - 1) & ~(page_size - 1);
    }
    class_init(&classes[0], default_size); /* class 0: the default size */
    atomic_store_explicit(&nclasses, 1, memory_order_release);
    CC__VG_RELEASE(&init_once);
}

/*
 * The class of stacks of `size` bytes, made on first use.  NULL once
 * CLASSES other sizes have one: such a stack gets a mapping of its own.
 */
static stack_class *class_of(size_t size)
{
    unsigned n = atomic_load_explicit(&nclasses, memory_order_acquire);
    stack_class *found = NULL;

    for (unsigned i = 0; i < n; i++)
        if (classes[i].size == size)
            return &classes[i];
    cc__mutex_lock(&region_mu);
    n = atomic_load_explicit(&nclasses, memory_order_relaxed);
    for (unsigned i = 0; i < n && found == NULL; i++)
        if (classes[i].size == size)
            found = &classes[i];
    if (found == NULL && n < CLASSES) {
        found = &classes[n];
        class_init(found, size);
        atomic_store_explicit(&nclasses, n + 1, memory_order_release);
    }
    cc__mutex_unlock(&region_mu);
    return found;
}

size_t cc__stack_default_size(void)
{
    pthread_once(&init_once, stack_init);
    CC__VG_ONCE_DONE(&init_once);
    return default_size;
}

/*
 * Install the guards of a batch of new slots at once: process_madvise
 * takes up to 1024 ranges per call, so 4096 stacks cost 4 system calls
 * instead of 4096 (measured 0.42 against 0.73 us per stack).  Returns
 * true when every guard of the batch is in place.
 */
static bool guard_region(char *region, size_t slots, size_t slot)
{
    struct iovec iov[1024];
    int fd = atomic_load(&madvise_pidfd);

    if (atomic_load(&guard_mode) == CC__GUARD_MPROTECT)
        return false;
    if (fd < 0) {
        int mine = (int)syscall(SYS_pidfd_open, getpid(), 0);
        int none = -1;

        if (mine < 0)
            return false;
        if (!atomic_compare_exchange_strong(&madvise_pidfd, &none, mine))
            close(mine); /* another thread opened one first */
        fd = atomic_load(&madvise_pidfd);
    }
    for (size_t done = 0; done < slots;) {
        size_t n = slots - done < 1024 ? slots - done : 1024;
        size_t want = n * page_size;

        for (size_t i = 0; i < n; i++) {
            iov[i].iov_base = region + (done + i) * slot;
            iov[i].iov_len = page_size;
        }
        if (syscall(SYS_process_madvise, fd, iov, n, MADV_GUARD_INSTALL, 0) !=
            (long)want)
            return false; /* unsupported: fall back to one at a time */
        done += n;
    }
    atomic_store(&guard_mode, CC__GUARD_MADVISE);
    return true;
}

/* Protect the page below base; returns the guard kind in effect. */
static uint8_t install_guard(char *base)
{
    char *guard = base - page_size;
    int mode = atomic_load_explicit(&guard_mode, memory_order_relaxed);

    if (mode == 0 || mode == CC__GUARD_MADVISE) {
        if (madvise(guard, page_size, MADV_GUARD_INSTALL) == 0) {
            atomic_store(&guard_mode, CC__GUARD_MADVISE);
            return CC__GUARD_MADVISE;
        }
        atomic_store(&guard_mode, CC__GUARD_MPROTECT);
        if (cc__debug())
            cc__debugf("stacks: MADV_GUARD_INSTALL unsupported (%s); guard "
                       "pages use mprotect", strerror(errno));
    }
    if (atomic_fetch_add(&mprotect_guards, 1) < CC__MPROTECT_GUARDS_MAX &&
        mprotect(guard, page_size, PROT_NONE) == 0)
        return CC__GUARD_MPROTECT;
    atomic_fetch_sub(&mprotect_guards, 1);
    if (cc__debug())
        cc__debugf("stacks: out of mappings for guard pages; this stack "
                   "uses a canary");
    *(uint64_t *)(void *)base = CANARY;
    return CC__GUARD_CANARY;
}

/*
 * Reserve a new region for c; region_mu held.  Tries c->region_try slots,
 * halving down to one while the mapping fails (ENOMEM: RLIMIT_AS or no
 * room).  The next region tries twice what this one got, up to a full
 * region, so one failure does not shrink every region after it.  False
 * when not even one slot can be reserved.
 */
static bool region_new_locked(stack_class *c)
{
    size_t slot = page_size + c->size;
    size_t n = c->region_try;
    char *r;

    CC__ASSERT(cc__mutex_owned(&region_mu));
    for (;;) {
        r = mmap(NULL, slot * n, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (r != MAP_FAILED)
            break;
        if (n == 1)
            return false;
        n /= 2;
    }
    if (n < c->region_try && cc__debug())
        cc__debugf("stacks: a region of %zu stacks of %zu KiB could not be "
                   "mapped; using %zu", c->region_try, c->size / 1024, n);

    c->next = r;
    c->left = n;
    c->ready = 0;
    c->region_try = n * 2 < c->region_max ? n * 2 : c->region_max;
    return true;
}

/*
 * Make the next slots of c's region read-write (COMMIT_BYTES' worth, fewer
 * when the system refuses that much: vm.overcommit_memory=2 charges them
 * now) and install their guards; region_mu held.  False when not even one
 * slot can be committed.
 */
static bool region_commit_locked(stack_class *c)
{
    size_t slot = page_size + c->size;
    size_t n = COMMIT_BYTES / slot;

    CC__ASSERT(cc__mutex_owned(&region_mu));
    if (n == 0)
        n = 1;
    if (n > c->left)
        n = c->left;
    while (mprotect(c->next, n * slot, PROT_READ | PROT_WRITE) != 0) {
        if (n == 1)
            return false;
        n /= 2;
    }
    c->ready = n;
    c->guarded = guard_region(c->next, n, slot);
    return true;
}

/* A never-used slot of class c; region_mu held.  Returns the stack base,
 * or NULL when no region or no memory can be had; *guarded tells whether
 * its guard is in place. */
static char *slot_get_locked(stack_class *c, bool *guarded)
{
    char *base;

    CC__ASSERT(cc__mutex_owned(&region_mu));
    if (c->left == 0 && !region_new_locked(c))
        return NULL;
    if (c->ready == 0 && !region_commit_locked(c))
        return NULL;
    base = c->next + page_size;
    c->next += page_size + c->size;
    c->left--;
    c->ready--;
    *guarded = c->guarded;
#if defined(CONCUR_ASAN)
    __lsan_register_root_region(base, c->size); /* the slot's, for good */
#endif
    return base;
}

/* Take a stack of c whose guard is already in place. */
static void reuse(stack_class *c, char *base, uint8_t guard, cc__stack *out)
{
    out->base = base;
    out->size = c->size;
    out->cls = (int8_t)(c - classes);
    out->guard = guard;
    if (guard == CC__GUARD_CANARY)
        *(uint64_t *)(void *)base = CANARY;
}

/* A stack of class c: the thread's pool, a spare, or a new slot.  0 or
 * ENOMEM. */
static int class_get(stack_class *c, cc__stack *out)
{
    stack_pool *pool = &pools[c - classes];
    bool guarded = false;
    char *base;

    if (pool->head != NULL) {
        free_stack *node = node_of(pool->head, c->size);

        base = pool->head;
        pool->head = node->next;
        pool->len--;
        reuse(c, base, node->guard, out);
        return 0;
    }
    cc__mutex_lock(&region_mu);
    if (c->nspares > 0) {
        spare sp = c->spares[--c->nspares];

        cc__mutex_unlock(&region_mu);
        reuse(c, sp.base, sp.guard, out);
        return 0;
    }
    base = slot_get_locked(c, &guarded);
    cc__mutex_unlock(&region_mu);
    if (base == NULL)
        return ENOMEM;
    out->base = base;
    out->size = c->size;
    out->cls = (int8_t)(c - classes);
    out->guard = guarded ? CC__GUARD_MADVISE : install_guard(base);
    return 0;
}

/* A stack of a size no class holds: a mapping of its own.  0 or ENOMEM. */
static int own_get(size_t size, cc__stack *out)
{
    char *m = mmap(NULL, size + page_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (m == MAP_FAILED)
        return ENOMEM;
    out->base = m + page_size;
    out->size = size;
    out->cls = -1;
    out->guard = install_guard(out->base);
#if defined(CONCUR_ASAN)
    __lsan_register_root_region(out->base, size);
#endif
    return 0;
}

int cc__stack_get(size_t size, cc__stack *out)
{
    stack_class *c;
    int rc;

    pthread_once(&init_once, stack_init);
    CC__VG_ONCE_DONE(&init_once);
    if (size == 0)
        size = default_size;
    if (size > SIZE_MAX / 2)
        return ENOMEM; /* no such mapping, and rounding it would wrap */
    size = (size + page_size - 1) & ~(page_size - 1);
    if (size < 4 * page_size)
        size = 4 * page_size;
    c = size == default_size ? &classes[0] : class_of(size);
    rc = c != NULL ? class_get(c, out) : own_get(size, out);
#if CC__VG_ON
    /* valgrind: this range is a stack until cc__stack_put (internal/vg.h) */
    if (rc == 0)
        out->vg_id = CC__VG_STACK_REGISTER(out->base, out->base + out->size);
#endif
    return rc;
}

void cc__stack_put(cc__stack *stack)
{
    cc__stack s = *stack; /* *stack may live in the memory given back */
    free_stack *node = node_of(s.base, s.size);
    stack_pool *pool;

#if CC__VG_ON
    CC__VG_STACK_DEREGISTER(s.vg_id);
#endif
    if (s.cls < 0) {
#if defined(CONCUR_ASAN)
        __lsan_unregister_root_region(s.base, s.size);
#endif
        munmap(s.base - page_size, s.size + page_size);
        return;
    }
    if (atomic_load_explicit(&cc__stack_debug, memory_order_relaxed)) {
        release(&classes[s.cls], s.base, s.guard); /* debugging: afresh */
        return;
    }
    pool = &pools[s.cls];
    node->next = pool->head;
    node->guard = s.guard;
    pool->head = s.base;
    pool->len++;
}

void cc__stack_trim(void)
{
    unsigned n = atomic_load_explicit(&nclasses, memory_order_acquire);
    unsigned done = 0;

    for (unsigned i = 0; i < n; i++) {
        stack_pool *pool = &pools[i];

        for (; done < TRIM_BATCH && pool->len > POOL_KEEP; done++) {
            char *base = pool->head;
            free_stack *node = node_of(base, classes[i].size);

            pool->head = node->next;
            pool->len--;
            release(&classes[i], base, node->guard);
        }
    }
}

bool cc__stack_trim_pending(void)
{
    for (unsigned i = 0; i < CLASSES; i++)
        if (pools[i].len > POOL_KEEP)
            return true;
    return false;
}

/* Give a pooled stack's pages back and list it as a spare of c. */
static void release(stack_class *c, char *base, uint8_t guard)
{
    madvise(base, c->size, MADV_DONTNEED);
    cc__mutex_lock(&region_mu);
    if (c->nspares == c->spares_cap) {
        size_t cap = c->spares_cap ? c->spares_cap * 2 : 1024;
        spare *v = realloc(c->spares, cap * sizeof(*v));

        if (v == NULL) { /* cannot list it: lose the address range */
            cc__mutex_unlock(&region_mu);
            return;
        }
        c->spares = v;
        c->spares_cap = cap;
    }
    c->spares[c->nspares].base = base;
    c->spares[c->nspares].guard = guard;
    c->nspares++;
    cc__mutex_unlock(&region_mu);
}

size_t cc__stack_peak(const cc__stack *s)
{
    size_t pages = s->size / page_size;
    unsigned char *vec = malloc(pages);
    size_t resident = 0;

    if (vec == NULL || mincore(s->base, s->size, vec) != 0) {
        free(vec);
        return 0;
    }
    for (size_t i = 0; i < pages; i++)
        resident += vec[i] & 1;
    free(vec);
    return resident * page_size;
}

bool cc__stack_canary_ok(const cc__stack *s)
{
    return s->guard != CC__GUARD_CANARY ||
           *(const uint64_t *)(const void *)s->base == CANARY;
}

/* ------------------------------------------------------ stack overflows */

static struct sigaction previous_segv;
static struct sigaction previous_bus;
static cc__mutex handler_mu = CC__MUTEX_INIT; /* guards the two above */
static __thread bool altstack_set;
/* Where on_fault's frame was while it called the previous handler in this
 * thread (NULL otherwise).  A previous handler that chains back to us (it
 * saved ours, and ours was re-armed in front of it since) enters on_fault
 * again on a deeper frame, close below that one: then the default action
 * ends the fault instead of sending it round forever.  A stale value left
 * by a handler that longjmp'd out is not mistaken for that: the next
 * fault's frame starts at the same depth, not below it. */
#define CHAIN_DEPTH_MAX (64 * 1024)
static __thread char *volatile chaining_frame
    __attribute__((tls_model("initial-exec")));

/* The alternate stack a thread got from us (not one it had), given back by
 * the key's destructor when the thread ends: malloc'd here, so nothing else
 * would free it (valgrind counted 64 KiB definitely lost per thread that
 * had run a loop).  The main thread's stays until the process exits. */
#define ALTSTACK_SIZE (64u * 1024)
static pthread_key_t altstack_key;
static pthread_once_t altstack_once = PTHREAD_ONCE_INIT;
static bool altstack_key_ok;

/* The key's destructor, as the thread ends: stop using the stack, then
 * free it.  Left alone (leaked, not freed under a running handler) if it is
 * no longer the thread's alternate stack or a handler is on it. */
static void altstack_free(void *mem)
{
    stack_t now;
    stack_t off;

    altstack_set = false;
    if (sigaltstack(NULL, &now) != 0 || now.ss_sp != mem)
        return; /* replaced since by someone else: theirs now */
    if (now.ss_flags & SS_ONSTACK)
        return;
    memset(&off, 0, sizeof(off));
    off.ss_flags = SS_DISABLE;
    if (sigaltstack(&off, NULL) == 0)
        free(mem);
}

static void altstack_key_init(void)
{
    altstack_key_ok = pthread_key_create(&altstack_key, altstack_free) == 0;
    CC__VG_RELEASE(&altstack_once);
}

/* Write a string with write(2): the only output safe in a signal handler. */
static void say(const char *s)
{
    ssize_t r = write(2, s, strlen(s));

    (void)r;
}

static void say_number(long v)
{
    char buf[24];
    int i = (int)sizeof(buf) - 1;

    buf[i] = '\0';
    if (v == 0)
        buf[--i] = '0';
    while (v > 0 && i > 0) {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    }
    say(&buf[i]);
}

static void on_fault(int sig, siginfo_t *info, void *uc)
{
    cc__ctx *c = cc__cur;
    cc__task *t = c != NULL && c->fiber != NULL ? CC__TASK_OF(c->fiber, fiber)
                                               : NULL;
    char *addr = info->si_addr;
    struct sigaction *prev = sig == SIGSEGV ? &previous_segv : &previous_bus;
    char here;
    uintptr_t outer = (uintptr_t)chaining_frame;
    uintptr_t now = (uintptr_t)&here;

    if (outer != 0 && now < outer && outer - now < CHAIN_DEPTH_MAX) {
        signal(sig, SIG_DFL); /* came back round a chain: the default acts */
        return;
    }
    if (t != NULL && addr < t->stack.base &&
        addr >= t->stack.base - 16 * page_size) {
        say("concur: task '");
        if (t->ctx.name[0] != '\0') {
            say(t->ctx.name);
        } else { /* no snprintf in a signal handler */
            say("Task-");
            say_number((long)t->ctx.number);
        }
        say("' overflowed its ");
        say_number((long)(t->stack.size / 1024));
        say(" KiB stack");
        if (t->site_file != NULL && t->site_line == 0) {
            say(" (spawned by ");
            say(t->site_file);
            say(")");
        } else if (t->site_file != NULL) {
            say(" (spawned at ");
            say(t->site_file);
            say(":");
            say_number(t->site_line);
            say(")");
        }
        say("; give it a larger stack_size (cc_task_opts, or "
            "cc_serve_opts for a server's handlers)\n");
        signal(sig, SIG_DFL); /* the fault repeats and ends the process */
        return;
    }
    /* Not ours: let the previous handler (or the default) deal with it. */
    chaining_frame = &here;
    if (prev->sa_flags & SA_SIGINFO) {
        prev->sa_sigaction(sig, info, uc);
    } else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        prev->sa_handler(sig);
    } else {
        signal(sig, SIG_DFL);
    }
    chaining_frame = NULL;
}

/* Put on_fault in front of whatever handles sig now (keeping that one to
 * pass other faults on to).  Done each time a loop starts: test harnesses
 * and other libraries install their own SIGSEGV handlers after ours. */
static void install_handler(int sig, struct sigaction *previous)
{
    struct sigaction now;
    struct sigaction sa;

    if (sigaction(sig, NULL, &now) != 0 ||
        ((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == on_fault))
        return;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) == 0)
        *previous = now;
}

/* Give sig back to the handler before ours, if ours is still the one
 * installed. */
static void uninstall_handler(int sig, const struct sigaction *previous)
{
    struct sigaction now;

    if (sigaction(sig, NULL, &now) == 0 && (now.sa_flags & SA_SIGINFO) &&
        now.sa_sigaction == on_fault)
        sigaction(sig, previous, NULL);
}

void cc__stack_unwatch_overflow(void)
{
    cc__mutex_lock(&handler_mu);
    uninstall_handler(SIGSEGV, &previous_segv);
    uninstall_handler(SIGBUS, &previous_bus);
    cc__mutex_unlock(&handler_mu);
}

void cc__stack_watch_overflow(void)
{
    stack_t ss;

    if (!(cc__signal_flags() & CC_SIGNALS_OVERFLOW))
        return; /* cc_set_signal_handling, CONCUR_SIGNALS */
    cc__mutex_lock(&handler_mu);
    install_handler(SIGSEGV, &previous_segv);
    install_handler(SIGBUS, &previous_bus);
    cc__mutex_unlock(&handler_mu);
    if (altstack_set)
        return;
    /* The handler needs a stack of its own: the task's is exhausted.  Keep
     * one the thread already has (sanitizers install theirs, and free it
     * when the thread ends); otherwise make one that serves this thread for
     * the rest of its life and is freed with it (altstack_free). */
    if (sigaltstack(NULL, &ss) == 0 && !(ss.ss_flags & SS_DISABLE) &&
        ss.ss_size >= 16 * 1024) {
        altstack_set = true;
        return;
    }
    pthread_once(&altstack_once, altstack_key_init);
    CC__VG_ONCE_DONE(&altstack_once);
    if (!altstack_key_ok)
        return; /* no way to free it: go without (faults are not named) */
    ss.ss_size = ALTSTACK_SIZE;
    ss.ss_sp = malloc(ss.ss_size);
    ss.ss_flags = 0;
    if (ss.ss_sp == NULL)
        return;
    if (pthread_setspecific(altstack_key, ss.ss_sp) != 0 ||
        sigaltstack(&ss, NULL) != 0) {
        (void)pthread_setspecific(altstack_key, NULL);
        free(ss.ss_sp);
        return;
    }
    altstack_set = true;
}

/* ------------------------------------------------------------ fork */

/*
 * Fork hooks (internal/atfork.h).  Neither lock nests in the other, so any
 * fixed order works; this one is handler_mu, then region_mu.  Held across
 * fork(), they guarantee the child's copies of the region state, the
 * spares list and the saved handlers are not halfway through a change.
 */
static void fork_prepare(void)
{
    cc__mutex_lock(&handler_mu);
    cc__mutex_lock(&region_mu);
}

static void fork_parent(void)
{
    cc__mutex_unlock(&region_mu);
    cc__mutex_unlock(&handler_mu);
}

/* The child: the locks are ours (taken by prepare in this very thread), so
 * re-initializing them releases them without a futex wake nobody needs.
 * The pidfd names the parent: close our copy, the next region opens one
 * for this process. */
static void fork_child(void)
{
    int fd = atomic_exchange(&madvise_pidfd, -1);

    if (fd >= 0)
        close(fd);
    cc__mutex_init(&region_mu);
    cc__mutex_init(&handler_mu);
}

static const cc__fork_hooks fork_hooks = {"aio/stack.c", fork_prepare,
                                          fork_parent, fork_child};

__attribute__((constructor)) static void register_fork_hooks(void)
{
    cc__atfork_register(&fork_hooks);
}

/* --------------------------------------------------------- first frame */

#if defined(CONCUR_UCONTEXT)
/* switch_ucontext.c prepares its own contexts. */
#elif defined(__x86_64__)
extern void cc__task_trampoline(void);

void *cc__stack_prepare(cc__stack *s, void *top, cc__task *t,
                        void (*entry)(cc__task *))
{
    /* The frame cc__switch pops: [mxcsr|fpucw][r15][r14][r13][r12][rbx]
     * [rbp][return address].  After `ret` pops all 64 bytes the stack
     * pointer must be 16-byte aligned, so that the trampoline's `call`
     * gives entry the ABI's alignment (rsp + 8 a multiple of 16). */
    uintptr_t sp = ((uintptr_t)top & ~(uintptr_t)15) - 8 * 8;
    uint64_t *f;

    (void)s;
    f = (uint64_t *)sp;
    f[0] = 0x1f80 | ((uint64_t)0x037f << 32); /* default MXCSR, x87 CW */
    f[1] = 0;                                  /* r15 */
    f[2] = 0;                                  /* r14 */
    f[3] = 0;                                  /* r13 */
    f[4] = (uint64_t)(uintptr_t)t;             /* r12: the task */
    f[5] = (uint64_t)(uintptr_t)entry;         /* rbx: its entry */
    f[6] = 0;                                  /* rbp */
    f[7] = (uint64_t)(uintptr_t)cc__task_trampoline;
    return (void *)sp;
}
#elif defined(__aarch64__)
extern void cc__task_trampoline(void);

void *cc__stack_prepare(cc__stack *s, void *top, cc__task *t,
                        void (*entry)(cc__task *))
{
    uintptr_t sp = ((uintptr_t)top & ~(uintptr_t)15) - 176;
    uint64_t *f = (uint64_t *)sp;

    (void)s;
    memset(f, 0, 176);
    f[0] = (uint64_t)(uintptr_t)t;                    /* x19 */
    f[1] = (uint64_t)(uintptr_t)entry;                /* x20 */
    f[11] = (uint64_t)(uintptr_t)cc__task_trampoline; /* x30 (lr) */
    return (void *)sp;
}
#else
#error "no context switch for this architecture: configure with -DCONCUR_UCONTEXT=ON"
#endif
