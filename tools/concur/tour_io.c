/*
 * tour_io.c - the tour's network scenarios: Expert Python's exchange rates,
 * the sponsors check, the blog's Pokemon and the course notes'
 * download_site, each fetched in five models by the fetch engine.  Each
 * scenario gets a local service of its own whose latency imitates the
 * remote service of its seed (scaled down so the whole tour stays short),
 * unless --base-url sends it to real services.
 */
#include <stdlib.h>
#include <string.h>

#include "../service/service.h"
#include "concur/base.h"
#include "tour.h"

enum { N_MODELS = 5, SPONSOR_PROCS_MAX = 16 };

/* One network scenario. */
struct io_scenario {
    const char *key;          /* for --only */
    const char *label[3];     /* name, seed, the conditions (filled in) */
    double latency[2];        /* the local service's, min and max (s) */
    int pool;                 /* the seed's pool size (0: Python's
                                 default, min(32, cpus + 4)) */
    int procs;                /* the seed's process pool (0: cpus) */
    const char *grep;         /* a word to find, or NULL */
    bool keep_body;           /* the digest reads the bodies */
    tour_digest_fn digest;
    const char *seed_figures[N_MODELS]; /* by model, NULL: none printed */
};

/* The models in table order. */
static const fetch_mode models[N_MODELS] = {
    FETCH_SYNC, FETCH_THREAD_EACH, FETCH_THREADS, FETCH_PROCESSES,
    FETCH_ASYNC,
};

/*
 * The seeds' figures are their authors' runs over the Internet:
 *   Expert Python ch. 6 (api.vatcomply.com): synchronous.py 4.08 s,
 *     one_thread_per_item.py 1.34 s, thread_pool.py (4 threads) 1.90 s,
 *     async_aiohttp.py 0.33 s; no time printed for the process Pool.
 *   The blog (pokemondb.net): web/1_sync.py 4.31 s ("~4-6 seconds"),
 *     web/3_threaded.py 1.77 s, web/2_async_aiohttp.py 1.67 s.
 *   The sponsors seed and the course notes print no times.
 */
static struct io_scenario scenarios[] = {
    {"rates", {"exchange rates, 5 bases", "  Expert Python ch. 6", NULL},
     {0.15, 0.25}, 4, 4, NULL, true, tour_digest_rates,
     {"4.08 s", "1.34 s", "1.90 s", NULL, "0.33 s"}},
    {"sponsors", {"sponsors, 64 URLs", "  sponsors seed", NULL},
     {0.02, 0.08}, 64, SPONSOR_PROCS_MAX, "Python", false,
     tour_digest_sponsors, {NULL, NULL, NULL, NULL, NULL}},
    {"pokemon", {"Pokemon 1-20", "  the blog", NULL},
     {0.10, 0.20}, 0, 0, NULL, true, tour_digest_pokemon,
     {"4.31 s", NULL, "1.77 s", NULL, "1.67 s"}},
    {"download", {"download_site, 160 URLs", "  course notes", NULL},
     {0.01, 0.03}, 5, 0, NULL, false, tour_digest_pages,
     {NULL, NULL, NULL, NULL, NULL}},
};

/* The URLs of scenario s against base: a NULL-terminated array the caller
 * frees with free_urls; NULL out of memory. */
static char **scenario_urls(const struct io_scenario *s, const char *base,
                            size_t *n)
{
    static const char *const bases[] = {"USD", "EUR", "PLN", "NOK", "CZK"};
    const char *const *sponsors = svc_sponsor_paths();
    size_t count = strcmp(s->key, "rates") == 0      ? 5
                   : strcmp(s->key, "sponsors") == 0 ? svc_sponsor_count()
                   : strcmp(s->key, "pokemon") == 0  ? 20
                                                     : 160;
    char **urls = calloc(count + 1, sizeof(*urls));

    if (urls == NULL)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        int rc;
        if (strcmp(s->key, "rates") == 0)
            rc = asprintf(&urls[i], "%s/rates?base=%s", base, bases[i]);
        else if (strcmp(s->key, "sponsors") == 0)
            rc = asprintf(&urls[i], "%s%s", base, sponsors[i]);
        else if (strcmp(s->key, "pokemon") == 0)
            rc = asprintf(&urls[i], "%s/pokedex/%zu", base, i + 1);
        else /* the course notes: [jython, dice] * 80 */
            rc = asprintf(&urls[i], "%s%s", base, i % 2 ? "/dice" : "/jython");
        if (rc < 0) {
            urls[i] = NULL;
            for (size_t j = 0; j < i; j++)
                free(urls[j]);
            free(urls);
            return NULL;
        }
    }
    *n = count;
    return urls;
}

static void free_urls(char **urls)
{
    for (size_t i = 0; urls != NULL && urls[i] != NULL; i++)
        free(urls[i]);
    free(urls);
}

/* The model column: "thread pool (4)". */
static void model_name(char *buf, size_t size, fetch_mode m, int workers)
{
    switch (m) {
    case FETCH_SYNC: snprintf(buf, size, "sync"); break;
    case FETCH_THREAD_EACH: snprintf(buf, size, "thread per item"); break;
    case FETCH_THREADS: snprintf(buf, size, "thread pool (%d)", workers); break;
    case FETCH_PROCESSES:
        snprintf(buf, size, "process pool (%d)", workers);
        break;
    default: snprintf(buf, size, "coroutines"); break;
    }
}

/* Run scenario s in every model against base; print its rows.  Returns
 * the number of rows that went wrong. */
static int run_scenario(const tour_cfg *cfg, struct io_scenario *s,
                        const char *base, bool local, const char *conditions)
{
    size_t n = 0;
    char **urls = scenario_urls(s, base, &n);
    fetch_item *items = calloc(n > 0 ? n : 1, sizeof(*items));
    char reference[48] = "";
    double sync_seconds = -1;
    int wrong = 0;

    if (urls == NULL || items == NULL) {
        fprintf(stderr, "concur tour: out of memory\n");
        free_urls(urls);
        free(items);
        return 1;
    }
    s->label[2] = conditions;
    for (int m = 0; m < N_MODELS; m++) {
        fetch_opts o;
        tour_row row;
        bool ok = false;
        double start;
        int failed;

        memset(&o, 0, sizeof(o));
        memset(&row, 0, sizeof(row));
        o.mode = models[m];
        o.timeout = 30;
        o.retries = local ? 0 : 2; /* the Internet may hiccup */
        o.grep = s->grep;
        o.keep_body = s->keep_body;
        if (o.mode == FETCH_THREADS)
            o.workers = s->pool > 0 ? s->pool
                                    : (cfg->cpus + 4 < 32 ? cfg->cpus + 4 : 32);
        else if (o.mode == FETCH_PROCESSES)
            o.workers = s->procs > 0 ? s->procs : cfg->cpus;
        start = cc_now();
        failed = fetch_run((const char *const *)urls, n, &o, items);
        row.seconds = cc_now() - start;
        if (m == 0)
            sync_seconds = row.seconds;
        row.base_seconds = sync_seconds;
        row.label = m < 3 ? s->label[m] : "";
        model_name(row.model, sizeof(row.model), o.mode, o.workers);
        if (failed < 0) {
            snprintf(row.result, sizeof(row.result), "ERROR %.40s",
                     cc_errmsg());
        } else {
            s->digest(items, n, local, row.result, sizeof(row.result), &ok);
            if (m == 0)
                snprintf(reference, sizeof(reference), "%s", row.result);
            else if (strcmp(reference, row.result) == 0)
                snprintf(row.result, sizeof(row.result), "same");
            else
                ok = false; /* keep this model's own digest in view */
        }
        row.ok = ok;
        snprintf(row.seed_figure, sizeof(row.seed_figure), "%s",
                 s->seed_figures[m] != NULL ? s->seed_figures[m] : "-");
        tour_table_row(cfg->out, &row);
        wrong += !ok;
        fetch_items_clear(items, n);
    }
    free(items);
    free_urls(urls);
    return wrong;
}

int tour_io_run(const tour_cfg *cfg)
{
    double scale = cfg->quick ? 0.25 : 1.0;
    int wrong = 0;

    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        struct io_scenario *s = &scenarios[i];
        char conditions[48];
        svc *service = NULL;
        const char *base = cfg->base_url;

        if (!tour_wanted(cfg, s->key))
            continue;
        if (base == NULL) {
            svc_opts so;
            memset(&so, 0, sizeof(so));
            so.latency_min = s->latency[0] * scale;
            so.latency_max = s->latency[1] * scale;
            so.seed = 79;
            service = svc_start(&so);
            if (service == NULL) {
                fprintf(stderr, "concur tour: cannot start the local "
                        "service: %s\n", cc_errmsg());
                return wrong + 1;
            }
            base = svc_url(service);
            snprintf(conditions, sizeof(conditions), "  latency %.0f-%.0f ms",
                     so.latency_min * 1e3, so.latency_max * 1e3);
        } else {
            snprintf(conditions, sizeof(conditions), "  %.44s", base);
        }
        wrong += run_scenario(cfg, s, base, service != NULL, conditions);
        tour_table_rule(cfg->out);
        svc_stop(service);
    }
    return wrong;
}
