/*
 * write_thread.h - Item 78's WriteThread: a thread that owns an output file
 * and runs an event loop of its own.  Start it, hand it lines from any task
 * or thread, stop it; write_thread.c shows how little that takes.
 */
#ifndef WRITE_THREAD_H
#define WRITE_THREAD_H

#include <stddef.h>

struct write_thread;

struct write_thread *write_thread_start(const char *path);
int write_thread_write(struct write_thread *wt, const char *line,
                       size_t len);
int write_thread_stop(struct write_thread *wt);

#endif /* WRITE_THREAD_H */
