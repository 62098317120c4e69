/*
 * shlist.c - cc_shlist, a list of blobs in memory shared by forked
 * processes (the role of multiprocessing's Manager().list(), without a
 * manager process; process layer).  Built like cc_shdict (shdict.c): the
 * same lock, the same append-then-publish writes, the same compaction.
 *
 * Layout: one shared mapping holds the header, two index tables of
 * max_items 8-byte entries and two data halves.  One table and one half
 * are live; the others are scratch space.  An entry is the offset of its
 * item's record in the live half; a record is
 *
 *     [u64 len][value bytes, padded to 8]
 *
 * appended at used[half].  `state` names the live table and half and
 * holds the length, all in one word: len << 2 | half << 1 | table.
 *
 * Locking: one robust process-shared mutex (shm.h) guards everything; it
 * is held for one operation's copies (and for a compaction, which copies
 * every live record once).  Nothing waits.
 *
 * Crash consistency (a process may be killed at any instruction).  The
 * primary state is (state, used[live half], entries [0, len) of the live
 * table, the records they point at); live_bytes and payload are derived
 * and recounted by repair() when the next process gets EOWNERDEAD.  Every
 * change keeps the primary state whole at every instant and ends with one
 * publishing 8-byte release store:
 *
 *   append: write the record beyond used (nobody looks there), store used,
 *     write the entry beyond len, then store state with len + 1.
 *   set: write the record and store used likewise, then store its entry.
 *     The old record becomes garbage in the same instant.
 *   insert, and a delete not at the end: write the record as for append,
 *     build the scratch table (the live one with the entry added or
 *     taken out), then store state naming that table and the new length.
 *   delete at the end: store state with len - 1.
 *   compaction (the live half has no room left for a new record): copy
 *     the live records, in order and with the change applied, into the
 *     scratch half and table, store that half's used, then store state
 *     naming both.  Killed before that store, the old half and table are
 *     untouched and still live.
 *
 * Limits: max_items up to 2^24; capacity (value bytes) up to 16 GiB.  Each
 * half holds capacity bytes plus 16 bytes of record overhead per item, so
 * a write that passes the max_items and capacity checks always fits after
 * a compaction.  The address space reserved is about twice that
 * (MAP_NORESERVE, touched as used; the old half's pages are given back
 * after each compaction).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "concur/process.h"
#include "internal/assert.h"
#include "internal/ctx.h"
#include "process/ipc_debug.h"
#include "process/shm.h"

#define SHL_MAGIC 0x53484c53u      /* "SHLS" */
#define DEFAULT_ITEMS 4096u
#define DEFAULT_CAPACITY ((size_t)16 << 20)
#define MAX_ITEMS ((size_t)1 << 24)
#define MAX_CAPACITY ((size_t)16 << 30)
#define REC_HDR 8u
#define REC_OVERHEAD 16u           /* header + worst padding */
#define HEADER_BYTES 4096u         /* room for the header; the tables
                                      follow it */

/* The shared part; constants are set before any child exists. */
struct shl_shared {
    pthread_mutex_t mu;            /* robust; guards all of the below */
    uint64_t max_items;            /* constant */
    uint64_t capacity;             /* value bytes; constant */
    uint64_t half;                 /* bytes per data half; constant */
    uint64_t table_off[2];         /* from the mapping's start; constant */
    uint64_t data_off[2];          /* page aligned; constant */
    _Atomic uint64_t state;        /* primary: len << 2 | half << 1 | table */
    _Atomic uint64_t used[2];      /* primary (of the live half): bytes
                                      appended */
    uint64_t live_bytes;           /* derived: record bytes of the items */
    uint64_t payload;              /* derived: value bytes of the items */
    _Atomic uint64_t repairs;      /* EOWNERDEAD repairs (tests) */
    _Atomic uint64_t compactions;  /* compactions made (tests) */
};

_Static_assert(sizeof(struct shl_shared) <= HEADER_BYTES, "header room");

/* This process's handle; children forked afterwards get copies. */
struct cc_shlist {
    uint32_t magic;                /* SHL_MAGIC while alive */
    struct shl_shared *sh;
    size_t map_len;
};

static bool shl_ok(const cc_shlist *l)
{
    return l != NULL && l->magic == SHL_MAGIC;
}

/* ---------------------------------------------------------------- access */

static uint64_t state_make(uint64_t len, unsigned half, unsigned table)
{
    return len << 2 | (uint64_t)half << 1 | table;
}

static uint64_t state_len(uint64_t s)
{
    return s >> 2;
}

static unsigned state_half(uint64_t s)
{
    return (unsigned)(s >> 1) & 1u;
}

static unsigned state_table(uint64_t s)
{
    return (unsigned)s & 1u;
}

static uint64_t state_of(struct shl_shared *sh)
{
    return atomic_load_explicit(&sh->state, memory_order_acquire);
}

static _Atomic uint64_t *table(struct shl_shared *sh, unsigned which)
{
    return (_Atomic uint64_t *)(void *)((char *)sh + sh->table_off[which]);
}

static char *data(struct shl_shared *sh, unsigned which)
{
    return (char *)sh + sh->data_off[which];
}

static uint64_t rec_size(uint64_t len)
{
    return REC_HDR + ((len + 7) & ~(uint64_t)7);
}

static uint64_t entry(struct shl_shared *sh, unsigned which, uint64_t i)
{
    return atomic_load_explicit(&table(sh, which)[i], memory_order_relaxed);
}

static void set_entry(struct shl_shared *sh, unsigned which, uint64_t i,
                      uint64_t off)
{
    atomic_store_explicit(&table(sh, which)[i], off, memory_order_release);
}

/* The value length of the record at off of half h. */
static uint64_t rec_len(struct shl_shared *sh, unsigned h, uint64_t off)
{
    uint64_t len;

    memcpy(&len, data(sh, h) + off, sizeof(len));
    return len;
}

static const char *rec_value(struct shl_shared *sh, unsigned h, uint64_t off)
{
    return data(sh, h) + off + REC_HDR;
}

/* Write a record of len bytes at p into half h at off; its size. */
static uint64_t write_record(struct shl_shared *sh, unsigned h, uint64_t off,
                             const void *p, uint64_t len)
{
    char *r = data(sh, h) + off;

    memcpy(r, &len, sizeof(len));
    if (len > 0)
        memcpy(r + REC_HDR, p, (size_t)len);
    return rec_size(len);
}

/* --------------------------------------------------- repair and recount */

typedef struct tally {
    uint64_t live_bytes;
    uint64_t payload;
} tally;

static tally recount(struct shl_shared *sh)
{
    uint64_t s = state_of(sh);
    tally c = {0, 0};

    for (uint64_t i = 0; i < state_len(s); i++) {
        uint64_t len = rec_len(sh, state_half(s),
                               entry(sh, state_table(s), i));

        c.live_bytes += rec_size(len);
        c.payload += len;
    }
    return c;
}

/* mu held, its owner died: bring the derived counters back in line with
 * the primary state (whole by construction: see the top of the file). */
static void repair(void *arg)
{
    struct shl_shared *sh = arg;
    tally c = recount(sh);

    sh->live_bytes = c.live_bytes;
    sh->payload = c.payload;
    atomic_fetch_add_explicit(&sh->repairs, 1, memory_order_relaxed);
}

static int lock(struct shl_shared *sh)
{
    return cc__pmutex_lock(&sh->mu, repair, sh);
}

static void unlock(struct shl_shared *sh)
{
    cc__pmutex_unlock(&sh->mu);
}

static int lock_failed(int rc, const char *what)
{
    return cc__errf(rc, "%s: cannot lock the list: %s", what, strerror(rc));
}

/* ------------------------------------------------------------- lifecycle */

/* n rounded up to whole pages: the data halves are page aligned, so a
 * compaction can give the old half's pages back. */
static uint64_t page_up(uint64_t n)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

    return (n + page - 1) / page * page;
}

cc_shlist *cc_shlist_new(size_t max_items, size_t capacity)
{
    struct shl_shared *sh;
    cc_shlist *l;
    uint64_t half;
    uint64_t off;
    int rc;

    if (max_items == 0)
        max_items = DEFAULT_ITEMS;
    if (capacity == 0)
        capacity = DEFAULT_CAPACITY;
    if (max_items > MAX_ITEMS)
        return cc__errf_null(EINVAL, "cc_shlist_new: max_items %zu is above "
                                     "%zu", max_items, MAX_ITEMS);
    if (capacity > MAX_CAPACITY)
        return cc__errf_null(EINVAL, "cc_shlist_new: capacity %zu is above "
                                     "16 GiB", capacity);
    half = page_up(((uint64_t)capacity + 7) / 8 * 8 +
                   REC_OVERHEAD * (uint64_t)max_items);
    l = malloc(sizeof(*l));
    if (l == NULL)
        return cc__err_null(ENOMEM, "cc_shlist_new: out of memory");
    off = page_up(HEADER_BYTES + 2 * (uint64_t)max_items * 8);
    l->map_len = (size_t)(off + 2 * half);
    sh = cc__shm_map(l->map_len, true);
    if (sh == NULL) {
        size_t len = l->map_len;
        int e = errno;

        free(l);
        return cc__errf_null(ENOMEM, "cc_shlist_new: cannot map %zu bytes "
                                     "of shared memory: %s",
                             len, strerror(e));
    }
    rc = cc__pmutex_init(&sh->mu);
    if (rc != 0) {
        cc__shm_unmap(sh, l->map_len);
        free(l);
        return cc__errf_null(rc, "cc_shlist_new: %s", strerror(rc));
    }
    sh->max_items = max_items;
    sh->capacity = capacity;
    sh->half = half;
    for (unsigned i = 0; i < 2; i++) {
        sh->table_off[i] = HEADER_BYTES + i * (uint64_t)max_items * 8;
        sh->data_off[i] = off + i * half;
    }
    l->sh = sh;
    l->magic = SHL_MAGIC;
    return l;
}

void cc_shlist_free(cc_shlist *l)
{
    if (!shl_ok(l))
        return;
    l->magic = 0;
    cc__shm_unmap(l->sh, l->map_len);
    free(l);
}

/* ------------------------------------------------------------ changes */

typedef enum op_kind { OP_INSERT, OP_SET, OP_DELETE } op_kind;

/* One change; append is an insert at len. */
typedef struct change {
    op_kind kind;
    uint64_t index;                /* normalized: 0..len (insert), else
                                      0..len-1 */
    const void *p;                 /* the new value (insert, set) */
    uint64_t len;
} change;

/*
 * Copy the live items into the scratch table and half with c applied and
 * make them live (mu held).  Fits by the checks the caller made first (see
 * the limits at the top).
 */
static void compact(struct shl_shared *sh, const change *c)
{
    uint64_t s = state_of(sh);
    uint64_t n = state_len(s);
    unsigned ha = state_half(s);
    unsigned ta = state_table(s);
    unsigned hb = 1 - ha;
    unsigned tb = 1 - ta;
    uint64_t p = 0;
    uint64_t k = 0;
    tally t = {0, 0};

    for (uint64_t j = 0; j <= n; j++) {
        if (c->kind == OP_INSERT && j == c->index) {
            set_entry(sh, tb, k++, p);
            p += write_record(sh, hb, p, c->p, c->len);
            t.payload += c->len;
        }
        if (j == n)
            break;
        if (c->kind == OP_DELETE && j == c->index)
            continue;
        if (c->kind == OP_SET && j == c->index) {
            set_entry(sh, tb, k++, p);
            p += write_record(sh, hb, p, c->p, c->len);
            t.payload += c->len;
            continue;
        }
        {
            uint64_t off = entry(sh, ta, j);
            uint64_t len = rec_len(sh, ha, off);

            memcpy(data(sh, hb) + p, data(sh, ha) + off, rec_size(len));
            set_entry(sh, tb, k++, p);
            p += rec_size(len);
            t.payload += len;
        }
    }
    atomic_store_explicit(&sh->used[hb], p, memory_order_release);
    /* The commit point: one store makes the new table and half live. */
    atomic_store_explicit(&sh->state, state_make(k, hb, tb),
                          memory_order_release);
    sh->live_bytes = p;
    sh->payload = t.payload;
    atomic_fetch_add_explicit(&sh->compactions, 1, memory_order_relaxed);
    /* The old half is scratch now: give its pages back. */
    cc__shm_discard(data(sh, ha), atomic_load_explicit(&sh->used[ha],
                                                       memory_order_relaxed));
}

/* Copy the live table into the scratch one with entry `index` added
 * (value off) or taken out, and make it live with the new length. */
static void move_entries(struct shl_shared *sh, const change *c, uint64_t off)
{
    uint64_t s = state_of(sh);
    uint64_t n = state_len(s);
    unsigned ta = state_table(s);
    unsigned tb = 1 - ta;
    uint64_t k = 0;

    for (uint64_t j = 0; j <= n; j++) {
        if (c->kind == OP_INSERT && j == c->index)
            set_entry(sh, tb, k++, off);
        if (j == n)
            break;
        if (c->kind == OP_DELETE && j == c->index)
            continue;
        set_entry(sh, tb, k++, entry(sh, ta, j));
    }
    atomic_store_explicit(&sh->state, state_make(k, state_half(s), tb),
                          memory_order_release);
}

/* Make change c (mu held; its index is in range).  0, or ENOSPC with the
 * error recorded. */
static int apply(struct shl_shared *sh, const change *c)
{
    uint64_t s = state_of(sh);
    uint64_t n = state_len(s);
    unsigned h = state_half(s);
    unsigned t = state_table(s);
    uint64_t old_size = 0;
    uint64_t old_len = 0;
    uint64_t size;
    uint64_t used;

    CC__ASSERT(cc__pmutex_owned(&sh->mu));
    if (c->kind != OP_INSERT) {
        old_len = rec_len(sh, h, entry(sh, t, c->index));
        old_size = rec_size(old_len);
    }
    if (c->kind == OP_DELETE) {
        if (c->index == n - 1)
            atomic_store_explicit(&sh->state, state_make(n - 1, h, t),
                                  memory_order_release);
        else
            move_entries(sh, c, 0);
        sh->live_bytes -= old_size;
        sh->payload -= old_len;
        return 0;
    }
    if (c->kind == OP_INSERT && n >= sh->max_items)
        return cc__errf(ENOSPC, "shared list is full: it holds its maximum "
                                "of %llu items",
                        (unsigned long long)sh->max_items);
    if (sh->payload - old_len + c->len > sh->capacity)
        return cc__errf(ENOSPC, "shared list is full: %llu of %llu bytes of "
                                "values in use, %llu more needed",
                        (unsigned long long)(sh->payload - old_len),
                        (unsigned long long)sh->capacity,
                        (unsigned long long)c->len);
    size = rec_size(c->len);
    used = atomic_load_explicit(&sh->used[h], memory_order_relaxed);
    if (used + size > sh->half) {
        compact(sh, c);
        return 0;
    }
    write_record(sh, h, used, c->p, c->len);
    atomic_store_explicit(&sh->used[h], used + size, memory_order_release);
    if (c->kind == OP_SET) {
        set_entry(sh, t, c->index, used); /* the publishing store */
    } else if (c->index == n) {
        set_entry(sh, t, n, used);        /* beyond len: nobody looks */
        atomic_store_explicit(&sh->state, state_make(n + 1, h, t),
                              memory_order_release);
    } else {
        move_entries(sh, c, used);
    }
    sh->live_bytes += size - old_size;
    sh->payload += c->len - old_len;
    return 0;
}

/* --------------------------------------------------------- public calls */

/* An index of an existing item: Python's rule for negative ones.  false
 * when it is outside [0, n). */
static bool item_index(long index, uint64_t n, uint64_t *out)
{
    if (index < 0) {
        if ((uint64_t)(-(index + 1)) >= n)
            return false;
        *out = n - (uint64_t)(-(index + 1)) - 1;
        return true;
    }
    if ((uint64_t)index >= n)
        return false;
    *out = (uint64_t)index;
    return true;
}

static int out_of_range(long index, uint64_t n, const char *what)
{
    if (n == 0)
        return cc__errf(ERANGE, "%s: index %ld is out of range (the shared "
                                "list is empty)", what, index);
    return cc__errf(ERANGE, "%s: index %ld is out of range (the shared list "
                            "holds %llu items)",
                    what, index, (unsigned long long)n);
}

/* Check the value arguments of a write: 0, or -1 with the error
 * recorded. */
static int check_value(cc_shlist *l, const void *p, size_t len,
                       const char *what)
{
    if (!shl_ok(l))
        return cc__errf(EINVAL, "%s: not a shared list", what);
    if (p == NULL && len > 0)
        return cc__errf(EINVAL, "%s: p is NULL", what);
    if (len > l->sh->capacity)
        return cc__errf(ENOSPC, "shared list: a value of %zu bytes can never "
                                "fit (capacity %llu bytes)",
                        len, (unsigned long long)l->sh->capacity);
    return 0;
}

/* Insert before index; append is index LONG_MAX (clamped to the end). */
static int insert_bytes(cc_shlist *l, long index, const void *p, size_t len,
                        const char *what)
{
    change c = {OP_INSERT, 0, p, len};
    uint64_t n;
    int rc;

    if (check_value(l, p, len, what) != 0)
        return -1;
    rc = lock(l->sh);
    if (rc != 0)
        return lock_failed(rc, what);
    n = state_len(state_of(l->sh));
    if (index < 0)
        c.index = (uint64_t)(-(index + 1)) >= n
                      ? 0
                      : n - (uint64_t)(-(index + 1)) - 1;
    else
        c.index = (uint64_t)index > n ? n : (uint64_t)index;
    rc = apply(l->sh, &c);
    unlock(l->sh);
    return rc;
}

int cc_shlist_append_bytes(cc_shlist *l, const void *p, size_t len)
{
    return insert_bytes(l, LONG_MAX, p, len, "cc_shlist_append");
}

int cc_shlist_append(cc_shlist *l, const void *blob)
{
    if (blob != NULL && !cc_blob_is(blob))
        return cc__err(EINVAL, "cc_shlist_append: not a blob (use "
                               "cc_shlist_append_bytes for plain memory)");
    return cc_shlist_append_bytes(l, blob, blob ? cc_blob_len(blob) : 0);
}

int cc_shlist_insert_bytes(cc_shlist *l, long index, const void *p,
                           size_t len)
{
    return insert_bytes(l, index, p, len, "cc_shlist_insert");
}

int cc_shlist_insert(cc_shlist *l, long index, const void *blob)
{
    if (blob != NULL && !cc_blob_is(blob))
        return cc__err(EINVAL, "cc_shlist_insert: not a blob (use "
                               "cc_shlist_insert_bytes for plain memory)");
    return cc_shlist_insert_bytes(l, index, blob,
                                  blob ? cc_blob_len(blob) : 0);
}

int cc_shlist_set_bytes(cc_shlist *l, long index, const void *p, size_t len)
{
    change c = {OP_SET, 0, p, len};
    uint64_t n;
    int rc;

    if (check_value(l, p, len, "cc_shlist_set") != 0)
        return -1;
    rc = lock(l->sh);
    if (rc != 0)
        return lock_failed(rc, "cc_shlist_set");
    n = state_len(state_of(l->sh));
    if (!item_index(index, n, &c.index)) {
        unlock(l->sh);
        return out_of_range(index, n, "cc_shlist_set");
    }
    rc = apply(l->sh, &c);
    unlock(l->sh);
    return rc;
}

int cc_shlist_set(cc_shlist *l, long index, const void *blob)
{
    if (blob != NULL && !cc_blob_is(blob))
        return cc__err(EINVAL, "cc_shlist_set: not a blob (use "
                               "cc_shlist_set_bytes for plain memory)");
    return cc_shlist_set_bytes(l, index, blob, blob ? cc_blob_len(blob) : 0);
}

/* Copy item index out (blob != NULL) and, when `remove`, delete it. */
static int take(cc_shlist *l, long index, void **blob, bool remove,
                const char *what)
{
    struct shl_shared *sh;
    change c = {OP_DELETE, 0, NULL, 0};
    uint64_t s;
    int rc;

    if (!shl_ok(l))
        return cc__errf(EINVAL, "%s: not a shared list", what);
    if (blob == NULL && !remove)
        return cc__errf(EINVAL, "%s: blob is NULL", what);
    sh = l->sh;
    rc = lock(sh);
    if (rc != 0)
        return lock_failed(rc, what);
    s = state_of(sh);
    if (!item_index(index, state_len(s), &c.index)) {
        unlock(sh);
        return out_of_range(index, state_len(s), what);
    }
    if (blob != NULL) {
        uint64_t off = entry(sh, state_table(s), c.index);

        *blob = cc_blob_dup(rec_value(sh, state_half(s), off),
                            (size_t)rec_len(sh, state_half(s), off));
        if (*blob == NULL) {
            unlock(sh);
            return cc__errf(ENOMEM, "%s: out of memory for the value%s",
                            what, remove ? " (it stays in the list)" : "");
        }
    }
    if (remove)
        apply(sh, &c); /* a delete never fails */
    unlock(sh);
    return 0;
}

int cc_shlist_get(cc_shlist *l, long index, void **blob)
{
    return take(l, index, blob, false, "cc_shlist_get");
}

int cc_shlist_pop(cc_shlist *l, long index, void **blob)
{
    return take(l, index, blob, true, "cc_shlist_pop");
}

size_t cc_shlist_len(cc_shlist *l)
{
    if (!shl_ok(l))
        return 0;
    /* state is primary and whole at every instant: no lock needed. */
    return (size_t)state_len(state_of(l->sh));
}

/* ----------------------------------------------------------- test hooks */

int cc__shlist_check(cc_shlist *l)
{
    struct shl_shared *sh;
    uint64_t s;
    uint64_t used;
    tally c;
    int rc;

    if (!shl_ok(l))
        return cc__err(EINVAL, "cc__shlist_check: not a shared list");
    sh = l->sh;
    rc = lock(sh);
    if (rc != 0)
        return lock_failed(rc, "cc__shlist_check");
    s = state_of(sh);
    used = atomic_load_explicit(&sh->used[state_half(s)],
                                memory_order_relaxed);
    if (state_len(s) > sh->max_items) {
        unlock(sh);
        return cc__errf(EPROTO, "shared list: length %llu is above its "
                                "maximum", (unsigned long long)state_len(s));
    }
    for (uint64_t i = 0; i < state_len(s); i++) {
        uint64_t off = entry(sh, state_table(s), i);

        if (off % 8 != 0 || off + REC_HDR > used ||
            off + rec_size(rec_len(sh, state_half(s), off)) > used) {
            unlock(sh);
            return cc__errf(EPROTO, "shared list: item %llu points at a bad "
                                    "record", (unsigned long long)i);
        }
    }
    c = recount(sh);
    if (c.live_bytes != sh->live_bytes || c.payload != sh->payload) {
        unlock(sh);
        return cc__errf(EPROTO, "shared list: counters (%llu/%llu bytes) "
                                "differ from a recount (%llu/%llu)",
                        (unsigned long long)sh->live_bytes,
                        (unsigned long long)sh->payload,
                        (unsigned long long)c.live_bytes,
                        (unsigned long long)c.payload);
    }
    unlock(sh);
    return 0;
}

uint64_t cc__shlist_repairs(cc_shlist *l)
{
    if (!shl_ok(l))
        return 0;
    return atomic_load_explicit(&l->sh->repairs, memory_order_relaxed);
}

uint64_t cc__shlist_compactions(cc_shlist *l)
{
    if (!shl_ok(l))
        return 0;
    return atomic_load_explicit(&l->sh->compactions, memory_order_relaxed);
}
