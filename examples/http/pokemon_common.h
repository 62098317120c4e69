/*
 * pokemon_common.h - what the blog's Pokemon programs (pokemon_sync,
 * pokemon_threads, pokemon_async) share, and the target the course notes'
 * download_site programs share with them: the service named by
 * --base-url, or else the local one (tools/service) started in this
 * process with a realistic latency.
 */
#ifndef EXAMPLES_HTTP_POKEMON_COMMON_H
#define EXAMPLES_HTTP_POKEMON_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "../../tools/service/service.h"

/* Where the requests go.  pk_target_open fills it; pk_target_close. */
typedef struct pk_target {
    char *base_url; /* without a trailing slash; owned */
    svc *service;   /* the local service, or NULL with --base-url */
} pk_target;

/*
 * pk_target_open - parse `[--base-url URL]` (the only option) and, without
 * it, start the local service with answers delayed by a uniform draw from
 * [lat_min, lat_max] seconds.  Returns 0, or an exit status (2: usage, 1:
 * the service failed) after printing why.
 */
int pk_target_open(pk_target *t, int argc, char **argv, double lat_min,
                   double lat_max);
void pk_target_close(pk_target *t);

/* True when stdout is a terminal: colours then, plain text otherwise (the
 * blog's `rich` does the same). */
bool pk_color(void);

/* The terminal colours of the blog's rich markup ("" when not a
 * terminal). */
const char *pk_yellow(void);
const char *pk_green(void);
const char *pk_magenta(void);
const char *pk_cyan(void);
const char *pk_bold_green(void);
const char *pk_reset(void);

/* One Pokemon: its number and the name its page's first <h1> gives. */
typedef struct pk_result {
    int num;
    char name[64];
} pk_result;

/*
 * pk_download - the blog's download_single_pokemon: print "Downloading
 * Pokémon NN...", GET base/pokedex/NN, fail on a status >= 400 (as
 * raise_for_status), take the first <h1>, print "Retrieved NN=Name".
 * Works from a thread and from a task (only the task waits).  Returns 0,
 * or -1 with errno and cc_errmsg().
 */
int pk_download(const char *base, int num, pk_result *out);

/* The blog's closing lines: "The code ran in 1.67 seconds." and
 * "results=[(1, 'Bulbasaur'), ...]". */
void pk_print_end(double seconds, const pk_result *results, size_t n);

#endif
