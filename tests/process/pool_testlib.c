/*
 * pool_testlib.c - a shared library whose functions test_fnref runs as
 * process pool tasks.  Built twice: libpool_testlib.so, which test_fnref
 * links (loaded at start in parent and workers alike), and
 * libpool_dynlib.so, which it dlopens at run time (a worker must load it
 * by path).  No concur calls: it works on the argument in place (a string
 * blob always has a NUL after its bytes), which a task may do.
 */
#include <ctype.h>
#include <stddef.h>

int pool_testlib_data = 42; /* data, not code: not a task */

void *pool_testlib_upper(void *arg);
void *pool_testlib_upper(void *arg)
{
    for (char *p = arg; p != NULL && *p != '\0'; p++)
        *p = (char)toupper((unsigned char)*p);
    return arg;
}
