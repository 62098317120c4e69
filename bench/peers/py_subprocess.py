"""Peer of bench_subprocess (W7): Python's subprocess on the same workloads.
  spawn [N=1000] [reps=5]          subprocess.run(["/bin/true"], check=True)
                                   N times in a row
  threads [N=1000] [T=8] [reps=5]  the same N runs shared by T threads
  sleep10 [reps=3]                 10 x Popen(["sleep", "1"]), then
                                   communicate() with each
Prints RESULT lines (medians): spawns/s and the parent's CPU per spawn
(getrusage(RUSAGE_SELF) user + system over the run, divided by N)."""
import resource
import statistics
import subprocess
import sys
import threading
import time


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def run_true():
    subprocess.run(["/bin/true"], check=True)


def spawn(n):
    c0, t0 = cpu_seconds(), time.perf_counter()
    for _ in range(n):
        run_true()
    dt = time.perf_counter() - t0
    return n / dt, (cpu_seconds() - c0) * 1e6 / n


def threads(n, nthreads):
    failures = [0]
    lock = threading.Lock()

    def worker(count):
        for _ in range(count):
            try:
                run_true()
            except (OSError, subprocess.CalledProcessError):
                with lock:
                    failures[0] += 1

    counts = [n // nthreads + (i < n % nthreads) for i in range(nthreads)]
    c0, t0 = cpu_seconds(), time.perf_counter()
    ts = [threading.Thread(target=worker, args=(c,)) for c in counts]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dt = time.perf_counter() - t0
    return n / dt, (cpu_seconds() - c0) * 1e6 / n, failures[0]


def sleep10():
    t0 = time.perf_counter()
    procs = [subprocess.Popen(["sleep", "1"]) for _ in range(10)]
    for p in procs:
        p.communicate()
        assert p.returncode == 0
    return time.perf_counter() - t0


def result(metric, value, unit):
    print(f"RESULT {metric} {value:.6g} {unit}")


def runs(key, values):
    print(f"INFO {key} " + ",".join(f"{v:.6g}" for v in values))


def main():
    args = sys.argv[1:]
    mode = args[0] if args else "spawn"
    num = [int(a) for a in args[1:]]
    print(f"INFO mode {mode}")
    if mode == "spawn":
        n = num[0] if num else 1000
        reps = num[1] if len(num) > 1 else 5
        run_true()  # warm up
        rs = [spawn(n) for _ in range(reps)]
        runs("spawns_per_s_runs", [r[0] for r in rs])
        result("spawns_per_s", statistics.median(r[0] for r in rs), "1/s")
        result("cpu_us_per_spawn", statistics.median(r[1] for r in rs), "us")
    elif mode == "threads":
        n = num[0] if num else 1000
        nthreads = num[1] if len(num) > 1 else 8
        reps = num[2] if len(num) > 2 else 5
        rs = [threads(n, nthreads) for _ in range(reps)]
        runs("spawns_per_s_runs", [r[0] for r in rs])
        result("spawns_per_s", statistics.median(r[0] for r in rs), "1/s")
        result("failures", sum(r[2] for r in rs), "spawns")
        result("cpu_us_per_spawn", statistics.median(r[1] for r in rs), "us")
    elif mode == "sleep10":
        reps = num[0] if num else 3
        ws = [sleep10() for _ in range(reps)]
        runs("wall_s_runs", ws)
        result("wall_s", statistics.median(ws), "s")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
