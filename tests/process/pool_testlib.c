/*
 * pool_testlib.c - a shared library whose functions test_fnref runs as
 * process pool tasks (and runs in spawned cc_process children).  Built twice: libpool_testlib.so, which test_fnref
 * links (loaded at start in parent and workers alike), and, with
 * POOL_DYNLIB_BUILD and its own symbol names, libpool_dynlib.so, which it
 * dlopens at run time (a worker must load it by path).  No concur calls:
 * it works on the argument in place (a string blob always has a NUL after
 * its bytes), which a task may do.
 */
#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#ifdef POOL_DYNLIB_BUILD
#define SYM(name) pool_dynlib_##name
#else
#define SYM(name) pool_testlib_##name
#endif

int SYM(data) = 42; /* data, not code: not a task */

void *SYM(upper)(void *arg);
void *SYM(upper)(void *arg)
{
    for (char *p = arg; p != NULL && *p != '\0'; p++)
        *p = (char)toupper((unsigned char)*p);
    return arg;
}

/* For a spawned child: leave at once with the string's length as the exit
 * code, so the parent sees that this very function ran in the child. */
void *SYM(exit_with_length)(void *arg);
void *SYM(exit_with_length)(void *arg)
{
    _exit(arg != NULL ? (int)strlen(arg) : 100);
}
