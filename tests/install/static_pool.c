/* A fully static outside program (cc -static ... libconcur.a -pthread):
 * its process pool's workers run its own function.  A static executable
 * has no dynamic symbol table, so dladdr cannot name the module of a task
 * function; the pool must still find it (it used to refuse every task:
 * "... is in no loaded module"). */
#include <concur.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void *square(void *arg)
{
    int64_t v;

    if (arg == NULL || cc_blob_len(arg) != sizeof(v))
        return cc_fail(EINVAL, "square: not an int64");
    memcpy(&v, arg, sizeof(v));
    v *= v;
    return cc_blob_dup(&v, sizeof(v));
}

int main(void)
{
    cc_executor *ex = cc_process_pool_new(2, NULL);
    int64_t args[4] = {3, 4, 5, 6}, sum = 0;
    void *blobs[4] = {0}, *results[4] = {0};
    int rc = 1;

    if (ex == NULL) {
        fprintf(stderr, "process pool: %s\n", cc_errmsg());
        return 1;
    }
    for (int i = 0; i < 4; i++)
        blobs[i] = cc_blob_dup(&args[i], sizeof(args[i]));
    if (cc_map(ex, square, blobs, 4, 1, results, 30) != 0) {
        fprintf(stderr, "map: %s\n", cc_errmsg());
        goto out;
    }
    for (int i = 0; i < 4; i++) {
        int64_t v;

        memcpy(&v, results[i], sizeof(v));
        sum += v;
    }
    printf("static process pool: sum of squares %lld\n", (long long)sum);
    rc = sum == 9 + 16 + 25 + 36 ? 0 : 1;
out:
    for (int i = 0; i < 4; i++) {
        cc_blob_free(blobs[i]);
        cc_blob_free(results[i]);
    }
    cc_executor_free(ex);
    return rc;
}
