/*
 * target.c - a request target split into path and query, for both parser
 * backends (llhttp has no URL parser of its own): the rules of
 * http-parser's http_parser_parse_url for a request that is not CONNECT,
 * which the service used before llhttp, so that a target is taken or
 * refused (400) as it was.  The forms: "/path?query#fragment", "*", and
 * "scheme://[userinfo@]host[:port][/path][?query][#fragment]" with host
 * a name, an address or "[v6%zone]", and a port up to 65535.
 * tests/service/test_service_target.c compares it with
 * http_parser_parse_url where http-parser is installed.
 */
#include <string.h>

#include "svc_parse.h"

/* Where the scan of a target is. */
enum {
    T_START,         /* nothing read yet */
    T_SCHEME,        /* in "http" */
    T_SLASH,         /* after "http:" */
    T_SLASH_SLASH,   /* after "http:/" */
    T_SERVER_START,  /* after "http://" */
    T_SERVER,        /* in the authority */
    T_SERVER_AT,     /* in the authority, after its '@' */
    T_PATH,
    T_QUERY_START,   /* just after '?' */
    T_QUERY,
    T_FRAGMENT_START,/* just after '#' */
    T_FRAGMENT,
    T_DEAD,
};

static bool is_alpha(unsigned char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static bool is_num(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(unsigned char c)
{
    return is_alpha(c) || is_num(c);
}

/* A byte that may stand in a path, query or fragment: printable ASCII but
 * space, '#' and '?', and tab, form feed and every byte past 0x7f. */
static bool is_url_char(unsigned char c)
{
    if (c >= 0x80 || c == '\t' || c == '\f')
        return true;
    return c > ' ' && c < 0x7f && c != '#' && c != '?';
}

/* RFC 3986's userinfo: unreserved, percent and sub-delims (not '/'). */
static bool is_userinfo_char(unsigned char c)
{
    return is_alnum(c) || (c != '\0' && strchr("-_.!~*'()%;:&=+$,", c));
}

static bool is_host_char(unsigned char c)
{
    return is_alnum(c) || c == '.' || c == '-' || c == '_';
}

static bool is_hex(unsigned char c)
{
    return is_num(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* The next state after byte c. */
static int step(int s, unsigned char c)
{
    if (c == ' ' || c == '\r' || c == '\n')
        return T_DEAD;
    switch (s) {
    case T_START:
        if (c == '/' || c == '*')
            return T_PATH;
        return is_alpha(c) ? T_SCHEME : T_DEAD;
    case T_SCHEME:
        if (is_alpha(c))
            return T_SCHEME;
        return c == ':' ? T_SLASH : T_DEAD;
    case T_SLASH:
        return c == '/' ? T_SLASH_SLASH : T_DEAD;
    case T_SLASH_SLASH:
        return c == '/' ? T_SERVER_START : T_DEAD;
    case T_SERVER_AT:
        if (c == '@')
            return T_DEAD; /* a second '@' */
        /* fall through */
    case T_SERVER_START:
    case T_SERVER:
        if (c == '/')
            return T_PATH;
        if (c == '?')
            return T_QUERY_START;
        if (c == '@')
            return T_SERVER_AT;
        return is_userinfo_char(c) || c == '[' || c == ']' ? T_SERVER
                                                            : T_DEAD;
    case T_PATH:
        if (is_url_char(c))
            return T_PATH;
        return c == '?' ? T_QUERY_START : c == '#' ? T_FRAGMENT_START : T_DEAD;
    case T_QUERY_START:
    case T_QUERY:
        if (is_url_char(c) || c == '?')
            return T_QUERY;
        return c == '#' ? T_FRAGMENT_START : T_DEAD;
    case T_FRAGMENT_START:
        if (is_url_char(c) || c == '?')
            return T_FRAGMENT;
        return c == '#' ? T_FRAGMENT_START : T_DEAD;
    default: /* T_FRAGMENT */
        return is_url_char(c) || c == '?' || c == '#' ? T_FRAGMENT : T_DEAD;
    }
}

/* Where the check of an authority is. */
enum {
    H_USERINFO_START,
    H_USERINFO,
    H_HOST_START,
    H_HOST,
    H_V6_START,
    H_V6,
    H_V6_END,
    H_ZONE_START,
    H_ZONE,
    H_PORT_START,
    H_PORT,
    H_DEAD,
};

static int host_step(int s, unsigned char c)
{
    switch (s) {
    case H_USERINFO_START:
    case H_USERINFO:
        if (c == '@')
            return H_HOST_START;
        return is_userinfo_char(c) ? H_USERINFO : H_DEAD;
    case H_HOST_START:
        if (c == '[')
            return H_V6_START;
        return is_host_char(c) ? H_HOST : H_DEAD;
    case H_HOST:
        if (is_host_char(c))
            return H_HOST;
        return c == ':' ? H_PORT_START : H_DEAD;
    case H_V6_END:
        return c == ':' ? H_PORT_START : H_DEAD;
    case H_V6:
        if (c == ']')
            return H_V6_END;
        if (c == '%')
            return H_ZONE_START;
        /* fall through */
    case H_V6_START:
        return is_hex(c) || c == ':' || c == '.' ? H_V6 : H_DEAD;
    case H_ZONE:
        if (c == ']')
            return H_V6_END;
        /* fall through */
    case H_ZONE_START:
        return is_alnum(c) || (c != '\0' && strchr("%.-_~", c)) ? H_ZONE
                                                               : H_DEAD;
    case H_PORT_START:
    case H_PORT:
        return is_num(c) ? H_PORT : H_DEAD;
    default:
        return H_DEAD;
    }
}

/* The authority a[0..n) (userinfo when `at`): a host, and a port of at
 * most 65535.  false when it is not one. */
static bool check_host(const char *a, size_t n, bool at)
{
    int s = at ? H_USERINFO_START : H_HOST_START;
    unsigned long port = 0;

    for (size_t i = 0; i < n; i++) {
        s = host_step(s, (unsigned char)a[i]);
        if (s == H_DEAD)
            return false;
        if (s == H_PORT) {
            port = port * 10 + (unsigned long)(a[i] - '0');
            if (port > 0xffff)
                return false;
        }
    }
    return s == H_HOST || s == H_V6_END || s == H_PORT;
}

bool svc_split_target(const char *t, size_t len, size_t *path_off,
                      size_t *path_len, size_t *query_off,
                      size_t *query_len)
{
    int s = T_START;
    bool scheme = false;
    bool at = false;
    size_t host_off = 0;
    size_t host_len = 0;

    *path_off = *path_len = *query_off = *query_len = 0;
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        int prev = s;

        s = step(s, (unsigned char)t[i]);
        switch (s) {
        case T_DEAD:
            return false;
        case T_SCHEME:
            scheme = true;
            break;
        case T_SERVER_AT:
            at = true;
            /* fall through */
        case T_SERVER:
            if (host_len++ == 0)
                host_off = i;
            break;
        case T_PATH:
            if (prev != T_PATH)
                *path_off = i;
            ++*path_len;
            break;
        case T_QUERY:
            if (prev != T_QUERY)
                *query_off = i;
            ++*query_len;
            break;
        default: /* delimiters, the fragment */
            break;
        }
    }
    if (scheme && host_len == 0)
        return false; /* "http:///x" */
    return host_len == 0 || check_host(t + host_off, host_len, at);
}
