/*
 * session.c - requests from plain threads: each thread keeps one curl
 * easy handle (its "session", the seeds' thread-local requests.Session),
 * whose connection cache carries kept-alive connections from one request
 * to the next (http layer).
 *
 * The handle is made on the thread's first request, reset (not remade)
 * for each next one -- curl_easy_reset keeps the live connections, the
 * DNS and TLS session caches -- and closed at thread exit by the key's
 * destructor, or earlier by cc_http_thread_cleanup.  The deadline (the
 * call's timeout clamped to the deadline scopes) becomes curl's own
 * CURLOPT_TIMEOUT_MS, so curl itself stops at it: a plain thread cannot
 * be cancelled, so there is nothing else to watch while it runs.
 */
#include <pthread.h>

#include "http/xfer.h"
#include "internal/error.h"

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t session_key;
static bool key_ok;

/* Thread exit: close the thread's connections. */
static void session_free(void *e)
{
    curl_easy_cleanup(e);
}

static void key_init(void)
{
    key_ok = pthread_key_create(&session_key, session_free) == 0;
}

static CURL *session_get(void)
{
    CURL *e;

    pthread_once(&key_once, key_init);
    if (!key_ok)
        return NULL;
    e = pthread_getspecific(session_key);
    if (e != NULL) {
        curl_easy_reset(e);
        return e;
    }
    e = curl_easy_init();
    if (e != NULL && pthread_setspecific(session_key, e) != 0) {
        curl_easy_cleanup(e);
        e = NULL;
    }
    return e;
}

cc_http_response *cc__http_thread_request(const char *url,
                                          const cc_http_opts *opts)
{
    CURL *e = session_get();
    http_xfer x;
    cc_http_response *r = NULL;

    if (e == NULL)
        return cc__err_null(ENOMEM, "cc_http_request: cannot make a curl "
                                    "handle");
    if (cc__xfer_setup(&x, e, url, opts) == 0)
        r = cc__xfer_finish(&x, e, curl_easy_perform(e));
    cc__xfer_release(&x);
    /* The handle must not keep pointers into this call's memory (the
     * error buffer on this stack, the caller's body) between requests. */
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    return r;
}

void cc_http_thread_cleanup(void)
{
    CURL *e;

    pthread_once(&key_once, key_init);
    if (!key_ok)
        return;
    e = pthread_getspecific(session_key);
    if (e != NULL) {
        pthread_setspecific(session_key, NULL);
        curl_easy_cleanup(e);
    }
}
