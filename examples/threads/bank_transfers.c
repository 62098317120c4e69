/*
 * bank_transfers - 20 random transfers between five banks, run one after the
 * other, then on a pool of worker threads without a lock (balances drift: a
 * data race ON PURPOSE), then with a cc_rlock around each transfer's two
 * updates (the sum stays 5000).  Rebuilds the locks/1_sync.py,
 * 3_threaded_unsafe.py and 3_threaded_safe.py programs of the blog post on
 * async, threads and multiprocessing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "concur/queue.h"
#include "concur/sync.h"

enum {
    N_BANKS = 5,
    N_TRANSFERS = 20,
    START_BALANCE = 1000,
};

enum {
    MODE_SYNC = 1,
    MODE_UNSAFE = 2,
    MODE_SAFE = 4,
};

/*
 * The balances, shared by every worker.  volatile keeps each read and each
 * write a real memory access; nothing else protects them in the unsafe mode,
 * so a read, a sleep and a write of one thread can interleave with another's.
 */
static volatile int balances[N_BANKS];

struct transfer {
    int from;   /* index of the sending bank */
    int to;     /* index of the receiving bank, never `from` */
    int amount; /* 1 .. 100 */
};

/* What the workers share.  lock is NULL in the unsafe mode. */
struct bank_run {
    cc_queue *pending; /* struct transfer *, shut down once all are in */
    cc_rlock *lock;
};

static void sleep_for(double seconds)
{
    struct timespec ts;

    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0)
        continue; /* EINTR: sleep the rest */
}

/* splitmix64: a small, seedable generator, so --seed replays a run. */
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

static void make_transfers(struct transfer *t, uint64_t seed)
{
    uint64_t state = seed;

    for (int i = 0; i < N_TRANSFERS; i++) {
        t[i].from = random_int(&state, 0, N_BANKS - 1);
        /* Pick among the other four banks. */
        t[i].to = random_int(&state, 0, N_BANKS - 2);
        if (t[i].to >= t[i].from)
            t[i].to++;
        t[i].amount = random_int(&state, 1, 100);
    }
}

static void print_balances(const char *label)
{
    printf("%s={", label);
    for (int i = 0; i < N_BANKS; i++)
        printf("%s'bank_%d': %d", i > 0 ? ", " : "", i + 1, balances[i]);
    printf("}\n");
}

static long sum_balances(void)
{
    long sum = 0;

    for (int i = 0; i < N_BANKS; i++)
        sum += balances[i];
    return sum;
}

/* Simulates checking that the user may make the transfer (slow I/O). */
static void verify_user(void)
{
    sleep_for(0.1);
}

/* Read, wait, write, wait: the read balance is stale during the first wait. */
static void update_bank(int bank, int amount)
{
    int before = balances[bank];

    sleep_for(0.0001);
    balances[bank] = before + amount;
    sleep_for(0.0001);
}

/* One transfer; lock (may be NULL) is held around the two updates.
 * Returns 0, or -1 when the lock fails. */
static int run_transfer(const struct transfer *t, cc_rlock *lock)
{
    verify_user();
    if (lock != NULL && cc_rlock_acquire(lock, CC_FOREVER) != 0)
        return -1;
    update_bank(t->from, -t->amount);
    update_bank(t->to, t->amount);
    if (lock != NULL && cc_rlock_release(lock) != 0)
        return -1;
    printf(".");
    fflush(stdout);
    return 0;
}

/* A pool worker: runs transfers until the queue is shut down and empty. */
static void *transfer_worker(void *arg)
{
    struct bank_run *run = arg;

    for (;;) {
        void *item;

        if (cc_queue_get(run->pending, &item, CC_FOREVER) != 0) {
            if (errno == ESHUTDOWN)
                return NULL;
            return cc_fail_from(cc_last_error(), 0, "get");
        }
        if (run_transfer(item, run->lock) != 0)
            return cc_fail_from(cc_last_error(), 0, "transfer");
    }
}

/* Run the transfers on n_workers threads.  Returns 0, or -1 after printing
 * what failed. */
static int run_threaded(struct transfer *transfers, int n_workers,
                        cc_rlock *lock)
{
    struct bank_run run = {.pending = NULL, .lock = lock};
    cc_thread **workers;
    int started = 0;
    int rc = 0;

    workers = calloc((size_t)n_workers, sizeof(*workers));
    run.pending = cc_queue_new(0, CC_FIFO);
    if (workers == NULL || run.pending == NULL) {
        fprintf(stderr, "bank_transfers: setup: %s\n",
                workers == NULL ? "out of memory" : cc_errmsg());
        free(workers);
        cc_queue_free(run.pending);
        return -1;
    }
    /* Queue all the work first, like executor.submit() in the seed. */
    for (int i = 0; i < N_TRANSFERS && rc == 0; i++) {
        if (cc_queue_put(run.pending, &transfers[i], CC_FOREVER) != 0) {
            fprintf(stderr, "bank_transfers: put: %s\n", cc_errmsg());
            rc = -1;
        }
    }
    /* Workers drain what is queued, then get ESHUTDOWN and end. */
    if (cc_queue_shutdown(run.pending, rc != 0) != 0) {
        fprintf(stderr, "bank_transfers: shutdown: %s\n", cc_errmsg());
        rc = -1;
    }
    for (; started < n_workers; started++) {
        workers[started] = cc_thread_start(transfer_worker, &run, NULL);
        if (workers[started] == NULL) {
            fprintf(stderr, "bank_transfers: start: %s\n", cc_errmsg());
            rc = -1;
            break;
        }
    }
    for (int i = 0; i < started; i++) {
        if (cc_thread_join(workers[i], NULL, CC_FOREVER) != 0) {
            fprintf(stderr, "bank_transfers: %s failed: ",
                    cc_thread_name(workers[i]));
            cc_error_print(cc_last_error(), stderr);
            rc = -1;
        }
        cc_thread_free(workers[i]);
    }
    free(workers);
    cc_queue_free(run.pending);
    return rc;
}

/*
 * Run one mode from fresh balances and print it the way the seed does.
 * Returns 0, or -1 after printing what failed.
 */
static int run_mode(int mode, struct transfer *transfers, int n_workers)
{
    cc_rlock *lock = NULL;
    double t0;
    int rc = 0;

    for (int i = 0; i < N_BANKS; i++)
        balances[i] = START_BALANCE;
    if (mode == MODE_SYNC)
        printf("\n=== sync: one transfer after the other\n");
    else if (mode == MODE_UNSAFE)
        printf("\n=== threads, no lock, %d workers (a data race on purpose: "
               "the sum may drift)\n", n_workers);
    else
        printf("\n=== threads, a cc_rlock around the updates, %d workers\n",
               n_workers);

    t0 = cc_now();
    print_balances("\ninitial");
    printf("\n");
    fflush(stdout);
    if (mode == MODE_SYNC) {
        for (int i = 0; i < N_TRANSFERS && rc == 0; i++)
            rc = run_transfer(&transfers[i], NULL);
    } else {
        if (mode == MODE_SAFE) {
            lock = cc_rlock_new();
            if (lock == NULL) {
                fprintf(stderr, "bank_transfers: rlock: %s\n", cc_errmsg());
                return -1;
            }
        }
        rc = run_threaded(transfers, n_workers, lock);
        cc_rlock_free(lock);
    }
    if (rc != 0)
        return -1;
    printf("\n\n");
    print_balances("final");
    printf("sum=%ld\n", sum_balances());
    printf("\nThe code ran in %.2f seconds.\n", cc_now() - t0);
    return 0;
}

static int parse_modes(const char *arg)
{
    char buf[64];
    int modes = 0;

    if (strlen(arg) >= sizeof(buf))
        return 0;
    strcpy(buf, arg);
    for (char *save = NULL, *word = strtok_r(buf, ",", &save); word != NULL;
         word = strtok_r(NULL, ",", &save)) {
        if (strcmp(word, "sync") == 0)
            modes |= MODE_SYNC;
        else if (strcmp(word, "unsafe") == 0)
            modes |= MODE_UNSAFE;
        else if (strcmp(word, "safe") == 0)
            modes |= MODE_SAFE;
        else if (strcmp(word, "all") == 0)
            modes |= MODE_SYNC | MODE_UNSAFE | MODE_SAFE;
        else
            return 0;
    }
    return modes;
}

static int usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--seed N] [--mode sync|unsafe|safe|all[,...]]\n",
            prog);
    return 2;
}

int main(int argc, char **argv)
{
    static const int order[3] = {MODE_SYNC, MODE_UNSAFE, MODE_SAFE};
    struct transfer transfers[N_TRANSFERS];
    int final_sync[N_BANKS] = {0};
    uint64_t seed = (uint64_t)time(NULL);
    int modes = MODE_SYNC | MODE_UNSAFE | MODE_SAFE;
    int n_workers;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            char *end;

            errno = 0;
            seed = strtoull(argv[++i], &end, 10);
            if (errno != 0 || *end != '\0' || end == argv[i])
                return usage(argv[0]);
        } else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
            modes = parse_modes(argv[++i]);
            if (modes == 0)
                return usage(argv[0]);
        } else {
            return usage(argv[0]);
        }
    }

    /* Python's ThreadPoolExecutor() default: min(32, CPUs + 4) workers. */
    n_workers = cc_cpu_count() + 4;
    if (n_workers > 32)
        n_workers = 32;
    make_transfers(transfers, seed);
    printf("seed=%llu (run again with --seed %llu for the same transfers)\n",
           (unsigned long long)seed, (unsigned long long)seed);

    for (int m = 0; m < 3; m++) {
        long sum;

        if (!(modes & order[m]))
            continue;
        if (run_mode(order[m], transfers, n_workers) != 0)
            return EXIT_FAILURE;
        sum = sum_balances();
        if (order[m] == MODE_UNSAFE) {
            if (sum == (long)N_BANKS * START_BALANCE)
                printf("(no drift this time: the race did not strike)\n");
            else
                printf("(drift of %+ld: updates were lost)\n",
                       sum - (long)N_BANKS * START_BALANCE);
            continue;
        }
        if (sum != (long)N_BANKS * START_BALANCE) {
            fprintf(stderr, "bank_transfers: sum is %ld, expected %d\n", sum,
                    N_BANKS * START_BALANCE);
            return EXIT_FAILURE;
        }
        if (order[m] == MODE_SYNC) {
            for (int i = 0; i < N_BANKS; i++)
                final_sync[i] = balances[i];
        } else if (modes & MODE_SYNC) {
            /* Every transfer ran exactly once, so any order ends the same. */
            for (int i = 0; i < N_BANKS; i++) {
                if (balances[i] != final_sync[i]) {
                    fprintf(stderr, "bank_transfers: bank_%d ends at %d, "
                            "the sync run at %d\n", i + 1, balances[i],
                            final_sync[i]);
                    return EXIT_FAILURE;
                }
            }
            printf("(the same final balances as the sync run)\n");
        }
    }
    return 0;
}
