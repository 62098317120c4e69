/*
 * tools/concur/fetch.h - the fetch engine of the `concur` tool: fetch many
 * URLs in one of five concurrency models, with a rate limit, a timeout per
 * attempt, retries with exponential backoff (honouring Retry-After), and a
 * whole-word search of the bodies.  `concur fetch` (fetch_cmd.c) and the
 * tour's network scenarios (tour_io.c) both run on it.  Internal to the
 * tool; not part of the library.
 *
 * Files: fetch_text.c (URL check, word search, Retry-After), fetch_one.c
 * (one URL: attempts, retries, backoff), fetch_wire.c (an attempt in a
 * worker process, as blobs), fetch_run.c (the five models),
 * fetch_report.c (progress, status lines, summary), fetch_cmd.c (the
 * command line).
 */
#ifndef CONCUR_TOOL_FETCH_H
#define CONCUR_TOOL_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "concur/future.h"
#include "concur/throttle.h"

/* The largest body an attempt takes when fetch_opts.max_body is 0:
 * every body is held in memory whole (to search it, or to hand it back),
 * so without a limit one endless answer ate 1.8 GB in 10 s.  16 MiB is
 * far past any page the seeds fetch. */
#define FETCH_MAX_BODY ((size_t)16 << 20)

/* The concurrency models, as the seeds name them. */
typedef enum fetch_mode {
    FETCH_SYNC,        /* one URL after the other in the calling thread */
    FETCH_THREAD_EACH, /* one thread per URL (Expert Python's first try) */
    FETCH_THREADS,     /* a thread pool of `workers` */
    FETCH_PROCESSES,   /* a process pool of `workers`; blobs cross */
    FETCH_ASYNC,       /* one coroutine per URL on one event loop */
} fetch_mode;

/* The outcome of one URL, filled by whoever fetched it (one writer each;
 * read after fetch_run returns). */
typedef struct fetch_item {
    const char *url;   /* the caller's string, borrowed */
    int status;        /* the last answer's HTTP status; 0: none came */
    int err;           /* 0 when ok; else the errno of the failure
                          (CC_EHTTP for a status >= 400) */
    char *errmsg;      /* malloc'd text of the failure, or NULL */
    size_t bytes;      /* body bytes of the last answer */
    double seconds;    /* from the first attempt's start to the end */
    int attempts;      /* requests made (1 + retries used) */
    bool grep_hit;     /* the body holds the word opts->grep */
    void *body;        /* a blob when opts->keep_body, else NULL */
} fetch_item;

/* Called once per finished URL, from whichever thread or task finished
 * it, under the run's lock (calls never overlap). */
typedef void (*fetch_progress_fn)(void *arg, const fetch_item *item,
                                  size_t done, size_t total);

typedef struct fetch_opts {
    fetch_mode mode;
    int workers;        /* pool size, or the most coroutines in flight
                           (0: 10 for pools, no limit for coroutines) */
    double rate;        /* attempts per second over the whole run (0: no
                           limit): a token bucket, cc_throttle */
    double timeout;     /* seconds per attempt (0: 30) */
    size_t max_body;    /* bytes of body an attempt takes at most; a
                           larger one fails its URL with EMSGSIZE
                           (0: FETCH_MAX_BODY) */
    int retries;        /* more attempts after a retryable failure */
    double backoff;     /* first retry delay, doubling (0: 0.1 s) */
    const char *grep;   /* a word to look for (case-sensitive, whole
                           word), or NULL */
    bool keep_body;     /* hand each body back in item->body */
    fetch_progress_fn progress;
    void *progress_arg;
} fetch_opts;

/*
 * fetch_run - fetch urls[0..n) with opts, filling items[0..n) (which the
 * caller zeroes or not: they are overwritten).  Returns how many URLs
 * failed (>= 0), or -1 with errno and cc_errmsg() when the run itself
 * could not happen (a pool or the loop could not start; ENOMEM).
 * Release the items with fetch_items_clear.
 */
int fetch_run(const char *const *urls, size_t n, const fetch_opts *opts,
              fetch_item *items);

/* fetch_items_clear - free what the items own (messages, bodies). */
void fetch_items_clear(fetch_item *items, size_t n);

/* The mode's name ("sync", "threads"...) and back (-1 for an unknown
 * name; "thread-each" is the tour's one-thread-per-URL model). */
const char *fetch_mode_name(fetch_mode mode);
int fetch_mode_parse(const char *name, fetch_mode *mode);

/* ----------------------------------------------------- fetch_text.c */

/* fetch_url_check - NULL when url is an absolute http:// or https:// URL
 * (the scheme in any case) with a host and no spaces or control
 * characters, as libcurl's URL parser reads it; else why not. */
const char *fetch_url_check(const char *url);

/* fetch_has_word - true when `word` occurs in text[0..len) as a whole word
 * (not preceded or followed by a letter, digit or '_'); case-sensitive. */
bool fetch_has_word(const char *text, size_t len, const char *word);


/* ----------------------------------------------------- fetch_urls.c */

/* `concur fetch`'s exit status for a usage error (a bad URL among them). */
enum { FETCH_EXIT_USAGE = 2 };

/* The URLs read so far: strings the list owns. */
struct url_list {
    char **urls;
    size_t n;
    size_t cap;
};

/* url_list_add - a copy of url[0..len) (up to a NUL) at the end; 0, or -1
 * (ENOMEM).  url_list_free - the strings and the array. */
int url_list_add(struct url_list *l, const char *url, size_t len);
void url_list_free(struct url_list *l);

/* fetch_read_urls - the URLs of a URL file already open (`path` names it
 * in messages; "-": standard input), one a line, blanks trimmed, blank
 * lines and '#' lines skipped, each checked by fetch_url_check, into l.
 * 0, or after a message on stderr FETCH_EXIT_USAGE (a bad URL, a read
 * error) or 1 (out of memory). */
int fetch_read_urls(FILE *f, const char *path, struct url_list *l);

/* ------------------------------------------------------ fetch_one.c */

/* One attempt's outcome (an answer or a transport failure). */
typedef struct fetch_try {
    int status;          /* 0: no answer */
    int err;             /* errno when no answer came */
    char *errmsg;        /* malloc'd, or NULL */
    double retry_after;  /* seconds, or -1 */
    size_t bytes;
    bool grep_hit;
    void *body;          /* a blob when asked for */
} fetch_try;

/* An attempt: in this process (fetch_try_here) or in a worker process of
 * `pool` (fetch_try_in_pool). */
typedef int (*fetch_try_fn)(void *ctx, const char *url, const fetch_opts *o,
                            fetch_try *out);
int fetch_try_here(void *ctx, const char *url, const fetch_opts *o,
                   fetch_try *out);

/*
 * fetch_one - fetch one URL into *item: wait for a token of `throttle`
 * (NULL: none) before every attempt, make the attempt with try_fn, retry
 * what may succeed later (no answer but a timeout, a reset or a refusal;
 * 429, 500, 502, 503, 504) up to o->retries times with an exponential
 * backoff (o->backoff doubling, jittered, at most 10 s) or the
 * server's Retry-After (at most 60 s).  Works from a thread or a task (a
 * task's waits suspend only the task).  Never fails: the outcome is in
 * *item.
 */
void fetch_one(const char *url, const fetch_opts *o, cc_throttle *throttle,
               fetch_try_fn try_fn, void *try_ctx, fetch_item *item);

/* ----------------------------------------------------- fetch_wire.c */

/* fetch_try_in_pool - one attempt on a worker of the process pool `ctx`
 * (a cc_executor *): the URL and options go as a blob, the outcome comes
 * back as one.  From a task, only the task waits. */
int fetch_try_in_pool(void *ctx, const char *url, const fetch_opts *o,
                      fetch_try *out);

/* ------------------------------------------------------ fetch_cmd.c */

/* fetch_main - `concur fetch ARGS`: argv[0] is the command's name.
 * Returns the exit status (0 all ok, 1 some URL failed, 2 usage). */
int fetch_main(int argc, char **argv);

/* --------------------------------------------------- fetch_report.c */

/* The live display of a run: a bar on a terminal, else one line per
 * finished URL. */
typedef struct fetch_progress {
    FILE *out;          /* stderr */
    bool bar;           /* draw a bar (a terminal) */
    bool quiet;         /* show nothing */
    double start;       /* cc_now() at the start */
    size_t ok, failed;  /* so far */
    size_t bytes;       /* so far */
} fetch_progress;

/* A fetch_progress_fn over a fetch_progress. */
void fetch_progress_show(void *arg, const fetch_item *item, size_t done,
                         size_t total);
/* Erase the bar (if one was drawn). */
void fetch_progress_end(fetch_progress *p);

/* One status line per URL, in input order, then the word's hits. */
void fetch_report_items(FILE *out, const fetch_item *items, size_t n,
                        const char *grep);
/* The summary line: "64 URLs: 62 ok, 2 failed, 1.2 MB in 0.84 s ...". */
void fetch_report_summary(FILE *out, const fetch_item *items, size_t n,
                          const fetch_opts *o, double seconds);
/* "12.3 kB", "1.2 MB": a byte count for people. */
void fetch_format_bytes(char *buf, size_t size, size_t bytes);

#endif
