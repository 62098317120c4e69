/*
 * pokemon_tasks - the blog's other ways to run its twenty Pokemon
 * downloads as coroutines (web/2_async_aiohttp.py's gather is
 * http/pokemon_async), one per flag:
 *   --create-task     tasks added to the loop by hand (loop.create_task),
 *                     then awaited one by one: [await t for t in tasks]
 *   --task-group      tasks spawned into a task group (asyncio.TaskGroup);
 *                     the group's wait is the end of the `async with`, and
 *                     each result is read from its task afterwards
 *   --until-complete  no coroutine coordinates: a plain function spawns the
 *                     tasks and a gather of them onto a new loop and runs
 *                     the loop until the gather is done (the blog's
 *                     coordinate_from_sync and loop.run_until_complete)
 * All twenty requests are in flight at once on one thread, each task
 * suspended in cc_http_get while the loop drives the others.  Requests go
 * to the local service in-process (100-200 ms per page) unless
 * --base-url URL says otherwise.
 * Usage: pokemon_tasks --create-task|--task-group|--until-complete
 *                      [--base-url URL]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concur/aio.h"
#include "concur/base.h"
#include "concur/future.h"
#include "pokemon_common.h"

enum { N_POKEMON = 20, MAX_ARGS = 32 };

static const char *base_url;
static pk_result slots[N_POKEMON]; /* slot i written by task i only */
static pk_result results[N_POKEMON]; /* the list the coordinator returns */

/* download_single_pokemon(num): a task returning its (num, name). */
static void *download_single_pokemon(void *arg)
{
    int num = (int)(intptr_t)arg;

    if (pk_download(base_url, num, &slots[num - 1]) != 0)
        return cc_fail_from(cc_last_error(), 0, "Pokémon %02d", num);
    return &slots[num - 1];
}

/* The manual method: create the tasks, then await each in turn. */
static void *download_pokemon_list_manual(void *arg)
{
    cc_future *tasks[N_POKEMON];
    int spawned = 0;
    int failed = 0;

    (void)arg;
    /* tasks = [loop.create_task(c) for c in coroutines] */
    for (; spawned < N_POKEMON; spawned++) {
        tasks[spawned] = cc_spawn(download_single_pokemon,
                                  (void *)(intptr_t)(spawned + 1));
        if (tasks[spawned] == NULL) {
            failed = 1;
            break;
        }
    }
    /* results = [await t for t in tasks]: every task is waited for, so
     * that none is freed while it runs */
    for (int i = 0; i < spawned; i++) {
        void *r;

        if (cc_future_result(tasks[i], &r, CC_FOREVER) != 0) {
            if (!failed)
                cc_fail_from(cc_last_error(), 0, "awaiting task %d", i + 1);
            failed = 1;
        } else {
            results[i] = *(pk_result *)r;
        }
        cc_future_free(tasks[i]);
    }
    return failed ? NULL : results;
}

/* The task group: spawn into it, wait for it, read each task's result. */
static void *download_pokemon_list_group(void *arg)
{
    cc_future *tasks[N_POKEMON]; /* borrowed from the group */
    cc_group *tg = cc_group_new();
    int failed = 0;

    (void)arg;
    if (tg == NULL)
        return cc_fail_from(cc_last_error(), 0, "task group");
    /* async with asyncio.TaskGroup() as tg: tg.create_task(...) */
    for (int num = 1; num <= N_POKEMON && !failed; num++) {
        tasks[num - 1] = cc_group_spawn(tg, download_single_pokemon,
                                        (void *)(intptr_t)num);
        if (tasks[num - 1] == NULL) {
            cc_fail_from(cc_last_error(), 0, "spawning task %d", num);
            cc_group_cancel(tg);
            failed = 1;
        }
    }
    /* the end of the `async with`: every member done (the first failure
     * cancels the others) */
    if (cc_group_wait(tg, CC_FOREVER) != 0 && !failed) {
        cc_fail_from(cc_last_error(), 0, "task group");
        failed = 1;
    }
    /* [result.result() for result in results] */
    for (int i = 0; i < N_POKEMON && !failed; i++) {
        void *r;

        if (cc_future_result(tasks[i], &r, 0) != 0) {
            cc_fail_from(cc_last_error(), 0, "task %d", i + 1);
            failed = 1;
        } else {
            results[i] = *(pk_result *)r;
        }
    }
    cc_group_free(tg);
    return failed ? NULL : results;
}

/* asyncio.gather(*tasks) as a task of its own, for the loop to run until
 * it is done. */
static void *gather_all(void *arg)
{
    cc_future **tasks = arg;
    void *r[N_POKEMON];

    if (cc_gather(tasks, N_POKEMON, r, false, CC_FOREVER) != 0)
        return cc_fail_from(cc_last_error(), 0, "gather");
    for (int i = 0; i < N_POKEMON; i++)
        results[i] = *(pk_result *)r[i];
    return results;
}

/* coordinate_from_sync: a plain function, no loop running yet. */
static int coordinate_from_sync(void)
{
    cc_future *tasks[N_POKEMON];
    cc_future *gathered = NULL;
    cc_loop *loop = cc_loop_new(); /* loop = asyncio.get_event_loop() */
    int spawned = 0;
    int rc = -1;

    if (loop == NULL)
        return -1;
    /* the tasks wait on the loop until it runs */
    for (; spawned < N_POKEMON; spawned++) {
        tasks[spawned] = cc_loop_spawn(loop, download_single_pokemon,
                                       (void *)(intptr_t)(spawned + 1));
        if (tasks[spawned] == NULL)
            break;
    }
    if (spawned == N_POKEMON)
        gathered = cc_loop_spawn(loop, gather_all, tasks);
    /* return loop.run_until_complete(tasks) */
    if (gathered != NULL && cc_loop_run_until_done(loop, gathered) == 0 &&
        cc_future_result(gathered, NULL, 0) == 0)
        rc = 0;
    if (gathered != NULL)
        cc_future_free(gathered);
    cc_loop_free(loop); /* cancels and ends whatever still runs */
    for (int i = 0; i < spawned; i++)
        cc_future_free(tasks[i]);
    return rc;
}

int main(int argc, char **argv)
{
    static const char *const modes[] = {"--create-task", "--task-group",
                                        "--until-complete"};
    char *net_argv[MAX_ARGS + 1];
    ex_target target;
    double t0;
    int mode = -1;
    int rc;

    for (int m = 0; argc >= 2 && m < 3; m++)
        if (strcmp(argv[1], modes[m]) == 0)
            mode = m;
    if (mode < 0 || argc > MAX_ARGS) {
        fprintf(stderr, "usage: %s --create-task|--task-group|"
                "--until-complete [--base-url URL]\n", argv[0]);
        return 2;
    }
    /* the options of every network example follow the mode */
    net_argv[0] = argv[0];
    for (int i = 2; i <= argc; i++)
        net_argv[i - 1] = argv[i];
    rc = ex_target_open_latency(&target, argc - 1, net_argv, 0.10, 0.20);
    if (rc != 0)
        return rc;
    base_url = target.base_url;
    t0 = cc_now();
    if (mode == 2) {
        printf("Starting coordinating function...\n");
        fflush(stdout);
        rc = coordinate_from_sync();
    } else {
        printf("Starting coordinating coroutine...\n");
        fflush(stdout);
        rc = cc_run(mode == 0 ? download_pokemon_list_manual
                              : download_pokemon_list_group, NULL, NULL);
    }
    if (rc != 0) {
        fprintf(stderr, "pokemon_tasks: ");
        cc_error_print(cc_last_error(), stderr);
        ex_target_close(&target);
        return 1;
    }
    pk_print_end(cc_now() - t0, results, N_POKEMON);
    ex_target_close(&target);
    return 0;
}
