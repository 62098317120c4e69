/*
 * children.h - this process's children, read from every thread's
 * /proc/self/task/<tid>/children list (a child is listed under the thread
 * that started it).  Shared by the cmocka tests (tests/process/pool_util.h)
 * and the chaos program, which has no cmocka.
 */
#ifndef CONCUR_TESTS_CHILDREN_H
#define CONCUR_TESTS_CHILDREN_H

#include <dirent.h>
#include <stdio.h>
#include <sys/types.h>

/* Up to max child pids into out; how many, or -1 when /proc/self/task
 * cannot be read. */
static inline int tc_children(pid_t *out, int max)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        char path[300];
        FILE *f;
        long pid;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/children", e->d_name);
        f = fopen(path, "r");
        if (f == NULL)
            continue;
        while (n < max && fscanf(f, "%ld", &pid) == 1)
            out[n++] = (pid_t)pid;
        fclose(f);
    }
    closedir(d);
    return n;
}

#endif
