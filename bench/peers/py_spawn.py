"""Peer of bench_aio spawn (W1): N asyncio tasks each sleep 10 ms, gathered;
with --uvloop, on uvloop.  usage: py_spawn.py [N] [--uvloop]"""
import asyncio
import resource
import sys
import time


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def main(n):
    rss0 = rss_kib()
    t0 = time.perf_counter()
    await asyncio.gather(*[asyncio.sleep(0.01) for _ in range(n)])
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"RESULT wall_s {dt:.6g} s\nRESULT rss_per_task {(peak - rss0) / n:.4g} KiB")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--uvloop" in sys.argv:
        import uvloop
        uvloop.install()
    asyncio.run(main(int(args[0]) if args else 100_000))
