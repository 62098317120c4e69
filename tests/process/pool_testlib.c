/*
 * pool_testlib.c - a shared library whose functions test_fnref runs as
 * process pool tasks.  Built twice: libpool_testlib.so, which test_fnref
 * links (loaded at start in parent and workers alike), and, with
 * POOL_DYNLIB_BUILD and its own symbol names, libpool_dynlib.so, which it
 * dlopens at run time (a worker must load it by path).  No concur calls:
 * it works on the argument in place (a string blob always has a NUL after
 * its bytes), which a task may do.
 */
#include <ctype.h>
#include <stddef.h>

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
