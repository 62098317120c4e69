/*
 * random_bytes.h - fill a buffer from the kernel's random source
 * (Python's os.urandom), for the subprocess examples.
 */
#ifndef CONCUR_EXAMPLES_RANDOM_BYTES_H
#define CONCUR_EXAMPLES_RANDOM_BYTES_H

#include <errno.h>
#include <stddef.h>
#include <sys/random.h>
#include <sys/types.h>

/* 0, or -1 with errno.  getrandom() may return less than asked for (only
 * above 256 bytes, or when a signal interrupts it), hence the loop. */
static inline int random_bytes(void *buf, size_t len)
{
    unsigned char *p = buf;

    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

#endif
