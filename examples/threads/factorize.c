/*
 * factorize - naive factorization of 16 numbers, serially and with one
 * cc_thread per number.  In C the threads run on every CPU at once, so the
 * speedup approaches the CPU count, where Python's GIL keeps it at ~1x.
 * Rebuilds the FactorizeThread program of Effective Python, Item 68.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/sync.h"

enum { N_NUMBERS = 16 };

static const uint32_t numbers[N_NUMBERS] = {
    7775876, 6694411, 5038540, 5426782, 9934740, 9168996, 5271226, 8288002,
    9403196, 6678888, 6776096, 9582542, 7107467, 9633726, 5747908, 7613918,
};

/* The divisors of one number, in increasing order. */
struct factors {
    uint32_t number;
    uint32_t *list; /* malloc'ed, len used of cap */
    size_t len;
    size_t cap;
};

/*
 * Collect every i in 1..number that divides number, trying them all (the
 * seed's deliberately slow algorithm).  Returns 0, or -1 out of memory.
 */
static int factorize(struct factors *f)
{
    for (uint32_t i = 1; i <= f->number; i++) {
        if (f->number % i != 0)
            continue;
        if (f->len == f->cap) {
            size_t cap = f->cap != 0 ? 2 * f->cap : 16;
            uint32_t *list = realloc(f->list, cap * sizeof(*list));

            if (list == NULL)
                return -1;
            f->list = list;
            f->cap = cap;
        }
        f->list[f->len++] = i;
    }
    return 0;
}

static void *factorize_thread(void *arg)
{
    if (factorize(arg) != 0)
        return cc_fail(ENOMEM, "out of memory");
    return NULL;
}

static void free_factors(struct factors *all)
{
    for (int i = 0; i < N_NUMBERS; i++)
        free(all[i].list);
}

static int same_factors(const struct factors *a, const struct factors *b)
{
    return a->len == b->len &&
           memcmp(a->list, b->list, a->len * sizeof(*a->list)) == 0;
}

int main(int argc, char **argv)
{
    struct factors serial[N_NUMBERS] = {{0}};
    struct factors threaded[N_NUMBERS] = {{0}};
    cc_thread *threads[N_NUMBERS];
    double serial_s;
    double threaded_s;
    double start;
    size_t total = 0;
    int started = 0;
    int rc = 0;
    int cpus;

    if (argc != 1) {
        fprintf(stderr, "usage: %s\n", argv[0]);
        return 2;
    }
    for (int i = 0; i < N_NUMBERS; i++) {
        serial[i].number = numbers[i];
        threaded[i].number = numbers[i];
    }

    printf("%d numbers, one after the other:\n", N_NUMBERS);
    start = cc_now();
    for (int i = 0; i < N_NUMBERS && rc == 0; i++) {
        if (factorize(&serial[i]) != 0) {
            fprintf(stderr, "factorize: out of memory\n");
            rc = -1;
        }
    }
    serial_s = cc_now() - start;
    if (rc != 0)
        goto out;
    printf("Took %.3f seconds\n", serial_s);

    printf("%d numbers, one cc_thread each:\n", N_NUMBERS);
    start = cc_now();
    for (; started < N_NUMBERS; started++) {
        threads[started] = cc_thread_start(factorize_thread,
                                           &threaded[started], NULL);
        if (threads[started] == NULL) {
            fprintf(stderr, "factorize: start: %s\n", cc_errmsg());
            rc = -1;
            break;
        }
    }
    for (int i = 0; i < started; i++) {
        if (cc_thread_join(threads[i], NULL, CC_FOREVER) != 0) {
            fprintf(stderr, "factorize: %s failed: ",
                    cc_thread_name(threads[i]));
            cc_error_print(cc_last_error(), stderr);
            rc = -1;
        }
        cc_thread_free(threads[i]);
    }
    threaded_s = cc_now() - start;
    if (rc != 0)
        goto out;
    printf("Took %.3f seconds\n", threaded_s);

    for (int i = 0; i < N_NUMBERS; i++) {
        if (!same_factors(&serial[i], &threaded[i])) {
            fprintf(stderr, "factorize: the two runs disagree on %u\n",
                    (unsigned)numbers[i]);
            rc = -1;
            goto out;
        }
        total += serial[i].len;
    }
    printf("both runs found the same %zu factors\n", total);
    cpus = cc_cpu_count();
    printf("speedup with %d threads on %d CPU%s: %.1fx (Python's GIL gives "
           "~1.0x)\n", N_NUMBERS, cpus, cpus == 1 ? "" : "s",
           threaded_s > 0 ? serial_s / threaded_s : 0.0);
out:
    free_factors(serial);
    free_factors(threaded);
    return rc == 0 ? 0 : EXIT_FAILURE;
}
