#!/usr/bin/env python3
"""guide_snippets.py - keeps the C snippets of docs/python.md compiling and
running (tests/guide/guide_tests.cmake drives it).

The convention, stated at the top of docs/python.md:

  <!-- snippet: NAME -->        the line right before every ```c block
  ```c                          a complete program: #include <concur.h>, main
  ...
  ```
  Prints:                       optional, right after the block (blank lines
  ```text                       between are fine): the program's whole
  ...                           standard output, compared line for line
  ```

Modes:
  extract MD OUTDIR   write OUTDIR/NAME.c (and NAME.expect when the snippet
                      has a "Prints:" block); print the names as a CMake
                      list on stdout and any problem on stderr.  Files are
                      rewritten only when their text changed, so a
                      reconfigure rebuilds only the snippets that changed.
  check MD N          fail unless the file has exactly N ```c blocks (counted
                      without the parser), all of them well marked: what the
                      build compiled (N) is what the guide shows.
  run EXPECT PROG     run PROG; fail unless it exits 0 and, when EXPECT is
                      not "-", prints exactly the lines of EXPECT.
  --self-test         plant each malformation in a scratch guide; each must
                      be reported, and a wrong output must fail `run`.
"""
import os
import re
import subprocess
import sys
import tempfile

MARK = re.compile(r"^<!--\s*snippet:\s*([a-z0-9_]+)\s*-->\s*$")
LOOSE_MARK = re.compile(r"^\s*<!--\s*snippet")
C_FENCE = re.compile(r"^\s*```\s*c\b", re.IGNORECASE)


def parse(text):
    """Returns (snippets, problems); a snippet is (name, code, expect|None)."""
    lines = text.split("\n")
    snippets, problems, names = [], [], set()
    i = 0
    while i < len(lines):
        line = lines[i]
        if LOOSE_MARK.search(line) and not MARK.match(line):
            problems.append("line %d: malformed snippet marker: %s" % (i + 1, line))
        if not line.startswith("```c"):
            i += 1
            continue
        start = i
        if line.rstrip() != "```c":
            problems.append("line %d: a C block must open with exactly ```c" % (i + 1))
        j = i - 1
        while j >= 0 and lines[j].strip() == "":
            j -= 1
        m = MARK.match(lines[j]) if j >= 0 else None
        i += 1
        body = []
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        if i == len(lines):
            problems.append("line %d: C block never closed" % (start + 1))
            break
        i += 1
        if m is None:
            problems.append("line %d: C block without a <!-- snippet: NAME --> "
                            "line before it" % (start + 1))
            continue
        name = m.group(1)
        if name in names:
            problems.append("line %d: snippet name '%s' used twice" % (start + 1, name))
            continue
        names.add(name)
        code = "\n".join(body) + "\n"
        if "#include <concur.h>" not in code or not re.search(r"\bmain\s*\(", code):
            problems.append("line %d: snippet '%s' is not a complete program "
                            "(#include <concur.h> and main)" % (start + 1, name))
        k = i
        while k < len(lines) and lines[k].strip() == "":
            k += 1
        expect = None
        if k < len(lines) and lines[k].strip() == "Prints:":
            if k + 1 >= len(lines) or lines[k + 1].rstrip() != "```text":
                problems.append("line %d: 'Prints:' not followed by a ```text "
                                "block" % (k + 1))
            else:
                k += 2
                out = []
                while k < len(lines) and lines[k].rstrip() != "```":
                    out.append(lines[k])
                    k += 1
                expect = "\n".join(out) + "\n"
                i = k + 1
        snippets.append((name, code, expect))
    return snippets, problems


def write_if_changed(path, text):
    try:
        with open(path) as f:
            if f.read() == text:
                return
    except OSError:
        pass
    with open(path, "w") as f:
        f.write(text)


def extract(md, outdir):
    with open(md) as f:
        snippets, problems = parse(f.read())
    os.makedirs(outdir, exist_ok=True)
    for name, code, expect in snippets:
        write_if_changed(os.path.join(outdir, name + ".c"), code)
        exp_path = os.path.join(outdir, name + ".expect")
        if expect is not None:
            write_if_changed(exp_path, expect)
        elif os.path.exists(exp_path):
            os.remove(exp_path)
    for p in problems:
        print("%s: %s" % (md, p), file=sys.stderr)
    sys.stdout.write(";".join(n for n, _, _ in snippets))
    return 0


def check(md, n):
    with open(md) as f:
        text = f.read()
    # Counted apart from the parser, loosely: every line that looks like the
    # opening of a C block ("```c", "``` C", indented...).
    blocks = sum(1 for line in text.split("\n") if C_FENCE.match(line))
    snippets, problems = parse(text)
    for p in problems:
        print("%s: %s" % (md, p))
    print("%s: %d C blocks, %d snippets compiled by this build, %d well marked"
          % (md, blocks, n, len(snippets)))
    if blocks != n or len(snippets) != n:
        print("mismatch: every ```c block must be a marked snippet "
              "(and reconfigure after editing the guide)")
        return 1
    return 1 if problems else 0


def run(expect, prog):
    try:
        proc = subprocess.run([prog], stdout=subprocess.PIPE)
    except OSError as e:
        print("guide snippet %s: cannot run: %s" % (prog, e))
        return 1
    out = proc.stdout.decode("utf-8", "replace")
    sys.stdout.write(out)
    if proc.returncode != 0:
        print("guide snippet %s exited with status %d" % (prog, proc.returncode))
        return 1
    if expect != "-":
        with open(expect) as f:
            want = f.read()
        if out.rstrip("\n").split("\n") != want.rstrip("\n").split("\n"):
            print("guide snippet %s: output differs from its Prints: block; "
                  "expected:\n%s" % (prog, want), end="")
            return 1
    return 0


GOOD = """text
<!-- snippet: one -->
```c
#include <concur.h>
int main(void) { return 0; }
```

Prints:
```text
hi
```
"""


def self_test():
    bad = {
        "unmarked": GOOD + "\n```c\n#include <concur.h>\nint main(void){}\n```\n",
        "malformed": GOOD.replace("<!-- snippet: one -->", "<!-- snippet one -->"),
        "bad name": GOOD.replace("snippet: one", "snippet: One-1"),
        "twice": GOOD + "\n<!-- snippet: one -->\n```c\n#include <concur.h>\nint main(void){}\n```\n",
        "not a program": GOOD.replace("int main(void) { return 0; }", "int f(void);"),
        "prints without block": GOOD.replace("```text", "```"),
        "unclosed": GOOD + "\n<!-- snippet: two -->\n```c\n#include <concur.h>\n",
        "upper-case fence": GOOD.replace("```c\n", "```C\n"),
        "indented fence": GOOD.replace("```c\n", "  ```c\n"),
    }
    failures = 0
    with tempfile.TemporaryDirectory() as d:
        md = os.path.join(d, "guide.md")
        with open(md, "w") as f:
            f.write(GOOD)
        if check(md, 1) != 0:
            print("self-test: the good guide was refused")
            failures += 1
        if check(md, 2) == 0:
            print("self-test: a wrong snippet count was accepted")
            failures += 1
        for what, text in bad.items():
            with open(md, "w") as f:
                f.write(text)
            # N = what the parser would have compiled: the check must still fail.
            n = len(parse(text)[0])
            if check(md, n) == 0:
                print("self-test: not caught: %s" % what)
                failures += 1
        exp = os.path.join(d, "x.expect")
        with open(exp, "w") as f:
            f.write("hello\n")
        sh = os.path.join(d, "prog")
        with open(sh, "w") as f:
            f.write("#!/bin/sh\necho hello\n")
        os.chmod(sh, 0o755)
        if run(exp, sh) != 0:
            print("self-test: a matching output was refused")
            failures += 1
        with open(exp, "w") as f:
            f.write("goodbye\n")
        if run(exp, sh) == 0:
            print("self-test: a wrong output was accepted")
            failures += 1
    print("self-test: %s" % ("FAILED" if failures else "every planted fault caught"))
    return 1 if failures else 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) == 4 and argv[1] == "extract":
        return extract(argv[2], argv[3])
    if len(argv) == 4 and argv[1] == "check":
        return check(argv[2], int(argv[3]))
    if len(argv) == 4 and argv[1] == "run":
        return run(argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
