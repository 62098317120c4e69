"""Peer of bench_lock's W8c row: 100 threads x 100,000 increments of one
counter, each under a threading.Lock.  usage: py_lock.py [threads] [incs]"""
import sys
import threading
import time


def main():
    nthreads = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    incs = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    lock = threading.Lock()
    count = [0]

    def worker():
        for _ in range(incs):
            with lock:
                count[0] += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.perf_counter() - t0
    assert count[0] == nthreads * incs
    print(f"RESULT w8c_100x100000_wall_s {dt:.6g} s")
    print(f"RESULT w8c_ns_per_locked_inc {dt / (nthreads * incs) * 1e9:.6g} ns")


if __name__ == "__main__":
    main()
