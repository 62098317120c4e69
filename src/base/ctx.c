/*
 * ctx.c - per-thread execution contexts (base layer).
 *
 * Each thread gets one cc__ctx in static TLS the first time it touches the
 * library.  A pthread key with a destructor frees the error chains the
 * context owns when a thread that used the library exits.  A context is
 * touched only by the thread running it: no locking.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal/ctx.h"
#include "internal/vg.h"

__thread cc__ctx *cc__cur __attribute__((tls_model("initial-exec")));
__thread char cc__thread_anchor __attribute__((tls_model("initial-exec")));
static __thread cc__ctx thread_ctx __attribute__((tls_model("initial-exec")));

static pthread_key_t ctx_key;
static pthread_once_t ctx_key_once = PTHREAD_ONCE_INIT;

static void ctx_key_destroy(void *p)
{
    cc__ctx_release(p);
}

static void ctx_key_create(void)
{
    /* Failure only loses the exit-time cleanup of error chains. */
    (void)pthread_key_create(&ctx_key, ctx_key_destroy);
    CC__VG_RELEASE(&ctx_key_once); /* see CC__VG_ONCE_DONE */
}

void cc__ctx_release(cc__ctx *c)
{
    if (c->last_heap != NULL) {
        cc_error_free(c->last_heap);
        c->last_heap = NULL;
    }
    if (c->pending != NULL) {
        cc_error_free(c->pending);
        c->pending = NULL;
    }
    c->last_is_pending = false;
}

const char *cc__ctx_name(cc__ctx *c)
{
    if (c->name[0] == '\0' && c->number != 0)
        snprintf(c->name, sizeof(c->name), "Task-%llu",
                 (unsigned long long)c->number);
    return c->name;
}

void cc__ctx_set_name(cc__ctx *c, const char *name)
{
    snprintf(c->name, sizeof(c->name), "%s", name != NULL ? name : "");
}

cc__ctx *cc__ctx_init_thread(void)
{
    cc__ctx *c = &thread_ctx;

    memset(c, 0, sizeof(*c));
    c->last.kind = CC__ERR_EMBEDDED;
    c->last.message = "";
    c->last.where = "";
    if (syscall(SYS_gettid) == getpid()) {
        cc__ctx_set_name(c, "MainThread");
    } else {
        char os_name[16] = "";

        pthread_getname_np(pthread_self(), os_name, sizeof(os_name));
        cc__ctx_set_name(c, os_name);
    }
    pthread_once(&ctx_key_once, ctx_key_create);
    CC__VG_ONCE_DONE(&ctx_key_once);
    pthread_setspecific(ctx_key, c);
    cc__cur = c;
    return c;
}

cc__ctx *cc__ctx_child_fresh(void)
{
    cc__ctx_release(&thread_ctx); /* this process's copy of the chains */
    return cc__ctx_init_thread();
}
