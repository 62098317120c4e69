/*
 * list.h - the library's one intrusive doubly-linked list (internal; layer
 * base).
 *
 * A node (cc__link) is embedded in the record it links; CC__CONTAINER_OF
 * gets the record back.  A list (cc__list) is a head and a tail pointer,
 * NULL-terminated both ways, so a zeroed list -- calloc, a static -- is a
 * valid empty one and costs no initialisation.  A node that is on no list
 * points to itself: cc__link_init it before its first push (a push
 * asserts it), and cc__list_remove may then be called on a node that may
 * already have been taken off (a waiter that a
 * waker unlinked before the waiter came back): it does nothing then.
 *
 * Every operation is O(1) and takes no lock: the list's owner says which
 * lock guards it (each use names it beside the field).  Used for wait
 * queues (waiter.h), a future's watchers and callbacks, a loop's tasks and
 * fd waiters, and a server's connections.
 */
#ifndef CC_INTERNAL_LIST_H
#define CC_INTERNAL_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "internal/assert.h"

typedef struct cc__link {
    struct cc__link *next;     /* NULL at the tail; itself when unlinked */
    struct cc__link *prev;     /* NULL at the head; itself when unlinked */
} cc__link;

typedef struct cc__list {
    cc__link *head;            /* oldest; NULL when empty */
    cc__link *tail;
} cc__list;

/* The record that holds `ptr`, a pointer to its `member`. */
#define CC__CONTAINER_OF(ptr, type, member) \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Mark a node as on no list (do this once, before it is ever removed). */
static inline void cc__link_init(cc__link *n)
{
    n->next = n->prev = n;
}

static inline bool cc__link_linked(const cc__link *n)
{
    return n->next != n;
}

static inline void cc__list_init(cc__list *l)
{
    l->head = l->tail = NULL;
}

static inline bool cc__list_empty(const cc__list *l)
{
    return l->head == NULL;
}

static inline void cc__list_push_back(cc__list *l, cc__link *n)
{
    CC__ASSERT(n->next == n && n->prev == n); /* initialised, on no list */
    n->next = NULL;
    n->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
}

static inline void cc__list_push_front(cc__list *l, cc__link *n)
{
    CC__ASSERT(n->next == n && n->prev == n);
    n->prev = NULL;
    n->next = l->head;
    if (l->head != NULL)
        l->head->prev = n;
    else
        l->tail = n;
    l->head = n;
}

/* Take n off l; nothing when n is on no list.  n must not be on another. */
static inline void cc__list_remove(cc__list *l, cc__link *n)
{
    if (!cc__link_linked(n))
        return;
    CC__ASSERT(n->prev != NULL || l->head == n);
    CC__ASSERT(n->next != NULL || l->tail == n);
    if (n->prev != NULL)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next != NULL)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    cc__link_init(n);
}

/* Take the oldest node off l, or NULL when l is empty. */
static inline cc__link *cc__list_pop_front(cc__list *l)
{
    cc__link *n = l->head;

    if (n != NULL)
        cc__list_remove(l, n);
    return n;
}

/* Move every node of `from` to the end of `to`, in order; `from` ends empty. */
static inline void cc__list_splice(cc__list *to, cc__list *from)
{
    if (from->head == NULL)
        return;
    if (to->tail != NULL) {
        to->tail->next = from->head;
        from->head->prev = to->tail;
    } else {
        to->head = from->head;
    }
    to->tail = from->tail;
    from->head = from->tail = NULL;
}

/* for (cc__link *it = l->head; it != NULL; it = next) with next read first,
 * so the body may remove `it`. */
#define CC__LIST_EACH_SAFE(it, nx, l)                                        \
    for (cc__link *it = (l)->head, *nx = it != NULL ? it->next : NULL;       \
         it != NULL; it = nx, nx = it != NULL ? it->next : NULL)

#endif
