/*
 * future_alloc.c - future records: slabs, a per-thread cache and a global
 * free list (future layer).
 *
 * Records come from slabs of SLAB records, cached per thread (a thread that
 * submits and collects reuses its own records without a lock) with a
 * global free list behind the caches, guarded by global_mu.  Slabs are
 * never given back: the memory kept is what the most futures ever alive at
 * once needed (64 bytes each).  Sanitizer builds use plain malloc/free
 * instead, so that ASan still sees every use after free.
 *
 * Across fork() global_mu is held (fork hooks, internal/atfork.h), so the
 * child's copy of the global list and the region cursor is not halfway
 * through a change; the child re-initialises the lock it holds.  Records
 * in other threads' caches are lost to the child (their threads do not
 * exist there): a leak of at most CACHE_MAX records per thread.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "future/future_alloc.h"
#include "internal/atfork.h"

#if defined(CONCUR_ASAN) || defined(CONCUR_TSAN)

cc_future *cc__future_alloc(void)
{
    return malloc(sizeof(cc_future));
}

void cc__future_release(cc_future *f)
{
    f->magic = 0;
    free(f);
}

#else /* the slab cache */

#define SLAB 64          /* records per malloc */
#define CACHE_MAX 1024   /* records a thread keeps; above, half go global */

static __thread cc_future *cache_head;
static __thread unsigned cache_len;
static __thread bool cache_armed; /* the exit-time flush is set up */

static cc__mutex global_mu = CC__MUTEX_INIT; /* guards global_*, region_* */
static cc_future *global_head;
static size_t global_len;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

/* Move n records (all if n is 0) from this thread's cache to the global
 * list. */
static void cache_flush(unsigned n)
{
    cc_future *first = cache_head;
    cc_future *last = NULL;
    unsigned moved = 0;

    if (first == NULL)
        return;
    for (cc_future *f = first; f != NULL && (n == 0 || moved < n);
         f = atomic_load_explicit(&f->next, memory_order_relaxed)) {
        last = f;
        moved++;
    }
    cache_head = atomic_load_explicit(&last->next, memory_order_relaxed);
    cache_len -= moved;
    cc__mutex_lock(&global_mu);
    atomic_store_explicit(&last->next, global_head, memory_order_relaxed);
    global_head = first;
    global_len += moved;
    cc__mutex_unlock(&global_mu);
}

static void cache_destroy(void *unused)
{
    (void)unused;
    cache_flush(0);
}

static void cache_key_create(void)
{
    (void)pthread_key_create(&cache_key, cache_destroy);
    CC__VG_RELEASE(&cache_once);
}

/* Arrange for the cache to be flushed when this thread ends (a non-NULL
 * key value is what makes pthreads call the destructor). */
static void cache_arm(void)
{
    pthread_once(&cache_once, cache_key_create);
    CC__VG_ONCE_DONE(&cache_once);
    cache_armed = pthread_setspecific(cache_key, (void *)1) == 0;
}

static void cache_push(cc_future *f)
{
    atomic_store_explicit(&f->next, cache_head, memory_order_relaxed);
    cache_head = f;
    cache_len++;
}

/*
 * A new slab of records.  Small at first (a program with a few futures
 * keeps a few kilobytes), then carved from 2 MiB regions that ask for
 * transparent huge pages: a burst of 200,000 futures then takes 7 page
 * faults instead of 3,000 (measured: ~14% of bench_pool's time went to
 * first-touch faults with 4 KiB pages).
 */
#define REGION_BYTES (2u << 20)

static char *region_next;   /* unused part of the current region */
static size_t region_left;
static unsigned slabs_made;

static cc_future *slab_new_locked(size_t *count)
{
    cc_future *slab;

    CC__ASSERT(cc__mutex_owned(&global_mu));
    if (slabs_made++ < 8) {
        *count = SLAB;
        return malloc(SLAB * sizeof(cc_future));
    }
    if (region_left < SLAB * 16 * sizeof(cc_future)) {
        void *r = mmap(NULL, REGION_BYTES, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (r == MAP_FAILED)
            return NULL;
        (void)madvise(r, REGION_BYTES, MADV_HUGEPAGE);
        region_next = r;
        region_left = REGION_BYTES;
    }
    *count = SLAB * 16;
    slab = (cc_future *)(void *)region_next;
    region_next += SLAB * 16 * sizeof(cc_future);
    region_left -= SLAB * 16 * sizeof(cc_future);
    return slab;
}

/* Refill an empty cache: from the global list, else a new slab. */
static void cache_refill(void)
{
    cc_future *slab;
    size_t count = 0;

    if (!cache_armed)
        cache_arm();
    cc__mutex_lock(&global_mu);
    while (global_head != NULL && cache_len < CACHE_MAX / 2) {
        cc_future *f = global_head;

        global_head = atomic_load_explicit(&f->next, memory_order_relaxed);
        global_len--;
        cache_push(f);
    }
    if (cache_head != NULL) {
        cc__mutex_unlock(&global_mu);
        return;
    }
    slab = slab_new_locked(&count);
    cc__mutex_unlock(&global_mu);
    if (slab == NULL)
        return;
    for (size_t i = count; i-- > 0;)
        cache_push(&slab[i]);
}

cc_future *cc__future_alloc(void)
{
    cc_future *f;

    if (cache_head == NULL)
        cache_refill();
    f = cache_head;
    if (f != NULL) {
        cache_head = atomic_load_explicit(&f->next, memory_order_relaxed);
        cache_len--;
    }
    return f;
}

void cc__future_release(cc_future *f)
{
    f->magic = 0;
    if (!cache_armed)
        cache_arm();
    cache_push(f);
    if (cache_len > CACHE_MAX)
        cache_flush(CACHE_MAX / 2);
}

static void fork_prepare(void)
{
    cc__mutex_lock(&global_mu);
}

static void fork_parent(void)
{
    cc__mutex_unlock(&global_mu);
}

static void fork_child(void)
{
    cc__mutex_init(&global_mu);
}

static const cc__fork_hooks fork_hooks = {
    "future/future_alloc.c", fork_prepare, fork_parent, fork_child,
};

__attribute__((constructor)) static void register_fork_hooks(void)
{
    cc__atfork_register(&fork_hooks);
}

#endif /* the slab cache */
