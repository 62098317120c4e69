/*
 * ipc_debug.h - consistency checks of the process-shared objects, for the
 * tests (process layer, internal).  Hidden like every cc__ function, but
 * linkable from the static library the tests use.
 */
#ifndef CC_PROCESS_IPC_DEBUG_H
#define CC_PROCESS_IPC_DEBUG_H

#include <stdint.h>

#include "concur/process.h"

/*
 * Walk the queue's records from head to tail under its mutex and check
 * each header and that the message count matches.  0, or -1 with EPROTO
 * and a message saying what is wrong.
 */
int cc__mpqueue_check(cc_mpqueue *q);

/*
 * Die in the middle of a put, for the tests: write a record of len bytes
 * at p under the queue's mutex and publish it, killing the calling process
 * with SIGKILL after the unfinished-task count was raised (die_at 1, the
 * message not yet published) or after the message was published (2, the
 * intent not yet cleared).  Call it in a child; with a room check skipped,
 * only on a queue with room.  Returns only for other die_at values.
 */
void cc__mpqueue_put_killed(cc_mpqueue *q, const void *p, size_t len,
                            int die_at);

/* How many times a process found the queue's mutex left by a dead owner
 * and repaired the queue (over all processes). */
uint64_t cc__mpqueue_repairs(cc_mpqueue *q);

/*
 * Check the dict under its mutex: every slot of the active table points at
 * a whole record whose key hashes to a slot on its probe path, and the
 * derived counts (keys, tombstones, bytes) match a recount.  0, or -1 with
 * EPROTO and a message.
 */
int cc__shdict_check(cc_shdict *d);

/* How many times the dict was repaired after a dead owner, and how many
 * compactions it has made (over all processes). */
uint64_t cc__shdict_repairs(cc_shdict *d);
uint64_t cc__shdict_compactions(cc_shdict *d);

/*
 * Check the list under its mutex: every entry of the live table points at
 * a whole record below the live half's used bytes, and the derived byte
 * counts match a recount.  0, or -1 with EPROTO and a message.
 */
int cc__shlist_check(cc_shlist *l);

/* How many times the list was repaired after a dead owner, and how many
 * compactions it has made (over all processes). */
uint64_t cc__shlist_repairs(cc_shlist *l);
uint64_t cc__shlist_compactions(cc_shlist *l);

#endif
