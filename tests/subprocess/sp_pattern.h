/*
 * sp_pattern.h - the byte pattern child_helper writes ("write N") and the
 * subprocess tests check: byte j of a stream, position-dependent so that
 * a lost, doubled or reordered piece shows.
 */
#ifndef SP_PATTERN_H
#define SP_PATTERN_H

static inline unsigned char sp_pattern(unsigned long long j)
{
    return (unsigned char)((j % 251) ^ (j >> 12) ^ (j >> 20));
}

#endif
