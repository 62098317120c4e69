/*
 * concur.h - everything of concur: include this one header.
 *
 * Layers (each its own header; see docs/ARCHITECTURE.md):
 *   base      errors, clocks and deadlines, blobs, cpu count, debug mode
 *   sync      threads, Lock, RLock, Condition, Semaphore, Event, Barrier, TLS
 *   queue     bounded FIFO/LIFO/priority queues with join and shutdown
 *   throttle  token-bucket rate limiter
 *   future    futures, executors, the thread pool, wait, as_completed, map
 *   aio       the event loop, coroutines (tasks), timers, fd waits, groups
 *   select    one of several queue gets/puts, futures and fds: Go's select
 *   process   processes, pipes, process queue, shared memory, process pool
 *   subprocess  other programs: run, Popen, communicate, pipelines
 *   net       TCP and UNIX streams: connect, serve, readline, write, drain
 *   http      an HTTP client on libcurl: get, post, headers, redirects, TLS
 */
#ifndef CONCUR_H
#define CONCUR_H

#include "concur/base.h"
#include "concur/sync.h"
#include "concur/queue.h"
#include "concur/throttle.h"
#include "concur/future.h"
#include "concur/executor.h"
#include "concur/aio.h"
#include "concur/select.h"
#include "concur/process.h"
#include "concur/subprocess.h"
#include "concur/net.h"
#include "concur/http.h"

#endif
