/*
 * fetch_cmd.c - `concur fetch`: the command line over the fetch engine.
 * Reads the URLs (arguments, a file, standard input), checks all of them
 * and every option before fetching anything, runs, and reports.  Exit
 * status: 0 all ok, 1 some URL failed, 2 a usage error.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../service/service.h"
#include "concur/base.h"
#include "fetch.h"

enum { EXIT_USAGE = FETCH_EXIT_USAGE, MAX_WORKERS = 10000, MAX_RETRIES = 100 };

static const char usage_text[] =
    "usage: concur fetch [options] URL...\n"
    "       concur fetch [options] -f FILE   (FILE '-': standard input)\n"
    "\n"
    "Fetch many URLs at once; print each one's status, size and time, then\n"
    "a summary.  A progress bar shows on a terminal, a line per URL when\n"
    "standard error is not one.\n"
    "\n"
    "  -f, --file FILE     read URLs from FILE, one a line; blank lines and\n"
    "                      lines starting with '#' are skipped\n"
    "  -m, --mode MODE     sync | threads | processes | async (default\n"
    "                      threads; thread-each: one thread per URL)\n"
    "  -w, --workers N     threads or processes in the pool, or coroutines\n"
    "                      in flight (default 10; async: no limit)\n"
    "  -r, --rate R        at most R requests per second, all workers\n"
    "                      together (a token bucket)\n"
    "  -t, --timeout S     seconds per request (default 30)\n"
    "  -s, --max-size SIZE fail a URL whose body is larger than SIZE bytes;\n"
    "                      k, M, G: KiB, MiB, GiB (default 16M)\n"
    "  -n, --retries N     retry a timeout, a reset, a refused connection,\n"
    "                      429 and 5xx up to N times, backing off 0.1 s,\n"
    "                      0.2 s, ... or as Retry-After says (default 0)\n"
    "  -g, --grep WORD     report which bodies contain WORD (case-sensitive,\n"
    "                      whole word)\n"
    "  -q, --quiet         no progress display\n"
    "  -h, --help          show this help\n"
    "\n"
    "Exit status: 0 every URL ok, 1 some URL failed, 2 a usage error.\n"
    "Example: concur fetch -m async -n 3 -g Python -f urls.txt\n";

/* A usage error: say what, point at --help, give the status to exit
 * with. */
static int usage_error(const char *fmt, const char *what)
{
    fprintf(stderr, "concur fetch: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\nTry 'concur fetch --help'.\n");
    return EXIT_USAGE;
}

/* Read the URLs of `path` ('-': stdin) into l, checking each; 0, or an
 * exit status after printing why. */
static int read_url_file(const char *path, struct url_list *l)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    int rc;

    if (f == NULL) {
        fprintf(stderr, "concur fetch: cannot read '%s': %s\n", path,
                strerror(errno));
        return EXIT_USAGE;
    }
    rc = fetch_read_urls(f, path, l);
    if (f != stdin)
        fclose(f);
    return rc;
}

/* Parse a number of the kind `what` wants into *out: the whole text must
 * be a finite number within [lo, hi]. */
static bool parse_number(const char *text, double lo, double hi, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(text, &end);
    if (end == text || *end != '\0' || errno != 0 || !isfinite(v) || v < lo ||
        v > hi)
        return false;
    *out = v;
    return true;
}

/* The options of one run, as parsed. */
struct cmd {
    fetch_opts o;
    bool quiet;
    struct url_list list;
};

/* Parse argv into c; 0, or the exit status (help: a status of -1 means
 * "printed the help, exit 0"). */
static int parse_args(int argc, char **argv, struct cmd *c)
{
    static const struct option longopts[] = {
        {"file", required_argument, NULL, 'f'},
        {"mode", required_argument, NULL, 'm'},
        {"workers", required_argument, NULL, 'w'},
        {"rate", required_argument, NULL, 'r'},
        {"timeout", required_argument, NULL, 't'},
        {"max-size", required_argument, NULL, 's'},
        {"retries", required_argument, NULL, 'n'},
        {"grep", required_argument, NULL, 'g'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *files[16];
    size_t nfiles = 0;
    double v;
    int ch;
    int rc;

    c->o.mode = FETCH_THREADS;
    opterr = 0;
    optind = 0; /* glibc: start over, even when called twice */
    while ((ch = getopt_long(argc, argv, "+f:m:w:r:t:s:n:g:qh", longopts,
                             NULL)) != -1) {
        switch (ch) {
        case 'f':
            if (nfiles == sizeof(files) / sizeof(files[0]))
                return usage_error("%s", "too many --file options");
            files[nfiles++] = optarg;
            break;
        case 'm':
            if (fetch_mode_parse(optarg, &c->o.mode) != 0)
                return usage_error("unknown mode '%s' (sync, threads, "
                                   "processes, async)", optarg);
            break;
        case 'w':
            if (!parse_number(optarg, 1, MAX_WORKERS, &v) || v != floor(v))
                return usage_error("--workers wants a whole number from 1 "
                                   "to 10000, not '%s'", optarg);
            c->o.workers = (int)v;
            break;
        case 'r':
            if (!parse_number(optarg, 1e-3, 1e6, &v))
                return usage_error("--rate wants requests per second "
                                   "(above 0), not '%s'", optarg);
            c->o.rate = v;
            break;
        case 't':
            if (!parse_number(optarg, 1e-3, 86400, &v))
                return usage_error("--timeout wants seconds (above 0), "
                                   "not '%s'", optarg);
            c->o.timeout = v;
            break;
        case 's':
            if (!svc_parse_size(optarg, &c->o.max_body))
                return usage_error("--max-size wants a size in bytes, 1 to "
                                   "1024G, like 500k, 10M or 1G; not '%s'",
                                   optarg);
            break;
        case 'n':
            if (!parse_number(optarg, 0, MAX_RETRIES, &v) || v != floor(v))
                return usage_error("--retries wants a whole number from 0 "
                                   "to 100, not '%s'", optarg);
            c->o.retries = (int)v;
            break;
        case 'g':
            if (optarg[0] == '\0')
                return usage_error("%s", "--grep wants a word");
            c->o.grep = optarg;
            break;
        case 'q':
            c->quiet = true;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        default:
            if (optopt != 0 && strchr("fmwrtsng", optopt) != NULL)
                return usage_error("option '-%s' wants a value",
                                   (char[]){(char)optopt, '\0'});
            if (optopt != 0)
                return usage_error("unknown option '-%s'",
                                   (char[]){(char)optopt, '\0'});
            return usage_error("unknown option or missing value: '%s'",
                               argv[optind - 1]);
        }
    }
    for (int i = optind; i < argc; i++) {
        const char *why = fetch_url_check(argv[i]);
        if (why != NULL) {
            fprintf(stderr, "concur fetch: bad URL '%s': %s\n", argv[i], why);
            return EXIT_USAGE;
        }
        if (url_list_add(&c->list, argv[i], strlen(argv[i])) != 0)
            return 1;
    }
    for (size_t i = 0; i < nfiles; i++) {
        rc = read_url_file(files[i], &c->list);
        if (rc != 0)
            return rc;
    }
    if (c->list.n == 0)
        return usage_error("%s", "no URLs (give them as arguments or with "
                                 "-f FILE)");
    return 0;
}

int fetch_main(int argc, char **argv)
{
    struct cmd c;
    fetch_progress progress;
    fetch_item *items;
    double start;
    int failed;
    int rc;

    memset(&c, 0, sizeof(c));
    rc = parse_args(argc, argv, &c);
    if (rc != 0) {
        url_list_free(&c.list);
        return rc < 0 ? 0 : rc;
    }
    items = calloc(c.list.n, sizeof(*items));
    if (items == NULL) {
        fprintf(stderr, "concur fetch: out of memory\n");
        url_list_free(&c.list);
        return 1;
    }
    memset(&progress, 0, sizeof(progress));
    progress.out = stderr;
    progress.bar = isatty(STDERR_FILENO);
    progress.quiet = c.quiet;
    c.o.progress = fetch_progress_show;
    c.o.progress_arg = &progress;
    start = progress.start = cc_now();
    failed = fetch_run((const char *const *)c.list.urls, c.list.n, &c.o,
                       items);
    fetch_progress_end(&progress);
    if (failed < 0) {
        fprintf(stderr, "concur fetch: %s\n", cc_errmsg());
        rc = 1;
    } else {
        fetch_report_items(stdout, items, c.list.n, c.o.grep);
        fetch_report_summary(stdout, items, c.list.n, &c.o, cc_now() - start);
        rc = failed > 0 ? 1 : 0;
    }
    fflush(stdout);
    fetch_items_clear(items, c.list.n);
    free(items);
    url_list_free(&c.list);
    return rc;
}
