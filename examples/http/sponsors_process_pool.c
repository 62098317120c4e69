/*
 * sponsors_process_pool - the program of sponsors_thread_pool with a pool
 * of 64 worker processes instead of threads, the one line that differs:
 * "The output is the same as the ThreadPoolExecutor version".  Rebuilds
 * the ProcessPoolExecutor version of the blog post "Concurrent
 * Programming" (Python).  The URLs go to the workers and the pages come
 * back as blobs; a worker prints the errors it meets on the stdout it
 * shares with this process.
 *
 * Without --base-url the local service serves the pages (in this process,
 * which the workers reach over TCP); --base-url URL asks another service.
 */
#include "sponsors_common.h"

int main(int argc, char **argv)
{
    return sponsors_pool_main(argc, argv, true);
}
