/*
 * fnref.c - function references for the process pool (process layer; see
 * fnref.h).
 *
 * Parent side: dladdr names the module (its base address) that holds fn;
 * dl_iterate_phdr finds that module's entry, its load bias and the segment
 * fn lies in, which must be an executable PT_LOAD.  (In a static
 * executable dladdr finds nothing; dl_iterate_phdr, searched by address
 * alone, still finds the program.)  A shared library is
 * made RTLD_NODELETE when one of its functions is first named, so that a
 * cached reference can never outlive its module.  References are cached
 * in a fixed table that is read without a lock (a slot's key is published
 * with release after its value) and written under `cache_mu`; a full table
 * just means later misses are computed each time.
 *
 * Worker side: the module is found by name in dl_iterate_phdr (dlopen'ed
 * by path when missing) and the address checked the same way; resolved
 * references are cached in the worker's only thread.
 */
#include <dlfcn.h>
#include <link.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal/atfork.h"
#include "internal/ctx.h"
#include "internal/mutex.h"
#include "process/fnref.h"

/* ------------------------------------------------------------- modules */

/* What a walk over the loaded modules is looking for, and what it found. */
typedef struct module_query {
    uintptr_t addr;        /* a code address to locate, or 0 */
    uintptr_t base;        /* by address: dladdr's dli_fbase (0: any) */
    const char *name;      /* or by name ("" is the main executable) */
    bool found;
    bool main;             /* the module is the main executable */
    bool in_code;          /* addr lies in one of its executable PT_LOADs */
    uintptr_t bias;        /* dlpi_addr */
    char path[4096];       /* dlpi_name */
} module_query;

static uintptr_t lowest_page(const struct dl_phdr_info *info)
{
    uintptr_t low = UINTPTR_MAX;

    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_LOAD &&
            info->dlpi_phdr[i].p_vaddr < low)
            low = info->dlpi_phdr[i].p_vaddr;
    return low == UINTPTR_MAX ? 0 : (info->dlpi_addr + low) & ~(uintptr_t)4095;
}

/* Does the module hold q->addr, and in an executable segment? */
static bool holds(const struct dl_phdr_info *info, uintptr_t addr,
                  bool *in_code)
{
    bool inside = false;

    *in_code = false;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;

        if (ph->p_type != PT_LOAD || addr < start || addr - start >= ph->p_memsz)
            continue;
        inside = true;
        if (ph->p_flags & PF_X)
            *in_code = true;
    }
    return inside;
}

static int visit(struct dl_phdr_info *info, size_t size, void *arg)
{
    module_query *q = arg;
    const char *name = info->dlpi_name != NULL ? info->dlpi_name : "";
    bool is_main = name[0] == '\0';
    bool match;

    (void)size;
    if (q->name != NULL)
        match = strcmp(name, q->name) == 0;
    else if (q->base != 0)
        match = lowest_page(info) == q->base && holds(info, q->addr, &q->in_code);
    else
        match = holds(info, q->addr, &q->in_code);
    if (!match)
        return 0;
    if (q->name != NULL && q->addr != 0)
        (void)holds(info, q->addr, &q->in_code);
    q->found = true;
    q->main = is_main;
    q->bias = info->dlpi_addr;
    snprintf(q->path, sizeof(q->path), "%s", name);
    return 1; /* stop */
}

/* ---------------------------------------------------------- parent side */

#define CACHE_SLOTS 1024 /* distinct task functions remembered */

typedef struct cache_slot {
    _Atomic(cc_fn) fn;       /* key; published last (release) */
    const cc__fnref *ref;    /* written before fn */
} cache_slot;

static cache_slot cache[CACHE_SLOTS];
static cc__mutex cache_mu = CC__MUTEX_INIT; /* serialises inserts */
/* Records of functions past CACHE_SLOTS distinct ones: a list searched
 * under cache_mu (a program with that many task functions is rare; each
 * is still computed once). */
static cc__fnref *overflow;

/* Fork hooks (internal/atfork.h): an insert is never halfway done in the
 * child; the child re-initializes the lock that prepare took. */
static void fork_prepare(void)
{
    cc__mutex_lock(&cache_mu);
}

static void fork_parent(void)
{
    cc__mutex_unlock(&cache_mu);
}

static void fork_child(void)
{
    cc__mutex_init(&cache_mu);
}

static const cc__fork_hooks fork_hooks = {"process/fnref.c", fork_prepare,
                                          fork_parent, fork_child};

__attribute__((constructor)) static void register_fork_hooks(void)
{
    cc__atfork_register(&fork_hooks);
}

static size_t slot_of(cc_fn fn)
{
    uint64_t h = (uint64_t)(uintptr_t)fn * 0x9E3779B97F4A7C15ULL;

    return (size_t)(h >> 54) % CACHE_SLOTS;
}

static const cc__fnref *cache_find(cc_fn fn)
{
    size_t i = slot_of(fn);

    for (size_t probes = 0; probes < CACHE_SLOTS; probes++) {
        cc_fn key = atomic_load_explicit(&cache[i].fn, memory_order_acquire);

        if (key == fn)
            return cache[i].ref;
        if (key == NULL)
            return NULL;
        i = (i + 1) % CACHE_SLOTS;
    }
    /* every slot taken: the overflow list */
    {
        const cc__fnref *ref = NULL;

        cc__mutex_lock(&cache_mu);
        for (const cc__fnref *r = overflow; r != NULL; r = r->overflow)
            if (r->fn == fn) {
                ref = r;
                break;
            }
        cc__mutex_unlock(&cache_mu);
        return ref;
    }
}

/* Keep ref as fn's record and return it -- or, when another thread
 * computed fn's record meanwhile, free ref and return that one.  Every
 * record kept stays reachable (a slot or the overflow list), one per
 * distinct function, for the life of the process. */
static const cc__fnref *cache_add(cc_fn fn, cc__fnref *ref)
{
    size_t i = slot_of(fn);
    const cc__fnref *kept = NULL;

    ref->fn = fn;
    ref->overflow = NULL;
    cc__mutex_lock(&cache_mu);
    for (size_t probes = 0; probes < CACHE_SLOTS; probes++) {
        cc_fn key = atomic_load_explicit(&cache[i].fn, memory_order_relaxed);

        if (key == fn) {
            kept = cache[i].ref; /* another thread added it meanwhile */
            break;
        }
        if (key == NULL) {
            cache[i].ref = ref;
            atomic_store_explicit(&cache[i].fn, fn, memory_order_release);
            kept = ref;
            break;
        }
        i = (i + 1) % CACHE_SLOTS;
    }
    if (kept == NULL) { /* every slot taken */
        for (const cc__fnref *r = overflow; r != NULL; r = r->overflow)
            if (r->fn == fn) {
                kept = r;
                break;
            }
        if (kept == NULL) {
            ref->overflow = overflow;
            overflow = ref;
            kept = ref;
        }
    }
    cc__mutex_unlock(&cache_mu);
    if (kept != ref)
        free(ref);
    return kept;
}

/* Compute fn's record and keep it (cache_add): the first thread to finish
 * wins a race, the others' copies are freed. */
static const cc__fnref *compute(cc_fn fn, const char *what)
{
    uintptr_t addr = (uintptr_t)(void *)fn;
    module_query *q;
    cc__fnref *ref;
    Dl_info info;
    size_t len;

    /* In a static executable dladdr knows nothing (no dynamic symbol
     * table), but dl_iterate_phdr still lists the program itself: search
     * by address alone then. */
    if (dladdr((void *)fn, &info) == 0 || info.dli_fbase == NULL) {
        info.dli_fbase = NULL;
        info.dli_fname = NULL;
    }
    q = calloc(1, sizeof(*q));
    if (q == NULL)
        return cc__errf_null(ENOMEM, "%s: out of memory", what);
    q->addr = addr;
    q->base = (uintptr_t)info.dli_fbase;
    dl_iterate_phdr(visit, q);
    if (!q->found && q->base != 0) { /* dladdr's base is not a segment
                                       * start: any module */
        q->base = 0;
        dl_iterate_phdr(visit, q);
    }
    if (!q->found) {
        free(q);
        return cc__errf_null(EINVAL, "%s: a process pool task must be a "
                             "function of the program or of a shared library "
                             "it loads: %p is in no loaded module", what,
                             (void *)fn);
    }
    if (!q->in_code) {
        const char *module = q->main ? "the program" : q->path;

        cc__errf(EINVAL, "%s: a process pool task must be a function of the "
                         "program or of a shared library it loads: %p is not "
                         "in the code of %s", what, (void *)fn,
                 module != NULL ? module : "?");
        free(q);
        return NULL;
    }
    len = q->main ? 0 : strlen(q->path);
    if (len > UINT16_MAX) {
        free(q);
        return cc__errf_null(EINVAL, "%s: the path of the module holding %p "
                             "is too long", what, (void *)fn);
    }
    ref = malloc(sizeof(*ref) + len + 1);
    if (ref == NULL) {
        free(q);
        return cc__errf_null(ENOMEM, "%s: out of memory", what);
    }
    if (!q->main) {
        /* Pin the library: unloaded, its address range could take another
         * library, and this cached reference would then name the wrong
         * function.  A library that gave a process pool a task stays
         * loaded, as Python keeps a module that was imported. */
        void *pin = dlopen(q->path, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);

        if (pin != NULL)
            dlclose(pin);
    }
    ref->offset = (uint64_t)(addr - q->bias);
    ref->path_len = (uint16_t)len;
    memcpy(ref->path, q->path, len);
    ref->path[len] = '\0';
    free(q);
    return cache_add(fn, ref);
}

const cc__fnref *cc__fnref_of(cc_fn fn, const char *what)
{
    const cc__fnref *ref = cache_find(fn);

    return ref != NULL ? ref : compute(fn, what);
}

void cc__fnref_put(cc__buf *b, const cc__fnref *ref)
{
    uint16_t len = ref->path_len;

    cc__buf_put_u64(b, ref->offset);
    cc__buf_put(b, &len, sizeof(len));
    cc__buf_put(b, ref->path, len);
}

/* ---------------------------------------------------------- worker side */

#define RESOLVED_SLOTS 256

typedef struct resolved {
    uint64_t offset;
    char *path;          /* owned; NULL: free slot */
    cc_fn fn;
} resolved;

/* Touched only by the worker's own thread (the worker loop). */
static resolved resolved_cache[RESOLVED_SLOTS];

static size_t resolved_slot(uint64_t offset, const char *path, size_t len)
{
    uint64_t h = offset * 0x9E3779B97F4A7C15ULL;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)path[i]) * 0x100000001B3ULL;
    return (size_t)(h >> 56) % RESOLVED_SLOTS;
}

static cc_fn find_in_module(uint64_t offset, const char *path, cc_error **err)
{
    module_query *q = calloc(1, sizeof(*q));
    cc_fn fn = NULL;

    if (q == NULL) {
        *err = cc_error_new(ENOMEM, NULL, "process pool worker: out of memory");
        return NULL;
    }
    q->name = path;
    dl_iterate_phdr(visit, q);
    if (!q->found && path[0] != '\0' &&
        dlopen(path, RTLD_NOW | RTLD_LOCAL) != NULL)
        dl_iterate_phdr(visit, q); /* the handle stays open for good */
    if (!q->found) {
        const char *why = dlerror();

        *err = cc_error_new(EINVAL, NULL, "process pool worker: cannot load "
                            "%s: %s", path[0] != '\0' ? path : "the program",
                            why != NULL ? why : "not loaded");
    } else {
        q->addr = q->bias + (uintptr_t)offset;
        q->found = false;
        dl_iterate_phdr(visit, q);
        if (q->found && q->in_code)
            fn = (cc_fn)(void *)q->addr;
        else
            *err = cc_error_new(EINVAL, NULL, "process pool worker: offset "
                                "0x%llx of %s is not code",
                                (unsigned long long)offset,
                                path[0] != '\0' ? path : "the program");
    }
    free(q);
    return fn;
}

cc_fn cc__fnref_resolve(cc__rd *r, cc_error **err)
{
    uint64_t offset = cc__rd_u64(r);
    const char *lenp = cc__rd_bytes(r, 2);
    uint16_t len = 0;
    const char *path;
    char *copy;
    resolved *slot;
    cc_fn fn;

    if (lenp != NULL)
        memcpy(&len, lenp, 2);
    path = cc__rd_bytes(r, len);
    if (r->bad) {
        *err = cc_error_new(EPROTO, NULL, "process pool worker: malformed "
                            "function reference");
        return NULL;
    }
    slot = &resolved_cache[resolved_slot(offset, path, len)];
    if (slot->path != NULL && slot->offset == offset &&
        strlen(slot->path) == len && memcmp(slot->path, path, len) == 0)
        return slot->fn;
    copy = malloc((size_t)len + 1);
    if (copy == NULL) {
        *err = cc_error_new(ENOMEM, NULL, "process pool worker: out of memory");
        return NULL;
    }
    memcpy(copy, path, len);
    copy[len] = '\0';
    fn = find_in_module(offset, copy, err);
    if (fn == NULL) {
        free(copy);
        return NULL;
    }
    free(slot->path); /* evict whatever was there */
    slot->offset = offset;
    slot->path = copy;
    slot->fn = fn;
    return fn;
}
