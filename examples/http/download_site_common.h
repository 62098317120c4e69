/*
 * download_site_common.h - the course notes' download_site programs
 * (download_site_threads, _async, _processes) share the site list -- the
 * notes' [jython, dice] * 80 against the target service -- and the
 * closing line of the program they come from, "Downloaded 160 in 1.23
 * seconds".
 */
#ifndef EXAMPLES_HTTP_DOWNLOAD_SITE_COMMON_H
#define EXAMPLES_HTTP_DOWNLOAD_SITE_COMMON_H

#include <stddef.h>

enum { DS_SITES = 160 };

/* The latency of the local service for these programs: a small page
 * from a nearby server. */
#define DS_LATENCY_MIN 0.010
#define DS_LATENCY_MAX 0.030

/* ds_sites - fill sites[0..DS_SITES) with base + "/jython" and
 * base + "/dice", alternating; the caller frees them with ds_sites_free.
 * 0, or -1 out of memory. */
int ds_sites(const char *base, char *sites[DS_SITES]);
void ds_sites_free(char *sites[DS_SITES]);

/* ds_indicator - the notes' indicator: 'J' for a jython URL, else 'R'. */
char ds_indicator(const char *url);

/* ds_print_end - a newline after the indicators, then "Downloaded N in S
 * seconds". */
void ds_print_end(size_t n, double seconds);

#endif
