/*
 * sponsors_fanout - fetch 64 sponsor pages with one process per URL and
 * collect the pages in a dict shared by all of them (the role of
 * multiprocessing.Manager().dict()), then report which pages mention
 * Python.  Rebuilds sponsors_processes.py of the blog post on concurrent
 * programming in Python.
 *
 * There is no network here, so each child "fetches" its URL by waiting a
 * random 0.05-0.3 s (as a slow server would make it) and then generating
 * the page from the URL: the same URL always gives the same page, so the
 * output can be checked.  The two URLs that answered 403 in the original
 * run fail the same way here.  The children run at once: the whole fan-out
 * takes about as long as the slowest fetch, not as long as all of them.
 *
 * The children are named Process-<n>, as Python names them.  A child that
 * fails says so as a Python child would print its traceback ("Process
 * Process-16: 403 Client Error: ..."), and ends with exit code 1.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "concur/process.h"

/* urls.txt of the original (the PSF sponsors page at the time). */
static const char *const urls[] = {
    "https://research.fb.com/",
    "https://www.capitalone.com/",
    "http://www.fastly.com/",
    "http://www.rackspace.com/",
    "https://aws.amazon.com/",
    "http://www.google.com/",
    "https://www.techatbloomberg.com/",
    "http://www.redhat.com/",
    "http://www.indeed.com/",
    "http://www.microsoft.com/",
    "https://travis-ci.com/",
    "https://www.heroku.com/home/",
    "https://www.union-investment.de/",
    "https://zapier.com/about",
    "http://edgestreamlp.com/",
    "http://www.enthought.com/",
    "https://hostingfacts.com/",
    "https://www.aqr.com/",
    "http://adimian.com/",
    "https://m.do.co/c/783434964889",
    "https://signalfx.com/",
    "http://www.activestate.com/python",
    "http://www.oreilly.com/",
    "http://www.bizrate.com/",
    "http://www.eyesopen.com/",
    "http://www.knmp.nl/",
    "http://lincolnloop.com/",
    "https://anaconda.com/",
    "http://infinite-code.com/",
    "http://www.webucator.com/programming-training/python-training.cfm",
    "http://tivix.com/",
    "https://www.pythonanywhere.com/",
    "https://www.stickermule.com/supports/python",
    "http://www.stickeryou.com/products/custom-stickers/335",
    "http://www.acties.nl/",
    "https://dev.ngo/",
    "https://fusionbox.com/",
    "http://newlogic.io/",
    "https://odoo-community.org/",
    "http://www.opendataservices.coop/",
    "http://www.solden.be/",
    "https://www.1korting.com/",
    "http://www.airportrentals.com/",
    "http://bespaardeals.nl/kortingscode/otto/",
    "http://www.mesika.org/",
    "https://www.verzekeringvergelijk.nl/",
    "http://www.python-academy.com/",
    "https://www.datacamp.com/",
    "https://www.accelebrate.com/python-training",
    "https://www.ukwebhostreview.com/",
    "https://crosscompute.com/",
    "https://www.hostpapa.com/?utm_source=python.org/",
    "http://www.revsys.com/",
    "https://www.confirm.ch/",
    "https://www.motorhomerepublic.com/",
    "https://vpndiensten.nl/",
    "https://www.yourlabs.biz/",
    "https://pythoninstitute.org/",
    "https://www.vpngids.nl/",
    "https://www.cisin.com/",
    "https://www.hrank.com/",
    "https://www.hostinger.com/",
    "http://icons8.com/",
    "https://www.surveymonkey.com/",
};

enum { N_URLS = sizeof(urls) / sizeof(urls[0]) };

/* The pages that mentioned Python in the original run... */
static const char *const mentions_python[] = {
    "http://adimian.com/",
    "http://infinite-code.com/",
    "http://lincolnloop.com/",
    "http://newlogic.io/",
    "http://www.activestate.com/python",
    "http://www.eyesopen.com/",
    "http://www.oreilly.com/",
    "http://www.python-academy.com/",
    "http://www.revsys.com/",
    "http://www.webucator.com/programming-training/python-training.cfm",
    "https://anaconda.com/",
    "https://aws.amazon.com/",
    "https://crosscompute.com/",
    "https://dev.ngo/",
    "https://fusionbox.com/",
    "https://pythoninstitute.org/",
    "https://www.accelebrate.com/python-training",
    "https://www.confirm.ch/",
    "https://www.datacamp.com/",
    "https://www.heroku.com/home/",
    "https://www.pythonanywhere.com/",
};

/* ...and the two that answered 403 Forbidden. */
static const char *const forbidden[] = {
    "http://www.enthought.com/",
    "http://www.acties.nl/",
};

/* What the processes share besides the dict: how long each fetch took. */
struct timings {
    double fetch_s[N_URLS];
};

/* A child's arguments: its URL, the dict and the timings. */
struct job {
    int i;
    cc_shdict *responses;
    struct timings *t;
};

static bool listed(const char *url, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(url, list[i]) == 0)
            return true;
    return false;
}

/* FNV-1a: the pages' seeds and checksums. */
static uint32_t fnv1a(const void *p, size_t len)
{
    const unsigned char *b = p;
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/*
 * The "server": a page of 2 to 40 KB of sponsor-page words, the same for
 * the same URL.  The word list never spells the word we look for; the
 * pages of mentions_python[] get it once, somewhere in the text.
 */
static char *generate_page(const char *url)
{
    static const char *const words[] = {
        "sponsor", "cloud", "data", "training", "open", "source",
        "community", "developer", "platform", "hosting", "support",
        "conference", "jobs", "team", "services", "consulting", "science",
        "web", "analytics", "security", "the", "and", "for", "our", "with",
        "software", "engineering", "products", "customers", "learn",
    };
    uint64_t state = fnv1a(url, strlen(url));
    size_t len = 2048 + next_random(&state) % (38 * 1024);
    size_t python_at = listed(url, mentions_python,
                              sizeof(mentions_python) / sizeof(char *))
                           ? next_random(&state) % (len / 2)
                           : SIZE_MAX;
    char *page = cc_blob_new(len);
    size_t at = 0;

    if (page == NULL)
        return NULL;
    at += (size_t)snprintf(page, len, "<html><body>\n<p>");
    while (at < len) {
        const char *w = at >= python_at
                            ? "Python"
                            : words[next_random(&state) %
                                    (sizeof(words) / sizeof(words[0]))];
        size_t n = strlen(w);

        if (at >= python_at)
            python_at = SIZE_MAX;
        for (size_t i = 0; i < n && at < len; i++)
            page[at++] = w[i];
        if (at < len)
            page[at++] = next_random(&state) % 12 == 0 ? '\n' : ' ';
    }
    return page;
}

/* requests.get(url) with a slow server: wait, then take the page. */
static int fetch(const char *url, char **page)
{
    uint64_t state = fnv1a(url, strlen(url)) ^ (uint64_t)getpid() ^
                     (uint64_t)time(NULL);
    double wait = 0.05 + (double)(next_random(&state) % 250) / 1000.0;
    struct timespec ts = {0, (long)(wait * 1e9)};

    nanosleep(&ts, NULL);
    if (listed(url, forbidden, sizeof(forbidden) / sizeof(forbidden[0])))
        return 403;
    *page = generate_page(url);
    return *page != NULL ? 200 : 500;
}

/* The child: fetch_url(url), storing the page in the shared dict.  On
 * failure the library prints "Process <name>: <the error>" for it. */
static void *fetch_url(void *arg)
{
    const struct job *job = arg;
    const char *url = urls[job->i];
    double start = cc_now();
    char *page = NULL;
    int status = fetch(url, &page);

    job->t->fetch_s[job->i] = cc_now() - start;
    if (status == 403)
        return cc_fail(EACCES, "403 Client Error: Forbidden for url: %s",
                       url);
    if (status != 200)
        return cc_fail(EIO, "%d Server Error for url: %s", status, url);
    if (cc_shdict_set(job->responses, url, page) != 0)
        return cc_fail_from(cc_last_error(), 0, "storing the page of %s",
                            url);
    cc_blob_free(page);
    return arg;
}

/* 'python' in page.lower() */
static bool mentions(const char *page, size_t len, const char *word)
{
    size_t n = strlen(word);

    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp(page + i, word, n) == 0)
            return true;
    return false;
}

int main(void)
{
    cc_shdict *responses = cc_shdict_new(0, 0);
    cc_shared *mem = cc_shared_new(sizeof(struct timings), false);
    struct timings *t;
    struct job jobs[N_URLS];
    cc_process *children[N_URLS];
    double start;
    double took;
    double one_by_one = 0;
    char **keys;
    size_t n;

    if (responses == NULL || mem == NULL) {
        fprintf(stderr, "sponsors_fanout: %s\n", cc_errmsg());
        return 1;
    }
    t = cc_shared_ptr(mem);
    printf("fetching %d URLs, one process each\n", N_URLS);
    start = cc_now();
    for (int i = 0; i < N_URLS; i++) {
        jobs[i] = (struct job){i, responses, t};
        children[i] = cc_process_start(fetch_url, &jobs[i], NULL);
        if (children[i] == NULL) {
            fprintf(stderr, "sponsors_fanout: %s\n", cc_errmsg());
            while (i-- > 0)
                cc_process_free(children[i]); /* kills and reaps */
            return 1;
        }
    }
    for (int i = 0; i < N_URLS; i++) {
        /* a child that failed has said why; its page is just missing */
        if (cc_process_join(children[i], CC_FOREVER) != 0) {
            fprintf(stderr, "sponsors_fanout: %s\n", cc_errmsg());
            return 1;
        }
        cc_process_free(children[i]);
        one_by_one += t->fetch_s[i];
    }
    took = cc_now() - start;

    printf("%zu responses for %d URL.\n", cc_shdict_len(responses), N_URLS);
    if (cc_shdict_keys(responses, &keys, &n) != 0) {
        fprintf(stderr, "sponsors_fanout: %s\n", cc_errmsg());
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        void *page;

        if (cc_shdict_get(responses, keys[i], &page) != 0) {
            fprintf(stderr, "sponsors_fanout: %s\n", cc_errmsg());
            return 1;
        }
        printf("%-68s %5zu bytes  fnv %08x%s\n", keys[i], cc_blob_len(page),
               (unsigned)fnv1a(page, cc_blob_len(page)),
               mentions(page, cc_blob_len(page), "python")
                   ? "  contains the word \"Python\""
                   : "");
        cc_blob_free(page);
    }
    cc_shdict_keys_free(keys, n);
    printf("took %.2f s; the %d fetches one after another would take "
           "%.2f s\n",
           took, N_URLS, one_by_one);
    cc_shdict_free(responses);
    cc_shared_free(mem);
    return 0;
}
