#!/usr/bin/env python3
"""Turn the raw output of one bench/run.sh run into a Markdown page.

Usage: bench/report.py RAW.txt OUT.md
       (bench/run.sh saves RAW.txt as <build>/bench-results.txt and writes
       OUT.md as docs/benchmarks.md; standard library only)

Input, as bench/run.sh prints it:
  concur benchmarks beside their peers (2026-12-07T01:02Z, 2 CPUs)
  machine: <kernel release>, <CPU model>, load <1-minute load average>
  workload   implementation     metric        value unit    (column titles)
  lock       concur cc_lock ... uncontended_ns  15.8783 ns  (a result row)
  pool       go 2 workers ...   (skipped: <why>)
  pool       glib GThreadPool   FAILED
  pool       glib GThreadPool   FAILED (no RESULT line)
  <the failed program's output, any number of lines>
The workload is padded to 10 characters, so the implementation starts in
column 12 (or after a longer workload); it is padded too, but a long one
shifts the rest, so a row is split by words: the workload is the first,
value and unit are the last two, the metric is the one before the value,
and the implementation is everything between the workload and the metric.
Other lines (build notes, compiler messages) are ignored, except the
output after FAILED, which is quoted under its workload's table.

Output: a title, when and where the run was made, then one section per
workload in the order of the run: a sentence on the workload, a table
(implementation | metric | value, concur's rows first), then its skipped
and failed rows.
"""
import math
import re
import sys

DESCRIPTIONS = {
    "lock":
        "cc_lock's cost uncontended and with two threads contending, then "
        "W8c: 100 threads x 100,000 increments of one counter, each under the "
        "lock, beside pthread_mutex and Python's threading.Lock.",
    "queue":
        "2 producer and 2 consumer threads move 1,000,000 items through one "
        "queue of maxsize 1024, beside a hand-rolled pthread mutex + "
        "condition variable ring, Go's buffered channel and Python's "
        "queue.Queue.",
    "pingpong":
        "W2 with threads: two threads pass a token back and forth through two "
        "one-slot queues, beside a pthread mutex + condition variable "
        "baseline; time per round trip.",
    "select":
        "cc_select beside Go's select: two threads (or two tasks on one "
        "loop; goroutines for Go) pass a token back and forth, each waiting "
        "with a select over its inbox and an idle quit queue (time per round "
        "trip); then one thread selecting over two queues that always hold "
        "an item (time per select, and the first case's share: 50 % is "
        "fair).",
    "throttle":
        "4 threads take tokens one at a time from a cc_throttle set to "
        "10,000/s for 2 s: the rate achieved, its error, and the largest "
        "excess over the bound rate x elapsed + burst (must be <= 0).",
    "aio":
        "The coroutine machinery alone: a raw context switch, a cc_yield "
        "between two tasks, and spawning, running and collecting a task.",
    "w1_spawn":
        "W1: 100,000 tasks (and 1,000,000 for concur) that each sleep 10 ms, "
        "then all awaited: wall time and memory per task.",
    "w2_coro":
        "W2 with coroutines: two tasks on one loop pass a token through two "
        "one-slot queues; time per round trip.",
    "timers":
        "10,000 concurrent sleeps of 0-100 ms on one loop: how late they wake "
        "up (median, 99th percentile, worst).",
    "mixed_q":
        "One producer and one consumer move 1,000,000 items (Python: 200,000) "
        "through one queue, for every pairing of threads and coroutines "
        "(coroutines on one loop or on two).",
    "mixed_aw":
        "10,000 coroutines each await a 1 ms job on the loop's thread pool "
        "while a ticker task measures the loop's lateness every 10 ms: total "
        "time beside its floor (N x 1 ms / workers), worst and p99 lateness.",
    "pool":
        "W3: 200,000 no-op tasks submitted to a 2-worker thread pool and "
        "every result collected, pool creation and shutdown included; for "
        "concur also the latency from submit to start on an idle and on a "
        "busy pool.",
    "procpool":
        "W4: 20,000 tiny tasks through 2 worker processes (submit, map with "
        "chunksize 1 and with the automatic chunksize), and Effective Python "
        "item 79's ten gcd pairs serially and on 2 processes.",
    "pipe":
        "Messages from one process to another over a connection (64 bytes and "
        "1 MiB each), beside a raw socketpair doing the same writes by hand.",
    "mpqueue":
        "A forked producer puts 1,000,000 messages of 64 bytes into a "
        "process queue that the parent gets (Python: 200,000 through "
        "multiprocessing.Queue), then put-then-get pairs in one process: "
        "messages per second across the process boundary, and the calls' "
        "cost.",
    "w7_spawn":
        "W7: /bin/true started and waited for 1,000 times in a row: spawns "
        "per second and the parent's CPU per spawn (concur beside raw "
        "posix_spawn + waitpid in the same program).",
    "w7_threads":
        "W7: the same 1,000 spawns of /bin/true from 8 threads at once "
        "(failures must be 0).",
    "w7_sleep10":
        "W7: ten `sleep 1` children started together, then waited for: wall "
        "time (1 s at best).",
    "w5_echo":
        "W5: a TCP echo server in a process of its own under 100 connections "
        "x 2,000 round trips of 64 bytes from the same load client for every "
        "server (medians of 3 runs): round trips per second, server CPU per "
        "round trip, server peak RSS.",
    "w6_http":
        "W6 client: 2,000 GETs, at most 100 in flight, against a local Go "
        "net/http server that answers each after 20 ms: wall time, requests "
        "per second and the client's CPU.",
    "w6_server":
        "W6 server: the local HTTP service in a process of its own under wrk, "
        "1,000 keep-alive connections for 3 s: requests per second, server "
        "CPU per request and peak RSS (the Go peer always sleeps 20 ms per "
        "request, so concur runs both ways).",
    "mpi_tiny":
        "Tiny tasks (return the argument) on 2 worker processes, the peers "
        "of concur's MPI executor: mpi4py's MPIPoolExecutor on the 2 worker "
        "ranks of a 3-rank job (20,000 tasks: submit + result, map with "
        "chunksize 1 and 256; pool start included), over shared memory and "
        "over TCP between two network namespaces (scripts/mpi_netns.sh), "
        "and Dask distributed's LocalCluster with 2 worker processes (2,000 "
        "tasks: submit + gather, map + gather; cluster start excluded).",
    "mpi_latency":
        "One tiny message's round trip between two ranks: raw MPI_Send / "
        "MPI_Recv of 8 bytes (the floor under any MPI executor), then one "
        "tiny task's round trip through mpi4py's MPIPoolExecutor on a warm "
        "pool (medians), over shared memory and over TCP between two network "
        "namespaces.",
    "mpi_idle":
        "concur's MPI executor made and left idle for 2 s under mpirun -n 3: "
        "rank 0's CPU time over that time (its manager thread sleeps on a "
        "condition while nothing is out).",
    "mpi_gcd":
        "Effective Python item 79's ten gcd pairs (examples/pools/gcd.c's) "
        "serially in rank 0 and on mpi4py's MPIPoolExecutor with 2 worker "
        "ranks: wall times and the speedup (2 at best on 2 idle CPUs).",
}

HEADER = re.compile(r"^concur benchmarks .*\((\S+), (\d+) CPUs?\)")
WORKLOAD = r"([a-z][a-z0-9_]*)"
SKIPPED = re.compile(WORKLOAD + r"\s+(.*?)\s*\(skipped: (.*)\)$")
FAILED = re.compile(WORKLOAD + r"\s+(.*?)\s+FAILED( \(.*\))?$")
ROW = re.compile(WORKLOAD + r"\s+(.+?)\s+(\S+)\s+(\S+)\s+(\S+)$")


def number(s):
    try:
        return float(s)
    except ValueError:
        return None


def parse(lines):
    """-> (header dict, {workload: {"rows", "skipped", "failed"}})"""
    info, workloads, failed_output = {}, {}, None
    for line in lines:
        line = line.rstrip("\n")
        m = HEADER.match(line)
        if m:
            info["date"], info["cpus"] = m.groups()
            continue
        if line.startswith("machine: "):
            info["machine"] = line[len("machine: "):].strip()
            continue
        m = SKIPPED.match(line) or FAILED.match(line) or ROW.match(line)
        if m and (line.startswith("workload ")  # the column titles
                  or m.start(2) != max(len(m.group(1)), 10) + 1  # not aligned
                  or m.re is ROW and number(m.group(4)) is None):
            m = None
        if not m:
            if failed_output is not None and line.strip():
                failed_output.append(line.strip())
            continue
        w = workloads.setdefault(m.group(1),
                                 {"rows": [], "skipped": [], "failed": []})
        failed_output = None
        if m.re is SKIPPED:
            w["skipped"].append((m.group(2), m.group(3)))
        elif m.re is FAILED:
            failed_output = [m.group(3).strip(" ()")] if m.group(3) else []
            w["failed"].append((m.group(2), failed_output))
        else:
            impl, metric, value, unit = m.group(2, 3, 4, 5)
            w["rows"].append((impl, metric, number(value), unit))
    return info, workloads


def fmt_value(v, unit):
    """Three significant digits, as the runs are noisy: rates as 6.02 M/s or
    42.2 k/s, anything else with separators (22,200 ns; 413,000 KiB)."""
    rate = unit in ('1/s', 'items/s')
    shown = '/s' if unit == '1/s' else unit
    if not math.isfinite(v):
        return f"{v} {shown}"
    gap = '' if shown.startswith('/') else ' '
    if rate and abs(v) >= 1e6:
        return f"{v / 1e6:.3g} M{gap}{shown}"
    if rate and abs(v) >= 1e4:
        return f"{v / 1e3:.3g} k{gap}{shown}"
    if abs(v) >= 1000:
        return f"{float(f'{v:.3g}'):,.0f} {shown}"
    return f"{v:.3g} {shown}"


def cell(s):
    return s.replace("|", "\\|")


def render(info, workloads):
    date = info.get("date", "")
    m = re.match(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)Z$", date)
    when = f"{m[1]} {m[2]} UTC" if m else date or "at an unknown time"
    where = f"{info.get('cpus', 'an unknown number of')} CPUs"
    if "machine" in info:  # "<kernel release>, <CPU model>, load <avg>"
        m = re.match(r"(\S+), (.+), load (\S+)$", info["machine"])
        where += (f" (Linux {m[1]}, {m[2]}, 1-minute load average {m[3]} at "
                  "the start)" if m else f" ({info['machine']})")
    out = [
        "# concur benchmarks",
        "",
        f"Generated {when} on a machine with {where}.",
        "This page is regenerated by `make bench` (bench/run.sh, then "
        "bench/report.py); do not edit it by hand.",
        "The figures move 10-30 % from run to run on a shared VM: compare "
        "only rows of the same run, i.e. of this page.",
    ]
    for name, w in workloads.items():
        out += ["", f"## {name}", ""]
        if name in DESCRIPTIONS:
            out += [DESCRIPTIONS[name], ""]
        rows = sorted(w["rows"], key=lambda r: not r[0].startswith("concur"))
        if rows:
            out += ["| implementation | metric | value |", "|---|---|---:|"]
            prev = None
            for impl, metric, value, unit in rows:
                shown = cell(impl) if impl != prev else ""
                prev = impl
                value = fmt_value(value, unit)
                out.append(f"| {shown} | `{metric}` | {value} |")
        if rows and (w["skipped"] or w["failed"]):
            out.append("")
        for impl, why in w["skipped"]:
            out.append(f"- skipped: {impl} ({why})")
        for impl, output in w["failed"]:
            said = " / ".join(output)
            if len(said) > 300:
                said = said[:300] + " ..."
            said = said.replace("`", "'")
            out.append(f"- **FAILED**: {impl}: `{said}`" if said
                       else f"- **FAILED**: {impl}")
    return "\n".join(out).rstrip() + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: bench/report.py RAW.txt OUT.md")
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        info, workloads = parse(f)
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write(render(info, workloads))


if __name__ == "__main__":
    main()
