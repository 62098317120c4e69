/*
 * bench_gcd.h - Effective Python item 79's workload (W4a), shared by the
 * benchmarks that time it on an executor (bench_procpool.c on the process
 * pool, bench_mpi.c on MPI ranks): the ten number pairs, their gcds, the
 * deliberately slow gcd and the blob-in, blob-out task around it.
 * Included once per program (static definitions).
 */
#ifndef BENCH_GCD_H
#define BENCH_GCD_H

#include <stdint.h>
#include <string.h>

#include "concur/base.h"

struct pair {
    uint32_t a;
    uint32_t b;
};

static const struct pair numbers[10] = {
    {19633090, 22659730}, {20306770, 38141720}, {15516450, 22296200},
    {20390450, 20208020}, {18237120, 19249280}, {22931290, 10204910},
    {12812380, 22737820}, {38238120, 42372810}, {38127410, 47291390},
    {12923910, 21238110},
};

/* Count down from the smaller number to the first common divisor. */
static uint32_t gcd(const struct pair *p)
{
    uint32_t low = p->a < p->b ? p->a : p->b;

    for (uint32_t i = low; i > 0; i--)
        if (p->a % i == 0 && p->b % i == 0)
            return i;
    return 0;
}

/* A pair blob in, its gcd out as a blob. */
static void *gcd_task(void *arg)
{
    struct pair p;
    uint32_t g;

    memcpy(&p, arg, sizeof(p));
    g = gcd(&p);
    return cc_blob_dup(&g, sizeof(g));
}

#endif
