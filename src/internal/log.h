/*
 * log.h - the library's own reports (internal; layer base).
 *
 * Every line the library writes on its own -- a server handler's failure
 * nobody asked for, a child process's uncaught error, a refused free, a
 * debug-mode report -- goes through here to the sink cc_set_log chose
 * (concur/base.h), by default stderr, one write per line.  The only
 * exception is the stack-overflow report, written from the SIGSEGV
 * handler (src/aio/task.c), where no callback may run.
 */
#ifndef CONCUR_INTERNAL_LOG_H
#define CONCUR_INTERNAL_LOG_H

#include "concur/base.h"

/* Give one line (no newline) at `level` (CC_LOG_*) to the sink. */
void cc__log(int level, const char *line);

/* The same, formatted; a line of any length is given whole (a line that
 * cannot be formatted for want of memory is given cut at 1 KiB). */
void cc__logf(int level, const char *fmt, ...) CC_PRINTF(2, 3);

#endif
