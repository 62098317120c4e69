"""Peer of bench_pool (W3): submit N no-op tasks to ThreadPoolExecutor(2)
and sum every result; the timing covers the `with` block (creation and
shutdown).  usage: py_pool.py [tasks]"""
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def noop(i):
    return i


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as ex:
        futures = [ex.submit(noop, i) for i in range(n)]
        total = sum(f.result() for f in futures)
    dt = time.perf_counter() - t0
    assert total == n * (n - 1) // 2
    print(f"RESULT tasks_per_s {n / dt:.6g} 1/s\nRESULT wall_s {dt:.6g} s")


if __name__ == "__main__":
    main()
