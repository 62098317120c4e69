"""Peer of concur's MPI executor (workloads mpi_tiny, mpi_latency, mpi_gcd):
mpi4py's MPIPoolExecutor with the 2 worker ranks of a 3-rank job, started as
    mpirun -n 3 python3 -m mpi4py.futures bench/peers/py_mpi4py_futures.py
(mpi4py.futures' launcher: rank 0 runs this file as __main__, ranks 1 and 2
serve each MPIPoolExecutor it makes).  N tiny tasks (return the argument):
submit + result, map with chunksize 1 and with chunksize 256 (tasks per
second, the pool's start included, as a `with` block does); one tiny task's
round trip on an idle pool (median); and Effective Python item 79's ten gcd
pairs (those of examples/pools/gcd.c) serially and on the 2 workers.
Prints "RESULT <metric> <value> <unit>" lines, the median of `reps` runs.
usage: py_mpi4py_futures.py [all|tiny|latency|gcd] [N] [reps]"""
import statistics
import sys
import time

from mpi4py import MPI
from mpi4py.futures import MPIPoolExecutor

NUMBERS = [
    (19633090, 22659730), (20306770, 38141720),
    (15516450, 22296200), (20390450, 20208020),
    (18237120, 19249280), (22931290, 10204910),
    (12812380, 22737820), (38238120, 42372810),
    (38127410, 47291390), (12923910, 21238110),
]
EXPECTED = [10, 10, 50, 10, 320, 10, 140, 90, 10, 90]
LATENCY_TRIPS = 2000


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
    with MPIPoolExecutor(max_workers=2) as ex:
        if mode == "submit":
            futs = [ex.submit(identity, i) for i in range(n)]
            out = [f.result() for f in futs]
        elif mode == "map_c1":
            out = list(ex.map(identity, range(n), chunksize=1))
        else:
            out = list(ex.map(identity, range(n), chunksize=256))
    dt = time.perf_counter() - t0
    assert out == list(range(n))
    return dt


def run_latency():
    """Median round trip of one tiny task, one at a time on a warm pool."""
    trips = []
    with MPIPoolExecutor(max_workers=2) as ex:
        for i in range(100):  # both workers up and warm
            assert ex.submit(identity, i).result() == i
        for i in range(LATENCY_TRIPS):
            t0 = time.perf_counter()
            assert ex.submit(identity, i).result() == i
            trips.append(time.perf_counter() - t0)
    return statistics.median(trips)


def run_gcd():
    t0 = time.perf_counter()
    assert list(map(gcd, NUMBERS)) == EXPECTED
    serial = time.perf_counter() - t0
    t0 = time.perf_counter()
    with MPIPoolExecutor(max_workers=2) as ex:
        assert list(ex.map(gcd, NUMBERS)) == EXPECTED
    return serial, time.perf_counter() - t0


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "all"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    workers = MPI.COMM_WORLD.Get_size() - 1
    if workers != 2:
        sys.exit(f"py_mpi4py_futures: wants 2 worker ranks (mpirun -n 3 "
                 f"python3 -m mpi4py.futures ...), has {workers}")
    print(f"INFO tasks {n}\nINFO reps {reps}\nINFO workers {workers}")
    if mode in ("all", "tiny"):
        for m in ("submit", "map_c1", "map_c256"):
            times = [run_tasks(m, n) for _ in range(reps)]
            print(f"RESULT {m}_tasks_per_s "
                  f"{n / statistics.median(times):.6g} 1/s", flush=True)
    if mode in ("all", "latency"):
        lat = statistics.median(run_latency() for _ in range(reps))
        print(f"RESULT roundtrip_us {lat * 1e6:.6g} us", flush=True)
    if mode in ("all", "gcd"):
        runs = [run_gcd() for _ in range(reps)]
        s = statistics.median(r[0] for r in runs)
        p = statistics.median(r[1] for r in runs)
        print(f"RESULT gcd_serial_s {s:.6g} s\nRESULT gcd_workers_s {p:.6g} s"
              f"\nRESULT gcd_speedup {s / p:.6g} x", flush=True)


if __name__ == "__main__":
    main()
