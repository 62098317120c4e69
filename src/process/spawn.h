/*
 * spawn.h - the spawn start method of cc_process, between process.c (the
 * handle, names, the child's exit path) and process_spawn.c (the fresh
 * run of the program and its start-up hook); process layer, private.
 *
 * The parent writes what the child needs into a memfd: a magic word, the
 * child's identity and name, fn's reference (fnref.h) and the argument
 * as a wire item (wire.h).  It starts /proc/self/exe with posix_spawn,
 * that memfd at CC__SPAWN_FD and nothing else but stdin, stdout and
 * stderr, and CC__SPAWN_ENV="<fd>,<parent pid>" in the environment.  The
 * child's start-up hook (a constructor in process_spawn.c) sees the
 * variable, removes it, reads the memfd, closes it and runs fn through
 * cc__process_child_run: it never returns to the program's start-up, so
 * main() never runs.
 */
#ifndef CC_PROCESS_SPAWN_H
#define CC_PROCESS_SPAWN_H

#include <sys/types.h>

#include "concur/base.h"
#include "process/fnref.h"

/* The variable that makes a started executable a spawned child. */
#define CC__SPAWN_ENV "CONCUR_PROCESS_SPAWN"

/* The memfd holding the child's start message, in the child. */
#define CC__SPAWN_FD 3

/* Room for a process's identity ("3:1:2"), NUL included. */
#define CC__IDENTITY_MAX 64

/*
 * The environment for a fresh run of the program: the caller's without
 * the variables that give a run its role (CC__SPAWN_ENV, CC__POOL_ENV),
 * plus `ours` ("NAME=value").  One malloc'd block the caller frees with
 * free() (after posix_spawn); NULL on ENOMEM.
 */
char **cc__child_env(const char *ours);

/*
 * Check what a spawned child will need (parent side, before anything is
 * made): arg NULL or a blob, fn a function of a module's code (*ref gets
 * its reference).  0, or -1 with EINVAL and a message that starts with
 * `what`.
 */
int cc__process_spawn_check(cc_fn fn, void *arg, const char *what,
                            const cc__fnref **ref);

/*
 * Start the spawned child that runs ref's function on a copy of arg with
 * this name and identity.  Its pid, or -1 with the error set (ENOMEM,
 * EMFILE/ENFILE, posix_spawn's error).
 */
pid_t cc__process_spawn(const cc__fnref *ref, void *arg, const char *name,
                        const char *identity, const char *what);

/* In a child (forked or spawned, while it has one thread): take its
 * identity and name (cc_process_current_name, the OS thread name); its
 * own children count from 1 again. */
void cc__process_child_names(const char *identity, const char *name);

/* In a child: run fn(arg) and leave, with 0, or with 1 after printing
 * "Process <name>: <error>" when fn failed. */
void cc__process_child_run(cc_fn fn, void *arg) __attribute__((noreturn));

#endif
