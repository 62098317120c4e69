/*
 * head.c - the rules of a request head that the request parsers
 * (svc_parse.h: llhttp, or Node's older http-parser, Debian's 2.9) leave
 * to their user or read differently, so that the local service is as
 * strict as a server behind a proxy must be against request smuggling:
 * whatever two parsers could read differently is refused, and the
 * service answers alike over either.
 *
 *   a header name that is not a token ("Host : x")         400
 *   a header line with an empty name (": x")                 400
 *   obs-fold: a header line that starts with SP or HT        400
 *   a line of the head that ends in a bare LF (no CR)        400
 *   a request line without a version (HTTP/0.9's "GET /")    400
 *   a version not of the form HTTP/DIGIT.DIGIT               400
 *   a version other than HTTP/1.0 and HTTP/1.1               505
 *   Transfer-Encoding together with Content-Length           400
 *   Transfer-Encoding other than exactly "chunked", once     501
 *
 * http-parser takes a space as part of a header name, unfolds obs-fold
 * silently (an empty value and its fold look exactly like a plain value
 * in the callbacks), takes "GET /" for HTTP/0.9, a bare LF for a line's
 * end, and any letters for "TTP/" in the version ("HTge/1.1"); llhttp
 * refuses most of those but takes ": x" as a header with an empty name.
 * So the line structure and the version are checked by a scan of the
 * raw bytes of the head (svc_head_scan), which conn.c runs over each
 * piece of input before the parser sees it, and the names and values
 * through the parser's callbacks.  Everything here runs on one
 * connection's task; the svc_head record is part of its conn.
 */
#include <string.h>

#include "svc_internal.h"

/* Where the scan of a head is. */
enum {
    LINE_REQUEST,      /* in the request line */
    LINE_START,        /* at the start of a header line */
    LINE_IN,           /* inside a header line */
    LINE_DONE,         /* the head ended: the body (not scanned) */
};

/* A tchar of RFC 9110 5.6.2: what header names are made of. */
static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* ASCII lower case (header names compare without case). */
static char lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

void svc_head_reset(svc_head *h)
{
    memset(h, 0, sizeof(*h));
    h->line = LINE_REQUEST;
}

/* The request line's version, whole: 0 for HTTP/1.0 and HTTP/1.1, 505
 * for another HTTP/DIGIT.DIGIT, 400 for anything else. */
static int check_version(const svc_head *h)
{
    const char *v = h->version;

    if (h->version_len != 8 || memcmp(v, "HTTP/", 5) != 0 ||
        v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9')
        return 400;
    return v[5] == '1' && (v[7] == '0' || v[7] == '1') ? 0 : 505;
}

/* One byte of the request line: count its words (the parsers separate
 * them by spaces and skip empty lines before a request) and keep the
 * third, the version.  0, or at the end of the line 400 (fewer or more
 * than three words, no CR before the LF, a malformed version) or 505
 * (another version). */
static int scan_request_line(svc_head *h, char ch)
{
    if (ch == '\n') {
        if (h->words == 0)
            return 0;
        if (h->words != 3 || !h->cr)
            return 400; /* "GET /": no version; or a bare LF */
        h->line = LINE_START;
        return check_version(h);
    }
    if (ch == ' ' || ch == '\r') {
        h->in_word = false;
        return 0;
    }
    if (!h->in_word) {
        h->in_word = true;
        h->words++;
    }
    if (h->words == 3 && h->version_len++ < sizeof(h->version))
        h->version[h->version_len - 1] = ch;
    return 0;
}

int svc_head_scan(svc_head *h, const char *p, size_t n)
{
    for (size_t i = 0; i < n && h->line != LINE_DONE; i++) {
        char ch = p[i];

        int status;

        switch (h->line) {
        case LINE_REQUEST:
            if ((status = scan_request_line(h, ch)) != 0)
                return status;
            break;
        case LINE_START:
            if (ch == ' ' || ch == '\t')
                return 400; /* obs-fold */
            if (ch == ':')
                return 400; /* no name */
            if (ch == '\n' && !h->cr)
                return 400; /* a bare LF */
            h->line = ch == '\n' ? LINE_DONE
                      : ch == '\r' ? LINE_START
                                   : LINE_IN;
            break;
        default: /* LINE_IN */
            if (ch == '\n' && !h->cr)
                return 400;
            if (ch == '\n')
                h->line = LINE_START;
        }
        h->cr = ch == '\r';
    }
    return 0;
}

int svc_head_field(svc_head *h, const char *at, size_t len)
{
    if (!h->field_open) { /* a new header begins */
        h->field_open = true;
        h->field_len = 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_tchar((unsigned char)at[i]))
            return 400;
        if (h->field_len < sizeof(h->field))
            h->field[h->field_len] = lower(at[i]);
        h->field_len++;
    }
    return 0;
}

/* Append a Transfer-Encoding value's bytes; one too many for the buffer
 * marks it as too long to be "chunked". */
static void te_add(svc_head *h, const char *at, size_t len)
{
    for (size_t i = 0; i < len && h->te_len <= sizeof(h->te); i++) {
        if (h->te_len < sizeof(h->te))
            h->te[h->te_len] = lower(at[i]);
        h->te_len++;
    }
}

void svc_head_value(svc_head *h, const char *at, size_t len)
{
    static const char te_name[] = "transfer-encoding";

    if (h->field_open) { /* the name is whole: is it the one we watch? */
        h->field_open = false;
        h->te_field = h->field_len == sizeof(te_name) - 1 &&
                      memcmp(h->field, te_name, sizeof(te_name) - 1) == 0;
        if (h->te_field && h->te_count++ > 0)
            te_add(h, ",", 1);
    }
    if (h->te_field)
        te_add(h, at, len);
}

int svc_head_check(const svc_head *h, int major, int minor,
                   bool content_length, bool chunked)
{
    static const char chunked_name[] = "chunked";

    if (major != 1 || minor > 1)
        return 505;
    if (h->te_count == 0)
        return 0;
    if (content_length)
        return 400;
    if (!chunked || h->te_len != sizeof(chunked_name) - 1 ||
        memcmp(h->te, chunked_name, sizeof(chunked_name) - 1) != 0)
        return 501;
    return 0;
}
