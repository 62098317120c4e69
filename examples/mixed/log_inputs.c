/*
 * log_inputs.c - the pieces every log_merge variant shares: plain blocking
 * I/O helpers, the producer threads that append to the inputs, the merged
 * output's open and close, the setup and removal of the inputs, and the
 * check that reads the merged output back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "concur/sync.h"
#include "log_inputs.h"

enum {
    BURSTS = 10,        /* a producer writes in about this many bursts */
};

/* ---------------------------------------------------------- plain I/O */

/* write(2) until everything is written.  0, or -1 with errno. */
int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A plain blocking sleep (time.sleep): the whole thread stops.
 * 0, or -1 with errno. */
int block_for(double seconds)
{
    struct timespec ts;

    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0) {
        if (errno != EINTR)
            return -1;
    }
    return 0;
}

/*
 * read_line - the seed's readline: when the tail's position equals the
 * file's length there is no new data.  Also none when only part of a line
 * has arrived: it is left for the next poll.  Returns GOT_LINE with the line
 * in buf (and *len), NO_NEW_DATA, or -1 with errno.
 */
int read_line(struct input *in, char *buf, size_t size, size_t *len)
{
    struct stat st;
    ssize_t n;
    char *nl;

    if (fstat(in->rfd, &st) != 0)
        return -1;
    if (st.st_size == in->offset)
        return NO_NEW_DATA;
    n = pread(in->rfd, buf, size - 1, in->offset);
    if (n < 0)
        return -1;
    nl = memchr(buf, '\n', (size_t)n);
    if (nl == NULL) {
        if ((size_t)n == size - 1) {
            errno = EMSGSIZE; /* not a line this program wrote */
            return -1;
        }
        return NO_NEW_DATA;
    }
    *len = (size_t)(nl - buf) + 1;
    buf[*len] = '\0';
    in->offset += (off_t)*len;
    return GOT_LINE;
}

/* ---------------------------------------------------------- producers */

/* A producer thread: appends its numbered lines in BURSTS bursts with a
 * pause after each, closes the file, then marks the input done (also after
 * a failure, so that its tail ends; the check finds the missing lines). */
void *produce(void *arg)
{
    struct input *in = arg;
    int burst = in->lines / BURSTS > 0 ? in->lines / BURSTS : 1;
    int fd = open(in->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    int err = 0;

    if (fd < 0)
        err = errno;
    for (int i = 0; fd >= 0 && err == 0 && i < in->lines; i++) {
        char line[LINE_SIZE];
        int n = snprintf(line, sizeof(line), "input %d line %d\n", in->index,
                         i);

        if (write_all(fd, line, (size_t)n) != 0)
            err = errno;
        else if ((i + 1) % burst == 0 && i + 1 < in->lines &&
                 block_for(in->pause) != 0)
            err = errno;
    }
    if (fd >= 0 && close(fd) != 0 && err == 0)
        err = errno;
    if (cc_event_set(in->done) != 0)
        return cc_fail_from(cc_last_error(), cc_error_code(cc_last_error()),
                            "producer %d: cannot mark the input done",
                            in->index);
    if (err != 0)
        return cc_fail(err, "producer %d: %s: %s", in->index, in->path,
                       strerror(err));
    return in;
}

/* ------------------------------------------------------------- output */

/* Open (create, truncate) the merged output.  The fd, or -1 with the error
 * recorded. */
int open_output(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0) {
        int err = errno;

        cc_fail(err, "cannot create %s: %s", path, strerror(err));
    }
    return fd;
}

/* Close the output, keeping an earlier failure (rc) first.  Returns rc, or
 * -1 when only the close failed. */
int close_output(struct merge *m, int rc)
{
    if (close(m->out_fd) != 0 && rc == 0) {
        int err = errno;

        cc_fail(err, "closing %s: %s", m->out_path, strerror(err));
        rc = -1;
    }
    m->out_fd = -1;
    return rc;
}

/* ------------------------------------------------------------- inputs */

/* Undo setup_inputs for the first n inputs. */
void free_inputs(struct merge *m, int n)
{
    for (int i = 0; i < n; i++) {
        struct input *in = &m->inputs[i];

        if (in->rfd >= 0)
            close(in->rfd);
        if (unlink(in->path) != 0 && errno != ENOENT)
            fprintf(stderr, "log_merge: cannot remove %s: %s\n", in->path,
                    strerror(errno));
        cc_event_free(in->done);
    }
}

/* Create the empty inputs and their tails.  0, or -1 after printing why. */
int setup_inputs(struct merge *m, const char *dir)
{
    const struct config *cfg = m->cfg;

    for (int i = 0; i < cfg->inputs; i++) {
        struct input *in = &m->inputs[i];
        int fd;

        in->index = i;
        in->rfd = -1;
        in->lines = cfg->lines;
        in->pause = cfg->interval;
        in->done = cc_event_new();
        if (in->done == NULL ||
            snprintf(in->path, sizeof(in->path), "%s/input-%d.log", dir, i) >=
                (int)sizeof(in->path)) {
            fprintf(stderr, "log_merge: %s\n", in->done == NULL
                    ? cc_errmsg() : "path too long");
            cc_event_free(in->done);
            free_inputs(m, i);
            return -1;
        }
        fd = open(in->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0 && close(fd) == 0)
            in->rfd = open(in->path, O_RDONLY | O_CLOEXEC);
        if (in->rfd < 0) {
            fprintf(stderr, "log_merge: %s: %s\n", in->path, strerror(errno));
            free_inputs(m, i + 1);
            return -1;
        }
        m->tails[i] = (struct tail){
            .in = in, .m = m, .interval = cfg->interval};
    }
    return 0;
}

/* ------------------------------------------------------------ checking */

/*
 * Read the merged output back: every line must be "input I line L" for a
 * known I and L, each exactly once, and each input's lines in order.
 * Prints what is wrong (the first few) and returns the number of lines, or
 * -1.
 */
long check_merge(const struct merge *m)
{
    const struct config *cfg = m->cfg;
    size_t cells = (size_t)cfg->inputs * (size_t)cfg->lines;
    unsigned char *seen = calloc(cells, 1);
    int *next = calloc((size_t)cfg->inputs, sizeof(*next));
    long total = 0;
    long bad = 0;
    char line[LINE_SIZE + 2];
    FILE *f = fopen(m->out_path, "r");

    if (seen == NULL || next == NULL || f == NULL) {
        fprintf(stderr, "log_merge: %s: cannot check %s: %s\n", m->mode,
                m->out_path, f == NULL ? strerror(errno) : "out of memory");
        goto out;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        int in;
        int no;
        int end = -1;

        total++;
        if (sscanf(line, "input %d line %d%n", &in, &no, &end) != 2 ||
            strcmp(line + end, "\n") != 0 || in < 0 ||
            in >= cfg->inputs || no < 0 || no >= cfg->lines) {
            if (bad++ < 5)
                fprintf(stderr, "log_merge: %s: unexpected line %ld: %s",
                        m->mode, total, line);
            continue;
        }
        if (seen[(size_t)in * (size_t)cfg->lines + (size_t)no]++ > 0) {
            if (bad++ < 5)
                fprintf(stderr, "log_merge: %s: input %d line %d is there "
                        "twice\n", m->mode, in, no);
        } else if (no != next[in]) {
            if (bad++ < 5)
                fprintf(stderr, "log_merge: %s: input %d line %d came after "
                        "line %d\n", m->mode, in, no, next[in] - 1);
        }
        next[in] = no + 1;
    }
    if (ferror(f)) {
        fprintf(stderr, "log_merge: %s: reading %s failed\n", m->mode,
                m->out_path);
        bad++;
    }
    for (size_t i = 0; i < cells; i++) {
        if (seen[i] == 0 && bad++ < 5)
            fprintf(stderr, "log_merge: %s: input %zu line %zu is missing\n",
                    m->mode, i / (size_t)cfg->lines, i % (size_t)cfg->lines);
    }
out:
    if (f != NULL)
        fclose(f);
    free(next);
    free(seen);
    if (seen == NULL || next == NULL || f == NULL || bad > 0)
        return -1;
    return total;
}
