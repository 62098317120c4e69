/*
 * server.h - the cc_server record and its connections (private to
 * src/net/).
 *
 * A server owns its listening sockets, its acceptor (tasks on the caller's
 * loop in TASKS mode, one per listening socket; a thread otherwise) and a
 * record per connection.  `mu` (an internal mutex, held for a few
 * instructions and never across a wait or user code) guards the state,
 * the lists and the counts.  A connection is on `live` from its accept
 * until its stream is closed, then on `zombies` until whoever reaps it has
 * waited for its task, thread or job to end -- only then is the record
 * freed, so nothing frees memory a handler's thread may still touch.
 *
 * Who runs a connection is decided once, by a compare-and-swap on
 * `claimed`: the connection's own task/thread/job (CLAIM_RUN: it calls the
 * handler) or the closing server (CLAIM_CLOSER: a task cancelled before it
 * started, a pool job that never ran; the handler never runs).
 *
 * Lock order: srv->mu, then a stream's wmu (cancelling a live stream);
 * never the reverse.
 */
#ifndef CC_NET_SERVER_H
#define CC_NET_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "concur/aio.h"
#include "concur/net.h"
#include "concur/sync.h"
#include "internal/list.h"
#include "internal/lock.h"
#include "internal/mutex.h"
#include "net/addr.h"

#define CC__SERVER_MAGIC 0x53525652u /* "SRVR" */

/* A TASKS handler's stack by default: ordinary C such as a 64 KiB buffer
 * on the stack must not overflow it, and it costs only address space (a
 * page is committed when touched).  A 200 KiB frame fits, with room for
 * the calls it makes. */
#define CC__HANDLER_STACK (256u * 1024)
#define CC__HANDLER_STACK_MAX ((size_t)1 << 30) /* cc_serve refuses more */

enum { CC__SRV_OPEN, CC__SRV_CLOSING, CC__SRV_CLOSED };
enum { CC__CLAIM_NONE, CC__CLAIM_RUN, CC__CLAIM_CLOSER };

typedef struct cc__conn {
    cc__link link;              /* in srv->live or srv->zombies; srv->mu */
    struct cc__conn *orphan;    /* cc_server_close's list of connections
                                   it ends itself (its own stack frame) */
    cc_server *srv;
    cc_stream *s;               /* NULL once closed; srv->mu */
    cc_future *f;               /* TASKS: the task; POOL: the job */
    cc_thread *t;               /* THREADS: the thread */
    _Atomic int claimed;        /* CC__CLAIM_* */
    pthread_t runner;           /* the thread running the handler; written
                                   before claimed becomes CLAIM_RUN */
} cc__conn;

/* One listening socket and, in TASKS mode, the task accepting on it. */
typedef struct cc__listener {
    cc_server *srv;
    int fd;
    cc_future *task;
} cc__listener;

struct cc_server {
    uint32_t magic;             /* CC__SERVER_MAGIC until cc_server_free */
    _Atomic int refs;           /* the owner's + one per close or wait in
                                   progress: the last one frees, so a close
                                   still returning from its final event_set
                                   never meets a freed server */
    cc_serve_mode mode;         /* TASKS, THREADS or POOL (AUTO resolved) */
    cc_stream_handler handler;
    void *arg;
    cc_executor *pool;          /* POOL */
    void (*on_error)(cc_server *, const char *, const cc_error *, void *);
    size_t limit;               /* accepted streams' line limit */
    double flush_timeout;       /* a finished handler's output may take */
    size_t stack_size;          /* TASKS: each handler task's stack */
    int port;                   /* bound port (0 for UNIX) */
    char *unix_path;            /* the socket file we made, or NULL */
    dev_t unix_dev;             /* ... its identity, so that close removes */
    ino_t unix_ino;             /*     only our own file */
    int nlisten;
    cc__listener listen[CC__ADDRS_MAX];
    cc_thread *acceptor;        /* THREADS, POOL */
    int wakefd;                 /* eventfd that stops the acceptor thread */
    _Atomic bool stopping;      /* the acceptor thread must stop */
    cc_sem *slots;              /* max_connections units, or NULL */
    _Atomic bool close_started; /* cc_server_close ran (once) */

    cc__mutex mu;               /* guards what follows */
    int state;                  /* CC__SRV_* */
    cc__list live;              /* cc__conn: handlers running (or about to) */
    size_t nlive;
    cc__list zombies;           /* cc__conn: ended, not yet reaped */
    size_t drain_target;        /* the closer waits for nlive <= this */

    cc_event *drained;          /* set: closing and nlive <= drain_target */
    cc_event *empty;            /* set: closing and nlive == 0 */
    cc_event *closed;           /* set: cc_server_close has finished */
    struct cc_lock report;      /* one on_error call at a time */
};

/* --- listen.c --- */

/* Open the listening sockets (host:port, or opts->unix_path) into srv.
 * 0, or -1 with the error recorded. */
int cc__server_listen(cc_server *srv, const char *host, int port,
                      const cc_serve_opts *opts);

/* Close the listening sockets and remove the UNIX socket file. */
void cc__server_unlisten(cc_server *srv);

/* --- accept.c --- */

/* Start accepting: the acceptor tasks or thread.  0, or -1 recorded. */
int cc__server_start(cc_server *srv);

/* Stop accepting and wait until the acceptors have left (the caller has
 * set the state to CLOSING). */
void cc__server_stop(cc_server *srv);

/* End a connection whose handler never ran (claimed by the closer). */
void cc__conn_end(cc__conn *c);

/* Wait for the zombies' tasks/threads/jobs (wait: all of them; else only
 * those already done) and free their records. */
void cc__server_reap(cc_server *srv, bool wait);

/* Wait for a future or an event that must be waited out, even in a
 * cancelled task. */
void cc__wait_future_hold(cc_future *f);
void cc__wait_event_hold(cc_event *e);

#endif
