/*
 * sensor_counter - four sensor threads add a million readings each to one
 * shared counter, first unprotected (updates get lost), then under a cc_lock
 * (exactly 4,000,000).  Rebuilds Effective Python, Item 69 ("Use Lock to
 * Prevent Data Races in Threads").  The unlocked part is a data race ON
 * PURPOSE; --locked-only skips it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/sync.h"

enum {
    SENSOR_COUNT = 4,
    HOW_MANY = 1000000,
    SENSOR_WORK = 16, /* PRNG steps per reading */
};

/*
 * The shared counter.  volatile keeps its read and its write two separate
 * memory accesses, as `counter += get_offset(data)` is three separate steps
 * in Python.
 */
static volatile long counter;

struct sensor {
    int index;      /* which sensor this thread reads */
    cc_event *go;   /* set once every sensor thread has been started */
    cc_lock *lock;  /* NULL: update the counter without a lock (racy) */
    unsigned state; /* the sensor's PRNG state: its readings depend on it */
    cc_thread *thread;
};

/*
 * A stand-in for reading a sensor: some steps of a tiny PRNG, enough work
 * that the four threads run side by side for a while rather than one after
 * the other.
 */
static unsigned read_sensor(int index, unsigned *state)
{
    unsigned x = *state + (unsigned)index;

    for (int i = 0; i < SENSOR_WORK; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
    }
    *state = x;
    return x;
}

/* Photons in a reading: always 1 here, so the total is known. */
static long get_offset(unsigned data)
{
    (void)data;
    return 1;
}

static void *worker(void *arg)
{
    struct sensor *s = arg;

    if (cc_event_wait(s->go, CC_FOREVER) != 0)
        return cc_fail_from(cc_last_error(), 0, "waiting for the start");
    for (int i = 0; i < HOW_MANY; i++) {
        unsigned data = read_sensor(s->index, &s->state);
        long value;
        long delta;

        /* Python's `counter += get_offset(data)`, step by step. */
        if (s->lock != NULL && cc_lock_acquire(s->lock, CC_FOREVER) != 0)
            return cc_fail_from(cc_last_error(), 0, "lock");
        value = counter;
        delta = get_offset(data);
        counter = value + delta;
        if (s->lock != NULL && cc_lock_release(s->lock) != 0)
            return cc_fail_from(cc_last_error(), 0, "unlock");
    }
    return NULL;
}

/*
 * Run the sensor threads (all released together so they overlap) and print
 * what they counted and how long it took.  Returns 0, or -1 after printing
 * what failed.
 */
static int run_sensors(cc_lock *lock)
{
    struct sensor sensors[SENSOR_COUNT];
    cc_event *go;
    int started = 0;
    int rc = 0;
    double start;

    counter = 0;
    go = cc_event_new();
    if (go == NULL) {
        fprintf(stderr, "sensor_counter: event: %s\n", cc_errmsg());
        return -1;
    }
    for (; started < SENSOR_COUNT; started++) {
        struct sensor *s = &sensors[started];

        s->index = started;
        s->go = go;
        s->lock = lock;
        s->state = 2463534242u;
        s->thread = cc_thread_start(worker, s, NULL);
        if (s->thread == NULL) {
            fprintf(stderr, "sensor_counter: start: %s\n", cc_errmsg());
            rc = -1;
            break;
        }
    }
    start = cc_now();
    if (cc_event_set(go) != 0) {
        fprintf(stderr, "sensor_counter: set: %s\n", cc_errmsg());
        exit(EXIT_FAILURE); /* the threads would wait forever */
    }
    for (int i = 0; i < started; i++) {
        if (cc_thread_join(sensors[i].thread, NULL, CC_FOREVER) != 0) {
            fprintf(stderr, "sensor_counter: %s failed: ",
                    cc_thread_name(sensors[i].thread));
            cc_error_print(cc_last_error(), stderr);
            rc = -1;
        }
        cc_thread_free(sensors[i].thread);
    }
    cc_event_free(go);
    if (rc != 0)
        return rc;
    printf("Counter should be %ld, got %ld\n", (long)HOW_MANY * SENSOR_COUNT,
           (long)counter);
    printf("  took %.3f seconds\n", cc_now() - start);
    return 0;
}

int main(int argc, char **argv)
{
    const long expected = (long)HOW_MANY * SENSOR_COUNT;
    bool locked_only = false;
    cc_lock *lock;
    int rc;

    if (argc == 2 && strcmp(argv[1], "--locked-only") == 0) {
        locked_only = true;
    } else if (argc != 1) {
        fprintf(stderr, "usage: %s [--locked-only]\n", argv[0]);
        return 2;
    }

    if (!locked_only) {
        printf("%d sensor threads, no lock (a data race on purpose: "
               "updates get lost):\n", SENSOR_COUNT);
        if (run_sensors(NULL) != 0)
            return EXIT_FAILURE;
    }

    printf("%d sensor threads, a cc_lock around each update:\n",
           SENSOR_COUNT);
    lock = cc_lock_new();
    if (lock == NULL) {
        fprintf(stderr, "sensor_counter: lock: %s\n", cc_errmsg());
        return EXIT_FAILURE;
    }
    rc = run_sensors(lock);
    cc_lock_free(lock);
    if (rc != 0)
        return EXIT_FAILURE;
    if (counter != expected) {
        fprintf(stderr, "sensor_counter: counted %ld, expected %ld\n",
                (long)counter, expected);
        return EXIT_FAILURE;
    }
    return 0;
}
