/*
 * guess_protocol.h - the guess-the-number game of Effective Python's item 76:
 * the line protocol and both sessions, written once over cc_stream calls.
 *
 * The client knows a secret number; the server guesses it.  Lines, one
 * command each, client to server:
 *
 *   PARAMS <lower> <upper>   start a game: guess in lower..upper
 *   NUMBER                   ask for a guess; the server answers "<n>\n"
 *   REPORT <decision>        say how the last guess did: Correct, Warmer,
 *                            Colder, Same (as far off as the one before) or
 *                            Unsure (the first guess of a game)
 *   CLEAR                    end the game
 *
 * Python needs two copies of this code: blocking methods for the threaded
 * version and `async def` ones with `await` for asyncio.  Here the same
 * functions serve both: a cc_stream call blocks a thread, and suspends a
 * coroutine while its loop runs the other tasks.
 */
#ifndef GUESS_PROTOCOL_H
#define GUESS_PROTOCOL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "concur/net.h"
#include "concur/sync.h"

/* Seconds any one line may take to arrive before a session gives up. */
#define GUESS_TIMEOUT 10.0

/* The widest range a game may ask for (lower..upper holds at most this
 * many numbers): the server remembers its guesses in a fixed array. */
enum { GUESS_MAX_RANGE = 1000 };

/* One guess of a game, as the client saw it. */
typedef struct guess_outcome {
    int number;           /* the server's guess */
    const char *decision; /* "Correct", "Warmer", ... (static text) */
} guess_outcome;

/*
 * The server's side, shared by every connection of one server.  `seed`
 * makes the guesses reproducible: connection k (counted from 0) draws from
 * a generator seeded with seed + k.  When `cleared` is not NULL, every
 * CLEAR releases it once (see guess_play).
 */
typedef struct guess_server {
    uint64_t seed;        /* seeds the guesses */
    cc_sem *cleared;      /* released after each CLEAR, or NULL */
    atomic_uint sessions; /* connections so far */
} guess_server;

/*
 * guess_serve - the server's session on one connection: read commands
 * until the client hangs up, print "Server: <n> is <decision>" for every
 * REPORT.  A cc_stream_handler: pass a guess_server as arg.  Returns 0
 * once the client has closed the connection, or -1 after cc_fail: EPROTO
 * for a command it does not know or one out of place, the stream's error
 * otherwise.
 */
int guess_serve(cc_stream *s, void *arg);

/*
 * guess_play - play one game as the client: print "Guess a number between
 * <lower> and <upper>! Shhhhh, it's <secret>.", send PARAMS, ask for
 * numbers and report on each until the server finds the secret, then send
 * CLEAR (also after a failure, as the seed's context manager does).  Appends
 * each guess to out[*n], at most max in all.  When `cleared` is not NULL,
 * waits for one unit of it after the CLEAR: the server's prints of this game
 * are then all out (the example runs both ends in one process and wants its
 * transcript in a fixed order; across a network one would not wait).
 * Returns 0, or -1 after cc_fail (EPROTO: a reply that is not a number, a
 * guess out of range or too many guesses; ENODATA: the server hung up; the
 * stream's errors).
 */
int guess_play(cc_stream *s, int lower, int upper, int secret,
               cc_sem *cleared, guess_outcome *out, size_t max, size_t *n);

#endif
