/*
 * tls.c - cc_tls, one value per thread (sync layer).
 *
 * A thin, checked wrapper over a pthread key: the key's destructor runs on a
 * thread's non-NULL value when that thread exits.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "concur/sync.h"
#include "internal/error.h"

#define TLS_MAGIC 0x544c5356u /* "TLSV" */

struct cc_tls {
    uint32_t magic;      /* TLS_MAGIC while alive */
    pthread_key_t key;
};

static bool tls_ok(const cc_tls *t)
{
    return t != NULL && t->magic == TLS_MAGIC;
}

cc_tls *cc_tls_new(void (*destructor)(void *value))
{
    cc_tls *t = malloc(sizeof(*t));
    int rc;

    if (t == NULL)
        return cc__err_null(ENOMEM, "cc_tls_new: out of memory");
    rc = pthread_key_create(&t->key, destructor);
    if (rc != 0) {
        free(t);
        return cc__errf_null(rc, "cc_tls_new: pthread_key_create: %s",
                             rc == EAGAIN ? "no thread-local keys left"
                                          : "out of memory");
    }
    t->magic = TLS_MAGIC;
    return t;
}

void *cc_tls_get(cc_tls *t)
{
    if (!tls_ok(t))
        return cc__err_null(EINVAL, "cc_tls_get: not a cc_tls");
    return pthread_getspecific(t->key);
}

int cc_tls_set(cc_tls *t, void *value)
{
    int rc;

    if (!tls_ok(t))
        return cc__err(EINVAL, "cc_tls_set: not a cc_tls");
    rc = pthread_setspecific(t->key, value);
    if (rc != 0)
        return cc__err(rc, "cc_tls_set: out of memory");
    return 0;
}

void cc_tls_free(cc_tls *t)
{
    if (!tls_ok(t))
        return;
    t->magic = 0;
    pthread_key_delete(t->key);
    free(t);
}
