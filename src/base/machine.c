/*
 * machine.c - cpu count, debug mode and the version string (base layer).
 */
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal/ctx.h"
#include "internal/log.h"

_Atomic int cc__debug_on;

/* Read CONCUR_DEBUG once, when the library is loaded. */
__attribute__((constructor)) static void debug_from_env(void)
{
    const char *v = getenv("CONCUR_DEBUG");

    if (v != NULL && v[0] != '\0' && strcmp(v, "0") != 0)
        atomic_store(&cc__debug_on, 1);
}

void cc_set_debug(bool on)
{
    atomic_store(&cc__debug_on, on ? 1 : 0);
}

bool cc_debug_enabled(void)
{
    return cc__debug();
}

void cc__debugf(const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    cc__logf(CC_LOG_DEBUG, "concur: %s", line);
}

int cc_cpu_count(void)
{
    cpu_set_t set;
    long n;

    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        n = CPU_COUNT(&set);
        if (n > 0)
            return (int)n;
    }
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

const char *cc_version(void)
{
#define CC_STR2(x) #x
#define CC_STR(x) CC_STR2(x)
    return CC_STR(CC_VERSION_MAJOR) "." CC_STR(CC_VERSION_MINOR) "." CC_STR(
        CC_VERSION_PATCH);
}
