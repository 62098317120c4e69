/*
 * thread.h - what the layers above may tell the registry of live threads
 * (internal; layer sync).
 *
 * cc_thread_enumerate lists the main thread under the name the registry
 * keeps for it (src/sync/thread.c).  A child made by cc_process_start
 * renames its main thread's context without the OS name changing (the
 * process is named after the cc_process), so it tells the registry here.
 */
#ifndef CC_INTERNAL_THREAD_H
#define CC_INTERNAL_THREAD_H

/* Name the main thread `name` in cc_thread_enumerate's list (cut to
 * CC__NAME_MAX - 1 bytes); the calling thread's context and OS name are
 * left alone.  Never fails. */
void cc__thread_main_name(const char *name);

#endif
