/*
 * log_inputs.h - what the log_merge variants share: the config, the inputs
 * and their tails, the merge of one run, the plain I/O helpers, the
 * producer threads, the merged output's open and close, the setup of the
 * inputs and the check of the merged output.  Each function is described
 * where log_inputs.c defines it.
 */
#ifndef LOG_INPUTS_H
#define LOG_INPUTS_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "concur/aio.h"
#include "concur/sync.h"

enum {
    LINE_SIZE = 64,     /* room for one line, its newline and a NUL */
};

/* What read_line found. */
enum { NO_NEW_DATA = 0, GOT_LINE = 1 };

struct config {
    int inputs;       /* --inputs: how many logs are merged */
    int lines;        /* --lines: lines written to each */
    double interval;  /* --interval: seconds between polls of an idle tail */
};

/*
 * One input log.  Its producer thread appends to it through a descriptor
 * of its own and sets `done` (a cc_event: it orders the writes before the
 * tail's check) once every line is written.  The read side (rfd, offset)
 * belongs to the one tail that follows this input: a thread, a task, or the
 * pool job the task awaits, never two at once.
 */
struct input {
    int index;
    char path[PATH_MAX];
    int rfd;            /* the tail's descriptor */
    off_t offset;       /* bytes the tail has consumed */
    cc_event *done;     /* set by the producer after its last line */
    int lines;          /* the producer's work */
    double pause;       /* the producer's pause between bursts */
    cc_thread *producer;
};

struct merge;

/*
 * One tail: follows one input and hands each whole line to write(), which
 * each variant supplies.  It lives in the merge (not on a task's stack), so
 * a pool job still using it outlives a cancelled task safely.
 */
struct tail {
    struct input *in;
    struct merge *m;
    double interval;
    int (*write)(struct tail *t);  /* 0, or -1 with the error recorded */
    char line[LINE_SIZE];          /* the last line read, NUL-terminated */
    size_t len;                    /* its length, newline included */
    int status;                    /* read_job's finding: GOT_LINE... */
};

struct write_thread;

/* One run of one variant, on fresh files.  Made and freed by run_variant,
 * outside any loop, so it outlives every task, thread and pool job. */
struct merge {
    const struct config *cfg;
    const char *mode;
    char out_path[PATH_MAX];
    struct input *inputs;
    struct tail *tails;
    int out_fd;                  /* threads, mixed, async: the output */
    cc_lock *lock;               /* threads, async: serializes the writes */
    cc_loop *loop;               /* mixed: the loop that does the writes */
    struct write_thread *writer; /* writer: the thread that does them */
};

/* ---------------------------------------------------------- plain I/O */

int write_all(int fd, const char *buf, size_t len);
int block_for(double seconds);
int read_line(struct input *in, char *buf, size_t size, size_t *len);

/* ------------------------------------------------- producers and files */

void *produce(void *arg);
int open_output(const char *path);
int close_output(struct merge *m, int rc);
int setup_inputs(struct merge *m, const char *dir);
void free_inputs(struct merge *m, int n);

/* ------------------------------------------------------------ checking */

long check_merge(const struct merge *m);

#endif /* LOG_INPUTS_H */
