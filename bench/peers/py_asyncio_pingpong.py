"""Peer of bench_aio pingpong (W2): two asyncio tasks pass a token through
two asyncio.Queue(1); with --uvloop on uvloop.  usage: [round-trips]"""
import asyncio
import sys
import time


async def main(n):
    to_pong, to_ping = asyncio.Queue(1), asyncio.Queue(1)

    async def pong():
        while True:
            tok = await to_pong.get()
            if tok is None:
                return
            await to_ping.put(tok)

    p = asyncio.create_task(pong())
    t0 = time.perf_counter()
    for i in range(n):
        await to_pong.put(i)
        assert await to_ping.get() == i
    dt = time.perf_counter() - t0
    await to_pong.put(None)
    await p
    print(f"RESULT ns_per_rt {dt / n * 1e9:.6g} ns")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--uvloop" in sys.argv:
        import uvloop
        uvloop.install()
    asyncio.run(main(int(args[0]) if args else 200_000))
