/*
 * async_hello - the first coroutine of Expert Python Programming, ch. 6,
 * scheduled by hand: async_hello() made into a task on a loop that does
 * not run yet (nothing is printed: the object only waits, and is shown as
 * the interpreter shows a coroutine object, with its address), then
 * loop.run_until_complete() drives it and it prints "hello, world!", and
 * loop.close().  Here: cc_loop_new, cc_loop_spawn, cc_loop_run_until_done,
 * cc_loop_free.
 */
#include <stdio.h>
#include <stdlib.h>

#include "concur/aio.h"
#include "concur/future.h"

/* async def async_hello(): print("hello, world!") */
static void *async_hello(void *arg)
{
    printf("hello, world!\n");
    return arg;
}

int main(int argc, char **argv)
{
    cc_loop *loop;
    cc_future *coro;
    int rc = EXIT_FAILURE;

    if (argc != 1) {
        fprintf(stderr, "usage: %s\n", argv[0]);
        return 2;
    }
    /* loop = asyncio.get_event_loop() */
    loop = cc_loop_new();
    if (loop == NULL) {
        fprintf(stderr, "async_hello: %s\n", cc_errmsg());
        return EXIT_FAILURE;
    }
    /* async_hello(): an object that does nothing until the loop runs */
    coro = cc_loop_spawn(loop, async_hello, NULL);
    if (coro == NULL) {
        fprintf(stderr, "async_hello: %s\n", cc_errmsg());
        cc_loop_free(loop);
        return EXIT_FAILURE;
    }
    printf("<coroutine object async_hello at %p>\n", (void *)coro);
    /* loop.run_until_complete(async_hello()) */
    if (cc_loop_run_until_done(loop, coro) != 0 ||
        cc_future_result(coro, NULL, 0) != 0) {
        fprintf(stderr, "async_hello: ");
        cc_error_print(cc_last_error(), stderr);
    } else {
        rc = 0;
    }
    cc_future_free(coro);
    cc_loop_free(loop); /* loop.close() */
    return rc;
}
