/*
 * errcodec.c - cc_error chains as bytes, so that a task's failure in a
 * worker process reaches the parent whole: code, message, place and every
 * cause (process layer; the format is in wire.h).
 *
 * Decoding builds the same records cc_error_copy makes (one heap block per
 * error: the struct, then its message, then its place), innermost first,
 * so each record can own its cause from the start.
 */
#include <errno.h>
#include <stdlib.h>

#include "process/wire.h"

/* The deepest chain accepted: bounds the work a corrupt count could ask. */
#define MAX_CHAIN 1024

void cc__error_encode(cc__buf *b, const cc_error *e)
{
    uint32_t n = 0;

    for (const cc_error *c = e; c != NULL && n < MAX_CHAIN; c = c->cause)
        n++;
    cc__buf_put_u32(b, n);
    for (const cc_error *c = e; c != NULL && n-- > 0; c = c->cause) {
        uint32_t mlen = (uint32_t)strlen(c->message);
        uint32_t wlen = (uint32_t)strlen(c->where);

        cc__buf_put_u32(b, (uint32_t)c->code);
        cc__buf_put_u32(b, mlen);
        cc__buf_put_u32(b, wlen);
        cc__buf_put(b, c->message, mlen);
        cc__buf_put(b, c->where, wlen);
    }
}

/* One error read from the wire, before it is rebuilt. */
typedef struct piece {
    int code;
    const char *msg;
    uint32_t mlen;
    const char *where;
    uint32_t wlen;
} piece;

static cc_error *rebuild(const piece *pc, cc_error *cause)
{
    cc_error *e = malloc(sizeof(*e) + pc->mlen + 1 + pc->wlen + 1);
    char *text;

    if (e == NULL)
        return NULL;
    text = (char *)(e + 1);
    memcpy(text, pc->msg, pc->mlen);
    text[pc->mlen] = '\0';
    memcpy(text + pc->mlen + 1, pc->where, pc->wlen);
    text[pc->mlen + 1 + pc->wlen] = '\0';
    e->code = pc->code;
    e->kind = CC__ERR_HEAP;
    e->message = text;
    e->where = text + pc->mlen + 1;
    e->cause = cause;
    return e;
}

cc_error *cc__error_decode(cc__rd *r, int *err)
{
    uint32_t n = cc__rd_u32(r);
    piece small[8];
    piece *pcs = small;
    cc_error *chain = NULL;

    *err = EPROTO;
    if (r->bad || n == 0 || n > MAX_CHAIN)
        return NULL;
    if (n > 8) {
        pcs = malloc(n * sizeof(*pcs));
        if (pcs == NULL) {
            *err = ENOMEM;
            return NULL;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        pcs[i].code = (int)cc__rd_u32(r);
        pcs[i].mlen = cc__rd_u32(r);
        pcs[i].wlen = cc__rd_u32(r);
        pcs[i].msg = cc__rd_bytes(r, pcs[i].mlen);
        pcs[i].where = cc__rd_bytes(r, pcs[i].wlen);
        if (pcs[i].code <= 0)
            r->bad = true;
    }
    if (r->bad)
        goto out;
    for (uint32_t i = n; i-- > 0;) {
        cc_error *e = rebuild(&pcs[i], chain);

        if (e == NULL) {
            cc_error_free(chain);
            chain = NULL;
            *err = ENOMEM;
            goto out;
        }
        chain = e;
    }
    *err = 0;
out:
    if (pcs != small)
        free(pcs);
    return chain;
}
