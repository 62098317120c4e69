/*
 * guess_game - the guess-the-number server and client of Effective Python's
 * item 76, in every pairing of threads and coroutines.  The server guesses
 * the client's secret number over a line protocol (guess_protocol.c); the
 * client plays the seed's three games and prints what it was told.
 *
 *   --server threads   cc_serve from main: a thread per connection
 *   --server async     cc_serve inside cc_run: a task per connection
 *   --client threads   the client in a plain thread
 *   --client async     the client as a task on a loop
 *   --seed N           the server's guesses (random without it)
 *
 * The seed ports the threaded version to asyncio by rewriting every I/O
 * call; here the session code is the same in all four pairings, only the
 * place it runs from changes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "concur/aio.h"
#include "concur/future.h"
#include "concur/net.h"
#include "concur/sync.h"
#include "guess_protocol.h"

enum { MAX_OUTCOMES = 64 };

/* The seed's three games: the range and the client's secret. */
static const struct {
    int lower, upper, secret;
} GAMES[] = {{1, 5, 3}, {10, 15, 12}, {1, 3, 2}};

/* Everything one run shares between main, the server and the client. */
struct game {
    bool server_async;                   /* --server async */
    bool client_async;                   /* --client async */
    guess_server server;                 /* the handler's argument; its
                                            `cleared` is also the client's */
    int port;                            /* where the server listens */
    guess_outcome outcomes[MAX_OUTCOMES]; /* the client's results */
    size_t noutcomes;                    /* how many */
};

/*
 * run_client - connect, play the three games, close: the seed's run_client.
 * A cc_fn, run by main's thread, a cc_to_thread worker or a task alike.
 * Returns g, or NULL after cc_fail.
 */
static void *run_client(void *arg)
{
    struct game *g = arg;
    cc_stream *s;

    s = cc_open_connection("127.0.0.1", g->port, GUESS_TIMEOUT);
    if (s == NULL)
        return cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                            "client: cannot connect");
    for (size_t i = 0; i < sizeof(GAMES) / sizeof(GAMES[0]); i++) {
        if (guess_play(s, GAMES[i].lower, GAMES[i].upper, GAMES[i].secret,
                       g->server.cleared, g->outcomes, MAX_OUTCOMES,
                       &g->noutcomes) != 0) {
            cc_stream_free(s);
            return cc_fail_from(cc_last_error(),
                                cc_error_code(cc_last_error()), "client");
        }
    }
    if (cc_stream_close(s, GUESS_TIMEOUT) != 0) {
        cc_stream_free(s);
        return cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                            "client: close");
    }
    cc_stream_free(s);
    return g;
}

/* Listen on a free port of 127.0.0.1; the mode says threads or tasks. */
static cc_server *start_server(struct game *g, cc_serve_mode mode)
{
    cc_serve_opts opts = {.mode = mode, .limit = 256};
    cc_server *srv = cc_serve("127.0.0.1", 0, guess_serve, &g->server, &opts);

    if (srv != NULL)
        g->port = cc_server_port(srv);
    return srv;
}

/* Close the server once the client is done; its sessions have ended by
 * then (the client hung up), so nothing should need cancelling. */
static int stop_server(cc_server *srv)
{
    int cancelled = cc_server_close(srv, GUESS_TIMEOUT);

    cc_server_free(srv);
    if (cancelled != 0) {
        fprintf(stderr, "guess_game: %d session(s) still running at close\n",
                cancelled);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------- the threaded server */

/* The seed's first program: the server's threads, started from main, and
 * the client in main's thread -- or as the main task of a loop. */
static int run_threaded_server(struct game *g)
{
    cc_server *srv = start_server(g, CC_SERVE_THREADS);
    int rc;

    if (srv == NULL) {
        fprintf(stderr, "guess_game: cannot serve: %s\n", cc_errmsg());
        return -1;
    }
    if (g->client_async)
        rc = cc_run(run_client, g, NULL);
    else
        rc = run_client(g) != NULL ? 0 : -1;
    if (rc != 0) {
        fflush(stdout);
        cc_error_print(cc_last_error(), stderr);
    }
    if (stop_server(srv) != 0)
        rc = -1;
    return rc;
}

/* ----------------------------------------------------- the async server */

/*
 * The seed's asyncio program: the main task serves on its own loop (a task
 * per connection) and runs the client itself -- or waits for it to run in a
 * worker thread (cc_to_thread): only the main task waits, the loop keeps
 * serving.
 */
static void *async_main(void *arg)
{
    struct game *g = arg;
    cc_server *srv = start_server(g, CC_SERVE_TASKS);
    void *result = NULL;

    if (srv == NULL)
        return cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                            "cannot serve");
    if (g->client_async) {
        result = run_client(g);
    } else {
        cc_future *client = cc_to_thread(run_client, g);

        if (client != NULL &&
            cc_future_result(client, &result, CC_FOREVER) != 0)
            result = NULL;
        cc_future_free(client);
    }
    if (result == NULL) {
        cc_error *failure = cc_error_copy(cc_last_error());

        (void)stop_server(srv);
        cc_fail_from(failure, cc_error_code(failure), "the client failed");
        cc_error_free(failure);
        return NULL;
    }
    if (stop_server(srv) != 0)
        return cc_fail(EBUSY, "the server did not stop");
    return g;
}

static int run_async_server(struct game *g)
{
    if (cc_run(async_main, g, NULL) != 0) {
        fflush(stdout);
        cc_error_print(cc_last_error(), stderr);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ main */

/*
 * check_outcomes - the client's list must hold, game after game, distinct
 * guesses within the game's range, an Unsure (or Correct) first and the
 * secret, Correct, last.  Prints what is wrong on stderr; false then.
 */
static bool check_outcomes(const struct game *g)
{
    size_t i = 0;

    for (size_t k = 0; k < sizeof(GAMES) / sizeof(GAMES[0]); k++) {
        size_t first = i;

        for (;; i++) {
            const guess_outcome *o = &g->outcomes[i];
            bool correct;

            if (i == g->noutcomes) {
                fprintf(stderr, "guess_game: game %zu did not end\n", k + 1);
                return false;
            }
            correct = strcmp(o->decision, "Correct") == 0;
            if (o->number < GAMES[k].lower || o->number > GAMES[k].upper ||
                correct != (o->number == GAMES[k].secret) ||
                (i == first && !correct &&
                 strcmp(o->decision, "Unsure") != 0)) {
                fprintf(stderr, "guess_game: game %zu: %d is %s?\n", k + 1,
                        o->number, o->decision);
                return false;
            }
            for (size_t j = first; j < i; j++) {
                if (g->outcomes[j].number == o->number) {
                    fprintf(stderr, "guess_game: game %zu: %d guessed twice\n",
                            k + 1, o->number);
                    return false;
                }
            }
            if (correct)
                break;
        }
        i++;
    }
    if (i != g->noutcomes) {
        fprintf(stderr, "guess_game: guesses after the last game\n");
        return false;
    }
    return true;
}

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--server threads|async] "
            "[--client threads|async] [--seed N]\n", prog);
    return 2;
}

/* "threads" or "async" into *async; false for anything else. */
static bool parse_style(const char *text, bool *async)
{
    if (strcmp(text, "threads") == 0)
        *async = false;
    else if (strcmp(text, "async") == 0)
        *async = true;
    else
        return false;
    return true;
}

int main(int argc, char **argv)
{
    static struct game g;
    bool seeded = false;
    int rc;

    g.server.seed = (uint64_t)time(NULL);
    for (int i = 1; i < argc; i++) {
        char *end;

        if (i + 1 >= argc)
            return usage(argv[0]);
        if (strcmp(argv[i], "--server") == 0) {
            if (!parse_style(argv[++i], &g.server_async))
                return usage(argv[0]);
        } else if (strcmp(argv[i], "--client") == 0) {
            if (!parse_style(argv[++i], &g.client_async))
                return usage(argv[0]);
        } else if (strcmp(argv[i], "--seed") == 0) {
            errno = 0;
            g.server.seed = strtoull(argv[++i], &end, 10);
            if (errno != 0 || end == argv[i] || *end != '\0')
                return usage(argv[0]);
            seeded = true;
        } else {
            return usage(argv[0]);
        }
    }
    /* With --seed the output is the seed's transcript and nothing else. */
    if (!seeded)
        printf("(server: %s, client: %s, seed %" PRIu64 ": run again with "
               "--seed %" PRIu64 " for the same guesses)\n",
               g.server_async ? "async" : "threads",
               g.client_async ? "async" : "threads", g.server.seed,
               g.server.seed);

    /* The server releases it on each CLEAR, the client waits for it before
     * its next game: both ends print in the book's order. */
    g.server.cleared = cc_sem_new(0);
    if (g.server.cleared == NULL) {
        fprintf(stderr, "guess_game: %s\n", cc_errmsg());
        return EXIT_FAILURE;
    }
    rc = g.server_async ? run_async_server(&g) : run_threaded_server(&g);
    cc_sem_free(g.server.cleared);
    if (rc != 0)
        return EXIT_FAILURE;

    for (size_t i = 0; i < g.noutcomes; i++)
        printf("Client: %d is %s\n", g.outcomes[i].number,
               g.outcomes[i].decision);
    return check_outcomes(&g) ? EXIT_SUCCESS : EXIT_FAILURE;
}
