/*
 * fetch_report.c - what `concur fetch` shows: live progress while the URLs
 * come in (a bar on a terminal, a plain line per URL otherwise), then one
 * status line per URL in input order, the word's hits, and a summary.
 * The progress functions run under the run's lock (fetch_run.c).
 */
#include <string.h>

#include "concur/base.h"
#include "concur/http.h"
#include "fetch.h"

enum { BAR_WIDTH = 30 };

void fetch_format_bytes(char *buf, size_t size, size_t bytes)
{
    if (bytes < 1000)
        snprintf(buf, size, "%zu B", bytes);
    else if (bytes < 1000 * 1000)
        snprintf(buf, size, "%.1f kB", bytes / 1e3);
    else if (bytes < 1000 * 1000 * 1000)
        snprintf(buf, size, "%.1f MB", bytes / 1e6);
    else
        snprintf(buf, size, "%.2f GB", bytes / 1e9);
}

void fetch_progress_show(void *arg, const fetch_item *item, size_t done,
                         size_t total)
{
    fetch_progress *p = arg;
    char bytes[32];

    if (item->err == 0)
        p->ok++;
    else
        p->failed++;
    p->bytes += item->bytes;
    if (p->quiet)
        return;
    if (!p->bar) {
        if (item->err == 0)
            fprintf(p->out, "[%zu/%zu] %d %s\n", done, total, item->status,
                    item->url);
        else if (item->status != 0)
            fprintf(p->out, "[%zu/%zu] %d %s (failed)\n", done, total,
                    item->status, item->url);
        else
            fprintf(p->out, "[%zu/%zu] %s %s (failed)\n", done, total,
                    cc_errname(item->err), item->url);
        return;
    }
    size_t filled = total > 0 ? done * BAR_WIDTH / total : BAR_WIDTH;
    char bar[BAR_WIDTH + 1];
    memset(bar, '#', filled);
    memset(bar + filled, '.', BAR_WIDTH - filled);
    bar[BAR_WIDTH] = '\0';
    fetch_format_bytes(bytes, sizeof(bytes), p->bytes);
    fprintf(p->out, "\r[%s] %zu/%zu  ok %zu  failed %zu  %s  %.1f s\033[K",
            bar, done, total, p->ok, p->failed, bytes, cc_now() - p->start);
    fflush(p->out);
}

void fetch_progress_end(fetch_progress *p)
{
    if (p->bar && !p->quiet) {
        fprintf(p->out, "\r\033[K");
        fflush(p->out);
    }
}

void fetch_report_items(FILE *out, const fetch_item *items, size_t n,
                        const char *grep)
{
    char bytes[32];
    size_t hits = 0;

    for (size_t i = 0; i < n; i++) {
        const fetch_item *it = &items[i];
        char tries[32] = "";

        if (it->attempts > 1)
            snprintf(tries, sizeof(tries), "  [%d attempts]", it->attempts);
        if (it->status != 0)
            fetch_format_bytes(bytes, sizeof(bytes), it->bytes);
        else
            snprintf(bytes, sizeof(bytes), "-");
        if (it->err == 0)
            fprintf(out, "ok    %3d  %9s  %6.3f s  %s%s\n", it->status, bytes,
                    it->seconds, it->url, tries);
        else if (it->status != 0)
            fprintf(out, "FAIL  %3d  %9s  %6.3f s  %s%s  (%s)\n", it->status,
                    bytes, it->seconds, it->url, tries,
                    it->errmsg != NULL ? it->errmsg : "");
        else
            fprintf(out, "FAIL  %3s  %9s  %6.3f s  %s%s  (%s: %s)\n", "-",
                    bytes, it->seconds, it->url, tries, cc_errname(it->err),
                    it->errmsg != NULL ? it->errmsg : "");
    }
    if (grep == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        if (items[i].grep_hit) {
            fprintf(out, "%s contains the word \"%s\"\n", items[i].url, grep);
            hits++;
        }
    }
    fprintf(out, "%zu of %zu bodies contain the word \"%s\"\n", hits, n, grep);
}

void fetch_report_summary(FILE *out, const fetch_item *items, size_t n,
                          const fetch_opts *o, double seconds)
{
    size_t ok = 0;
    size_t total = 0;
    int retried = 0;
    char bytes[32];
    char workers[48] = "";

    for (size_t i = 0; i < n; i++) {
        ok += items[i].err == 0;
        total += items[i].bytes;
        retried += items[i].attempts > 1;
    }
    fetch_format_bytes(bytes, sizeof(bytes), total);
    if (o->workers > 0 && o->mode != FETCH_SYNC &&
        o->mode != FETCH_THREAD_EACH)
        snprintf(workers, sizeof(workers), ", %d workers", o->workers);
    fprintf(out, "%zu URL%s: %zu ok, %zu failed, %s in %.2f s (%s%s", n,
            n == 1 ? "" : "s", ok, n - ok, bytes, seconds,
            fetch_mode_name(o->mode), workers);
    if (o->rate > 0)
        fprintf(out, ", at most %g/s", o->rate);
    if (retried > 0)
        fprintf(out, ", %d retried", retried);
    fprintf(out, ")\n");
}
