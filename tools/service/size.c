/*
 * size.c - reading sizes such as "10M" from a command line: the one
 * parser behind every size option of the `concur` command (serve
 * --max-memory, fetch --max-size).  A pure function; no state.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "service.h"

bool svc_parse_size(const char *text, size_t *out)
{
    static const char suffixes[] = "kmg"; /* 2^10, 2^20, 2^30 */
    const char *suffix;
    size_t digits;
    char *end;
    double v;

    if (text == NULL)
        return false;
    /* plain decimals only: strtod would also take "inf", "0x10", "1e3",
     * " 5" and "-1" */
    digits = strspn(text, "0123456789.");
    errno = 0;
    v = strtod(text, &end);
    if (digits == 0 || end != text + digits || errno != 0 || !isfinite(v))
        return false;
    if (*end != '\0') {
        suffix = strchr(suffixes, tolower((unsigned char)*end));
        if (suffix == NULL || end[1] != '\0')
            return false;
        v = ldexp(v, 10 * (int)(suffix - suffixes + 1));
    }
    v = floor(v);
    if (v < 1 || v > ldexp(1, 40))
        return false;
    *out = (size_t)v;
    return true;
}
