# A W5 (TCP echo) reference peer, unchanged below this comment.
"""W5 tcp-echo server, Python asyncio streams.  usage: py_asyncio.py PORT"""
import asyncio
import socket
import sys


async def handle(reader, writer):
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def main(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def run():
    asyncio.run(main(int(sys.argv[1])))


if __name__ == "__main__":
    run()
