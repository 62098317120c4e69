/*
 * fetch_text.c - the text checks of the fetch engine: is a URL one we can
 * fetch, does a body hold a word, what delay does a Retry-After ask for.
 * Pure functions; no state.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fetch.h"

const char *fetch_url_check(const char *url)
{
    const char *host;
    size_t host_len;

    if (url == NULL || url[0] == '\0')
        return "empty URL";
    for (const char *p = url; *p != '\0'; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return "spaces or control characters in the URL";
    if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        host = url + 8;
    else
        return "not an http:// or https:// URL";
    host_len = strcspn(host, "/?#");
    if (host_len == 0)
        return "no host in the URL";
    /* user@host:port -- the host part after any user info must not be
     * empty, and a port must be digits in 1..65535 */
    const char *at = memchr(host, '@', host_len);
    if (at != NULL) {
        host_len -= (size_t)(at + 1 - host);
        host = at + 1;
    }
    const char *end = host + host_len;
    const char *colon = NULL;
    if (host[0] == '[') {
        const char *close = memchr(host, ']', host_len);
        if (close == NULL)
            return "unclosed '[' in the host";
        if (close + 1 < end && close[1] != ':')
            return "junk after the IPv6 address";
        colon = close + 1 < end ? close + 1 : NULL;
    } else {
        colon = memchr(host, ':', host_len);
    }
    if ((colon != NULL ? colon : end) == host)
        return "no host in the URL";
    if (colon != NULL) {
        long port = 0;
        if (colon + 1 == end)
            return "empty port";
        for (const char *p = colon + 1; p < end; p++) {
            if (!isdigit((unsigned char)*p))
                return "the port is not a number";
            port = port * 10 + (*p - '0');
            if (port > 65535)
                return "the port is past 65535";
        }
        if (port == 0)
            return "port 0";
    }
    return NULL;
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

double fetch_retry_after(const char *value)
{
    char *end;
    double s;
    struct tm tm;

    if (value == NULL || *value == '\0')
        return -1;
    if (isdigit((unsigned char)value[0])) {
        s = strtod(value, &end);
        while (*end == ' ')
            end++;
        return *end == '\0' && s >= 0 ? s : -1;
    }
    /* an HTTP date: "Wed, 21 Oct 2015 07:28:00 GMT" */
    memset(&tm, 0, sizeof(tm));
    end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == NULL)
        return -1;
    s = difftime(timegm(&tm), time(NULL));
    return s > 0 ? s : 0;
}
