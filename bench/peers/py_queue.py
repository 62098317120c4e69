"""Peer of bench_queue: 2 producer and 2 consumer threads move N ints
through one queue.Queue(maxsize=1024).  usage: py_queue.py [items] [maxsize]"""
import queue
import sys
import threading
import time


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    maxsize = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
    print(f"INFO items {n}\nINFO maxsize {maxsize}")
    q = queue.Queue(maxsize)
    sums = []
    done = object()

    def producer(pid):
        for i in range(pid, n, 2):
            q.put(i + 1)

    def consumer():
        local = 0
        while True:
            v = q.get()
            if v is done:
                break
            local += v
        sums.append(local)

    t0 = time.perf_counter()
    cons = [threading.Thread(target=consumer) for _ in range(2)]
    prods = [threading.Thread(target=producer, args=(p,)) for p in range(2)]
    for t in cons + prods:
        t.start()
    for t in prods:
        t.join()
    for _ in cons:
        q.put(done)
    for t in cons:
        t.join()
    dt = time.perf_counter() - t0
    assert sum(sums) == n * (n + 1) // 2
    print(f"RESULT items_per_s {n / dt:.6g} 1/s\nRESULT wall_s {dt:.6g} s")


if __name__ == "__main__":
    main()
