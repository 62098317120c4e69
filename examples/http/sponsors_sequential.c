/*
 * sponsors_sequential - fetch the 64 sponsor pages one after the other,
 * printing the error of each failed request, then report how many pages
 * came back and which mention Python.  Rebuilds the non-concurrent
 * sponsors.py of the blog post "Concurrent Programming" (Python): the
 * baseline, as slow as the sum of the 64 round trips.
 *
 * Without --base-url the local service serves the pages (in this process,
 * 20-50 ms per answer; two of them answer 403); --base-url URL asks a
 * service with the same paths instead.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sponsors_common.h"

int main(int argc, char **argv)
{
    sponsors s;
    char **responses;
    size_t n_responses = 0;

    if (sponsors_open(&s, argc, argv, false) != 0)
        return 2;
    responses = calloc(s.n, sizeof(*responses));
    if (responses == NULL) {
        perror(argv[0]);
        sponsors_close(&s);
        return EXIT_FAILURE;
    }
    /* for url in urls: fetch_url(url) */
    for (size_t i = 0; i < s.n; i++) {
        if (sponsors_fetch(s.urls[i], &responses[i]) == 0) {
            n_responses++;
        } else {
            printf("%s\n", cc_errmsg()); /* except Exception as e: print(e) */
            cc_blob_free(responses[i]);
            responses[i] = NULL;
        }
    }
    printf("\n");
    sponsors_report(&s, n_responses, responses);
    sponsors_free_texts(&s, responses);
    free(responses);
    sponsors_close(&s);
    return 0;
}
