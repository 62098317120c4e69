/*
 * download_site_common.c - the site list and the printing shared by the
 * course notes' download_site programs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "download_site_common.h"

int ds_sites(const char *base, char *sites[DS_SITES])
{
    for (int i = 0; i < DS_SITES; i++) {
        if (asprintf(&sites[i], "%s%s", base, i % 2 ? "/dice" : "/jython") < 0) {
            sites[i] = NULL;
            ds_sites_free(sites);
            return -1;
        }
    }
    return 0;
}

void ds_sites_free(char *sites[DS_SITES])
{
    for (int i = 0; i < DS_SITES && sites[i] != NULL; i++) {
        free(sites[i]);
        sites[i] = NULL;
    }
}

char ds_indicator(const char *url)
{
    return strstr(url, "jython") != NULL ? 'J' : 'R';
}

void ds_print_end(size_t n, double seconds)
{
    printf("\nDownloaded %zu in %.2f seconds\n", n, seconds);
}
