/*
 * pokemon_common.h - what the blog's Pokemon programs (pokemon_sync,
 * pokemon_threads, pokemon_async) share, and the target the course notes'
 * download_site programs share with them.  Where the requests go (the
 * --base-url option, or the local service in-process) is net_example.h's
 * ex_target, as for every network example.
 */
#ifndef EXAMPLES_HTTP_POKEMON_COMMON_H
#define EXAMPLES_HTTP_POKEMON_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "net_example.h"

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
