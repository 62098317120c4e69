/*
 * fetch_text.c - the text checks of the fetch engine: is a URL one we can
 * fetch (libcurl's URL parser reads it), does a body hold a word.  Pure
 * functions; no state.  (Retry-After is read by the http layer:
 * cc_http_retry_after.)
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "fetch.h"

const char *fetch_url_check(const char *url)
{
    CURLU *u;
    CURLUcode rc;
    char *scheme = NULL;
    char *host = NULL;
    char *port = NULL;
    const char *why = NULL;

    if (url == NULL || url[0] == '\0')
        return "empty URL";
    for (const char *p = url; *p != '\0'; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return "spaces or control characters in the URL";
    u = curl_url();
    if (u == NULL)
        return "out of memory";
    rc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (rc == CURLUE_OK)
        rc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    if (rc == CURLUE_OK && strcasecmp(scheme, "http") != 0 &&
        strcasecmp(scheme, "https") != 0)
        why = "not an http:// or https:// URL";
    else if (rc == CURLUE_OK &&
             (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
              host[0] == '\0'))
        why = "no host in the URL";
    else if (rc == CURLUE_OK &&
             curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK &&
             strcmp(port, "0") == 0)
        why = "port 0";
    else if (rc == CURLUE_BAD_SCHEME || rc == CURLUE_UNSUPPORTED_SCHEME)
        why = "not an http:// or https:// URL";
    else if (rc != CURLUE_OK)
        why = curl_url_strerror(rc);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return why;
}

/* A letter, digit or '_': what a word is made of. */
static bool word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

bool fetch_has_word(const char *text, size_t len, const char *word)
{
    size_t wlen = word != NULL ? strlen(word) : 0;
    const char *p = text;
    const char *end = text + len;

    if (text == NULL || wlen == 0)
        return false;
    while ((size_t)(end - p) >= wlen) {
        const char *hit = memmem(p, (size_t)(end - p), word, wlen);
        if (hit == NULL)
            return false;
        bool left = hit == text || !word_char(hit[-1]);
        bool right = hit + wlen == end || !word_char(hit[wlen]);
        if (left && right)
            return true;
        p = hit + 1;
    }
    return false;
}
