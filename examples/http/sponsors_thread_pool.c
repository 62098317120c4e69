/*
 * sponsors_thread_pool - a pool of 64 threads maps fetch_url over the 64
 * sponsor URLs; fetch_url prints a failed request's error and returns the
 * page anyway, so the dict of results holds every URL ("64 responses for
 * 64 URL.", as the blog printed).  Rebuilds the ThreadPoolExecutor version
 * of the blog post "Concurrent Programming" (Python); the program, shared
 * with sponsors_process_pool, is sponsors_pool_main in sponsors_common.c.
 *
 * Without --base-url the local service serves the pages (in this process,
 * 20-50 ms per answer); --base-url URL asks another service.
 */
#include "sponsors_common.h"

int main(int argc, char **argv)
{
    return sponsors_pool_main(argc, argv, false);
}
