/*
 * cli.c - `concur serve [options]`: parse the options into svc_opts
 * (getopt_long), start the service, print where it listens, and serve
 * until SIGINT or SIGTERM.
 *
 * Signals: SIGINT and SIGTERM are blocked before the service thread starts
 * (it inherits the mask), so they stay pending for the whole process until
 * the main thread takes them with sigwait -- no handler, no race -- and
 * then stops the service.  Exit status: 0 after a signal, 1 when the
 * service cannot start (port in use...), 2 for bad options.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc_internal.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: concur serve [options]\n"
        "  --host H          listen on H (default 127.0.0.1)\n"
        "  --port P          listen on port P (default 8080; 0: any free)\n"
        "  --latency S       wait S seconds before each answer, or\n"
        "  --latency A-B     a delay drawn uniformly in [A, B] per request\n"
        "  --error-rate P    answer that share (0..1) of requests with 500\n"
        "  --rate-limit N    N requests per second, then 429 (0: none)\n"
        "  --log             one line per request on stdout:\n"
        "                    method target status bytes ms\n"
        "  --seed N          seed of the random draws (default: the clock)\n"
        "  --read-timeout S  seconds for a request to arrive (default 10)\n"
        "  --max-connections N\n"
        "                    serve at most N connections at once; more\n"
        "                    get 503 and Retry-After (default 10000)\n"
        "  --max-memory SIZE hold at most SIZE bytes of request bodies at\n"
        "                    once, all connections together; a request\n"
        "                    whose body does not fit gets 503 and\n"
        "                    Retry-After; k, M, G: KiB, MiB, GiB; at\n"
        "                    least 1M (default 256M)\n"
        "  --help            this text\n"
        "Serves until SIGINT or SIGTERM.  Routes: /rates?base=XXX,\n"
        "/pokedex/N, /sponsors/HOST/, /jython, /dice, POST /echo, /.\n");
}

static int bad(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "concur serve: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n(see concur serve --help)\n");
    return 2;
}

/* A non-negative finite number, the whole of s.  false when not. */
static bool parse_num(const char *s, double *out)
{
    char *end;
    double v;

    if (s == NULL || *s == '\0')
        return false;
    errno = 0;
    v = strtod(s, &end);
    if (*end != '\0' || errno != 0 || !isfinite(v) || v < 0)
        return false;
    *out = v;
    return true;
}

static bool parse_latency(const char *s, double *lo, double *hi)
{
    char tmp[64];
    char *dash;

    if (s == NULL || strlen(s) >= sizeof(tmp))
        return false;
    strcpy(tmp, s);
    dash = strchr(tmp + 1, '-');
    if (dash == NULL) {
        if (!parse_num(tmp, lo))
            return false;
        *hi = *lo;
        return true;
    }
    *dash = '\0';
    return parse_num(tmp, lo) && parse_num(dash + 1, hi) && *lo <= *hi;
}

/* The long options; the value is the option's own code. */
enum {
    OPT_HOST = 1, OPT_PORT, OPT_LATENCY, OPT_ERROR_RATE, OPT_RATE_LIMIT,
    OPT_LOG, OPT_SEED, OPT_READ_TIMEOUT, OPT_MAX_CONNECTIONS, OPT_MAX_MEMORY,
    OPT_HELP,
};

static const struct option long_options[] = {
    {"host", required_argument, NULL, OPT_HOST},
    {"port", required_argument, NULL, OPT_PORT},
    {"latency", required_argument, NULL, OPT_LATENCY},
    {"error-rate", required_argument, NULL, OPT_ERROR_RATE},
    {"rate-limit", required_argument, NULL, OPT_RATE_LIMIT},
    {"log", no_argument, NULL, OPT_LOG},
    {"seed", required_argument, NULL, OPT_SEED},
    {"read-timeout", required_argument, NULL, OPT_READ_TIMEOUT},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"max-memory", required_argument, NULL, OPT_MAX_MEMORY},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* One option's value into o.  0, or 2 (bad value, said on stderr). */
static int take_option(int code, const char *v, svc_opts *o)
{
    double d;

    switch (code) {
    case OPT_HOST:
        if (*v == '\0' || strlen(v) >= 64)
            return bad("bad host '%s'%s", v, "");
        o->host = v;
        return 0;
    case OPT_PORT:
        if (!parse_num(v, &d) || d > 65535 || d != floor(d))
            return bad("bad port '%s' (0..65535)%s", v, "");
        o->port = (int)d;
        return 0;
    case OPT_LATENCY:
        if (!parse_latency(v, &o->latency_min, &o->latency_max))
            return bad("bad latency '%s' (seconds, or MIN-MAX)%s", v, "");
        return 0;
    case OPT_ERROR_RATE:
        if (!parse_num(v, &o->error_rate) || o->error_rate > 1)
            return bad("bad error rate '%s' (0..1)%s", v, "");
        return 0;
    case OPT_RATE_LIMIT:
        if (!parse_num(v, &o->rate_limit))
            return bad("bad rate limit '%s' (requests/s)%s", v, "");
        return 0;
    case OPT_SEED:
        if (!parse_num(v, &d) || d > 4294967295.0 || d != floor(d))
            return bad("bad seed '%s'%s", v, "");
        o->seed = (unsigned)d;
        return 0;
    case OPT_MAX_CONNECTIONS:
        if (!parse_num(v, &d) || d < 1 || d > 1000000 || d != floor(d))
            return bad("bad connection limit '%s' (1..1000000)%s", v, "");
        o->max_connections = (int)d;
        return 0;
    case OPT_MAX_MEMORY:
        if (!svc_parse_size(v, &o->max_memory) ||
            o->max_memory < ((size_t)1 << 20))
            return bad("bad memory budget '%s' (a size of at least 1M, "
                       "like 64M or 1G)%s", v, "");
        return 0;
    default: /* OPT_READ_TIMEOUT */
        if (!parse_num(v, &o->read_timeout) || o->read_timeout == 0)
            return bad("bad read timeout '%s' (seconds > 0)%s", v, "");
        return 0;
    }
}

/*
 * Parse argv (argv[0] is "serve") into o with getopt_long: "--port 0" and
 * "--port=0" alike, unambiguous prefixes too.  0, or the exit status to
 * return (2: bad option; -1: --help printed, exit 0).
 */
static int parse_args(int argc, char **argv, svc_opts *o)
{
    int code;

    optind = 0; /* a full restart: svc_main may run twice in a process */
    opterr = 0; /* our own messages */
    while ((code = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
        const char *opt = argv[optind - 1];
        int rc;

        switch (code) {
        case 'h':
        case OPT_HELP:
            usage(stdout);
            return -1;
        case OPT_LOG:
            o->log = stdout;
            break;
        case ':':
            return bad("option %s needs a value%s", opt, "");
        case '?':
            return bad("unknown option '%s'%s", opt, "");
        default:
            rc = take_option(code, optarg, o);
            if (rc != 0)
                return rc;
        }
    }
    if (optind < argc)
        return bad("unexpected argument '%s'%s", argv[optind], "");
    return 0;
}

int svc_main(int argc, char **argv)
{
    svc_opts o = {0};
    sigset_t set;
    svc *s;
    int sig = 0;
    int rc;

    o.port = 8080;
    rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    s = svc_start(&o);
    if (s == NULL) {
        fprintf(stderr, "concur serve: cannot serve on %s:%d: %s\n",
                o.host != NULL ? o.host : "127.0.0.1", o.port, cc_errmsg());
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        return 1;
    }
    printf("serving on %s\n", svc_url(s));
    fflush(stdout);
    while (sigwait(&set, &sig) != 0)
        ;
    svc_stop(s);
    if (o.log != NULL)
        fflush(o.log);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    return 0;
}
