/*
 * tools/service/service.h - the built-in local service (`concur serve`):
 * an HTTP/1.1 server on concur's net layer that stands in for the remote
 * services the seeds' network programs talk to, so every example, test,
 * benchmark and the tour run offline.  Not part of the public library: the
 * `concur` tool, the network examples and their tests link it.
 *
 * Routes (GET; HEAD answers the same headers without the body):
 *   /rates?base=XXX     exchange rates as JSON, deterministic, in the shape
 *                       of the seeds' API: {"base":"USD","date":"...",
 *                       "rates":{"USD":1.0,"EUR":0.823,...}}: the base
 *                       itself 1.0; USD, EUR, PLN, NOK, CZK and 26 more;
 *                       rate(b -> x) = rate(USD -> x) / rate(USD -> b);
 *                       the base in any case; no base: EUR (as the real
 *                       API); an unknown base: 400 with a JSON error
 *   /pokedex/N          an HTML page whose first <h1> is the name of
 *                       Pokemon N (1..151; the first 20 as in the blog);
 *                       404 past the list
 *   /sponsors/...       the sponsors' pages: 64 URLs (svc_sponsor_paths),
 *                       some of whose pages contain the word "Python", two
 *                       of which answer 403
 *   /dice, /jython      the course notes' download_site pages
 *   POST /echo          the request body back (for clients' tests)
 *   /                   an index listing the routes
 * Anything else: 404.  Unsupported methods: 405.
 *
 * Knobs (svc_opts): latency before each answer (fixed or uniform in a
 * range), an error rate (that share of answers are 500s), a rate limit
 * (a token bucket of N, refilled at N per second, full at start: beyond
 * it, 429 with Retry-After: 1 at once, without the latency), a request
 * log (one line per answer: "method target status body-bytes ms").
 * Protocol: keep-alive (HTTP/1.1 default, "Connection: close" honoured,
 * HTTP/1.0 closes unless keep-alive asked), pipelined requests answered in
 * order, strict request parsing through Node's http-parser (Debian's
 * libhttp-parser) and rules of our own where it is lenient, as a server
 * behind a proxy must be against request smuggling: 400 for a malformed
 * request (also a header name that is not a token, as in "Host : x",
 * obs-fold continuation lines, a request line without a version, and
 * Transfer-Encoding together with Content-Length), 505 for a version
 * other than HTTP/1.0 and HTTP/1.1, 501 for a Transfer-Encoding other
 * than exactly "chunked", 431 for headers past max_header_bytes, 413 for
 * a body past max_body_bytes, 408 / close when a request does not arrive
 * within read_timeout.  Every error answer closes the connection.
 *
 * Budgets, so that a flood cannot take more memory than it was given:
 * at most max_connections connections are served at once, and request
 * bodies buffered at once take at most max_memory bytes, all connections
 * together (a body with a Content-Length reserves it all before it is
 * read, a chunked one as it grows; a body's memory goes back after its
 * request).  Beyond either, the service sheds load with "503 Service
 * Unavailable", "Retry-After: 1" and a close: a connection past the cap
 * at once, a request whose body does not fit right after its head; GETs
 * go on while the body budget is spent.  When the service goes idle (or
 * after 64 MiB freed), it gives freed heap memory back to the system
 * (malloc_trim), so RSS falls back after a flood.
 */
#ifndef CONCUR_TOOLS_SERVICE_H
#define CONCUR_TOOLS_SERVICE_H

#include <stdio.h>
#include <stddef.h>
#include <stdbool.h>

typedef struct svc svc;

typedef struct svc_opts {
    const char *host;        /* NULL: "127.0.0.1" */
    int port;                /* 0: a free port (svc_port tells which) */
    double latency_min;      /* seconds of delay before each answer, drawn */
    double latency_max;      /* uniformly from [min, max] (max < min: min) */
    double error_rate;       /* 0..1: the share of answers that are 500s */
    double rate_limit;       /* requests per second before 429 (0: none) */
    FILE *log;               /* one line per request, or NULL */
    unsigned seed;           /* random draws (0: from the clock) */
    int max_connections;     /* served at once, more get 503 (0: 10000) */
    double read_timeout;     /* for a request to arrive (0: 10 s) */
    size_t max_header_bytes; /* 0: 16 KiB */
    size_t max_body_bytes;   /* 0: 1 MiB */
    size_t max_memory;       /* bytes of request bodies buffered at once,
                                all connections together, more get 503
                                (0: 256 MiB; at least max_body_bytes) */
} svc_opts;

/* svc_start - start the service on a thread of its own (one event loop;
 * each connection a task) and return once it listens.  NULL with errno and
 * cc_errmsg() (EADDRINUSE, EINVAL for a bad knob, ...). */
svc *svc_start(const svc_opts *opts);

/* svc_port - the port it listens on.  svc_url - "http://127.0.0.1:PORT"
 * (no trailing slash; the host it listens on, 127.0.0.1 / [::1] for the
 * wildcard addresses), owned by the service. */
int svc_port(const svc *s);
const char *svc_url(const svc *s);

/* svc_requests - how many requests it has answered so far. */
unsigned long svc_requests(const svc *s);

/* svc_connections - connections being served now (not counting those
 * shed with a 503); svc_body_memory - bytes of request bodies held now,
 * against max_memory.  Any thread (a snapshot), for tests and
 * monitoring. */
int svc_connections(const svc *s);
size_t svc_body_memory(const svc *s);

/* svc_stop - stop accepting, let answers in progress finish (up to 1 s),
 * free everything.  NULL is fine. */
void svc_stop(svc *s);

/* svc_sponsor_paths - the 64 sponsor page paths ("/sponsors/..."), in the
 * seed's order, NULL-terminated; svc_sponsor_count - 64. */
const char *const *svc_sponsor_paths(void);
size_t svc_sponsor_count(void);

/* svc_parser_name - the request parser the service was built with, and
 * its version: "llhttp 8.1.0", "http-parser 2.9.4" (static text). */
const char *svc_parser_name(void);

/* svc_main - `concur serve [options]`: parse argv (argv[0] "serve";
 * --host, --port (default 8080, 0: a free one), --latency S or MIN-MAX,
 * --error-rate P, --rate-limit N, --log (to stdout), --seed,
 * --read-timeout S, --max-connections N, --max-memory SIZE, --help),
 * serve until SIGINT/SIGTERM; prints
 * "serving on http://..." first (flushed).  Returns the exit status: 0
 * after a signal, 1 when the service cannot start, 2 for a bad option
 * (with a message on stderr). */
int svc_main(int argc, char **argv);

/* svc_parse_size - a size in bytes, the whole of `text`: a number (a
 * fraction too) with an optional suffix k, M or G in either case (powers
 * of 1024: "500k", "10M", "1.5G"), from 1 byte to 1024G, stored in *out.
 * false, *out untouched, when text is not one.  The `concur` command's
 * size options (serve --max-memory, fetch --max-size) all read theirs
 * with it. */
bool svc_parse_size(const char *text, size_t *out);

#endif
