#!/usr/bin/env python3
"""Write the fuzz harnesses' seed corpora (tests/fuzz/corpus/<name>/):
valid encodings in the wire.h formats (native byte order: little-endian,
the machines CI runs on) and a few edge cases.  Run from anywhere; it
rewrites the seed files it owns."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def chain(*errs):
    out = struct.pack("<I", len(errs))
    for code, msg, where in errs:
        out += struct.pack("<iII", code, len(msg), len(where)) + msg + where
    return out


def item(b):
    return struct.pack("<Q", 0) if b is None else struct.pack("<Q", len(b) + 1) + b


def frame(typ, payload, fid=1):
    return struct.pack("<QQII", len(payload), fid, typ, 0) + payload


RESULT, CHUNK_RESULT, INIT_FAILED = 7, 8, 6


def out_null():
    return b"\0"


def out_blob(b):
    return b"\1" + struct.pack("<Q", len(b)) + b


def out_error(*errs):
    return b"\2" + chain(*errs)


NS = struct.pack("<Q", 12345)

def chunks(*parts):
    return b"".join(bytes([len(c)]) + c for c in parts)


def pipe_frame(b):
    return struct.pack("<Q", len(b)) + b


def until(limit_ix, sep):
    return bytes([1 | limit_ix << 1, len(sep) - 1]) + sep


SEEDS = {
    "errcodec": {
        "one": chain((5, b"Input/output error", b"pool.c:12 in thread 'w'")),
        "cause": chain((22, b"bad argument", b"a.c:1"), (2, b"no such file", b"")),
        "empty_texts": chain((1, b"", b"")),
        "deep": chain(*[(i + 1, b"m%d" % i, b"w") for i in range(12)]),
        "nul_in_message": chain((7, b"a\0b", b"x")),
        "count_zero": struct.pack("<I", 0),
        "code_zero": chain((0, b"m", b"w")),
        "truncated": chain((5, b"message", b"where"))[:-3],
        "huge_len": struct.pack("<IiII", 1, 5, 0xFFFFFFFF, 0),
        "too_deep": struct.pack("<I", 1025),
    },
    "outcome": {
        "result_null": frame(RESULT, NS + out_null()),
        "result_blob": frame(RESULT, NS + out_blob(b"forty-two")),
        "result_error": frame(RESULT, NS + out_error((22, b"bad", b"t.c:3"))),
        "chunk": frame(CHUNK_RESULT, NS + struct.pack("<I", 3) + out_blob(b"a")
                       + out_null() + out_blob(b"")),
        "chunk_stops": frame(CHUNK_RESULT, NS + struct.pack("<I", 2)
                             + out_error((5, b"io", b"")) + out_blob(b"x")),
        "init_failed": frame(INIT_FAILED, chain((1, b"init", b"w.c:9"))),
        "stream": frame(RESULT, NS + out_null(), 1)
        + frame(RESULT, NS + out_blob(b"zz"), 2)
        + frame(CHUNK_RESULT, NS + struct.pack("<I", 1) + out_null(), 3),
        "bad_kind": frame(RESULT, NS + b"\7"),
        "short_payload": frame(RESULT, NS + out_blob(b"abcdef"))[:-2],
        "unknown_type": frame(2, NS + out_null()),
    },
    "readline": {
        "lines": bytes([7 << 1]) + chunks(b"GET / HTTP/1.1\r\n", b"Host: x\r\n\r\n"),
        "split": bytes([7 << 1]) + chunks(b"ab", b"c\nde", b"", b"f\n\ng"),
        "over_limit": bytes([1 << 1]) + chunks(b"abcdef\nxy\n"),
        "no_newline": bytes([6 << 1]) + chunks(b"tail without end"),
        "until_crlf": until(7, b"\r\n") + chunks(b"a\r", b"\nb\r\n", b"c\r"),
        "until_long_sep": until(4, b"--XY") + chunks(b"one--X", b"Ytwo--XY-", b"-XY"),
        "until_limit": until(0, b"\0") + chunks(b"ab\0c\0"),
    },
    "service": {
        # The first byte: where the rest is cut in two.
        "get_rates": b"\x10GET /rates?base=usd HTTP/1.1\r\nHost: x\r\n\r\n",
        "pipelined": b"\x05GET / HTTP/1.1\r\n\r\nHEAD /dice HTTP/1.1\r\n\r\n"
        b"GET /pokedex/25 HTTP/1.0\r\n\r\n",
        "post_echo": b"\x30POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
        "chunked": b"\x20POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n",
        "te_and_cl": b"\x00POST /echo HTTP/1.1\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "obs_fold": b"\x00GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
        "bad_name": b"\x00GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        "http09": b"\x00GET /\r\n\r\n",
        "version": b"\x00GET / HTTP/2.0\r\n\r\n",
        "sponsor": b"\x08GET /sponsors/psf HTTP/1.1\r\nConnection: close\r\n\r\n",
        "big_header": b"\x00GET / HTTP/1.1\r\nX: " + b"a" * 1100 + b"\r\n\r\n",
    },
    "urlfile": {
        "list": b"# sponsors\nhttp://127.0.0.1:8080/sponsors/psf\n\n"
        b"  https://example.org/a?b=c#d  \r\nhttp://[::1]:80/\n",
        "userinfo": b"http://user@host:65535/x\n",
        "bad_port": b"http://host:65536/\n",
        "bad_scheme": b"ftp://host/\n",
        "ipv6_junk": b"http://[::1]x/\n",
        "no_newline": b"http://a",
        "nul": b"http://a\0b\n",
    },
    "pipe": {
        # chunks() of a stream of frames: 8-byte little-endian length, bytes.
        "one": chunks(pipe_frame(b"hello")),
        "split": chunks(pipe_frame(b"abc")[:5], pipe_frame(b"abc")[5:] + pipe_frame(b"")),
        "several": chunks(pipe_frame(b"x") + pipe_frame(b"yz"), pipe_frame(bytes(50))),
        "midway": chunks(pipe_frame(b"abcdef")[:-2]),
        "short_header": chunks(b"\x03\x00\x00"),
        "too_big": chunks(struct.pack("<Q", (1 << 40) + 1) + b"x"),
    },
    "wire_item": {
        "null": item(None),
        "empty": item(b""),
        "bytes": item(b"hello, worker"),
        "several": item(b"a") + item(None) + item(b"") + item(bytes(range(40))),
        "truncated": item(b"abcdef")[:-2],
        "huge_tag": struct.pack("<Q", 0xFFFFFFFFFFFFFFFF) + b"xy",
        "short_tag": b"\x01\x00\x00",
    },
}

for name, seeds in SEEDS.items():
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    for fname, data in seeds.items():
        with open(os.path.join(d, fname), "wb") as f:
            f.write(data)
