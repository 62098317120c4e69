"""Peer of bench_pingpong (W2): two threads pass a token through two
queue.Queue objects.  usage: py_pingpong.py [round-trips]"""
import queue
import sys
import threading
import time


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    to_pong, to_ping = queue.Queue(1), queue.Queue(1)

    def pong():
        while True:
            tok = to_pong.get()
            if tok is None:
                return
            to_ping.put(tok)

    t0 = time.perf_counter()
    t = threading.Thread(target=pong)
    t.start()
    for i in range(n):
        to_pong.put(i)
        assert to_ping.get() == i
    to_pong.put(None)
    t.join()
    print(f"RESULT ns_per_rt {(time.perf_counter() - t0) / n * 1e9:.6g} ns")


if __name__ == "__main__":
    main()
