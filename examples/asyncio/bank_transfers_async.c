/*
 * bank_transfers_async - 20 random transfers between five banks, each a
 * task on one event loop.  update_bank reads a balance, cc_sleeps, then
 * writes it: without a lock another task's update slips in at the sleep and
 * is lost, so the sum drifts from 5000 (one thread: no data race, only
 * interleaving).  --locked holds a cc_lock, owned by the task, across the
 * two updates: the sum stays 5000.  Rebuilds the blog's locks/2_async_*.py.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "concur/aio.h"
#include "concur/sync.h"

enum {
    N_BANKS = 5,
    N_TRANSFERS = 20,
    START_BALANCE = 1000,
};

/* The balances; only the loop's thread touches them, so no data race is
 * possible, only the interleaving of tasks at their sleeps. */
static int balances[N_BANKS];

struct transfer {
    int from;      /* index of the sending bank */
    int to;        /* index of the receiving bank, never `from` */
    int amount;    /* 1 .. 100 */
    cc_lock *lock; /* held around the two updates; NULL: no lock */
};

/* splitmix64: small and seedable, so that --seed replays a run. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* A random integer in lo .. hi (the bias is negligible for these ranges). */
static int random_int(uint64_t *state, int lo, int hi)
{
    return lo + (int)(next_random(state) % (uint64_t)(hi - lo + 1));
}

static void make_transfers(struct transfer *t, uint64_t seed, cc_lock *lock)
{
    uint64_t state = seed;

    for (int i = 0; i < N_TRANSFERS; i++) {
        t[i].from = random_int(&state, 0, N_BANKS - 1);
        t[i].to = random_int(&state, 0, N_BANKS - 2); /* one of the others */
        if (t[i].to >= t[i].from)
            t[i].to++;
        t[i].amount = random_int(&state, 1, 100);
        t[i].lock = lock;
    }
}

static void print_balances(const char *label, const int *b)
{
    printf("%s={", label);
    for (int i = 0; i < N_BANKS; i++)
        printf("%s'bank_%d': %d", i > 0 ? ", " : "", i + 1, b[i]);
    printf("}\n");
}

static long sum_of(const int *b)
{
    long sum = 0;

    for (int i = 0; i < N_BANKS; i++)
        sum += b[i];
    return sum;
}

/* Checking that the user may make the transfer: slow I/O, a cc_sleep.
 * 0, or -1 with the calling task's error pending. */
static int verify_user(void)
{
    if (cc_sleep(0.1) != 0) {
        cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                     "verify_user: sleep failed");
        return -1;
    }
    return 0;
}

/* Read, sleep, write, sleep: during the first sleep the balance read is
 * stale, and any update made meanwhile by another task is overwritten. */
static int update_bank(int bank, int amount)
{
    int before = balances[bank];

    if (cc_sleep(0.0001) != 0)
        goto err;
    balances[bank] = before + amount;
    if (cc_sleep(0.0001) != 0)
        goto err;
    return 0;
err:
    cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                 "update_bank: sleep failed");
    return -1;
}

/* The task: one transfer (the seed's run_transaction). */
static void *run_transaction(void *arg)
{
    struct transfer *t = arg;
    int rc;

    if (verify_user() != 0)
        return NULL;
    if (t->lock != NULL && cc_lock_acquire(t->lock, CC_FOREVER) != 0)
        return cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                            "transfer: cannot take the lock");
    rc = update_bank(t->from, -t->amount);
    if (rc == 0)
        rc = update_bank(t->to, t->amount);
    if (t->lock != NULL && cc_lock_release(t->lock) != 0 && rc == 0)
        return cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                            "transfer: cannot release the lock");
    if (rc != 0)
        return NULL; /* update_bank's error is pending */
    printf(".");
    fflush(stdout);
    return t;
}

/* The main task: spawn every transfer and gather them (the seed's
 * run_transactions).  On a failure the others are cancelled and waited
 * for, and the main task fails with the first error. */
static void *run_transactions(void *arg)
{
    struct transfer *transfers = arg;
    cc_future *tasks[N_TRANSFERS];
    cc_error *first = NULL;
    int spawned;

    for (spawned = 0; spawned < N_TRANSFERS; spawned++) {
        tasks[spawned] = cc_spawn(run_transaction, &transfers[spawned]);
        if (tasks[spawned] == NULL)
            break;
    }
    if (spawned < N_TRANSFERS ||
        cc_gather(tasks, N_TRANSFERS, NULL, false, CC_FOREVER) != 0) {
        first = cc_error_copy(cc_last_error());
        for (int i = 0; i < spawned; i++)
            cc_future_cancel(tasks[i]);
        (void)cc_gather(tasks, (size_t)spawned, NULL, true, CC_FOREVER);
    }
    for (int i = 0; i < spawned; i++)
        cc_future_free(tasks[i]);
    if (first == NULL)
        return transfers;
    cc_fail_from(first, cc_error_code(first), "run_transactions: %s",
                 spawned < N_TRANSFERS ? "cannot spawn" : "a transfer failed");
    cc_error_free(first);
    return NULL;
}

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--seed N] [--locked]\n", prog);
    return 2;
}

int main(int argc, char **argv)
{
    struct transfer transfers[N_TRANSFERS];
    int expected[N_BANKS];
    uint64_t seed = (uint64_t)time(NULL);
    bool locked = false;
    cc_lock *lock = NULL;
    long sum;
    double t0;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            char *end;

            errno = 0;
            seed = strtoull(argv[++i], &end, 10);
            if (errno != 0 || end == argv[i] || *end != '\0')
                return usage(argv[0]);
        } else if (strcmp(argv[i], "--locked") == 0) {
            locked = true;
        } else {
            return usage(argv[0]);
        }
    }
    if (locked) {
        lock = cc_lock_new();
        if (lock == NULL) {
            fprintf(stderr, "bank_transfers_async: lock: %s\n", cc_errmsg());
            return EXIT_FAILURE;
        }
    }
    make_transfers(transfers, seed, lock);

    /* What applying every transfer once, in any order, must give. */
    for (int i = 0; i < N_BANKS; i++)
        balances[i] = expected[i] = START_BALANCE;
    for (int i = 0; i < N_TRANSFERS; i++) {
        expected[transfers[i].from] -= transfers[i].amount;
        expected[transfers[i].to] += transfers[i].amount;
    }

    printf("seed=%llu (run again with --seed %llu for the same transfers)\n",
           (unsigned long long)seed, (unsigned long long)seed);
    if (locked)
        printf("=== %d transfer tasks, a cc_lock held across the two "
               "updates\n", N_TRANSFERS);
    else
        printf("=== %d transfer tasks, no lock (updates may be lost at the "
               "sleeps: the sum may drift)\n", N_TRANSFERS);
    t0 = cc_now();
    print_balances("\ninitial", balances);
    printf("\n");
    fflush(stdout);
    rc = cc_run(run_transactions, transfers, NULL);
    if (rc != 0) {
        printf("\n");
        fflush(stdout);
        fprintf(stderr, "bank_transfers_async: ");
        cc_error_print(cc_last_error(), stderr);
        cc_lock_free(lock);
        return EXIT_FAILURE;
    }
    printf("\n\n");
    print_balances("final", balances);
    sum = sum_of(balances);
    printf("sum=%ld\n", sum);
    printf("\nThe code ran in %.2f seconds.\n", cc_now() - t0);
    cc_lock_free(lock);

    if (!locked) {
        int wrong = 0;

        for (int i = 0; i < N_BANKS; i++)
            wrong += balances[i] != expected[i];
        if (sum == (long)N_BANKS * START_BALANCE && wrong == 0)
            printf("(no drift this time: no update was lost)\n");
        else if (sum == (long)N_BANKS * START_BALANCE)
            printf("(no drift this time, but %d balances are wrong: the "
                   "lost updates cancelled out)\n", wrong);
        else
            printf("(drift of %+ld: updates were lost)\n",
                   sum - (long)N_BANKS * START_BALANCE);
        return 0;
    }
    if (sum != (long)N_BANKS * START_BALANCE) {
        fprintf(stderr, "bank_transfers_async: sum is %ld, expected %d\n",
                sum, N_BANKS * START_BALANCE);
        return EXIT_FAILURE;
    }
    for (int i = 0; i < N_BANKS; i++) {
        if (balances[i] != expected[i]) {
            fprintf(stderr, "bank_transfers_async: bank_%d ends at %d, "
                    "expected %d\n", i + 1, balances[i], expected[i]);
            return EXIT_FAILURE;
        }
    }
    printf("(every balance is what the transfers add up to)\n");
    return 0;
}
