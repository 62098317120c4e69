/*
 * process.h - what the parts of the process layer share (internal; layer
 * process).
 */
#ifndef CC_INTERNAL_PROCESS_H
#define CC_INTERNAL_PROCESS_H

/*
 * Name the calling process (cc_process_current_name): a child started by
 * cc_process_start, or a pool worker.  The name is copied (truncated to 63
 * bytes).  Call it while the process has one thread (right after the fork
 * or at a worker's start).
 */
void cc__process_set_current_name(const char *name);

#endif
