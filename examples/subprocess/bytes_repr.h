/*
 * bytes_repr.h - print a byte string the way Python prints a bytes object
 * (its repr), for the subprocess examples, whose Python originals print
 * the tail of what openssl wrote: b'\x02a_\xd3...'.
 *
 * Python's rules: the text is quoted with ' unless the bytes hold a ' and
 * no ", then with "; printable ASCII (0x20-0x7e) stands for itself except
 * the backslash and the chosen quote, which get a backslash; tab, newline
 * and carriage return are \t \n \r; every other byte is \x and two
 * lower-case hex digits.
 */
#ifndef CONCUR_EXAMPLES_BYTES_REPR_H
#define CONCUR_EXAMPLES_BYTES_REPR_H

#include <stdio.h>
#include <string.h>

static inline void print_bytes_repr(FILE *to, const void *data, size_t len)
{
    const unsigned char *b = data;
    char quote = '\'';

    if (len > 0 && memchr(b, '\'', len) != NULL &&
        memchr(b, '"', len) == NULL)
        quote = '"';
    fprintf(to, "b%c", quote);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = b[i];

        if (c == '\\' || c == (unsigned char)quote)
            fprintf(to, "\\%c", c);
        else if (c == '\t')
            fputs("\\t", to);
        else if (c == '\n')
            fputs("\\n", to);
        else if (c == '\r')
            fputs("\\r", to);
        else if (c >= 0x20 && c < 0x7f)
            fputc(c, to);
        else
            fprintf(to, "\\x%02x", c);
    }
    fprintf(to, "%c\n", quote);
}

/* The last `n` bytes of data (all of it when shorter): Python's out[-n:]. */
static inline void print_tail_repr(FILE *to, const void *data, size_t len,
                                   size_t n)
{
    const unsigned char *b = data;

    if (len > n) {
        b += len - n;
        len = n;
    }
    print_bytes_repr(to, b, len);
}

#endif
