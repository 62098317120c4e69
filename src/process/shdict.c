/*
 * shdict.c - cc_shdict, a hash map from string keys to blobs in memory
 * shared by forked processes (the role of multiprocessing's
 * Manager().dict(), without a manager process; process layer).
 *
 * Layout: one shared mapping holds the header, two slot tables and two
 * data halves.  Exactly one table and one half are live, named by `active`;
 * the others are scratch space for the next compaction.
 *
 *   slot (u64):  0 empty, 1 tombstone (a deleted key), else
 *                hash << 32 | (record offset / 8 + 2)
 *   record:      [u32 hash][u8 keylen][3 pad][u64 vallen][key][value],
 *                padded to 8 bytes, appended at used[active]
 *
 * Open addressing with linear probing over nslots = a power of two at
 * least 2 * max_entries; the slot keeps the upper hash bits so probing
 * rarely touches a record that is not the one sought.  Tombstones keep
 * probe paths intact after deletes (a delete whose next slot is empty can
 * empty its own slot instead).
 *
 * Locking: one robust process-shared mutex (shm.h) guards everything; it
 * is held for one operation's copies (and for a compaction, which copies
 * every live record once: a few milliseconds for 16 MiB).  Nothing waits.
 *
 * Crash consistency (a process may be killed at any instruction).  The
 * primary state is (active, used[active], table[active], the records of
 * data[active] that the table points at); everything else is derived and
 * recounted by repair() when the next process gets EOWNERDEAD.  Every
 * change keeps the primary state whole at every instant:
 *
 *   set, room in the live half: write the record beyond used[active]
 *     (nobody looks there), store used[active] (8 bytes), then publish
 *     with one 8-byte store into the slot: the key's own slot when it
 *     exists (the old record turns into garbage in the same instant), else
 *     an empty or tombstone slot on its probe path.  Killed before the
 *     slot store: the set did not happen (at worst some bytes leak until
 *     the next compaction).  After it: it happened.
 *   delete: one 8-byte store of a tombstone (or of empty) into the slot.
 *   compaction (the live half is out of room, or the table too full of
 *     tombstones): build the other table and half from the live records,
 *     with the pending set applied, store its used[], then
 *     switch `active` with one store.  Killed before the switch: the old
 *     table and half are untouched and still live; the scratch ones are
 *     rebuilt from scratch next time.  After it: everything is in place.
 *
 * All publishing stores are release stores, so the compiler and the CPU
 * keep the record bytes before them; the derived counters (len, tombs,
 * live bytes, payload) are updated after the publishing store and are
 * only read under the mutex, after any repair.
 *
 * Limits: max_entries up to 2^24; capacity (bytes of keys and values)
 * up to 16 GiB.  Each half has room for capacity bytes plus 24 bytes of
 * record overhead per key, so a set that passes the max_entries and
 * capacity checks always fits after a compaction; the address space
 * reserved is about twice that (MAP_NORESERVE, touched as used, and the
 * scratch half is given back after each compaction).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "concur/process.h"
#include "internal/assert.h"
#include "internal/ctx.h"
#include "process/ipc_debug.h"
#include "process/shm.h"

#define SHD_MAGIC 0x53484443u      /* "SHDC" */
#define DEFAULT_ENTRIES 4096u
#define DEFAULT_CAPACITY ((size_t)16 << 20)
#define MAX_ENTRIES ((size_t)1 << 24)
#define MAX_CAPACITY ((size_t)16 << 30)
#define KEY_MAX 255u
#define REC_HDR 16u
#define REC_OVERHEAD 24u           /* header + worst padding, rounded */
#define SLOT_EMPTY 0u
#define SLOT_TOMB 1u
#define HEADER_BYTES 4096u         /* room for the header; the tables
                                      follow it */

/* A record's header, at an 8-aligned offset of a half. */
typedef struct rec {
    uint32_t hash;
    uint8_t keylen;                /* 1..255 */
    uint8_t pad[3];
    uint64_t vallen;
    /* key bytes, then value bytes */
} rec;

_Static_assert(sizeof(rec) == REC_HDR, "record header size");

/* The shared part; constants are set before any child exists. */
struct shd_shared {
    pthread_mutex_t mu;            /* robust; guards all of the below */
    uint64_t max_entries;          /* constant */
    uint64_t capacity;             /* key + value bytes; constant */
    uint64_t nslots;               /* power of two; constant */
    uint64_t half;                 /* bytes per data half; constant */
    uint64_t table_off[2];         /* from the mapping's start; constant */
    uint64_t data_off[2];          /* page aligned; constant */
    _Atomic uint32_t active;       /* primary: the live table and half */
    _Atomic uint64_t used[2];      /* primary (of the active half): bytes
                                      appended */
    uint64_t len;                  /* derived: live keys */
    uint64_t tombs;                /* derived: tombstones in the table */
    uint64_t live_bytes;           /* derived: record bytes of live keys */
    uint64_t payload;              /* derived: key + value bytes of them */
    _Atomic uint64_t repairs;      /* EOWNERDEAD repairs (tests) */
    _Atomic uint64_t compactions;  /* compactions made (tests) */
};

_Static_assert(sizeof(struct shd_shared) <= HEADER_BYTES, "header room");

/* This process's handle; children forked afterwards get copies. */
struct cc_shdict {
    uint32_t magic;                /* SHD_MAGIC while alive */
    struct shd_shared *sh;
    size_t map_len;
};

static bool shd_ok(const cc_shdict *d)
{
    return d != NULL && d->magic == SHD_MAGIC;
}

/* ---------------------------------------------------------------- access */

static _Atomic uint64_t *table(struct shd_shared *sh, unsigned which)
{
    return (_Atomic uint64_t *)(void *)((char *)sh + sh->table_off[which]);
}

static char *data(struct shd_shared *sh, unsigned which)
{
    return (char *)sh + sh->data_off[which];
}

static unsigned active_of(struct shd_shared *sh)
{
    return atomic_load_explicit(&sh->active, memory_order_acquire);
}

static uint64_t rec_size(uint64_t keylen, uint64_t vallen)
{
    return (REC_HDR + keylen + vallen + 7) & ~(uint64_t)7;
}

static uint64_t slot_encode(uint32_t hash, uint64_t off)
{
    return (uint64_t)hash << 32 | (off / 8 + 2);
}

static uint64_t slot_off(uint64_t v)
{
    return ((v & 0xffffffffu) - 2) * 8;
}

static bool slot_live(uint64_t v)
{
    return v > SLOT_TOMB;
}

static rec *rec_at(struct shd_shared *sh, unsigned which, uint64_t v)
{
    return (rec *)(void *)(data(sh, which) + slot_off(v));
}

static const char *rec_key(const rec *r)
{
    return (const char *)(r + 1);
}

static const char *rec_value(const rec *r)
{
    return (const char *)(r + 1) + r->keylen;
}

/* FNV-1a, 64 bits folded to 32. */
static uint32_t hash_key(const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ull;
    }
    return (uint32_t)(h ^ (h >> 32));
}

/* --------------------------------------------------------------- lookups */

typedef struct probe {
    bool found;
    uint64_t index;    /* found: the key's slot; else where to insert it */
} probe;

/* Find key in table `which` (mu held). */
static probe lookup(struct shd_shared *sh, unsigned which, const char *key,
                    size_t klen, uint32_t hash)
{
    _Atomic uint64_t *t = table(sh, which);
    uint64_t mask = sh->nslots - 1;
    uint64_t i = hash & mask;
    uint64_t tomb = UINT64_MAX;
    probe p = {false, 0};

    for (uint64_t n = 0; n < sh->nslots; n++, i = (i + 1) & mask) {
        uint64_t v = atomic_load_explicit(&t[i], memory_order_relaxed);

        if (v == SLOT_EMPTY) {
            p.index = tomb != UINT64_MAX ? tomb : i;
            return p;
        }
        if (v == SLOT_TOMB) {
            if (tomb == UINT64_MAX)
                tomb = i;
            continue;
        }
        if ((uint32_t)(v >> 32) == hash) {
            const rec *r = rec_at(sh, which, v);

            if (r->keylen == klen && memcmp(rec_key(r), key, klen) == 0) {
                p.found = true;
                p.index = i;
                return p;
            }
        }
    }
    /* Never full of live keys (<= half the slots), but the search must end
     * somewhere when tombstones fill the rest. */
    p.index = tomb;
    return p;
}

/* Insert into a table known not to hold the key and to have no
 * tombstones (a table being built). */
static void insert_fresh(struct shd_shared *sh, unsigned which, uint32_t hash,
                         uint64_t v)
{
    _Atomic uint64_t *t = table(sh, which);
    uint64_t mask = sh->nslots - 1;
    uint64_t i = hash & mask;

    while (atomic_load_explicit(&t[i], memory_order_relaxed) != SLOT_EMPTY)
        i = (i + 1) & mask;
    atomic_store_explicit(&t[i], v, memory_order_relaxed);
}

/* --------------------------------------------------- repair and recount */

typedef struct tally {
    uint64_t len;
    uint64_t tombs;
    uint64_t live_bytes;
    uint64_t payload;
} tally;

static tally recount(struct shd_shared *sh)
{
    unsigned a = active_of(sh);
    _Atomic uint64_t *t = table(sh, a);
    tally c = {0, 0, 0, 0};

    for (uint64_t i = 0; i < sh->nslots; i++) {
        uint64_t v = atomic_load_explicit(&t[i], memory_order_relaxed);
        const rec *r;

        if (v == SLOT_TOMB)
            c.tombs++;
        if (!slot_live(v))
            continue;
        r = rec_at(sh, a, v);
        c.len++;
        c.live_bytes += rec_size(r->keylen, r->vallen);
        c.payload += r->keylen + r->vallen;
    }
    return c;
}

/* mu held, its owner died: bring the derived counters back in line with
 * the primary state (whole by construction: see the top of the file). */
static void repair(void *arg)
{
    struct shd_shared *sh = arg;
    tally c = recount(sh);

    sh->len = c.len;
    sh->tombs = c.tombs;
    sh->live_bytes = c.live_bytes;
    sh->payload = c.payload;
    atomic_fetch_add_explicit(&sh->repairs, 1, memory_order_relaxed);
}

static int lock(struct shd_shared *sh)
{
    return cc__pmutex_lock(&sh->mu, repair, sh);
}

static void unlock(struct shd_shared *sh)
{
    cc__pmutex_unlock(&sh->mu);
}

/* ------------------------------------------------------------- lifecycle */

static uint64_t pow2_at_least(uint64_t n)
{
    uint64_t p = 8;

    while (p < n)
        p <<= 1;
    return p;
}

/* n rounded up to whole pages: the data halves are page aligned, so a
 * compaction can give the old half's pages back. */
static uint64_t page_up(uint64_t n)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

    return (n + page - 1) / page * page;
}

cc_shdict *cc_shdict_new(size_t max_entries, size_t capacity)
{
    struct shd_shared *sh;
    cc_shdict *d;
    uint64_t nslots;
    uint64_t half;
    uint64_t off;
    int rc;

    if (max_entries == 0)
        max_entries = DEFAULT_ENTRIES;
    if (capacity == 0)
        capacity = DEFAULT_CAPACITY;
    if (max_entries > MAX_ENTRIES)
        return cc__errf_null(EINVAL, "cc_shdict_new: max_entries %zu is "
                                     "above %zu", max_entries, MAX_ENTRIES);
    if (capacity > MAX_CAPACITY)
        return cc__errf_null(EINVAL, "cc_shdict_new: capacity %zu is above "
                                     "16 GiB", capacity);
    nslots = pow2_at_least(2 * (uint64_t)max_entries);
    half = page_up(((uint64_t)capacity + 7) / 8 * 8 +
                   REC_OVERHEAD * (uint64_t)max_entries);
    d = malloc(sizeof(*d));
    if (d == NULL)
        return cc__err_null(ENOMEM, "cc_shdict_new: out of memory");
    off = page_up(HEADER_BYTES + 2 * nslots * 8); /* the first half */
    d->map_len = (size_t)(off + 2 * half);
    sh = cc__shm_map(d->map_len, true);
    if (sh == NULL) {
        size_t len = d->map_len;
        int e = errno;

        free(d);
        return cc__errf_null(ENOMEM, "cc_shdict_new: cannot map %zu bytes "
                                     "of shared memory: %s",
                             len, strerror(e));
    }
    rc = cc__pmutex_init(&sh->mu);
    if (rc != 0) {
        cc__shm_unmap(sh, d->map_len);
        free(d);
        return cc__errf_null(rc, "cc_shdict_new: %s", strerror(rc));
    }
    sh->max_entries = max_entries;
    sh->capacity = capacity;
    sh->nslots = nslots;
    sh->half = half;
    for (unsigned i = 0; i < 2; i++) {
        sh->table_off[i] = HEADER_BYTES + i * nslots * 8;
        sh->data_off[i] = off + i * half;
    }
    d->sh = sh;
    d->magic = SHD_MAGIC;
    return d;
}

void cc_shdict_free(cc_shdict *d)
{
    if (!shd_ok(d))
        return;
    d->magic = 0;
    cc__shm_unmap(d->sh, d->map_len);
    free(d);
}

/* ------------------------------------------------------------ compaction */

/* A set, which a compaction may apply on the way. */
typedef struct change {
    const char *key;
    size_t klen;
    uint32_t hash;
    const void *val;
    size_t vlen;
    bool skip_found;               /* the key's old slot is not copied */
    uint64_t found_index;          /* ...which is this slot of the old table */
} change;

static uint64_t write_record(struct shd_shared *sh, unsigned which,
                             uint64_t off, const change *c)
{
    rec *r = (rec *)(void *)(data(sh, which) + off);

    r->hash = c->hash;
    r->keylen = (uint8_t)c->klen;
    memset(r->pad, 0, sizeof(r->pad));
    r->vallen = c->vlen;
    memcpy(r + 1, c->key, c->klen);
    if (c->vlen > 0)
        memcpy((char *)(r + 1) + c->klen, c->val, c->vlen);
    return rec_size(c->klen, c->vlen);
}

/*
 * Rebuild the live records into the scratch table and half, apply c, and
 * switch to them (mu held).  Fits by the checks the callers made first
 * (see the limits at the top).
 */
static void compact(struct shd_shared *sh, const change *c)
{
    unsigned a = active_of(sh);
    unsigned b = 1 - a;
    _Atomic uint64_t *from = table(sh, a);
    tally n = {0, 0, 0, 0};
    uint64_t p = 0;

    memset((void *)table(sh, b), 0, sh->nslots * 8);
    for (uint64_t i = 0; i < sh->nslots; i++) {
        uint64_t v = atomic_load_explicit(&from[i], memory_order_relaxed);
        const rec *r;
        uint64_t size;

        if (!slot_live(v) || (c->skip_found && i == c->found_index))
            continue;
        r = rec_at(sh, a, v);
        size = rec_size(r->keylen, r->vallen);
        memcpy(data(sh, b) + p, r, size);
        insert_fresh(sh, b, r->hash, slot_encode(r->hash, p));
        n.len++;
        n.payload += r->keylen + r->vallen;
        p += size;
    }
    insert_fresh(sh, b, c->hash, slot_encode(c->hash, p));
    p += write_record(sh, b, p, c);
    n.len++;
    n.payload += c->klen + c->vlen;
    atomic_store_explicit(&sh->used[b], p, memory_order_release);
    /* The commit point: one store makes the new table and half live. */
    atomic_store_explicit(&sh->active, b, memory_order_release);
    sh->len = n.len;
    sh->tombs = 0;
    sh->live_bytes = p;
    sh->payload = n.payload;
    atomic_fetch_add_explicit(&sh->compactions, 1, memory_order_relaxed);
    /* The old half is scratch now: give its pages back. */
    cc__shm_discard(data(sh, a), atomic_load_explicit(&sh->used[a],
                                                      memory_order_relaxed));
}

/* ------------------------------------------------------------ operations */

/* Check a key: its length (1..255), or 0 with EINVAL recorded. */
static size_t key_len(const char *key, const char *what)
{
    size_t n;

    if (key == NULL) {
        cc__errf(EINVAL, "%s: key is NULL", what);
        return 0;
    }
    n = strnlen(key, KEY_MAX + 1);
    if (n == 0 || n > KEY_MAX) {
        cc__errf(EINVAL, "%s: a key must be 1 to %u bytes long", what,
                 KEY_MAX);
        return 0;
    }
    return n;
}

static int lock_failed(int rc, const char *what)
{
    return cc__errf(rc, "%s: cannot lock the dict: %s", what, strerror(rc));
}

/* Store (mu held).  0, or ENOSPC with the error recorded. */
static int set_locked(struct shd_shared *sh, change *c)
{
    unsigned a = active_of(sh);
    _Atomic uint64_t *t = table(sh, a);
    probe p = lookup(sh, a, c->key, c->klen, c->hash);
    uint64_t old_size = 0;
    uint64_t old_payload = 0;
    uint64_t size = rec_size(c->klen, c->vlen);
    uint64_t used = atomic_load_explicit(&sh->used[a], memory_order_relaxed);
    bool into_tomb = false;
    bool slot_ok;

    CC__ASSERT(cc__pmutex_owned(&sh->mu));
    if (p.found) {
        const rec *r = rec_at(sh, a, atomic_load_explicit(
                                         &t[p.index], memory_order_relaxed));

        old_size = rec_size(r->keylen, r->vallen);
        old_payload = r->keylen + r->vallen;
    } else if (sh->len >= sh->max_entries) {
        return cc__errf(ENOSPC, "shared dict is full: it holds its maximum "
                                "of %llu keys",
                        (unsigned long long)sh->max_entries);
    }
    if (sh->payload - old_payload + c->klen + c->vlen > sh->capacity)
        return cc__errf(ENOSPC, "shared dict is full: %llu of %llu bytes of "
                                "keys and values in use, %zu more needed",
                        (unsigned long long)(sh->payload - old_payload),
                        (unsigned long long)sh->capacity, c->klen + c->vlen);
    if (!p.found)
        into_tomb = atomic_load_explicit(&t[p.index],
                                         memory_order_relaxed) == SLOT_TOMB;
    /* A new key into an empty slot raises the table's load: keep it at
     * most 3/4 (live keys alone are at most 1/2), so probes stay short. */
    slot_ok = p.found || into_tomb ||
              (sh->len + sh->tombs + 1) * 4 <= sh->nslots * 3;
    if (used + size > sh->half || !slot_ok) {
        c->skip_found = p.found;
        c->found_index = p.index;
        compact(sh, c);
        return 0;
    }
    write_record(sh, a, used, c);
    atomic_store_explicit(&sh->used[a], used + size, memory_order_release);
    /* The publishing store. */
    atomic_store_explicit(&t[p.index], slot_encode(c->hash, used),
                          memory_order_release);
    if (p.found) {
        sh->live_bytes -= old_size;
        sh->payload -= old_payload;
    } else {
        sh->len++;
        if (into_tomb)
            sh->tombs--;
    }
    sh->live_bytes += size;
    sh->payload += c->klen + c->vlen;
    return 0;
}

int cc_shdict_set_bytes(cc_shdict *d, const char *key, const void *p,
                        size_t len)
{
    change c = {0};
    int rc;

    if (!shd_ok(d))
        return cc__err(EINVAL, "cc_shdict_set: not a shared dict");
    c.klen = key_len(key, "cc_shdict_set");
    if (c.klen == 0)
        return -1;
    if (p == NULL && len > 0)
        return cc__err(EINVAL, "cc_shdict_set_bytes: p is NULL");
    if (len > d->sh->capacity)
        return cc__errf(ENOSPC, "shared dict: a value of %zu bytes can never "
                                "fit (capacity %llu bytes)",
                        len, (unsigned long long)d->sh->capacity);
    c.key = key;
    c.hash = hash_key(key, c.klen);
    c.val = p;
    c.vlen = len;
    rc = lock(d->sh);
    if (rc != 0)
        return lock_failed(rc, "cc_shdict_set");
    rc = set_locked(d->sh, &c);
    unlock(d->sh);
    return rc;
}

int cc_shdict_set(cc_shdict *d, const char *key, const void *blob)
{
    if (blob != NULL && !cc_blob_is(blob))
        return cc__err(EINVAL, "cc_shdict_set: not a blob (use "
                               "cc_shdict_set_bytes for plain memory)");
    return cc_shdict_set_bytes(d, key, blob, blob ? cc_blob_len(blob) : 0);
}

int cc_shdict_get(cc_shdict *d, const char *key, void **blob)
{
    struct shd_shared *sh;
    size_t klen;
    unsigned a;
    probe p;
    int rc;

    if (!shd_ok(d))
        return cc__err(EINVAL, "cc_shdict_get: not a shared dict");
    if (blob == NULL)
        return cc__err(EINVAL, "cc_shdict_get: blob is NULL");
    klen = key_len(key, "cc_shdict_get");
    if (klen == 0)
        return -1;
    sh = d->sh;
    rc = lock(sh);
    if (rc != 0)
        return lock_failed(rc, "cc_shdict_get");
    a = active_of(sh);
    p = lookup(sh, a, key, klen, hash_key(key, klen));
    if (!p.found) {
        unlock(sh);
        return cc__errf(ENOENT, "shared dict: no key '%s'", key);
    }
    {
        const rec *r = rec_at(sh, a, atomic_load_explicit(
                                         &table(sh, a)[p.index],
                                         memory_order_relaxed));

        *blob = cc_blob_dup(rec_value(r), (size_t)r->vallen);
    }
    unlock(sh);
    if (*blob == NULL)
        return cc__err(ENOMEM, "cc_shdict_get: out of memory for the value");
    return 0;
}

int cc_shdict_delete(cc_shdict *d, const char *key)
{
    struct shd_shared *sh;
    _Atomic uint64_t *t;
    uint64_t next;
    uint64_t size;
    uint64_t payload;
    size_t klen;
    unsigned a;
    const rec *r;
    probe p;
    int rc;

    if (!shd_ok(d))
        return cc__err(EINVAL, "cc_shdict_delete: not a shared dict");
    klen = key_len(key, "cc_shdict_delete");
    if (klen == 0)
        return -1;
    sh = d->sh;
    rc = lock(sh);
    if (rc != 0)
        return lock_failed(rc, "cc_shdict_delete");
    a = active_of(sh);
    t = table(sh, a);
    p = lookup(sh, a, key, klen, hash_key(key, klen));
    if (!p.found) {
        unlock(sh);
        return cc__errf(ENOENT, "shared dict: no key '%s'", key);
    }
    r = rec_at(sh, a, atomic_load_explicit(&t[p.index], memory_order_relaxed));
    size = rec_size(r->keylen, r->vallen);
    payload = r->keylen + r->vallen;
    /* A slot followed by an empty one ends every probe path through it,
     * so it may become empty itself; otherwise it must stay a tombstone. */
    next = atomic_load_explicit(&t[(p.index + 1) & (sh->nslots - 1)],
                                memory_order_relaxed);
    atomic_store_explicit(&t[p.index],
                          next == SLOT_EMPTY ? SLOT_EMPTY : SLOT_TOMB,
                          memory_order_release);
    if (next != SLOT_EMPTY)
        sh->tombs++;
    sh->len--;
    sh->live_bytes -= size;
    sh->payload -= payload;
    unlock(sh);
    return 0;
}

size_t cc_shdict_len(cc_shdict *d)
{
    size_t n;

    if (!shd_ok(d) || lock(d->sh) != 0)
        return 0;
    n = (size_t)d->sh->len;
    unlock(d->sh);
    return n;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void cc_shdict_keys_free(char **keys, size_t n)
{
    if (keys == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        cc_blob_free(keys[i]);
    free(keys);
}

int cc_shdict_keys(cc_shdict *d, char ***keys, size_t *n)
{
    struct shd_shared *sh;
    _Atomic uint64_t *t;
    char **out;
    size_t got = 0;
    unsigned a;
    int rc;

    if (!shd_ok(d))
        return cc__err(EINVAL, "cc_shdict_keys: not a shared dict");
    if (keys == NULL || n == NULL)
        return cc__err(EINVAL, "cc_shdict_keys: keys or n is NULL");
    sh = d->sh;
    rc = lock(sh);
    if (rc != 0)
        return lock_failed(rc, "cc_shdict_keys");
    a = active_of(sh);
    t = table(sh, a);
    out = malloc((sh->len > 0 ? sh->len : 1) * sizeof(*out));
    if (out == NULL)
        goto err_nomem;
    for (uint64_t i = 0; i < sh->nslots && got < sh->len; i++) {
        uint64_t v = atomic_load_explicit(&t[i], memory_order_relaxed);
        const rec *r;

        if (!slot_live(v))
            continue;
        r = rec_at(sh, a, v);
        out[got] = cc_blob_dup(rec_key(r), r->keylen);
        if (out[got] == NULL)
            goto err_free_out;
        got++;
    }
    unlock(sh);
    qsort(out, got, sizeof(*out), cmp_keys);
    *keys = out;
    *n = got;
    return 0;
err_free_out:
    cc_shdict_keys_free(out, got);
err_nomem:
    unlock(sh);
    return cc__err(ENOMEM, "cc_shdict_keys: out of memory");
}

/* ----------------------------------------------------------- test hooks */

int cc__shdict_check(cc_shdict *d)
{
    struct shd_shared *sh;
    _Atomic uint64_t *t;
    uint64_t used;
    unsigned a;
    tally c;
    int rc;

    if (!shd_ok(d))
        return cc__err(EINVAL, "cc__shdict_check: not a shared dict");
    sh = d->sh;
    rc = lock(sh);
    if (rc != 0)
        return lock_failed(rc, "cc__shdict_check");
    a = active_of(sh);
    t = table(sh, a);
    used = atomic_load_explicit(&sh->used[a], memory_order_relaxed);
    for (uint64_t i = 0; i < sh->nslots; i++) {
        uint64_t v = atomic_load_explicit(&t[i], memory_order_relaxed);
        const rec *r;
        probe p;

        if (!slot_live(v))
            continue;
        if (slot_off(v) + REC_HDR > used)
            goto bad_slot;
        r = rec_at(sh, a, v);
        if (slot_off(v) + rec_size(r->keylen, r->vallen) > used ||
            r->keylen == 0 || r->hash != (uint32_t)(v >> 32) ||
            hash_key(rec_key(r), r->keylen) != r->hash)
            goto bad_slot;
        p = lookup(sh, a, rec_key(r), r->keylen, r->hash);
        if (!p.found || p.index != i)
            goto bad_slot;
        continue;
bad_slot:
        unlock(sh);
        return cc__errf(EPROTO, "shared dict: slot %llu holds a bad record",
                        (unsigned long long)i);
    }
    c = recount(sh);
    if (c.len != sh->len || c.tombs != sh->tombs ||
        c.live_bytes != sh->live_bytes || c.payload != sh->payload) {
        unlock(sh);
        return cc__errf(EPROTO, "shared dict: counters (%llu keys, %llu "
                                "tombstones, %llu/%llu bytes) differ from a "
                                "recount (%llu, %llu, %llu/%llu)",
                        (unsigned long long)sh->len,
                        (unsigned long long)sh->tombs,
                        (unsigned long long)sh->live_bytes,
                        (unsigned long long)sh->payload,
                        (unsigned long long)c.len,
                        (unsigned long long)c.tombs,
                        (unsigned long long)c.live_bytes,
                        (unsigned long long)c.payload);
    }
    unlock(sh);
    return 0;
}

uint64_t cc__shdict_repairs(cc_shdict *d)
{
    if (!shd_ok(d))
        return 0;
    return atomic_load_explicit(&d->sh->repairs, memory_order_relaxed);
}

uint64_t cc__shdict_compactions(cc_shdict *d)
{
    if (!shd_ok(d))
        return 0;
    return atomic_load_explicit(&d->sh->compactions, memory_order_relaxed);
}
