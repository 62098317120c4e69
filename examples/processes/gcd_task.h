/*
 * gcd_task.h - Effective Python item 79's work, shared by gcd_processes.c
 * and ../mpi/gcd_mpi.c (the same task on a process pool and on MPI ranks):
 * the ten number pairs, the deliberately slow gcd and the blob-in,
 * blob-out task around it.  Included once per program (static
 * definitions).
 */
#ifndef EXAMPLES_GCD_TASK_H
#define EXAMPLES_GCD_TASK_H

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "concur/base.h"

enum { N_PAIRS = 10 };

struct pair {
    uint32_t a;
    uint32_t b;
};

static const struct pair numbers[N_PAIRS] = {
    {19633090, 22659730}, {20306770, 38141720}, {15516450, 22296200},
    {20390450, 20208020}, {18237120, 19249280}, {22931290, 10204910},
    {12812380, 22737820}, {38238120, 42372810}, {38127410, 47291390},
    {12923910, 21238110},
};

/* Count down from the smaller number to the first common divisor; 0 only
 * when a number is 0 (never, for these pairs). */
static uint32_t gcd(const struct pair *p)
{
    uint32_t low = p->a < p->b ? p->a : p->b;

    for (uint32_t i = low; i > 0; i--)
        if (p->a % i == 0 && p->b % i == 0)
            return i;
    return 0;
}

/* The task, in a worker process or on a worker rank: a pair in, its gcd
 * out, as blobs (what crosses between processes is bytes, like Python's
 * pickles). */
static void *gcd_task(void *arg)
{
    struct pair p;
    uint32_t g;

    if (cc_blob_len(arg) != sizeof(p))
        return cc_fail(EINVAL, "gcd_task: expected a pair of numbers");
    memcpy(&p, arg, sizeof(p));
    g = gcd(&p);
    if (g == 0)
        return cc_fail(EDOM, "gcd(%u, %u): not reachable", (unsigned)p.a,
                       (unsigned)p.b);
    return cc_blob_dup(&g, sizeof(g));
}

#endif
