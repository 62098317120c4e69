/*
 * process.h - what the parts of the process layer share (internal).
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

/*
 * Reap the child behind `pidfd` if it has ended, without blocking
 * (waitid(P_PIDFD, WNOHANG), retried on EINTR).  Returns 0 and stores its
 * return code in *code (the exit status, or minus the signal that killed
 * it, as Python's); EAGAIN while it runs; ECHILD when someone else reaped
 * it (SIGCHLD ignored, a waitpid(-1) elsewhere: the code is lost); or
 * another errno of waitid.  The caller serialises calls for one child.
 * Shared by cc_process (src/process/process.c) and cc_popen
 * (src/subprocess/popen.c); defined in process.c.
 */
int cc__pidfd_reap(int pidfd, int *code);

#endif
