/*
 * fetch_urls.c - `concur fetch`'s URL list and its URL file reader (-f):
 * one URL a line, blanks trimmed, blank and '#' lines skipped, each URL
 * checked before anything is fetched.  Apart from fetch_cmd.c so that the
 * reader can be fuzzed on its own (tests/fuzz/fuzz_urlfile.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "fetch.h"

int url_list_add(struct url_list *l, const char *url, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap > 0 ? 2 * l->cap : 64;
        char **urls = realloc(l->urls, cap * sizeof(*urls));
        if (urls == NULL)
            return -1;
        l->urls = urls;
        l->cap = cap;
    }
    l->urls[l->n] = strndup(url, len);
    if (l->urls[l->n] == NULL)
        return -1;
    l->n++;
    return 0;
}

void url_list_free(struct url_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->urls[i]);
    free(l->urls);
}

int fetch_read_urls(FILE *f, const char *path, struct url_list *l)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned lineno = 0;
    int rc = 0;

    while ((len = getline(&line, &cap, f)) >= 0) {
        char *s = line;
        lineno++;
        while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' ||
                           s[len - 1] == ' ' || s[len - 1] == '\t'))
            s[--len] = '\0';
        while (*s == ' ' || *s == '\t')
            s++, len--;
        if (*s == '\0' || *s == '#')
            continue;
        const char *why = fetch_url_check(s);
        if (why != NULL) {
            fprintf(stderr, "concur fetch: %s, line %u: bad URL '%s': %s\n",
                    strcmp(path, "-") == 0 ? "standard input" : path, lineno,
                    s, why);
            rc = FETCH_EXIT_USAGE;
            break;
        }
        if (url_list_add(l, s, (size_t)len) != 0) {
            fprintf(stderr, "concur fetch: out of memory\n");
            rc = 1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "concur fetch: cannot read '%s': %s\n", path,
                strerror(errno));
        rc = FETCH_EXIT_USAGE;
    }
    free(line);
    return rc;
}
