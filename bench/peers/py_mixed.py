"""Peer of bench_mixed, in Python's own idioms (it has no queue that both
threads and coroutines can block on).

  queue [N] [maxsize]  one producer, one consumer, N ints, items/s:
      thread->thread      queue.Queue(maxsize), put/get
      thread->coroutine   loop.call_soon_threadsafe(aq.put_nowait, i) into an
                          unbounded asyncio.Queue (no backpressure: the
                          bounded alternative, run_coroutine_threadsafe per
                          item, is slower still)
      coroutine->thread   queue.Queue(maxsize).put from the coroutine (it
                          blocks the whole loop when full; nothing else runs
                          on that loop here)
      coroutine->coroutine asyncio.Queue(maxsize) on one loop
  awaiters [N] [ms]    N coroutines each await asyncio.to_thread(time.sleep,
                       ms) on the default executor; a ticker task measures
                       the loop's lateness every 10 ms.
usage: py_mixed.py queue|awaiters [N] [...] [--uvloop]"""
import asyncio
import os
import queue
import sys
import threading
import time

args = [a for a in sys.argv[1:] if a != "--uvloop"]
if "--uvloop" in sys.argv:
    import uvloop
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def arg(i, default):
    return int(args[i]) if len(args) > i else default


def result(metric, value, unit):
    print(f"RESULT {metric} {value:.6g} {unit}")


def thread_to_thread(n, maxsize):
    q = queue.Queue(maxsize)
    out = []

    def produce():
        for i in range(1, n + 1):
            q.put(i)

    def consume():
        out.append(sum(q.get() for _ in range(n)))

    t0 = time.perf_counter()
    ts = [threading.Thread(target=consume), threading.Thread(target=produce)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert out[0] == n * (n + 1) // 2
    return n / (time.perf_counter() - t0)


def thread_to_coroutine(n, maxsize):
    async def main():
        loop = asyncio.get_running_loop()
        aq = asyncio.Queue()

        def produce():
            for i in range(1, n + 1):
                loop.call_soon_threadsafe(aq.put_nowait, i)

        t0 = time.perf_counter()
        t = threading.Thread(target=produce)
        t.start()
        total = 0
        for _ in range(n):
            total += await aq.get()
        t.join()
        assert total == n * (n + 1) // 2
        return n / (time.perf_counter() - t0)

    return asyncio.run(main())


def coroutine_to_thread(n, maxsize):
    q = queue.Queue(maxsize)
    out = []

    def consume():
        out.append(sum(q.get() for _ in range(n)))

    async def produce():
        for i in range(1, n + 1):
            q.put(i)

    t0 = time.perf_counter()
    t = threading.Thread(target=consume)
    t.start()
    asyncio.run(produce())
    t.join()
    assert out[0] == n * (n + 1) // 2
    return n / (time.perf_counter() - t0)


def coroutine_to_coroutine(n, maxsize):
    async def main():
        aq = asyncio.Queue(maxsize)

        async def produce():
            for i in range(1, n + 1):
                await aq.put(i)

        async def consume():
            total = 0
            for _ in range(n):
                total += await aq.get()
            return total

        t0 = time.perf_counter()
        _, total = await asyncio.gather(produce(), consume())
        assert total == n * (n + 1) // 2
        return n / (time.perf_counter() - t0)

    return asyncio.run(main())


def bench_queue():
    n, maxsize = arg(1, 200_000), arg(2, 1024)
    print(f"INFO items {n}\nINFO maxsize {maxsize}")
    result("thread_to_thread", thread_to_thread(n, maxsize), "items/s")
    result("thread_to_coroutine", thread_to_coroutine(n, maxsize), "items/s")
    result("coroutine_to_thread", coroutine_to_thread(n, maxsize), "items/s")
    result("coroutine_to_coroutine_one_loop",
           coroutine_to_coroutine(n, maxsize), "items/s")


def bench_awaiters():
    n, ms = arg(1, 10_000), arg(2, 1)
    workers = min(32, (os.cpu_count() or 1) + 4)
    late = []
    ticking = True

    async def ticker():
        nxt = time.perf_counter() + 0.01
        while ticking:
            await asyncio.sleep(max(0, nxt - time.perf_counter()))
            late.append(time.perf_counter() - nxt)
            nxt += 0.01

    async def main():
        nonlocal ticking
        tick = asyncio.create_task(ticker())
        t0 = time.perf_counter()
        await asyncio.gather(*(asyncio.to_thread(time.sleep, ms / 1e3)
                               for _ in range(n)))
        wall = time.perf_counter() - t0
        ticking = False
        await tick
        return wall

    wall = asyncio.run(main())
    late.sort()
    print(f"INFO tasks {n}\nINFO job_ms {ms}\nINFO pool_threads {workers}")
    result("wall_s", wall, "s")
    result("floor_s", n * ms / 1e3 / workers, "s")
    result("lateness_worst_ms", late[-1] * 1e3 if late else 0, "ms")
    result("lateness_p99_ms", late[len(late) * 99 // 100] * 1e3 if late else 0,
           "ms")


if __name__ == "__main__":
    what = args[0] if args else ""
    if what == "queue":
        bench_queue()
    elif what == "awaiters":
        bench_awaiters()
    else:
        sys.exit(__doc__)
