/*
 * guess_protocol.c - both sessions of the guess-the-number game (Effective
 * Python, item 76) over cc_stream: the server's command loop and the
 * client's game.  Nothing here knows whether it runs in a thread or in a
 * coroutine; guess_game.c runs it both ways.  A session's state belongs
 * to the one thread or task that runs it.
 */
#include "guess_protocol.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest line either side sends or accepts, "\n" excluded. */
enum { LINE_MAX_LEN = 63 };

static const char CORRECT[] = "Correct";
static const char WARMER[] = "Warmer";
static const char COLDER[] = "Colder";
static const char SAME[] = "Same";
static const char UNSURE[] = "Unsure";

/* Record a failure caused by the call that just failed (its code kept). */
#define FAIL_FROM_LAST(...)                                             \
    cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()), __VA_ARGS__)

/* --------------------------------------------------------- the connection */

/* send_line - write one formatted command or answer and its "\n", then
 * wait while the peer is slow to take it (the seed's write + drain). */
static int send_line(cc_stream *s, const char *fmt, ...) CC_PRINTF(2, 3);
static int send_line(cc_stream *s, const char *fmt, ...)
{
    char line[LINE_MAX_LEN + 2];
    va_list ap;
    int len;

    va_start(ap, fmt);
    len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (len < 0 || len > LINE_MAX_LEN) {
        cc_fail(EMSGSIZE, "line too long to send");
        return -1;
    }
    line[len++] = '\n';
    if (cc_stream_write(s, line, (size_t)len) != 0 ||
        cc_stream_drain(s, GUESS_TIMEOUT) != 0) {
        FAIL_FROM_LAST("cannot send '%.*s'", len - 1, line);
        return -1;
    }
    return 0;
}

/*
 * receive_line - the next line without its "\n", into line[LINE_MAX_LEN +
 * 1].  Returns 1, or 0 when the peer has closed the connection (nothing
 * recorded: the caller decides whether that is an error), or -1 after
 * cc_fail.
 */
static int receive_line(cc_stream *s, char *line)
{
    char *blob = cc_stream_readline(s, GUESS_TIMEOUT);
    size_t len;

    if (blob == NULL) {
        FAIL_FROM_LAST("cannot receive a line");
        return -1;
    }
    len = cc_blob_len(blob);
    if (len == 0) {
        cc_blob_free(blob);
        return 0;
    }
    if (blob[len - 1] == '\n')
        len--;
    if (len > LINE_MAX_LEN) {
        cc_blob_free(blob);
        cc_fail(EPROTO, "a line of %zu bytes (at most %d expected)", len,
                LINE_MAX_LEN);
        return -1;
    }
    memcpy(line, blob, len);
    line[len] = '\0';
    cc_blob_free(blob);
    return 1;
}

/* parse_int - the whole of `text` as an int; false if it is not one. */
static bool parse_int(const char *text, int *value)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < INT_MIN ||
        v > INT_MAX)
        return false;
    *value = (int)v;
    return true;
}

/* ------------------------------------------------------------- the server */

/* One connection's game state: the seed's ServerSession. */
struct session {
    cc_stream *s;                  /* the client's connection */
    uint64_t random;               /* splitmix64 state */
    bool has_params;               /* PARAMS seen since the last CLEAR */
    int lower, upper;              /* the range, once has_params */
    bool has_secret;               /* a guess was reported Correct */
    int secret;                    /* that guess */
    size_t nguesses;               /* guesses made in this game */
    int guesses[GUESS_MAX_RANGE];  /* the guesses, in order */
};

/* splitmix64: small, fast and seedable, so --seed replays a game. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void clear_state(struct session *ss)
{
    ss->has_params = false;
    ss->has_secret = false;
    ss->nguesses = 0;
}

static bool guessed(const struct session *ss, int number)
{
    for (size_t i = 0; i < ss->nguesses; i++) {
        if (ss->guesses[i] == number)
            return true;
    }
    return false;
}

/* PARAMS: a new game in lower..upper. */
static int set_params(struct session *ss, const char *lower, const char *upper)
{
    int lo;
    int hi;

    if (!parse_int(lower, &lo) || !parse_int(upper, &hi) || hi < lo ||
        (long long)hi - lo >= GUESS_MAX_RANGE) {
        cc_fail(EPROTO, "PARAMS %s %s: not a range of 1 to %d numbers", lower,
                upper, GUESS_MAX_RANGE);
        return -1;
    }
    clear_state(ss);
    ss->lower = lo;
    ss->upper = hi;
    ss->has_params = true;
    return 0;
}

/* NUMBER: a number not guessed yet in this game (or the secret, once
 * found), remembered and sent. */
static int send_number(struct session *ss)
{
    uint64_t range;
    int guess;

    if (!ss->has_params) {
        cc_fail(EPROTO, "NUMBER before PARAMS");
        return -1;
    }
    range = (uint64_t)((long long)ss->upper - ss->lower + 1);
    if (ss->has_secret) {
        guess = ss->secret;
    } else if (ss->nguesses == range) {
        cc_fail(EPROTO, "NUMBER: every number of %d..%d was guessed",
                ss->lower, ss->upper);
        return -1;
    } else {
        do
            guess = ss->lower + (int)(next_random(&ss->random) % range);
        while (guessed(ss, guess));
    }
    if (ss->nguesses == GUESS_MAX_RANGE) {
        cc_fail(EPROTO, "NUMBER: more than %d guesses in one game",
                GUESS_MAX_RANGE);
        return -1;
    }
    ss->guesses[ss->nguesses++] = guess;
    return send_line(ss->s, "%d", guess);
}

/* REPORT: how the last guess did. */
static int receive_report(struct session *ss, const char *decision)
{
    int last;

    if (ss->nguesses == 0) {
        cc_fail(EPROTO, "REPORT %s before any NUMBER", decision);
        return -1;
    }
    last = ss->guesses[ss->nguesses - 1];
    if (strcmp(decision, CORRECT) == 0) {
        ss->has_secret = true;
        ss->secret = last;
    }
    printf("Server: %d is %s\n", last, decision);
    return 0;
}

/* One command line, split at its spaces into at most 4 words. */
static int dispatch(struct session *ss, const char *line, cc_sem *cleared)
{
    char copy[LINE_MAX_LEN + 1];
    char *words[4];
    char *save = NULL;
    size_t n = 0;

    strcpy(copy, line);
    for (char *w = strtok_r(copy, " ", &save); w != NULL && n < 4;
         w = strtok_r(NULL, " ", &save))
        words[n++] = w;
    if (n == 3 && strcmp(words[0], "PARAMS") == 0)
        return set_params(ss, words[1], words[2]);
    if (n == 1 && strcmp(words[0], "NUMBER") == 0)
        return send_number(ss);
    if (n == 2 && strcmp(words[0], "REPORT") == 0)
        return receive_report(ss, words[1]);
    if (n == 1 && strcmp(words[0], "CLEAR") == 0) {
        clear_state(ss);
        if (cleared != NULL && cc_sem_release(cleared) != 0) {
            FAIL_FROM_LAST("CLEAR: cannot signal the end of the game");
            return -1;
        }
        return 0;
    }
    cc_fail(EPROTO, "unknown command '%s'", line);
    return -1;
}

int guess_serve(cc_stream *s, void *arg)
{
    guess_server *srv = arg;
    struct session *ss;
    char line[LINE_MAX_LEN + 1];
    unsigned k;
    int rc;

    /* ~4 KiB of guesses: on the heap, not on a coroutine's small stack. */
    ss = calloc(1, sizeof(*ss));
    if (ss == NULL) {
        cc_fail(ENOMEM, "guess server: out of memory");
        return -1;
    }
    k = atomic_fetch_add(&srv->sessions, 1u);
    ss->s = s;
    ss->random = srv->seed + k;
    clear_state(ss);
    /* The client hanging up (0) ends the session, as the seed's EOFError. */
    while ((rc = receive_line(s, line)) == 1) {
        if (dispatch(ss, line, srv->cleared) != 0) {
            rc = -1;
            break;
        }
    }
    free(ss);
    return rc < 0 ? -1 : 0;
}

/* ------------------------------------------------------------- the client */

/* How far the guess is from the secret, after the one before. */
static const char *decide(int number, int secret, long long *last_distance)
{
    long long distance = llabs((long long)number - secret);
    const char *decision;

    if (distance == 0)
        decision = CORRECT;
    else if (*last_distance < 0)
        decision = UNSURE;
    else if (distance < *last_distance)
        decision = WARMER;
    else if (distance > *last_distance)
        decision = COLDER;
    else
        decision = SAME;
    *last_distance = distance;
    return decision;
}

/* request_number - NUMBER, and the server's guess back. */
static int request_number(cc_stream *s, int *number)
{
    char line[LINE_MAX_LEN + 1];
    int rc;

    if (send_line(s, "NUMBER") != 0)
        return -1;
    rc = receive_line(s, line);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        cc_fail(ENODATA, "connection closed");
        return -1;
    }
    if (!parse_int(line, number)) {
        cc_fail(EPROTO, "NUMBER: '%s' is not a number", line);
        return -1;
    }
    return 0;
}

/* The guesses of one game, up to and including the Correct one. */
static int play_rounds(cc_stream *s, int secret, guess_outcome *out,
                       size_t max, size_t *n)
{
    long long last_distance = -1;

    for (;;) {
        const char *decision;
        int number;

        if (*n == max) {
            cc_fail(EPROTO, "more than %zu guesses", max);
            return -1;
        }
        if (request_number(s, &number) != 0)
            return -1;
        decision = decide(number, secret, &last_distance);
        if (send_line(s, "REPORT %s", decision) != 0)
            return -1;
        out[*n].number = number;
        out[*n].decision = decision;
        (*n)++;
        if (decision == CORRECT)
            return 0;
    }
}

int guess_play(cc_stream *s, int lower, int upper, int secret,
               cc_sem *cleared, guess_outcome *out, size_t max, size_t *n)
{
    cc_error *failure = NULL;
    int rc;

    printf("Guess a number between %d and %d! Shhhhh, it's %d.\n", lower,
           upper, secret);
    if (send_line(s, "PARAMS %d %d", lower, upper) != 0)
        goto err;
    rc = play_rounds(s, secret, out, max, n);
    if (rc != 0) {
        /* Keep the game's error while CLEAR is sent (the seed's finally). */
        failure = cc_error_copy(cc_last_error());
        if (failure == NULL)
            goto err;
    }
    rc = send_line(s, "CLEAR");
    if (rc == 0 && cleared != NULL &&
        cc_sem_acquire(cleared, GUESS_TIMEOUT) != 0) {
        FAIL_FROM_LAST("the server did not end the game");
        rc = -1;
    }
    if (failure != NULL) {
        cc_fail_from(failure, cc_error_code(failure), "game of %d..%d",
                     lower, upper);
        cc_error_free(failure);
        return -1;
    }
    if (rc == 0)
        return 0;
err:
    FAIL_FROM_LAST("game of %d..%d", lower, upper);
    return -1;
}
