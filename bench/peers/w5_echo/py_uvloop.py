# A W5 (TCP echo) reference peer, unchanged below this comment (it imports
# py_asyncio.py from this folder).
"""W5 tcp-echo server, asyncio streams on uvloop (same code as py_asyncio.py)."""
import os
import sys

import uvloop

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import py_asyncio  # noqa: E402

if __name__ == "__main__":
    uvloop.install()
    py_asyncio.run()
