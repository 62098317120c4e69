/*
 * resolve.c - host names to socket addresses (net layer).
 *
 * IPv4 and IPv6 literals are parsed in place (no system call, no thread).
 * Names go to getaddrinfo, which may block for as long as DNS takes: from
 * a coroutine it runs on the loop's default executor (cc_to_thread) and
 * only the task waits, bounded by its timeout and cancellable; the request
 * is reference-counted, so a job that outlives an impatient caller cleans
 * up after itself.  From a plain thread getaddrinfo is called directly
 * (it cannot be interrupted, so the timeout does not bound it).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/aio.h"
#include "internal/clock.h"
#include "internal/error.h"
#include "net/addr.h"

/* A getaddrinfo on a pool thread; the caller and the job each hold a
 * reference, the last one frees. */
typedef struct gai_job {
    _Atomic int refs;
    bool passive;
    int rc;                 /* getaddrinfo's return */
    int sys_errno;          /* errno for EAI_SYSTEM */
    struct addrinfo *res;
    char host[];            /* the name */
} gai_job;

static void job_unref(gai_job *j)
{
    if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) == 1) {
        if (j->res != NULL)
            freeaddrinfo(j->res);
        free(j);
    }
}

static void run_gai(gai_job *j)
{
    struct addrinfo hints;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = j->passive ? AI_PASSIVE : 0;
    j->rc = getaddrinfo(j->host, NULL, &hints, &j->res);
    j->sys_errno = errno;
}

static void *gai_on_thread(void *arg)
{
    gai_job *j = arg;

    run_gai(j);
    job_unref(j);
    return arg; /* not NULL: the job did not fail */
}

/* The errno and message for a getaddrinfo failure. */
static int lookup_error(const gai_job *j, const char *what)
{
    switch (j->rc) {
    case EAI_MEMORY:
        return cc__errf(ENOMEM, "%s: cannot resolve '%s': out of memory",
                        what, j->host);
    case EAI_SYSTEM:
        return cc__errf(j->sys_errno ? j->sys_errno : EIO,
                        "%s: cannot resolve '%s': %s", what, j->host,
                        strerror(j->sys_errno));
    case EAI_FAMILY:
    case EAI_SOCKTYPE:
    case EAI_BADFLAGS:
    case EAI_SERVICE:
        return cc__errf(EINVAL, "%s: cannot resolve '%s': %s", what, j->host,
                        gai_strerror(j->rc));
    default: /* EAI_NONAME, EAI_NODATA, EAI_AGAIN, EAI_FAIL, ... */
        return cc__errf(ENOENT, "%s: cannot resolve '%s': %s", what, j->host,
                        gai_strerror(j->rc));
    }
}

/* Copy getaddrinfo's answers (IPv4 and IPv6 only, no duplicates). */
static void take_results(const struct addrinfo *res, int port,
                         cc__addrs *out)
{
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        bool dup = false;

        if (out->n == CC__ADDRS_MAX)
            break;
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof(out->addr[0]))
            continue;
        for (size_t i = 0; i < out->n && !dup; i++)
            dup = out->len[i] == ai->ai_addrlen &&
                  memcmp(&out->addr[i], ai->ai_addr, ai->ai_addrlen) == 0;
        if (dup)
            continue;
        memcpy(&out->addr[out->n], ai->ai_addr, ai->ai_addrlen);
        out->len[out->n] = ai->ai_addrlen;
        cc__addr_set_port(&out->addr[out->n], port);
        out->n++;
    }
}

void cc__addr_set_port(struct sockaddr_storage *ss, int port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

/* A literal address, parsed in place: true when host was one. */
static bool parse_literal(const char *host, int port, cc__addrs *out)
{
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    char buf[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(host);

    memset(&in4, 0, sizeof(in4));
    memset(&in6, 0, sizeof(in6));
    if (inet_pton(AF_INET, host, &in4.sin_addr) == 1) {
        in4.sin_family = AF_INET;
        memcpy(&out->addr[0], &in4, sizeof(in4));
        out->len[0] = sizeof(in4);
    } else {
        if (n >= 2 && host[0] == '[' && host[n - 1] == ']' &&
            n - 2 < sizeof(buf)) { /* "[::1]" as well as "::1" */
            memcpy(buf, host + 1, n - 2);
            buf[n - 2] = '\0';
            host = buf;
        }
        if (inet_pton(AF_INET6, host, &in6.sin6_addr) != 1)
            return false;
        in6.sin6_family = AF_INET6;
        memcpy(&out->addr[0], &in6, sizeof(in6));
        out->len[0] = sizeof(in6);
    }
    out->n = 1;
    cc__addr_set_port(&out->addr[0], port);
    return true;
}

int cc__resolve(const char *host, int port, bool passive, double timeout,
                int64_t deadline, cc__addrs *out, const char *what)
{
    size_t len = strlen(host);
    gai_job *j;
    int rc = 0;

    out->n = 0;
    if (parse_literal(host, port, out))
        return 0;
    j = malloc(sizeof(*j) + len + 1);
    if (j == NULL)
        return cc__errf(ENOMEM, "%s: out of memory", what);
    atomic_init(&j->refs, 1);
    j->passive = passive;
    j->res = NULL;
    j->rc = 0;
    j->sys_errno = 0;
    memcpy(j->host, host, len + 1);
    if (cc_current_task() == NULL) {
        run_gai(j);
    } else {
        cc_future *f;
        double left = CC_FOREVER;

        atomic_fetch_add_explicit(&j->refs, 1, memory_order_relaxed);
        f = cc_to_thread(gai_on_thread, j);
        if (f == NULL) {
            job_unref(j); /* the job's reference: it never runs */
            job_unref(j);
            return cc__errf(errno, "%s: cannot start the name lookup: %s",
                            what, cc_errmsg());
        }
        if (deadline != CC__NS_FOREVER) {
            int64_t ns = deadline - cc__now_ns();

            left = ns > 0 ? (double)ns / 1e9 : 0;
        }
        if (cc_future_result(f, NULL, left) != 0) {
            int e = errno;

            /* The lookup goes on and frees its job when done. */
            cc_future_free(f);
            job_unref(j);
            if (e == EAGAIN || e == ETIMEDOUT)
                return cc__errf(timeout == 0 ? EAGAIN : ETIMEDOUT,
                                "%s: resolving '%s' timed out", what, host);
            if (e == ECANCELED)
                return cc__errf(ECANCELED, "%s: the task was cancelled while "
                                           "resolving '%s'", what, host);
            return cc__errf(e, "%s: resolving '%s': %s", what, host,
                            cc_errmsg());
        }
        cc_future_free(f);
    }
    if (j->rc != 0)
        rc = lookup_error(j, what);
    else
        take_results(j->res, port, out);
    if (rc == 0 && out->n == 0)
        rc = cc__errf(ENOENT, "%s: '%s' has no IPv4 or IPv6 address", what,
                      host);
    job_unref(j);
    return rc;
}
