/*
 * routes.c - what the local service answers: the route table of
 * service.h (/, /rates, /pokedex/N, /sponsors/..., /jython, /dice, POST
 * /echo), 404 for other paths and 405 for other methods.  Runs in a
 * connection task of the service's loop; the knobs (latency, errors, rate
 * limit) are applied before, by conn.c.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include "svc_internal.h"
#include "svc_parse.h"

#define HTML "text/html; charset=utf-8"
#define JSON "application/json"
#define TEXT "text/plain; charset=utf-8"

const char *svc_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default:  return "Unknown";
    }
}

static void set_static(svc_response *out, int status, const char *type,
                       const char *body)
{
    out->status = status;
    out->type = type;
    out->body = body;
    out->len = strlen(body);
}

/* A heap body from a page builder; NULL from it: 404 (ENOENT) or 500. */
static void set_page(svc_response *out, int status, char *page, size_t len)
{
    if (page == NULL) {
        if (errno == ENOENT)
            set_static(out, 404, TEXT, "404 Not Found\n");
        else
            set_static(out, 500, TEXT, "500 Internal Server Error\n");
        return;
    }
    out->status = status;
    out->type = HTML;
    out->body = page;
    out->len = len;
    out->owned = page;
}

/* The value of `key` in a query string ("a=1&base=USD"), its length in
 * *len; NULL when absent. */
static const char *query_param(const char *q, const char *key, size_t *len)
{
    size_t klen = strlen(key);

    while (*q != '\0') {
        const char *end = strchr(q, '&');
        size_t n = end != NULL ? (size_t)(end - q) : strlen(q);

        if (n > klen && memcmp(q, key, klen) == 0 && q[klen] == '=') {
            *len = n - klen - 1;
            return q + klen + 1;
        }
        q += n;
        if (*q == '&')
            q++;
    }
    return NULL;
}

/* GET /rates?base=XXX: the precomputed body, or 400 with a JSON error
 * (made with cJSON: the base comes from the client and must be escaped). */
static void rates(svc *s, const svc_request *rq, svc_response *out)
{
    size_t len = 3;
    const char *base = query_param(rq->query, "base", &len);
    const char *body;
    cJSON *err;
    char msg[96];
    char *text;

    if (base == NULL)
        base = "EUR"; /* the real API's default: the ECB's reference */
    body = svc_rates_find(s->rates_json, base, len);
    if (body != NULL) {
        set_static(out, 200, JSON, body);
        return;
    }
    snprintf(msg, sizeof(msg), "Base currency '%.*s' is not supported.",
             (int)(len > 16 ? 16 : len), base);
    err = cJSON_CreateObject();
    if (err != NULL && cJSON_AddStringToObject(err, "error", msg) != NULL &&
        (text = cJSON_PrintUnformatted(err)) != NULL) {
        /* cJSON_free is free unless hooks are set; we set none */
        out->status = 400;
        out->type = JSON;
        out->body = out->owned = text;
        out->len = strlen(text);
    } else {
        set_static(out, 500, TEXT, "500 Internal Server Error\n");
    }
    cJSON_Delete(err);
}

/* GET /pokedex/N with N decimal (no sign, no leading junk). */
static void pokedex(const char *num, svc_response *out)
{
    char *end;
    long n;
    size_t len = 0;
    char *page;

    if (num[0] < '0' || num[0] > '9' || strlen(num) > 6) {
        set_static(out, 404, TEXT, "404 Not Found\n");
        return;
    }
    n = strtol(num, &end, 10);
    if (*end != '\0' && strcmp(end, "/") != 0) {
        set_static(out, 404, TEXT, "404 Not Found\n");
        return;
    }
    page = svc_pokedex_page(n, &len);
    set_page(out, 200, page, len);
}

void svc_route(svc *s, const svc_request *rq, svc_response *out)
{
    const char *p = rq->path;
    bool get = rq->method_id == SVC_METHOD_GET || rq->method_id == SVC_METHOD_HEAD;
    size_t len = 0;
    char *page = NULL;

    memset(out, 0, sizeof(*out));
    if (strcmp(p, "/echo") == 0) {
        if (rq->method_id != SVC_METHOD_POST) {
            set_static(out, 405, TEXT, "405 Method Not Allowed: POST only\n");
            return;
        }
        out->status = 200;
        out->type = "application/octet-stream";
        out->body = rq->body;
        out->len = rq->body_len;
        return;
    }
    if (!get) {
        set_static(out, 405, TEXT, "405 Method Not Allowed\n");
        return;
    }
    if (strcmp(p, "/") == 0) {
        page = svc_index_page(&len);
        set_page(out, 200, page, len);
    } else if (strcmp(p, "/rates") == 0 || strcmp(p, "/rates/") == 0) {
        rates(s, rq, out);
    } else if (strncmp(p, "/pokedex/", 9) == 0) {
        pokedex(p + 9, out);
    } else if (strncmp(p, "/sponsors/", 10) == 0) {
        int status = 200;

        page = svc_sponsor_page(p, &status, &len);
        set_page(out, status, page, len);
    } else if (strcmp(p, "/jython") == 0 || strcmp(p, "/jython/") == 0) {
        out->status = 200; /* built at start: the same for everyone */
        out->type = HTML;
        out->body = s->jython;
        out->len = s->jython_len;
    } else if (strcmp(p, "/dice") == 0 || strcmp(p, "/dice/") == 0) {
        page = svc_dice_page(1 + (int)(svc_random(s) * 6), &len);
        set_page(out, 200, page, len);
    } else {
        set_static(out, 404, TEXT, "404 Not Found\n");
    }
}
