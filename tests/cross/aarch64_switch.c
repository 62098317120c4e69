/*
 * aarch64_switch - checks the AArch64 assembly context switch under
 * qemu-user (make test-aarch64): tasks keep their locals and their own
 * floating-point rounding mode across a thousand switches each, a child
 * task's error reaches its awaiter, and a cancelled sleeper ends cancelled.
 * Standalone (no cmocka): prints what it checked, exits non-zero on failure.
 */
#include <concur.h>
#include <fenv.h>
#include <stdint.h>
#include <stdio.h>

static void *keeps_state(void *arg)
{
    int mode = *(int *)arg;
    long a = mode, b = mode * 3, c = mode * 7;
    double d = mode;

    fesetround(mode);
    for (int i = 0; i < 1000; i++) {
        cc_yield();
        if (fegetround() != mode)
            return cc_fail(EPROTO, "rounding mode lost across a switch");
        a++;
        b += 3;
        c += 7;
        d += 0.5;
    }
    if (a != mode + 1000 || b != mode * 3 + 3000 || c != mode * 7 + 7000 ||
        d != mode + 500.0)
        return cc_fail(EPROTO, "locals lost across switches");
    fesetround(FE_TONEAREST);
    return arg;
}

static void *fails(void *arg)
{
    (void)arg;
    cc_sleep(0.001);
    return cc_fail(EDOM, "child failed on purpose");
}

static void *sleeps(void *arg)
{
    (void)arg;
    cc_sleep(30);
    return NULL;
}

static void *checks(void *arg)
{
    static int modes[4] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    cc_future *f[4];
    cc_future *g;
    int rc;

    for (int i = 0; i < 4; i++)
        f[i] = cc_spawn(keeps_state, &modes[i]);
    rc = cc_gather(f, 4, NULL, false, CC_FOREVER);
    for (int i = 0; i < 4; i++)
        cc_future_free(f[i]);
    if (rc != 0)
        return cc_fail_from(cc_last_error(), EPROTO, "state across switches");
    g = cc_spawn(fails, NULL);
    rc = cc_future_result(g, NULL, 10);
    cc_future_free(g);
    if (rc != -1 || errno != EDOM)
        return cc_fail(EPROTO, "a child's error did not come through");
    g = cc_spawn(sleeps, NULL);
    cc_sleep(0.01);
    cc_future_cancel(g);
    rc = cc_future_result(g, NULL, 10);
    cc_future_free(g);
    if (rc != -1 || errno != ECANCELED)
        return cc_fail(EPROTO, "cancellation did not end the sleeper");
    return arg;
}

int main(void)
{
    int ok;

    if (cc_run(checks, &ok, NULL) != 0) {
        cc_error_print(cc_last_error(), stderr);
        return 1;
    }
    printf("aarch64: locals and rounding modes kept across switches, errors "
           "and cancellation work\n");
    return 0;
}
