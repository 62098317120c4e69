# Copied unchanged below this comment from ../shared/bench-peers/w5_tcp_echo/py_uvloop.py
# (W5 reference peer; it imports py_asyncio.py from this folder).
"""W5 tcp-echo server, asyncio streams on uvloop (same code as py_asyncio.py)."""
import os
import sys

import uvloop

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import py_asyncio  # noqa: E402

if __name__ == "__main__":
    uvloop.install()
    py_asyncio.run()
