"""Peer of bench_procpool (W4, the process pool workload): N tiny
tasks (return the argument) through 2 worker processes, timed from pool
creation to shutdown as a `with` block does (default 'fork' start method on
Linux): ProcessPoolExecutor submit + result, ProcessPoolExecutor.map
(chunksize 1), multiprocessing.Pool.map with chunksize 1 and with its
default chunksize (ceil(n / (4 * 2)) = 2500).  Then Effective Python item
79's gcd pairs serially and on ProcessPoolExecutor(2).
Prints "RESULT <metric> <value> <unit>" lines, the median of `reps` runs.
usage: py_procpool.py [all|ppe-submit|ppe-map|pool-map-c1|pool-map-default|gcd]
                      [N] [reps]"""
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

NUMBERS = [
    (19633090, 22659730), (20306770, 38141720),
    (15516450, 22296200), (20390450, 20208020),
    (18237120, 19249280), (22931290, 10204910),
    (12812380, 22737820), (38238120, 42372810),
    (38127410, 47291390), (12923910, 21238110),
]
EXPECTED = [10, 10, 50, 10, 320, 10, 140, 90, 10, 90]


def identity(x):
    return x


def gcd(pair):
    a, b = pair
    low = min(a, b)
    for i in range(low, 0, -1):
        if a % i == 0 and b % i == 0:
            return i
    raise AssertionError("not reachable")


def run_tasks(mode, n):
    t0 = time.perf_counter()
    if mode == "ppe-submit":
        with ProcessPoolExecutor(max_workers=2) as ex:
            futs = [ex.submit(identity, i) for i in range(n)]
            out = [f.result() for f in futs]
    elif mode == "ppe-map":  # ProcessPoolExecutor.map's chunksize is 1
        with ProcessPoolExecutor(max_workers=2) as ex:
            out = list(ex.map(identity, range(n)))
    elif mode == "pool-map-c1":
        with multiprocessing.Pool(2) as pool:
            out = pool.map(identity, range(n), chunksize=1)
    elif mode == "pool-map-default":
        with multiprocessing.Pool(2) as pool:
            out = pool.map(identity, range(n))
    else:
        raise SystemExit("bad mode " + mode)
    dt = time.perf_counter() - t0
    assert out == list(range(n))
    return dt


def run_gcd():
    t0 = time.perf_counter()
    assert list(map(gcd, NUMBERS)) == EXPECTED
    serial = time.perf_counter() - t0
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as ex:
        assert list(ex.map(gcd, NUMBERS)) == EXPECTED
    return serial, time.perf_counter() - t0


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "all"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    print(f"INFO tasks {n}\nINFO reps {reps}")
    for m in ("ppe-submit", "ppe-map", "pool-map-c1", "pool-map-default"):
        if mode in ("all", m):
            times = [run_tasks(m, n) for _ in range(reps)]
            name = m.replace("-", "_")
            print(f"RESULT {name}_tasks_per_s "
                  f"{n / statistics.median(times):.6g} 1/s", flush=True)
    if mode in ("all", "gcd"):
        runs = [run_gcd() for _ in range(reps)]
        s = statistics.median(r[0] for r in runs)
        p = statistics.median(r[1] for r in runs)
        print(f"RESULT gcd_serial_s {s:.6g} s\nRESULT gcd_processes_s {p:.6g} s"
              f"\nRESULT gcd_speedup {s / p:.6g} x")


if __name__ == "__main__":
    main()
