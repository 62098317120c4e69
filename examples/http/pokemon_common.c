/*
 * pokemon_common.c - the parts of the blog's Pokemon programs that do not
 * depend on the concurrency model: the colours, one download, and the
 * closing lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "concur/base.h"
#include "concur/http.h"
#include "pokemon_common.h"

bool pk_color(void)
{
    return isatty(STDOUT_FILENO) == 1;
}

const char *pk_yellow(void) { return pk_color() ? "\033[33m" : ""; }
const char *pk_green(void) { return pk_color() ? "\033[32m" : ""; }
const char *pk_magenta(void) { return pk_color() ? "\033[35m" : ""; }
const char *pk_cyan(void) { return pk_color() ? "\033[36m" : ""; }
const char *pk_bold_green(void) { return pk_color() ? "\033[1;32m" : ""; }
const char *pk_reset(void) { return pk_color() ? "\033[0m" : ""; }

/* The text of the first <h1> of html into name (BeautifulSoup's
 * soup.h1.text, for pages whose heading holds text only). */
static int h1_text(const char *html, char *name, size_t size)
{
    const char *tag = strstr(html, "<h1");
    const char *text = tag != NULL ? strchr(tag, '>') : NULL;
    const char *end = text != NULL ? strstr(text, "</h1>") : NULL;
    size_t len;

    if (end == NULL) {
        cc_fail(ENOENT, "no <h1> in the page");
        return -1;
    }
    text++;
    len = (size_t)(end - text);
    if (len >= size)
        len = size - 1;
    memcpy(name, text, len);
    name[len] = '\0';
    return 0;
}

int pk_download(const char *base, int num, pk_result *out)
{
    char url[512];
    cc_http_response *resp;
    int rc;

    printf("%sDownloading Pokémon %02d... %s\n", pk_yellow(), num, pk_reset());
    fflush(stdout);
    snprintf(url, sizeof(url), "%s/pokedex/%d", base, num);
    resp = cc_http_get(url, 30);
    if (resp == NULL)
        return -1;
    rc = cc_http_check(resp); /* resp.raise_for_status() */
    if (rc == 0)
        rc = h1_text(cc_http_body(resp), out->name, sizeof(out->name));
    cc_http_response_free(resp);
    if (rc != 0)
        return -1;
    out->num = num;
    printf("%sRetrieved %s%02d=%s%s\n", pk_green(), pk_magenta(), num,
           out->name, pk_reset());
    fflush(stdout);
    return 0;
}

void pk_print_end(double seconds, const pk_result *results, size_t n)
{
    printf("\n%sThe code ran in %s%.2f%s seconds.%s\n", pk_bold_green(),
           pk_cyan(), seconds, pk_bold_green(), pk_reset());
    printf("\nresults=[");
    for (size_t i = 0; i < n; i++)
        printf("%s(%d, '%s')", i > 0 ? ", " : "", results[i].num,
               results[i].name);
    printf("]\n");
}
