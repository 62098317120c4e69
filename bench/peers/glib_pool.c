/* Peer of bench_pool (W3): N no-op tasks pushed into a GLib GThreadPool of
 * 2 exclusive threads; results summed atomically (GThreadPool has no
 * futures); g_thread_pool_free(pool, FALSE, TRUE) waits for all of them.
 * usage: glib_pool [tasks] */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

static gint64 total;

static void noop(gpointer data, gpointer user_data)
{
    (void)user_data;
    __atomic_add_fetch(&total, (gint64)GPOINTER_TO_SIZE(data) - 1,
                       __ATOMIC_RELAXED);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    gint64 t0 = g_get_monotonic_time();
    GError *err = NULL;
    GThreadPool *pool = g_thread_pool_new(noop, NULL, 2, TRUE, &err);
    double dt;

    if (pool == NULL) {
        fprintf(stderr, "%s\n", err->message);
        return 1;
    }
    for (long i = 0; i < n; i++)
        g_thread_pool_push(pool, GSIZE_TO_POINTER(i + 1), NULL);
    g_thread_pool_free(pool, FALSE, TRUE);
    dt = (double)(g_get_monotonic_time() - t0) / 1e6;
    if (total != (gint64)n * (n - 1) / 2) {
        fprintf(stderr, "bad total\n");
        return 1;
    }
    printf("RESULT tasks_per_s %.6g 1/s\nRESULT wall_s %.6g s\n", n / dt, dt);
    return 0;
}
