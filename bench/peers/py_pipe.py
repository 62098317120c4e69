"""Peer of bench_pipe: multiprocessing.Pipe() between the parent and a child
process started with 'fork' (as cc_process_start does; Linux's default
before Python 3.14), the same workload: the child says it is ready (not
timed), the parent sends N messages of 64 bytes one way with send_bytes (a
bytearray whose first 8 bytes carry the message number), the child
receives each with recv_bytes, checks its length and number and after the
last sends one ack; the time is from the first send to the ack ->
messages/s.  Then M messages of 1 MiB -> MB/s (10^6 payload bytes/s).
send_bytes/recv_bytes, not send/recv: raw bytes, no pickling, as cc_conn
carries blobs.  Each figure is the best of `reps` runs, as bench_pipe
reports.  Prints "RESULT <metric> <value> <unit>" lines.
usage: py_pipe.py [count64] [count1M] [reps]"""
import multiprocessing
import sys
import time

CTX = multiprocessing.get_context("fork")
SMALL = 64
LARGE = 1 << 20


def child(conn, parent_end, count, size):
    parent_end.close()
    conn.send_bytes(b"")  # ready
    for i in range(count):
        m = conn.recv_bytes()
        if len(m) != size or int.from_bytes(m[:8], "little") != i:
            raise SystemExit(f"message {i}: bad length or number")
    conn.send_bytes(count.to_bytes(8, "little"))  # ack
    conn.close()


def run_once(count, size):
    mine, theirs = CTX.Pipe(duplex=True)
    p = CTX.Process(target=child, args=(theirs, mine, count, size))
    p.start()
    theirs.close()
    payload = bytearray(b"x" * size)
    mine.recv_bytes()  # ready
    t0 = time.perf_counter()
    for i in range(count):
        payload[:8] = i.to_bytes(8, "little")
        mine.send_bytes(payload)
    ack = mine.recv_bytes()
    dt = time.perf_counter() - t0
    mine.close()
    p.join()
    if p.exitcode != 0 or int.from_bytes(ack, "little") != count:
        raise SystemExit("the child failed")
    return dt


def main():
    n_small = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    n_large = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    print(f"INFO messages_64B {n_small}\nINFO messages_1MiB {n_large}\n"
          f"INFO reps {reps} (best of)", flush=True)
    t = min(run_once(n_small, SMALL) for _ in range(reps))
    print(f"RESULT pipe_64B_msgs_per_s {n_small / t:.6g} 1/s", flush=True)
    t = min(run_once(n_large, LARGE) for _ in range(reps))
    print(f"RESULT pipe_1MiB_MB_per_s {n_large * LARGE / 1e6 / t:.6g} MB/s")


if __name__ == "__main__":
    main()
