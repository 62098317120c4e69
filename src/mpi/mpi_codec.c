/*
 * mpi_codec.c - the MPI executor's message pieces: the byte buffer and
 * reader, function references (module path + offset), error chains, the
 * build id every rank reports at start, and the idle nap.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mpi/mpi_int.h"

/* ------------------------------------------------------------ buffer -- */

void cc__mbuf_put(cc__mbuf *b, const void *p, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (d == NULL) {
            b->failed = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

void cc__mbuf_u64(cc__mbuf *b, uint64_t v)
{
    cc__mbuf_put(b, &v, sizeof v);
}

void cc__mbuf_free(cc__mbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

const char *cc__mrd_bytes(cc__mrd *r, size_t n)
{
    const char *p = r->p;

    if (r->bad || n > r->left) {
        r->bad = true;
        return NULL;
    }
    r->p += n;
    r->left -= n;
    return p;
}

uint64_t cc__mrd_u64(cc__mrd *r)
{
    uint64_t v = 0;
    const char *p = cc__mrd_bytes(r, sizeof v);

    if (p != NULL)
        memcpy(&v, p, sizeof v);
    return v;
}

/* ------------------------------------------------ function references -- */

typedef struct find {
    uintptr_t addr;      /* in: the address (by address) */
    const char *path;    /* in: the module (by path; "" the executable) */
    bool first;          /* the first module is the executable */
    bool found;
    uintptr_t bias;
    const char *name;
} find;

static int by_addr(struct dl_phdr_info *info, size_t size, void *data)
{
    find *f = data;
    bool first = f->first;

    (void)size;
    f->first = false;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) &&
            f->addr >= lo && f->addr < lo + ph->p_memsz) {
            f->found = true;
            f->bias = info->dlpi_addr;
            f->name = first ? "" : info->dlpi_name;
            return 1;
        }
    }
    return 0;
}

static int by_path(struct dl_phdr_info *info, size_t size, void *data)
{
    find *f = data;
    bool first = f->first;

    (void)size;
    f->first = false;
    if ((f->path[0] == '\0' && first) ||
        (f->path[0] != '\0' && strcmp(info->dlpi_name, f->path) == 0)) {
        f->found = true;
        f->bias = info->dlpi_addr;
        return 1;
    }
    return 0;
}

int cc__mpi_fnref_put(cc__mbuf *b, cc_fn fn)
{
    find f = { .first = true };
    uint16_t len;

    memcpy(&f.addr, &fn, sizeof f.addr);
    dl_iterate_phdr(by_addr, &f);
    if (!f.found || strlen(f.name) > UINT16_MAX) {
        cc_fail(EINVAL, "cc_submit: the task function %p lies in no loaded "
                "module's code", (void *)f.addr);
        return -1;
    }
    len = (uint16_t)strlen(f.name);
    cc__mbuf_u64(b, (uint64_t)(f.addr - f.bias));
    cc__mbuf_put(b, &len, sizeof len);
    cc__mbuf_put(b, f.name, len);
    return 0;
}

cc_fn cc__mpi_fnref_get(cc__mrd *r, cc_error **err)
{
    uint64_t offset = cc__mrd_u64(r);
    uint16_t len = 0;
    const char *p = cc__mrd_bytes(r, sizeof len);
    char path[4096];
    find f = { .path = path, .first = true };
    uintptr_t addr;
    cc_fn fn;

    if (p != NULL)
        memcpy(&len, p, sizeof len);
    p = cc__mrd_bytes(r, len);
    if (p == NULL || len >= sizeof path) {
        *err = cc_error_new(EPROTO, NULL, "malformed function reference");
        return NULL;
    }
    memcpy(path, p, len);
    path[len] = '\0';
    dl_iterate_phdr(by_path, &f);
    if (!f.found && len > 0 && dlopen(path, RTLD_NOW | RTLD_GLOBAL) != NULL) {
        f.first = true;
        dl_iterate_phdr(by_path, &f);
    }
    if (!f.found) {
        *err = cc_error_new(EINVAL, NULL, "task function not found: module "
                            "'%s' (%s) cannot be loaded", path,
                            len ? "a shared library" : "the executable");
        return NULL;
    }
    addr = f.bias + (uintptr_t)offset;
    memcpy(&fn, &addr, sizeof fn);
    return fn;
}

/* ----------------------------------------------------- error chains -- */

void cc__mpi_error_put(cc__mbuf *b, const cc_error *e)
{
    uint64_t depth = 0;

    for (const cc_error *c = e; c != NULL; c = cc_error_cause(c))
        depth++;
    cc__mbuf_u64(b, depth);
    for (const cc_error *c = e; c != NULL; c = cc_error_cause(c)) {
        const char *msg = cc_error_message(c);
        const char *where = cc_error_where(c);
        cc__mbuf_u64(b, (uint64_t)(int64_t)cc_error_code(c));
        cc__mbuf_u64(b, strlen(msg));
        cc__mbuf_put(b, msg, strlen(msg));
        where = where ? where : "";
        cc__mbuf_u64(b, strlen(where));
        cc__mbuf_put(b, where, strlen(where));
    }
}

typedef struct piece {
    int code;
    const char *msg, *where;
    size_t msg_len, where_len;
} piece;

cc_error *cc__mpi_error_get(cc__mrd *r, const char *suffix)
{
    uint64_t depth = cc__mrd_u64(r);
    piece *pc;
    cc_error *e = NULL;

    if (r->bad || depth == 0 || depth > 1024)
        return cc_error_new(EPROTO, NULL, "malformed error%s", suffix);
    pc = calloc(depth, sizeof *pc);
    if (pc == NULL)
        return cc_error_new(ENOMEM, NULL, "out of memory%s", suffix);
    for (uint64_t i = 0; i < depth; i++) {
        pc[i].code = (int)(int64_t)cc__mrd_u64(r);
        pc[i].msg_len = cc__mrd_u64(r);
        pc[i].msg = cc__mrd_bytes(r, pc[i].msg_len);
        pc[i].where_len = cc__mrd_u64(r);
        pc[i].where = cc__mrd_bytes(r, pc[i].where_len);
    }
    if (r->bad) {
        free(pc);
        return cc_error_new(EPROTO, NULL, "malformed error%s", suffix);
    }
    for (uint64_t i = depth; i-- > 0;) {
        cc_error *next;
        int code = pc[i].code > 0 ? pc[i].code : EIO;
        next = cc_error_new(code, e, "%.*s%s", (int)pc[i].msg_len, pc[i].msg,
                            i == 0 ? suffix : "");
        cc_error_free(e);
        e = next;
        if (e == NULL)
            break;
    }
    free(pc);
    return e ? e : cc_error_new(ENOMEM, NULL, "out of memory%s", suffix);
}

/* --------------------------------------------------------- build id -- */

static uint64_t hash_file(const char *path)
{
    uint64_t h = 1469598103934665603ull;
    char buf[65536];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return 0;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++)
            h = (h ^ (unsigned char)buf[i]) * 1099511628211ull;
    close(fd);
    return h;
}

void cc__mpi_build_id(int rank, uint64_t id[2])
{
    Dl_info info;
    const char *hook = getenv("CONCUR_MPI_TEST_BUILD_ID_RANK");
    void *sym = (void *)cc_submit;

    id[0] = hash_file("/proc/self/exe");
    id[1] = dladdr(sym, &info) && info.dli_fname ? hash_file(info.dli_fname)
                                                 : 0;
    if (hook != NULL && *hook != '\0' && atoi(hook) == rank)
        id[0] ^= 0x5a5a5a5a5a5a5a5aull;
}

void cc__mpi_nap(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
