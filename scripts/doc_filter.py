#!/usr/bin/env python3
"""doc_filter.py - Doxygen's input filter for concur's public headers.

The headers are written for people reading them in an editor: plain C
comments, the first line of an entry "name - what it does", tables of errno
values aligned by spaces.  This filter hands Doxygen the same text as
documentation, so the headers stay the only source of the reference and of
the man pages, with no Doxygen markup in them:

  - the comment opening a header becomes the file's documentation (its
    first sentence the brief);
  - a comment standing right before a declaration (function, type, macro,
    struct member) becomes that declaration's documentation, without its
    "name - " prefix;
  - a comment after code on the same line (a struct member, an enum value)
    becomes that member's documentation;
  - section rules ("/* ----- errors */") and comments before preprocessor
    guards stay plain comments.

Inside a doc comment, a paragraph (lines between blank lines) is prose up
to its first indented line -- an errno table, an example -- and verbatim
from there (a list is verbatim as a whole).  Prose has Doxygen's special
characters escaped, so that "<prefix>_<n>", "%s" or "\\n" print as
written.  The output keeps the input's line count, so Doxygen's warnings
point at the header's own lines.

usage: doc_filter.py HEADER   (writes the filtered header on stdout)
"""
import re
import sys

SEPARATOR = re.compile(r"^\s*/\*\s*-{4,}")
NAME_PREFIX = re.compile(r"^[A-Za-z_][\w/.]*(\(\))?(, [A-Za-z_]\w*)* - ")
NOT_DOCUMENTABLE = ("#if", "#endif", "#include", "#else", "#elif", "}",
                    "extern", "/*", "#undef", "#error", "#pragma")
ESCAPES = {c: "\\" + c for c in "\\@<>&%$#"}


def escape(text, quoted=False):
    """Prose for Doxygen: its command and markup characters made literal.

    Doxygen reads text inside double quotes as written, so characters there
    are left alone.  Returns the text and whether a quote is still open at
    its end (prose lines are escaped in order, a quote may span lines)."""
    out = []
    for c in text:
        if c == '"':
            quoted = not quoted
            out.append(c)
        elif not quoted and c in ESCAPES:
            out.append(ESCAPES[c])
        else:
            out.append(c)
    return "".join(out), quoted


def body_lines(block):
    """The text lines of a comment block, without /*, */ and ' * '."""
    out = []
    for i, line in enumerate(block):
        s = line.rstrip("\n").rstrip()
        if s.endswith("*/"):
            s = s[:-2].rstrip()
        if i == 0:
            s = s.lstrip()[2:].strip()
        else:
            m = re.match(r"^\s*\*(?: (.*)|)$", s)
            s = (m.group(1) or "") if m else s.strip()
        out.append(s.rstrip())
    return out


def render(block, is_file):
    """A doc comment with the same number of lines as `block`."""
    text = body_lines(block)
    for i, t in enumerate(text):
        if t.strip():
            text[i] = NAME_PREFIX.sub("", t, count=1)
            break
    # Paragraphs: runs of non-empty lines.
    paras, cur = [], []
    for i, t in enumerate(text):
        if t.strip() == "":
            if cur:
                paras.append(cur)
                cur = []
        else:
            cur.append(i)
    if cur:
        paras.append(cur)
    lines = list(text)
    bare = set()  # verbatim lines written without the " * " decoration
    for p in paras:
        # Prose up to the first indented line (an errno table, an example,
        # the continuation of a list item), verbatim from there on; a list
        # is verbatim as a whole.
        cut = next((k for k, i in enumerate(p) if text[i].startswith(" ")),
                   len(p))
        if re.match(r"^([-*]|\d+[.)]) ", text[p[0]]) and cut < len(p):
            cut = 0
        quoted = False
        for i in p[:cut]:
            lines[i], quoted = escape(text[i], quoted)
        v = p[cut:]
        if v:
            # \verbatim swallows the rest of its line: the first verbatim
            # line's text goes on it, so the count of lines stays the same.
            lines[v[0]] = "\\verbatim " + text[v[0]]
            lines[v[-1]] = lines[v[-1]] + " \\endverbatim"
            bare.update(v[1:])
    n = len(block)
    out = []
    for i in range(n):
        prefix = "/** " if i == 0 else ("" if i in bare else " * ")
        suffix = ""
        if i == n - 1:
            # @file (no name: this file) goes last: on the first line it
            # would take the text after it for a file name.
            suffix = " @file */" if is_file else " */"
        out.append(prefix + lines[i] + suffix + "\n")
    return out


def trailing(line):
    """Code with a comment after it on the same line: the member's doc."""
    m = re.match(r"^(.*\S.*?)(\s*)/\*(?!\*)(.*)$", line.rstrip("\n"))
    code = m.group(1).lstrip() if m else ""
    if not m or code.startswith(("/*", "*")) or \
            (code.startswith("#") and not code.startswith("#define")):
        return None
    code, gap, rest = m.groups()
    if code.count('"') % 2:  # "/*" inside a string literal
        return None
    return code, gap, rest


def trailing_text(text, quoted):
    """A trailing comment's text, escaped (see escape)."""
    closing = text.endswith("*/")
    body, quoted = escape(text[:-2] if closing else text, quoted)
    return body + ("*/" if closing else ""), quoted


def main(path):
    with open(path, encoding="utf-8") as f:
        src = f.readlines()
    out, i, first = [], 0, True
    while i < len(src):
        line = src[i]
        stripped = line.lstrip()
        if stripped.startswith("/*") and not stripped.startswith("/**"):
            j = i
            while "*/" not in src[j]:
                j += 1
            block = src[i:j + 1]
            k = j + 1
            while k < len(src) and src[k].strip() == "":
                k += 1
            nxt = src[k].strip() if k < len(src) else ""
            if first:
                out.extend(render(block, True))
            elif SEPARATOR.match(line) or nxt.startswith(NOT_DOCUMENTABLE) \
                    or nxt == "":
                out.extend(block)
            else:
                indent = line[:len(line) - len(stripped)]
                out.extend(indent + l for l in render(block, False))
            first = False
            i = j + 1
            continue
        t = trailing(line)
        if t and not first:
            code, gap, rest = t
            text, quoted = trailing_text(rest, False)
            out.append(code + gap + "/**<" + text + "\n")
            if "*/" not in rest:
                i += 1
                while i < len(src):
                    cont = src[i].rstrip("\n")
                    text, quoted = trailing_text(cont, quoted)
                    out.append(text + "\n")
                    if "*/" in cont:
                        break
                    i += 1
            i += 1
            continue
        out.append(line)
        i += 1
    sys.stdout.write("".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
