/*
 * future_alloc.h - where future records come from (private to the future
 * layer: src/future/future.c).
 */
#ifndef CC_FUTURE_FUTURE_ALLOC_H
#define CC_FUTURE_FUTURE_ALLOC_H

#include "internal/future.h"

/* An uninitialised record, or NULL when out of memory (nothing recorded). */
cc_future *cc__future_alloc(void);

/* Give a record back (its magic is cleared first). */
void cc__future_release(cc_future *f);

#endif
