"""Peer of bench_mpqueue: a forked producer process puts N messages of
B bytes into one multiprocessing.Queue that the parent gets (messages per
second across a real process boundary), then one process doing put-then-
get pairs on its own queue (the cost of the calls).
usage: py_mpqueue.py [messages] [bytes]"""
import multiprocessing as mp
import sys
import time


def producer(q, n, size):
    msg = b"x" * size
    for _ in range(n):
        q.put(msg)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    print(f"INFO messages {n}\nINFO bytes {size}")
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=producer, args=(q, n, size))
    t0 = time.perf_counter()
    p.start()
    for _ in range(n):
        q.get()
    t = time.perf_counter() - t0
    p.join()
    print(f"RESULT cross_process_items_per_s {n / t:.6g} 1/s")
    msg = b"x" * size
    pairs = n // 4
    t0 = time.perf_counter()
    for _ in range(pairs):
        q.put(msg)
        q.get()
    t = time.perf_counter() - t0
    print(f"RESULT put_get_pair_ns {t / pairs * 1e9:.6g} ns")


if __name__ == "__main__":
    main()
