"""Peer of concur's MPI executor for tiny tasks (workload mpi_tiny): Dask
distributed on this machine, LocalCluster(n_workers=2, threads_per_worker=1,
processes=True) -- a scheduler and 2 worker processes talking over TCP on
the loopback, as Dask runs on one host.  N tiny tasks (return the
argument): Client.submit of each then Client.gather of all, and
Client.map then gather (tasks per second, cluster start excluded: Dask's
takes seconds and is not what is compared; pure=False so that no task is
deduplicated).  Prints "RESULT <metric> <value> <unit>" lines, the median
of `reps` runs.
usage: py_dask_tiny.py [N] [reps]"""
import logging
import statistics
import sys
import time

from dask.distributed import Client, LocalCluster


def identity(x):
    return x


def run(client, mode, n):
    t0 = time.perf_counter()
    if mode == "submit":
        futs = [client.submit(identity, i, pure=False) for i in range(n)]
    else:
        futs = client.map(identity, range(n), pure=False)
    out = client.gather(futs)
    dt = time.perf_counter() - t0
    assert out == list(range(n))
    del futs
    return dt


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print(f"INFO tasks {n}\nINFO reps {reps}")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        run(client, "map", 200)  # workers up and warm
        for mode in ("submit", "map"):
            times = [run(client, mode, n) for _ in range(reps)]
            print(f"RESULT {mode}_tasks_per_s "
                  f"{n / statistics.median(times):.6g} 1/s", flush=True)


if __name__ == "__main__":
    main()
